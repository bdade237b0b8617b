import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Reading } from '../rules/reading.js';

/**
 * Reads an IceTag 1-minute export (../shared/data/icetag, see its README) as Cowbell readings. The
 * exports are in local time (W. Europe, which was UTC+2 in summer 2020); Motion Index is the activity
 * count. IceTag has no rumination, so these data exercise the activity rules only.
 */
/** `../shared/data/icetag` beside the project (run from the project root), or $COWBELL_ICETAG_DIR. */
export const ICETAG_DIR = process.env.COWBELL_ICETAG_DIR ?? resolve(process.cwd(), '../shared/data/icetag');
export const ICETAG_FILES = ['516b_2.csv', '678_2.csv', '689b_3.csv'];
const UTC_OFFSET_MS = 2 * 3_600_000;

export function loadIceTag(file: string, collarId: string): Reading[] {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  const header = lines.findIndex((l) => l.startsWith('Date,Time,Motion Index'));
  if (header < 0) throw new Error(`${file}: no "Date,Time,Motion Index" header row`);
  const out: Reading[] = [];
  for (const line of lines.slice(header + 1)) {
    const [date, time, motion, , lying] = line.split(',');
    if (!date || !time || motion === undefined) continue;
    const activity = Number(motion);
    // Gaps in the export are written as NA: no measurement, so no reading (a zero would fake a quiet cow).
    if (motion.trim() === '' || !Number.isFinite(activity)) continue;
    const [d, m, y] = date.split('.').map(Number);
    const [hh, mm, ss] = time.split(':').map(Number);
    const ts = Date.UTC(y!, m! - 1, d!, hh!, mm!, ss!) - UTC_OFFSET_MS;
    const [lm, ls] = (lying ?? '0:0').split(':').map(Number);
    out.push({ collarId, ts, intervalS: 60, activity, lying: (lm ?? 0) + (ls ?? 0) / 60 });
  }
  return out;
}
