import type Database from 'better-sqlite3';
import type { HerdRow } from '../herd/csv.js';

/** A collar as the agent knows it: whose detector its readings feed. */
export interface CollarRecord {
  collarId: string;
  /** The cow wearing it, or the collar's own id while it is unassigned. */
  key: string;
  assigned: boolean;
  /** Readings up to this arrival number were another cow's. */
  fromRx: number;
  firstSeen: number;
  /** 0: registered, never heard. */
  lastSeen: number;
}

/** The herd register's tables (migration 3): cows, which collar each wears, and the history of that. */
export class HerdStore {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      collar: db.prepare<[string], Record<string, string | number>>('SELECT * FROM herd WHERE collar_id = ?'),
      collarOfCow: db.prepare<[string], { collar_id: string }>('SELECT collar_id FROM herd WHERE cow_id = ? AND assigned = 1'),
      upsertCow: db.prepare(`INSERT INTO cows (cow_id, name, grp, calved_on, inseminated_on, notes, updated_at)
        VALUES (@cow, @name, @group, @calved, @inseminated, @notes, @now)
        ON CONFLICT (cow_id) DO UPDATE SET name = excluded.name, grp = excluded.grp, calved_on = excluded.calved_on,
          inseminated_on = excluded.inseminated_on, notes = excluded.notes, updated_at = excluded.updated_at`),
      cowRow: db.prepare<[string], Record<string, string | null>>('SELECT * FROM cows WHERE cow_id = ?'),
      // A date already there from the two days before stays: "calved" said again, or late, is the same calving.
      setCalved: db.prepare<[string, string, string, number, string]>(
        `UPDATE cows SET calved_on = CASE WHEN calved_on BETWEEN date(?, '-2 days') AND ? THEN calved_on ELSE ? END, updated_at = ? WHERE cow_id = ?`),
      addCollar: db.prepare(`INSERT INTO herd (collar_id, farm_id, cow_id, assigned, from_rx, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, 0)`),
      enroll: db.prepare(`INSERT INTO herd (collar_id, farm_id, cow_id, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)`),
      touch: db.prepare('UPDATE herd SET last_seen = ? WHERE collar_id = ?'),
      keyInUse: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM herd WHERE cow_id = ? UNION ALL SELECT 1 FROM cows WHERE cow_id = ? LIMIT 1'),
      setCollar: db.prepare('UPDATE herd SET cow_id = ?, assigned = ?, from_rx = ? WHERE collar_id = ?'),
      history: db.prepare('INSERT INTO collar_assignments (collar_id, cow_id, at) VALUES (?, ?, ?)'),
      closeAlerts: db.prepare(`UPDATE alerts SET state = 'resolved', at = @now, updated_at = @now,
          evidence = json_set(evidence, '$.closedBy', @reason) WHERE cow_id = @key AND state = 'firing'`),
      moveAlerts: db.prepare('UPDATE alerts SET cow_id = @to, cow_name = coalesce(cow_name, @name) WHERE cow_id = @from'),
      deleteSnapshot: db.prepare('DELETE FROM detector_snapshot WHERE cow_id = ?'),
      keys: db.prepare<[], { key: string; assigned: number; name: string | null }>(
        `SELECT h.cow_id AS key, h.assigned, c.name FROM herd h LEFT JOIN cows c ON c.cow_id = h.cow_id AND h.assigned = 1`),
      list: db.prepare<[], Record<string, string | null>>(
        `SELECT c.*, h.collar_id FROM cows c LEFT JOIN herd h ON h.cow_id = c.cow_id AND h.assigned = 1 ORDER BY c.cow_id`),
    };
  }

  collar(collarId: string): CollarRecord | undefined {
    const r = this.s.collar.get(collarId);
    return r && {
      collarId, key: r.cow_id as string, assigned: r.assigned === 1, fromRx: r.from_rx as number,
      firstSeen: r.first_seen as number, lastSeen: r.last_seen as number,
    };
  }

  /**
   * The cow wearing a collar; a collar seen for the first time joins the herd as its own cow, unless
   * `mayEnroll` says there is no room for another, or its id is a cow's number already.
   */
  cowForCollar(farmId: string, collarId: string, now: number, mayEnroll = true): string | { refused: string } {
    const row = this.s.collar.get(collarId);
    if (row) {
      this.s.touch.run(now, collarId);
      return row.cow_id as string;
    }
    // Its own id would be its detector's key: not when that is a cow's number in the register already.
    if (this.s.keyInUse.get(collarId, collarId)) {
      return { refused: `a new collar "${collarId}", but that is the number of a cow in the herd register: give the collar to its cow in the register (or number the cow differently)` };
    }
    if (!mayEnroll) return { refused: 'full' };
    this.s.enroll.run(collarId, farmId, collarId, now, now);
    return collarId;
  }

  /** The collar a cow of the register wears now. */
  collarOfCow(cow: string): string | undefined {
    return this.s.collarOfCow.get(cow)?.collar_id;
  }

  hasCow(cow: string): boolean {
    return this.s.cowRow.get(cow) !== undefined;
  }

  /** True when the cow's details changed (or she is new). A field the file has no column for is kept. */
  upsertCow(row: HerdRow, now: number): boolean {
    const old = this.s.cowRow.get(row.cow);
    const v = {
      cow: row.cow,
      name: row.name !== undefined ? row.name : (old?.name ?? null),
      group: row.group !== undefined ? row.group : (old?.grp ?? null),
      calved: row.calved !== undefined ? row.calved : (old?.calved_on ?? null),
      inseminated: row.inseminated !== undefined ? row.inseminated : (old?.inseminated_on ?? null),
      notes: row.notes !== undefined ? row.notes : (old?.notes ?? null),
    };
    if (old && old.name === v.name && old.grp === v.group && old.calved_on === v.calved && old.inseminated_on === v.inseminated && old.notes === v.notes) return false;
    this.s.upsertCow.run({ ...v, now });
    return true;
  }

  /** Her name in the register. */
  nameOf(cow: string): string | null {
    return this.s.cowRow.get(cow)?.name ?? null;
  }

  /** Puts a collar on a cow (`cow`), or takes it off (null: its readings feed a detector of its own again). */
  setCollar(farmId: string, collarId: string, cow: string | null, fromRx: number, now: number): void {
    const key = cow ?? collarId;
    if (this.s.collar.get(collarId)) this.s.setCollar.run(key, cow === null ? 0 : 1, fromRx, collarId);
    else this.s.addCollar.run(collarId, farmId, key, cow === null ? 0 : 1, fromRx, now);
    this.s.history.run(collarId, cow, now);
  }

  /** Ends a retired detector's open alerts without a message: there is no one left for them to be about. */
  closeAlerts(key: string, reason: string, now: number): number {
    return this.s.closeAlerts.run({ key, reason, now }).changes;
  }

  /** An adopted collar's alerts were the cow's all along. */
  moveAlerts(from: string, to: string, name: string | null): void {
    this.s.moveAlerts.run({ from, to, name });
  }

  deleteSnapshot(key: string): void {
    this.s.deleteSnapshot.run(key);
  }

  /** Every detector key: whether a registered cow stands behind it, and her name. */
  keys(): Map<string, { assigned: boolean; name: string | null }> {
    return new Map(this.s.keys.all().map((r) => [r.key, { assigned: r.assigned === 1, name: r.name }]));
  }

  unassignedCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM herd WHERE assigned = 0').get() as { n: number }).n;
  }

  /**
   * Unassigned collars last heard before `before` and with no open alert but the one saying they went
   * silent: forgotten, that alert closed without a message (their stored readings stay until retention
   * takes them). Returns their ids.
   */
  forgetSilentUnassigned(before: number, now: number): string[] {
    const gone = this.db
      .prepare<[number], { collar_id: string }>(
        `SELECT collar_id FROM herd h WHERE assigned = 0 AND last_seen < ?
           AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.cow_id = h.cow_id AND a.state = 'firing' AND a.type != 'collar_offline')
           -- never a key a cow of the register stands behind (an older database may hold such a pair)
           AND NOT EXISTS (SELECT 1 FROM herd o WHERE o.cow_id = h.cow_id AND o.collar_id != h.collar_id)
           AND NOT EXISTS (SELECT 1 FROM cows c WHERE c.cow_id = h.cow_id)`,
      )
      .all(before)
      .map((r) => r.collar_id);
    const del = this.db.prepare('DELETE FROM herd WHERE collar_id = ?');
    for (const id of gone) {
      del.run(id);
      this.deleteSnapshot(id);
      this.closeAlerts(id, 'unassigned collar forgotten after a long silence', now);
    }
    return gone;
  }

  /** A cow of the register calved on `day` ("YYYY-MM-DD"); false when the register has no such cow. */
  setCalved(cowId: string, day: string, now: number): boolean {
    return this.s.setCalved.run(day, day, day, now, cowId).changes > 0;
  }

  /** The register as `cowbell herd export` writes it. */
  list(): HerdRow[] {
    return this.s.list.all().map((r) => ({
      cow: r.cow_id!, name: r.name ?? null, collar: r.collar_id ?? null, group: r.grp ?? null,
      calved: r.calved_on ?? null, inseminated: r.inseminated_on ?? null, notes: r.notes ?? null,
    }));
  }
}
