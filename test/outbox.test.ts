import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryError } from '../agent/errors.js';
import type { FeedChannel as Channel } from '../agent/notify/outbox.js';
import { OutboxWorker } from '../agent/notify/outbox.js';
import { Store, type AlertRow } from '../agent/store/store.js';
import type { AlertEvent } from '../rules/index.js';
import { memoryLogger, tempDir } from './helpers.js';

/** A channel that behaves like a flaky network: it fails the way it is told to, then accepts. */
class ScriptedChannel implements Channel {
  readonly delivered: AlertRow[] = [];
  failures: (Error | null)[] = [];
  constructor(readonly name: string) {}
  async send(alert: AlertRow): Promise<void> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.delivered.push(alert);
  }
}

const alert = (n: number, state: 'firing' | 'resolved' = 'firing'): AlertEvent => ({
  id: `heat:C${n}:x`, farmId: 'f', cowId: `C${n}`, collarId: `C${n}`, type: 'heat', state, severity: 'warning',
  at: 1_000 + n, since: 500, raisedAt: 1_000 + n, evidence: { metric: 'activity', ratio: 2.4 },
});

describe('outbox', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: Store;
  let now: number;
  beforeEach(() => {
    tmp = tempDir();
    store = new Store(join(tmp.dir, 'o.db'));
    now = 1_800_000_000_000;
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  const worker = (channels: Channel[]) =>
    new OutboxWorker({ store, channels, logger: memoryLogger().logger, clock: () => now, random: () => 0.5, baseDelayMs: 5_000, maxDelayMs: 60_000 });

  it('writes an alert and its messages in one transaction: a failure after it leaves neither', () => {
    expect(() =>
      store.transaction(() => {
        store.recordAlert(alert(1), ['console'], now);
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    expect(store.alertsSince(0, 10)).toEqual([]);
    expect(store.dueMessages('console', now, 10)).toEqual([]);
  });

  it('records a transition once, even when it is replayed', () => {
    expect(store.transaction(() => store.recordAlert(alert(1), ['console', 'mqtt'], now))).toBe(true);
    expect(store.transaction(() => store.recordAlert(alert(1), ['console', 'mqtt'], now))).toBe(false);
    expect(store.pendingChannels().sort()).toEqual(['console', 'mqtt']);
    expect(store.dueMessages('console', now, 10).map((m) => m.alertId)).toEqual(['heat:C1:x']);
    expect(store.transaction(() => store.recordAlert({ ...alert(1), state: 'resolved', at: 9_000 }, ['console'], now))).toBe(true);
    expect(store.openAlerts()).toEqual([]);
    expect(store.alertsSince(0, 10)[0]).toMatchObject({ state: 'resolved', at: 9_000 });
  });

  it('retries a failing channel with exponential backoff and delivers each message exactly once when it returns', async () => {
    const ch = new ScriptedChannel('chat');
    store.transaction(() => [1, 2].forEach((n) => store.recordAlert(alert(n), ['chat'], now)));
    ch.failures = [new Error('ECONNRESET'), new Error('ECONNRESET')];
    const w = worker([ch]);

    await w.drain();
    expect(ch.delivered).toEqual([]);
    // The channel is paused for its backoff: the second message is not tried into a dead link.
    expect(w.stats).toEqual({ sent: 0, retried: 1, failed: 0, dropped: 0 });
    now += 4_999;
    await w.drain();
    expect(w.stats.retried).toBe(1);
    now += 1;
    await w.drain();
    expect(w.stats.retried).toBe(2);
    now += 9_999; // second backoff doubles
    await w.drain();
    expect(ch.delivered).toEqual([]);
    now += 1;
    await w.drain();
    expect(ch.delivered.map((a) => a.cowId)).toEqual(['C1', 'C2']);
    await w.drain();
    expect(ch.delivered).toHaveLength(2);
    expect(store.dueMessages('chat', now + 1e9, 10)).toEqual([]);
  });

  it('gives up on a message the channel rejects for good, without holding up the rest', async () => {
    const ch = new ScriptedChannel('chat');
    store.transaction(() => [1, 2].forEach((n) => store.recordAlert(alert(n), ['chat'], now)));
    ch.failures = [new DeliveryError('recipient not on the allow list', false)];
    const w = worker([ch]);
    await w.drain();
    expect(ch.delivered.map((a) => a.cowId)).toEqual(['C2']);
    expect(store.counts().outboxFailed).toBe(1);
  });

  it('one failing channel does not delay another', async () => {
    const down = new ScriptedChannel('down');
    const up = new ScriptedChannel('up');
    down.failures = Array.from({ length: 10 }, () => new Error('timeout'));
    store.transaction(() => [1, 2, 3].forEach((n) => store.recordAlert(alert(n), ['down', 'up'], now)));
    await worker([down, up]).drain();
    expect(up.delivered).toHaveLength(3);
    expect(down.delivered).toHaveLength(0);
  });

  it('a long queue on a dead channel does not starve a healthy one', async () => {
    const down = new ScriptedChannel('down');
    const up = new ScriptedChannel('up');
    down.failures = Array.from({ length: 1000 }, () => new Error('ECONNREFUSED'));
    store.transaction(() => {
      for (let n = 1; n <= 120; n++) store.recordAlert(alert(n), ['down'], now);
      store.recordAlert(alert(500), ['up'], now);
    });
    const w = worker([down, up]);
    for (let i = 0; i < 5; i++) {
      await w.drain();
      now += 120_000;
    }
    expect(up.delivered.map((a) => a.cowId)).toEqual(['C500']);
    expect(down.delivered).toEqual([]);
    expect(store.counts().outboxPending).toBe(120);
  });

  it('marks messages for a channel that is no longer configured as failed, not pending forever', async () => {
    store.transaction(() => store.recordAlert(alert(1), ['removed'], now));
    await worker([new ScriptedChannel('chat')]).drain();
    expect(store.counts()).toMatchObject({ outboxPending: 0, outboxFailed: 1 });
  });

  it('keeps a channel in order across a restart: nothing overtakes a change waiting for its retry', async () => {
    const ch = new ScriptedChannel('chat');
    store.transaction(() => [1, 2].forEach((n) => store.recordAlert(alert(n), ['chat'], now)));
    ch.failures = [new Error('ECONNRESET')];
    await worker([ch]).drain();
    // A new worker (as after a restart) knows nothing of the first one's backoff.
    const again = worker([ch]);
    await again.drain();
    expect(ch.delivered).toEqual([]);
    now += 60_000;
    await again.drain();
    expect(ch.delivered.map((a) => a.cowId)).toEqual(['C1', 'C2']);
  });

  it('caps the backoff', () => {
    const w = worker([]);
    expect(w.backoffMs(1)).toBe(5_000);
    expect(w.backoffMs(2)).toBe(10_000);
    expect(w.backoffMs(30)).toBe(60_000);
  });
});
