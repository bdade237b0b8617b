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
  /** MAD scaled to a standard deviation, floored (minSpreadRatio, minSpreadAbs) against a too-steady cow. */
  spread: number;
  /** The same before the floors: how much her days truly differ. */
  rawSpread: number;
  days: number;
}

export const HOUR_MS = 3_600_000;
/** Seconds of an hour a cow's readings must cover for it to count as hers to the herd (and for her rises). */
export const HERD_HOUR_S = 0.5 * 3600;
export const DAY_MS = 24 * HOUR_MS;

/** Median of the first `n` values, sorting them in place (insertion sort: n is a couple of weeks of days). */
export function medianInPlace(xs: Float64Array | number[], n: number): number {
  if (n === 0) return NaN;
  for (let i = 1; i < n; i++) {
    const v = xs[i]!;
    let j = i - 1;
    while (j >= 0 && xs[j]! > v) {
      xs[j + 1] = xs[j]!;
      j--;
    }
    xs[j + 1] = v;
  }
  const mid = n >> 1;
  return n % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/** Scales a MAD to a standard deviation for normal data. */
export const MAD_TO_SD = 1.4826;
const deviations = new Float64Array(128);

/**
 * Median and floored MAD of the first `n` past days' values (sorted in place), or null while fewer than
 * `warmupDays` are known.
 */
export function robustStats(values: Float64Array | number[], n: number, cfg: RuleSet['baseline']): RobustStats | null {
  if (n < cfg.warmupDays) return null;
  const med = medianInPlace(values, n);
  const rawSpread = madSpread(values, n, med);
  const spread = Math.max(rawSpread, med * cfg.minSpreadRatio, cfg.minSpreadAbs);
  return { median: med, spread, rawSpread, days: n };
}

/** The MAD of the first `n` values about their median `med`, scaled to a standard deviation (the values are left as they are). */
export function madSpread(values: Float64Array | number[], n: number, med: number): number {
  for (let i = 0; i < n; i++) deviations[i] = Math.abs(values[i]! - med);
  return medianInPlace(deviations, n) * MAD_TO_SD;
}
