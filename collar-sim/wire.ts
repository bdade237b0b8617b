import type { Reading } from '../rules/reading.js';

export function readingTopic(farmId: string, collarId: string): string {
  return `farm/${farmId}/collar/${collarId}/reading`;
}

/** Wire JSON of a reading: ISO timestamps, as real collar gateways send them. */
export function readingToWire(r: Reading): Record<string, unknown> {
  return { ...r, ts: new Date(r.ts).toISOString() };
}
