import type { Reading } from '../../rules/index.js';

/**
 * Raw accelerometer captures reduced to activity readings (README, "Wire contract": the accel topic). Pure:
 * no I/O, no clock; the wire checks (finite samples within ±16 g, at least a minute of them) are in payload.ts.
 *
 * Activity is VeDBA, the vectorial dynamic body acceleration (Qasem et al. 2012): per axis, the static part
 * (gravity and posture) is a running mean over about 2 s (Shepard et al. 2008), the dynamic part is the raw
 * value minus it, and VeDBA is the length of the dynamic vector. A reading's activity is VeDBA integrated
 * over its interval, in g·s: a still collar gives ~0 whatever way up it hangs.
 */

/** Length of the running mean that estimates the static acceleration. */
export const STATIC_WINDOW_S = 2;
/** Readings end on the clock's quarter hours, the interval collars that count for themselves send. */
export const ACCEL_CUT_S = 900;
/** No reading is shorter than this (the detector takes 60..7200 s); a capture must last at least as long. */
export const MIN_ACCEL_READING_S = 60;

export type Sample = readonly [x: number, y: number, z: number];

export interface AccelCapture {
  collarId: string;
  /** Epoch ms of the first sample; sample i is at ts + i / hz seconds. */
  ts: number;
  hz: number;
  samples: readonly Sample[];
}

/**
 * VeDBA of each sample, in g. The running mean is centred, 2·round(hz·STATIC_WINDOW_S/2) + 1 samples long
 * (at least 3); within that half-window of either end of the capture it is the mean of the samples there are.
 */
export function vedba(samples: readonly Sample[], hz: number): Float64Array {
  const n = samples.length;
  const half = Math.max(1, Math.round((hz * STATIC_WINDOW_S) / 2));
  const prefix: Float64Array[] = [new Float64Array(n + 1), new Float64Array(n + 1), new Float64Array(n + 1)];
  for (let a = 0; a < 3; a++) {
    const p = prefix[a]!;
    for (let i = 0; i < n; i++) p[i + 1] = p[i]! + samples[i]![a]!;
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const lo = Math.max(0, i - half);
    const hi = Math.min(n, i + half + 1);
    let sq = 0;
    for (let a = 0; a < 3; a++) {
      const p = prefix[a]!;
      const d = samples[i]![a]! - (p[hi]! - p[lo]!) / (hi - lo);
      sq += d * d;
    }
    out[i] = Math.sqrt(sq);
  }
  return out;
}

/** Epoch ms just after the last sample: the end of what the capture covers. */
export function captureEnd(ts: number, hz: number, samples: number): number {
  return ts + Math.round((samples * 1000) / hz);
}

/**
 * Splits a capture at the clock's quarter hours that lie at least a minute inside it, so each reading covers
 * 60 s to just under 16 min and ends on a quarter hour or at the end of the capture (the last reading is
 * kept with its true interval, not dropped). A capture shorter than a minute gives no reading; payload.ts
 * refuses it before it gets here. Activity is in g·s (VeDBA summed over the interval's samples ÷ hz).
 */
export function accelToReadings(c: AccelCapture): Reading[] {
  const n = c.samples.length;
  const start = c.ts;
  const end = captureEnd(c.ts, c.hz, n);
  const minMs = MIN_ACCEL_READING_S * 1000;
  if (end - start < minMs) return [];
  const cutMs = ACCEL_CUT_S * 1000;
  const bounds = [start];
  for (let t = Math.ceil((start + minMs) / cutMs) * cutMs; t <= end - minMs; t += cutMs) bounds.push(t);
  bounds.push(end);

  const v = vedba(c.samples, c.hz);
  const readings: Reading[] = [];
  let i = 0;
  for (let k = 1; k < bounds.length; k++) {
    // The first sample at or after this bound (the epsilon keeps float error from moving a sample on the bound).
    const stop = k === bounds.length - 1 ? n : Math.min(n, Math.ceil(((bounds[k]! - start) * c.hz) / 1000 - 1e-9));
    let sum = 0;
    for (; i < stop; i++) sum += v[i]!;
    readings.push({
      collarId: c.collarId,
      ts: bounds[k]!,
      intervalS: Math.round((bounds[k]! - bounds[k - 1]!) / 1000),
      activity: Math.round((sum / c.hz) * 1e6) / 1e6,
    });
  }
  return readings;
}
