import type { Metric } from './history.js';
import type { Normals } from './normal.js';
import type { RuleSet } from './ruleset.js';

/**
 * Her recent hours against their normal, as exponentially weighted sums over three horizons: a fast one
 * (half-life of hours) that sees an illness set in, a slow one (half-life of a day) that sees a mild drop
 * sustained, and a quick one (a shorter half-life) read only where two signals must agree (health.ts's
 * both-down path), which can afford its noise. Each completed hour is folded in once, in O(1): what the hour
 * was (`obs`) and what her normal for that clock hour said it would be (`norm`), both weighted alike, so
 * their ratio is a weighted window ratio in which the busy hours of her day count for more than the quiet
 * ones — as in a window sum.
 *
 * Layout of the state (plain numbers, for the snapshot): for metric m (0 activity, 1 rumination) and horizon
 * k (0 fast, 1 slow), [obs, norm] at 4·k + 2·m; hours folded per metric at 8 + m; at RISE, the last hour her
 * fast activity trend stood well above normal (a heat, the restlessness before a calving); then the both-down
 * streak, the rises health.ts has told from the herd's; the quick horizon's [obs, norm] at QUICK + 2·m, and
 * its own both-down streak.
 */
export type Trend = number[];

/** 0 fast, 1 slow, 2 quick. */
export type Horizon = 0 | 1 | 2;

export const RISE = 10;
/** Consecutive completed hours her own trend has shown both signals down (a quiet spell is not an illness). */
export const BOTH_STREAK = 11;
export const STREAK_HOUR = 12;
/** The last rise found to be hers, not her herd's busy hours (health.ts), and the last rise looked at. */
export const OWN_RISE = 13;
export const RISE_CHECKED = 14;
export const QUICK = 15;
export const QUICK_STREAK = 19;
export const TREND_SLOTS = 20;
export const newTrend = (): Trend => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -Infinity, 0, -Infinity, -Infinity, -Infinity, 0, 0, 0, 0, 0];

/**
 * One hour counts at most this far from her normal either way: an hour or two of a collar knocked about or
 * of her lying still says little about an illness, which shows as many hours each somewhat down.
 */
export const CLIP_LOW = 0.5;
export const CLIP_HIGH = 2;
/** An hour as her trend takes it: `observed`, at least CLIP_LOW and at most CLIP_HIGH times its normal. */
export const clipHour = (observed: number, norm: number) => Math.min(CLIP_HIGH * norm, Math.max(CLIP_LOW * norm, observed));

const decays = new Map<number, number>();
/** The weight of the newest hour for a half-life (remembered: a handful of half-lives, asked every hour). */
export const decay = (halfLifeHours: number) => {
  let d = decays.get(halfLifeHours);
  if (d === undefined) decays.set(halfLifeHours, (d = 1 - 2 ** (-1 / halfLifeHours)));
  return d;
};

/**
 * Hour `u`'s weight in her trend over a half-life whose newest hour is `newest`: her normal for it (a busy
 * hour counts for more than a quiet one, as in a window sum) and less the longer ago — for weighing the
 * herd's hours as her trend weighs hers (FarmDetector's herdRatio).
 */
export function trendWeights(normal: Normals, metric: Metric, halfLifeHours: number, newest: number): (u: number) => number {
  const keep = 1 - decay(halfLifeHours);
  return (u) => normal.hourNormal(metric, u) * keep ** (newest - u);
}

export function foldHour(trend: Trend, cfg: RuleSet['health'], metric: 0 | 1, observed: number, norm: number): void {
  const obs = clipHour(observed, norm);
  const lf = decay(cfg.fastHalfLifeHours);
  const ls = decay(cfg.slowHalfLifeHours);
  const lq = decay(cfg.quickHalfLifeHours);
  const m = 2 * metric;
  trend[m] = trend[m]! + lf * (obs - trend[m]!);
  trend[m + 1] = trend[m + 1]! + lf * (norm - trend[m + 1]!);
  trend[4 + m] = trend[4 + m]! + ls * (obs - trend[4 + m]!);
  trend[5 + m] = trend[5 + m]! + ls * (norm - trend[5 + m]!);
  trend[QUICK + m] = trend[QUICK + m]! + lq * (obs - trend[QUICK + m]!);
  trend[QUICK + m + 1] = trend[QUICK + m + 1]! + lq * (norm - trend[QUICK + m + 1]!);
  trend[8 + metric] = Math.min(1e6, trend[8 + metric]! + 1);
}

/** Her weighted ratio to normal over a horizon; NaN until `minHours` hours of the metric are folded in. */
export function trendRatio(trend: Trend, metric: 0 | 1, horizon: Horizon, minHours: number): number {
  if (trend[8 + metric]! < minHours) return NaN;
  const at = horizon === 2 ? QUICK + 2 * metric : 4 * horizon + 2 * metric;
  return trend[at + 1]! > 0 ? trend[at]! / trend[at + 1]! : NaN;
}
