/**
 * A collar reading after validation: what the rules core judges and what the store keeps.
 * Times are epoch milliseconds (event time). `ts` is the END of the interval the reading summarises.
 */
export interface Reading {
  collarId: string;
  ts: number;
  /** Seconds the reading summarises (60..7200). */
  intervalS: number;
  /** Activity count for the interval (steps / motion index); >= 0. */
  activity: number;
  /** Minutes within the interval. */
  rumination?: number;
  eating?: number;
  lying?: number;
  temperature?: number;
  batteryPct?: number;
  rssi?: number;
  seq?: number;
}

export const DEFAULT_INTERVAL_S = 900;
