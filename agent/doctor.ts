import { constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { access, stat, statfs } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { Agent as HttpAgent, request } from 'undici';
import { loadConfigFile, type AgentConfig, type TelegramConfig, type WhatsAppConfig } from './config.js';
import { uplinkTopic } from './ingest/lorawan.js';
import { brokerOptions } from './ingest/mqtt-source.js';
import { redactUrl } from './log.js';
import { collarTopicFilter } from './wire.js';
import { writableDir } from './preflight.js';
import { MIGRATIONS } from './store/migrations.js';

/**
 * `cowbell doctor`: what the running gateway depends on, tried for real — the broker and the agent's
 * subscription, the database, the disk, the chat credentials and the clock — one line each, so a technician
 * on site sees at once what to fix. `check` says whether the agent would start; this says whether it would
 * work. Nothing here changes anything: the broker session is a throwaway one, the database is opened
 * read-only, the chat calls send nothing.
 */

export type Level = 'ok' | 'warn' | 'FAIL';
export interface Check {
  level: Level;
  what: string;
  text: string;
}

export interface DoctorOptions {
  /** Mosquitto's main config file, read when the broker is on this box (tests point it elsewhere). */
  mosquittoConf?: string;
  brokerTimeoutMs?: number;
  httpTimeoutMs?: number;
  diskWarnBytes?: number;
  diskFailBytes?: number;
  clock?: () => number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/** Mosquitto's default queue per client (mosquitto.conf(5)). */
const MOSQUITTO_DEFAULT_QUEUE = 1000;
/** The agent judges collar silence by the wall clock; two minutes off is within what its rules shrug at. */
const CLOCK_WARN_MS = 2 * 60_000;

export async function doctor(c: AgentConfig, o: DoctorOptions = {}): Promise<Check[]> {
  const clock = o.clock ?? Date.now;
  const http = new HttpAgent();
  try {
    const [broker, database, disk, chat] = await Promise.all([
      brokerChecks(c, o),
      databaseCheck(c.store.path),
      diskCheck(c.store.path, o.diskWarnBytes ?? GiB, o.diskFailBytes ?? 100 * MiB),
      chatChecks(c, o.httpTimeoutMs ?? 10_000, http, clock),
    ]);
    return [...broker, database, disk, ...chat];
  } finally {
    await http.close();
  }
}

export function formatCheck(ch: Check): string {
  return `${ch.level.padEnd(4)}  ${ch.what}: ${ch.text}`;
}

/** Loads the config as `check` does, prints one line per check; the exit code is 1 when any check failed. */
export async function runDoctor(configPath: string, o: DoctorOptions, print: (line: string) => void): Promise<number> {
  const config = loadConfigFile(configPath);
  const checks = await doctor(config, o);
  for (const ch of checks) print(formatCheck(ch));
  const failed = checks.filter((ch) => ch.level === 'FAIL').length;
  const warned = checks.filter((ch) => ch.level === 'warn').length;
  print(failed ? `${failed} failed, ${warned} warning${warned === 1 ? '' : 's'}: fix the FAIL lines before leaving the farm` : warned ? `no failures, ${warned} warning${warned === 1 ? '' : 's'}` : 'all good');
  return failed ? 1 : 0;
}

// --- broker ---------------------------------------------------------------------------------------------

async function brokerChecks(c: AgentConfig, o: DoctorOptions): Promise<Check[]> {
  const m = c.mqtt;
  const where = redactUrl(m.url);
  const topics = [collarTopicFilter(c.farm.id), ...c.sources.map(uplinkTopic)];
  const probe = await probeBroker(m, topics, o.brokerTimeoutMs ?? 5_000);
  const out: Check[] = [];
  if (!probe.ok) out.push({ level: 'FAIL', what: 'broker', text: `${where}: ${probe.why}` });
  else if (probe.refused.length) {
    out.push({ level: 'FAIL', what: 'broker', text: `${where} connected, but refused the subscription to ${probe.refused.join(', ')}: collars' readings would not reach the agent (allow it in the broker's ACL for this user)` });
  } else out.push({ level: 'ok', what: 'broker', text: `${where} connected and subscribed to ${topics.join(', ')}` });
  out.push(sessionCheck(m));
  const host = new URL(m.url).hostname.replace(/^\[|\]$/g, '');
  if (isThisBox(host)) {
    const conf = mosquittoCheck(o.mosquittoConf ?? '/etc/mosquitto/mosquitto.conf');
    if (conf) out.push(conf);
  }
  return out;
}

type Probe = { ok: true; refused: string[] } | { ok: false; why: string };

/**
 * Connects as the agent would (address, credentials, TLS) but under its own client id and a clean session:
 * the agent's id would take over the running agent's connection, and a clean session under it would throw
 * away the readings the broker keeps for it.
 */
function probeBroker(m: AgentConfig['mqtt'], topics: string[], timeoutMs: number): Promise<Probe> {
  return new Promise((done) => {
    let client: mqtt.MqttClient;
    try {
      client = mqtt.connect(m.url, { ...brokerOptions(m), clientId: `${m.clientId}-doctor`, clean: true, reconnectPeriod: 0, connectTimeout: timeoutMs });
    } catch (err) {
      return done({ ok: false, why: (err as Error).message });
    }
    let settled = false;
    const finish = (p: Probe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end(true);
      done(p);
    };
    const timer = setTimeout(() => finish({ ok: false, why: `no answer within ${timeoutMs / 1000} s (a firewall dropping packets, the wrong port, or a TLS port spoken to without TLS)` }), timeoutMs);
    client.on('error', (err) => finish({ ok: false, why: brokerProblem(err as Error & { code?: string | number }, m.url) }));
    let connected = false;
    client.on('close', () =>
      finish({
        ok: false,
        why: connected
          ? `connected, but the broker dropped the connection when asked for ${topics.join(', ')} (some brokers do that for a subscription their ACL refuses)`
          : 'the broker closed the connection before accepting it (a TLS port spoken to without TLS, or a client id it will not take)',
      }),
    );
    client.on('connect', () => {
      connected = true;
      const refused: string[] = [];
      let answered = 0;
      for (const topic of topics) {
        client.subscribe(topic, { qos: 1 }, (err, granted) => {
          if (err || granted?.some((g) => g.qos >= 0x80)) refused.push(topic);
          if (++answered === topics.length) finish({ ok: true, refused });
        });
      }
    });
  });
}

/** A connection error in a technician's words. */
export function brokerProblem(err: Error & { code?: string | number }, url: string): string {
  const u = new URL(url);
  const at = `${u.hostname}:${u.port || (u.protocol === 'mqtts:' || u.protocol === 'ssl:' ? 8883 : 1883)}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection refused: nothing listens on ${at} (is the broker running? systemctl status mosquitto)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host ${u.hostname} does not resolve (a typo, or no DNS on this box?)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${u.hostname} is unreachable from this box (network or routing)`;
    case 'ECONNRESET':
      return `the broker reset the connection (a TLS port spoken to without TLS, or the other way round?)`;
    case 4:
    case 134:
      return 'refused: bad username or password (mqtt.username / mqtt.password, and the broker\'s password_file)';
    // Mosquitto answers a wrong password with this one too.
    case 5:
    case 135:
      return 'refused: not authorized (a wrong mqtt.username / mqtt.password, or a broker that allows no anonymous clients)';
    case 2:
    case 133:
      return 'refused: the broker does not accept the client id (mqtt.clientId)';
    case 1:
    case 132:
      return 'refused: the broker does not speak this MQTT version (mqtt.protocolVersion)';
    case 3:
    case 136:
    case 137:
      return 'refused: the broker says it is unavailable or busy';
    case 'CERT_HAS_EXPIRED':
      return 'TLS: the broker\'s certificate has expired (or this box\'s clock is wrong)';
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'TLS: the broker\'s certificate is not signed by a CA this box trusts (set mqtt.tls.caFile to the CA that signed it)';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `TLS: the broker's certificate is not for "${u.hostname}" (use the name the certificate was issued for)`;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'TLS handshake failed: is this port TLS? (mqtts:// to a plain port, or the other way round)';
    default:
      return typeof err.code === 'string' && err.code.startsWith('ERR_SSL') ? `TLS: ${err.message}` : err.message;
  }
}

/** The agent always asks for a persistent session (clean: false, agent/ingest/mqtt-source.ts) under a fixed id. */
function sessionCheck(m: AgentConfig['mqtt']): Check {
  // mqtt.js makes up "mqttjs_…" ids: one copied into the config from a log line belongs to some other client.
  if (/^mqttjs_/.test(m.clientId)) {
    return { level: 'warn', what: 'session', text: `mqtt.clientId "${m.clientId}" looks generated by mqtt.js: give the agent its own fixed id (the default is cowbell-{farm.id})` };
  }
  if (m.protocolVersion === 5 && m.sessionExpiryS < 24 * 3600) {
    return { level: 'warn', what: 'session', text: `mqtt.sessionExpiryS is ${m.sessionExpiryS} s: the broker forgets the agent's session, and the readings it queued, after the agent is away that long (the default is a week)` };
  }
  const kept = m.protocolVersion === 5 ? `, kept ${(m.sessionExpiryS / 86_400).toFixed(1)} days` : '';
  return { level: 'ok', what: 'session', text: `persistent as "${m.clientId}" (clean=false${kept}): the broker queues readings while the agent is down` };
}

function isThisBox(host: string): boolean {
  if (host === 'localhost' || host === '::1' || /^127\./.test(host) || host === hostname()) return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address === host));
}

/**
 * Mosquitto's own limits on what it keeps for a disconnected agent. Only the main file's include_dir lines
 * pull in other files (mosquitto.conf(5)); the last value of an option wins.
 */
export function mosquittoCheck(mainConf: string): Check | null {
  const settings = new Map<string, { value: string; file: string }>();
  const read = (file: string): string[] => readFileSync(file, 'utf8').split('\n');
  let main: string[];
  try {
    main = read(mainConf);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null; // not Debian's Mosquitto: nothing to say about its settings
    return { level: 'warn', what: 'mosquitto', text: `cannot read ${mainConf} (${code}): its queue settings were not checked (run doctor with sudo to check them)` };
  }
  const files: [string, string[]][] = [[mainConf, main]];
  for (const line of main) {
    const [key, ...rest] = line.trim().split(/\s+/);
    if (key !== 'include_dir' || !rest.length) continue;
    const dir = resolve(dirname(mainConf), rest.join(' '));
    try {
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.conf')).sort()) files.push([join(dir, f), read(join(dir, f))]);
    } catch {
      // Mosquitto itself refuses to start on an unreadable include_dir; `systemctl status mosquitto` says so.
    }
  }
  for (const [file, lines] of files) {
    for (const line of lines) {
      if (line.startsWith('#')) continue;
      const [key, ...rest] = line.trim().split(/\s+/);
      if (key && rest.length) settings.set(key, { value: rest.join(' '), file });
    }
  }
  const problems: string[] = [];
  const persistence = settings.get('persistence') ?? settings.get('retained_persistence');
  if (persistence?.value !== 'true') {
    problems.push(`persistence is ${persistence ? `${persistence.value} (${persistence.file})` : 'off (the default)'}: what Mosquitto queues for the agent while it is down lives only in memory and is lost when Mosquitto or the box restarts`);
  }
  const queued = settings.get('max_queued_messages');
  const limit = queued ? Number(queued.value) : MOSQUITTO_DEFAULT_QUEUE;
  if (limit !== 0 && limit <= MOSQUITTO_DEFAULT_QUEUE) {
    problems.push(`max_queued_messages is ${queued ? `${queued.value} (${queued.file})` : `${MOSQUITTO_DEFAULT_QUEUE} (the default)`}: while the agent is down Mosquitto keeps at most that many readings for it and drops the rest (100 cows on 15-minute collars fill 1000 in 2.5 hours)`);
  }
  if (problems.length) return { level: 'warn', what: 'mosquitto', text: `${problems.join('; ')}. deploy/mosquitto-cowbell.conf turns persistence on and keeps a week (docs/install.md)` };
  return { level: 'ok', what: 'mosquitto', text: `persistence on, max_queued_messages ${limit === 0 ? 'unlimited' : limit} (${mainConf} and its include_dir)` };
}

// --- database and disk ----------------------------------------------------------------------------------

async function databaseCheck(path: string): Promise<Check> {
  const what = 'database';
  if (path === ':memory:') return { level: 'warn', what, text: 'store.path is :memory:: alerts, messages waiting to go and readings are lost at every restart' };
  if (!existsSync(path)) {
    const why = await writableDir(dirname(path));
    return why ? { level: 'FAIL', what, text: `${path} does not exist yet and cannot be created: ${why}` } : { level: 'ok', what, text: `${path} does not exist yet; the agent creates it (the directory is writable)` };
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const version = db.pragma('user_version', { simple: true }) as number;
    const check = db.pragma('quick_check', { simple: false }) as { quick_check: string }[];
    const damage = check.map((r) => r.quick_check).filter((r) => r !== 'ok');
    if (damage.length) return { level: 'FAIL', what, text: `${path} is damaged (quick_check: ${damage.slice(0, 3).join('; ')}): stop the agent and restore the last backup (docs/install.md)` };
    if (version > MIGRATIONS.length) return { level: 'FAIL', what, text: `${path} has schema ${version}, newer than this agent's ${MIGRATIONS.length}: a newer agent wrote it; install that version again` };
    const size = `${((await stat(path)).size / MiB).toFixed(1)} MiB`;
    const schema = version === MIGRATIONS.length ? `schema ${version}` : `schema ${version}, brought to ${MIGRATIONS.length} when the agent starts (back it up first)`;
    const writable = await access(path, constants.W_OK).then(() => access(dirname(path), constants.W_OK)).then(() => true, () => false);
    if (!writable) return { level: 'warn', what, text: `${path} (${schema}, quick_check ok, ${size}) is not writable by this user: run doctor as the agent's user (sudo -u cowbell cowbell doctor …), or fix the owner` };
    return { level: 'ok', what, text: `${path}: ${schema}, quick_check ok, ${size}` };
  } catch (err) {
    const e = err as Error & { code?: string };
    const why = e.code === 'SQLITE_NOTADB' ? 'not an SQLite database' : e.code === 'SQLITE_CANTOPEN' ? 'cannot open it (permissions? run doctor as the agent\'s user)' : e.code === 'SQLITE_BUSY' ? 'locked for more than 5 s' : e.message;
    return { level: 'FAIL', what, text: `${path}: ${why}` };
  } finally {
    db?.close();
  }
}

async function diskCheck(dbPath: string, warnBytes: number, failBytes: number): Promise<Check> {
  const what = 'disk';
  if (dbPath === ':memory:') return { level: 'ok', what, text: 'not checked (the database is in memory)' };
  // The database may not exist yet, nor its directory: the filesystem it will land on is its nearest ancestor's.
  let dir = dirname(dbPath);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    const fs = await statfs(dir);
    const free = fs.bavail * fs.bsize;
    const text = `${fmtBytes(free)} free on the database's filesystem (${dir})`;
    if (free < failBytes) return { level: 'FAIL', what, text: `${text}: under ${fmtBytes(failBytes)}, the database will soon fail to write and the agent stops; free space or move store.path` };
    if (free < warnBytes) return { level: 'warn', what, text: `${text}: under ${fmtBytes(warnBytes)}; readings take about 100 MB per 100 cows a month` };
    return { level: 'ok', what, text };
  } catch (err) {
    return { level: 'warn', what, text: `cannot tell the free space of ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
}

function fmtBytes(n: number): string {
  return n >= GiB ? `${(n / GiB).toFixed(1)} GiB` : `${Math.round(n / MiB)} MiB`;
}

// --- chat channels and the clock ------------------------------------------------------------------------

interface ApiAnswer {
  status: number;
  json: unknown;
  /** The server's Date header and when we saw it, for the clock check. */
  date?: { server: number; local: number; from: string };
}

async function chatChecks(c: AgentConfig, timeoutMs: number, http: HttpAgent, clock: () => number): Promise<Check[]> {
  const out: Check[] = [];
  const dates: NonNullable<ApiAnswer['date']>[] = [];
  const wa = c.channels.whatsapp;
  const tg = c.channels.telegram;
  const calls: Promise<void>[] = [];
  if (wa) calls.push(whatsAppCheck(wa, timeoutMs, http, clock).then(([ch, d]) => void (out.push(ch), d && dates.push(d))));
  if (tg) calls.push(telegramCheck(tg, timeoutMs, http, clock).then(([ch, d]) => void (out.push(ch), d && dates.push(d))));
  await Promise.all(calls);
  out.sort((a, b) => a.what.localeCompare(b.what));
  out.push(clockCheck(dates, !!(wa || tg)));
  return out;
}

async function call(url: string, headers: Record<string, string>, timeoutMs: number, http: HttpAgent, clock: () => number, from: string): Promise<ApiAnswer> {
  const sent = clock();
  const res = await request(url, { method: 'GET', headers, dispatcher: http, signal: AbortSignal.timeout(timeoutMs) });
  const local = (sent + clock()) / 2;
  const text = await res.body.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // A proxy's HTML page: judged by the status.
  }
  const header = res.headers.date;
  const server = typeof header === 'string' ? Date.parse(header) : NaN;
  return { status: res.statusCode, json, ...(Number.isFinite(server) && { date: { server, local, from } }) };
}

/** A network failure in plain words; undici's messages carry no URL, so a token in a path cannot leak. */
function netProblem(thrown: unknown, host: string): string {
  const err = thrown as Error & { code?: string; cause?: { code?: string } };
  const code = err.cause?.code ?? err.code;
  if (err.name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT') return `${host} did not answer in time (no internet on this box? a slow 4G link?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${host} does not resolve (no DNS or no internet on this box?)`;
  if (code === 'ECONNREFUSED') return `${host} refused the connection`;
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT')) return `TLS to ${host} failed (${code}; is this box's clock right?)`;
  return `cannot reach ${host}: ${code ?? err.message}`;
}

async function whatsAppCheck(wa: WhatsAppConfig, timeoutMs: number, http: HttpAgent, clock: () => number): Promise<[Check, ApiAnswer['date']?]> {
  const what = 'whatsapp';
  const base = wa.apiBaseUrl.replace(/\/$/, '');
  const host = new URL(base).host;
  let a: ApiAnswer;
  try {
    // Reading the phone number's own record sends nothing and needs the same token as sending.
    a = await call(`${base}/${wa.apiVersion}/${wa.phoneNumberId}`, { authorization: `Bearer ${wa.token.reveal()}` }, timeoutMs, http, clock, `WhatsApp (${host})`);
  } catch (err) {
    return [{ level: 'FAIL', what, text: netProblem(err, host) }];
  }
  const body = (a.json ?? {}) as { display_phone_number?: string; verified_name?: string; error?: { code?: number; message?: string } };
  const code = body.error?.code;
  let ch: Check;
  if (a.status === 200) {
    const shown = [body.display_phone_number, body.verified_name && `"${body.verified_name}"`].filter(Boolean).join(' ');
    ch = { level: 'ok', what, text: `the token works; phone number id ${wa.phoneNumberId}${shown ? ` is ${shown}` : ''}` };
  } else if (code === 190 || a.status === 401) {
    ch = { level: 'FAIL', what, text: `the token is wrong or expired (Meta error ${code ?? a.status}): make a permanent system-user token (docs/whatsapp.md) and put it where channels.whatsapp.token reads it (${wa.token.source})` };
  } else if (code === 100 || a.status === 404) {
    ch = { level: 'FAIL', what, text: `phone number id ${wa.phoneNumberId} was not found for this token (Meta error ${code ?? a.status}): copy the id from WhatsApp Manager (the number's id, not the number)` };
  } else if (code === 10 || code === 200) {
    ch = { level: 'warn', what, text: `the token may not read phone number ${wa.phoneNumberId} (Meta error ${code}): give its system user whatsapp_business_messaging and whatsapp_business_management on this WhatsApp account` };
  } else {
    ch = { level: 'warn', what, text: `Meta answered HTTP ${a.status}${code ? `, error ${code}` : ''}${body.error?.message ? `: ${scrub(body.error.message, wa.token.reveal())}` : ''}; try again later` };
  }
  return [ch, a.date];
}

async function telegramCheck(tg: TelegramConfig, timeoutMs: number, http: HttpAgent, clock: () => number): Promise<[Check, ApiAnswer['date']?]> {
  const what = 'telegram';
  const base = tg.apiBaseUrl.replace(/\/$/, '');
  const host = new URL(base).host;
  const token = tg.botToken.reveal();
  let a: ApiAnswer;
  try {
    a = await call(`${base}/bot${token}/getMe`, {}, timeoutMs, http, clock, `Telegram (${host})`);
  } catch (err) {
    return [{ level: 'FAIL', what, text: scrub(netProblem(err, host), token) }];
  }
  const body = (a.json ?? {}) as { ok?: boolean; result?: { username?: string; id?: number }; description?: string };
  let ch: Check;
  if (a.status === 200 && body.ok) ch = { level: 'ok', what, text: `the bot token works: @${body.result?.username ?? '?'} (id ${body.result?.id ?? '?'})` };
  else if (a.status === 401 || a.status === 404) {
    ch = { level: 'FAIL', what, text: `the bot token is ${a.status === 401 ? 'wrong or revoked' : 'malformed'} (Telegram ${a.status}${body.description ? ` ${body.description}` : ''}): copy it again from @BotFather to where channels.telegram.botToken reads it (${tg.botToken.source})` };
  } else ch = { level: 'warn', what, text: `Telegram answered HTTP ${a.status}${body.description ? `: ${scrub(body.description, token)}` : ''}; try again later` };
  return [ch, a.date];
}

function scrub(text: string, secret: string): string {
  return secret ? text.split(secret).join('[secret]') : text;
}

function clockCheck(dates: NonNullable<ApiAnswer['date']>[], anyChannel: boolean): Check {
  const what = 'clock';
  const ntp = 'check that NTP runs (timedatectl: "System clock synchronized: yes"); a Raspberry Pi has no battery clock';
  if (!anyChannel) return { level: 'warn', what, text: `not checked: no chat channel is configured to compare it with; ${ntp}` };
  const d = dates[0];
  if (!d) return { level: 'warn', what, text: `not checked: the chat API gave no answer to compare it with; ${ntp}` };
  const skew = d.local - d.server;
  const secs = Math.round(Math.abs(skew) / 1000);
  const off = secs < 2 ? `within a second or two of ${d.from}` : `${fmtDuration(secs)} ${skew > 0 ? 'ahead of' : 'behind'} ${d.from}`;
  if (Math.abs(skew) > CLOCK_WARN_MS) {
    return { level: 'warn', what, text: `this box's clock is ${off}: the agent judges collar silence by it and checks collars' timestamps against it; ${ntp}` };
  }
  return { level: 'ok', what, text: off };
}

function fmtDuration(s: number): string {
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}
