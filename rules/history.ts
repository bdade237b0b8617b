import { HOUR_MS } from './baseline.js';
import type { Reading } from './reading.js';

/**
 * A cow's recent history, which is also her baseline: what she did in each hour, as a fixed ring of hour
 * slots in one small buffer. Hours are indexed by their number since the epoch (`ms / HOUR_MS`), so a slot's
 * place in the ring is its hour modulo the ring's length and nothing but the newest hour is stored to say
 * which hours the ring holds.
 *
 * 9 bytes an hour (activity as a 32-bit float, rumination in 1/500 minute, the time each covers and the time
 * she lay in 15-second units): 385 hours — 14 comparison days, a 48-hour window and its onset — are 3.4 KB,
 * so 100,000 cows fit in under half a gigabyte. Readings are spread over the hours by the stretch of
 * time they cover, so a collar reporting every minute and one reporting every two hours fill the same slots
 * alike.
 */
export type Metric = 'act' | 'rum';
/** What an hour slot holds: the two signals judged over windows, and lying (asked of single hours only). */
export type HourMetric = Metric | 'lie';

/**
 * Activity as a 32-bit float; rumination in 1/500 minute; covered time in 15-second units, per metric; lying
 * in 15-second units too, over the time activity covers. (Rings from before lying was kept, 8 bytes an hour,
 * came with snapshot version 4: the agent rebuilds those cows from their stored readings, lying and all.)
 */
const BYTES_PER_HOUR = 9;
const RUM_UNIT = 1 / 500;
const MAX_RUM = 0xffff;
/** Lying, in 15-second units: an hour is 240. */
const LIE_UNIT = 1 / 4;
const MAX_LIE = 0xfe;
/** An hour a reading without lying fell in: its lying is not known (a collar that does not tell it). */
const LIE_UNKNOWN = 0xff;
const COVER_UNIT_S = 15;
const MAX_COVER = 0xff;

export class CowHistory {
  readonly hours: number;
  private newestHour: number | null = null;
  /** The ring slot of the newest hour: a held hour's slot is found from it by a subtraction, not a division. */
  private newestSlot = 0;
  /** Bumped on every change, so what is computed from the history can be remembered until it changes. */
  version = 0;
  /** Bumped when an hour more than a day old changes (a late reading): what her past days say has changed. */
  pastVersion = 0;
  private readonly act: Float32Array;
  private readonly rum: Uint16Array;
  /** Covered 15-second units: activity at [i], rumination at [hours + i]. */
  private readonly cov: Uint8Array;
  /** 15-second units she lay, over the time activity covers; LIE_UNKNOWN where a reading did not tell it. */
  private readonly lie: Uint8Array;

  constructor(hours: number, from?: { newest: number | null; data: Uint8Array }) {
    this.hours = hours;
    const buf = new ArrayBuffer(hours * BYTES_PER_HOUR);
    this.act = new Float32Array(buf, 0, hours);
    this.rum = new Uint16Array(buf, hours * 4, hours);
    this.cov = new Uint8Array(buf, hours * 6, 2 * hours);
    this.lie = new Uint8Array(buf, hours * 8, hours);
    if (from && from.data.byteLength === buf.byteLength) {
      new Uint8Array(buf).set(from.data);
      this.setNewest(from.newest);
    }
  }

  /** Hour number of the newest slot the ring holds; null before the first reading. */
  get newest(): number | null {
    return this.newestHour;
  }

  private setNewest(hour: number | null): void {
    this.newestHour = hour;
    if (hour !== null) this.newestSlot = this.slotOf(hour);
  }

  /** The oldest hour still held. */
  get oldest(): number {
    return this.newest === null ? Infinity : this.newest - this.hours + 1;
  }

  holds(hour: number): boolean {
    return this.newest !== null && hour <= this.newest && hour > this.newest - this.hours;
  }

  private slotOf(hour: number): number {
    const i = hour % this.hours;
    return i < 0 ? i + this.hours : i;
  }

  /** The slot of an hour: `slotOf`, without its division for the hours the ring holds (nearly every call). */
  private index(hour: number): number {
    const back = this.newestHour === null ? -1 : this.newestHour - hour;
    if (back < 0 || back >= this.hours) return this.slotOf(hour);
    const i = this.newestSlot - back;
    return i < 0 ? i + this.hours : i;
  }

  /** Moves the ring forward to `hour`, clearing the slots it reuses. */
  advanceTo(hour: number): void {
    if (this.newest !== null && hour <= this.newest) return;
    this.version++;
    const from = this.newest === null ? hour : this.newest + 1;
    const n = Math.min(hour - from + 1, this.hours);
    this.setNewest(hour);
    for (let k = 0, h = hour - n + 1; k < n; k++, h++) this.clearHour(h);
  }

  private clearHour(hour: number): void {
    const i = this.index(hour);
    this.act[i] = 0;
    this.rum[i] = 0;
    this.cov[i] = 0;
    this.cov[this.hours + i] = 0;
    this.lie[i] = 0;
  }

  /** Forgets the hours [first, last] that the ring holds (a faulty collar's stretch). */
  clear(first: number, last: number): void {
    this.version++;
    this.pastVersion++;
    for (let h = Math.max(first, this.oldest); h <= Math.min(last, this.newest ?? -Infinity); h++) this.clearHour(h);
  }

  /** Forgets one signal over the hours [first, last] that the ring holds (a sensor stuck while the others live). */
  forget(metric: 'rum' | 'lie', first: number, last: number): void {
    this.version++;
    this.pastVersion++;
    for (let h = Math.max(first, this.oldest); h <= Math.min(last, this.newest ?? -Infinity); h++) {
      const i = this.index(h);
      if (metric === 'rum') {
        this.rum[i] = 0;
        this.cov[this.hours + i] = 0;
      } else this.lie[i] = LIE_UNKNOWN;
    }
  }

  /**
   * Spreads a reading over the hours its interval covers. The caller advances the ring first for a newest
   * reading; parts in hours the ring no longer holds (or does not hold yet) are dropped.
   */
  add(r: Reading): void {
    const startMs = r.ts - r.intervalS * 1000;
    const durMs = r.ts - startMs;
    const rum = r.rumination;
    const lie = r.lying;
    this.version++;
    if (this.newest !== null && startMs < (this.newest - 23) * HOUR_MS) this.pastVersion++;
    for (let h = Math.floor(startMs / HOUR_MS); h * HOUR_MS < r.ts; h++) {
      if (!this.holds(h)) continue;
      const overlap = Math.min(r.ts, (h + 1) * HOUR_MS) - Math.max(startMs, h * HOUR_MS);
      if (overlap <= 0) continue;
      const share = overlap / durMs;
      // Rounded at both ends, on the epoch's grid: consecutive pieces' rounding cancels, whatever the interval.
      const unit = COVER_UNIT_S * 1000;
      const units = Math.round(Math.min(r.ts, (h + 1) * HOUR_MS) / unit) - Math.round(Math.max(startMs, h * HOUR_MS) / unit);
      const i = this.index(h);
      this.act[i] = this.act[i]! + r.activity * share;
      this.cov[i] = Math.min(MAX_COVER, this.cov[i]! + units);
      if (rum !== undefined) {
        this.rum[i] = Math.min(MAX_RUM, this.rum[i]! + Math.round((rum * share) / RUM_UNIT));
        this.cov[this.hours + i] = Math.min(MAX_COVER, this.cov[this.hours + i]! + units);
      }
      if (lie === undefined) this.lie[i] = LIE_UNKNOWN;
      else if (this.lie[i] !== LIE_UNKNOWN) {
        // Rounded with a dither fixed by the reading's time and the hour: a minute's 0.1 minute lying is not
        // lost to rounding on every reading, and the same readings give the same hour in any order.
        const x = (r.ts / 1000) * 0.6180339887498949 + h * 0.7548776662466927;
        const dither = x - Math.floor(x) - 0.5;
        this.lie[i] = Math.min(MAX_LIE, this.lie[i]! + Math.max(0, Math.round((lie * share) / LIE_UNIT + dither)));
      }
    }
  }

  /** Total of a metric in one hour (0 outside the ring). */
  value(metric: HourMetric, hour: number): number {
    if (!this.holds(hour)) return 0;
    return this.valueAt(metric, this.index(hour));
  }

  private valueAt(metric: HourMetric, i: number): number {
    return metric === 'act' ? this.act[i]! : metric === 'rum' ? this.rum[i]! * RUM_UNIT : this.lie[i]! * LIE_UNIT;
  }

  private coverAt(metric: HourMetric, i: number): number {
    if (metric === 'lie' && this.lie[i] === LIE_UNKNOWN) return 0;
    return this.cov[metric === 'rum' ? this.hours + i : i]! * COVER_UNIT_S;
  }

  /** Seconds of one hour covered by readings carrying the metric (0 outside the ring). */
  covered(metric: HourMetric, hour: number): number {
    if (!this.holds(hour)) return 0;
    return this.coverAt(metric, this.index(hour));
  }

  /** Rate per hour in one hour, or NaN when fewer than `minCoverS` seconds of it are covered. */
  rate(metric: HourMetric, hour: number, minCoverS = 1): number {
    if (!this.holds(hour)) return NaN;
    const i = this.index(hour);
    const cov = this.coverAt(metric, i);
    if (cov < minCoverS || cov === 0) return NaN;
    return (this.valueAt(metric, i) * 3600) / cov;
  }

  /**
   * The rates of the hours `step`, 2·`step`, … `count`·`step` hours before `hour` (the same clock hour on her
   * past days) that have at least `minCoverS` seconds covered and a rate that is a number, written to `out`
   * as `rate` gives them; returns how many. The hour normals' inner loop, run for every hour of every cow:
   * one pass over the ring.
   */
  pastRates(metric: HourMetric, hour: number, step: number, count: number, minCoverS: number, out: Float64Array): number {
    const newest = this.newest;
    if (newest === null || step <= 0 || step >= this.hours) return 0;
    const oldest = newest - this.hours + 1;
    // Each typed array read at a site of its own: a site reading several kinds is polymorphic, and slower.
    if (metric === 'lie') return this.pastLying(hour, step, count, minCoverS, out);
    const act = metric === 'act';
    const off = act ? 0 : this.hours;
    let n = 0;
    let t = hour - step;
    let i = this.index(t);
    for (let k = 1; k <= count && t >= oldest; k++) {
      if (t <= newest) {
        const cov = this.cov[off + i]! * COVER_UNIT_S;
        if (cov >= minCoverS && cov !== 0) {
          const rate = ((act ? this.act[i]! : this.rum[i]! * RUM_UNIT) * 3600) / cov;
          // NaN only from a reading that was not a number (ingest refuses those): left out, as from `rate`.
          if (rate === rate) out[n++] = rate;
        }
      }
      t -= step;
      i -= step;
      if (i < 0) i += this.hours;
    }
    return n;
  }

  private pastLying(hour: number, step: number, count: number, minCoverS: number, out: Float64Array): number {
    const newest = this.newest!;
    const oldest = newest - this.hours + 1;
    let n = 0;
    let t = hour - step;
    let i = this.index(t);
    for (let k = 1; k <= count && t >= oldest; k++) {
      if (t <= newest) {
        const cov = this.cov[i]! * COVER_UNIT_S;
        const lie = this.lie[i]!;
        if (cov >= minCoverS && cov !== 0 && lie !== LIE_UNKNOWN) out[n++] = (lie * LIE_UNIT * 3600) / cov;
      }
      t -= step;
      i -= step;
      if (i < 0) i += this.hours;
    }
    return n;
  }

  /**
   * Sums of a metric and its covered seconds over the hours [first, last], written to `out` (no allocation:
   * this runs several hundred times per judged hour).
   */
  sum(metric: Metric, first: number, last: number, out: Sum): Sum {
    let value = 0;
    let cov = 0;
    if (this.newest !== null) {
      const lo = Math.max(first, this.newest - this.hours + 1);
      const hi = Math.min(last, this.newest);
      const off = metric === 'act' ? 0 : this.hours;
      let i = this.index(lo);
      // A loop per typed array (see pastRates).
      if (metric === 'act') {
        for (let h = lo; h <= hi; h++) {
          value += this.act[i]!;
          cov += this.cov[i]!;
          if (++i === this.hours) i = 0;
        }
      } else {
        for (let h = lo; h <= hi; h++) {
          value += this.rum[i]!;
          cov += this.cov[off + i]!;
          if (++i === this.hours) i = 0;
        }
        value *= RUM_UNIT;
      }
      cov *= COVER_UNIT_S;
    }
    out.value = value;
    out.coveredS = cov;
    return out;
  }

  /** The whole ring as bytes, for a snapshot. */
  bytes(): Uint8Array {
    return new Uint8Array(this.act.buffer);
  }

  /** Oldest hour with any data, for "how many days does she have". */
  firstHourWithData(): number | null {
    if (this.newest === null) return null;
    for (let h = this.oldest; h <= this.newest; h++) if (this.covered('act', h) > 0 || this.covered('rum', h) > 0) return h;
    return null;
  }
}

export interface Sum {
  value: number;
  coveredS: number;
}

export const newSum = (): Sum => ({ value: 0, coveredS: 0 });
