import type { RuleSet } from './ruleset.js';

/**
 * A cow's normal for a stretch of the day is what she did in the same clock hours on each of her previous
 * days: the median of those days is her baseline and their MAD her spread. Comparing whole windows, day
 * against day, respects the daily rhythm (3 a.m. is compared with 3 a.m.), absorbs milking that runs an
 * hour early or late inside the window, and sees that busy hours come in runs; one wild day (a collar
 * knock, a day of heat) barely moves a median.
 */
export interface RobustStats {
  median: number;
  spread: number;
  days: number;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export const floorHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;

export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const mid = n >> 1;
  return n % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Scales a MAD to a standard deviation for normal data. */
const MAD_TO_SD = 1.4826;

/** Median and floored MAD of past days' values, or null while fewer than `warmupDays` are known. */
export function robustStats(values: number[], cfg: RuleSet['baseline']): RobustStats | null {
  if (values.length < cfg.warmupDays) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const med = median(sorted);
  const mad = median(sorted.map((v) => Math.abs(v - med)).sort((a, b) => a - b));
  const spread = Math.max(mad * MAD_TO_SD, med * cfg.minSpreadRatio, cfg.minSpreadAbs);
  return { median: med, spread, days: values.length };
}
