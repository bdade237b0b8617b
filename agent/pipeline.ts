import { CowDetector, FarmDetector, SNAPSHOT_VERSION, type AlertEvent, type CowSnapshot, type RuleSet } from '../rules/index.js';
import { parseMessage } from './ingest/payload.js';
import type { Logger } from './log.js';
import type { Store } from './store/store.js';

const HOUR_MS = 3_600_000;
/** A collar clock this far ahead of ours is wrong, and would drag the farm's event-time watermark with it. */
const MAX_FUTURE_MS = 15 * 60_000;

export interface PipelineCounters {
  messages: number;
  readings: number;
  duplicates: number;
  quarantined: number;
  /** Stored but too old to take part in detection. */
  lateUnjudged: number;
  alerts: number;
}

export interface PipelineOptions {
  farmId: string;
  rules: RuleSet;
  retentionDays: number;
  store: Store;
  logger: Logger;
  /** Channel names each alert transition is queued for; resolved ones only for `resolvedChannels`. */
  channels: readonly string[];
  resolvedChannels: readonly string[];
  clock?: () => number;
  onAlert?: (e: AlertEvent) => void;
}

/**
 * collar message → validated readings → SQLite → detector → alerts and outbox rows. One message is one
 * transaction: its readings, the alerts they raise and those alerts' messages commit together, and only
 * then is the message acknowledged to the broker.
 */
export class ReadingPipeline {
  readonly detector: FarmDetector;
  readonly counters: PipelineCounters = { messages: 0, readings: 0, duplicates: 0, quarantined: 0, lateUnjudged: 0, alerts: 0 };
  lastMessageAt: number | null = null;
  private readonly clock: () => number;
  private readonly warnLimiter = new Map<string, { windowStart: number; count: number }>();

  constructor(private readonly o: PipelineOptions) {
    this.clock = o.clock ?? Date.now;
    this.detector = new FarmDetector(o.farmId, o.rules);
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
    if (snap.farm) this.detector.farm = snap.farm;
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

  /** Handles one MQTT message. Throws only if the store itself fails (then the message stays unacknowledged). */
  handleMessage(topic: string, payload: Buffer): void {
    const now = this.clock();
    this.counters.messages++;
    this.lastMessageAt = now;
    const parsed = parseMessage(topic, payload);
    const { store } = this.o;
    store.transaction(() => {
      if (!parsed.ok) return this.quarantine(topic, parsed.reason, payload, now);
      if (parsed.farmId !== this.o.farmId) {
        return this.quarantine(topic, `farm "${parsed.farmId}" is not this agent's farm "${this.o.farmId}"`, payload, now);
      }
      for (const bad of parsed.rejected) this.quarantine(topic, bad.reason, payload, now);
      if (parsed.readings.length === 0) return;
      const cowId = store.cowForCollar(this.o.farmId, parsed.collarId, now);
      for (const reading of parsed.readings) {
        const problem = this.timeProblem(reading.ts, now);
        if (problem) {
          this.quarantine(topic, problem, payload, now);
          continue;
        }
        if (store.insertReading(reading, now) === null) {
          this.counters.duplicates++;
          continue;
        }
        this.counters.readings++;
        const result = this.detector.observe(reading, cowId, now);
        if (!result.judged) this.counters.lateUnjudged++;
        this.record(result.events, now);
      }
    });
  }

  private timeProblem(ts: number, now: number): string | null {
    if (ts > now + MAX_FUTURE_MS) return `ts ${new Date(ts).toISOString()} is in the future (collar clock wrong?)`;
    const watermark = this.detector.farm.watermark;
    if (watermark !== null && ts < watermark - this.o.retentionDays * 24 * HOUR_MS) {
      return `ts ${new Date(ts).toISOString()} is older than the ${this.o.retentionDays}-day retention window`;
    }
    return null;
  }

  /** Wall-clock check for collars that went silent; the controller calls it on a timer. */
  checkSilence(): void {
    const now = this.clock();
    const events = this.detector.checkSilence(now);
    if (events.length) this.o.store.transaction(() => this.record(events, now));
  }

  private record(events: AlertEvent[], now: number): void {
    for (const e of events) {
      const channels = e.state === 'firing' ? this.o.channels : this.o.resolvedChannels;
      if (this.o.store.recordAlert(e, channels, now)) {
        this.counters.alerts++;
        this.o.onAlert?.(e);
      }
    }
  }

  private quarantine(topic: string, reason: string, payload: Buffer, now: number): void {
    this.counters.quarantined++;
    this.o.store.quarantine(topic, reason, payload, now);
    // One warn line per bad payload, but a collar spewing garbage must not drown the log: 10 a minute per topic.
    if (this.warnLimiter.size > 10_000) this.warnLimiter.clear(); // topics are publisher-chosen: stay bounded
    const limit = this.warnLimiter.get(topic);
    if (!limit || now - limit.windowStart >= 60_000) {
      if (limit && limit.count > 10) this.o.logger.warn({ topic, suppressed: limit.count - 10 }, 'more payloads quarantined');
      this.warnLimiter.set(topic, { windowStart: now, count: 1 });
    } else if (++limit.count > 10) return;
    this.o.logger.warn({ topic, reason, bytes: payload.length }, 'payload quarantined');
  }

  /** Saves the state of every cow that changed since the last snapshot, in one transaction. */
  snapshot(): number {
    const cows = this.detector.takeDirty();
    this.o.store.saveSnapshots(
      cows.map((c: CowDetector) => c.state),
      this.detector.farm,
    );
    return cows.length;
  }
}
