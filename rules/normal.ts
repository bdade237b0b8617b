import { HERD_HOUR_S, HOUR_MS, madSpread, medianInPlace, robustStats, type RobustStats } from './baseline.js';
import { newSum, type CowHistory, type HourMetric, type Metric, type Sum } from './history.js';
import { utcDays, type DayShift } from './localday.js';
import type { RuleSet } from './ruleset.js';
import { clipHour, decay } from './trend.js';

/**
 * Her normal: what a cow did in the same clock hours of her previous days, read from her history. Every
 * rule asks its questions here — the normal rate of one hour, of a stretch of hours, a window against the
 * same window on past days — so the statistics are written once and run without allocating (they run
 * several times for every hour of every cow).
 *
 * Hours are hour numbers since the epoch (`ms / HOUR_MS`); a window [first, last] is inclusive.
 */
export interface WindowStats {
  metric: Metric;
  /** Observed total over the covered part of the window, and what her normal rate predicts for it. */
  value: number;
  expected: number;
  ratio: number;
  z: number;
  coverage: number;
  comparedDays: number;
  /** Hours of the window at or above `hotRatio` times her normal for that clock hour. */
  hotHours: number;
  /** How much the window differs from day to day on her past days (its spread), as a share of her normal for it. */
  spread: number;
  /** Start and end of the window, epoch ms. */
  from: number;
  to: number;
}

export interface WindowOptions {
  /** Every hour (now and on past days alike) counts at most this many times her normal for its clock hour. */
  capRatio?: number;
  /** Count the hours at or above this many times their normal... */
  hotRatio?: number;
  /** ...or this many, in an hour the herd was busy together (`herd`). */
  busyHotRatio?: number;
  /** Her normal for any hour is at least this share of her mean hourly rate over the day. */
  floorShare?: number;
  /**
   * The herd: its busy hours (`busyHotRatio`), and, with `capRatio`, its typical ratio to normal in an hour
   * (over 1), taken out of hers: an hour most of the herd spends at twice its normal (a milking moved, feed
   * pushed up late) is an ordinary hour for a cow at twice hers.
   */
  herd?: { busyHour(hour: number): boolean; herdRatio(metric: 'act', first: number, last: number): number } | undefined;
}

const NO_OPTIONS: WindowOptions = Object.freeze({});

/**
 * A window's figures to be filled in (Normals.window): one a caller keeps and passes as `into` is filled in
 * place, for a window asked every hour of every cow whose figures do not outlive the call (they were a
 * third of what the rules core allocated).
 */
export function newWindowStats(metric: Metric): WindowStats {
  return { metric, value: 0, expected: 0, ratio: 0, z: 0, coverage: 0, comparedDays: 0, hotHours: 0, spread: 0, from: 0, to: 0 };
}

/** Scratch space shared by every cow (judging is synchronous, one cow at a time): nothing per cow. */
const rates = new Float64Array(64);
/** levelBefore's own: hourNormal, which it calls, fills `rates`. */
const levels = new Float64Array(64);
const norms = new Float64Array(64);
/** The herd's part of each hour of a window now (WindowOptions.herd): at least 1. Read only where it was filled in. */
const herdScale = new Float64Array(64);
const scratchSum = newSum();

/** The most dayLevel says: more than that is not skew but days unlike each other. */
const MAX_DAY_LEVEL = 1.15;
/** dayLevel's scratch (judging is synchronous). */
const dayNorms = new Float64Array(25);
const dayRatios = new Float64Array(64);
/** The first hour of each past day dayLevel and trendSpread read, and trendSpread's readings of her trend. */
const dayFirsts = new Float64Array(64);
const trendReadings = new Float64Array(64 * 25);
/** A normal distribution's median less its lower quartile, in standard deviations. */
const QUARTILE_TO_SD = 0.6745;

/**
 * Hour normals remembered per cow: the last few hours', each asked for by several rules as it completes (a
 * power of two: an hour's place is a mask of it).
 */
const CACHED_HOURS = 8;
const LEVEL_AT = 3 * CACHED_HOURS;
/** stretchNormal's remembered stretch per metric: [first, last, pastVersion]. */
const STRETCH_AT = LEVEL_AT + 4;
/** hourSpread's remembered [farm day, value]. */
const SPREAD_AT = STRETCH_AT + 6;
/** trendSpread's remembered [farm day, activity's, farm day, rumination's]. */
const TREND_SPREAD_AT = SPREAD_AT + 2;
const CACHE_SLOTS = TREND_SPREAD_AT + 4;
/** hourSpread's scratch (judging is synchronous). */
const hourSpreads = new Float64Array(32);

export class Normals {
  private readonly utc: boolean;
  /**
   * [hour, activity normal, rumination normal] for the last CACHED_HOURS hours, then dayLevel's [day,
   * activity level, day, rumination level], then stretchNormal's keys; valid for one pastVersion (one array,
   * and no object per remembered value: memory per cow is tight).
   */
  private cache: number[] | null = null;
  private cacheVersion = -1;
  /** One remembered stretch normal per metric: the 24-hour normal is asked for by several rules per hour. */
  private stretchAct: RobustStats | null = null;
  private stretchRum: RobustStats | null = null;

  constructor(
    private readonly h: CowHistory,
    private readonly cfg: RuleSet['baseline'],
    private readonly dayShift: DayShift = utcDays,
  ) {
    this.utc = dayShift === utcDays;
  }

  /** How many hours back `k` days of the farm's clock are from `hour` (24·k, give or take daylight saving). */
  shift(hour: number, k: number): number {
    return this.utc ? 24 * k : Math.round(this.dayShift(hour * HOUR_MS, k) / HOUR_MS);
  }

  /** The hour the farm's day holding `hour` began (midnight on its clock). */
  dayStart(hour: number): number {
    const local = hour + (this.dayShift.offset ? Math.round(this.dayShift.offset(hour * HOUR_MS) / HOUR_MS) : 0);
    return hour - (((local % 24) + 24) % 24);
  }

  /** The cache, emptied when her past days have changed. */
  private cached(): number[] {
    const h = this.h;
    if (this.cacheVersion !== h.pastVersion || !this.cache) {
      // Emptied in place: a late reading moves pastVersion often on a collar behind a backlog.
      if (this.cache) this.cache.fill(NaN);
      else this.cache = new Array<number>(CACHE_SLOTS).fill(NaN);
      this.cacheVersion = h.pastVersion;
    }
    return this.cache;
  }

  /** Median rate of one clock hour over her past days; 0 while fewer than warm-up days are known. */
  hourNormal(metric: HourMetric, hour: number): number {
    // Lying's is asked once an hour (for her trend and the herd at once): not worth a place in the cache.
    if (metric === 'lie') return this.computeHourNormal(metric, hour);
    // Her past days change only when a late reading lands in them: until then an hour's normal stays put.
    const cache = this.cached();
    const at = 3 * (hour & (CACHED_HOURS - 1));
    const slot = metric === 'act' ? 1 : 2;
    if (cache[at] !== hour) {
      cache[at] = hour;
      cache[at + 1] = NaN;
      cache[at + 2] = NaN;
    }
    let v = cache[at + slot]!;
    if (v !== v) cache[at + slot] = v = this.computeHourNormal(metric, hour);
    return v;
  }

  private computeHourNormal(metric: HourMetric, hour: number): number {
    const n = this.pastHourRates(metric, hour);
    return n >= this.cfg.warmupDays ? medianInPlace(rates, n) : 0;
  }

  /**
   * Her rates at `hour`'s clock hour on each of her past days (`baseline.days` of them, those covered enough),
   * into `rates`; how many. Only hours after `oldest`.
   */
  private pastHourRates(metric: HourMetric, hour: number, oldest = -Infinity): number {
    const { cfg, h } = this;
    const need = cfg.minDayCoverage * 3600;
    if (this.utc) {
      const days = oldest === -Infinity ? cfg.days : Math.min(cfg.days, Math.floor((hour - oldest - 1) / 24));
      return h.pastRates(metric, hour, 24, days, need, rates);
    }
    let n = 0;
    for (let k = 1; k <= cfg.days; k++) {
      const past = hour - this.shift(hour, k);
      if (past <= oldest) break;
      const r = h.rate(metric, past, need);
      if (r === r) rates[n++] = r;
    }
    return n;
  }

  /**
   * How often she is hot at this hour of the day on an ordinary day, for the herd's line (farm.ts): the share
   * of her past days (the same clock hour, as hourNormal takes them) on which her activity was `hotRatio`
   * times her normal or more, her normal at least `floor`; NaN while fewer than warm-up days are known. Each
   * past day is judged against the median of the others, as today's hour is against a median it had no part
   * in (so two days at least): against the median of all of them, a day's own rate holds the median up, and on cows whose hours
   * wander the share came out two thirds of what their days are (6 % against 10 %).
   */
  hotShare(hour: number, hotRatio: number, floor: number): number {
    const n = this.pastHourRates('act', hour);
    // One past day has no others to be judged against.
    if (n < Math.max(2, this.cfg.warmupDays)) return NaN;
    medianInPlace(rates, n);
    // Sorted: the median of the others is one of the two middle values of the whole (or their mean).
    let hot = 0;
    for (let i = 0; i < n; i++) if (rates[i]! >= hotRatio * Math.max(medianWithout(rates, n, i), floor)) hot++;
    return hot / n;
  }

  /**
   * How much her hours differ from day to day: over the clock hours of the day before the farm day `hour` is
   * in, the median of each hour's spread (MAD, scaled) over its median on her past days; NaN while fewer
   * than 12 hours have 4 such days (or `baseline.days`, if fewer). The simulator's steady cows read 0.09-0.14, its cows as noisy as real ones
   * 0.65-0.93, the three IceTag cows 0.5-1.1: a real cow lies down at no fixed hour. Once a farm day, and
   * asked only where a short window or an early word would say a heat.
   */
  hourSpread(hour: number): number {
    const day = this.dayStart(hour);
    const cache = this.cached();
    if (cache[SPREAD_AT] === day) return cache[SPREAD_AT + 1]!;
    // Only hours the ring still holds at the farm day's end: so the value is the day's, whenever in the day
    // it is first asked (after the autumn clock change, 14 farm days back is 337 hours, and its oldest hour
    // leaves the ring during the day).
    const oldest = day + 24 - this.h.hours;
    const least = Math.min(4, this.cfg.days);
    let m = 0;
    for (let t = day - 24; t < day; t++) {
      const n = this.pastHourRates('act', t, oldest);
      if (n < least) continue;
      const med = medianInPlace(rates, n);
      if (!(med > 0)) continue;
      hourSpreads[m++] = madSpread(rates, n, med) / med;
    }
    const v = m >= 12 ? medianInPlace(hourSpreads, m) : NaN;
    cache[SPREAD_AT] = day;
    cache[SPREAD_AT + 1] = v;
    return v;
  }

  /**
   * Her normal rate per hour (median and spread over past days) for the hours [first, last] of the day. A
   * whole day's stretch (24 hours) holds every clock hour once, so its normal is taken from her previous
   * whole days — fixed blocks, the same for every window that starts that day — and computed once a day
   * instead of once an hour; a shorter stretch is compared with the same clock hours on her previous days.
   */
  stretchNormal(metric: Metric, first: number, last: number): RobustStats | null {
    const day = last - first + 1 === 24;
    // The farm's days before the one the window starts in: none overlaps the window.
    const from = day ? this.dayStart(first) : first;
    const cache = this.cached();
    const at = STRETCH_AT + (metric === 'act' ? 0 : 3);
    const key = day ? -1 : last;
    if (cache[at] === from && cache[at + 1] === key && cache[at + 2] === this.h.pastVersion) {
      return metric === 'act' ? this.stretchAct : this.stretchRum;
    }
    const { cfg, h } = this;
    const s = scratchSum;
    const hours = last - first + 1;
    let n = 0;
    let after = 0;
    for (let k = 1; k <= cfg.days; k++) {
      const shift = this.shift(from, k);
      // A farm day is 23 or 25 hours when the clocks change: it ends where the next one begins.
      const len = day ? shift - after : hours;
      after = shift;
      if (len <= 0) continue; // a day a zone skipped (Samoa, 30 Dec 2011)
      h.sum(metric, from - shift, from - shift + len - 1, s);
      if (s.coveredS >= cfg.minDayCoverage * len * 3600) rates[n++] = (s.value * 3600) / s.coveredS;
    }
    const stats = robustStats(rates, n, cfg);
    if (metric === 'act') this.stretchAct = stats;
    else this.stretchRum = stats;
    cache[at] = from;
    cache[at + 1] = key;
    cache[at + 2] = h.pastVersion;
    return stats;
  }

  /**
   * What her trend (trend.ts) reads on her ordinary days, at least 1 and at most MAX_DAY_LEVEL: for each of
   * the past days her normals for yesterday's clock hours are taken from, those hours against the normals,
   * each clipped and weighed as her trend clips and weighs an hour; the median of those days; 1 while
   * warming up. A cow's hours are skewed — a walk to the brush or the pasture is an hour at two or three
   * times her normal, on no fixed hour — so each hour's normal, a median, does not see them while her day
   * does, and her trend reads over 1 on an ordinary day. Once a farm day. Yesterday itself is left out:
   * a reading landing late in it does not move pastVersion, and the level would depend on arrival order.
   * So is a day of another length than yesterday (a clock change): its hours are other clock hours.
   */
  dayLevel(metric: 'act' | 'rum', end: number): number {
    const d = this.dayStart(end - 1);
    const cache = this.cached();
    const at = LEVEL_AT + (metric === 'act' ? 0 : 2);
    if (cache[at] === d) return cache[at + 1]!;
    const h = this.h;
    const { cfg } = this;
    const { hours, days } = this.yesterdaysHours(metric, d);
    let n = 0;
    for (let k = 0; k < days; k++) {
      const first = dayFirsts[k]!;
      // Her hours as closeHour folds them into her trend: at least half of each covered, clipped to its normal.
      let obs = 0;
      let norm = 0;
      let known = 0;
      for (let i = 0; i < hours; i++) {
        const nh = dayNorms[i]!;
        const r = h.rate(metric, first + i, HERD_HOUR_S);
        if (!(nh > 0) || r !== r) continue;
        obs += clipHour(r, nh);
        norm += nh;
        known++;
      }
      if (known >= cfg.minDayCoverage * hours && norm > 0) dayRatios[n++] = obs / norm;
    }
    const level = n >= cfg.warmupDays ? Math.max(1, Math.min(MAX_DAY_LEVEL, medianInPlace(dayRatios, n))) : 1;
    cache[at] = d;
    cache[at + 1] = level;
    return level;
  }

  /**
   * How far her trend (trend.ts, over `halfLifeHours`) strays below its usual reading on her ordinary days, as
   * a share of it: her past days' hours (those dayLevel reads, oldest first) folded one by one as her trend
   * folds them, against her normals for their clock hours, and the trend's reading after each, once two
   * half-lives are in; the spread of its lower half (the median less the lower quartile, scaled as a standard
   * deviation) over the median. NaN with fewer than `minDays` days' readings. Once a farm day.
   *
   * A day's total says how much her days differ from 14 values, and their MAD read cows with real cows' 13 %
   * at 2-9 %; this reads some 300 hours of the very figure her lines are drawn on, in which a cow whose hours
   * wander (a real cow lies down in bouts at no fixed hour) cannot read steady by chance.
   */
  trendSpread(metric: 'act' | 'rum', end: number, halfLifeHours: number, minDays: number): number {
    const d = this.dayStart(end - 1);
    const cache = this.cached();
    const at = TREND_SPREAD_AT + (metric === 'act' ? 0 : 2);
    if (cache[at] === d) return cache[at + 1]!;
    const h = this.h;
    const { hours, days } = this.yesterdaysHours(metric, d);
    const lf = decay(halfLifeHours);
    const warm = 2 * halfLifeHours;
    // Only hours the ring still holds at the farm day's end (as hourSpread): so the value is the day's,
    // whenever in the day it is first asked.
    const oldest = d + 24 - h.hours;
    let obs = 0;
    let norm = 0;
    let folded = 0;
    let n = 0;
    let next = NaN;
    for (let k = days - 1; k >= 0; k--) {
      const first = dayFirsts[k]!;
      // A day missing from the run (too short, or another length) breaks it: its hours start afresh.
      if (first !== next) folded = obs = norm = 0;
      next = first + hours;
      for (let i = 0; i < hours; i++) {
        const nh = dayNorms[i]!;
        const r = first + i > oldest ? h.rate(metric, first + i, HERD_HOUR_S) : NaN;
        if (!(nh > 0) || r !== r) continue;
        // As foldHour folds an hour into her trend.
        obs += lf * (clipHour(r, nh) - obs);
        norm += lf * (nh - norm);
        if (++folded >= warm && n < trendReadings.length) trendReadings[n++] = obs / norm;
      }
    }
    let v = NaN;
    if (n >= minDays * hours - warm) {
      const sorted = trendReadings.subarray(0, n).sort();
      const median = sorted[n >> 1]!;
      v = median > 0 ? (median - sorted[n >> 2]!) / QUARTILE_TO_SD / median : NaN;
    }
    cache[at] = d;
    cache[at + 1] = v;
    return v;
  }

  /**
   * The past days dayLevel and trendSpread read, for the farm day starting at hour `d`: her normals for
   * yesterday's clock hours into `dayNorms`, and the first hour of each of the `baseline.days` days before
   * yesterday of yesterday's length into `dayFirsts`, newest first (a day of another length, across a clock
   * change, holds other clock hours).
   */
  private yesterdaysHours(metric: 'act' | 'rum', d: number): { hours: number; days: number } {
    const from = d - this.shift(d, 1);
    const hours = Math.min(d - from, dayNorms.length);
    // Not through the cache of recent hours: yesterday's 24 would push out the ones the rules ask for next.
    for (let i = 0; i < hours; i++) dayNorms[i] = this.computeHourNormal(metric, from + i);
    let days = 0;
    let next = from;
    for (let k = 1; k <= this.cfg.days; k++) {
      const first = from - this.shift(from, k);
      const len = next - first;
      next = first;
      if (len === hours) dayFirsts[days++] = first;
    }
    return { hours, days };
  }

  /**
   * The `hours` completed hours before `end` (an hour number) against the same hours on her previous days;
   * null while warming up or with no data in the window.
   */
  window(metric: Metric, hours: number, end: number, opts: WindowOptions = NO_OPTIONS, into?: WindowStats): WindowStats | null {
    const { cfg, h } = this;
    const s = scratchSum;
    const last = end - 1;
    const from = end - hours;
    // Hours she usually sleeps through are judged against at least a share of her mean rate over the day, so a
    // restless night (from a handful of counts to a few hundred) is not read as a several-fold rise.
    let floor = 0;
    if (opts.floorShare) {
      const day = this.stretchNormal(metric, end - 24, last);
      if (!day) return null;
      floor = opts.floorShare * day.median;
    }
    const perHour = opts.capRatio !== undefined || opts.hotRatio !== undefined;
    if (perHour) for (let i = 0; i < hours; i++) norms[i] = Math.max(this.hourNormal(metric, from + i), floor);
    const cap = opts.capRatio;
    // The herd's typical ratio is to each cow's plain normal: against her floored one (a night hour) it is the
    // herd's rate over the floor, which the floor has already taken in where the herd's rate is under it.
    const scaled = cap !== undefined && metric === 'act' ? opts.herd : undefined;
    if (scaled) for (let i = 0; i < hours; i++) {
      const t = from + i;
      herdScale[i] = Math.max(1, (scaled.herdRatio('act', t, t) * this.hourNormal(metric, t)) / norms[i]!);
    }
    const now = cap === undefined ? h.sum(metric, from, last, s) : this.cappedSum(metric, from, hours, 0, cap, s, scaled !== undefined);
    const nowValue = now.value;
    const nowCov = now.coveredS;
    if (nowCov === 0) return null;
    let stats: RobustStats | null;
    if (cap === undefined) {
      stats = this.stretchNormal(metric, from, last);
    } else {
      const need = cfg.minDayCoverage * hours * 3600;
      let n = 0;
      for (let k = 1; k <= cfg.days; k++) {
        const past = this.cappedSum(metric, from, hours, this.shift(from, k), cap, s);
        if (past.coveredS >= need) rates[n++] = (past.value * 3600) / past.coveredS;
      }
      stats = robustStats(rates, n, cfg);
    }
    if (!stats || stats.median <= 0) return null;
    const median = Math.max(stats.median, floor);
    let hot = 0;
    if (perHour && opts.hotRatio !== undefined) {
      for (let i = 0; i < hours; i++) {
        const t = from + i;
        const cov = h.covered(metric, t);
        if (cov === 0) continue;
        const need = opts.herd?.busyHour(t) ? Math.max(opts.hotRatio, opts.busyHotRatio ?? Infinity) : opts.hotRatio;
        if ((h.value(metric, t) * 3600) / cov >= need * norms[i]! * (scaled ? herdScale[i]! : 1)) hot++;
      }
    }
    const rate = (nowValue * 3600) / nowCov;
    const w = into ?? newWindowStats(metric);
    w.metric = metric;
    w.value = nowValue;
    w.expected = (median * nowCov) / 3600;
    w.ratio = rate / median;
    w.z = (rate - median) / stats.spread;
    w.coverage = Math.min(1, nowCov / (hours * 3600));
    w.comparedDays = stats.days;
    w.hotHours = hot;
    w.spread = stats.spread / median;
    w.from = from * HOUR_MS;
    w.to = end * HOUR_MS;
    return w;
  }

  /**
   * The window's hours `shift` hours back, each counted at most `cap` times its clock hour's normal, into
   * `out` as CowHistory.sum does.
   */
  private cappedSum(metric: Metric, from: number, hours: number, shift: number, cap: number, out: Sum, scaled = false): Sum {
    const h = this.h;
    let value = 0;
    let cov = 0;
    for (let i = 0; i < hours; i++) {
      const t = from + i - shift;
      const c = h.covered(metric, t);
      if (c === 0) continue;
      value += Math.min(scaled ? h.value(metric, t) / herdScale[i]! : h.value(metric, t), (cap * norms[i]! * c) / 3600);
      cov += c;
    }
    out.value = value;
    out.coveredS = cov;
    return out;
  }

  /**
   * The level she held over the `hours` hours before `from` (an hour number): the `share`-quantile of each
   * hour's rate over its clock hour's normal, so "three hours in four at this many times her normal or more"
   * for share 0.25. An hour counts when half of it is known; NaN with fewer than three quarters of the hours
   * counting, or while warming up.
   */
  levelBefore(metric: Metric, from: number, hours: number, share: number): number {
    let n = 0;
    for (let t = from - Math.min(hours, levels.length); t < from; t++) {
      const rate = this.h.rate(metric, t, 0.5 * 3600);
      const normal = rate === rate ? this.hourNormal(metric, t) : 0;
      if (normal > 0) levels[n++] = rate / normal;
    }
    if (n * 4 < hours * 3) return NaN;
    const sorted = levels.subarray(0, n).sort();
    return sorted[Math.floor(share * n)]!;
  }

  /**
   * Onset: walk back from `end` over the hours that were still off her normal in the same direction. An hour
   * with no data yet (a gap, or a backlog still being filled in) is stepped over, not taken as her normal:
   * the onset comes from the data that shows the change, whatever order it arrived in. Returns an hour number.
   */
  onset(metric: Metric, end: number, offNormal: (ratio: number) => boolean, lookBackHours: number): number {
    let since = end;
    for (let t = end - 1, n = 0; n < lookBackHours; t--, n++) {
      const rate = this.h.rate(metric, t);
      if (rate !== rate) continue;
      const normal = this.hourNormal(metric, t);
      if (normal <= 0 || !offNormal(rate / normal)) break;
      since = t;
    }
    return since;
  }
}

/** The median of the `n` sorted values without the one at `skip`. */
function medianWithout(sorted: Float64Array, n: number, skip: number): number {
  const m = n - 1;
  const at = (j: number) => sorted[j < skip ? j : j + 1]!;
  return m % 2 ? at(m >> 1) : (at((m >> 1) - 1) + at(m >> 1)) / 2;
}
