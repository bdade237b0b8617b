import { DAY_MS, HOUR_MS } from './baseline.js';
import type { Evidence } from './alerts.js';
import type { WindowStats } from './normal.js';

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
export const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Whole days from a herd register date (`day`, the start of that day) to `at`, when an alert tells them: from
 * `minDays` to `maxDays` after it; null otherwise (or with no date).
 */
export function daysAfter(day: number | undefined, at: number, minDays: number, maxDays: number): number | null {
  return day !== undefined && at - day >= minDays * DAY_MS && at - day <= maxDays * DAY_MS ? Math.floor((at - day) / DAY_MS) : null;
}

export const UNITS = { act: 'activity count', rum: 'minutes ruminating', lie: 'minutes lying' } as const;
const METRIC_NAMES = { act: 'activity', rum: 'rumination' } as const;

/** A window's figures as an alert states them (the alert JSON's `evidence`). */
export function windowEvidence(w: WindowStats): Evidence {
  return {
    metric: METRIC_NAMES[w.metric],
    unit: UNITS[w.metric],
    value: round(w.value, 1),
    baseline: round(w.expected, 1),
    ratio: round(w.ratio),
    deviation: round(w.z),
    coverage: round(w.coverage),
    comparedDays: w.comparedDays,
    window: { from: iso(w.from), to: iso(w.to), hours: round((w.to - w.from) / HOUR_MS, 1) },
  };
}
