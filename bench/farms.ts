/**
 * Several farms in one process (docs/scaling.md), through an embedded aedes broker into one SQLite file
 * per farm:
 *   npm run build && node --expose-gc dist/bench/farms.js [farms] [cows] [days]
 * Prints what a farm costs the process beyond its cows (heap and open files, with no readings yet), the
 * heap held per farm once each has its herd's history, and how long the process takes to drain a backlog
 * that reaches every farm at once (a regional 4G outage ending), beside the same farms' backlog drained by
 * one farm alone in the same run.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startEmbeddedBroker } from '../agent/broker.js';
import { parseConfig } from '../agent/config.js';
import { FarmHost } from '../agent/farms.js';
import { publishHerd, simulateHerd } from '../collar-sim/index.js';

const farms = Number(process.argv[2] ?? 10);
const cows = Number(process.argv[3] ?? 50);
const days = Number(process.argv[4] ?? 3);
const DAY = 86_400_000;
const silent = pino({ level: 'silent' });
const devNull = { write: () => true } as unknown as NodeJS.WritableStream;

const waitFor = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
};
const heap = () => {
  global.gc?.();
  return process.memoryUsage().heapUsed;
};
const openFiles = () => readdirSync('/proc/self/fd').length;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

async function run(n: number): Promise<{ seconds: number; readings: number; perFarmEmpty: number; perFarmFull: number; filesPerFarm: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'cowbell-farms-'));
  const broker = await startEmbeddedBroker();
  const ids = Array.from({ length: n }, (_, i) => `farm${String(i).padStart(3, '0')}`);
  const configs = ids.map((id) =>
    parseConfig({ farm: { id }, mqtt: { url: broker.url }, store: { path: join(dir, `${id}.db`) }, http: { port: 0 }, log: { level: 'silent' } }),
  );
  const end = Math.floor((Date.now() - 3_600_000) / 900_000) * 900_000;
  const sims = ids.map((id, i) => simulateHerd({ farmId: id, cows, startMs: end - days * DAY, days, seed: 5 + i, episodes: 'default' }));
  const totals = sims.map((s) => [...s.readings()].length);
  const h0 = heap();
  const f0 = openFiles();
  const host = new FarmHost(configs, { logger: silent, agent: () => ({ consoleOut: devNull, snapshotEveryMs: 3_600_000 }) });
  await host.start();
  await waitFor(() => host.agents.every((a) => a.mqtt.connected));
  const h1 = heap();
  const f1 = openFiles();
  const t0 = performance.now();
  // Every farm's backlog at once, a day's readings per message per collar, as a gateway uploads after an outage.
  await Promise.all(ids.map((id, i) => publishHerd({ url: broker.url, farmId: id, sim: sims[i]!, speed: 1e12, batchPerMessage: 96 })));
  await waitFor(() => host.agents.every((a, i) => a.pipeline.counters.readings === totals[i]));
  const seconds = (performance.now() - t0) / 1000;
  const h2 = heap();
  await host.stop();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
  return { seconds, readings: totals.reduce((a, b) => a + b, 0), perFarmEmpty: (h1 - h0) / n, perFarmFull: (h2 - h0) / n, filesPerFarm: (f1 - f0) / n };
}

// One farm alone before and after (the first also warms the JIT up), the farms at once in between.
const before = await run(1);
const many = await run(farms);
const one = await run(1);
console.log(`${farms} farms × ${cows} cows × ${days} days, 96-reading backlog messages, embedded aedes, one process`);
for (const [label, r] of [['one farm alone, before', before], ['one farm alone, after', one]] as const) {
  console.log(`  ${label}: ${r.readings.toLocaleString('en')} readings in ${r.seconds.toFixed(1)} s → ${Math.round(r.readings / r.seconds).toLocaleString('en')} readings/s`);
}
console.log(`  ${farms} farms at once: ${many.readings.toLocaleString('en')} readings in ${many.seconds.toFixed(1)} s → ${Math.round(many.readings / many.seconds).toLocaleString('en')} readings/s`);
console.log(`  per farm: ${kib(many.perFarmEmpty)} heap and ${many.filesPerFarm.toFixed(1)} open files before any reading; ${kib(many.perFarmFull)} heap with ${cows} cows' ${days} days${global.gc ? '' : ' (run with --expose-gc for steadier heap figures)'}`);
