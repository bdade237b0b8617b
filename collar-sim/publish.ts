import { connectAsync, type MqttClient } from 'mqtt';
import type { Reading } from '../rules/reading.js';
import type { HerdSimulation } from './herd.js';
import { collarTopic, readingToWire } from '../agent/wire.js';

export interface PublishOptions {
  url: string;
  farmId: string;
  sim: HerdSimulation;
  /** Event-time ms per wall-time ms (86400 = one simulated day per second). */
  speed: number;
  /** Once event time reaches the wall clock, continue at speed 1 instead of publishing into the future. */
  catchUpToWallClock?: boolean;
  clock?: () => number;
  signal?: AbortSignal;
  username?: string;
  password?: string;
  clientId?: string;
  onProgress?(p: { published: number; eventTime: number }): void;
  /** >1 packs up to this many consecutive readings of one collar into `{"readings":[...]}`. */
  batchPerMessage?: number;
}

export interface PublishStats {
  published: number;
  messages: number;
  startedAt: number;
  endedAt: number;
}

/** Publishes awaited together; bounds memory and broker backlog for herds of any size. */
const IN_FLIGHT = 200;
/** Most readings handled per pass, so a huge catch-up burst is grouped and sent in slices. */
const SLICE = 5000;
/** Longest sleep, so abort and a caller-supplied clock are noticed promptly. */
const MAX_SLEEP_MS = 500;

export async function publishHerd(opts: PublishOptions): Promise<PublishStats> {
  const { sim, farmId, signal } = opts;
  if (!(opts.speed > 0)) throw new RangeError('speed must be > 0');
  const clock = opts.clock ?? Date.now;
  const perMessage = Math.max(1, Math.floor(opts.batchPerMessage ?? 1));
  const client: MqttClient = await connectAsync(opts.url, {
    clientId: opts.clientId ?? `cowbell-sim-${farmId}-${Math.random().toString(16).slice(2, 8)}`,
    username: opts.username,
    password: opts.password,
    clean: true,
  });
  // Without a listener an 'error' event would crash the process; failures that matter surface
  // through publishAsync rejections, and mqtt.js reconnects on its own.
  client.on('error', () => {});

  const startedAt = clock();
  const eventTime = (now: number) => {
    const accelerated = sim.startMs + (now - startedAt) * opts.speed;
    return opts.catchUpToWallClock ? Math.min(accelerated, now) : accelerated;
  };
  // Wall time at which event time reaches ts (inverse of eventTime).
  const dueAt = (ts: number) => {
    const accelerated = startedAt + (ts - sim.startMs) / opts.speed;
    return opts.catchUpToWallClock ? Math.max(accelerated, ts) : accelerated;
  };

  let published = 0;
  let messages = 0;
  let pending: Promise<unknown>[] = [];
  const drain = async () => {
    // allSettled, not all: a rejection must not leave the rest of the window unobserved.
    const results = await Promise.allSettled(pending);
    pending = [];
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  };
  const send = async (collarId: string, batch: Reading[]) => {
    const body = batch.length === 1 ? readingToWire(batch[0]!) : { readings: batch.map(readingToWire) };
    pending.push(client.publishAsync(collarTopic(farmId, collarId), JSON.stringify(body), { qos: 1 }));
    messages++;
    published += batch.length;
    if (pending.length >= IN_FLIGHT) await drain();
  };

  const it = sim.readings()[Symbol.iterator]();
  let next = it.next();
  let failed = false;
  try {
    while (!next.done && !signal?.aborted) {
      const now = clock();
      const horizon = eventTime(now);
      const due: Reading[] = [];
      // Grouping by collar must not reorder event time by more than one message's worth per collar: a slice
      // of perMessage × herd size readings spans about perMessage readings of each collar.
      const sliceLimit = Math.min(SLICE, perMessage * sim.cows.length);
      while (!next.done && next.value.ts <= horizon && due.length < sliceLimit) {
        due.push(next.value);
        next = it.next();
      }
      if (due.length > 0 && perMessage === 1) {
        for (const r of due) await send(r.collarId, [r]);
        opts.onProgress?.({ published, eventTime: horizon });
        continue;
      }
      if (due.length > 0) {
        // Group by collar in ts order: a message may only carry one collar's consecutive readings.
        const byCollar = new Map<string, Reading[]>();
        for (const r of due) {
          const list = byCollar.get(r.collarId) ?? [];
          list.push(r);
          byCollar.set(r.collarId, list);
        }
        for (const [collarId, list] of byCollar) {
          for (let i = 0; i < list.length; i += perMessage) await send(collarId, list.slice(i, i + perMessage));
        }
        opts.onProgress?.({ published, eventTime: horizon });
        continue; // more may already be due
      }
      await drain(); // idle anyway: settle acks so a slow broker cannot pile up work across sleeps
      if (!next.done) await sleep(Math.min(MAX_SLEEP_MS, Math.max(1, dueAt(next.value.ts) - now)), signal);
    }
    await drain();
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    for (const p of pending) p.catch(() => {}); // the first failure is already being thrown
    await client.endAsync(failed);
  }
  return { published, messages, startedAt, endedAt: clock() };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
