/**
 * Ingest figures through a real broker (embedded aedes on loopback) into SQLite:
 *   npm run build && node dist/bench/ingest.js [cows] [days]
 * Prints messages/s for live-style single-reading messages and for backlog batches, the restart time
 * (snapshot + replay), and the heap held per cow.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent } from '../agent/agent.js';
import { startEmbeddedBroker } from '../agent/broker.js';
import { parseConfig } from '../agent/config.js';
import { publishHerd, simulateHerd } from '../collar-sim/index.js';

const cows = Number(process.argv[2] ?? 100);
const days = Number(process.argv[3] ?? 14);
const DAY = 86_400_000;
const silent = pino({ level: 'silent' });
const devNull = { write: () => true } as unknown as NodeJS.WritableStream;

async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

async function run(label: string, batch: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cowbell-bench-'));
  const broker = await startEmbeddedBroker();
  const config = parseConfig({
    farm: { id: 'bench' }, mqtt: { url: broker.url, clientId: 'bench-agent' }, store: { path: join(dir, 'b.db') },
    http: { port: 0 }, log: { level: 'silent' },
  });
  const end = Math.floor((Date.now() - 3_600_000) / 900_000) * 900_000;
  const sim = simulateHerd({ farmId: 'bench', cows, startMs: end - days * DAY, days, seed: 5, episodes: 'default' });
  let total = 0;
  for (const _ of sim.readings()) total++;

  const agent = new Agent(config, { logger: silent, consoleOut: devNull, snapshotEveryMs: 3_600_000 });
  await agent.start();
  await waitFor(() => agent.mqtt.connected);
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const stats = await publishHerd({ url: broker.url, farmId: 'bench', sim, speed: 1e12, batchPerMessage: batch });
  await waitFor(() => agent.pipeline.counters.readings === total);
  const s = (performance.now() - t0) / 1000;
  global.gc?.();
  const heapPerCow = (process.memoryUsage().heapUsed - heapBefore) / cows;
  console.log(
    `${label}: ${total} readings in ${stats.messages} messages, ${s.toFixed(1)} s → ${Math.round(stats.messages / s)} messages/s, ` +
      `${Math.round(total / s)} readings/s; ${agent.pipeline.counters.alerts} alert transitions`,
  );
  console.log(`  heap held per cow after ${days} days: ~${(heapPerCow / 1024).toFixed(0)} KiB${global.gc ? '' : ' (run with --expose-gc for a steadier figure)'}`);

  // Restart cost: from the last snapshot (taken at stop), and from no snapshot at all (full replay).
  await agent.stop();
  for (const mode of ['snapshot', 'replay'] as const) {
    const again = new Agent(config, { logger: silent, consoleOut: devNull });
    if (mode === 'replay') again.store.clearSnapshots();
    const r0 = performance.now();
    const restored = again.pipeline.restore();
    console.log(`  restart from ${mode}: ${restored.cows} cows, ${restored.replayed} readings replayed, ${Math.round(performance.now() - r0)} ms`);
    again.store.close();
  }
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(`cowbell ingest bench: ${cows} cows × ${days} days at 15-min readings, node ${process.version}`);
await run('live (1 reading per message)', 1);
// Every collar's backlog a day per message, collar after collar: while one collar's day arrives the others
// look silent in event time, so this run also shows how many collar_offline alerts such an upload raises.
await run('backlog (96 readings per message, collar by collar)', 96);
