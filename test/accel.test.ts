import { describe, expect, it } from 'vitest';
import { accelToReadings, vedba, type Sample } from '../agent/ingest/accel.js';

const T0 = Date.parse('2026-11-25T10:00:00Z');
const MIN = 60_000;

/** `seconds` of samples at `hz`, sample i at i / hz seconds. */
function capture(hz: number, seconds: number, at: (t: number) => Sample): Sample[] {
  return Array.from({ length: Math.round(hz * seconds) }, (_, i) => at(i / hz));
}

/** Mean of the samples more than the static window's half (1 s) away from both ends of the capture. */
function interiorMean(v: Float64Array, hz: number): number {
  const inner = v.subarray(Math.ceil(hz) + 1, v.length - Math.ceil(hz) - 1);
  return inner.reduce((a, b) => a + b, 0) / inner.length;
}

describe('VeDBA of raw accelerometer samples', () => {
  it.each([
    ['lying on x', [1, 0, 0]],
    ['upright on z', [0, 0, -1]],
    ['upside down on y', [0, -1, 0]],
    ['tilted', [1 / Math.sqrt(3), -1 / Math.sqrt(3), 1 / Math.sqrt(3)]],
  ] as const)('a still collar %s gives no activity: gravity is removed whatever its axis', (_name, g) => {
    const samples = capture(25, 120, () => g as unknown as Sample);
    for (const x of vedba(samples, 25)) expect(x).toBeCloseTo(0, 9);
    const readings = accelToReadings({ collarId: 'C1', ts: T0, hz: 25, samples });
    expect(readings.map((r) => r.activity)).toEqual([0]);
  });

  it('a circular swing of amplitude A on top of gravity has a VeDBA of exactly A', () => {
    // 101-sample running mean at 50 Hz; a period of 101/2 samples cancels in it exactly.
    const hz = 50;
    const f = (2 * hz) / 101;
    const A = 0.3;
    const samples = capture(hz, 60, (t) => [A * Math.cos(2 * Math.PI * f * t), 1 + A * Math.sin(2 * Math.PI * f * t), 0]);
    const v = vedba(samples, hz);
    const inner = v.subarray(hz + 1, v.length - hz - 1);
    for (const x of inner) expect(x).toBeCloseTo(A, 9);
  });

  it('a sinusoid of amplitude A on one axis has a mean VeDBA of 2A/π, wherever gravity is', () => {
    const hz = 50;
    const f = (4 * hz) / 101;
    const A = 0.2;
    for (const axis of [0, 1, 2]) {
      const samples = capture(hz, 120, (t) => {
        const s: [number, number, number] = [0.6, -0.8, 0];
        s[axis] = s[axis]! + A * Math.sin(2 * Math.PI * f * t);
        return s;
      });
      expect(interiorMean(vedba(samples, hz), hz)).toBeCloseTo((2 * A) / Math.PI, 3);
    }
  });

  it('works at 1 Hz, the slowest rate the contract allows (a 3-sample running mean)', () => {
    const samples = capture(1, 90, (t) => [0, 0, 1 + (t % 2 === 0 ? 0.1 : -0.1)]);
    const v = vedba(samples, 1);
    // Inside, a sample 0.1 up sits between two 0.1 down: the window mean is 1 - 0.1/3, so it is 0.4/3 off it.
    expect(interiorMean(v, 1)).toBeCloseTo(0.4 / 3, 9);
  });
});

describe('accelerometer capture to activity readings', () => {
  const swing = (hz: number, seconds: number) => capture(hz, seconds, (t) => [0.1 * Math.sin(2 * Math.PI * 1.3 * t), 0, 1]);

  it('ends readings on the quarter hours inside the capture and keeps the last one with its true interval', () => {
    const ts = T0 + 13 * MIN + 30_000; // 10:13:30, for 20 minutes: cut at 10:15 and 10:30
    const samples = swing(10, 20 * 60);
    const readings = accelToReadings({ collarId: 'C1', ts, hz: 10, samples });
    expect(readings.map((r) => [new Date(r.ts).toISOString(), r.intervalS])).toEqual([
      ['2026-11-25T10:15:00.000Z', 90],
      ['2026-11-25T10:30:00.000Z', 900],
      ['2026-11-25T10:33:30.000Z', 210],
    ]);
    for (const r of readings) expect(r.collarId).toBe('C1');
    // Activity is VeDBA integrated in g·s: the readings share the capture's total between them.
    const total = vedba(samples, 10).reduce((a, b) => a + b, 0) / 10;
    expect(readings.reduce((a, r) => a + r.activity, 0)).toBeCloseTo(total, 4);
    expect(readings[1]!.activity / 900).toBeCloseTo(readings[2]!.activity / 210, 2);
  });

  it('does not cut within a minute of either end, so every reading covers 60 s to just under 16 min', () => {
    // 10:14:20 to 10:30:40: 10:15 is 40 s after the start and 10:30 40 s before the end.
    const readings = accelToReadings({ collarId: 'C1', ts: T0 + 14 * MIN + 20_000, hz: 5, samples: swing(5, 16 * 60 + 20) });
    expect(readings.map((r) => [new Date(r.ts).toISOString(), r.intervalS])).toEqual([['2026-11-25T10:30:40.000Z', 980]]);
    const short = accelToReadings({ collarId: 'C1', ts: T0 + 14 * MIN + 30_000, hz: 5, samples: swing(5, 60) });
    expect(short.map((r) => [new Date(r.ts).toISOString(), r.intervalS])).toEqual([['2026-11-25T10:15:30.000Z', 60]]);
    expect(accelToReadings({ collarId: 'C1', ts: T0, hz: 5, samples: swing(5, 59) })).toEqual([]);
  });

  it('puts a sample that falls exactly on a cut into the reading after it', () => {
    const samples: Sample[] = capture(4, 180, () => [0, 0, 1]);
    samples[4 * 60] = [0, 0, 3]; // at 10:15:00 exactly; the capture starts at 10:14:00
    const readings = accelToReadings({ collarId: 'C1', ts: T0 + 14 * MIN, hz: 4, samples });
    expect(readings.map((r) => r.intervalS)).toEqual([60, 120]);
    expect(readings[0]!.activity).toBeCloseTo(0.5 * (4 / 9), 6); // the spike's echo in the window mean before the cut
    expect(readings[1]!.activity).toBeGreaterThan(readings[0]!.activity);
  });

  it('is deterministic, so a redelivered message maps to the same readings (and the store drops them as duplicates)', () => {
    const c = { collarId: 'C1', ts: T0 + 7 * MIN, hz: 12.5, samples: swing(12.5, 300) };
    expect(accelToReadings(c)).toEqual(accelToReadings(c));
  });
});
