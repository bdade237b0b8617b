import {
  emptyAlertBook,
  raise,
  resolve,
  type AlertBookState,
  type AlertEvent,
  type Evidence,
  type Severity,
  type Subject,
} from './alerts.js';
import { DAY_MS, floorHour, HOUR_MS, median, robustStats } from './baseline.js';
import { localDays, utcDays, type DayShift } from './localday.js';
import type { Reading } from './reading.js';
import type { RuleSet } from './ruleset.js';

/**
 * Event-time detection. Readings are spread over hour slots by the interval they summarise, and after every
 * reading the rules judge the trailing window that ends at the cow's newest reading against the same clock
 * window on her previous days. Nothing here reads a clock: the only wall time that enters is passed in by
 * the caller (arrival time, and `now` for silent collars).
 */

type Metric = 'activity' | 'rumination';

export interface Slot {
  start: number;
  act: number;
  /** Seconds of the hour covered by readings that carried activity / rumination. */
  actCov: number;
  rum: number;
  rumCov: number;
}

export interface CowSnapshot {
  v: typeof SNAPSHOT_VERSION;
  subject: Subject;
  lastTs: number | null;
  lastArrival: number | null;
  /** Hour slots, oldest first: the cow's recent history, which is also her baseline. */
  slots: Slot[];
  alerts: AlertBookState;
  /** The run of identical newest readings (activity, rumination), to tell a stuck or flat collar. */
  run: SignalRun | null;
  /** Onset of the last heat raised for her: how long her cycle is. */
  lastHeat: number | null;
}

export interface SignalRun {
  act: number;
  rum: number | null;
  /** Start of the first reading's interval and end of the last one, event time. */
  from: number;
  last: number;
  /** Seconds the run's readings cover: a gap in delivery neither ends a run nor counts towards it. */
  coveredS: number;
}

/** Exactly zero on everything the collar reports. */
const isFlat = (run: SignalRun) => run.act === 0 && (run.rum ?? 0) === 0;

export const SNAPSHOT_VERSION = 3;

/**
 * What a cow's rules may ask of her herd: whether an hour was a herd-wide one (many cows at once well above
 * their own normal: a pasture move, feed pushed up late, a thunderstorm), and where she tells her own.
 */
export interface HerdView {
  busyHour(hourStart: number): boolean;
  report(hourStart: number, hot: boolean): void;
}

export interface ObserveResult {
  events: AlertEvent[];
  /** False when the reading was too late to take part in detection (it is still worth storing). */
  judged: boolean;
  /** The reading is stamped implausibly far in the future: kept out of her history and clock. */
  future?: boolean;
}

/**
 * How far past both its arrival and the cow's newest reading a reading may be stamped before it counts
 * as "in the future". A gateway whose clock runs behind (no RTC, NTP not synced) still sees its collars
 * step forward 15 minutes at a time, and a collar back from days out of reach arrives on time; only a clock
 * gone wrong (a reset collar stamping 2030) jumps this far, and must not drag her clock with it.
 */
export const FUTURE_JUMP_MS = DAY_MS;

interface WindowStats {
  metric: Metric;
  /** Observed total over the covered part of the window, and what her normal rate predicts for it. */
  value: number;
  expected: number;
  ratio: number;
  z: number;
  coverage: number;
  comparedDays: number;
  /** Hours of the window at or above `heat.hotRatio` times her normal for that clock hour (heat only). */
  hotHours: number;
  from: number;
  to: number;
}

const medianOf = (xs: number[]) => median(xs.sort((a, b) => a - b));
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const iso = (ms: number) => new Date(ms).toISOString();

export class CowDetector {
  readonly state: CowSnapshot;
  private readonly byStart = new Map<number, Slot>();

  constructor(
    private readonly rules: RuleSet,
    init: Subject | CowSnapshot,
    /** How far back k days of the farm's clock are (daylight saving); UTC days by default. */
    private readonly dayShift: DayShift = utcDays,
    private readonly herd: HerdView | null = null,
  ) {
    this.state =
      'v' in init
        ? init
        : { v: SNAPSHOT_VERSION, subject: init, lastTs: null, lastArrival: null, slots: [], alerts: emptyAlertBook(), run: null, lastHeat: null };
    for (const slot of this.state.slots) this.byStart.set(slot.start, slot);
  }

  get subject(): Subject {
    return this.state.subject;
  }

  private get maxWindowHours(): number {
    return Math.max(this.rules.heat.windowHours, this.rules.health.windowHours);
  }

  /** History kept: the comparison days, plus room for the longest window and its onset look-back. */
  private get keepMs(): number {
    return this.rules.baseline.days * DAY_MS + (3 * this.maxWindowHours + 1) * HOUR_MS;
  }

  /**
   * `maxAheadOfArrivalMs`: when set (live ingest), a reading stamped further than that past its arrival and
   * more than FUTURE_JUMP_MS past her newest reading is left out: one reading stamped 2030 would otherwise
   * move her clock there, and every real reading after it would count as too late to judge. It does not
   * count as a sign of life either, so a collar sending nothing else is found silent.
   */
  observe(reading: Reading, arrivalWall: number, maxAheadOfArrivalMs?: number): ObserveResult {
    const s = this.state;
    const events: AlertEvent[] = [];
    if (
      maxAheadOfArrivalMs !== undefined &&
      reading.ts > arrivalWall + maxAheadOfArrivalMs &&
      reading.ts > (s.lastTs ?? arrivalWall) + FUTURE_JUMP_MS
    ) {
      return { events, judged: false, future: true };
    }
    const push = (e: AlertEvent | null) => e && events.push(e);
    s.lastArrival = Math.max(s.lastArrival ?? arrivalWall, arrivalWall);

    // Any reading at all proves the collar is talking again.
    push(resolve(s.alerts, s.subject, 'collar_offline', {
      at: reading.ts,
      evidence: { backAt: iso(reading.ts), lastReadingAt: s.lastTs === null ? null : iso(s.lastTs) },
    }));
    // Only the newest word on the battery counts: a backlog reading from days ago must not resolve today's alert.
    if (reading.batteryPct !== undefined && (s.lastTs === null || reading.ts >= s.lastTs)) this.judgeBattery(reading, push);

    if (s.lastTs !== null && reading.ts < s.lastTs - this.keepMs) return { events, judged: false };
    const completedBefore = s.lastTs === null ? null : floorHour(s.lastTs);
    const newest = s.lastTs === null || reading.ts > s.lastTs;
    if (newest) this.judgeSignal(reading, push);
    // What a faulty collar reads is not the cow: kept out of her history, as the stretch before it was.
    if (!(newest && s.alerts.open.collar_fault)) this.accumulate(reading);
    if (newest) {
      s.lastTs = reading.ts;
      this.evict(reading.ts - this.keepMs);
    }
    // Windows are made of completed hours only (a past day's hour is only known whole, so the hour in
    // progress cannot be compared fairly). They change when an hour completes or a late reading fills one in.
    // A collar known to be faulty says nothing about the cow: her rules wait until it reads true again.
    const now = floorHour(s.lastTs!);
    if (this.herd && completedBefore !== null && now > completedBefore && !s.alerts.open.collar_fault) this.reportHour(now - HOUR_MS);
    if (!s.alerts.open.collar_fault && (now !== completedBefore || reading.ts - reading.intervalS * 1000 < now)) {
      this.judgeHeat(now, push);
      this.judgeHealth(now, push);
      this.judgeDown(now, push);
    }
    return { events, judged: true };
  }

  private accumulate(r: Reading): void {
    const startMs = r.ts - r.intervalS * 1000;
    const durMs = r.ts - startMs;
    for (let t = floorHour(startMs); t < r.ts; t += HOUR_MS) {
      const overlap = Math.min(r.ts, t + HOUR_MS) - Math.max(startMs, t);
      if (overlap <= 0) continue;
      const share = overlap / durMs;
      const slot = this.slotAt(t);
      slot.act += r.activity * share;
      slot.actCov += overlap / 1000;
      if (r.rumination !== undefined) {
        slot.rum += r.rumination * share;
        slot.rumCov += overlap / 1000;
      }
    }
  }

  private slotAt(start: number): Slot {
    const existing = this.byStart.get(start);
    if (existing) return existing;
    const slot: Slot = { start, act: 0, actCov: 0, rum: 0, rumCov: 0 };
    const slots = this.state.slots;
    let i = slots.length;
    while (i > 0 && slots[i - 1]!.start > start) i--;
    slots.splice(i, 0, slot);
    this.byStart.set(start, slot);
    return slot;
  }

  private evict(horizon: number): void {
    const slots = this.state.slots;
    while (slots.length && slots[0]!.start < horizon) this.byStart.delete(slots.shift()!.start);
  }

  /** Total and covered seconds of a metric over the hour slots starting in [first, last]. */
  private sum(metric: Metric, first: number, last: number): { value: number; coveredS: number } {
    let value = 0;
    let coveredS = 0;
    for (let t = first; t <= last; t += HOUR_MS) {
      const slot = this.byStart.get(t);
      if (!slot) continue;
      if (metric === 'activity') {
        value += slot.act;
        coveredS += slot.actCov;
      } else {
        value += slot.rum;
        coveredS += slot.rumCov;
      }
    }
    return { value, coveredS };
  }

  /**
   * Rates per hour of `sumAt` shifted back 1..days days of the farm's clock from `ref`, for each past day
   * that covers at least `needS` seconds.
   */
  private pastRates(needS: number, ref: number, sumAt: (shiftMs: number) => { value: number; coveredS: number }): number[] {
    const rates: number[] = [];
    for (let k = 1; k <= this.rules.baseline.days; k++) {
      const past = sumAt(this.dayShift(ref, k));
      if (past.coveredS >= needS) rates.push((past.value * 3600) / past.coveredS);
    }
    return rates;
  }

  /** Her normal rate (per hour) for the hours [first, last] of the day, from the same hours on past days. */
  private normalRate(metric: Metric, first: number, last: number) {
    const cfg = this.rules.baseline;
    const needS = cfg.minDayCoverage * ((last - first) / 1000 + 3600);
    return robustStats(this.pastRates(needS, first, (shift) => this.sum(metric, first - shift, last - shift)), cfg);
  }

  /** Median rate of each clock hour in [first, last] over her past days (0 where too few days are known). */
  private hourNormals(metric: Metric, first: number, last: number, floor: number): number[] {
    const cfg = this.rules.baseline;
    const out: number[] = [];
    for (let t = first; t <= last; t += HOUR_MS) {
      const rates = this.pastRates(cfg.minDayCoverage * 3600, t, (shift) => this.sum(metric, t - shift, t - shift));
      out.push(rates.length >= cfg.warmupDays ? medianOf(rates) : 0);
    }
    return out.map((r) => Math.max(r, floor));
  }

  /**
   * The `hours` completed hours before `end` against the same hours on previous days; null while warming up.
   * With `capRatio`, every hour (now and on the past days alike) counts at most `capRatio` times her normal
   * for that clock hour, so one wild hour cannot carry a window; `hotRatio` counts the hours at or above it.
   */
  private window(
    metric: Metric,
    hours: number,
    end: number,
    opts: { capRatio?: number; hotRatio?: number; busyHotRatio?: number; floorShare?: number } = {},
  ): WindowStats | null {
    const cfg = this.rules.baseline;
    const last = end - HOUR_MS;
    const from = end - hours * HOUR_MS;
    // Hours she usually sleeps through are judged against at least a share of her mean rate over the day, so a
    // restless night (from a handful of counts to a few hundred) is not read as a several-fold rise.
    let floor = 0;
    if (opts.floorShare) {
      const day = this.normalRate(metric, end - DAY_MS, last);
      if (!day) return null;
      floor = opts.floorShare * day.median;
    }
    const perHour = opts.capRatio !== undefined || opts.hotRatio !== undefined;
    const norms = perHour ? this.hourNormals(metric, from, last, floor) : null;
    const windowSum = (shift: number) => {
      if (!norms || opts.capRatio === undefined) return this.sum(metric, from - shift, last - shift);
      let value = 0;
      let coveredS = 0;
      for (let i = 0, t = from - shift; t <= last - shift; t += HOUR_MS, i++) {
        const h = this.sum(metric, t, t);
        value += Math.min(h.value, (opts.capRatio * norms[i]! * h.coveredS) / 3600);
        coveredS += h.coveredS;
      }
      return { value, coveredS };
    };
    const now = windowSum(0);
    if (now.coveredS === 0) return null;
    const stats = robustStats(this.pastRates(cfg.minDayCoverage * hours * 3600, from, windowSum), cfg);
    if (!stats || stats.median <= 0) return null;
    const normal = { ...stats, median: Math.max(stats.median, floor) };
    let hot = 0;
    if (norms && opts.hotRatio !== undefined) {
      for (let i = 0, t = from; t <= last; t += HOUR_MS, i++) {
        const h = this.sum(metric, t, t);
        // In an hour many of the herd were busy together (a pasture move, late feed: up to about 1.8× their
        // normal), only a rise beyond what such a day brings counts towards her heat (a heat is 2–4×).
        const need = this.herd?.busyHour(t) ? Math.max(opts.hotRatio, opts.busyHotRatio ?? Infinity) : opts.hotRatio;
        if (h.coveredS > 0 && (h.value * 3600) / h.coveredS >= need * norms[i]!) hot++;
      }
    }
    const rate = (now.value * 3600) / now.coveredS;
    return {
      metric,
      value: now.value,
      expected: (normal.median * now.coveredS) / 3600,
      ratio: rate / normal.median,
      z: (rate - normal.median) / normal.spread,
      coverage: Math.min(1, (now.coveredS * 1000) / (end - from)),
      comparedDays: normal.days,
      hotHours: hot,
      from,
      to: end,
    };
  }

  /**
   * Onset: walk back over the hours that were still off her normal in the same direction. An hour with no
   * data yet (a gap, or a backlog still being filled in) is stepped over, not taken as her normal: the
   * onset comes from the data that shows the change, whatever order it arrived in.
   */
  private onset(metric: Metric, end: number, offNormal: (ratio: number) => boolean, lookBackHours: number): number {
    let since = end;
    for (let t = end - HOUR_MS, h = 0; h < lookBackHours; t -= HOUR_MS, h++) {
      const hour = this.sum(metric, t, t);
      if (hour.coveredS === 0) continue;
      const normal = this.normalRate(metric, t, t);
      if (!normal || !offNormal((hour.value * 3600) / hour.coveredS / normal.median)) break;
      since = t;
    }
    return since;
  }

  private evidence(w: WindowStats, unit: string): Evidence {
    return {
      metric: w.metric,
      unit,
      value: round(w.value, 1),
      baseline: round(w.expected, 1),
      ratio: round(w.ratio),
      deviation: round(w.z),
      coverage: round(w.coverage),
      comparedDays: w.comparedDays,
      window: { from: iso(w.from), to: iso(w.to), hours: round((w.to - w.from) / HOUR_MS, 1) },
    };
  }

  /**
   * `at` of a heat or health change is the end of the window that shows it (event time of the data), not
   * the time of whichever reading happened to complete it: a late reading filling in a gap must not move it.
   */
  private judgeHeat(end: number, push: (e: AlertEvent | null) => void): void {
    const cfg = this.rules.heat;
    const w = this.window('activity', cfg.windowHours, end, { capRatio: cfg.hourCapRatio, hotRatio: cfg.hotRatio, busyHotRatio: cfg.busyHourHotRatio, floorShare: cfg.floorShare });
    if (!w || w.coverage < cfg.minCoverage) return;
    const at = w.to;
    const { alerts, subject } = this.state;
    if (!alerts.open.heat) {
      if (w.ratio >= cfg.minRatio && w.z >= cfg.minZ && w.hotHours >= cfg.minHotHours) {
        const since = this.onset('activity', w.to, (r) => r >= cfg.resolveRatio, 3 * cfg.windowHours);
        const evidence = this.evidence(w, 'activity count');
        const last = this.state.lastHeat;
        // Days since her last heat: 18-24 is a cycle; much shorter or longer is worth a second look.
        if (last !== null && last < since) Object.assign(evidence, { lastHeatSince: iso(last), daysSinceLastHeat: round((since - last) / DAY_MS, 1) });
        const raised = raise(alerts, subject, 'heat', { at, since, severity: 'warning', evidence, cooldownMs: cfg.cooldownHours * HOUR_MS });
        if (raised) this.state.lastHeat = raised.since;
        push(raised);
      }
    } else if (w.ratio < cfg.resolveRatio) {
      push(resolve(alerts, subject, 'heat', { at, evidence: this.evidence(w, 'activity count') }));
    }
  }

  private judgeHealth(end: number, push: (e: AlertEvent | null) => void): void {
    const cfg = this.rules.health;
    const judged = (['activity', 'rumination'] as const)
      .map((m) => this.window(m, cfg.windowHours, end))
      .filter((w): w is WindowStats => w !== null && w.coverage >= cfg.minCoverage);
    if (judged.length === 0) return;
    const at = end;
    const { alerts, subject } = this.state;
    const unit = (w: WindowStats) => (w.metric === 'activity' ? 'activity count' : 'minutes ruminating');
    if (!alerts.open.health) {
      const maxRatio = (w: WindowStats) => (w.metric === 'activity' ? cfg.activityMaxRatio : cfg.ruminationMaxRatio);
      let low = judged.filter((w) => w.z <= cfg.maxZ && w.ratio <= maxRatio(w));
      // Two signals agreeing find a milder drop: activity and rumination both down together for a day (an
      // illness ramping in), each beyond two of her own spreads, which one signal alone is too noisy to show.
      if (low.length === 0 && judged.length === 2 && judged.every((w) => w.ratio <= cfg.bothMaxRatio && w.z <= cfg.bothMaxZ)) low = [...judged];
      if (low.length === 0) return;
      low.sort((a, b) => a.ratio - b.ratio);
      const primary = low[0]!;
      // Urgent when she is far down, or when activity and rumination are both down. The second metric's window
      // lags the first by hours as a drop begins, so it counts as down while it is below the resolve line (the
      // same line that says she is well again), without its own firing tests.
      const bothDown = judged.length > 1 && judged.every((w) => w.ratio < cfg.resolveRatio);
      const severity: Severity = bothDown || primary.ratio <= cfg.urgentRatio ? 'urgent' : 'warning';
      const evidence = this.evidence(primary, unit(primary));
      const other = judged.find((w) => w !== primary);
      if (other) evidence.also = this.evidence(other, unit(other));
      const since = this.onset(primary.metric, primary.to, (r) => r <= cfg.resolveRatio, 2 * cfg.windowHours);
      push(raise(alerts, subject, 'health', { at, since, severity, evidence, cooldownMs: cfg.cooldownHours * HOUR_MS }));
    } else if (judged.every((w) => w.ratio >= cfg.resolveRatio)) {
      const evidence = this.evidence(judged[0]!, unit(judged[0]!));
      if (judged[1]) evidence.also = this.evidence(judged[1], unit(judged[1]));
      push(resolve(alerts, subject, 'health', { at, evidence }));
    }
  }

  /** Tells the herd whether the hour just completed was a busy one for her (warm cows only). */
  private reportHour(t: number): void {
    const cfg = this.rules.heat;
    const normal = this.hourNormals('activity', t, t, 0)[0]!;
    const h = this.sum('activity', t, t);
    if (normal <= 0 || h.coveredS < 0.5 * 3600) return;
    const day = this.normalRate('activity', t - DAY_MS + HOUR_MS, t);
    const floor = day ? cfg.floorShare * day.median : 0;
    this.herd!.report(t, (h.value * 3600) / h.coveredS >= cfg.hotRatio * Math.max(normal, floor));
  }

  /**
   * A stuck collar repeats one non-zero reading; a flat one reads exactly zero on everything it reports.
   * Neither happens on a live cow for hours (even asleep she moves her head), so either is the collar.
   * Judged on newest readings only, in event time; it resolves as soon as the signal varies again.
   */
  private judgeSignal(r: Reading, push: (e: AlertEvent | null) => void): void {
    const cfg = this.rules.collarFault;
    const s = this.state;
    const rum = r.rumination ?? null;
    const run = s.run;
    // No movement is what a lying cow's leg or neck tag reads: where the tag reports her lying, zeros are
    // explained and do not count towards a flat line.
    const lyingAll = r.lying !== undefined && r.lying >= 0.9 * (r.intervalS / 60);
    if (lyingAll && r.activity === 0) {
      s.run = null;
      return;
    }
    // Only a different value ends a run: a gap in delivery (a backlog still to come) does not mend a sensor.
    if (run && run.act === r.activity && run.rum === rum) {
      run.last = r.ts;
      run.coveredS += r.intervalS;
    }
    else {
      s.run = { act: r.activity, rum, from: r.ts - r.intervalS * 1000, last: r.ts, coveredS: r.intervalS };
      if (s.alerts.open.collar_fault) {
        push(resolve(s.alerts, s.subject, 'collar_fault', { at: r.ts, evidence: { metric: 'activity', value: r.activity, backAt: iso(r.ts) } }));
      }
      return;
    }
    const flat = isFlat(run);
    const hours = (run.coveredS * 1000) / HOUR_MS;
    if (s.alerts.open.collar_fault || hours < (flat ? cfg.flatHours : cfg.stuckHours)) return;
    // The hours the fault has covered so far held no true data: drop them from her history, so a stuck
    // or flat stretch cannot later read as a sick cow or drag her baseline.
    for (const slot of s.slots) {
      if (slot.start + HOUR_MS > run.from && slot.start <= run.last) Object.assign(slot, { act: 0, actCov: 0, rum: 0, rumCov: 0 });
    }
    push(raise(s.alerts, s.subject, 'collar_fault', {
      at: r.ts,
      since: run.from,
      severity: 'warning',
      evidence: { kind: flat ? 'flat' : 'stuck', metric: 'activity', value: run.act, ...(run.rum !== null && { rumination: run.rum }), hours: round(hours, 1) },
      cooldownMs: cfg.cooldownHours * HOUR_MS,
    }));
  }

  /**
   * A cow down: almost no movement for hours she is normally up and about, and (where reported) hardly
   * ruminating. Hours she usually sleeps through are not judged, and a signal that is exactly constant is
   * left to judgeSignal: a broken sensor is not a cow down.
   */
  private judgeDown(end: number, push: (e: AlertEvent | null) => void): void {
    const cfg = this.rules.downCow;
    const { alerts, subject, run } = this.state;
    const last = end - HOUR_MS;
    // Rumination tells a resting cow (ruminating) from a cow down; without it, only longer stillness counts.
    const hasRumination = this.sum('rumination', last, last).coveredS > 0;
    const hours = hasRumination ? cfg.hours : cfg.hoursWithoutRumination;
    const first = end - hours * HOUR_MS;
    const rateAt = (metric: Metric, t: number) => {
      const h = this.sum(metric, t, t);
      return h.coveredS >= cfg.minCoverage * 3600 ? (h.value * 3600) / h.coveredS : null;
    };
    if (alerts.open.down_cow) {
      const normal = this.hourNormals('activity', last, last, 0)[0]!;
      const rate = rateAt('activity', last);
      if (rate !== null && normal > 0 && rate >= cfg.resolveRatio * normal) {
        push(resolve(alerts, subject, 'down_cow', { at: end, evidence: { metric: 'activity', ratio: round(rate / normal) } }));
      }
      return;
    }
    // A constant signal is judged as a collar (judgeSignal): not while it covers the window, nor while an
    // all-zero run covers the newest hour (a flat line starting: a cow down still moves and ruminates a little).
    if (run && (run.from <= first || (isFlat(run) && run.from <= last))) return;
    // Newest hour first, each hour's normal only as needed: almost every hour fails at once, cheaply.
    // An hour counts as down in either of two ways. In hours she is normally up and about: hardly moving,
    // and (where reported) hardly ruminating. In hours she normally rests: rumination nearly stopped — a
    // resting cow ruminates most of the time she lies — and no more movement than half her usual rest.
    const activeOnly: number[] = [];
    let worst = 0;
    let dayMean: number | null | undefined;
    const restHour = (normal: number) => {
      if (dayMean === undefined) dayMean = this.normalRate('activity', end - DAY_MS, last)?.median ?? null;
      return dayMean !== null && normal < cfg.activeShare * dayMean;
    };
    for (let t = last; t >= first; t -= HOUR_MS) {
      const normal = this.hourNormals('activity', t, t, 0)[0]!;
      const rate = rateAt('activity', t);
      if (rate === null || normal <= 0) return;
      let rum: number | null = null;
      let rumNormal = 0;
      if (hasRumination) {
        rum = rateAt('rumination', t);
        rumNormal = this.hourNormals('rumination', t, t, 0)[0]!;
      }
      const resting = rum !== null && rumNormal > 0 && rum <= cfg.restRuminationRatio * rumNormal && rate <= cfg.restActivityRatio * normal && restHour(normal);
      const still = rate <= cfg.maxActivityRatio * normal && (rum === null || rumNormal <= 0 || rum <= cfg.maxRuminationRatio * rumNormal);
      if (!resting && !still) return;
      if (!resting) activeOnly.push(normal);
      worst = Math.max(worst, rate / normal);
    }
    // Stillness alone counts only in hours she is normally up and about: lying through her usual night is
    // no sign of trouble.
    if (activeOnly.some((n) => restHour(n) || dayMean === null)) return;
    const since = this.onset('activity', first, (r) => r <= cfg.maxActivityRatio, 12);
    push(raise(alerts, subject, 'down_cow', {
      at: end,
      since,
      severity: 'urgent',
      evidence: { metric: 'activity', ratio: round(worst), ruminationKnown: hasRumination, window: { from: iso(first), to: iso(end), hours } },
      cooldownMs: cfg.cooldownHours * HOUR_MS,
    }));
  }

  private judgeBattery(r: Reading, push: (e: AlertEvent | null) => void): void {
    const cfg = this.rules.batteryLow;
    const pct = r.batteryPct!;
    const { alerts, subject } = this.state;
    const evidence = { metric: 'batteryPct', value: pct, threshold: cfg.belowPct };
    if (pct < cfg.belowPct) {
      push(raise(alerts, subject, 'battery_low', {
        at: r.ts, since: r.ts, severity: 'info', evidence, cooldownMs: cfg.cooldownHours * HOUR_MS,
      }));
    } else if (pct >= cfg.resolveAbovePct) {
      push(resolve(alerts, subject, 'battery_low', { at: r.ts, evidence }));
    }
  }

  /**
   * A collar that has said nothing for `afterHours`. Two clocks, never mixed: by event time, her newest
   * reading against the farm's watermark; by the wall clock, her last arrival against the clock (for a
   * farm gone silent as a whole, where event time stands still). Either way the alert is stamped in event
   * time — the moment her own readings went silent by the rule — because the alert book's cooldowns and
   * resolves are event time; the wall-clock moment of judgement goes in the evidence.
   */
  judgeSilence(now: number, judgedBy: 'event_time' | 'wall_clock', cfg: RuleSet['collarOffline']): AlertEvent | null {
    const s = this.state;
    if (s.lastTs === null || s.alerts.open.collar_offline) return null;
    const afterMs = cfg.afterHours * HOUR_MS;
    const silentMs = judgedBy === 'event_time' ? now - s.lastTs : s.lastArrival === null ? 0 : now - s.lastArrival;
    if (silentMs < afterMs) return null;
    const at = judgedBy === 'event_time' ? now : s.lastTs + afterMs;
    return raise(s.alerts, s.subject, 'collar_offline', {
      at,
      since: s.lastTs,
      severity: 'info',
      evidence: {
        lastReadingAt: iso(s.lastTs),
        silentHours: round(silentMs / HOUR_MS, 1),
        judgedBy,
        ...(judgedBy === 'wall_clock' && { judgedAtWallClock: iso(now), lastArrivalAt: iso(s.lastArrival!) }),
      },
      cooldownMs: cfg.cooldownHours * HOUR_MS,
    });
  }

  /** Days of history she has (for the status page: is she still warming up?). */
  historyDays(): number {
    const { slots } = this.state;
    return slots.length ? Math.floor((slots.at(-1)!.start - slots[0]!.start) / DAY_MS) : 0;
  }
}

export interface FarmSnapshot {
  watermark: number | null;
  lastSilenceScan: number | null;
  /** Recent hours: [hourStart, cows reporting, cows well above their normal]. */
  herdHours?: [number, number, number][];
}

/** An hour is the herd's when at least this share of the cows reporting it were hot together (a heat is ~3 %). */
const HERD_BUSY_SHARE = 0.15;
const HERD_MIN_COWS = 10;
const HERD_KEEP_MS = 3 * DAY_MS;

/** How far the farm's event time must move before all collars are checked for silence again. */
const SILENCE_SCAN_STEP_MS = 15 * 60_000;

/**
 * All cows of one farm. The farm's watermark (newest reading time of any collar) is the event-time clock
 * that tells a collar has gone silent while its herd-mates keep talking.
 */
export interface FarmDetectorOptions {
  /**
   * A reading may move the farm's watermark at most this far past the time it arrived. A collar whose clock
   * runs ahead then harms only its own cow's history, not every herd-mate's silence check; and a gateway
   * whose clock is behind (no RTC, NTP not synced yet) loses nothing. The arrival time is stored with the
   * reading, so a replay caps exactly as the live run did. Unset: no cap (pure replays, evaluations).
   */
  maxAheadOfArrivalMs?: number;
  /** The farm's IANA time zone: "the same hours on previous days" follow its clock through daylight saving. */
  timezone?: string;
}

export class FarmDetector {
  readonly cows = new Map<string, CowDetector>();
  private readonly dirty = new Set<string>();
  farm: FarmSnapshot = { watermark: null, lastSilenceScan: null };

  private readonly dayShift: DayShift;

  constructor(
    readonly farmId: string,
    readonly rules: RuleSet,
    private readonly opts: FarmDetectorOptions = {},
  ) {
    this.dayShift = opts.timezone ? localDays(opts.timezone) : utcDays;
  }

  /** The herd's side of normalisation: counts per hour of cows reporting and cows hot. */
  private readonly herdView: HerdView = {
    busyHour: (t) => {
      const h = this.herdHours.get(t);
      return !!h && h[0] >= HERD_MIN_COWS && h[1] >= HERD_BUSY_SHARE * h[0];
    },
    report: (t, hot) => {
      const h = this.herdHours.get(t) ?? [0, 0];
      this.herdHours.set(t, [h[0] + 1, h[1] + (hot ? 1 : 0)]);
      if (this.herdHours.size > 100) {
        const horizon = t - HERD_KEEP_MS;
        for (const k of this.herdHours.keys()) if (k < horizon) this.herdHours.delete(k);
      }
    },
  };
  private readonly herdHours = new Map<number, [number, number]>();

  restoreCow(snapshot: CowSnapshot): void {
    this.cows.set(snapshot.subject.cowId, new CowDetector(this.rules, snapshot, this.dayShift, this.herdView));
  }

  /** The farm's state for a snapshot, and back. */
  snapshotFarm(): FarmSnapshot {
    return { ...this.farm, herdHours: [...this.herdHours].map(([t, [n, hot]]) => [t, n, hot]) };
  }

  restoreFarm(f: FarmSnapshot): void {
    this.farm = { watermark: f.watermark, lastSilenceScan: f.lastSilenceScan };
    this.herdHours.clear();
    for (const [t, n, hot] of f.herdHours ?? []) this.herdHours.set(t, [n, hot]);
  }

  observe(reading: Reading, cowId: string, arrivalWall: number): ObserveResult {
    let cow = this.cows.get(cowId);
    if (!cow) {
      cow = new CowDetector(this.rules, { farmId: this.farmId, cowId, collarId: reading.collarId }, this.dayShift, this.herdView);
      this.cows.set(cowId, cow);
    }
    this.dirty.add(cowId);
    const cap = this.opts.maxAheadOfArrivalMs;
    const result = cow.observe(reading, arrivalWall, cap);
    if (result.future) return result;
    const f = this.farm;
    const ts = cap === undefined ? reading.ts : Math.min(reading.ts, arrivalWall + cap);
    f.watermark = Math.max(f.watermark ?? ts, ts);
    if (f.lastSilenceScan === null || f.watermark - f.lastSilenceScan >= SILENCE_SCAN_STEP_MS) {
      f.lastSilenceScan = f.watermark;
      result.events.push(...this.scanSilence(f.watermark, 'event_time'));
    }
    return result;
  }

  /** The wall-clock half of silence detection: catches a farm where every collar went quiet at once. */
  checkSilence(nowWall: number): AlertEvent[] {
    return this.scanSilence(nowWall, 'wall_clock');
  }

  private scanSilence(now: number, judgedBy: 'event_time' | 'wall_clock'): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (const [cowId, cow] of this.cows) {
      const e = cow.judgeSilence(now, judgedBy, this.rules.collarOffline);
      if (e) {
        events.push(e);
        this.dirty.add(cowId);
      }
    }
    return events;
  }

  /** Cows whose state changed since they were last marked saved: the ones to snapshot. */
  dirtyCows(): CowDetector[] {
    return [...this.dirty].map((id) => this.cows.get(id)!);
  }

  /** Called only after their snapshot committed, so a failed save leaves them to be saved next time. */
  markSaved(cows: CowDetector[]): void {
    for (const cow of cows) this.dirty.delete(cow.subject.cowId);
  }
}
