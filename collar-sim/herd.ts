import { DEFAULT_INTERVAL_S, type Reading } from '../rules/reading.js';
import { BASELINE_DAYS, BATTERY_LOW_PCT, DAY, HOUR, checkHerd, clamp, drawCow, profileAt, round1, type CowBase } from './common.js';
import { Rng, deriveSeed } from './random.js';

export type EpisodeType = 'heat' | 'illness' | 'collar_offline' | 'battery_low';

/** An explicitly placed episode. For battery_low, `start` is when the battery should cross 15 % and `end` is ignored. */
export interface EpisodeSpec {
  collarId: string;
  type: EpisodeType;
  start: number;
  end?: number;
}

export interface HerdOptions {
  farmId: string;
  cows: number;
  startMs: number;
  days: number;
  intervalS?: number;
  seed: number;
  episodes?: 'default' | 'none' | EpisodeSpec[];
}

/** Half-open [start, end) in epoch ms. */
export interface GroundTruthEpisode {
  cowId: string;
  collarId: string;
  type: EpisodeType;
  start: number;
  end: number;
}

export interface HerdSimulation {
  farmId: string;
  seed: number;
  startMs: number;
  days: number;
  intervalS: number;
  cows: Array<{ cowId: string; collarId: string }>;
  /** Regenerates all readings lazily, sorted by ts then collarId; every call yields the same sequence. */
  readings(): Iterable<Reading>;
  truth: GroundTruthEpisode[];
}

interface Episode extends GroundTruthEpisode {
  peak: number; // heat activity multiplier
}

interface Cow extends CowBase {
  episodes: Episode[];
}

/** Multipliers an episode applies at time t; 0..1 ramps keep onsets gradual as real cases are. */
function effect(cow: Cow, t: number) {
  const m = { act: 1, rum: 1, lie: 1, eat: 1 };
  for (const e of cow.episodes) {
    if (t < e.start || t >= e.end) continue;
    if (e.type === 'heat') {
      const r = Math.min(1, (t - e.start) / (2 * HOUR), (e.end - t) / HOUR);
      m.act = 1 + (e.peak - 1) * r;
      m.rum = 1 - 0.3 * r;
      m.lie = 1 - 0.4 * r;
      m.eat = 1 - 0.3 * r;
    } else if (e.type === 'illness') {
      const r = Math.min(1, (t - e.start) / (6 * HOUR), (e.end - t) / (4 * HOUR));
      m.act = 1 - 0.5 * r;
      m.rum = 1 - 0.55 * r;
      m.lie = 1 + 0.25 * r;
      m.eat = 1 - 0.5 * r;
    }
  }
  return m;
}

function batteryAt(cow: Cow, ts: number, startMs: number): number {
  return Math.round(clamp(cow.battery0 - (cow.drainPerDay * (ts - startMs)) / DAY, 0, 100));
}

export function simulateHerd(opts: HerdOptions): HerdSimulation {
  const { farmId, cows: n, startMs, days, seed } = opts;
  const intervalS = opts.intervalS ?? DEFAULT_INTERVAL_S;
  checkHerd(n, days);
  if (!Number.isInteger(intervalS) || intervalS < 60 || intervalS > 7200) throw new RangeError('intervalS must be an integer in 60..7200');
  const intervalMs = intervalS * 1000;
  const steps = Math.floor((days * DAY) / intervalMs);
  const runEnd = startMs + steps * intervalMs;

  const cows: Cow[] = Array.from({ length: n }, (_, index) => ({
    ...drawCow(new Rng(deriveSeed(seed, 1, index)), index, n, days, {
      drainPerDay: [0.3, 0.5], levelMedian: 450, levelSigma: 0.3, phaseSd: 0.3, phaseMax: 0.6, rumSigma: 0.1, tempSd: 0.1,
    }),
    episodes: [],
  }));

  const placeRng = new Rng(deriveSeed(seed, 3));
  const specs = opts.episodes === undefined || opts.episodes === 'default'
    ? defaultEpisodes(cows, placeRng, startMs, runEnd, intervalMs)
    : opts.episodes === 'none' ? [] : opts.episodes;
  const byId = new Map(cows.map((c) => [c.collarId, c]));
  const truth: GroundTruthEpisode[] = [];
  for (const s of specs) {
    const cow = byId.get(s.collarId);
    if (!cow) throw new RangeError(`episode for unknown collar ${s.collarId}`);
    let { start, end } = s;
    if (s.type === 'battery_low') {
      // 0.5 below the threshold: batteryPct is rounded, so that is where the reported value drops under 15.
      cow.battery0 = BATTERY_LOW_PCT - 0.5 + (cow.drainPerDay * (s.start - startMs)) / DAY;
      let k = 1;
      while (k <= steps && batteryAt(cow, startMs + k * intervalMs, startMs) >= BATTERY_LOW_PCT) k++;
      if (k > steps) throw new RangeError(`battery of ${s.collarId} does not cross ${BATTERY_LOW_PCT}% within the run`);
      start = startMs + k * intervalMs;
      end = runEnd;
    }
    if (end === undefined || !(end > start)) throw new RangeError(`episode ${s.type} on ${s.collarId} needs end > start`);
    if (cow.episodes.some((e) => start < e.end && e.start < end!)) throw new RangeError(`overlapping episodes on ${s.collarId}`);
    const ep: Episode = { cowId: cow.cowId, collarId: cow.collarId, type: s.type, start, end, peak: placeRng.uniform(2.5, 3.5) };
    cow.episodes.push(ep);
    truth.push({ cowId: ep.cowId, collarId: ep.collarId, type: ep.type, start, end });
  }
  truth.sort((a, b) => a.start - b.start || (a.collarId < b.collarId ? -1 : 1));

  function* readings(): Generator<Reading> {
    // Fresh noise streams per call, so iterating twice yields identical data.
    const rngs = cows.map((c) => new Rng(deriveSeed(seed, 2, c.index)));
    const mins = intervalS / 60;
    const scale = mins / 15;
    for (let k = 1; k <= steps; k++) {
      const ts = startMs + k * intervalMs;
      const mid = ts - intervalMs / 2;
      const utcHour = (((mid % DAY) + DAY) % DAY) / HOUR;
      for (const cow of cows) {
        const rng = rngs[cow.index]!;
        const p = profileAt((utcHour + cow.phaseH + 24) % 24);
        const m = effect(cow, mid);
        const outlier = rng.next() < 0.005 ? 3 : 1;
        const activity = Math.round(cow.level * p.act * m.act * rng.lognormal(0.25) * outlier);
        const rumination = round1(clamp(p.rum * scale * cow.rumFactor * m.rum * rng.lognormal(0.2) + rng.normal() * 0.4 * scale, 0, mins));
        const eating = round1(clamp(p.eat * scale * m.eat * rng.lognormal(0.3), 0, mins - rumination));
        const lying = round1(clamp(p.lie * scale * m.lie * rng.lognormal(0.15) + rng.normal() * 0.6 * scale, 0, mins));
        const temperature = Math.round((cow.tempC + rng.normal() * 0.15) * 100) / 100;
        const rssi = Math.round(clamp(cow.rssi + rng.normal() * 5, -120, -40));
        // Noise is drawn before the offline check so an outage does not shift the cow's later data.
        // seq still advances while offline: the gap is what the agent sees of lost messages.
        if (cow.episodes.some((e) => e.type === 'collar_offline' && ts >= e.start && ts < e.end)) continue;
        yield {
          collarId: cow.collarId, ts, intervalS, activity, rumination, eating, lying, temperature,
          batteryPct: batteryAt(cow, ts, startMs), rssi, seq: cow.seq0 + k,
        };
      }
    }
  }

  return {
    farmId, seed, startMs, days, intervalS,
    cows: cows.map(({ cowId, collarId }) => ({ cowId, collarId })),
    readings,
    truth,
  };
}

/**
 * One episode per chosen cow, each on a different cow, so cows left without one are clean negatives.
 * Quotas: ceil(30 %) heat, ceil(15 %) illness, one collar_offline, one battery_low; heat and illness
 * come first so tiny herds still get both.
 */
function defaultEpisodes(cows: Cow[], rng: Rng, startMs: number, runEnd: number, intervalMs: number): EpisodeSpec[] {
  const earliest = startMs + BASELINE_DAYS * DAY;
  const latestEnd = runEnd - 2 * HOUR; // leave a normal tail after every episode
  const n = cows.length;
  const types: EpisodeType[] = ['heat', 'illness', 'collar_offline', 'battery_low'];
  for (let i = 1; i < Math.ceil(0.3 * n); i++) types.push('heat');
  for (let i = 1; i < Math.ceil(0.15 * n); i++) types.push('illness');
  const order = rng.shuffle(cows.map((c) => c.collarId));
  const durations: Record<EpisodeType, [min: number, max: number, floor: number]> = {
    heat: [10 * HOUR, 16 * HOUR, 8 * HOUR],
    illness: [2 * DAY, 4 * DAY, DAY],
    collar_offline: [10 * HOUR, 20 * HOUR, 6 * HOUR],
    battery_low: [0, 0, 0],
  };
  // Work in whole reading intervals so truth boundaries coincide with reading timestamps.
  const kFirst = Math.ceil((earliest - startMs) / intervalMs);
  const kLast = Math.floor((latestEnd - startMs) / intervalMs);
  const room = (kLast - kFirst) * intervalMs;
  const at = (k: number) => startMs + k * intervalMs;
  const specs: EpisodeSpec[] = [];
  types.slice(0, n).forEach((type, i) => {
    const collarId = order[i]!;
    if (type === 'battery_low') {
      if (room > 6 * HOUR) specs.push({ collarId, type, start: at(kFirst) + rng.uniform(6 * HOUR, Math.min(room, 3 * DAY)) });
      return;
    }
    const [min, max, floor] = durations[type];
    const durK = Math.round(Math.min(rng.uniform(min, max), room) / intervalMs);
    if (durK * intervalMs < floor) return;
    const k = kFirst + rng.int(0, kLast - kFirst - durK);
    specs.push({ collarId, type, start: at(k), end: at(k + durK) });
  });
  return specs;
}

/** Ground truth as a JSON document (ISO times) for evaluators that run outside this process. */
export function truthToJson(sim: HerdSimulation) {
  return {
    farmId: sim.farmId,
    seed: sim.seed,
    startMs: sim.startMs,
    days: sim.days,
    intervalS: sim.intervalS,
    cows: sim.cows.length,
    episodes: sim.truth.map((e) => ({ ...e, start: new Date(e.start).toISOString(), end: new Date(e.end).toISOString() })),
  };
}
