import type { AlertEvent, Subject } from './alerts.js';
import { HOUR_MS } from './baseline.js';
import type { CowRecord, CowState, HerdView } from './context.js';
import { CowDetector, NO_RELEASE, orderKeyOf, type ObserveResult } from './cow.js';
import { settledAll } from './heat.js';
import { ReleaseQueue } from './release-queue.js';
import { localDate, localDayStart, localDays, utcDays, type DayShift } from './localday.js';
import type { Reading } from './reading.js';
import type { RuleSet } from './ruleset.js';
import type { CowSnapshot, FarmSnapshot } from './snapshot.js';

/**
 * An hour is the herd's when more of its cows were hot together than chance allows. What chance allows is the
 * herd's own: each cow tells, with her hour, on how many of her past days she was hot at that hour of the
 * day (normal.ts, hotShare), and the herd's usual count is the sum of those shares, its spread their
 * binomial spread; the line is three of those spreads over it, and never more than 12 % of the herd over it.
 * Never below 3 % of the herd is the usual count taken (a cow comes into heat every 21 days or so and is hot
 * for some 8 hours of it, and the odd restless one): on steady cows that is the line, 14 cows of 200 (7 %), 4
 * of 30, 47 of 1000; a pasture move of a fifth of such a herd puts 9-16 % of it over 1.5x. Real cows lie
 * down in bouts at no fixed hour, and an hour spent up where she usually lies is 1.5x its normal or more: in
 * herds as noisy as real ones 13-33 % of the cows are hot in an ordinary hour, and at a fixed 3 % nearly
 * every hour was the herd's, which held back half the heats.
 */
const HERD_HOT_SHARE = 0.03;
const HERD_BUSY_SDS = 3;
const HERD_BUSY_OVER = 0.12;
function busyLine(h: HerdHour): number {
  const mean = Math.max(HERD_HOT_SHARE * h.n, h.usual);
  const variance = Math.max(HERD_HOT_SHARE * (1 - HERD_HOT_SHARE) * h.n, h.usualVar);
  return Math.min(mean + HERD_BUSY_OVER * h.n, mean + HERD_BUSY_SDS * Math.sqrt(variance));
}
/** Fewer cows than this say nothing about a herd. */
const HERD_MIN_COWS = 10;
const HERD_KEEP_HOURS = 72;

/**
 * A heat held back for the herd's count of its hours (see heat.ts) waits for most of the herd at most this
 * far past the hour in the farm's event time (collars reporting every hour or two tell an hour that late).
 */
const SETTLE_MAX_MS = 30 * 60_000;
/** The share of the herd (of the most cows that told any hour of the day before) that settles an hour. */
const SETTLE_SHARE = 0.75;

/** How far the farm's event time must move before all collars are checked for silence again. */
const SILENCE_SCAN_STEP_MS = 15 * 60_000;

/**
 * The herd's hours: for each recent hour, how many cows reported it, how many were hot, and where the typical
 * cow stood against her own normal (a histogram of log ratios, so the median is robust to the few cows in
 * heat or sick). A deviation most of the herd shares is the weather or the schedule, not a cow.
 */
const BINS = 40;
const LOG_MIN = Math.log(0.2);
const LOG_MAX = Math.log(5);
const binOf = (ratio: number) => Math.max(0, Math.min(BINS - 1, Math.floor(((Math.log(Math.max(ratio, 1e-3)) - LOG_MIN) / (LOG_MAX - LOG_MIN)) * BINS)));

interface HerdHour {
  n: number;
  hot: number;
  /** How many of its cows are hot in this hour of an ordinary day (the sum of their shares), and its variance. */
  usual: number;
  usualVar: number;
  act: number[];
  rum: number[];
  rumN: number;
  lie: number[];
  lieN: number;
}

/**
 * The median ratio, placed within its bin by how far into the bin's cows the middle cow is (the cows spread
 * evenly over its width). A bin is 8 % wide, and 1.0 sits on an edge: the bin's midpoint made a quiet herd
 * read 0.96 or 1.04 as its middle cow fell just either side, and what a cow's trend takes out of a drop the
 * herd shares (at most 1) took 4 % out of hers in every such hour.
 */
function histogramMedian(h: number[], n: number): number {
  let seen = 0;
  for (let b = 0; b < BINS; b++) {
    const c = h[b]!;
    if (c > 0 && (seen + c) * 2 >= n) return Math.exp(LOG_MIN + ((b + (n / 2 - seen) / c) / BINS) * (LOG_MAX - LOG_MIN));
    seen += c;
  }
  return 1;
}

class Herd implements HerdView {
  readonly hours = new Map<number, HerdHour>();
  private typical = { hour: NaN, n: 0 };

  busyHour(t: number): boolean {
    const h = this.hours.get(t);
    return !!h && h.n >= HERD_MIN_COWS && h.hot >= busyLine(h);
  }

  /**
   * Told by three quarters of the most cows that told any one hour of the day before, or the herd is too small to
   * tell. (With half, the verdict on 100 cows of 200 differed from the whole herd's in about one shuffle of
   * the arrival order in eight; the quarter left is mostly collars reporting every hour or two.)
   */
  settled(t: number): boolean {
    if (this.typical.hour !== t) {
      let n = 0;
      for (let k = t - 24; k < t; k++) n = Math.max(n, this.hours.get(k)?.n ?? 0);
      this.typical = { hour: t, n };
    }
    const typical = this.typical.n;
    return typical < HERD_MIN_COWS || (this.hours.get(t)?.n ?? 0) >= Math.max(HERD_MIN_COWS, SETTLE_SHARE * typical);
  }

  herdRatio(metric: 'act' | 'rum' | 'lie', first: number, last: number, weight?: (hour: number) => number): number {
    let sum = 0;
    let weights = 0;
    let known = 0;
    for (let t = first; t <= last; t++) {
      const h = this.hours.get(t);
      const n = h ? (metric === 'act' ? h.n : metric === 'rum' ? h.rumN : h.lieN) : 0;
      if (!h || n < HERD_MIN_COWS) continue;
      const w = weight ? weight(t) : 1;
      if (!(w > 0)) continue;
      sum += w * histogramMedian(metric === 'act' ? h.act : metric === 'rum' ? h.rum : h.lie, n);
      weights += w;
      known++;
    }
    // Half the window known at least, or the herd says nothing.
    return known * 2 >= last - first + 1 ? sum / weights : 1;
  }

  report(t: number, hot: boolean, usuallyHot: number, actRatio: number, rumRatio: number, lieRatio: number): void {
    let h = this.hours.get(t);
    if (!h) {
      h = { n: 0, hot: 0, usual: 0, usualVar: 0, act: new Array<number>(BINS).fill(0), rum: new Array<number>(BINS).fill(0), rumN: 0, lie: new Array<number>(BINS).fill(0), lieN: 0 };
      this.hours.set(t, h);
      if (this.hours.size > HERD_KEEP_HOURS + 24) for (const k of this.hours.keys()) if (k < t - HERD_KEEP_HOURS) this.hours.delete(k);
    }
    h.n++;
    if (hot) h.hot++;
    // A cow still warming up counts as the herd's plain share.
    const p = usuallyHot === usuallyHot ? usuallyHot : HERD_HOT_SHARE;
    h.usual += p;
    h.usualVar += p * (1 - p);
    // An hour told late (a backlog) may be one the remembered typical count was taken over.
    if (t < this.typical.hour) this.typical.hour = NaN;
    h.act[binOf(actRatio)]!++;
    if (rumRatio === rumRatio) {
      h.rumN++;
      h.rum[binOf(rumRatio)]!++;
    }
    if (lieRatio === lieRatio) {
      h.lieN++;
      h.lie[binOf(lieRatio)]!++;
    }
  }
}

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
  farm: FarmSnapshot = { watermark: null, lastSilenceScan: null, frontier: null };
  /**
   * The cows' held readings that touch the herd (CowDetector.releaseOwn), by when they were measured: the
   * farm releases them in one order, the order measured, whatever order they arrived in. Judged cow by cow
   * instead, whichever cow's next reading came first had her hour judged first, and told the herd first: on
   * a herd of 24, every one of six arrival orders within the reorder window gave some heat or illness
   * another hour. An entry whose reading was judged already (with an earlier one, or by a collar trusted
   * ahead) is skipped when it comes up. Cows measured at the same moment go by `orderKey`, a hash of the
   * cow's id (a number: compared often).
   */
  private readonly heldQueue = new ReleaseQueue<CowDetector>();
  private readonly dayShift: DayShift;
  private readonly herd = new Herd();
  /** Cows with a heat window held back for the herd (CowDetector.heatHeld). */
  private readonly rechecks = new Set<string>();
  /** The herd register's dates by cow, applied to her detector when it is made and whenever they change. */
  private records = new Map<string, CowRecord>();

  constructor(
    readonly farmId: string,
    readonly rules: RuleSet,
    private readonly opts: FarmDetectorOptions = {},
  ) {
    this.dayShift = opts.timezone ? localDays(opts.timezone) : utcDays;
  }

  restoreCow(snapshot: CowSnapshot): void {
    this.addCow(snapshot);
  }

  /** A cow's detector, made from her snapshot or afresh, with what the herd register says of her. */
  private addCow(from: Subject | CowSnapshot): CowDetector {
    const cow = new CowDetector(this.rules, from, this.dayShift, this.herd);
    const cowId = cow.state.subject.cowId;
    applyRecord(cow.state, this.records.get(cowId));
    this.cows.set(cowId, cow);
    if (cow.heatHeld) this.rechecks.add(cowId);
    for (const ts of cow.heldTouchingHerd()) this.heldQueue.push(ts, cow);
    return cow;
  }

  /**
   * What the herd register says of each cow (her last calving and insemination), replacing what it said
   * before: a cow it no longer names has no record. The register is the truth; a snapshot's copy is only
   * what it said when the snapshot was taken.
   */
  setRecords(records: Map<string, CowRecord>): void {
    this.records = records;
    for (const [cowId, cow] of this.cows) applyRecord(cow.state, records.get(cowId));
  }

  /** The start of a day the register gives ("YYYY-MM-DD") on this farm's clock; NaN when it is not one. */
  dayStart(day: string): number {
    return localDayStart(day, this.dayShift);
  }

  /** The day ("YYYY-MM-DD") it is at `t` on this farm's clock, as the register writes it. */
  localDate(t: number): string {
    return localDate(t, this.dayShift);
  }

  /** The farm's state for a snapshot, and back. */
  snapshotFarm(): FarmSnapshot {
    return {
      ...this.farm,
      herdHours: [...this.herd.hours].map(([t, h]) => [t * HOUR_MS, h.n, h.hot, h.rumN, ...h.act, ...h.rum, h.lieN, ...h.lie, h.usual, h.usualVar]),
    };
  }

  restoreFarm(f: FarmSnapshot): void {
    this.farm = { watermark: f.watermark, lastSilenceScan: f.lastSilenceScan, frontier: f.frontier ?? null };
    this.herd.hours.clear();
    for (const row of f.herdHours ?? []) {
      // Rows written before the herd kept its usual share (5 + 3 * BINS long) take the plain share for it.
      if (row.length !== 5 + 3 * BINS && row.length !== 7 + 3 * BINS) continue;
      const [t, n, hot, rumN] = row as [number, number, number, number];
      const lieN = row[4 + 2 * BINS]!;
      const usual = row[5 + 3 * BINS] ?? HERD_HOT_SHARE * n;
      const usualVar = row[6 + 3 * BINS] ?? HERD_HOT_SHARE * (1 - HERD_HOT_SHARE) * n;
      this.herd.hours.set(t / HOUR_MS, { n, hot, usual, usualVar, rumN, act: row.slice(4, 4 + BINS), rum: row.slice(4 + BINS, 4 + 2 * BINS), lie: row.slice(5 + 2 * BINS, 5 + 3 * BINS), lieN });
    }
  }

  observe(reading: Reading, cowId: string, arrivalWall: number): ObserveResult {
    const cow = this.cows.get(cowId) ?? this.addCow({ farmId: this.farmId, cowId, collarId: reading.collarId });
    this.dirty.add(cowId);
    const cap = this.opts.maxAheadOfArrivalMs;
    const result = cow.observe(reading, arrivalWall, cap, true);
    if (result.future) return result;
    this.out = null;
    this.tell(result.events);
    if (cow.heatHeld) this.rechecks.add(cowId);
    const f = this.farm;
    const holdMs = this.rules.reorder.minutes * 60_000;
    if (result.touchesHerd) this.heldQueue.push(reading.ts, cow);
    if (cow.held) {
      const own = cow.frontier(arrivalWall, cap);
      // A collar whose clock runs ahead moves the farm's frontier no further than she arrived: no reading was
      // measured after it arrived, and ahead, she would release every herd-mate's readings before their
      // reordering was done. One trusted hours ahead (cow.ts) has hers released as her own clock allows,
      // the ones that touch the herd too; a few minutes ahead, they wait for the farm's frontier.
      f.frontier = Math.max(f.frontier ?? -Infinity, cap === undefined ? own : Math.min(own, arrivalWall));
      const trustedAhead = cap !== undefined && own > arrivalWall + cap;
      const judged = trustedAhead ? cow.releaseThrough(own - holdMs, own - holdMs) : cow.releaseOwn(own - holdMs);
      this.tell(judged);
    }
    if (holdMs > 0) this.releaseHeld((f.frontier ?? -Infinity) - holdMs);
    const ts = cap === undefined ? reading.ts : Math.min(reading.ts, arrivalWall + cap);
    f.watermark = Math.max(f.watermark ?? ts, ts);
    if (f.lastSilenceScan === null || f.watermark - f.lastSilenceScan >= SILENCE_SCAN_STEP_MS) {
      f.lastSilenceScan = f.watermark;
      this.scanSilence(f.watermark, 'event_time');
    }
    // Held readings are released (and the heat windows waiting for the herd judged) in releaseHeld.
    if (holdMs === 0 && this.rechecks.size) this.recheckHeats(f.watermark);
    const out = this.out;
    this.out = null;
    // Most readings lead to nothing: their result is the cow's own (shared, not made per reading).
    return out === null ? result : { ...result, events: out };
  }

  /** What the call under way has led to: made at its first event (most readings lead to none). */
  private out: AlertEvent[] | null = null;

  private tell(events: readonly AlertEvent[]): void {
    if (events.length) (this.out ??= []).push(...events);
  }

  /**
   * Judges the farm's held readings that touch the herd, measured at or before `upTo`, in the order
   * measured (each with her readings before it), and after each one the heat windows it let the herd
   * settle: every verdict that asks the herd is taken on the same readings, whatever order they arrived in.
   * After each, her readings that judge only her, up to the next that touches the herd.
   */
  private releaseHeld(upTo: number): void {
    const q = this.heldQueue;
    const holdMs = this.rules.reorder.minutes * 60_000;
    while (q.firstTs() <= upTo) {
      const ts = q.firstTs();
      const cow = q.first();
      q.shift();
      if (cow.retired) continue;
      const judged = cow.releaseThrough(ts, upTo);
      if (judged === NO_RELEASE) continue;
      this.tell(judged);
      const cowId = cow.state.subject.cowId;
      this.dirty.add(cowId);
      if (cow.heatHeld) this.rechecks.add(cowId);
      if (this.rechecks.size) this.recheckHeats(ts + holdMs);
    }
    if (this.rechecks.size) this.recheckHeats(upTo + holdMs);
  }

  /**
   * Judges the heat windows held back for the herd whose hours the herd has told by now, or can no longer:
   * the farm's event time has moved SETTLE_MAX_MS past them. Not by the clock: a farm gone quiet tells
   * nothing more, and a verdict taken then would be the first few cows' again, and differ from a replay's.
   * `now` is the farm's event time: how far its held readings are released (releaseHeld), plus the reorder
   * hold. Asked after each reading that touches the herd and when a release ends, a wait ends with the same
   * readings judged whatever order they arrived in.
   */
  private recheckHeats(now: number | null): void {
    const watermark = now ?? -Infinity;
    for (const cowId of this.rechecks) {
      const cow = this.cows.get(cowId);
      const r = cow?.state.heatRecheck;
      const b = cow?.state.heatBackfill;
      if (!cow || (!r && !b)) {
        this.rechecks.delete(cowId);
        continue;
      }
      // Counted from when it was held, if that is later than its window's end: a backlog that is her newest
      // readings is judged long after its hours, and counted from their end, it would not wait at all.
      if (r) r.heldAt ??= watermark;
      if (r && (watermark >= Math.max(r.end * HOUR_MS, r.heldAt!) + SETTLE_MAX_MS || this.herd.settled(r.end - 1))) {
        this.dirty.add(cowId);
        this.tell(cow.recheckHeat());
      }
      // A backlog's hours were long past when it came: its wait is counted from then.
      if (b) {
        b.heldAt ??= watermark;
        if (watermark >= b.heldAt + SETTLE_MAX_MS || settledAll(this.herd, b.from - this.rules.heat.windowHours, b.to)) {
          this.dirty.add(cowId);
          this.tell(cow.recheckBackfill());
        }
      }
      if (!cow.heatHeld) this.rechecks.delete(cowId);
    }
  }

  /** A battery level from the network server (no reading): see CowDetector.observeBattery. */
  observeBattery(cowId: string, collarId: string, ts: number, batteryPct: number): readonly AlertEvent[] {
    const cow = this.cows.get(cowId) ?? this.addCow({ farmId: this.farmId, cowId, collarId });
    const events = cow.observeBattery(ts, batteryPct);
    if (events.length) this.dirty.add(cowId);
    return events;
  }

  /** The wall-clock half of silence detection: catches a farm where every collar went quiet at once. */
  checkSilence(nowWall: number): AlertEvent[] {
    this.out = null;
    this.scanSilence(nowWall, 'wall_clock');
    const out = this.out ?? [];
    this.out = null;
    return out;
  }

  /** Its events go where the call under way's go (`out`). */
  private scanSilence(now: number, judgedBy: 'event_time' | 'wall_clock'): void {
    // A cow whose collar went quiet still has her last readings held for reordering: the farm's event time
    // has moved past them, so nothing that could still come would be measured before them.
    const holdMs = this.rules.reorder.minutes * 60_000;
    if (judgedBy === 'event_time' && holdMs > 0) {
      // As far as the farm's frontier, which a collar ahead of the gateway's clock cannot move (observe).
      const upTo = Math.min(now, this.farm.frontier ?? -Infinity) - holdMs;
      this.releaseHeld(upTo);
      // forEach, not for-of over entries: a scan visits every cow each quarter hour of farm time, and an entry
      // is an array made for each of them (a sixth of what the rules core allocated per reading).
      this.cows.forEach((cow, cowId) => {
        const held = cow.held;
        if (!held) return;
        this.tell(cow.releaseOwn(upTo));
        if (cow.held !== held) this.dirty.add(cowId);
      });
    }
    const cfg = this.rules.collarOffline;
    const maxAhead = this.opts.maxAheadOfArrivalMs;
    this.cows.forEach((cow, cowId) => {
      const e = cow.judgeSilence(now, judgedBy, cfg, maxAhead);
      if (e) {
        (this.out ??= []).push(e);
        this.dirty.add(cowId);
      }
    });
  }

  /**
   * Forgets a cow's state: her collar went to another cow, or she has another collar now. What a collar
   * measured on one cow is not another cow's normal, and a new collar's scale need not match the old one's.
   */
  retireCow(cowId: string): boolean {
    this.dirty.delete(cowId);
    const cow = this.cows.get(cowId);
    if (cow) cow.retired = true;
    return this.cows.delete(cowId);
  }

  /**
   * A collar that ran unassigned and is now registered to the cow wearing it: its history was hers all
   * along, so she keeps its baseline and open alerts under her own id.
   */
  renameCow(from: string, to: string): void {
    const cow = this.cows.get(from);
    if (!cow || from === to) return;
    if (this.cows.has(to)) throw new Error(`cow ${to} already has a detector`);
    cow.state.subject = { ...cow.state.subject, cowId: to };
    cow.orderKey = orderKeyOf(to);
    applyRecord(cow.state, this.records.get(to));
    this.cows.delete(from);
    this.dirty.delete(from);
    this.cows.set(to, cow);
    this.dirty.add(to);
  }

  /** Readings kept out of detection as impossible values, since the agent started. */
  impossibleReadings(): number {
    let n = 0;
    for (const cow of this.cows.values()) n += cow.impossibleReadings;
    return n;
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

function applyRecord(state: CowState, record: CowRecord | undefined): void {
  if (record && (record.calvedAt !== undefined || record.inseminatedAt !== undefined)) state.record = record;
  else delete state.record;
}
