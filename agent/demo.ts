import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { publishHerd, simulateHerd, truthToJson } from '../collar-sim/index.js';
import { DAY_MS } from '../rules/index.js';
import { startTelegramStandIn, type TgSent } from '../test/standins/telegram.js';
import { startWhatsAppStandIn, type WaSent } from '../test/standins/whatsapp.js';
import { Agent } from './agent.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker.js';
import { parseConfig } from './config.js';
import { whatsappTemplates } from './notify/render.js';

export interface DemoOptions {
  cows: number;
  days: number;
  speed: number;
  seed: number;
  port: number;
  out?: NodeJS.WritableStream;
  /** Read "a" / "s" + Enter from here to press Anna's buttons; none in tests. */
  input?: NodeJS.ReadableStream | null;
}

export interface Demo {
  agent: Agent;
  stop(): Promise<void>;
  /** Resolves when the simulated history has been published (the herd then carries on in real time). */
  caughtUp: Promise<void>;
  whatsapp: { sent: WaSent[]; press(kind: 'ack' | 'snooze'): Promise<number> };
  telegram: { sent: TgSent[] };
}

const ANNA = '41790000001';
const HANS = '424242';

/**
 * Everything on one machine: an MQTT broker, a simulated herd with history, the agent, and local
 * stand-ins of the WhatsApp Cloud API and the Telegram Bot API (test/standins/) that print what the
 * farmer's and the manager's phones would show. Anna gets WhatsApp in English, Hans Telegram in German.
 */
export async function startDemo(o: DemoOptions): Promise<Demo> {
  const out = o.out ?? process.stdout;
  const say = (s: string) => out.write(`${s}\n`);
  const secret = () => randomBytes(12).toString('hex');
  const waToken = secret();
  const waOptions: Parameters<typeof startWhatsAppStandIn>[0] = {
    token: waToken, phoneNumberId: '100200300', appSecret: secret(), templates: whatsappTemplates(),
  };
  const wa = await startWhatsAppStandIn(waOptions);
  const tgToken = `4242:${secret()}`;
  const tg = await startTelegramStandIn({ token: tgToken });

  let broker: EmbeddedBroker;
  try {
    broker = await startEmbeddedBroker({ port: 1883 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    broker = await startEmbeddedBroker({ port: 0 });
  }
  const dir = mkdtempSync(join(tmpdir(), 'cowbell-demo-'));
  const config = (port: number) =>
    parseConfig({
      farm: { id: 'demo', name: 'Demo farm', timezone: 'Europe/Zurich' },
      mqtt: { url: broker.url, clientId: 'cowbell-demo-agent' },
      store: { path: join(dir, 'cowbell.db') },
      http: { port },
      log: { level: 'warn' },
      channels: {
        whatsapp: { phoneNumberId: waOptions.phoneNumberId, token: waToken, appSecret: waOptions.appSecret, verifyToken: secret(), apiBaseUrl: wa.url },
        telegram: { botToken: tgToken, apiBaseUrl: tg.url, pollTimeoutS: 5 },
      },
      recipients: [
        { name: 'Anna', channel: 'whatsapp', address: ANNA, language: 'en', minSeverity: 'info' },
        { name: 'Hans', channel: 'telegram', address: HANS, language: 'de', types: ['health', 'down_cow', 'collar_offline'] },
      ],
      escalation: [{ afterMinutes: 30, to: ['Hans'] }],
      // Shorter than on a farm, so grouping shows within the demo's first minute.
      notify: { groupWaitS: 10, groupIntervalMin: 1 },
    });
  let agent = new Agent(config(o.port));
  try {
    await agent.start();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    await agent.stop();
    agent = new Agent(config(0));
    await agent.start();
  }
  waOptions.webhookUrl = `http://127.0.0.1:${agent.httpPort}/webhooks/whatsapp`;

  const phone = (who: string, via: string, text: string, buttons: string[]) =>
    say(`\n📱 ${who} (${via}):\n    ${text.replace(/\n/g, '\n    ')}${buttons.length ? `\n    ${buttons.map((b) => `[${b}]`).join(' ')}` : ''}`);
  // What the stand-in shows already ends with the buttons.
  wa.onSent = (m) => phone('Anna', m.type === 'template' ? 'WhatsApp template' : 'WhatsApp', m.shown, []);
  tg.onSent = (m) => phone('Hans', 'Telegram', m.text, m.buttons.map((b) => b.text));

  // Anna taps the latest message that still has an open alert (many early ones are about cows already recovered).
  const press = async (kind: 'ack' | 'snooze'): Promise<number> => {
    const messageOf = (m: WaSent) => Number(JSON.stringify(m.body).match(/"ack:(\d+)"/)?.[1] ?? NaN);
    const isOpen = (id: string) => ['firing', 'snoozed'].includes(agent.store.alert(id)?.state ?? '');
    const last = [...wa.sent].reverse().find((m) => m.type !== 'text' && agent.store.notify.alertIdsOfMessage(messageOf(m)).some(isOpen));
    if (!last) {
      say('\n(no message of Anna\'s has an open alert left to acknowledge yet)');
      return 0;
    }
    const id = `${kind}:${messageOf(last)}`;
    say(`\n👆 Anna taps [${kind === 'ack' ? last.buttons[0] : last.buttons[1]}]`);
    return last.type === 'template'
      ? wa.pressTemplateButton(ANNA, id, last.wamid, kind === 'ack' ? last.buttons[0] : last.buttons[1])
      : wa.pressReplyButton(ANNA, id, (kind === 'ack' ? last.buttons[0] : last.buttons[1]) ?? kind, last.wamid);
  };

  const now = Date.now();
  const startMs = Math.floor((now - o.days * DAY_MS) / 900_000) * 900_000;
  const sim = simulateHerd({ farmId: 'demo', cows: o.cows, startMs, days: o.days + 1, seed: o.seed, episodes: 'default' });
  const truth = truthToJson(sim);
  truth.episodes = truth.episodes.filter((e) => Date.parse(e.start) < now);
  const truthPath = join(dir, 'ground-truth.json');
  writeFileSync(truthPath, JSON.stringify(truth, null, 2));

  say(`Cowbell demo
  broker      ${broker.url} (embedded)
  farm page   http://127.0.0.1:${agent.httpPort}/   alerts API http://127.0.0.1:${agent.httpPort}/api/alerts
  herd        ${o.cows} simulated cows, ${o.days} days of history at ${o.speed / 86_400} day(s) per second, then real time
  injected    ${truth.episodes.map((e) => `${e.type} ${e.cowId}`).join(', ')}  (ground truth: ${truthPath})
  people      Anna on WhatsApp (English, every alert), Hans on Telegram (German, health and collars; escalations)
              — both through local stand-ins of the WhatsApp Cloud API (${wa.url}) and the Telegram Bot API (${tg.url})
  database    ${join(dir, 'cowbell.db')}
Cows need ${agent.config.rules.baseline.warmupDays} days of history before heats are judged, ${agent.config.rules.health.warmupDays} before health. What each phone shows follows below;
messages are grouped (10 s wait, then at most one a minute per person). Type "a" + Enter to tap Acknowledge
on Anna's latest message about an open alert, "s" + Enter for Snooze. Ctrl-C to stop (the demo's files go).`);

  const abort = new AbortController();
  const rl = o.input === null ? null : createInterface({ input: o.input ?? process.stdin });
  rl?.on('line', (line) => {
    const k = line.trim().toLowerCase();
    if (k === 'a' || k === 's') void press(k === 'a' ? 'ack' : 'snooze');
  });
  let live = false;
  const caughtUp = publishHerd({
    url: broker.url, farmId: 'demo', sim, speed: o.speed, catchUpToWallClock: true, signal: abort.signal,
    // Event time has reached the wall clock: the history is in, and the herd goes on in real time.
    onProgress: ({ eventTime }) => {
      if (live || eventTime < Date.now() - 60_000) return;
      live = true;
      say(`caught up: ${o.days} days of history are in; the herd now runs in real time, a reading per collar every 15 minutes`);
    },
  }).then(() => undefined);

  return {
    agent,
    caughtUp,
    whatsapp: { sent: wa.sent, press },
    telegram: { sent: tg.sent },
    stop: async () => {
      abort.abort();
      rl?.close();
      await caughtUp.catch(() => undefined);
      await agent.stop();
      await broker.close();
      await wa.close();
      await tg.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
