/**
 * What simulateHerd (herd.ts) and simulateVariedHerd (varied.ts) share: time units, the daily profile, the
 * herd checks, collar ids and the draws that make a cow. The draw order is fixed: herd.ts's 'default'
 * scenarios replay byte for byte from a seed, so a change here must not add, drop or reorder a draw.
 */
import type { Rng } from './random.js';

export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** Episodes need a week of normal history before them, or no baseline exists to judge them against. */
export const BASELINE_DAYS = 7;
export const BATTERY_LOW_PCT = 15;

export const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
export const round1 = (x: number) => Math.round(x * 10) / 10;

// Daily profile by hour of the farm's day: activity factor, then rumination / lying / eating minutes per 15 min.
// Milking (≈6h and ≈17h) drives the activity peaks and interrupts rumination and lying.
const PROFILE: ReadonlyArray<readonly [hour: number, act: number, rum: number, lie: number, eat: number]> = [
  [0, 0.35, 8, 12, 1], [3.5, 0.35, 8, 11, 1], [5, 1.5, 3, 4, 3], [6, 1.8, 1.5, 1, 2], [7, 1.5, 3, 4, 6],
  [8.5, 1.0, 4, 7, 5], [15, 1.0, 4, 7, 4], [16, 1.5, 2.5, 4, 3], [17, 1.8, 1.5, 1, 2], [18, 1.5, 3, 4, 7],
  [19.5, 0.8, 5, 8, 5], [21.5, 0.7, 7, 10, 2], [23, 0.45, 8, 11.5, 1], [24, 0.35, 8, 12, 1],
];

/** Cosine interpolation between control points: smooth enough that rhythm jitter has no kinks. */
export function profileAt(hour: number): { act: number; rum: number; lie: number; eat: number } {
  let i = 0;
  while (i < PROFILE.length - 2 && PROFILE[i + 1]![0] <= hour) i++;
  const a = PROFILE[i]!, b = PROFILE[i + 1]!;
  const w = (1 - Math.cos(Math.PI * Math.min(1, Math.max(0, (hour - a[0]) / (b[0] - a[0]))))) / 2;
  const mix = (k: 1 | 2 | 3 | 4) => a[k] + (b[k] - a[k]) * w;
  return { act: mix(1), rum: mix(2), lie: mix(3), eat: mix(4) };
}

export function checkHerd(cows: number, days: number): void {
  if (!Number.isInteger(cows) || cows < 1) throw new RangeError('cows must be a positive integer');
  if (!(days > 0)) throw new RangeError('days must be > 0');
}

/** What every simulated cow has, whichever simulator made her. */
export interface CowBase {
  cowId: string;
  collarId: string;
  index: number;
  level: number; // median activity per 15 min at factor 1
  phaseH: number; // her own offset from the herd's daily rhythm
  rumFactor: number;
  tempC: number;
  rssi: number;
  battery0: number;
  drainPerDay: number;
  seq0: number;
}

/** The spread a simulator draws its cows from. */
export interface CowRanges {
  drainPerDay: readonly [lo: number, hi: number];
  levelMedian: number;
  levelSigma: number;
  phaseSd: number;
  phaseMax: number;
  rumSigma: number;
  tempSd: number;
}

/** Draws the cow at `index` of a herd of `n`, over a run of `days`, from `rng` (one stream per cow). */
export function drawCow(rng: Rng, index: number, n: number, days: number, r: CowRanges): CowBase {
  const width = Math.max(3, String(n).length); // zero-padded so string order is numeric order
  const collarId = `C${String(index + 1).padStart(width, '0')}`;
  const drainPerDay = rng.uniform(r.drainPerDay[0], r.drainPerDay[1]);
  return {
    cowId: collarId, // no herd registry yet: a cow is known by her collar
    collarId,
    index,
    level: r.levelMedian * rng.lognormal(r.levelSigma),
    phaseH: clamp(rng.normal() * r.phaseSd, -r.phaseMax, r.phaseMax),
    rumFactor: rng.lognormal(r.rumSigma),
    tempC: 38.6 + rng.normal() * r.tempSd,
    rssi: -90 + rng.normal() * 6,
    // Floor keeps healthy collars above the low-battery line, so battery_low truth stays complete.
    battery0: Math.min(100, Math.max(rng.uniform(60, 100), BATTERY_LOW_PCT + 5 + drainPerDay * days)),
    drainPerDay,
    seq0: rng.int(0, 50_000),
  };
}
