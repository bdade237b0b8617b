/**
 * How noisy the simulator's cows are beside real ones: the same two figures for the simulated herd and the
 * real IceTag cows (../shared/data/icetag), side by side.
 *
 * - An hour against the same clock hour of her past seven days (its median): the spread of these ratios is
 *   what the heat rule's hot hours and the health trend's hours see. A cow lies down in bouts of one to two
 *   hours, at no fixed hour, and a lying hour carries a tenth of a standing one's movement.
 * - Her day against her own days: the robust coefficient of variation (MAD × 1.4826 / median) of her daily
 *   totals. This is the spread that the health lines widen with.
 *
 * Hours and days within a day of one of her episodes in the simulator's ground truth are left out (ordinary
 * days only). The IceTag cows' days count where at least 80 % of their minutes are there.
 *
 *   npm run build && node dist/bench/realism.js [seed=31] [cows=120] [days=40]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { simulateVariedHerd } from '../collar-sim/index.js';
import type { Reading } from '../rules/reading.js';
import { ICETAG_DIR, ICETAG_FILES, loadIceTag } from './icetag.js';

const seed = Number(process.argv[2] ?? 31);
const cows = Number(process.argv[3] ?? 120);
const days = Number(process.argv[4] ?? 40);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Slot {
  sum: number;
  coveredS: number;
}

function bucket(readings: readonly Reading[], ms: number): Map<number, Slot> {
  const m = new Map<number, Slot>();
  for (const r of readings) {
    const k = Math.floor((r.ts - 1) / ms);
    const s = m.get(k) ?? { sum: 0, coveredS: 0 };
    s.sum += r.activity;
    s.coveredS += r.intervalS;
    m.set(k, s);
  }
  return m;
}

/** Each covered hour's rate against the median of the same clock hour's rates on her past 7 days (5 at least). */
function hourRatios(readings: readonly Reading[], ordinary: (t: number) => boolean, out: number[]): void {
  const hours = bucket(readings, HOUR);
  const rate = (h: number) => {
    const s = hours.get(h);
    return s && s.coveredS >= 0.8 * 3600 ? (s.sum * 3600) / s.coveredS : null;
  };
  for (const h of hours.keys()) {
    const v = rate(h);
    if (v === null || !ordinary(h * HOUR)) continue;
    const past: number[] = [];
    for (let k = 1; k <= 7; k++) {
      const p = rate(h - 24 * k);
      if (p !== null) past.push(p);
    }
    if (past.length < 5) continue;
    past.sort((a, b) => a - b);
    // +1: a lying hour's median can be 0 on a minute collar.
    out.push((v + 1) / (past[past.length >> 1]! + 1));
  }
}

/** Her robust day-to-day coefficient of variation over her ordinary, covered days; null with fewer than 10. */
function dayCv(readings: readonly Reading[], ordinary: (t: number) => boolean): number | null {
  const totals: number[] = [];
  for (const [d, s] of bucket(readings, DAY)) if (s.coveredS >= 0.8 * 86_400 && ordinary(d * DAY) && ordinary(d * DAY + DAY - 1)) totals.push((s.sum * 86_400) / s.coveredS);
  if (totals.length < 10) return null;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const med = median(totals);
  return (median(totals.map((x) => Math.abs(x - med))) * 1.4826) / med;
}

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!;
function line(name: string, ratios: number[], cvs: number[]): void {
  const share = (x: number) => `${((100 * ratios.filter((r) => r >= x).length) / ratios.length).toFixed(1)} %`;
  console.log(
    `${name.padEnd(34)} hours ${String(ratios.length).padStart(6)}: ratio p10 ${q(ratios, 0.1).toFixed(2)}, p50 ${q(ratios, 0.5).toFixed(2)}, p90 ${q(ratios, 0.9).toFixed(2)}; ` +
      `at 1.5x or more ${share(1.5)}, at 2x or more ${share(2)}   days: cows ${cvs.length}, CV median ${cvs.length ? q(cvs, 0.5).toFixed(3) : '-'}`,
  );
}

console.log('An hour against the same hour of her past 7 days, and her day against her days (ordinary hours and days only)');
{
  const startMs = Date.UTC(2026, 0, 5);
  const sim = simulateVariedHerd({ farmId: 'realism', cows, startMs, days, seed });
  const byCow = new Map<string, Reading[]>();
  for (const { reading } of sim.arrivals()) {
    const list = byCow.get(reading.collarId) ?? [];
    list.push(reading);
    byCow.set(reading.collarId, list);
  }
  const episodes = new Map<string, [number, number][]>();
  for (const e of sim.truth) {
    if (!e.cowId) continue;
    const list = episodes.get(e.cowId) ?? [];
    list.push([e.start - DAY, e.end + DAY]);
    episodes.set(e.cowId, list);
  }
  const ratios: number[] = [];
  const cvs: number[] = [];
  for (const c of sim.cows) {
    if (c.intervalS > 900) continue;
    const own = episodes.get(c.cowId) ?? [];
    const ordinary = (t: number) => !own.some(([a, b]) => t >= a && t <= b);
    hourRatios(byCow.get(c.cowId) ?? [], ordinary, ratios);
    const cv = dayCv(byCow.get(c.cowId) ?? [], ordinary);
    if (cv !== null) cvs.push(cv);
  }
  line(`simulator (seed ${seed}, collars <= 15 min)`, ratios, cvs);
}
if (existsSync(ICETAG_DIR)) {
  const ratios: number[] = [];
  const cvs: number[] = [];
  for (const f of ICETAG_FILES) {
    const readings = loadIceTag(join(ICETAG_DIR, f), f);
    hourRatios(readings, () => true, ratios);
    const cv = dayCv(readings, () => true);
    if (cv !== null) cvs.push(cv);
  }
  line('IceTag (real leg tags, 1-min)', ratios, cvs);
} else {
  console.log(`(no IceTag data at ${ICETAG_DIR}: the real cows' line is left out)`);
}
