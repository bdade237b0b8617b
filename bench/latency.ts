/**
 * From a reading's publish to its alert on MQTT, through a real Mosquitto: with the agent idle, and while it
 * drains a queued backlog of other collars' readings.
 *
 *   npm run build && node dist/bench/latency.js [probes=200] [backlog readings=100000]
 *
 * A probe is the first reading of a new collar with its battery at 5 %: the battery_low alert is raised on
 * that very reading, so what is timed is ingest, commit, the alert's outbox row and its MQTT publish.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { Agent } from '../agent/agent.js';
import { parseConfig } from '../agent/config.js';
import { alertTopic, collarTopic } from '../agent/wire.js';
import { publishHerd, simulateHerd } from '../collar-sim/index.js';
import { startMosquitto } from './mosquitto.js';

const probes = Number(process.argv[2] ?? 200);
const backlog = Number(process.argv[3] ?? 100_000);
const FARM = 'lat';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cowbell-latency-'));
  const broker = await startMosquitto(dir, 'max_queued_messages 10000000\n');
  const url = broker.url;
  const config = parseConfig({ farm: { id: FARM }, mqtt: { url, clientId: 'lat-agent' }, store: { path: join(dir, 'l.db') }, http: { port: 0 }, log: { level: 'silent' } });
  const silent = { write: () => true } as unknown as NodeJS.WritableStream;
  const watcher = await mqtt.connectAsync(url, { clientId: 'lat-watch' });
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  watcher.on('message', (_t, payload) => {
    const a = JSON.parse(String(payload)) as { collarId: string; state: string };
    const t = sentAt.get(a.collarId);
    if (t !== undefined && a.state === 'firing') {
      latencies.push(performance.now() - t);
      sentAt.delete(a.collarId);
    }
  });
  await watcher.subscribeAsync(alertTopic(FARM, 'battery_low'), { qos: 1 });
  const pub = await mqtt.connectAsync(url, { clientId: 'lat-pub' });
  const ts = new Date(Math.floor((Date.now() - 3_600_000) / 900_000) * 900_000).toISOString();
  let n = 0;
  const probe = async () => {
    const collar = `P${n++}`;
    sentAt.set(collar, performance.now());
    await pub.publishAsync(collarTopic(FARM, collar), JSON.stringify({ ts, intervalS: 900, activity: 10, batteryPct: 5 }), { qos: 1 });
  };
  const run = async (label: string, busy: () => boolean) => {
    latencies.length = 0;
    for (let i = 0; i < probes && busy(); i++) {
      await probe();
      await new Promise((r) => setTimeout(r, 20));
    }
    const deadline = Date.now() + 30_000;
    while (sentAt.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    console.log(`${label}: ${latencies.length} probes, publish → alert on MQTT p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms${sentAt.size ? `, ${sentAt.size} without an alert after 30 s` : ''}`);
    sentAt.clear();
  };
  try {
    // The backlog's session first, so the broker queues for the agent while it is away.
    const agent0 = new Agent(config, { logger: pino({ level: 'silent' }), consoleOut: silent });
    await agent0.start();
    while (!agent0.mqtt.subscribed) await new Promise((r) => setTimeout(r, 10));
    const agent = agent0;
    await run('idle', () => true);
    await agent.stop();
    const days = Math.max(1, Math.round(backlog / (100 * 96)));
    const sim = simulateHerd({ farmId: FARM, cows: 100, startMs: Date.now() - (days + 1) * 86_400_000, days, seed: 9, episodes: 'none' });
    const stats = await publishHerd({ url, farmId: FARM, sim, speed: 1e12 });
    const again = new Agent(config, { logger: pino({ level: 'silent' }), consoleOut: silent });
    await again.start();
    const before = again.pipeline.counters.readings;
    await run(`draining a backlog of ${stats.published} readings`, () => again.pipeline.counters.readings - before < stats.published);
    console.log(`  (the backlog was ${again.pipeline.counters.readings - before >= stats.published ? 'drained by the end' : 'still draining at the end'})`);
    await again.stop();
  } finally {
    await pub.endAsync();
    await watcher.endAsync();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
