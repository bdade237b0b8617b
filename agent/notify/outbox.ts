import { asDeliveryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AlertRow, Store } from '../store/store.js';
import { Loop, withDeadline } from './loop.js';

/**
 * A machine feed: every alert change, one at a time, in order (MQTT, a signed webhook). People are served
 * by the notifier instead, which groups and paces what they read.
 */
export interface FeedChannel {
  readonly name: string;
  /** `deliveryId` is stable across retries of the same change, so a receiver can drop a duplicate. */
  send(alert: AlertRow, signal: AbortSignal, deliveryId: string): Promise<void>;
  /** Per-send deadline; the lane moves on (and retries later) when it passes. */
  readonly timeoutMs?: number;
}

export interface OutboxOptions {
  store: Store;
  channels: FeedChannel[];
  logger: Logger;
  clock?: () => number;
  /** Uniform [0,1): jitter, injectable so tests are exact. */
  random?: () => number;
  pollMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Pending rows per feed; beyond it the oldest non-urgent changes are dropped (the alerts stay in the store). */
  maxPending?: number;
}

export interface OutboxStats {
  sent: number;
  retried: number;
  failed: number;
  dropped: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_PENDING = 10_000;

/**
 * Delivers queued alert changes to the feeds. Rows were written with their alert in one transaction, so
 * nothing is lost between detection and delivery; a row is marked sent only after the channel accepted it
 * (at least once). Each channel has a loop of its own and every send a deadline: one slow, hung or failing
 * channel delays no other. A failing channel backs off exponentially with jitter, keeping its order.
 */
export class OutboxWorker {
  readonly stats: OutboxStats = { sent: 0, retried: 0, failed: 0, dropped: 0 };
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly lanes: Loop[];
  private readonly pausedUntil = new Map<string, number>();
  private readonly known: Set<string>;

  constructor(private readonly o: OutboxOptions) {
    this.clock = o.clock ?? Date.now;
    this.random = o.random ?? Math.random;
    this.known = new Set(o.channels.map((c) => c.name));
    this.lanes = o.channels.map((c) => new Loop(`outbox:${c.name}`, () => this.step(c), o.logger, { idleMs: o.pollMs ?? 1000 }));
  }

  start(): void {
    this.failUnconfigured();
    for (const lane of this.lanes) lane.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.stop()));
  }

  /** New rows were committed: deliver now rather than at the next poll. */
  nudge(): void {
    for (const lane of this.lanes) lane.nudge();
  }

  /** One step of every lane, side by side (tests drive the worker this way with an injected clock). */
  async drain(): Promise<void> {
    this.failUnconfigured();
    await Promise.all(this.lanes.map((l) => l.runOnce()));
  }

  backoffMs(attempts: number): number {
    const base = this.o.baseDelayMs ?? 5_000;
    const max = this.o.maxDelayMs ?? 15 * 60_000;
    const delay = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
    return Math.round(delay * (0.8 + 0.4 * this.random()));
  }

  /** Rows for a feed that was removed from the config would wait forever: fail them, visibly. */
  private failUnconfigured(): void {
    const { store } = this.o;
    for (const name of store.pendingChannels()) {
      if (this.known.has(name)) continue;
      for (const row of store.dueMessages(name, Number.MAX_SAFE_INTEGER, 1000)) {
        store.markFailed(row.id, `channel "${name}" is not configured`);
        this.stats.failed++;
      }
    }
  }

  /** Works through the channel's due rows in order; returns when to look again. */
  private async step(channel: FeedChannel): Promise<number | null> {
    const { store, logger } = this.o;
    const paused = (this.pausedUntil.get(channel.name) ?? 0) - this.clock();
    if (paused > 0) return paused;
    const maxPending = this.o.maxPending ?? DEFAULT_MAX_PENDING;
    {
      const dropped = store.dropFeedOverflow(channel.name, maxPending);
      if (dropped) {
        this.stats.dropped += dropped;
        logger.warn({ channel: channel.name, dropped, kept: maxPending }, 'feed queue full: dropped the oldest non-urgent changes (the alerts stay in the store and /api/alerts)');
      }
    }
    for (;;) {
      const rows = store.dueMessages(channel.name, this.clock(), 100);
      if (!rows.length) return null;
      for (const row of rows) {
        try {
          await withDeadline(channel.timeoutMs ?? DEFAULT_TIMEOUT_MS, channel.name, (signal) => channel.send(row.alert, signal, `${row.alertId}/${row.state}`));
          store.markSent(row.id, this.clock());
          this.stats.sent++;
        } catch (err) {
          const e = asDeliveryError(err);
          if (!e.retryable) {
            store.markFailed(row.id, e.message);
            this.stats.failed++;
            logger.error({ channel: channel.name, alertId: row.alertId, err: e.message }, 'delivery rejected; giving up on this message');
            continue;
          }
          // The channel is down: leave the rest of its queue alone until its backoff ends, keeping their order.
          const delay = Math.max(e.retryAfterMs ?? 0, this.backoffMs(row.attempts + 1));
          store.markRetry(row.id, this.clock() + delay, e.message);
          this.stats.retried++;
          this.pausedUntil.set(channel.name, this.clock() + delay);
          logger.warn({ channel: channel.name, alertId: row.alertId, attempt: row.attempts + 1, retryInMs: delay, err: e.message }, 'delivery failed; will retry');
          return delay;
        }
      }
    }
  }
}
