import Database from 'better-sqlite3';
import type { AlertEvent, AlertType, CowSnapshot, FarmSnapshot, Reading, Severity } from '../../rules/index.js';
import { CowbellError } from '../errors.js';
import { HerdStore } from './herd-store.js';
import { MIGRATIONS } from './migrations.js';
import { NotifyStore } from './notify-store.js';

export type AlertRowState = 'firing' | 'acknowledged' | 'snoozed' | 'resolved';

export interface AlertRow {
  id: string;
  farmId: string;
  cowId: string;
  /** Her name in the herd register when the alert was raised. */
  cowName?: string | undefined;
  collarId: string;
  type: AlertType;
  /**
   * The detector moves an alert firing → resolved; a person moves an open one to acknowledged or snoozed
   * (until `ack.until`). Acknowledged and snoozed alerts are still open: the cow has not recovered.
   */
  state: AlertRowState;
  severity: Severity;
  at: number;
  since: number;
  raisedAt: number;
  evidence: Record<string, unknown>;
  /** Who acknowledged or snoozed it, when (agent clock), and until when a snooze lasts. */
  ack?: { by: string; at: number; until?: number } | undefined;
  /** Wall-clock time this agent recorded the latest change (read from the store only). */
  recordedAt?: number;
}

export interface OutboxRow {
  id: number;
  alertId: string;
  /** Which change of the alert: firing, resolved, acknowledged:<t>, … */
  state: string;
  channel: string;
  attempts: number;
  /** The alert as it was at this transition. */
  alert: AlertRow;
}

export interface StoredReading extends Reading {
  rx: number;
  receivedAt: number;
}

const QUARANTINE_KEEP = 10_000;
/** Optional reading fields and their columns; NULL columns stay absent from the reading. */
const OPTIONAL_COLUMNS = [
  ['rumination', 'rumination'], ['eating', 'eating'], ['lying', 'lying'], ['temperature', 'temperature'],
  ['batteryPct', 'battery_pct'], ['rssi', 'rssi'], ['seq', 'seq'],
] as const;
export const PAYLOAD_HEAD_BYTES = 256;

/**
 * All SQLite access. better-sqlite3 is synchronous, which is what we want: a reading is committed before
 * the MQTT acknowledgement goes out, and nothing else runs in between.
 */
export class Store {
  readonly db: Database.Database;
  readonly notify: NotifyStore;
  readonly herd: HerdStore;
  private readonly s;
  /** One transaction function for all callers: better-sqlite3 builds a new wrapper per db.transaction() call (~8 µs). */
  private readonly runInTransaction: (fn: () => unknown) => unknown;
  private readingRows: number | null = null;

  constructor(path: string) {
    try {
      this.db = new Database(path);
    } catch (err) {
      throw new CowbellError('COWBELL_STORE_OPEN', `cannot open database ${path}: ${(err as Error).message}`, { cause: err });
    }
    this.db.pragma('journal_mode = WAL');
    // FULL: every commit is on the disk (WAL fsync) before it returns, so a reading acknowledged to the broker
    // survives a power cut, not only a crash of the agent (NORMAL would lose the last commits). With group
    // commit that is one fsync per group of messages, not per message (README, "Delivery guarantees").
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    const db = this.db;
    this.runInTransaction = db.transaction((fn: () => unknown) => fn());
    this.notify = new NotifyStore(db);
    this.herd = new HerdStore(db);
    this.s = {
      // Positional parameters: binding twelve named ones from a spread object cost four times the insert itself.
      insertReading: db.prepare<unknown[]>(`INSERT OR IGNORE INTO readings
        (collar_id, ts, interval_s, activity, rumination, eating, lying, temperature, battery_pct, rssi, seq, received_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      deleteReading: db.prepare('DELETE FROM readings WHERE rx = ?'),
      insertAlert: db.prepare(`INSERT OR IGNORE INTO alerts
        (id, farm_id, cow_id, cow_name, collar_id, type, severity, state, raised_at, since, at, evidence, updated_at, escalate_from)
        VALUES (@id, @farmId, @cowId, @cowName, @collarId, @type, @severity, 'firing', @raisedAt, @since, @at, @evidence, @now, @now)`),
      resolveAlert: db.prepare(`UPDATE alerts SET state = 'resolved', at = @at, evidence = @evidence, updated_at = @now
        WHERE id = @id AND state = 'firing'`),
      insertOutbox: db.prepare(`INSERT OR IGNORE INTO outbox (alert_id, state, channel, payload, next_attempt_at, created_at)
        VALUES (?, ?, ?, ?, ?, ?)`),
      quarantine: db.prepare(`INSERT INTO quarantine (received_at, topic, reason, payload_head, payload_bytes) VALUES (?, ?, ?, ?, ?)`),
      trimQuarantine: db.prepare(`DELETE FROM quarantine WHERE id <= (SELECT max(id) FROM quarantine) - ${QUARANTINE_KEEP}`),
      due: db.prepare<[{ channel: string; now: number; limit: number }], { id: number; alert_id: string; state: string; channel: string; attempts: number; payload: string }>(
        `SELECT id, alert_id, state, channel, attempts, payload FROM outbox
         WHERE status = 'pending' AND channel = @channel AND next_attempt_at <= @now
           -- in order: nothing overtakes a row that waits for its retry (also after a restart)
           AND id < coalesce((SELECT min(id) FROM outbox WHERE status = 'pending' AND channel = @channel AND next_attempt_at > @now), 9e18)
         ORDER BY id LIMIT @limit`,
      ),
      channelsPending: db.prepare<[], { channel: string }>(`SELECT DISTINCT channel FROM outbox WHERE status = 'pending'`),
      markSent: db.prepare(`UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?`),
      markRetry: db.prepare('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?'),
      markFailed: db.prepare(`UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?`),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      saveSnapshot: db.prepare('INSERT INTO detector_snapshot (cow_id, state) VALUES (?, ?) ON CONFLICT (cow_id) DO UPDATE SET state = excluded.state'),
      maxRx: db.prepare<[], { rx: number | null }>('SELECT max(rx) AS rx FROM readings'),
    };
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new CowbellError(
        'COWBELL_STORE_TOO_NEW',
        `database schema version ${current} is newer than this agent understands (${MIGRATIONS.length}); upgrade the agent`,
      );
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /**
   * Runs `fn` in a transaction, or as part of the one already open (no savepoint: for writes whose failure
   * fails the whole transaction anyway; each savepoint level costs SQLite a copy of every page it touches).
   */
  atomically<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.transaction(fn);
  }

  /** Runs `fn` in a transaction; called inside one, in a savepoint (rolled back alone if `fn` throws). */
  transaction<T>(fn: () => T): T {
    return this.runInTransaction(fn) as T;
  }

  /** Takes back a reading inserted in the open transaction (its processing failed; it goes to quarantine). */
  deleteReading(rx: number): void {
    if (this.s.deleteReading.run(rx).changes && this.readingRows !== null) this.readingRows--;
  }

  /** The newest reading's arrival number (0 with none). */
  maxRx(): number {
    return this.s.maxRx.get()?.rx ?? 0;
  }

  /** Returns the reading's arrival number, or null for a duplicate (collarId, ts). */
  insertReading(r: Reading, receivedAt: number): number | null {
    const info = this.s.insertReading.run(
      r.collarId, r.ts, r.intervalS, r.activity, r.rumination ?? null, r.eating ?? null, r.lying ?? null, r.temperature ?? null,
      r.batteryPct ?? null, r.rssi ?? null, r.seq ?? null, receivedAt,
    );
    if (!info.changes) return null;
    if (this.readingRows !== null) this.readingRows++;
    return Number(info.lastInsertRowid);
  }

  /**
   * Records an alert transition and queues its messages, inside the caller's transaction. Returns false
   * when there was nothing to record (the transition was already stored, e.g. on replay).
   */
  recordAlert(e: NamedAlertEvent, channels: readonly string[], now: number): boolean {
    const evidence = JSON.stringify(e.evidence);
    const changed =
      e.state === 'firing'
        ? this.s.insertAlert.run({ ...e, cowName: e.cowName ?? null, evidence, now }).changes
        : this.s.resolveAlert.run({ id: e.id, at: e.at, evidence, now }).changes;
    if (!changed) return false;
    this.queueFeeds(toAlertRow(e), e.state, channels, now);
    return true;
  }

  /** Queues one alert change for the machine feeds (MQTT, webhooks); `key` keeps each change from being queued twice. */
  queueFeeds(alert: AlertRow, key: string, channels: readonly string[], now: number): void {
    const payload = JSON.stringify(alert);
    for (const channel of channels) this.s.insertOutbox.run(alert.id, key, channel, payload, now, now);
  }

  alert(id: string): AlertRow | undefined {
    return this.selectAlerts('WHERE id = ?', [id])[0];
  }

  /**
   * A person acknowledged or snoozed open alerts. Returns the alerts that changed (an alert already
   * resolved, or already acknowledged, is left as it is).
   */
  setAck(ids: readonly string[], ack: { state: 'acknowledged' | 'snoozed'; by: string; until?: number }, now: number): AlertRow[] {
    const stmt = this.db.prepare(`UPDATE alerts SET ack_state = ?, ack_by = ?, ack_at = ?, snoozed_until = ?, updated_at = ?
      WHERE id = ? AND state = 'firing' AND (ack_state IS NULL OR ack_state = 'snoozed' OR ? = 'acknowledged' AND ack_state != 'acknowledged')`);
    const changed: AlertRow[] = [];
    for (const id of ids) {
      if (stmt.run(ack.state, ack.by, now, ack.until ?? null, now, id, ack.state).changes) changed.push(this.alert(id)!);
    }
    return changed;
  }

  /** Snoozes that have run out: the alerts are open and unacknowledged again. */
  endSnoozes(now: number): AlertRow[] {
    const ids = this.db
      .prepare<[number], { id: string }>(`SELECT id FROM alerts WHERE state = 'firing' AND ack_state = 'snoozed' AND snoozed_until <= ?`)
      .all(now)
      .map((r) => r.id);
    // Escalation starts over: the snooze was someone's answer, and its steps count from its end.
    const stmt = this.db.prepare(`UPDATE alerts SET ack_state = NULL, ack_by = NULL, ack_at = NULL, snoozed_until = NULL, updated_at = ?, escalate_from = ? WHERE id = ?`);
    for (const id of ids) stmt.run(now, now, id);
    return ids.map((id) => this.alert(id)!);
  }

  /** Open urgent alerts nobody has acknowledged (or whose snooze ended), with the agent time escalation counts from. */
  unacknowledgedUrgent(): (AlertRow & { escalateFrom: number })[] {
    return this.db
      .prepare<[], Record<string, string | number | null>>(`SELECT * FROM alerts WHERE state = 'firing' AND severity = 'urgent' AND ack_state IS NULL`)
      .all()
      .map((r) => ({ ...toRow(r), escalateFrom: (r.escalate_from ?? r.updated_at) as number }));
  }

  /** Open alerts nobody has acknowledged or snoozed. */
  unacknowledged(): AlertRow[] {
    return this.selectAlerts(`WHERE state = 'firing' AND ack_state IS NULL`, []);
  }

  quarantine(topic: string, reason: string, payload: Buffer, now: number): void {
    const head = payload.subarray(0, PAYLOAD_HEAD_BYTES).toString('utf8');
    const { lastInsertRowid } = this.s.quarantine.run(now, topic, reason, head, payload.length);
    if (Number(lastInsertRowid) % 1000 === 0) this.s.trimQuarantine.run();
  }

  /** A channel's due messages, oldest first. Queried per channel so a backlog on one never hides another's. */
  dueMessages(channel: string, now: number, limit: number): OutboxRow[] {
    return this.s.due.all({ channel, now, limit }).map((r) => ({
      id: r.id,
      alertId: r.alert_id,
      state: r.state,
      channel: r.channel,
      attempts: r.attempts,
      alert: JSON.parse(r.payload) as AlertRow,
    }));
  }

  /** Channels with messages waiting (including ones no longer configured). */
  pendingChannels(): string[] {
    return this.s.channelsPending.all().map((r) => r.channel);
  }

  /** Keeps a feed's queue bounded: the oldest non-urgent rows beyond `keep` are dropped. */
  dropFeedOverflow(channel: string, keep: number): number {
    const n = (this.db.prepare(`SELECT count(*) AS n FROM outbox WHERE status = 'pending' AND channel = ?`).get(channel) as { n: number }).n;
    if (n <= keep) return 0;
    return this.db
      .prepare(`UPDATE outbox SET status = 'failed', last_error = 'dropped: queue full' WHERE id IN (
        SELECT id FROM outbox WHERE status = 'pending' AND channel = ? AND json_extract(payload, '$.severity') != 'urgent' ORDER BY id LIMIT ?)`)
      .run(channel, n - keep).changes;
  }

  markSent(id: number, now: number): void {
    this.s.markSent.run(now, id);
  }

  markRetry(id: number, nextAttemptAt: number, error: string): void {
    this.s.markRetry.run(nextAttemptAt, error.slice(0, 500), id);
  }

  markFailed(id: number, error: string): void {
    this.s.markFailed.run(error.slice(0, 500), id);
  }

  getMeta<T>(key: string): T | undefined {
    const row = this.s.getMeta.get(key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  setMeta(key: string, value: unknown): void {
    this.s.setMeta.run(key, JSON.stringify(value));
  }

  saveSnapshots(cows: CowSnapshot[], farm: FarmSnapshot): void {
    this.transaction(() => {
      for (const cow of cows) this.s.saveSnapshot.run(cow.subject.cowId, JSON.stringify(cow));
      this.setMeta('farm', farm);
      this.setMeta('snapshotRx', this.maxRx());
    });
  }

  loadSnapshots(): { cows: unknown[]; farm: FarmSnapshot | undefined; afterRx: number } {
    const cows = this.db
      .prepare<[], { state: string }>('SELECT state FROM detector_snapshot')
      .all()
      .map((r) => JSON.parse(r.state) as unknown);
    return { cows, farm: this.getMeta<FarmSnapshot>('farm'), afterRx: this.getMeta<number>('snapshotRx') ?? 0 };
  }

  /** Drops every snapshot: the detector will be rebuilt from the stored readings (e.g. after an upgrade). */
  clearSnapshots(): void {
    this.transaction(() => {
      this.db.exec('DELETE FROM detector_snapshot');
      this.db.prepare("DELETE FROM meta WHERE key IN ('farm', 'snapshotRx')").run();
    });
  }

  /** Readings in arrival order after `afterRx`, with the cow each belongs to. */
  *readingsAfter(afterRx: number): Generator<StoredReading & { cowId: string }> {
    const rows = this.db
      .prepare(
        `SELECT r.*, coalesce(h.cow_id, r.collar_id) AS cow_id FROM readings r LEFT JOIN herd h USING (collar_id)
         WHERE rx > ? AND rx > coalesce(h.from_rx, 0) ORDER BY rx`,
      )
      .iterate(afterRx) as IterableIterator<Record<string, number | string | null>>;
    for (const row of rows) {
      const r: StoredReading & { cowId: string } = {
        rx: row.rx as number,
        cowId: row.cow_id as string,
        collarId: row.collar_id as string,
        ts: row.ts as number,
        intervalS: row.interval_s as number,
        activity: row.activity as number,
        receivedAt: row.received_at as number,
      };
      for (const [field, column] of OPTIONAL_COLUMNS) {
        if (row[column] !== null) (r as unknown as Record<string, unknown>)[field] = row[column];
      }
      yield r;
    }
  }

  openAlerts(): AlertRow[] {
    return this.selectAlerts("WHERE state = 'firing' ORDER BY at", []);
  }

  /**
   * Alerts whose latest change was recorded at or after `since` (the agent's clock), oldest first. Recording
   * time, not event time, is the polling cursor: a late reading can raise an alert whose event time is past.
   */
  alertsSince(since: number, limit: number): AlertRow[] {
    return this.selectAlerts('WHERE updated_at >= ? ORDER BY updated_at, id LIMIT ?', [since, limit]);
  }

  /** The most recent alert changes, newest first (for the status page). */
  latestAlerts(limit: number): AlertRow[] {
    return this.selectAlerts('ORDER BY updated_at DESC, id DESC LIMIT ?', [limit]);
  }

  private selectAlerts(where: string, params: unknown[]): AlertRow[] {
    return this.db
      .prepare<unknown[], Record<string, string | number | null>>(`SELECT * FROM alerts ${where}`)
      .all(...params)
      .map(toRow);
  }

  /** Deletes readings older than `before` (event time), a chunk at a time so ingest is never held up long. */
  async pruneReadings(before: number, chunk = 5000): Promise<number> {
    let total = 0;
    const stmt = this.db.prepare('DELETE FROM readings WHERE rx IN (SELECT rx FROM readings WHERE ts < ? LIMIT ?)');
    for (;;) {
      const n = stmt.run(before, chunk).changes;
      total += n;
      if (this.readingRows !== null) this.readingRows -= n;
      if (n < chunk || !this.db.open) return total;
      // Ingest, the page and the chat loops get their turn between chunks: a lowered retention can leave
      // millions of rows to go, and one go of it held everything for tens of seconds.
      await new Promise((r) => setImmediate(r));
      if (!this.db.open) return total;
    }
  }

  /**
   * Forgets what is settled and older than `before` (the agent's clock): delivered or failed feed rows,
   * people's notifications and messages that are no longer waiting, and resolved alerts nothing refers to.
   */
  pruneHistory(before: number): void {
    this.transaction(() => {
      this.db.prepare(`DELETE FROM outbox WHERE status != 'pending' AND created_at < ?`).run(before);
      this.db.prepare(`DELETE FROM notifications WHERE status NOT IN ('pending', 'inflight') AND created_at < ?`).run(before);
      this.db
        .prepare(`DELETE FROM messages WHERE status != 'inflight' AND created_at < ? AND id NOT IN (SELECT message_id FROM notifications WHERE message_id IS NOT NULL)`)
        .run(before);
      this.db.prepare(`DELETE FROM message_items WHERE message_id NOT IN (SELECT id FROM messages)`).run();
      this.db
        .prepare(`DELETE FROM alerts WHERE state = 'resolved' AND updated_at < ?
          AND id NOT IN (SELECT alert_id FROM outbox) AND id NOT IN (SELECT alert_id FROM notifications)`)
        .run(before);
    });
  }

  /**
   * Readings stored, counted once and then kept up to date by the inserts and deletes, so the status page
   * (refreshed by every open browser) does not walk millions of rows for it.
   */
  readingCount(): number {
    return (this.readingRows ??= (this.db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n);
  }

  /** After a rolled-back transaction: the kept counts may be off, so they are counted afresh when next asked. */
  forgetCounts(): void {
    this.readingRows = null;
  }

  counts() {
    const one = (sql: string) => (this.db.prepare(sql).get() as { n: number }).n;
    return {
      readings: this.readingCount(),
      collars: one('SELECT count(*) AS n FROM herd'),
      quarantined: one('SELECT count(*) AS n FROM quarantine'),
      openAlerts: one("SELECT count(*) AS n FROM alerts WHERE state = 'firing'"),
      outboxPending: one("SELECT count(*) AS n FROM outbox WHERE status = 'pending'"),
      outboxFailed: one("SELECT count(*) AS n FROM outbox WHERE status = 'failed'"),
      lastReadingTs: (this.db.prepare('SELECT max(ts) AS n FROM readings').get() as { n: number | null }).n,
    };
  }

  /** What /metrics shows of the store: open alerts by type, outbox rows by status, the oldest pending, collars heard since `since`. */
  metricCounts(since: number) {
    return {
      openAlerts: this.db.prepare("SELECT type, count(*) AS n FROM alerts WHERE state = 'firing' GROUP BY type").all() as { type: string; n: number }[],
      outbox: this.db.prepare('SELECT status, count(*) AS n FROM outbox GROUP BY status').all() as { status: string; n: number }[],
      oldestPending: (this.db.prepare("SELECT min(created_at) AS t FROM outbox WHERE status = 'pending'").get() as { t: number | null }).t,
      failedByReason: this.db.prepare("SELECT coalesce(substr(last_error, 1, 60), 'unknown') AS reason, count(*) AS n FROM outbox WHERE status = 'failed' GROUP BY 1 ORDER BY 2 DESC LIMIT 20").all() as { reason: string; n: number }[],
      collarsHeard: (this.db.prepare('SELECT count(*) AS n FROM herd WHERE last_seen >= ?').get(since) as { n: number }).n,
      collars: (this.db.prepare('SELECT count(*) AS n FROM herd').get() as { n: number }).n,
    };
  }

  recentQuarantine(limit: number) {
    return this.db
      .prepare('SELECT received_at AS receivedAt, topic, reason, payload_bytes AS bytes FROM quarantine ORDER BY id DESC LIMIT ?')
      .all(limit) as { receivedAt: number; topic: string; reason: string; bytes: number }[];
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toRow(r: Record<string, string | number | null>): AlertRow {
  const ackState = r.ack_state as 'acknowledged' | 'snoozed' | null;
  return {
    id: r.id as string,
    farmId: r.farm_id as string,
    cowId: r.cow_id as string,
    ...(r.cow_name !== null && r.cow_name !== undefined && { cowName: r.cow_name as string }),
    collarId: r.collar_id as string,
    type: r.type as AlertType,
    state: r.state === 'resolved' ? 'resolved' : (ackState ?? 'firing'),
    severity: r.severity as Severity,
    at: r.at as number,
    since: r.since as number,
    raisedAt: r.raised_at as number,
    evidence: JSON.parse(r.evidence as string) as Record<string, unknown>,
    ...(ackState && {
      ack: { by: r.ack_by as string, at: r.ack_at as number, ...(r.snoozed_until !== null && { until: r.snoozed_until as number }) },
    }),
    recordedAt: r.updated_at as number,
  };
}

/** An alert event with the name the herd register gives her cow, when it gives one. */
export type NamedAlertEvent = AlertEvent & { cowName?: string | undefined };

export function toAlertRow(e: NamedAlertEvent): AlertRow {
  return {
    id: e.id, farmId: e.farmId, cowId: e.cowId, ...(e.cowName !== undefined && { cowName: e.cowName }), collarId: e.collarId, type: e.type, state: e.state,
    severity: e.severity, at: e.at, since: e.since, raisedAt: e.raisedAt, evidence: e.evidence,
  };
}

