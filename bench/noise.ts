/**
 * How noisy a cow's activity is, as bench/realism.ts prints it and test/collar-sim-varied.test.ts holds the
 * simulator's real-noise cows to: her hours against the same hour of her past days, and her days against
 * her days.
 */
import { MAD_TO_SD } from '../rules/baseline.js';
import type { Reading } from '../rules/reading.js';

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
export function hourRatios(readings: readonly Reading[], ordinary: (t: number) => boolean, out: number[]): void {
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
export function dayCv(readings: readonly Reading[], ordinary: (t: number) => boolean): number | null {
  const totals: number[] = [];
  for (const [d, s] of bucket(readings, DAY)) if (s.coveredS >= 0.8 * 86_400 && ordinary(d * DAY) && ordinary(d * DAY + DAY - 1)) totals.push((s.sum * 86_400) / s.coveredS);
  if (totals.length < 10) return null;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const med = median(totals);
  return (median(totals.map((x) => Math.abs(x - med))) * MAD_TO_SD) / med;
}

/** The p-quantile of xs (the value at floor(p·(n−1)) of them sorted). */
export const quantile = (xs: readonly number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!;

/**
 * A simulated herd's ordinary hours and days, as hourRatios and dayCv read them: her collar's readings when
 * it reports every `maxIntervalS` or more often, leaving out a day either side of each of her episodes.
 */
export function herdNoise(
  readings: Iterable<Reading>,
  cows: readonly { cowId: string; intervalS: number }[],
  episodes: readonly { cowId?: string | null; start: number; end: number }[],
  maxIntervalS = 900,
): { ratios: number[]; cvs: number[] } {
  const byCow = new Map<string, Reading[]>();
  for (const r of readings) {
    const list = byCow.get(r.collarId) ?? [];
    list.push(r);
    byCow.set(r.collarId, list);
  }
  const ratios: number[] = [];
  const cvs: number[] = [];
  for (const c of cows) {
    if (c.intervalS > maxIntervalS) continue;
    const own = episodes.filter((e) => e.cowId === c.cowId);
    const ordinary = (t: number) => !own.some((e) => t >= e.start - DAY && t <= e.end + DAY);
    const rs = byCow.get(c.cowId) ?? [];
    hourRatios(rs, ordinary, ratios);
    const cv = dayCv(rs, ordinary);
    if (cv !== null) cvs.push(cv);
  }
  return { ratios, cvs };
}
