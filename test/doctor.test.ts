import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { Aedes, type AedesOptions } from 'aedes';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runDoctor, type DoctorOptions } from '../agent/doctor.js';
import { Store } from '../agent/store/store.js';
import { listenLoopback } from './standins/http.js';
import { startTelegramStandIn } from './standins/telegram.js';
import { tempDir } from './helpers.js';

// What a technician sees on site: `cowbell doctor -c cowbell.yaml` against real parts — an MQTT broker on a
// loopback port, SQLite files, the chat APIs over HTTP — and a Mosquitto config in a temp dir.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const WA_TOKEN = 'EAAG-wa-token-very-secret';
const TG_TOKEN = '123456:tg-token-very-secret';
const PHONE_ID = '109876543210';

async function broker(opts: AedesOptions = {}): Promise<string> {
  const aedes = await Aedes.createBroker(opts);
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(async () => {
    await new Promise<void>((r) => aedes.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });
  return `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * The Graph API's answer to GET /{version}/{phone-number-id} (docs/chat-apis.md): the number's record with
 * the right bearer token, 401 with OAuthException 190 otherwise. `skewMs` moves its Date header.
 */
async function whatsApp(skewMs = 0): Promise<string> {
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const date = new Date(Date.now() + skewMs).toUTCString();
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', date });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || req.url?.split('?')[0] !== `/v21.0/${PHONE_ID}`) {
      return send(400, { error: { message: `Unknown path components: ${req.url}`, type: 'OAuthException', code: 2500 } });
    }
    if (req.headers.authorization !== `Bearer ${WA_TOKEN}`) {
      return send(401, { error: { message: 'Error validating access token: Session has expired on Friday, 20-Nov-26 10:00:00 PST.', type: 'OAuthException', code: 190, error_subcode: 463, fbtrace_id: 'Azx1' } });
    }
    send(200, { verified_name: 'Hof Sonnenberg', code_verification_status: 'VERIFIED', display_phone_number: '+41 79 000 00 01', quality_rating: 'GREEN', id: PHONE_ID });
  });
  const l = await listenLoopback(server);
  cleanups.push(l.close);
  return l.url;
}

async function telegram(): Promise<string> {
  const tg = await startTelegramStandIn({ token: TG_TOKEN });
  cleanups.push(tg.close);
  return tg.url;
}

/** A Debian-shaped Mosquitto config: the main file includes conf.d, whose files may override it. */
function mosquittoConf(dir: string, main: string, dropIn?: string): string {
  mkdirSync(join(dir, 'conf.d'), { recursive: true });
  writeFileSync(join(dir, 'mosquitto.conf'), `${main}\ninclude_dir ${join(dir, 'conf.d')}\n`);
  if (dropIn !== undefined) writeFileSync(join(dir, 'conf.d', 'cowbell.conf'), dropIn);
  return join(dir, 'mosquitto.conf');
}

async function run(dir: string, yaml: string, o: DoctorOptions): Promise<{ code: number; out: string }> {
  const path = join(dir, 'cowbell.yaml');
  writeFileSync(path, yaml);
  const lines: string[] = [];
  const code = await runDoctor(path, { brokerTimeoutMs: 3000, diskWarnBytes: 1, diskFailBytes: 0, ...o }, (l) => lines.push(l));
  return { code, out: lines.join('\n') };
}

describe('cowbell doctor', () => {
  it('on a gateway set up right, says ok for every part and exits 0', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    new Store(join(tmp.dir, 'cowbell.db')).db.close();
    const conf = mosquittoConf(join(tmp.dir, 'etc'), 'persistence true\npersistence_location /var/lib/mosquitto/', 'max_queued_messages 201600\nmax_queued_bytes 0\n');
    const yaml = `# a gateway
farm: { id: sonnenberg }
mqtt: { url: "${await broker()}" }
store: { path: cowbell.db }
channels:
  whatsapp: { phoneNumberId: "${PHONE_ID}", token: "${WA_TOKEN}", apiBaseUrl: "${await whatsApp()}" }
  telegram: { botToken: "${TG_TOKEN}", apiBaseUrl: "${await telegram()}" }
`;
    const { code, out } = await run(tmp.dir, yaml, { mosquittoConf: conf });
    expect(out).toMatch(/^ok {4}broker: mqtt:\/\/127\.0\.0\.1:\d+ connected and subscribed to farm\/sonnenberg\/collar\/\+\/reading$/m);
    expect(out).toMatch(/^ok {4}session: persistent as "cowbell-sonnenberg" \(clean=false\)/m);
    expect(out).toMatch(/^ok {4}mosquitto: persistence on, max_queued_messages 201600/m);
    expect(out).toMatch(/^ok {4}database: .*cowbell\.db: schema \d+, quick_check ok/m);
    expect(out).toMatch(/^ok {4}disk: [\d.]+ [GM]iB free on the database's filesystem/m);
    expect(out).toMatch(/^ok {4}telegram: the bot token works: @\w+/m);
    expect(out).toMatch(/^ok {4}whatsapp: the token works; phone number id 109876543210 is \+41 79 000 00 01 "Hof Sonnenberg"$/m);
    expect(out).toMatch(/^ok {4}clock: within a second or two of (WhatsApp|Telegram)/m);
    expect(out).not.toMatch(/^(warn|FAIL)/m);
    expect(out).toMatch(/all good$/);
    expect(code).toBe(0);
    expect(out).not.toContain(WA_TOKEN);
    expect(out).not.toContain('tg-token-very-secret');
  });

  it('names each broken part with what to fix, never prints a secret, and exits 1', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    // A database written by a newer agent.
    const db = new Database(join(tmp.dir, 'cowbell.db'));
    db.pragma('user_version = 99');
    db.close();
    // Debian's stock file plus a drop-in that sets the queue no higher than the default.
    const conf = mosquittoConf(join(tmp.dir, 'etc'), 'pid_file /run/mosquitto/mosquitto.pid\n#persistence true', 'max_queued_messages 1000\n');
    const url = await broker({ authenticate: (_c, user, pass, cb) => cb(null, user === 'cowbell' && pass?.toString() === 'right') });
    const yaml = `farm: { id: sonnenberg }
mqtt: { url: "${url}", username: cowbell, password: wrong-broker-password }
store: { path: cowbell.db }
channels:
  whatsapp: { phoneNumberId: "${PHONE_ID}", token: "EAAG-an-expired-token", apiBaseUrl: "${await whatsApp(10 * 60_000)}" }
  telegram: { botToken: "999:revoked-bot-token", apiBaseUrl: "${await telegram()}" }
`;
    const { code, out } = await run(tmp.dir, yaml, { mosquittoConf: conf, diskWarnBytes: 1e15 });
    expect(out).toMatch(/^FAIL  broker: mqtt:\/\/127\.0\.0\.1:\d+\/?: refused: not authorized \(a wrong mqtt\.username \/ mqtt\.password/m);
    expect(out).toMatch(/^warn  mosquitto: persistence is off \(the default\): .* lost when Mosquitto or the box restarts; max_queued_messages is 1000 \(.*conf\.d\/cowbell\.conf\): while the agent is down Mosquitto keeps at most that many readings for it and drops the rest/m);
    expect(out).toMatch(/^FAIL  database: .*cowbell\.db has schema 99, newer than this agent's \d+/m);
    expect(out).toMatch(/^warn  disk: .* free on the database's filesystem .*: under /m);
    expect(out).toMatch(/^FAIL  whatsapp: the token is wrong or expired \(Meta error 190\): .*\(inline\)$/m);
    expect(out).toMatch(/^FAIL  telegram: the bot token is wrong or revoked \(Telegram 401 Unauthorized\)/m);
    expect(out).toMatch(/^warn  clock: this box's clock is 10 min behind WhatsApp/m);
    expect(out).toMatch(/^4 failed, 3 warnings: fix the FAIL lines/m);
    expect(code).toBe(1);
    for (const secret of ['wrong-broker-password', 'EAAG-an-expired-token', 'revoked-bot-token']) expect(out).not.toContain(secret);
  });

  it('says when the broker refuses the farm\'s topic, and when nothing listens', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const acl = await broker({ authorizeSubscribe: (_c, sub, cb) => cb(null, sub.topic.startsWith('farm/other/') ? sub : null) });
    const { code, out } = await run(tmp.dir, `farm: { id: sonnenberg }\nmqtt: { url: "${acl}" }\nstore: { path: new/cowbell.db }\n`, { mosquittoConf: join(tmp.dir, 'none.conf') });
    expect(out).toMatch(/^FAIL  broker: .* connected, but refused the subscription to farm\/sonnenberg\/collar\/\+\/reading: collars' readings would not reach the agent/m);
    expect(out).toMatch(/^FAIL  database: .*new\/cowbell\.db does not exist yet and cannot be created: the directory .*new does not exist/m);
    expect(out).toMatch(/^warn  clock: not checked: no chat channel is configured/m);
    expect(out).not.toMatch(/mosquitto:/);
    expect(code).toBe(1);

    // A port nothing listens on; an empty file where the database should be.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    writeFileSync(join(tmp.dir, 'junk.db'), 'not a database, a note someone left here\n'.repeat(200));
    const down = await run(tmp.dir, `farm: { id: sonnenberg }\nmqtt: { url: "mqtt://127.0.0.1:${port}" }\nstore: { path: junk.db }\n`, { mosquittoConf: join(tmp.dir, 'none.conf') });
    expect(down.out).toMatch(new RegExp(`^FAIL  broker: mqtt://127\\.0\\.0\\.1:${port}/?: connection refused: nothing listens on 127\\.0\\.0\\.1:${port}`, 'm'));
    expect(down.out).toMatch(/^FAIL  database: .*junk\.db: not an SQLite database/m);
    expect(down.code).toBe(1);
  });

  it('a missing database in a writable directory is fine: the agent creates it', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const { out } = await run(tmp.dir, `farm: { id: sonnenberg }\nmqtt: { url: "${await broker()}" }\n`, { mosquittoConf: join(tmp.dir, 'none.conf') });
    expect(out).toMatch(/^ok {4}database: .*cowbell\.db does not exist yet; the agent creates it/m);
  });
});
