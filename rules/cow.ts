import { emptyAlertBook, raise, type AlertEvent, type Subject } from './alerts.js';
import { DAY_MS, HERD_HOUR_S, HOUR_MS } from './baseline.js';
import { judgeBattery } from './battery.js';
import { blinds, hersOf, judgeImpossible, judgeSignal, judgeSpikes, spikeLine } from './collar-fault.js';
import type { CowState, HerdView, Push, RuleContext } from './context.js';
import { CHUNK_S, followsOn, hourOf, judgeDownLate, judgeDownReading, judgeDownResolved } from './down-cow.js';
import { judgeHealth } from './health.js';
import { judgeHeat, judgeMissedCycle } from './heat.js';
import { CowHistory } from './history.js';
import { utcDays, type DayShift } from './localday.js';
import { Normals } from './normal.js';
import { collarBack, judgeSilence } from './offline.js';
import type { Reading } from './reading.js';
import type { RuleSet } from './ruleset.js';
import { markRise } from './rise.js';
import { foldHour, newTrend, QUICK, RISE, TREND_SLOTS } from './trend.js';
import { SNAPSHOT_VERSION, decodeHistory, encodeHistory, type CowSnapshot } from './snapshot.js';

/**
 * One cow's detection, in event time. Readings are spread over hour slots by the interval they summarise;
 * when an hour completes (or a late reading fills in one already judged), the rules judge the window that
 * ends there against the same clock window on her previous days. Nothing here reads a clock: the only wall
 * time that enters is passed in by the caller (arrival time, and `now` for silent collars).
 *
 * Readings that come a little out of order (a network server retrying, two gateways hearing one collar) are
 * held for `reorder.minutes` and judged in the order they were measured, so any such order gives the same
 * alerts; a reading later than that is still taken into her history and re-judges the hours it fills.
 */

export interface ObserveResult {
  /** What the reading led to: most readings lead to nothing, and share one empty list. */
  events: readonly AlertEvent[];
  /** False when the reading was too late to take part in detection (it is still worth storing). */
  judged: boolean;
  /** The reading is stamped implausibly far in the future: kept out of her history and clock. */
  future?: boolean;
  /** Held for the farm to release in its order: judged, it will touch the herd (CowDetector.releaseOwn). */
  touchesHerd?: boolean;
}

/**
 * How far past both its arrival and the cow's newest reading a reading may be stamped before it counts
 * as "in the future". A gateway whose clock runs behind (no RTC, NTP not synced) still sees its collars
 * step forward 15 minutes at a time, and a collar back from days out of reach arrives on time; only a clock
 * gone wrong (a reset collar stamping 2030) jumps this far, and must not drag her clock with it.
 */
export const FUTURE_JUMP_MS = DAY_MS;

const NO_EVENTS: readonly AlertEvent[] = Object.freeze([]);
/** The results of a reading that led to nothing, shared: most readings (allocated per reading, they were a quarter of what the rules core allocated). */
const JUDGED: ObserveResult = Object.freeze({ events: NO_EVENTS, judged: true });
const FUTURE: ObserveResult = Object.freeze({ events: NO_EVENTS, judged: false, future: true });
const HELD_OWN: ObserveResult = Object.freeze({ events: NO_EVENTS, judged: true, touchesHerd: false });
const HELD_HERD: ObserveResult = Object.freeze({ events: NO_EVENTS, judged: true, touchesHerd: true });
/** What releaseThrough gives when the reading it was asked for had been judged already. */
export const NO_RELEASE: readonly AlertEvent[] = Object.freeze([]);

/**
 * Where the rules' events go during one call of a cow's: made at the first event, none for a call with none.
 * One for every cow, not one closure each (a twentieth of what a cow held): judging is synchronous, and no
 * call of a cow's judges another cow (the herd view only counts and reads).
 */
let out: AlertEvent[] | null = null;
const emit: Push = (e) => {
  if (e) (out ??= []).push(e);
};
/** What the call now ending said, and a clean slate for the next. */
function said(): readonly AlertEvent[] {
  const o = out;
  out = null;
  return o ?? NO_EVENTS;
}

/** Readings stamped past the gateway's clock are taken as her time once they form a stream this long. */
const TRUSTED_AHEAD_MS = 2 * HOUR_MS;

/** How far back a backlog's hours are judged for a heat (a heat lasts 8-20 h; insemination 12-18 h after onset). */
const BACKFILL_HOURS = 48;
/** A cow id's place in the farm's order of release among readings measured at the same moment: FNV-1a. */
export function orderKeyOf(cowId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < cowId.length; i++) h = Math.imul(h ^ cowId.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Hours of history a cow keeps: her comparison days, plus room for the longest window and its onset. */
export function historyHours(rules: RuleSet): number {
  const longest = Math.max(rules.heat.windowHours, rules.health.windowHours, 24);
  return rules.baseline.days * 24 + 2 * longest + 1;
}

export class CowDetector implements RuleContext {
  readonly state: CowState;
  readonly history: CowHistory;
  /** Where she goes among cows measured at the same moment when the farm releases held readings (farm.ts). */
  orderKey: number;
  /** Taken off the farm (FarmDetector.retireCow): nothing of hers is judged any more. */
  retired = false;
  readonly normal: Normals;
  /** Readings kept out of her history because no cow can do that (see `impossible`); not persisted. */
  impossibleReadings = 0;
  /** Readings held until `reorder.minutes` of newer ones have come; oldest first. */
  private pending: Reading[];

  constructor(
    readonly rules: RuleSet,
    init: Subject | CowSnapshot,
    /** How far back k days of the farm's clock are (daylight saving); UTC days by default. */
    private readonly dayShift: DayShift = utcDays,
    readonly herd: HerdView | null = null,
  ) {
    const hours = historyHours(rules);
    if ('v' in init) {
      const { v: _v, history, pending, ...state } = init;
      this.state = state;
      // A trend stored before it told her own rises from the herd's: its last rise is taken as hers. One stored
      // before it had a quick horizon starts that at her fast one, the nearest thing it knew.
      if (state.trend && state.trend.length < QUICK) state.trend = [...state.trend, state.trend[RISE]!, state.trend[RISE]!];
      if (state.trend && state.trend.length < TREND_SLOTS) state.trend = [...state.trend, ...state.trend.slice(0, 4), 0];
      this.history = new CowHistory(hours, decodeHistory(history));
      this.pending = pending ?? [];
    } else {
      this.state = { subject: init, lastTs: null, lastArrival: null, alerts: emptyAlertBook(), runs: null, lastHeat: null };
      this.history = new CowHistory(hours);
      this.pending = [];
    }
    this.normal = new Normals(this.history, rules.baseline, dayShift);
    this.orderKey = orderKeyOf(this.state.subject.cowId);
  }

  get subject(): Subject {
    return this.state.subject;
  }

  /** Her newest reading, held or judged. */
  get newestTs(): number | null {
    return this.pending.length ? Math.max(this.pending.at(-1)!.ts, this.state.lastTs ?? -Infinity) : this.state.lastTs;
  }

  /** Her state as plain JSON, to store and to restore her exactly where she was. */
  snapshot(): CowSnapshot {
    return {
      v: SNAPSHOT_VERSION,
      ...this.state,
      history: encodeHistory(this.history),
      ...(this.pending.length && { pending: this.pending.map((r) => ({ ...r })) }),
    };
  }

  /**
   * The network server's own word on the battery (a LoRaWAN device-status answer), between readings. It
   * counts only if it is not older than her newest reading by more than the reordering window: a status
   * from a backlog must not overrule a newer reading's level. It is no sign of life: the collar's readings
   * are what the farmer needs.
   */
  observeBattery(ts: number, batteryPct: number): readonly AlertEvent[] {
    out = null;
    const newest = this.newestTs;
    if (newest === null || ts >= newest - this.rules.reorder.minutes * 60_000) {
      judgeBattery(this, { collarId: this.subject.collarId, ts, intervalS: 0, activity: 0, batteryPct }, emit);
    }
    return said();
  }

  /**
   * `maxAheadOfArrivalMs`: when set (live ingest), a reading stamped further than that past its arrival and
   * more than FUTURE_JUMP_MS past her newest reading is left out: one reading stamped 2030 would otherwise
   * move her clock there, and every real reading after it would count as too late to judge. It does not
   * count as a sign of life either, so a collar sending nothing else is found silent.
   */
  observe(reading: Reading, arrivalWall: number, maxAheadOfArrivalMs?: number, farmReleases = false): ObserveResult {
    const s = this.state;
    out = null;
    const push = emit;
    // Against what she has been judged on, not what is held: two glitches a day apart must not vouch for
    // each other.
    if (
      maxAheadOfArrivalMs !== undefined &&
      reading.ts > arrivalWall + maxAheadOfArrivalMs &&
      reading.ts > (s.lastTs ?? arrivalWall) + FUTURE_JUMP_MS
    ) {
      return FUTURE;
    }
    s.lastArrival = Math.max(s.lastArrival ?? arrivalWall, arrivalWall);
    // Any reading at all proves the collar is talking again: said at once, not held for reordering (the
    // farmer told it was silent wants to know). So this one moment is the first reading to arrive, which in
    // a burst reordered within the window may be any of its first few.
    push(collarBack(s, reading.ts));
    // Only the newest word on the battery counts: a backlog reading from days ago must not resolve today's
    // alert. Said at once: a battery is not a cow's behaviour, and nothing is gained by holding it. A reading
    // stamped past the gateway's clock (held, waiting for it) neither speaks for the battery nor silences
    // the readings on time after it.
    if (reading.batteryPct !== undefined) {
      const bound = maxAheadOfArrivalMs === undefined ? Infinity : arrivalWall + maxAheadOfArrivalMs;
      let latest = s.lastTs ?? -Infinity;
      for (let i = this.pending.length - 1; i >= 0; i--) {
        if (this.pending[i]!.ts <= bound) {
          latest = Math.max(latest, this.pending[i]!.ts);
          break;
        }
      }
      if (reading.ts <= bound && reading.ts >= latest) judgeBattery(this, reading, push);
    }
    const holdMs = this.rules.reorder.minutes * 60_000;
    if (holdMs > 0 && (s.lastTs === null || reading.ts > s.lastTs)) {
      let i = this.pending.length;
      while (i > 0 && this.pending[i - 1]!.ts > reading.ts) i--;
      // A reading pushed into an empty array gets 17 places (compactHeld).
      if (i === 0 && !this.pending.length) this.pending = [reading];
      else if (i === this.pending.length) this.pending.push(reading);
      else this.pending.splice(i, 0, reading);
      if (maxAheadOfArrivalMs !== undefined) {
        if (reading.ts > arrivalWall + maxAheadOfArrivalMs) s.aheadSince ??= arrivalWall;
        else if (s.aheadSince !== undefined) delete s.aheadSince;
      }
      if (i === this.pending.length - 1 && this.frontier(arrivalWall, maxAheadOfArrivalMs) >= reading.ts) this.downAhead(push);
      // On a farm the held readings that touch the herd are released by the farm, in the order measured.
      if (farmReleases) return this.result(true, this.touchesHerd(i));
      this.release(this.frontier(arrivalWall, maxAheadOfArrivalMs) - holdMs, push);
      return this.result(true);
    }
    return this.result(this.judge(reading, push));
  }

  /**
   * A cow down, told without waiting out the reorder hold. Her readings wait `reorder.minutes` so that any
   * order they arrive in gives the same alerts — but when hers have come in the order measured, one after
   * another with no gap, none of hers can still come to sort in among them, and what the hold would decide
   * about her being down is known now. It is decided on a copy of her judging her held readings as their
   * release will (the down rule asks nothing of the herd), and raised on her at once: a quarter of an hour
   * sooner for the one alert where minutes count. Her held readings are judged as ever when released; the
   * alert is open by then, so it is not raised twice. Only for a cow still in her newest reading, well into
   * a spell: copying her is costly, and a cow down is rare.
   */
  private downAhead(push: Push): void {
    const s = this.state;
    const cfg = this.rules.downCow;
    // A spell with a stretch not heard in it may yet be ended by a late reading for that stretch: the hold's.
    if (s.alerts.open.down_cow || blinds(s) || s.down?.gap) return;
    const newest = this.pending.at(-1)!;
    const norm = this.normal.hourNormal('act', hourOf(newest));
    if (!(norm > 0) || newest.activity > cfg.restActivityRatio * norm * (newest.intervalS / 3600)) return;
    // Her held readings follow on from her last judged one and from each other: a reading still to come
    // could not sort in among them. The rule judges a quarter-hour at a time, counted as it counts (one
    // closes at the first reading that takes it to 15 minutes or more, and the next starts from nothing: a
    // 10-minute collar's close every 20 minutes), after 1.5 hours counted (5 without rumination; an hourly
    // collar's first still hour may do): only a reading that closes a quarter-hour, far enough in, can raise
    // it. (A collar reporting every minute would otherwise be copied for every reading of a spell.)
    let prev = s.lastTs;
    let heldS = 0;
    let chunkS = s.down?.chunkS ?? 0;
    let closes = false;
    for (const r of this.pending) {
      if (prev === null || r.ts <= prev || !followsOn(r, prev)) return;
      prev = r.ts;
      heldS += r.intervalS;
      chunkS += r.intervalS;
      closes = chunkS >= CHUNK_S;
      if (closes) chunkS = 0;
    }
    const need = (newest.intervalS >= 3600 ? 1 : newest.rumination === undefined ? cfg.hoursWithoutRumination : cfg.hours) * 3600;
    if (!closes || (s.down?.countedS ?? 0) + (s.down?.chunkS ?? 0) + heldS < need) return;
    const before = structuredClone(this.snapshot());
    const twin = new CowDetector(this.rules, structuredClone(before), this.dayShift);
    const said: AlertEvent[] = [];
    const keep: Push = (e) => {
      if (e) said.push(e);
    };
    for (const r of twin.pending.splice(0)) twin.judge(r, keep);
    const e = said.find((x) => x.type === 'down_cow' && x.state === 'firing');
    if (!e) return;
    const raising = { at: e.at, since: e.since, severity: e.severity, evidence: e.evidence, cooldownMs: cfg.cooldownHours * HOUR_MS };
    // Raised now, it is open when her held readings before it are judged, and her health holds back while she
    // is down (one trouble, one alert): a sick cow going down would lose her health alert. So a second copy
    // judges them with it open, and only if everything comes out the same — what is said, and where she is
    // left — is it raised ahead; otherwise the hold's order decides.
    if (this.pending[0]!.ts < e.at) {
      const ahead = new CowDetector(this.rules, before, this.dayShift);
      raise(ahead.state.alerts, ahead.subject, 'down_cow', raising);
      const aheadSaid: AlertEvent[] = [];
      for (const r of ahead.pending.splice(0)) ahead.judge(r, (x) => x && aheadSaid.push(x));
      const rest = said.filter((x) => x !== e);
      if (JSON.stringify(aheadSaid) !== JSON.stringify(rest) || JSON.stringify(ahead.snapshot()) !== JSON.stringify(twin.snapshot())) return;
    }
    push(raise(s.alerts, s.subject, 'down_cow', raising));
  }

  private result(judged: boolean, touchesHerd?: boolean): ObserveResult {
    const events = said();
    if (events === NO_EVENTS && judged) return touchesHerd === undefined ? JUDGED : touchesHerd ? HELD_HERD : HELD_OWN;
    return touchesHerd === undefined ? { events, judged } : { events, judged, touchesHerd };
  }

  /**
   * How far her held readings may be judged: up to her newest — but a few readings stamped past what the
   * gateway's clock allows (a collar clock glitching hours ahead) wait for real time instead of pushing her
   * clock, and every real reading after them, into the past. Only a stream of them lasting TRUSTED_AHEAD_MS
   * is taken as her time (a gateway whose own clock is behind: no RTC, NTP not synced yet).
   */
  frontier(arrivalWall: number, maxAheadMs: number | undefined): number {
    const newest = this.newestTs!;
    if (maxAheadMs === undefined) return newest;
    const bound = arrivalWall + maxAheadMs;
    return newest <= bound || this.trustedAhead(arrivalWall) ? newest : bound;
  }

  /**
   * Whether her readings have all come stamped past the gateway's clock for TRUSTED_AHEAD_MS of arrivals:
   * then the gateway's clock is the one behind (or her collar's runs steadily ahead), not a glitch — a
   * glitch is followed by readings on time, which start the count again.
   */
  private trustedAhead(arrivalWall: number): boolean {
    const since = this.state.aheadSince;
    return since !== undefined && arrivalWall - since >= TRUSTED_AHEAD_MS;
  }

  /** Judges the held readings measured at or before `upTo`, in the order they were measured. */
  release(upTo: number, push: Push): void {
    const held = this.pending.length;
    while (this.pending.length && this.pending[0]!.ts <= upTo) this.judge(this.pending.shift()!, push);
    if (this.pending.length < held) this.compactHeld();
  }

  /**
   * An array keeps the room it once grew to, and grows by 17 places at a time: a cow holding one reading
   * between her collar's reports (a quarter-hourly collar, the common case) would keep 17, a fiftieth of
   * what she holds.
   */
  private compactHeld(): void {
    if (this.pending.length === 1) this.pending = [this.pending[0]!];
  }

  /** Whether a heat window of hers waits for the herd to tell its hours (heatRecheck, heatBackfill). */
  get heatHeld(): boolean {
    return !!(this.state.heatRecheck || this.state.heatBackfill);
  }

  /** Her heat window held back for the herd (CowState.heatRecheck), judged now. */
  recheckHeat(): readonly AlertEvent[] {
    const r = this.state.heatRecheck;
    if (!r) return NO_EVENTS;
    delete this.state.heatRecheck;
    out = null;
    judgeHeat(this, r.end, emit, r.intervalS, 'recheck');
    return said();
  }

  /** The heat windows a backlog filled in, held back for the herd (CowState.heatBackfill), judged now, oldest first. */
  recheckBackfill(): readonly AlertEvent[] {
    const r = this.state.heatBackfill;
    if (!r) return NO_EVENTS;
    delete this.state.heatBackfill;
    out = null;
    for (let end = r.from; end <= r.to && !this.state.alerts.open.heat; end++) judgeHeat(this, end, emit, r.intervalS, 'backfill-recheck');
    return said();
  }

  /** Readings held for reordering. */
  get held(): number {
    return this.pending.length;
  }

  /**
   * Judges her held readings measured at or before `upTo`, in the order measured, up to the first that
   * touches the herd: one that completes an hour (she tells the herd how it went, and heat and health ask
   * the herd about its hours) or reaches back into the hour before. The rest judge only her, so when they
   * are judged among her herd-mates' readings changes nothing; the farm releases the ones that touch the
   * herd in one order (FarmDetector).
   */
  releaseOwn(upTo: number): readonly AlertEvent[] {
    if (!this.ownDue(upTo)) return NO_EVENTS;
    out = null;
    while (this.ownDue(upTo)) this.judge(this.pending.shift()!, emit);
    this.compactHeld();
    return said();
  }

  /** Whether her first held reading is measured at or before `upTo` and judges only her. */
  private ownDue(upTo: number): boolean {
    return this.pending.length > 0 && this.pending[0]!.ts <= upTo && !this.touchesHerd(0);
  }

  /**
   * Judges her held readings measured at or before `ts` (the farm's turn for her reading at `ts`, which
   * touches the herd), then those after it up to `upTo` that judge only her. NO_RELEASE when that reading
   * has been judged already.
   */
  releaseThrough(ts: number, upTo: number): readonly AlertEvent[] {
    if (!this.pending.length || this.pending[0]!.ts > ts) return NO_RELEASE;
    out = null;
    while (this.pending.length && this.pending[0]!.ts <= ts) this.judge(this.pending.shift()!, emit);
    while (this.ownDue(upTo)) this.judge(this.pending.shift()!, emit);
    this.compactHeld();
    return said();
  }

  /**
   * Whether her held reading `i`, judged after the one before it, touches the herd (see releaseOwn). A
   * reading held in between can only take that away from it (the hour then completes with that one).
   */
  touchesHerd(i: number): boolean {
    const r = this.pending[i]!;
    const last = i > 0 ? this.pending[i - 1]!.ts : this.state.lastTs;
    const hour = Math.floor(r.ts / HOUR_MS);
    return last === null || r.ts <= last || Math.floor(last / HOUR_MS) !== hour || r.ts - r.intervalS * 1000 < hour * HOUR_MS;
  }

  /** When her held readings that touch the herd were measured (a restored snapshot's, for the farm's order). */
  heldTouchingHerd(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.pending.length; i++) if (this.touchesHerd(i)) out.push(this.pending[i]!.ts);
    return out;
  }

  private judge(reading: Reading, push: Push): boolean {
    const s = this.state;
    const h = this.history;
    const newest = s.lastTs === null || reading.ts > s.lastTs;
    if (!newest && reading.ts <= h.oldest * HOUR_MS) return false;
    const median = this.dayMedian();
    let impossible = this.impossible(reading, median);
    let rescaled = false;
    if (impossible && newest && s.impossible && reading.ts - s.impossible.from >= DAY_MS) {
      // A whole day on another scale is not a broken collar but a different one (a new model, new firmware):
      // her normal is learnt afresh, warm-up and all, rather than her readings refused for ever.
      h.clear(h.oldest, h.newest ?? h.oldest);
      delete s.trend;
      impossible = false;
      rescaled = true;
    }
    if (newest) judgeImpossible(this, reading, impossible, push, rescaled);
    // A burst over the spike line (collar-fault.ts): counted, and while a spiking collar is open, kept out.
    const spike = !rescaled && median > 0 && (reading.activity * 3600) / reading.intervalS >= spikeLine(reading.intervalS) * median;
    if (newest) judgeSpikes(this, reading, spike, push);
    const spiking = spike && s.alerts.open.collar_fault?.evidence.kind === 'spikes';
    // An impossible reading is not late: it completes hours like any other (she is heard, and the collar may
    // be swapped back), it only adds nothing to her history.
    if (impossible) this.impossibleReadings++;
    if (impossible && !newest) return false;
    const completedBefore = s.lastTs === null ? null : Math.floor(s.lastTs / HOUR_MS);
    if (newest) {
      if (!impossible) judgeSignal(this, reading, push, rescaled ? NaN : median);
      h.advanceTo(Math.floor(reading.ts / HOUR_MS));
      s.lastTs = reading.ts;
    }
    // What a faulty collar reads is not the cow: kept out of her history, as the stretch before it was. So is a
    // backlog's reading of the fault, arriving late (a gateway outage during a flat line): its zeros would
    // read as a cow hardly moving or chewing, an urgent health alarm once the fault is over (hersOf). A
    // sensor stuck beside a live activity (rumination, lying) is only that signal: her rules go on without it.
    // A spiking collar's bursts are kept out, and its other readings are hers.
    const blind = blinds(s);
    const hers = impossible || spiking ? null : hersOf(s, reading);
    if (hers && !(newest && blind)) {
      if (!newest && this.herd) this.addLate(hers);
      else h.add(hers);
    }
    // Windows are made of completed hours only (a past day's hour is only known whole, so the hour in
    // progress cannot be compared fairly). They change when an hour completes or a late reading fills one in.
    // A collar known to be faulty says nothing about the cow: her rules wait until it reads true again.
    const end = Math.floor(s.lastTs! / HOUR_MS);
    if (blind) return true;
    if (hers) {
      if (newest) judgeDownReading(this, hers, push);
      else judgeDownLate(this, hers);
    }
    if (completedBefore !== null && end > completedBefore) {
      // After two days without a word her trend says little about her now: it starts again.
      if (end - completedBefore > 48) delete s.trend;
      for (let t = Math.max(completedBefore, end - 6); t < end; t++) this.closeHour(t, reading.intervalS);
    }
    // A backlog from a gateway that was down fills hours already passed: a heat in them is judged at the
    // end of the hour the reading completes, as it would have been live (raised, never resolved, in the
    // past: her newest window says whether it is over). Within two days: older is history, not news.
    const filled = Math.floor((reading.ts - 1) / HOUR_MS) + 1;
    if (!newest && filled < end && filled >= end - BACKFILL_HOURS) judgeHeat(this, filled, push, reading.intervalS, 'backfill');
    if (end !== completedBefore || reading.ts - reading.intervalS * 1000 < end * HOUR_MS) {
      judgeHeat(this, end, push, reading.intervalS);
      judgeMissedCycle(this, end, push);
      judgeHealth(this, end, push);
      judgeDownResolved(this, end, push);
    }
    return true;
  }

  /**
   * An activity no cow can reach: more in one reading than many hours of her mean rate (a heat is 2-4x her
   * normal, at most about 12x the mean in her busiest hour). A collar sending garbage, a counter that wrapped: kept
   * out of her history, where one such reading spread over three hours would read as three hours of heat.
   */
  private impossible(r: Reading, median: number): boolean {
    // Judged per hour at least: a minute's reading may well hold a burst many times her hourly mean.
    return median > 0 && r.activity > this.rules.collarFault.impossibleRatio * median * Math.max(1, r.intervalS / 3600);
  }

  /** Her median hourly activity over the day before her newest hour; NaN while not known. */
  private dayMedian(): number {
    const h = this.history;
    if (h.newest === null) return NaN;
    const day = this.normal.stretchNormal('act', h.newest - 24, h.newest - 1);
    return day ? day.median : NaN;
  }

  /**
   * An hour has completed: fold it into her weighted evidence, look for a rise of hers in it (rise.ts), and
   * tell the herd how it went for her (warm cows only). The trend weighs the hour by her normal for it, so a
   * quiet night hour counts for little in it; whether she was hot is judged against at least a share of her
   * day's mean rate, as heat is.
   */
  private closeHour(t: number, intervalS: number): void {
    const h = this.history;
    const rate = h.rate('act', t, HERD_HOUR_S);
    const normal = this.normal.hourNormal('act', t);
    if (rate !== rate || normal <= 0) return;
    const rumNormal = this.normal.hourNormal('rum', t);
    const rum = h.rate('rum', t, HERD_HOUR_S);
    const rumKnown = rumNormal > 0 && rum === rum;
    const trend = (this.state.trend ??= newTrend());
    foldHour(trend, this.rules.health, 0, rate, normal);
    if (rumKnown) foldHour(trend, this.rules.health, 1, rum, rumNormal);
    markRise(this, trend, t, intervalS);
    this.tellHerd(t, rate, normal, rum, rumNormal, this.lyingRatio(t));
  }

  /** Her lying in a completed hour against her normal for it; NaN where her collar does not tell lying. */
  private lyingRatio(t: number): number {
    const lie = this.history.rate('lie', t, HERD_HOUR_S);
    if (lie !== lie) return NaN;
    const normal = this.normal.hourNormal('lie', t);
    return normal > 0 ? lie / normal : NaN;
  }

  /**
   * How her completed hour went, for the herd (warm cows only): hot or not, how often she is hot at this hour
   * of her ordinary days (Normals.hotShare), and her ratios to normal (her
   * rumination's and lying's, where both it and its normal are known). Hot is judged as the heat rule judges
   * an hour, against at least half her mean hourly rate (a quiet night hour twice its normal is no heat);
   * her activity's ratio is to her plain normal, as her trend takes it: against that floor a herd lying
   * quietly through the small hours read 0.7 of its normal every night, and its "drop" was taken out of
   * every cow's drop over a window holding a night.
   */
  private tellHerd(t: number, rate: number, normal: number, rum: number, rumNormal: number, lieRatio: number): void {
    if (!this.herd) return;
    const day = this.normal.stretchNormal('act', t - 23, t);
    const floor = day ? this.rules.heat.floorShare * day.median : 0;
    const hotRatio = this.rules.heat.hotRatio;
    this.herd.report(t, rate >= hotRatio * Math.max(normal, floor), this.normal.hotShare(t, hotRatio, floor), rate / normal, rumNormal > 0 && rum === rum ? rum / rumNormal : NaN, lieRatio);
  }

  /**
   * A late reading, into her history; the completed hours it makes known (half an hour covered, as a closing
   * hour needs to be told) are told to the herd now, as they could not be when they closed. The herd's hours
   * of a gateway outage come so, in its cows' backlogs: without them, a spell of the whole herd in the
   * outage was nobody's, and a heat for each cow.
   */
  private addLate(r: Reading): void {
    const h = this.history;
    const first = Math.floor((r.ts - r.intervalS * 1000) / HOUR_MS);
    const last = Math.min(Math.floor((r.ts - 1) / HOUR_MS), Math.floor(this.state.lastTs! / HOUR_MS) - 1);
    const lo = Math.max(first, last - BACKFILL_HOURS);
    let before = 0;
    // A bit per hour it touches (a reading of up to a day: backlogs are quarter-hours to a few hours).
    for (let t = lo; t <= last && t - lo < 30; t++) if (h.covered('act', t) < HERD_HOUR_S) before |= 1 << (t - lo);
    h.add(r);
    for (let t = lo; t <= last && t - lo < 30; t++) {
      if (!(before & (1 << (t - lo))) || h.covered('act', t) < HERD_HOUR_S) continue;
      const normal = this.normal.hourNormal('act', t);
      if (normal <= 0) continue;
      this.tellHerd(t, h.rate('act', t, HERD_HOUR_S), normal, h.rate('rum', t, HERD_HOUR_S), this.normal.hourNormal('rum', t), this.lyingRatio(t));
    }
  }

  judgeSilence(now: number, judgedBy: 'event_time' | 'wall_clock', cfg: RuleSet['collarOffline'], maxAheadMs?: number): AlertEvent | null {
    const s = this.state;
    // A held reading stamped far past its arrival does not prove she is heard until then.
    let heard = this.newestTs;
    if (heard !== null && maxAheadMs !== undefined && s.lastArrival !== null) heard = Math.min(heard, Math.max(s.lastTs ?? -Infinity, s.lastArrival + maxAheadMs));
    return judgeSilence(s, heard, now, judgedBy, cfg);
  }

  /** Days of history she has (for the status page: is she still warming up?). */
  historyDays(): number {
    const first = this.history.firstHourWithData();
    return first === null ? 0 : Math.floor((this.history.newest! - first) / 24);
  }
}
