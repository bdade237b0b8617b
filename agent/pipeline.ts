import Database from 'better-sqlite3';
import { CowDetector, DAY_MS, FarmDetector, SNAPSHOT_VERSION, type AlertEvent, type CowRecord, type CowSnapshot, type Reading, type RuleSet } from '../rules/index.js';
import { parseStatus, parseUplink, sourceOf, statusSourceOf, type LorawanSource } from './ingest/lorawan.js';
import { parseMessage } from './ingest/payload.js';
import type { Logger } from './log.js';
import type { NamedAlertEvent, Store } from './store/store.js';

/** A reading this far ahead of our clock: the collar's clock or ours is wrong. Kept, but counted and capped. */
const MAX_AHEAD_MS = 15 * 60_000;

export interface PipelineCounters {
  messages: number;
  readings: number;
  duplicates: number;
  quarantined: number;
  /** Stored but too old to take part in detection. */
  lateUnjudged: number;
  /** Stamped more than 15 minutes ahead of the gateway's clock on arrival. */
  aheadOfClock: number;
  /** Stamped so far in the future (a collar clock gone wrong) that they are kept out of detection. */
  futureUnjudged: number;
  alerts: number;
  /** Battery levels from a network server's device-status events. */
  statusEvents: number;
  /** Messages of new collars refused because `maxUnassignedCollars` were already known. */
  unassignedRefused: number;
  /** Unassigned collars forgotten after a silence. */
  unassignedForgotten: number;
  /** Readings never received, by the collars' `seq` numbers (see `seqGaps`). */
  seqMissing: number;
}

export interface PipelineOptions {
  farmId: string;
  /** LoRaWAN network servers' uplink topics this farm's collars also arrive on. */
  sources?: readonly LorawanSource[];
  /** The farm's time zone: cows' daily rhythm follows its clock. */
  timezone?: string;
  rules: RuleSet;
  retentionDays: number;
  store: Store;
  logger: Logger;
  /** The machine feeds (MQTT, webhooks) an alert change is queued for. */
  feedsFor: (e: AlertEvent) => readonly string[];
  /** Queues what people are told about an alert change; runs inside the transaction that records it. */
  notify: (e: AlertEvent, now: number) => void;
  clock?: () => number;
  onAlert?: (e: AlertEvent) => void;
  /** 'page': a collar the herd register does not place on a cow has its alerts shown, not sent to people. */
  unassignedCollars?: 'alert' | 'page';
  /** At most this many collars outside the herd register (default 5000): the rest are quarantined. */
  maxUnassignedCollars?: number;
}

/**
 * collar message → validated readings → SQLite → detector → alerts and outbox rows. One message is one
 * transaction: its readings, the alerts they raise and those alerts' messages commit together, and only
 * then is the message acknowledged to the broker.
 */
export class ReadingPipeline {
  /** Replaced only by `reset()`: readers take it afresh each time. */
  detector: FarmDetector;
  readonly counters: PipelineCounters = { messages: 0, readings: 0, duplicates: 0, quarantined: 0, lateUnjudged: 0, aheadOfClock: 0, futureUnjudged: 0, alerts: 0, statusEvents: 0, unassignedRefused: 0, unassignedForgotten: 0, seqMissing: 0 };
  lastMessageAt: number | null = null;
  /** Collars that sent readings stamped in the future, with the latest such stamp and when it came (bounded). */
  readonly futureCollars = new Map<string, { ts: number; at: number }>();
  /**
   * Collars whose `seq` skipped numbers: readings lost before they reached the agent (a broker's queue
   * overflowing while the agent was away, a gateway dropping uplinks). Bounded like the other per-collar maps.
   */
  readonly seqGaps = new Map<string, { max: number; missing: number }>();
  /** (collar, seq) pairs of the group being committed, flat. */
  private readonly seqsInGroup: (string | number)[] = [];
  /** Cows with readings that came too late to be judged, how many and the newest such arrival (bounded). */
  readonly lateCows = new Map<string, { n: number; at: number }>();
  private readonly clock: () => number;
  private readonly warnLimiter = new Map<string, { windowStart: number; count: number }>();
  /** Each detector's cow in the herd register (a collar's own id while it is unassigned). */
  private herdKeys: Map<string, { assigned: boolean; name: string | null }>;
  private readonly collarCows = new Map<string, { cowId: string; touched: number }>();
  /** Collars outside the herd register, counted when needed (null: count again). */
  private unassigned: number | null = null;
  /** Why the last new collar was refused. */
  private refusal = '';

  constructor(private readonly o: PipelineOptions) {
    this.clock = o.clock ?? Date.now;
    this.herdKeys = o.store.herd.keys();
    this.detector = this.newDetector();
  }

  private newDetector(): FarmDetector {
    const det = new FarmDetector(this.o.farmId, this.o.rules, { maxAheadOfArrivalMs: MAX_AHEAD_MS, ...(this.o.timezone && { timezone: this.o.timezone }) });
    this.giveRecords(det);
    return det;
  }

  /**
   * The register's calving and insemination days, which the rules read (a calving's dip is not an illness;
   * an inseminated cow that does not come back into heat has not missed a cycle).
   */
  private giveRecords(det: FarmDetector): void {
    const records = new Map<string, CowRecord>();
    for (const row of this.o.store.herd.list()) {
      const calvedAt = row.calved ? det.dayStart(row.calved) : NaN;
      const inseminatedAt = row.inseminated ? det.dayStart(row.inseminated) : NaN;
      if (calvedAt !== calvedAt && inseminatedAt !== inseminatedAt) continue;
      records.set(row.cow, { ...(calvedAt === calvedAt && { calvedAt }), ...(inseminatedAt === inseminatedAt && { inseminatedAt }) });
    }
    det.setRecords(records);
  }

  /**
   * Back to what is committed, after a group that could not be: the detector had already judged its
   * readings in memory, so it is rebuilt from the last snapshot and the stored readings, as at a start.
   */
  reset(): { cows: number; replayed: number } {
    this.detector = this.newDetector();
    this.collarCows.clear();
    this.unassigned = null;
    return this.restore();
  }

  /**
   * Rebuilds every cow's detector state: the last snapshot, then the readings that arrived after it, in
   * arrival order, so the detector is exactly where it was. Alerts those readings raised were committed with
   * them and are not raised twice; finally the store's open alerts are taken as the truth.
   */
  restore(): { cows: number; replayed: number } {
    const { store } = this.o;
    let snap = store.loadSnapshots();
    const usable = snap.cows.every((c) => (c as CowSnapshot).v === SNAPSHOT_VERSION);
    if (!usable) {
      this.o.logger.warn('detector snapshots are from another version; rebuilding baselines from stored readings');
      store.clearSnapshots();
      snap = { cows: [], farm: undefined, afterRx: 0 };
    }
    for (const cow of snap.cows) this.detector.restoreCow(cow as CowSnapshot);
    if (snap.farm) this.detector.restoreFarm(snap.farm);
    let replayed = 0;
    for (const r of store.readingsAfter(snap.afterRx)) {
      const { rx: _rx, receivedAt, cowId, ...reading } = r;
      this.detector.observe(reading, cowId, receivedAt);
      replayed++;
    }
    this.reconcileOpenAlerts();
    return { cows: this.detector.cows.size, replayed };
  }

  private reconcileOpenAlerts(): void {
    const open = new Map(this.o.store.openAlerts().map((a) => [`${a.cowId}/${a.type}`, a]));
    for (const cow of this.detector.cows.values()) {
      const book = cow.state.alerts;
      for (const type of Object.keys(book.open) as (keyof typeof book.open)[]) {
        if (!open.has(`${cow.subject.cowId}/${type}`)) delete book.open[type];
      }
    }
    for (const a of open.values()) {
      const cow = this.detector.cows.get(a.cowId);
      if (cow) cow.state.alerts.open[a.type] = { id: a.id, severity: a.severity, raisedAt: a.raisedAt, since: a.since, evidence: a.evidence };
    }
  }

  /**
   * A group of MQTT messages in one transaction (one commit, one fsync); a reading that fails for another
   * reason than the store is taken back on its own (`accept`). Throws only if the store itself fails: then
   * nothing of the group is committed or acknowledged.
   */
  handleMessages(group: readonly { topic: string; payload: Buffer }[]): void {
    const counted = { ...this.counters };
    this.seqsInGroup.length = 0;
    try {
      this.o.store.transaction(() => {
        for (const m of group) this.handleOne(m.topic, m.payload);
      });
    } catch (err) {
      // Nothing of the group happened: it will come again (a retry, or the broker's redelivery).
      Object.assign(this.counters, counted);
      this.o.store.forgetCounts();
      throw err;
    }
    // Only what committed speaks for the collars' sequence numbers.
    const seqs = this.seqsInGroup;
    for (let i = 0; i < seqs.length; i += 2) this.noteSeq(seqs[i] as string, seqs[i + 1] as number);
    seqs.length = 0;
  }

  /** Handles one MQTT message, as a group of one. */
  handleMessage(topic: string, payload: Buffer): void {
    this.handleMessages([{ topic, payload }]);
  }

  /** One message of a group, inside its transaction. */
  private handleOne(topic: string, payload: Buffer): void {
    const now = this.clock();
    this.counters.messages++;
    this.lastMessageAt = now;
    const status = this.o.sources?.length ? statusSourceOf(this.o.sources, topic) : undefined;
    if (status) return this.handleStatus(status, topic, payload, now);
    const source = this.o.sources?.length ? sourceOf(this.o.sources, topic) : undefined;
    const parsed = source ? parseUplink(source, this.o.farmId, topic, payload) : parseMessage(topic, payload);
    const { store } = this.o;
    store.atomically(() => {
      if (!parsed.ok) return this.quarantine(topic, parsed.reason, payload, now);
      if (parsed.farmId !== this.o.farmId) {
        return this.quarantine(topic, `farm "${parsed.farmId}" is not this agent's farm "${this.o.farmId}"`, payload, now);
      }
      for (const bad of parsed.rejected) this.quarantine(topic, bad.reason, payload, now);
      if (parsed.readings.length === 0) return;
      const cowId = this.cowFor(parsed.collarId, now);
      if (cowId === null) return this.refuseCollar(topic, payload, now);
      for (const reading of parsed.readings) {
        try {
          this.accept(reading, cowId, topic, payload, now);
        } catch (err) {
          // The store failing is fatal (the caller withholds the PUBACK); anything else is this reading's
          // problem and must not stall the collar's other readings or crash-loop on redelivery.
          if (err instanceof Database.SqliteError) throw err;
          this.quarantine(topic, `could not process reading at ts ${reading.ts}: ${(err as Error).message}`, payload, now);
        }
      }
    });
  }

  /** A network server's device-status event: a battery level between readings, judged like a reading's. */
  private handleStatus(source: LorawanSource, topic: string, payload: Buffer, now: number): void {
    const parsed = parseStatus(source, topic, payload);
    this.o.store.atomically(() => {
      if (!parsed.ok) return this.quarantine(topic, parsed.reason, payload, now);
      if (!('batteryPct' in parsed)) return;
      if (parsed.ts > now + MAX_AHEAD_MS) return this.quarantine(topic, 'status event stamped ahead of the gateway\'s clock', payload, now);
      this.counters.statusEvents++;
      const cowId = this.cowFor(parsed.collarId, now);
      if (cowId === null) return this.refuseCollar(topic, payload, now);
      this.record(this.detector.observeBattery(cowId, parsed.collarId, parsed.ts, parsed.batteryPct), now);
    });
  }

  private accept(reading: Reading, cowId: string, topic: string, payload: Buffer, now: number): void {
    const tooOld = this.tooOld(reading.ts);
    if (tooOld) return this.quarantine(topic, tooOld, payload, now);
    const rx = this.o.store.insertReading(reading, now);
    if (rx === null) {
      this.counters.duplicates++;
      return;
    }
    if (reading.seq !== undefined) this.seqsInGroup.push(reading.collarId, reading.seq);
    try {
      this.judge(reading, cowId, now);
    } catch (err) {
      // A reading that fails half-way is quarantined, not also stored. Its row is taken back by hand: a
      // savepoint around every reading would cost SQLite a copy of each page it touches, and alerts (the
      // only other writes) are recorded in a savepoint of their own.
      if (!(err instanceof Database.SqliteError)) this.o.store.deleteReading(rx);
      throw err;
    }
  }

  /**
   * Counts the numbers a collar's `seq` skipped. A reading filling a gap late (a backlog in the wrong order)
   * takes one back; a jump back of more than 10,000 is the collar restarting its count (or wrapping), not a
   * late reading, and starts afresh.
   */
  private noteSeq(collarId: string, seq: number): void {
    const s = this.seqGaps.get(collarId);
    if (!s) {
      if (this.seqGaps.size < 100_000) this.seqGaps.set(collarId, { max: seq, missing: 0 });
      return;
    }
    if (seq > s.max) {
      const skipped = seq - s.max - 1;
      s.missing += skipped;
      this.counters.seqMissing += skipped;
      s.max = seq;
    } else if (s.max - seq > 10_000) s.max = seq;
    else if (s.missing > 0) {
      s.missing--;
      this.counters.seqMissing--;
    }
  }

  private judge(reading: Reading, cowId: string, now: number): void {
    this.counters.readings++;
    if (reading.ts > now + MAX_AHEAD_MS) {
      this.counters.aheadOfClock++;
      this.warnLimited(`ahead:${reading.collarId}`, now, { collarId: reading.collarId, ts: new Date(reading.ts).toISOString() },
        "reading is ahead of the gateway's clock (collar clock or gateway clock wrong?); kept, but it cannot move the farm's event time");
    }
    const result = this.detector.observe(reading, cowId, now);
    if (result.future) {
      this.counters.futureUnjudged++;
      if (this.futureCollars.size < 1000 || this.futureCollars.has(reading.collarId)) this.futureCollars.set(reading.collarId, { ts: reading.ts, at: now });
      this.warnLimited(`future:${reading.collarId}`, now, { collarId: reading.collarId, ts: new Date(reading.ts).toISOString() },
        "reading stamped in the future (the collar's clock is wrong?); stored, but left out of detection so it cannot blind her");
    } else if (!result.judged) {
      this.counters.lateUnjudged++;
      const late = this.lateCows.get(cowId);
      if (late) {
        late.n++;
        late.at = now;
      } else if (this.lateCows.size < 1000) this.lateCows.set(cowId, { n: 1, at: now });
    }
    if (result.events.length) this.o.store.transaction(() => this.record(result.events, now));
  }

  private tooOld(ts: number): string | null {
    const watermark = this.detector.farm.watermark;
    if (watermark !== null && ts < watermark - this.o.retentionDays * DAY_MS) {
      return `ts ${new Date(ts).toISOString()} is older than the ${this.o.retentionDays}-day retention window`;
    }
    return null;
  }

  /** Wall-clock check for collars that went silent; the controller calls it on a timer. */
  checkSilence(): void {
    const now = this.clock();
    const events = this.detector.checkSilence(now);
    if (!events.length) return;
    try {
      this.o.store.transaction(() => this.record(events, now));
    } catch (err) {
      // The detector already counts these alerts as open; take the store's word back so the next check retries.
      this.reconcileOpenAlerts();
      throw err;
    }
  }

  private record(events: readonly AlertEvent[], now: number): void {
    for (const event of events) {
      const cow = this.herdKeys.get(event.cowId);
      const e: NamedAlertEvent = cow?.name ? { ...event, cowName: cow.name } : event;
      if (this.o.store.recordAlert(e, this.o.feedsFor(e), now)) {
        if (cow?.assigned || this.o.unassignedCollars !== 'page') this.o.notify(e, now);
        this.counters.alerts++;
        this.o.onAlert?.(e);
      }
    }
  }

  /** After the herd register changed: names, assignments and calving and insemination days as it now says. */
  reloadHerd(): void {
    this.herdKeys = this.o.store.herd.keys();
    this.giveRecords(this.detector);
    this.collarCows.clear();
    this.unassigned = null;
  }

  /**
   * The detector a collar's readings feed, from memory; the store is asked (and told she was heard) once a
   * minute per collar at most: `last_seen` is for "heard in the last hour", and a write per message was a
   * tenth of the cost of a single-reading message.
   */
  private cowFor(collarId: string, now: number): string | null {
    const known = this.collarCows.get(collarId);
    if (known && now - known.touched < 60_000) return known.cowId;
    if (this.collarCows.size >= 100_000) this.collarCows.clear(); // collar ids are publisher-chosen: stay bounded
    this.unassigned ??= this.o.store.herd.unassignedCount();
    const room = this.unassigned < (this.o.maxUnassignedCollars ?? 5000);
    const cowId = this.o.store.herd.cowForCollar(this.o.farmId, collarId, now, room);
    if (typeof cowId !== 'string') {
      this.refusal = cowId.refused;
      return null;
    }
    if (!known && cowId === collarId && !this.herdKeys.get(cowId)?.assigned) this.unassigned = null; // perhaps new: counted afresh
    this.collarCows.set(collarId, { cowId, touched: now });
    return cowId;
  }

  private refuseCollar(topic: string, payload: Buffer, now: number): void {
    this.counters.unassignedRefused++;
    this.quarantine(topic, this.refusal === 'full'
      ? `a new collar, but ${this.o.maxUnassignedCollars ?? 5000} collars outside the herd register are known already (herd.maxUnassignedCollars): add it to the herd register, or wait for silent ones to be forgotten`
      : this.refusal, payload, now);
  }

  /** Unassigned collars silent since before `before` are forgotten: their detector, snapshot and herd row. */
  forgetSilentCollars(before: number): string[] {
    const gone = this.o.store.transaction(() => this.o.store.herd.forgetSilentUnassigned(before, this.clock()));
    for (const id of gone) {
      this.detector.retireCow(id);
      this.collarCows.delete(id);
    }
    this.counters.unassignedForgotten += gone.length;
    this.unassigned = null;
    return gone;
  }


  private quarantine(topic: string, reason: string, payload: Buffer, now: number): void {
    this.counters.quarantined++;
    this.o.store.quarantine(topic, reason, payload, now);
    this.warnLimited(topic, now, { topic, reason, bytes: payload.length }, 'payload quarantined');
  }

  /** One warn line per event, but a collar spewing garbage must not drown the log: 10 a minute per key. */
  private warnLimited(key: string, now: number, fields: Record<string, unknown>, msg: string): void {
    if (this.warnLimiter.size > 10_000) this.warnLimiter.clear(); // keys are publisher-chosen: stay bounded
    const limit = this.warnLimiter.get(key);
    if (!limit || now - limit.windowStart >= 60_000) {
      if (limit && limit.count > 10) this.o.logger.warn({ key, suppressed: limit.count - 10 }, `${msg} (more suppressed)`);
      this.warnLimiter.set(key, { windowStart: now, count: 1 });
    } else if (++limit.count > 10) return;
    this.o.logger.warn(fields, msg);
  }

  /** Saves the state of every cow that changed since the last snapshot, in one transaction. */
  snapshot(): number {
    const cows = this.detector.dirtyCows();
    this.o.store.saveSnapshots(
      cows.map((c: CowDetector) => c.snapshot()),
      this.detector.snapshotFarm(),
    );
    this.detector.markSaved(cows);
    return cows.length;
  }
}
