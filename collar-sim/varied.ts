/**
 * A varied herd: the physics of a real herd (oestrous cycles, silent heats, several kinds of illness,
 * calving, a cow that is down, herd-wide events, collar faults), collars whose clocks run off, and a
 * gateway that delivers late, out of order and twice. Every injected episode, and each collar's clock error,
 * is in the ground truth. Parameters are drawn from ranges per seed (farm) and per cow, so a detector tuned
 * on one seed cannot win by fitting its constants.
 *
 * Separate from simulateHerd on purpose: the 'default' scenarios stay byte for byte what they were.
 */
import type { Reading } from '../rules/reading.js';
import { BASELINE_DAYS, BATTERY_LOW_PCT, DAY, HOUR, MIN, checkHerd, clamp, drawCow, profileAt, round1, type CowBase } from './common.js';
import type { EpisodeType } from './herd.js';
import { Rng, deriveSeed } from './random.js';
import { standardOffset, zoneOffset } from './timezone.js';

export type VariedEpisodeType = EpisodeType | 'calving' | 'down_cow' | 'collar_fault' | 'herd_event' | 'delivery_gap';

/**
 * One injected episode, half-open [start, end) in epoch ms (event time).
 * - heat: `silent` when the activity rise is too small to see (peak 1.0–1.3×).
 * - illness: subtype ketosis | metritis | mastitis | lameness; `depth` is the fraction lost at the worst
 *   (rumination for the first three, activity for lameness); start is the first sign, end full recovery.
 * - calving: start is when restlessness begins, params.calvingAt the birth, end when the dip after it is over;
 *   params.servedAt the insemination she conceived from, which a herd register keeps.
 * - down_cow: subtype milk_fever (after a calving) | injury.
 * - collar_fault: subtype flatline | stuck | activity_stuck | rumination_stuck | lying_stuck | spikes |
 *   battery_dying; start and end are reading timestamps of the collar (the first faulty reading, the first
 *   good one or the collar's death). `<signal>_stuck` is that one signal repeating its last true value while
 *   the others live; spikes, bursts of 10-40 hours of her activity added to about one reading in seven.
 * - collar_offline: subtype battery_dead, from the collar's death until its replacement.
 * - battery_low: from the first reading under 15 % until the battery is replaced (or the run ends).
 * - herd_event: subtype heat_stress | schedule_change | pasture_move, cowId/collarId '*', `cows` affected.
 * - delivery_gap: subtype gateway | radio; readings measured in the gap arrive as a backlog after `end`
 *   (params.lost of them never arrive: the collar's buffer overflowed). `cows` lists the collars behind it.
 */
export interface VariedTruthEpisode {
  cowId: string;
  collarId: string;
  type: VariedEpisodeType;
  subtype?: string;
  start: number;
  end: number;
  silent?: boolean;
  depth?: number;
  cows?: string[];
  params?: Record<string, number>;
}

export interface VariedHerdOptions {
  farmId: string;
  cows: number;
  startMs: number;
  days: number;
  seed: number;
  /** Reading intervals to pick from per collar (s, each 60..7200). Default: a mix of 60/300/900/3600/7200 s, mostly 900. */
  intervals?: readonly number[];
  /**
   * The farm's IANA time zone (default UTC). The cows' day (milking, feeding, rest) and the farmer's doings
   * (a pasture move, a milking-time change) follow its clock, so across a daylight-saving change the rhythm
   * moves by an hour in UTC; the weather (heat stress) follows the sun, that is its standard time.
   */
  timezone?: string;
  /**
   * Cows as noisy as real ones (default false: the steadier cows the detector was first tuned on). A cow
   * lies down in bouts of about an hour at no fixed hour, and a minute she lies through carries a
   * twenty-fifth of a standing minute's movement; an hour up may be spent standing or walking; her days
   * differ by some 15 % on activity. Each hour's expected activity, rumination and lying are what they are
   * without it: only the noise is real. Measured against the IceTag leg tags (bench/realism.ts).
   */
  realNoise?: boolean;
}

/**
 * A reading as the gateway sees it, in arrival order: `arrivedAt` on the gateway's clock, which is true
 * time; `reading.ts` on the collar's own clock (true time + its clockSkewMs, or its clock reset's stamp).
 */
export interface Arrival {
  arrivedAt: number;
  reading: Reading;
}

/** A collar whose clock reset once: the reading it measured at `at` (true time) it stamped `ts`, years ahead. */
export interface ClockReset {
  at: number;
  ts: number;
}

/** A cow in the ground truth. */
export interface VariedCow {
  cowId: string;
  collarId: string;
  intervalS: number;
  cycleDays?: number;
  /** How far the collar's clock runs ahead of true time (ms; negative: behind). Every reading it stamps carries it. */
  clockSkewMs: number;
  clockReset?: ClockReset;
}

export interface VariedFarmParams {
  levelMedian: number;
  levelSigma: number;
  noiseSigma: number;
  farmPhaseH: number;
  cyclingFraction: number;
  silentFraction: number;
  calvingRate: number;
  illnessRate: number;
  latencyMedianS: number;
  backlogDuplicateRate: number;
  /** Spread (s, one standard deviation) of the ordinary collar clock errors, which stay within ±2 min. */
  clockSkewSdS: number;
  /** Share of collars whose clock is 2–10 min off. */
  clockOffFraction: number;
}

export interface VariedHerdSimulation {
  farmId: string;
  seed: number;
  startMs: number;
  days: number;
  /** End of the run: every collar's last reading is at or before it. */
  endMs: number;
  /** The farm's IANA time zone, whose clock the herd's day follows. */
  timezone: string;
  cows: VariedCow[];
  params: VariedFarmParams;
  /** Episodes in true time (the gateway's clock), whatever the collars' clocks say. */
  truth: VariedTruthEpisode[];
  /**
   * Everything the collars measured, stamped in true time (ts is when it was measured, not what the collar's
   * clock said: that is in arrivals()), sorted by ts then collarId; lazily regenerated, same every call.
   */
  readings(): Iterable<Reading>;
  /**
   * What reaches the gateway, in arrival order (ties by generation order): live readings a few seconds after
   * they were measured, backlogs after each delivery gap in shuffled chunks, some chunks twice, overflowed
   * buffers never. Each reading's ts is on its collar's clock (see VariedCow).
   */
  arrivals(): Iterable<Arrival>;
}

const INTERVAL_CHOICES = [60, 300, 900, 3600, 7200] as const;
const INTERVAL_WEIGHTS = [0.03, 0.1, 0.67, 0.15, 0.05] as const;

const smooth = (x: number) => { const u = clamp(x, 0, 1); return u * u * (3 - 2 * u); };

/** Physical episode as the generator applies it; herd events are copied onto each affected cow. */
interface Phys {
  kind: 'heat' | 'illness' | 'calving' | 'down' | 'stress' | 'pasture';
  start: number;
  end: number;
  // heat
  peak?: number; rumDrop?: number; rampIn?: number; rampOut?: number;
  // illness
  ramp?: number; recovery?: number; actF?: number; rumF?: number; lieF?: number; fever?: number;
  // calving
  calvingAt?: number; restless?: number; dipAct?: number; dipRum?: number;
  // down
  downAct?: number;
  // stress: the farm's standard UTC offset (ms), as the sun keeps no daylight saving
  offset?: number;
}

interface Fault {
  subtype: 'flatline' | 'stuck' | 'activity_stuck' | 'rumination_stuck' | 'lying_stuck' | 'spikes' | 'battery_dying';
  start: number; // first faulty reading ts
  end: number; // first good reading ts (flatline/stuck) or death (battery_dying)
  replaceAt: number; // battery_dying: new battery from here; runEnd+ if never
  bStart: number; // battery at start (battery_dying)
}

interface Gap { subtype: 'gateway' | 'radio'; start: number; end: number; capacity: number }

interface Cow extends CowBase {
  intervalS: number;
  intervalMs: number;
  steps: number;
  clockSkewMs: number;
  clockReset?: ClockReset;
  cycleDays?: number;
  phys: Phys[];
  faults: Fault[];
  gaps: Gap[];
  busy: Array<[number, number]>;
}

type Eff = { act: number; rum: number; lie: number; eat: number; temp: number; down: number };

function effectAt(cow: Cow, t: number, m: Eff): void {
  m.act = 1; m.rum = 1; m.lie = 1; m.eat = 1; m.temp = 0; m.down = -1;
  for (const e of cow.phys) {
    if (t < e.start || t >= e.end) continue;
    switch (e.kind) {
      case 'heat': {
        const r = clamp(Math.min((t - e.start) / e.rampIn!, (e.end - t) / e.rampOut!), 0, 1);
        m.act *= 1 + (e.peak! - 1) * r;
        m.rum *= 1 - e.rumDrop! * r;
        m.lie *= 1 - 0.4 * r;
        m.eat *= 1 - 0.3 * r;
        break;
      }
      case 'illness': {
        const recStart = e.end - e.recovery!;
        const r = t < e.start + e.ramp! ? smooth((t - e.start) / e.ramp!) : t >= recStart ? 1 - smooth((t - recStart) / e.recovery!) : 1;
        m.act *= 1 - (1 - e.actF!) * r;
        m.rum *= 1 - (1 - e.rumF!) * r;
        m.lie *= 1 + (e.lieF! - 1) * r;
        m.eat *= 1 - (1 - Math.min(e.actF!, e.rumF!)) * r;
        m.temp += e.fever! * r;
        break;
      }
      case 'calving': {
        if (t < e.calvingAt!) {
          const r = ((t - e.start) / (e.calvingAt! - e.start)) ** 2;
          m.act *= 1 + (e.restless! - 1) * r;
          m.rum *= 1 - 0.35 * r;
          m.lie *= 1 - 0.3 * r;
          m.eat *= 1 - 0.5 * r;
        } else {
          const d = 1 - (t - e.calvingAt!) / (e.end - e.calvingAt!);
          m.act *= 1 - (1 - e.dipAct!) * d;
          m.rum *= 1 - (1 - e.dipRum!) * d;
          m.eat *= 1 - (1 - e.dipRum!) * d;
          m.temp += 0.2 * d;
        }
        break;
      }
      case 'down':
        m.down = e.downAct!;
        m.temp += e.fever!;
        m.rum *= e.rumF!;
        break;
      case 'stress': {
        // Worst in the afternoon heat, milder at night.
        const h = (((((t + e.offset!) % DAY) + DAY) % DAY) / HOUR);
        const w = clamp(Math.min((t - e.start) / (2 * HOUR), (e.end - t) / (2 * HOUR)), 0, 1) * (0.65 + 0.35 * Math.cos((2 * Math.PI * (h - 15)) / 24));
        m.act *= 1 - (1 - e.actF!) * w;
        m.rum *= 1 - (1 - e.rumF!) * w;
        m.lie *= 1 - 0.2 * w;
        m.temp += e.fever! * w;
        break;
      }
      case 'pasture': {
        const r = clamp(Math.min((t - e.start) / (0.5 * HOUR), (e.end - t) / HOUR), 0, 1);
        m.act *= 1 + (e.peak! - 1) * r;
        m.rum *= 1 - 0.1 * r;
        m.lie *= 1 - 0.3 * r;
        m.eat *= 1 + 0.2 * r;
        break;
      }
    }
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Uniform in [0, 1) from a position, not a stream: lets truth be computed up front for things readings decide. */
function hash01(...parts: number[]): number {
  return deriveSeed(...parts) / 4294967296;
}

export function simulateVariedHerd(opts: VariedHerdOptions): VariedHerdSimulation {
  const { farmId, cows: n, startMs, days, seed } = opts;
  checkHerd(n, days);
  const choices = opts.intervals ?? INTERVAL_CHOICES;
  if (choices.length === 0 || choices.some((s) => !Number.isInteger(s) || s < 60 || s > 7200)) {
    throw new RangeError('intervals must be integers in 60..7200');
  }
  const endMs = startMs + Math.floor((days * DAY) / MIN) * MIN;
  const earliest = startMs + BASELINE_DAYS * DAY;
  const latestEnd = endMs - 2 * HOUR;

  // ---- the farm's clock ----
  const timezone = opts.timezone ?? 'UTC';
  const offset = zoneOffset(timezone, startMs - DAY, endMs + DAY);
  const solarOffset = standardOffset(offset, startMs);
  /** The instant at which the farm's clock shows wall time w (local time written as if it were UTC). */
  const fromWall = (w: number) => w - offset(w - offset(w));
  const wallDay0 = Math.floor((startMs + offset(startMs)) / DAY) * DAY; // local midnight of the first day

  // ---- farm: drawn per seed ----
  const farm = new Rng(deriveSeed(seed, 101));
  const clock = new Rng(deriveSeed(seed, 111)); // its own stream: the other parameters stay what they were
  const params: VariedFarmParams = {
    levelMedian: farm.uniform(350, 550),
    levelSigma: farm.uniform(0.2, 0.4),
    noiseSigma: farm.uniform(0.2, 0.3),
    farmPhaseH: farm.uniform(-1, 1),
    cyclingFraction: farm.uniform(0.5, 0.8),
    silentFraction: farm.uniform(0.1, 0.3),
    calvingRate: farm.uniform(0.06, 0.15), // per cow per 90 days
    illnessRate: farm.uniform(0.02, 0.05), // per kind, per cow per 90 days
    latencyMedianS: farm.uniform(1, 6),
    backlogDuplicateRate: farm.uniform(0.1, 0.3),
    clockSkewSdS: clock.uniform(15, 50),
    clockOffFraction: clock.uniform(0.02, 0.08),
  };
  const per90 = (rate: number) => (n * rate * days) / 90;

  // ---- cows ----
  const cows: Cow[] = Array.from({ length: n }, (_, index) => {
    const rng = new Rng(deriveSeed(seed, 102, index));
    let intervalS: number;
    if (opts.intervals) intervalS = rng.pick(opts.intervals);
    else {
      let u = rng.next(), i = 0;
      while (i < INTERVAL_WEIGHTS.length - 1 && u >= INTERVAL_WEIGHTS[i]!) u -= INTERVAL_WEIGHTS[i++]!;
      intervalS = INTERVAL_CHOICES[i]!;
    }
    const cow = drawCow(rng, index, n, days, {
      drainPerDay: [0.2, 0.5], levelMedian: params.levelMedian, levelSigma: params.levelSigma, phaseSd: 0.4, phaseMax: 0.8, rumSigma: 0.12, tempSd: 0.12,
    });
    return {
      ...cow,
      intervalS,
      intervalMs: intervalS * 1000,
      steps: Math.floor((endMs - startMs) / (intervalS * 1000)),
      clockSkewMs: 0,
      phys: [],
      faults: [],
      gaps: [],
      busy: [],
    };
  });
  const ids = (cs: Cow[]) => cs.map((c) => c.cowId);
  const truth: VariedTruthEpisode[] = [];
  const free = (c: Cow, s: number, e: number, margin = 0) => c.busy.every(([a, b]) => e + margin <= a || s - margin >= b);
  const occupy = (c: Cow, s: number, e: number) => c.busy.push([s, e]);
  /** First reading ts of the cow at or after t. */
  const gridUp = (c: Cow, t: number) => startMs + Math.ceil((t - startMs) / c.intervalMs) * c.intervalMs;

  // ---- herd-wide events ----
  const hr = new Rng(deriveSeed(seed, 103));
  let schedule: { at: number; shiftH: number } | undefined;
  const herdBusy: Array<[number, number]> = [];
  const herdSlot = (dur: number, hourLo: number, hourHi: number): number | undefined => {
    for (let tries = 0; tries < 50; tries++) {
      const day = Math.floor(hr.uniform(earliest - startMs, latestEnd - dur - startMs) / DAY);
      const s = fromWall(wallDay0 + day * DAY + Math.round(hr.uniform(hourLo, hourHi) * 4) * (HOUR / 4));
      if (s < earliest || s + dur > latestEnd) continue;
      if (herdBusy.some(([a, b]) => s < b + DAY && a < s + dur + DAY)) continue;
      herdBusy.push([s, s + dur]);
      return s;
    }
    return undefined;
  };
  const room = latestEnd - earliest;
  if (room > 4 * DAY) {
    const stressN = Math.max(1, Math.round((days / 60) * hr.uniform(0.7, 1.3)));
    for (let i = 0; i < stressN; i++) {
      const dur = Math.round(hr.uniform(20, 44)) * HOUR;
      const s = herdSlot(dur, 8, 11);
      if (s === undefined) continue;
      const frac = hr.uniform(0.7, 0.95);
      const affected = hr.shuffle([...cows]).slice(0, Math.max(1, Math.round(frac * n))).sort((a, b) => a.index - b.index);
      const actF = hr.uniform(0.7, 0.85), rumF = 1 - hr.uniform(0.1, 0.2), fever = hr.uniform(0.2, 0.5);
      for (const c of affected) c.phys.push({ kind: 'stress', start: s, end: s + dur, actF, rumF, fever, offset: solarOffset });
      truth.push({ cowId: '*', collarId: '*', type: 'herd_event', subtype: 'heat_stress', start: s, end: s + dur, cows: ids(affected), depth: 1 - rumF, params: { activity: actF, rumination: rumF } });
    }
    const moveN = Math.max(1, Math.round((days / 30) * hr.uniform(0.7, 1.3)));
    for (let i = 0; i < moveN; i++) {
      const dur = Math.round(hr.uniform(6, 12) * 4) * (HOUR / 4);
      const s = herdSlot(dur, 6, 15);
      if (s === undefined) continue;
      const frac = hr.uniform(0.2, 0.6);
      const affected = hr.shuffle([...cows]).slice(0, Math.max(1, Math.round(frac * n))).sort((a, b) => a.index - b.index);
      const peak = hr.uniform(1.3, 1.8);
      for (const c of affected) c.phys.push({ kind: 'pasture', start: s, end: s + dur, peak });
      truth.push({ cowId: '*', collarId: '*', type: 'herd_event', subtype: 'pasture_move', start: s, end: s + dur, cows: ids(affected), params: { activity: peak } });
    }
    if (room > 7 * DAY) {
      const day = Math.floor(hr.uniform(earliest - startMs + DAY, latestEnd - startMs - 3 * DAY) / DAY);
      const at = fromWall(wallDay0 + day * DAY);
      const shiftH = (hr.next() < 0.5 ? -1 : 1) * hr.uniform(1, 2);
      schedule = { at, shiftH };
      truth.push({ cowId: '*', collarId: '*', type: 'herd_event', subtype: 'schedule_change', start: at, end: endMs, cows: ids(cows), params: { shiftH } });
    }
  }

  // ---- calving, and what may follow it ----
  const pr = new Rng(deriveSeed(seed, 104));
  const order = pr.shuffle([...cows]);
  const calvers: Array<{ cow: Cow; at: number }> = [];
  const calvN = room > 6 * DAY ? Math.max(1, Math.round(per90(params.calvingRate))) : 0;
  // The insemination each calving comes from, as a herd register keeps it: gestation in Holsteins averages
  // about 279 days, a spread of five or six (Norman et al. 2009, J. Dairy Sci. 92:2259). Its own stream: the
  // herd's episodes stay what they were.
  const gr = new Rng(deriveSeed(seed, 114));
  for (const c of order.slice(0, calvN)) {
    const at = pr.uniform(earliest + DAY, latestEnd - 3 * DAY);
    const servedAt = at - clamp(279 + 5.5 * gr.normal(), 260, 300) * DAY;
    const pre = pr.uniform(6, 24) * HOUR, dip = pr.uniform(1, 2.5) * DAY;
    const ph: Phys = { kind: 'calving', start: at - pre, end: Math.min(at + dip, latestEnd), calvingAt: at, restless: pr.uniform(1.3, 1.8), dipAct: pr.uniform(0.6, 0.8), dipRum: pr.uniform(0.7, 0.85) };
    c.phys.push(ph);
    occupy(c, ph.start, ph.end);
    calvers.push({ cow: c, at });
    truth.push({ cowId: c.cowId, collarId: c.collarId, type: 'calving', start: ph.start, end: ph.end, params: { calvingAt: at, servedAt, restless: ph.restless!, dipActivity: ph.dipAct!, dipRumination: ph.dipRum! } });
  }

  type IllKind = 'ketosis' | 'metritis' | 'mastitis' | 'lameness';
  const placeIllness = (c: Cow, kind: IllKind, s: number, margin = DAY): boolean => {
    let ramp: number, plateau: number, recovery: number, actF: number, rumF: number, lieF: number, fever: number;
    if (kind === 'ketosis') {
      ramp = pr.uniform(2, 3) * DAY; plateau = pr.uniform(2, 5) * DAY; recovery = pr.uniform(2, 4) * DAY;
      rumF = pr.uniform(0.4, 0.68); actF = pr.uniform(0.5, 0.72); lieF = pr.uniform(1.05, 1.2); fever = 0;
    } else if (kind === 'metritis') {
      ramp = pr.uniform(1, 1.5) * DAY; plateau = pr.uniform(2, 4) * DAY; recovery = pr.uniform(2, 3) * DAY;
      rumF = pr.uniform(0.35, 0.6); actF = pr.uniform(0.5, 0.7); lieF = pr.uniform(1.1, 1.3); fever = pr.uniform(0.5, 1.0);
    } else if (kind === 'mastitis') {
      ramp = pr.uniform(1, 1.25) * DAY; plateau = pr.uniform(1, 2) * DAY; recovery = pr.uniform(1, 2) * DAY;
      rumF = pr.uniform(0.35, 0.55); actF = pr.uniform(0.55, 0.75); lieF = pr.uniform(1.1, 1.3); fever = pr.uniform(0.6, 1.2);
    } else {
      ramp = pr.uniform(1, 2) * DAY; plateau = pr.uniform(3, 10) * DAY; recovery = pr.uniform(3, 5) * DAY;
      rumF = pr.uniform(0.95, 1.0); actF = pr.uniform(0.5, 0.7); lieF = pr.uniform(1.15, 1.35); fever = 0;
    }
    const e = Math.min(s + ramp + plateau + recovery, latestEnd);
    if (s < earliest || e - s < ramp + DAY || !free(c, s, e, margin)) return false;
    recovery = Math.min(recovery, e - s - ramp);
    c.phys.push({ kind: 'illness', start: s, end: e, ramp, recovery, actF, rumF, lieF, fever });
    occupy(c, s, e);
    truth.push({
      cowId: c.cowId, collarId: c.collarId, type: 'illness', subtype: kind, start: s, end: e,
      depth: Math.round((1 - (kind === 'lameness' ? actF : rumF)) * 1000) / 1000,
      params: { rampH: ramp / HOUR, recoveryH: recovery / HOUR, activity: actF, rumination: rumF, lying: lieF, fever },
    });
    return true;
  };
  const placeDown = (c: Cow, s: number, subtype: 'milk_fever' | 'injury'): boolean => {
    const e = s + pr.uniform(3, 10) * HOUR;
    if (s < earliest || e > latestEnd) return false;
    // A milk-fever cow goes down during the dip after her calving; anything else needs a clear slot.
    if (subtype === 'injury' && !free(c, s, e, DAY)) return false;
    const ph: Phys = { kind: 'down', start: s, end: e, downAct: pr.uniform(0.01, 0.04), rumF: pr.uniform(0.1, 0.5), fever: subtype === 'milk_fever' ? -pr.uniform(0.4, 0.9) : 0 };
    c.phys.push(ph);
    occupy(c, s, e);
    truth.push({ cowId: c.cowId, collarId: c.collarId, type: 'down_cow', subtype, start: s, end: e, params: { activity: ph.downAct!, rumination: ph.rumF! } });
    return true;
  };
  const milkFeverRate = pr.uniform(0.05, 0.15), metritisRate = pr.uniform(0.15, 0.35), ketosisRate = pr.uniform(0.1, 0.2);
  let metritis = 0;
  for (const { cow, at } of calvers) {
    if (pr.next() < milkFeverRate) placeDown(cow, at + pr.uniform(2, 24) * HOUR, 'milk_fever');
    const after = Math.max(at + pr.uniform(2, 8) * DAY, cow.busy[0]![1]); // after the calving dip
    if (pr.next() < metritisRate) metritis += placeIllness(cow, 'metritis', after, 0) ? 1 : 0;
    else if (pr.next() < ketosisRate) placeIllness(cow, 'ketosis', after + pr.uniform(3, 12) * DAY, 0);
  }
  // Every scenario with a calving has a metritis when the run leaves room for one.
  for (const { cow } of calvers) {
    if (metritis > 0) break;
    metritis += placeIllness(cow, 'metritis', Math.max(...cow.busy.map(([, b]) => b)) + pr.uniform(0.5, 2) * DAY, 0) ? 1 : 0;
  }

  // ---- sporadic illness and down cows ----
  const sporadic = (count: number, place: (c: Cow) => boolean) => {
    let placed = 0;
    for (let tries = 0; placed < count && tries < 30 * count; tries++) if (place(pr.pick(cows))) placed++;
  };
  for (const kind of ['ketosis', 'mastitis', 'lameness'] as const) {
    sporadic(Math.max(1, Math.round(per90(params.illnessRate))), (c) => placeIllness(c, kind, pr.uniform(earliest, latestEnd - 3 * DAY)));
  }
  sporadic(Math.max(truth.some((t) => t.type === 'down_cow') ? 0 : 1, Math.round(per90(pr.uniform(0.005, 0.015)))), (c) =>
    placeDown(c, pr.uniform(earliest, latestEnd - 10 * HOUR), 'injury'));

  // ---- oestrous cycles ----
  const calvedAt = new Map(calvers.map((x) => [x.cow, x.at]));
  for (const c of cows) {
    const rng = new Rng(deriveSeed(seed, 105, c.index));
    const cycling = rng.next() < params.cyclingFraction;
    const cAt = calvedAt.get(c);
    if (!cycling && cAt === undefined) continue; // pregnant all run long
    const cycle = rng.uniform(18, 24);
    c.cycleDays = Math.round(cycle * 10) / 10;
    // Calvers are pregnant until calving; the first ovulation after it comes weeks later and is often silent.
    let t = cAt !== undefined ? cAt + rng.uniform(25, 40) * DAY : startMs - rng.uniform(0, cycle) * DAY;
    let first = cAt !== undefined;
    while (t < endMs) {
      const dur = rng.uniform(8, 20) * HOUR;
      const silent = first ? rng.next() < 0.6 : rng.next() < params.silentFraction;
      const peak = silent ? rng.uniform(1.0, 1.3) : rng.uniform(2.3, 4.0);
      const rumDrop = silent ? rng.uniform(0, 0.08) : rng.uniform(0.15, 0.25);
      const rampIn = rng.uniform(1, 3) * HOUR, rampOut = rng.uniform(1, 2) * HOUR;
      const s = t, e = t + dur;
      t += (cycle + clamp(rng.normal() * 0.7, -2, 2)) * DAY;
      first = false;
      // Heats are kept whole inside the run; a sick or calving cow does not come into heat.
      if (s < startMs || e > latestEnd || !free(c, s, e, 12 * HOUR)) continue;
      c.phys.push({ kind: 'heat', start: s, end: e, peak, rumDrop, rampIn, rampOut });
      occupy(c, s, e);
      truth.push({
        cowId: c.cowId, collarId: c.collarId, type: 'heat', start: s, end: e, ...(silent ? { silent: true } : {}),
        params: { peak, rumDrop, rampInH: rampIn / HOUR, rampOutH: rampOut / HOUR, cycleDays: c.cycleDays },
      });
    }
  }

  // ---- collar faults ----
  const fr = new Rng(deriveSeed(seed, 106));
  const placeFault = (c: Cow, kind: Fault['subtype'] | 'sensor_stuck'): boolean => {
    const subtype = kind === 'sensor_stuck' ? fr.pick(['activity_stuck', 'rumination_stuck', 'lying_stuck'] as const) : kind;
    if (c.faults.length > 0) return false;
    const durFault = subtype === 'battery_dying' ? fr.uniform(2, 6) * DAY : fr.uniform(1, 6) * DAY;
    const s = gridUp(c, fr.uniform(earliest, latestEnd - Math.min(durFault, 2 * DAY)));
    if (s < earliest || !free(c, s, s + durFault, DAY)) return false;
    const end = Math.min(gridUp(c, s + durFault), c.steps * c.intervalMs + startMs);
    if (end <= s + c.intervalMs) return false;
    if (subtype !== 'battery_dying') {
      c.faults.push({ subtype, start: s, end, replaceAt: end, bStart: 0 });
      occupy(c, s, end);
      truth.push({ cowId: c.cowId, collarId: c.collarId, type: 'collar_fault', subtype, start: s, end });
      return true;
    }
    const bStart = fr.uniform(25, 50);
    const replaceAt = gridUp(c, end + fr.uniform(12, 72) * HOUR);
    const f: Fault = { subtype, start: s, end, replaceAt, bStart };
    c.faults.push(f);
    occupy(c, s, replaceAt);
    truth.push({ cowId: c.cowId, collarId: c.collarId, type: 'collar_fault', subtype, start: s, end, params: { batteryStart: bStart } });
    const lastTs = startMs + c.steps * c.intervalMs;
    const off = Math.min(replaceAt, lastTs + c.intervalMs);
    if (off > end) truth.push({ cowId: c.cowId, collarId: c.collarId, type: 'collar_offline', subtype: 'battery_dead', start: end, end: off });
    for (let k = (s - startMs) / c.intervalMs; k <= c.steps; k++) {
      const ts = startMs + k * c.intervalMs;
      if (ts >= end) break;
      if (emits(c, k) && batteryAt(c, ts) < BATTERY_LOW_PCT) {
        truth.push({ cowId: c.cowId, collarId: c.collarId, type: 'battery_low', start: ts, end: off });
        break;
      }
    }
    return true;
  };
  // The faults a collar's single sensor makes come last, so the herds drawn before them keep theirs.
  for (const subtype of ['flatline', 'stuck', 'battery_dying', 'sensor_stuck', 'spikes'] as const) {
    let placed = 0;
    const want = room > 3 * DAY ? Math.max(1, Math.round(per90(fr.uniform(0.005, 0.015)))) : 0;
    for (let tries = 0; placed < want && tries < 50 * want; tries++) if (placeFault(fr.pick(cows), subtype)) placed++;
  }

  function batteryAt(c: Cow, ts: number): number {
    const f = c.faults[0];
    let b: number;
    if (f?.subtype === 'battery_dying' && ts >= f.start) {
      b = ts >= f.replaceAt ? 100 - (c.drainPerDay * (ts - f.replaceAt)) / DAY : f.bStart * Math.max(0, (f.end - ts) / (f.end - f.start));
    } else b = c.battery0 - (c.drainPerDay * (ts - startMs)) / DAY;
    return Math.round(clamp(b, 0, 100));
  }
  /** Whether the collar sends its k-th reading: a dying battery skips more as it empties, a dead one sends nothing. */
  function emits(c: Cow, k: number): boolean {
    const f = c.faults[0];
    if (f?.subtype !== 'battery_dying') return true;
    const ts = startMs + k * c.intervalMs;
    if (ts < f.start || ts >= f.replaceAt) return true;
    if (ts >= f.end) return false;
    const b = batteryAt(c, ts);
    return b >= 10 || hash01(seed, 107, c.index, k) >= ((10 - b) / 10) * 0.85;
  }

  // ---- delivery gaps ----
  const dr = new Rng(deriveSeed(seed, 108));
  const gateways = Math.min(4, 1 + Math.floor(n / 80));
  const gwOf = dr.shuffle(cows.map((c) => c.index)).reduce((m, idx, i) => m.set(idx, i % gateways), new Map<number, number>());
  const capacityOf = (c: Cow) => Math.round(dr.uniform(300, 2000)); // readings a collar can hold
  const capacity = cows.map(capacityOf);
  const addGap = (c: Cow, g: Gap) => c.gaps.push(g);
  const lostIn = (c: Cow, g: Gap) => {
    let kept = 0, total = 0;
    for (let k = Math.ceil((g.start - startMs) / c.intervalMs); k <= c.steps; k++) {
      const ts = startMs + k * c.intervalMs;
      if (ts >= g.end) break;
      if (k >= 1 && emits(c, k)) total++;
    }
    kept = Math.min(total, g.capacity);
    return total - kept;
  };
  if (room > 2 * DAY) {
    const gwN = Math.max(1, Math.round((days / 30) * dr.uniform(0.5, 1.5)));
    for (let i = 0; i < gwN; i++) {
      const gw = dr.int(0, gateways - 1);
      const dur = dr.uniform(2, 36) * HOUR;
      const s = Math.round(dr.uniform(startMs + DAY, latestEnd - dur - HOUR) / MIN) * MIN;
      const behind = cows.filter((c) => gwOf.get(c.index) === gw && c.gaps.every((g) => s + dur + HOUR <= g.start || s >= g.end + HOUR));
      if (behind.length === 0) continue;
      let lost = 0;
      for (const c of behind) {
        const g: Gap = { subtype: 'gateway', start: s, end: s + dur, capacity: capacity[c.index]! };
        addGap(c, g);
        lost += lostIn(c, g);
      }
      truth.push({ cowId: '*', collarId: '*', type: 'delivery_gap', subtype: 'gateway', start: s, end: s + dur, cows: ids(behind), params: { gateway: gw, lost } });
    }
    const radioN = Math.max(1, Math.round(n * dr.uniform(0.05, 0.15) * Math.min(1, days / 30)));
    for (let i = 0; i < radioN; i++) {
      const c = dr.pick(cows);
      const dur = dr.uniform(1, 12) * HOUR;
      const s = Math.round(dr.uniform(startMs + DAY, latestEnd - dur - HOUR) / MIN) * MIN;
      if (!c.gaps.every((g) => s + dur + HOUR <= g.start || s >= g.end + HOUR)) continue;
      const g: Gap = { subtype: 'radio', start: s, end: s + dur, capacity: capacity[c.index]! };
      addGap(c, g);
      truth.push({ cowId: c.cowId, collarId: c.collarId, type: 'delivery_gap', subtype: 'radio', start: s, end: s + dur, cows: [c.cowId], params: { lost: lostIn(c, g) } });
    }
  }
  for (const c of cows) {
    c.phys.sort((a, b) => a.start - b.start);
    c.gaps.sort((a, b) => a.start - b.start);
  }
  truth.sort((a, b) => a.start - b.start || (a.collarId < b.collarId ? -1 : a.collarId > b.collarId ? 1 : 0) || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));

  // ---- collar clocks ----
  // Most collars keep time to within a minute or two; a few run minutes off; a couple reset their clock once
  // and stamp one reading years ahead. Their own streams, so nothing else about the herd moves.
  for (const c of cows) {
    const rng = new Rng(deriveSeed(seed, 112, c.index));
    const skewS = rng.next() < params.clockOffFraction
      ? (rng.next() < 0.5 ? -1 : 1) * rng.uniform(120, 600)
      : clamp(rng.normal() * params.clockSkewSdS, -120, 120);
    c.clockSkewMs = Math.round(skewS) * 1000;
  }
  const cr = new Rng(deriveSeed(seed, 113));
  const resetYear = Math.max(2030, new Date(endMs).getUTCFullYear() + 4);
  for (const c of cr.shuffle([...cows]).slice(0, cr.int(1, 2))) {
    for (let tries = 0; tries < 50 && c.steps > 0 && !c.clockReset; tries++) {
      const k = cr.int(1, c.steps);
      const at = startMs + k * c.intervalMs;
      // A reading the collar sends and the gateway hears, so the stamp does reach the agent.
      if (!emits(c, k) || c.gaps.some((g) => at >= g.start && at < g.end)) continue;
      c.clockReset = { at, ts: Date.UTC(resetYear, 0, 1) + Math.round(cr.uniform(0, 364 * DAY) / 1000) * 1000 };
    }
  }
  /** The reading as its collar stamps it. */
  const stamp = (c: Cow, r: Reading): Reading =>
    c.clockReset?.at === r.ts ? { ...r, ts: c.clockReset.ts } : c.clockSkewMs !== 0 ? { ...r, ts: r.ts + c.clockSkewMs } : r;

  // ---- readings in event time ----
  const distinct = [...new Set(cows.map((c) => c.intervalMs))];
  const tick = distinct.reduce(gcd);
  /** The hour of the cow's day at t: the farm's clock, the farm's and her own habits, the schedule. */
  const hourOf = (c: Cow, t: number) => {
    const local = t + offset(t);
    let h = ((((local % DAY) + DAY) % DAY) / HOUR) + params.farmPhaseH + c.phaseH;
    if (schedule && t >= schedule.at) h -= schedule.shiftH;
    return ((h % 24) + 24) % 24;
  };

  // ---- real cows' noise (opts.realNoise): lying bouts and days that differ ----
  /**
   * She may get up or lie down every BOUT_STEP. A lying bout lasts LIE_BOUT on average, its length drawn
   * as a Weibull of shape 1.5 (her urge to get up grows as she lies): the IceTag cows' bouts of 10 minutes
   * or more run 50 minutes at the median, 123 at the 90th centile, and over 3 hours one time in a hundred.
   */
  const BOUT_STEP = 5 * MIN, LIE_BOUT = 65 * MIN;
  const LIE_SCALE = LIE_BOUT / 0.9027; // Weibull scale for shape 1.5: mean = scale * Gamma(5/3)
  /** Her chance of lying down in a step, where her hours ask as much lying as standing (see lyingShare). */
  const LIE_DOWN = BOUT_STEP / LIE_BOUT;
  /** A lying minute's movement against a standing one's; rumination's share of a lying and a standing minute. */
  const LIE_ACT = 0.04, RUM_LYING = 0.55, RUM_STANDING = 0.2;
  const DAY_ACT_SIGMA = 0.12, DAY_RUM_SIGMA = 0.06, DAY_PHI = 0.3;
  /** Up and about, an hour of hers may be spent standing at the trough or walking to the brush. */
  const HOUR_ACT_SIGMA = 0.35;
  /** How fast a lying debt (minutes she lay less than her hours ask) is forgotten, per step: a half-life of 12 h. */
  const DEBT_KEEP = 0.5 ** (BOUT_STEP / (12 * HOUR));
  /**
   * Per cow: lying or not and since when, the next step she may change at, her lying debt, and her day's and
   * hour's factors. Made afresh for each pass over the readings, so every pass gives the same herd.
   */
  interface Bouts { rng: Rng; lying: boolean; since: number; next: number; debt: number; day: number; z: number; act: number; rum: number; hour: number; busy: number }
  const newBouts = (): Bouts[] => cows.map((c) => {
    const rng = new Rng(deriveSeed(seed, 120, c.index));
    return { rng, lying: rng.next() < 0.5, since: startMs, next: startMs, debt: 0, day: -1, z: rng.normal(), act: 1, rum: 1, hour: -1, busy: 1 };
  });
  const boutEff: Eff = { act: 1, rum: 1, lie: 1, eat: 1, temp: 0, down: -1 };
  /**
   * Her share of lying over (from, to], walking her bouts on; and her day's factors, drawn as days begin.
   * She gets up with a chance that makes a lying bout LIE_BOUT long, and lies down with the chance that makes
   * her share of lying the hour's (its profile's, and her episode's): the bouts fall at no fixed hour, the
   * day's lying stays what it was.
   */
  const lyingShare = (b: Bouts, c: Cow, from: number, to: number): number => {
    let lain = 0;
    let t = from;
    while (t < to) {
      while (b.next <= t) {
        effectAt(c, b.next, boutEff);
        if (boutEff.down >= 0) {
          if (!b.lying) b.since = b.next;
          b.lying = true;
        } else {
          const q = clamp((profileAt(hourOf(c, b.next)).lie / 15) * boutEff.lie, 0.03, 0.97);
          // A cow makes up lying she missed (and gets up sooner after lying long): her day's lying holds.
          const urge = Math.exp(b.debt / (60 * MIN));
          const was = b.lying;
          if (was) {
            // Weibull shape 1.5: the chance of getting up in this step, given she has lain this long.
            const t0 = (b.next - b.since) / LIE_SCALE, t1 = t0 + BOUT_STEP / LIE_SCALE;
            b.lying = b.rng.next() >= 1 - Math.exp(-(t1 ** 1.5 - t0 ** 1.5) / urge);
          } else b.lying = b.rng.next() < Math.min(1, (LIE_DOWN * urge * q) / (1 - q));
          if (b.lying !== was) b.since = b.next;
          b.debt = b.debt * DEBT_KEEP + (q - (b.lying ? 1 : 0)) * BOUT_STEP;
        }
        b.next += BOUT_STEP;
      }
      const end = Math.min(to, b.next);
      if (b.lying) lain += end - t;
      t = end;
    }
    // The day and hour the reading covers (one ending at midnight is the day before's).
    const d = Math.floor((to - 1 - startMs) / DAY);
    if (d !== b.day) {
      for (let k = b.day; k < d; k++) b.z = DAY_PHI * b.z + Math.sqrt(1 - DAY_PHI * DAY_PHI) * b.rng.normal();
      b.day = d;
      const zr = 0.5 * b.z + Math.sqrt(0.75) * b.rng.normal();
      b.act = Math.exp(DAY_ACT_SIGMA * b.z - (DAY_ACT_SIGMA * DAY_ACT_SIGMA) / 2);
      b.rum = Math.exp(DAY_RUM_SIGMA * zr - (DAY_RUM_SIGMA * DAY_RUM_SIGMA) / 2);
    }
    const h = Math.floor((to - 1) / HOUR);
    if (h !== b.hour) {
      b.hour = h;
      b.busy = Math.exp(HOUR_ACT_SIGMA * b.rng.normal() - (HOUR_ACT_SIGMA * HOUR_ACT_SIGMA) / 2);
    }
    return lain / (to - from);
  };

  function* readings(): Generator<Reading> {
    const rngs = cows.map((c) => new Rng(deriveSeed(seed, 109, c.index)));
    const bouts = opts.realNoise ? newBouts() : null;
    const last: Array<Reading | undefined> = cows.map(() => undefined);
    const groups = new Map<number, Cow[]>(); // mask of due intervals -> cows due, in collar order
    const m: Eff = { act: 1, rum: 1, lie: 1, eat: 1, temp: 0, down: -1 };
    for (let ts = startMs + tick; ts <= endMs; ts += tick) {
      let mask = 0;
      for (let i = 0; i < distinct.length; i++) if ((ts - startMs) % distinct[i]! === 0) mask |= 1 << i;
      if (mask === 0) continue;
      let due = groups.get(mask);
      if (!due) {
        due = cows.filter((c) => (mask >> distinct.indexOf(c.intervalMs)) & 1);
        groups.set(mask, due);
      }
      for (const c of due) {
        const k = (ts - startMs) / c.intervalMs;
        const rng = rngs[c.index]!;
        const mins = c.intervalS / 60, scale = mins / 15;
        const subs = Math.min(8, Math.max(1, Math.round(mins / 15)));
        let act = 0, rum = 0, lie = 0, eat = 0, temp = 0, downN = 0;
        for (let s = 0; s < subs; s++) {
          const t = ts - c.intervalMs + ((s + 0.5) * c.intervalMs) / subs;
          const p = profileAt(hourOf(c, t));
          effectAt(c, t, m);
          rum += p.rum * m.rum;
          temp += m.temp;
          if (m.down >= 0) {
            downN++;
            act += m.down;
          } else {
            act += p.act * m.act;
            lie += p.lie * m.lie;
            eat += p.eat * m.eat;
          }
        }
        act /= subs; rum /= subs; lie /= subs; eat /= subs; temp /= subs;
        const downFrac = downN / subs;
        // Real cows' noise: her hour as her bouts fell, against what her hour holds on average.
        let lainShare = 0;
        if (bouts) {
          const day = bouts[c.index]!;
          lainShare = Math.max(downFrac, lyingShare(day, c, ts - c.intervalMs, ts));
          // A cow down moves and chews as her episode says, not as a cow lying down to rest.
          if (downFrac === 0) {
            const expected = clamp(lie / 15, 0.03, 0.97);
            act *= (((1 - lainShare) * day.busy + LIE_ACT * lainShare) / ((1 - expected) + LIE_ACT * expected)) * day.act;
            rum *= ((RUM_STANDING * (1 - lainShare) + RUM_LYING * lainShare) / (RUM_STANDING * (1 - expected) + RUM_LYING * expected)) * day.rum;
          }
        }
        // Always the same draws per reading, so faults and skipped readings do not shift the cow's later data.
        const sig = Math.min(0.6, params.noiseSigma * Math.sqrt(15 / mins));
        const nAct = rng.lognormal(sig), uOut = rng.next(), nRum = rng.lognormal(Math.min(0.5, 0.2 * Math.sqrt(15 / mins)));
        const zRum = rng.normal(), nEat = rng.lognormal(0.3), nLie = rng.lognormal(0.15), zLie = rng.normal();
        const zTemp = rng.normal(), zRssi = rng.normal();
        const outlier = downFrac === 0 && uOut < 0.005 ? 3 : 1;
        let activity = Math.round(c.level * scale * act * nAct * outlier);
        let rumination = round1(clamp(rum * scale * c.rumFactor * nRum + zRum * 0.4 * Math.sqrt(scale) * (1 - downFrac), 0, mins));
        let eating = round1(clamp(eat * scale * nEat, 0, mins - rumination));
        let lying = bouts
          ? round1(lainShare * mins)
          : round1(clamp(lie * scale * nLie + zLie * 0.6 * Math.sqrt(scale) * (1 - downFrac) + downFrac * mins * (1 - 0.02 * Math.abs(zLie)), 0, mins));
        let temperature = Math.round((c.tempC + temp + zTemp * 0.15) * 100) / 100;
        const rssi = Math.round(clamp(c.rssi + zRssi * 5, -120, -40));
        if (!emits(c, k)) continue;
        const f = c.faults[0];
        if (f && f.subtype !== 'battery_dying' && ts >= f.start && ts < f.end) {
          const prev = last[c.index];
          if (f.subtype === 'flatline') {
            activity = 0; rumination = 0; eating = 0; lying = 0;
            temperature = prev?.temperature ?? Math.round(c.tempC * 100) / 100;
          } else if (f.subtype === 'spikes') {
            // A loose or failing sensor: a burst of counts, whatever the reading's length, in about one in seven.
            const u = hash01(seed, 109, c.index, k);
            if (u < 1 / 7) activity += Math.round(4 * c.level * (10 + 30 * hash01(seed, 110, c.index, k)));
          } else if (prev) {
            const stuckActivity = prev.activity > 0 ? prev.activity : Math.max(1, Math.round(c.level * scale * 0.5));
            if (f.subtype === 'stuck') {
              activity = stuckActivity;
              rumination = prev.rumination!; eating = prev.eating!; lying = prev.lying!; temperature = prev.temperature!;
            } else if (f.subtype === 'activity_stuck') activity = stuckActivity;
            else if (f.subtype === 'rumination_stuck') {
              rumination = prev.rumination!;
              eating = Math.min(eating, round1(mins - rumination));
            } else lying = prev.lying!;
          }
        }
        const r: Reading = {
          collarId: c.collarId, ts, intervalS: c.intervalS, activity, rumination, eating, lying, temperature,
          batteryPct: batteryAt(c, ts), rssi, seq: c.seq0 + k,
        };
        // A stuck collar keeps repeating what it reported just before sticking.
        if (!(f && ts >= f.start && ts < f.end)) last[c.index] = r;
        yield r;
      }
    }
  }

  // ---- arrival order ----
  function* arrivals(): Generator<Arrival> {
    const rngs = cows.map((c) => new Rng(deriveSeed(seed, 110, c.index)));
    const heap = new ArrivalHeap();
    const buffers = cows.map(() => [] as Reading[]);
    const ends = cows.flatMap((c) => c.gaps.map((g) => ({ c, g }))).sort((a, b) => a.g.end - b.g.end || a.c.index - b.c.index);
    let nextEnd = 0;
    const flush = (c: Cow, g: Gap) => {
      const rng = rngs[c.index]!;
      const all = buffers[c.index]!;
      buffers[c.index] = [];
      const kept = all.slice(Math.max(0, all.length - g.capacity)); // oldest overflowed the collar's buffer
      const chunks: Reading[][] = [];
      const size = rng.int(8, 48);
      for (let i = 0; i < kept.length; i += size) chunks.push(kept.slice(i, i + size));
      if (rng.next() < 0.5) rng.shuffle(chunks); else chunks.reverse(); // newest first, or any order
      let t = g.end + rng.uniform(5, 300) * 1000;
      for (const chunk of chunks) {
        t += rng.uniform(2, 120) * 1000;
        const at = Math.round(t);
        const sent = chunk.map((r) => stamp(c, r));
        sent.forEach((r, i) => heap.push(at + i, r));
        if (rng.next() < params.backlogDuplicateRate) {
          const again = Math.round(t + rng.uniform(1, 30) * MIN);
          sent.forEach((r, i) => heap.push(again + i, r));
        }
      }
    };
    const latency = (rng: Rng) => Math.max(200, Math.round(params.latencyMedianS * 1000 * rng.lognormal(0.8)));
    for (const r of readings()) {
      while (nextEnd < ends.length && ends[nextEnd]!.g.end <= r.ts) {
        const { c, g } = ends[nextEnd++]!;
        flush(c, g);
      }
      while (heap.size > 0 && heap.peekAt() <= r.ts) yield heap.pop();
      const c = cows[Number(r.collarId.slice(1)) - 1]!;
      const rng = rngs[c.index]!;
      const lat = latency(rng);
      const dupe = rng.next() < 0.002; // a QoS 1 redelivery
      if (c.gaps.some((g) => r.ts >= g.start && r.ts < g.end)) {
        buffers[c.index]!.push(r);
        continue;
      }
      const sent = stamp(c, r);
      heap.push(r.ts + lat, sent);
      if (dupe) heap.push(r.ts + lat + Math.round(rng.uniform(1, 60) * 1000), sent);
    }
    while (nextEnd < ends.length) {
      const { c, g } = ends[nextEnd++]!;
      flush(c, g);
    }
    while (heap.size > 0) yield heap.pop();
  }

  return {
    farmId, seed, startMs, days, endMs, timezone,
    cows: cows.map((c) => ({
      cowId: c.cowId, collarId: c.collarId, intervalS: c.intervalS,
      ...(c.cycleDays !== undefined ? { cycleDays: c.cycleDays } : {}),
      clockSkewMs: c.clockSkewMs,
      ...(c.clockReset ? { clockReset: { ...c.clockReset } } : {}),
    })),
    params,
    truth,
    readings,
    arrivals,
  };
}

/** Min-heap on (arrivedAt, insertion order), so equal arrival times keep a deterministic order. */
class ArrivalHeap {
  private at: number[] = [];
  private ord: number[] = [];
  private val: Reading[] = [];
  private n = 0;
  get size() { return this.at.length; }
  peekAt(): number { return this.at[0]!; }
  private less(i: number, j: number) { return this.at[i]! < this.at[j]! || (this.at[i] === this.at[j] && this.ord[i]! < this.ord[j]!); }
  private swap(i: number, j: number) {
    [this.at[i], this.at[j]] = [this.at[j]!, this.at[i]!];
    [this.ord[i], this.ord[j]] = [this.ord[j]!, this.ord[i]!];
    [this.val[i], this.val[j]] = [this.val[j]!, this.val[i]!];
  }
  push(at: number, r: Reading) {
    this.at.push(at); this.ord.push(this.n++); this.val.push(r);
    let i = this.at.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): Arrival {
    const out: Arrival = { arrivedAt: this.at[0]!, reading: this.val[0]! };
    const last = this.at.length - 1;
    this.swap(0, last);
    this.at.pop(); this.ord.pop(); this.val.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < this.at.length && this.less(l, m)) m = l;
      if (r < this.at.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return out;
  }
}
