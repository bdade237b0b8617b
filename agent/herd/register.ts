import { CowbellError } from '../errors.js';
import type { ReadingPipeline } from '../pipeline.js';
import type { Store } from '../store/store.js';
import type { HerdRow } from './csv.js';

export interface HerdImportResult {
  cows: number;
  /** Cows that are new or whose details changed. */
  updated: number;
  /** Collars put on a cow, moved, or taken off. */
  collarChanges: string[];
  /** Detectors forgotten: "cow 412 (collar X moved to cow 413)". */
  retired: string[];
}

/**
 * Applies a herd file to the register and the running detector in one transaction, with a detector
 * snapshot in it, so a restart finds the register and every cow's state agreeing (a rebuild from readings
 * skips a collar's readings from before it came to its cow: herd.from_rx).
 *
 * The rules, from what a farmer expects:
 * - a collar that ran unassigned and is now registered to a cow was on her all along: she keeps what it
 *   learned (baseline, open alerts), so a register filled in after the collars went on loses nothing;
 * - a collar moved from one cow to another carries neither her baseline nor her alerts: the cow it left
 *   is forgotten by the detector (her open alerts are closed, without a message), the cow it joins starts
 *   learning afresh;
 * - a cow given another collar starts afresh too (collars' scales differ); her old collar runs unassigned;
 * - the file speaks for the cows it lists; cows it does not list are left as they are.
 */
export function applyHerd(store: Store, pipeline: ReadingPipeline, farmId: string, rows: readonly HerdRow[], now: number): HerdImportResult {
  const { herd } = store;
  const detector = pipeline.detector;
  // A cow number that is also an unassigned collar's id would share that collar's detector.
  const clash = rows.filter((r) => r.collar && r.collar !== r.cow && herd.collar(r.cow) && !herd.collar(r.cow)!.assigned && !rows.some((o) => o.collar === r.cow));
  if (clash.length) {
    throw new CowbellError('COWBELL_HERD_CLASH', `cow number${clash.length > 1 ? 's' : ''} ${clash.map((r) => r.cow).join(', ')} ${clash.length > 1 ? 'are' : 'is'} also the id of an unassigned collar: give that collar to its cow in the same file, or number the cow differently`);
  }
  const result: HerdImportResult = { cows: rows.length, updated: 0, collarChanges: [], retired: [] };
  const retire = (key: string, why: string) => {
    detector.retireCow(key);
    herd.deleteSnapshot(key);
    herd.closeAlerts(key, why, now);
    result.retired.push(`${key} (${why})`);
  };
  // Adopted collars' detectors are moved aside first, under keys no cow can have: then the order of the rows
  // cannot matter (cow 412 adopting C99 while cow 500 adopts the collar whose id is "412").
  const aside = new Map<string, string>();
  const adopt = (row: HerdRow) => {
    const collar = row.collar ? herd.collar(row.collar) : undefined;
    return collar && !collar.assigned && collar.key !== row.cow && herd.collarOfCow(row.cow) !== row.collar ? collar : undefined;
  };
  try {
    store.transaction(() => {
      for (const row of rows) {
        const collar = adopt(row);
        if (!collar) continue;
        const tmp = `\u0000adopted:${collar.collarId}`;
        detector.renameCow(collar.key, tmp);
        herd.moveAlerts(collar.key, tmp, null);
        herd.deleteSnapshot(collar.key);
        aside.set(collar.collarId, tmp);
      }
      applyRows();
      // In the same transaction: a restart must not find the old snapshots under the new register.
      pipeline.snapshot();
    });
  } catch (err) {
    // The database took nothing back into memory: the detector is rebuilt from what is committed.
    pipeline.reset();
    pipeline.reloadHerd();
    throw err;
  }
  pipeline.reloadHerd();
  return result;

  function applyRows(): void {
    for (const row of rows) {
      if (herd.upsertCow(row, now)) result.updated++;
      const current = herd.collarOfCow(row.cow) ?? null;
      // No collar column: the file says nothing about collars.
      if (row.collar === undefined || current === row.collar) continue;
      const fromRx = store.maxRx();
      if (current !== null) {
        retire(row.cow, row.collar ? `now wears collar ${row.collar}` : `collar ${current} taken off`);
        herd.setCollar(farmId, current, null, fromRx, now);
        result.collarChanges.push(`collar ${current} taken off cow ${row.cow}`);
      }
      if (!row.collar) continue;
      const collar = herd.collar(row.collar);
      if (collar?.assigned) {
        retire(collar.key, `collar ${row.collar} moved to cow ${row.cow}`);
        herd.setCollar(farmId, row.collar, row.cow, fromRx, now);
        result.collarChanges.push(`collar ${row.collar} moved from cow ${collar.key} to cow ${row.cow}`);
      } else if (collar) {
        // Adopted: its readings since it came off its last cow (or since ever) were hers.
        const from = aside.get(row.collar) ?? collar.key;
        if (from !== row.cow && detector.cows.has(row.cow)) retire(row.cow, `collar ${row.collar} is hers`);
        detector.renameCow(from, row.cow);
        herd.deleteSnapshot(collar.key);
        herd.moveAlerts(from, row.cow, herd.nameOf(row.cow));
        herd.setCollar(farmId, row.collar, row.cow, collar.fromRx, now);
        result.collarChanges.push(`collar ${row.collar} put on cow ${row.cow}`);
      } else {
        herd.setCollar(farmId, row.collar, row.cow, fromRx, now);
        result.collarChanges.push(`collar ${row.collar} put on cow ${row.cow} (not heard yet)`);
      }
    }
  }
}

/**
 * Cows that calved on `day` ("YYYY-MM-DD" on the farm's clock), as a farmer's reply says: noted in the herd
 * register and given to the rules at once, so the dip of the days after it is taken as the calving. Only
 * the register's cows have a record; returns the ones noted.
 */
export function noteCalving(store: Store, pipeline: ReadingPipeline, cowIds: readonly string[], day: string, now: number): string[] {
  const noted = cowIds.filter((cowId) => store.herd.setCalved(cowId, day, now));
  // Read by the rules once the caller's transaction has committed (a rollback leaves them as they were).
  if (noted.length) queueMicrotask(() => pipeline.reloadHerd());
  return noted;
}
