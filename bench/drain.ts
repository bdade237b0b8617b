/**
 * Draining a queued backlog through a real Mosquitto, side by side in one run: a bare mqtt.js subscriber
 * (JSON.parse only, PUBACK at once) and the agent (validate, store with group commit, detect, PUBACK after
 * commit). Each consumer's persistent session is filled while it is away, then it connects and the time until
 * it has every reading is taken.
 *
 *   npm run build && node dist/bench/drain.js [cows=50] [days=14] [inflight]
 *
 * `inflight` sets Mosquitto's max_inflight_messages (its default, 20, when left out): the most unacknowledged
 * messages the broker sends one client, and so the most the agent can commit in one group.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { Agent } from '../agent/agent.js';
import { parseConfig } from '../agent/config.js';
import { collarTopicFilter } from '../agent/wire.js';
import { publishHerd, simulateHerd } from '../collar-sim/index.js';
import { startMosquitto } from './mosquitto.js';

const cows = Number(process.argv[2] ?? 50);
const days = Number(process.argv[3] ?? 14);
const inflight = process.argv[4];
const DAY = 86_400_000;
const TOPIC = collarTopicFilter('bench');
/** Creates the consumer's persistent session and leaves, so what is published next queues for it. */
async function openSession(url: string, clientId: string): Promise<void> {
  const c = await mqtt.connectAsync(url, { clientId, clean: false });
  await c.subscribeAsync(TOPIC, { qos: 1 });
  await c.endAsync();
}

/**
 * Readings per second over what arrived. Its listener is attached before the connection is made: a
 * persistent session's queued messages follow the CONNACK at once, and those that came before a listener
 * added after `connectAsync` resolved went unseen (mqtt.js acknowledges them all the same) — the "missing"
 * messages of earlier runs.
 */
async function bare(url: string, clientId: string, total: number): Promise<number> {
  let readings = 0;
  const t0 = performance.now();
  let last = t0;
  const c = mqtt.connect(url, { clientId, clean: false });
  await new Promise<void>((resolve) => {
    const watch = setInterval(() => {
      if (performance.now() - last > 5_000) {
        clearInterval(watch);
        console.log(`  (the bare subscriber received ${readings} of ${total} readings; the rate is over those)`);
        resolve();
      }
    }, 500);
    c.on('message', (_t, payload) => {
      last = performance.now();
      const j = JSON.parse(String(payload)) as { readings?: unknown[] };
      readings += j.readings ? j.readings.length : 1;
      if (readings >= total) {
        clearInterval(watch);
        resolve();
      }
    });
  });
  await c.endAsync();
  return readings / ((last - t0) / 1000);
}

async function agent(url: string, clientId: string, dbDir: string, total: number): Promise<{ s: number; groups: number }> {
  const config = parseConfig({ farm: { id: 'bench' }, mqtt: { url, clientId }, store: { path: join(dbDir, `${clientId}.db`) }, http: { port: 0 }, log: { level: 'silent' } });
  const a = new Agent(config, { logger: pino({ level: 'silent' }), consoleOut: { write: () => true } as unknown as NodeJS.WritableStream, snapshotEveryMs: 3_600_000 });
  let groups = 0;
  const handle = a.pipeline.handleMessages.bind(a.pipeline);
  let busy = 0;
  let first = 0;
  a.pipeline.handleMessages = (g) => {
    groups++;
    const h0 = performance.now();
    if (!first) first = h0;
    handle(g);
    busy += performance.now() - h0;
  };
  const t0 = performance.now();
  await a.start();
  const started = performance.now();
  let seen = -1;
  let since = performance.now();
  while (a.pipeline.counters.readings + a.pipeline.counters.duplicates < total) {
    await new Promise((r) => setTimeout(r, 2));
    const c = a.pipeline.counters;
    if (c.messages !== seen) [seen, since] = [c.messages, performance.now()];
    else if (performance.now() - since > 30_000) throw new Error(`agent stalled: ${JSON.stringify(c)} of ${total} readings`);
  }
  const s = (performance.now() - t0) / 1000;
  // Where the agent's time went: its own work (store and detector) against the whole drain, the rest being
  // mqtt.js, the socket and waiting for the broker.
  console.log(`  agent: started in ${(started - t0).toFixed(0)} ms, first group at ${(first - t0).toFixed(0)} ms, its pipeline busy ${busy.toFixed(0)} ms of ${(s * 1000).toFixed(0)} (${((busy * 1000) / total).toFixed(1)} µs a reading)`);
  await a.stop();
  return { s, groups };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cowbell-drain-'));
  const broker = await startMosquitto(dir, `persistence false\nmax_queued_messages 100000000\n${inflight ? `max_inflight_messages ${inflight}\n` : ''}`);
  const end = Math.floor((Date.now() - 3_600_000) / 900_000) * 900_000;
  const sim = simulateHerd({ farmId: 'bench', cows, startMs: end - days * DAY, days, seed: 5, episodes: 'default' });
  let total = 0;
  for (const _ of sim.readings()) total++;
  console.log(`Mosquitto (max_inflight_messages ${inflight ?? '20, its default'}), ${cows} cows × ${days} days = ${total} readings queued for each consumer`);
  try {
    for (const batch of [1, 96]) {
      const results: Record<string, number> = {};
      for (const who of ['bare', 'agent'] as const) {
        const clientId = `${who}-${batch}-${Math.random().toString(36).slice(2, 8)}`;
        await openSession(broker.url, clientId);
        const stats = await publishHerd({ url: broker.url, farmId: 'bench', sim, speed: 1e12, batchPerMessage: batch });
        // What was published (publishHerd can leave a collar's last partial batch out): the target for both.
        const sent = stats.published;
        if (sent !== total) console.log(`  (${sent} of the ${total} readings published in ${batch}-reading messages)`);
        if (who === 'bare') results.bare = await bare(broker.url, clientId, sent);
        else {
          const r = await agent(broker.url, clientId, dir, sent);
          results.agent = sent / r.s;
          console.log(`  agent committed ${stats.messages} messages in ${r.groups} groups (${(stats.messages / r.groups).toFixed(1)} messages per commit)`);
        }
      }
      console.log(
        `${batch === 1 ? 'single-reading messages' : `${batch}-reading backlog messages`}: bare mqtt.js ${Math.round(results.bare!)} readings/s, ` +
          `agent ${Math.round(results.agent!)} readings/s, ratio ${(results.agent! / results.bare!).toFixed(2)}`,
      );
    }
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
