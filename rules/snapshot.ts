import type { CowState } from './context.js';
import type { CowHistory } from './history.js';
import type { Reading } from './reading.js';

/**
 * The stored form of a cow's detector state (one JSON row per cow in the agent's store). Bump the version
 * when the shape or meaning changes: the agent then rebuilds every cow from her stored readings instead.
 * (6: the farm's herd hours hold each cow's activity against her plain normal, no longer the heat rule's
 * floored one; restored from 5, the herd would read 0.7 in the small hours again until those rows aged out.
 * 7: a run of identical readings per signal, so one sensor stuck while the others live is told.)
 */
export const SNAPSHOT_VERSION = 7;

export interface CowSnapshot extends CowState {
  v: typeof SNAPSHOT_VERSION;
  /** Her history ring: the newest hour it holds and its bytes, base64. */
  history: EncodedHistory;
  /** Readings still held for reordering. */
  pending?: Reading[];
}

export interface EncodedHistory {
  newest: number | null;
  hours: number;
  data: string;
}

export function encodeHistory(h: CowHistory): EncodedHistory {
  const bytes = h.bytes();
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { newest: h.newest, hours: h.hours, data: btoa(bin) };
}

/** The ring's bytes; CowHistory ignores them when their length differs (a changed rule set): she starts afresh. */
export function decodeHistory(e: EncodedHistory): { newest: number | null; data: Uint8Array } {
  const bin = atob(e.data);
  const data = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) data[i] = bin.charCodeAt(i);
  return { newest: e.newest, data };
}

/** The farm's side: its event-time clock and the herd's recent hours. */
export interface FarmSnapshot {
  watermark: number | null;
  lastSilenceScan: number | null;
  /** How far the farm's held readings may be released (the newest of its cows' frontiers); absent in older snapshots. */
  frontier?: number | null;
  /**
   * Recent hours: [hourStart ms, cows reporting, cows well above their normal, cows telling rumination, the
   * histogram of their activity ratios, of their rumination ratios, cows telling lying, of their lying ratios,
   * how many of them are hot in this hour of an ordinary day and its variance (absent before round 29)].
   */
  herdHours?: number[][];
}
