import { DeliveryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import type { Channel } from './channels.js';

export interface OutboxOptions {
  store: Store;
  channels: Channel[];
  logger: Logger;
  clock?: () => number;
  /** Uniform [0,1): jitter, injectable so tests are exact. */
  random?: () => number;
  pollMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface OutboxStats {
  sent: number;
  retried: number;
  failed: number;
}

/**
 * Delivers queued messages. Rows were written with their alert in one transaction, so nothing is lost
 * between detection and delivery; a row is marked sent only after the channel accepted it, so delivery is at
 * least once. A failing channel backs off exponentially (with jitter) and does not hold up the others.
 */
export class OutboxWorker {
  readonly stats: OutboxStats = { sent: 0, retried: 0, failed: 0 };
  private readonly channels: Map<string, Channel>;
  private readonly clock: () => number;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  /** A channel that just failed is left alone until its backoff ends, whichever message comes next. */
  private readonly pausedUntil = new Map<string, number>();

  constructor(private readonly o: OutboxOptions) {
    this.channels = new Map(o.channels.map((c) => [c.name, c]));
    this.clock = o.clock ?? Date.now;
    this.random = o.random ?? Math.random;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** New rows were committed: deliver soon rather than at the next poll. */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.drain().finally(() => this.schedule(this.again ? 0 : (this.o.pollMs ?? 1000)));
    }, ms);
  }

  backoffMs(attempts: number): number {
    const base = this.o.baseDelayMs ?? 5_000;
    const max = this.o.maxDelayMs ?? 15 * 60_000;
    const delay = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
    return Math.round(delay * (0.8 + 0.4 * this.random()));
  }

  /** One pass over the due messages; concurrent callers share the pass in progress. */
  drain(): Promise<void> {
    if (this.running) return this.running;
    this.again = false;
    this.running = this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Each channel works through its own queue; the channels run side by side, so one slow or failing channel delays no other. */
  private async pass(): Promise<void> {
    const { store } = this.o;
    for (const name of store.pendingChannels()) {
      if (this.channels.has(name)) continue;
      for (const row of store.dueMessages(name, Number.MAX_SAFE_INTEGER, 1000)) {
        store.markFailed(row.id, `channel "${name}" is not configured`);
        this.stats.failed++;
      }
    }
    await Promise.all([...this.channels.values()].map((channel) => this.passChannel(channel)));
  }

  private async passChannel(channel: Channel): Promise<void> {
    const { store, logger } = this.o;
    if ((this.pausedUntil.get(channel.name) ?? 0) > this.clock()) return;
    for (const row of store.dueMessages(channel.name, this.clock(), 100)) {
      try {
        await channel.send(row.alert);
        store.markSent(row.id, this.clock());
        this.pausedUntil.delete(channel.name);
        this.stats.sent++;
      } catch (err) {
        const retryable = !(err instanceof DeliveryError) || err.retryable;
        const message = (err as Error).message;
        if (!retryable) {
          store.markFailed(row.id, message);
          this.stats.failed++;
          logger.error({ channel: channel.name, alertId: row.alertId, err: message }, 'delivery rejected; giving up on this message');
          continue;
        }
        // The channel is down: leave the rest of its queue alone until its backoff ends, keeping their order.
        const delay = this.backoffMs(row.attempts + 1);
        store.markRetry(row.id, this.clock() + delay, message);
        this.stats.retried++;
        this.pausedUntil.set(channel.name, this.clock() + delay);
        logger.warn({ channel: channel.name, alertId: row.alertId, attempt: row.attempts + 1, retryInMs: delay, err: message }, 'delivery failed; will retry');
        return;
      }
    }
  }
}
