/**
 * The rules core's speed and memory, offline:
 *   npm run build && node --expose-gc dist/bench/rules.js [cows] [days]
 *
 * Replays a herd's 15-minute readings (in time order, as a backlog after an outage is replayed) through
 * FarmDetector and prints readings/s on one core, with two references measured in the same run on the same
 * readings, because this machine is shared and noisy: the loop alone (iterating the readings) and the
 * history alone (spreading readings into her hour slots, no rule judged). Then the heap held per cow once
 * every cow has a full history, and the size of her stored snapshot. Targets (issue 6): 1,000,000
 * readings/s, 6 KB per cow.
 */
import { simulateHerd } from '../collar-sim/index.js';
import { CowHistory, DEFAULT_RULES, FarmDetector, historyHours, type Reading } from '../rules/index.js';

const cows = Number(process.argv[2] ?? 1000);
const days = Number(process.argv[3] ?? 17);
const DAY = 86_400_000;
const start = Date.UTC(2026, 0, 5);

const sim = simulateHerd({ farmId: 'bench', cows, startMs: start, days, seed: 5, episodes: 'default' });
const readings: Reading[] = [...sim.readings()];
console.log(`${cows} cows × ${days} days: ${readings.length.toLocaleString('en')} readings at 15 min`);

const perSecond = (n: number, ms: number) => Math.round((n / ms) * 1000).toLocaleString('en').padStart(11);

function loopOnly(): number {
  let sink = 0;
  for (const r of readings) sink += r.activity;
  return sink;
}

function historyOnly(): void {
  const hours = historyHours(DEFAULT_RULES);
  const byCow = new Map<string, CowHistory>();
  for (const r of readings) {
    let h = byCow.get(r.collarId);
    if (!h) byCow.set(r.collarId, (h = new CowHistory(hours)));
    h.advanceTo(Math.floor(r.ts / 3_600_000));
    h.add(r);
  }
}

function detector(): FarmDetector {
  const det = new FarmDetector('bench', DEFAULT_RULES);
  let alerts = 0;
  for (const r of readings) alerts += det.observe(r, r.collarId, r.ts).events.length;
  if (alerts === 0) throw new Error('no alerts: the benchmark is not exercising the rules');
  return det;
}

function time(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

// Warm up the JIT on each path, then take the best of three (the least disturbed by other jobs).
for (const fn of [loopOnly, historyOnly, detector]) fn();
const best = (fn: () => unknown) => Math.min(time(fn), time(fn), time(fn));
const tLoop = best(loopOnly);
const tHistory = best(historyOnly);
const tRules = best(detector);
console.log('readings/s, one core (best of 3):');
console.log(`  loop alone (reference)        ${perSecond(readings.length, tLoop)}`);
console.log(`  history alone (reference)     ${perSecond(readings.length, tHistory)}`);
console.log(`  rules core (FarmDetector)     ${perSecond(readings.length, tRules)}   target 1,000,000`);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  // A cow's history ring lives in an ArrayBuffer outside the JS heap, freed lazily by V8: it is counted by
  // its exact size, and everything else as the heap the detector holds (in use with it, less once dropped).
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  // The median of three: one measurement moves by a few per cent with what the collector has left lying
  // about (the same build read 5.5-6.1 KiB one run at a time, 5.6 +/- 0.02 as the later of repeated ones).
  const held: number[] = [];
  let ring = 0;
  let snap = 0;
  for (let k = 0; k < 3; k++) {
    let det: FarmDetector | null = detector();
    const cow = det.cows.values().next().value!;
    ring = cow.history.bytes().byteLength;
    snap = JSON.stringify(cow.snapshot()).length;
    const withIt = heap();
    det = null;
    held.push((withIt - heap()) / cows);
  }
  const objects = held.sort((a, b) => a - b)[1]!;
  console.log(`memory per cow: ${((objects + ring) / 1024).toFixed(2)} KiB (history ring ${(ring / 1024).toFixed(2)} KiB + objects ${(objects / 1024).toFixed(2)} KiB; target 6 KB); stored snapshot ${(snap / 1024).toFixed(2)} KiB`);
  if (days * DAY < historyHours(DEFAULT_RULES) * 3_600_000) console.log('  (run more days than the history holds for a full figure)');
} else {
  console.log('memory: run with node --expose-gc for the heap per cow');
}
