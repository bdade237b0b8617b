import type Database from 'better-sqlite3';

/**
 * What the farm page reads from the readings table. Apart from store.ts so the page's queries and the
 * ingest path's evolve without touching each other; every query here is read-only and bounded.
 */

export interface HourRow {
  /** Hour number since the epoch (ms / 3 600 000). */
  hour: number;
  act: number;
  /** Seconds of the hour covered by readings, and by readings that carry rumination. */
  actS: number;
  rum: number;
  rumS: number;
}

export interface CollarRow {
  cowId: string;
  collarId: string;
  /** Newest reading's event time, null when the readings were pruned or none came yet. */
  lastTs: number | null;
  /** Agent clock of the last message from the collar. */
  lastSeen: number;
}

const HOUR_MS = 3_600_000;

export class SeriesQueries {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      // A reading is put in the hour its interval ends in ((ts - 1) / hour: one ending on the hour belongs to
      // the hour before). The detector spreads a long reading over the hours it covers; for a chart of hourly
      // rates the interval-weighted sum per hour is close enough, and it is one indexed range scan per collar
      // (UNIQUE (collar_id, ts)) instead of one per hour.
      hours: db.prepare<[string, number, number, number], { hour: number; act: number; act_s: number; rum: number | null; rum_s: number | null }>(
        `SELECT (ts - 1) / ${HOUR_MS} AS hour, sum(activity) AS act, sum(interval_s) AS act_s,
                sum(rumination) AS rum, sum(CASE WHEN rumination IS NOT NULL THEN interval_s END) AS rum_s
         FROM readings WHERE collar_id = ? AND ts > ? AND ts <= ? AND rx > ? GROUP BY 1 ORDER BY 1`,
      ),
      // Only what each collar measured on her: readings from before it came to her were another cow's.
      collarsOf: db.prepare<[string], { collar_id: string; from_rx: number }>('SELECT collar_id, from_rx FROM herd WHERE cow_id = ?'),
      // max(ts) per collar is answered from the (collar_id, ts) index: one seek per collar, not a scan.
      collars: db.prepare<[], { cow_id: string; collar_id: string; last_seen: number; last_ts: number | null }>(
        'SELECT cow_id, collar_id, last_seen, (SELECT max(ts) FROM readings r WHERE r.collar_id = h.collar_id) AS last_ts FROM herd h ORDER BY cow_id',
      ),
      collarsOfCow: db.prepare<[string], { cow_id: string; collar_id: string; last_seen: number; last_ts: number | null }>(
        'SELECT cow_id, collar_id, last_seen, (SELECT max(ts) FROM readings r WHERE r.collar_id = h.collar_id) AS last_ts FROM herd h WHERE cow_id = ?',
      ),
      alertIds: db.prepare<[string, number], { id: string }>('SELECT id FROM alerts WHERE cow_id = ? ORDER BY raised_at DESC, id DESC LIMIT ?'),
      maxRx: db.prepare<[], { rx: number | null }>('SELECT max(rx) AS rx FROM readings'),
      // rx grows with arrival, so the newest `cap` rows by rx hold every recent arrival: a bounded range of the
      // primary key instead of a scan of the whole table (received_at has no index).
      arrivedSince: db.prepare<[number, number], { n: number }>('SELECT count(*) AS n FROM readings WHERE rx > ? AND received_at >= ?'),
    };
  }

  /** Hourly sums of one cow's readings (all her collars) with event time in (from, to]. */
  hours(cowId: string, from: number, to: number): HourRow[] {
    const byHour = new Map<number, HourRow>();
    for (const { collar_id, from_rx } of this.s.collarsOf.all(cowId)) {
      for (const r of this.s.hours.all(collar_id, from, to, from_rx)) {
        const row = byHour.get(r.hour) ?? { hour: r.hour, act: 0, actS: 0, rum: 0, rumS: 0 };
        row.act += r.act;
        row.actS += r.act_s;
        row.rum += r.rum ?? 0;
        row.rumS += r.rum_s ?? 0;
        byHour.set(r.hour, row);
      }
    }
    return [...byHour.values()].sort((a, b) => a.hour - b.hour);
  }

  /** Every collar with the cow it feeds, or only one cow's (`cowId`). */
  collars(cowId?: string): CollarRow[] {
    const rows = cowId === undefined ? this.s.collars.all() : this.s.collarsOfCow.all(cowId);
    return rows.map((r) => ({ cowId: r.cow_id, collarId: r.collar_id, lastTs: r.last_ts, lastSeen: r.last_seen }));
  }

  /** Her alerts, newest raised first. */
  alertIds(cowId: string, limit: number): string[] {
    return this.s.alertIds.all(cowId, limit).map((r) => r.id);
  }

  /** Readings that arrived since `since` (agent clock), counting at most the newest `cap` rows. */
  arrivedSince(since: number, cap = 20_000): { n: number; capped: boolean } {
    const max = this.s.maxRx.get()?.rx ?? 0;
    const n = this.s.arrivedSince.get(max - cap, since)?.n ?? 0;
    return { n, capped: n >= cap };
  }
}
