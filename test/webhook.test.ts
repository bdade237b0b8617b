// The signed webhook feed end to end: the agent's outbox lanes POSTing to small node:http receivers on
// loopback, checked the way a receiver would check them (Standard Webhooks, https://www.standardwebhooks.com/).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import type { AlertRow } from '../agent/store/store.js';
import { alertToJson } from '../agent/wire.js';
import type { AlertEvent } from '../rules/index.js';
import { eventually, memoryLogger, memoryStream, tempDir, testConfig } from './helpers.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

type Reply = { status: number; headers?: Record<string, string> } | { hang: true } | { delayMs: number };

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  body: any;
  /** performance.now() when the request arrived, and when its answer was sent (null: never answered). */
  at: number;
  answeredAt: number | null;
  aborted: boolean;
}

interface Receiver {
  url: string;
  got: Received[];
  /** Answers for the next requests, in order; afterwards `otherwise` (default: 200). */
  script: Reply[];
  otherwise: Reply;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function receiver(): Promise<Receiver> {
  const r: Receiver = { url: '', got: [], script: [], otherwise: { status: 200 }, close: async () => undefined };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const rec: Received = { headers: req.headers, raw, body: JSON.parse(raw), at: performance.now(), answeredAt: null, aborted: false };
      r.got.push(rec);
      res.on('close', () => {
        if (!res.writableFinished) rec.aborted = true;
      });
      const reply = r.script.shift() ?? r.otherwise;
      const answer = (out: ServerResponse, status: number, headers: Record<string, string> = {}) => {
        rec.answeredAt = performance.now();
        out.writeHead(status, { 'content-type': 'text/plain', ...headers });
        out.end(status < 300 ? 'ok' : 'no');
      };
      if ('hang' in reply) return;
      if ('delayMs' in reply) {
        setTimeout(() => !res.destroyed && answer(res, 200), reply.delayMs);
        return;
      }
      answer(res, reply.status, reply.headers);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  cleanups.push(() => r.close());
  return r;
}

/**
 * What a receiver does with the Standard Webhooks headers: the secret is "whsec_" + base64 of the key;
 * the signed content is "{webhook-id}.{webhook-timestamp}.{raw body}"; webhook-signature is a
 * space-separated list of "v1,<base64 HMAC-SHA256>"; a timestamp more than 5 minutes off is refused.
 */
function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, raw: string, nowS: number): boolean {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sigs = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof ts !== 'string' || typeof sigs !== 'string') return false;
  if (!/^\d+$/.test(ts) || Math.abs(nowS - Number(ts)) > 5 * 60) return false;
  if (!secret.startsWith('whsec_')) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${raw}`).digest();
  return sigs.split(' ').some((s) => {
    const [version, b64] = s.split(',');
    if (version !== 'v1' || !b64) return false;
    const got = Buffer.from(b64, 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

const heat = (n: number): AlertEvent => ({
  id: `heat:C${n}:1`, farmId: 'testfarm', cowId: `C${n}`, collarId: `C${n}`, type: 'heat', state: 'firing', severity: 'warning',
  at: Date.parse('2026-11-25T03:00:00Z') + n, since: Date.parse('2026-11-24T23:30:00Z'), raisedAt: Date.parse('2026-11-25T03:00:00Z'),
  evidence: { metric: 'activity', ratio: 2.43, window: { hours: 6 } },
});
const health = (n: number): AlertEvent => ({
  ...heat(n), id: `health:C${n}:1`, type: 'health', severity: 'urgent',
  evidence: { metric: 'rumination', ratio: 0.42, window: { hours: 12 } },
});

let now = 0;

interface Harness {
  agent: Agent;
  /** Records an alert change with the feeds the agent routes it to, as the pipeline does. */
  raise(e: AlertEvent): void;
}

async function setup(webhooks: { name: string; url: string; types?: string[]; timeoutMs?: number; secret?: string }[], o: { start?: boolean } = {}): Promise<Harness> {
  now = Date.parse('2026-11-25T10:00:00Z');
  const tmp = tempDir();
  cleanups.push(() => tmp.cleanup());
  const config = testConfig('mqtt://127.0.0.1:1', join(tmp.dir, 'w.db'), {
    channels: { webhooks: webhooks.map((w) => ({ secret: SECRET, ...w })) },
    notify: { groupWaitS: 0, groupIntervalMin: 0 },
  });
  const agent = new Agent(config, {
    logger: memoryLogger().logger,
    consoleOut: memoryStream().stream,
    clock: () => now,
    random: () => 0.5,
    outbox: { baseDelayMs: 1_000, maxDelayMs: 60_000 },
  });
  cleanups.push(() => agent.stop());
  if (o.start) agent.outbox.start();
  // The pipeline's routing of alert changes to feeds (the MQTT publisher, the webhooks whose `types` match).
  const feedsFor = agent.feedsFor;
  return {
    agent,
    raise(e) {
      agent.store.transaction(() => {
        agent.store.recordAlert(e, feedsFor(e), now);
        agent.notifier.route(e, now);
      });
      agent.outbox.nudge();
    },
  };
}

const webhookId = (r: Received) => r.headers['webhook-id'] as string;

/** A feed's queue as the store has it (the outbox's stats also count the MQTT publisher's lane). */
function feedRows(agent: Agent, feed: string): { state: string; status: string; attempts: number; lastError: string | null }[] {
  return agent.store.db
    .prepare(`SELECT state, status, attempts, last_error AS lastError FROM outbox WHERE channel = ? ORDER BY id`)
    .all(`webhook:${feed}`) as { state: string; status: string; attempts: number; lastError: string | null }[];
}

describe('webhook feed: Standard Webhooks signing', () => {
  it('POSTs every alert change (firing, acknowledged, resolved) as signed JSON a receiver can verify', async () => {
    const rx = await receiver();
    const h = await setup([{ name: 'nodered', url: rx.url }]);
    const t0 = now;
    h.raise(heat(7));
    await h.agent.outbox.drain();
    now += 60_000;
    expect(h.agent.notifier.acknowledge(['heat:C7:1'], 'Anna')).toHaveLength(1);
    await h.agent.outbox.drain();
    now += 60_000;
    h.raise({ ...heat(7), state: 'resolved', at: Date.parse('2026-11-25T09:00:00Z') });
    await h.agent.outbox.drain();

    expect(rx.got.map((r) => r.body.type)).toEqual(['alert.firing', 'alert.acknowledged', 'alert.resolved']);
    rx.got.forEach((r, i) => {
      const sentAt = t0 + i * 60_000;
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['webhook-timestamp']).toBe(String(sentAt / 1000));
      expect(r.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      expect(webhookId(r)).toMatch(/^msg_[A-Za-z0-9_.:-]+$/);
      expect(verifyStandardWebhook(SECRET, r.headers, r.raw, sentAt / 1000)).toBe(true);
      expect(r.body.timestamp).toBe(new Date(sentAt).toISOString());
    });
    expect(new Set(rx.got.map(webhookId)).size).toBe(3); // three changes, three ids

    const [firing, acked, resolved] = rx.got.map((r) => r.body.data);
    expect(firing).toEqual(alertToJson(heat(7) as AlertRow));
    expect(acked).toMatchObject({ id: 'heat:C7:1', state: 'acknowledged', ack: { by: 'Anna', at: new Date(t0 + 60_000).toISOString() } });
    expect(resolved).toMatchObject({ id: 'heat:C7:1', state: 'resolved', at: '2026-11-25T09:00:00.000Z' });

    // Anything changed on the way fails verification: the body, the id, the timestamp, or the key.
    const r = rx.got[0]!;
    const nowS = t0 / 1000;
    expect(verifyStandardWebhook(SECRET, r.headers, r.raw.replace('"firing"', '"resolved"'), nowS)).toBe(false);
    expect(verifyStandardWebhook(SECRET, r.headers, `${r.raw} `, nowS)).toBe(false);
    expect(verifyStandardWebhook(SECRET, { ...r.headers, 'webhook-id': webhookId(rx.got[1]!) }, r.raw, nowS)).toBe(false);
    expect(verifyStandardWebhook(SECRET, { ...r.headers, 'webhook-timestamp': String(nowS + 1) }, r.raw, nowS)).toBe(false);
    expect(verifyStandardWebhook(`whsec_${randomBytes(32).toString('base64')}`, r.headers, r.raw, nowS)).toBe(false);
    // A replay long after the fact is refused by the timestamp check.
    expect(verifyStandardWebhook(SECRET, r.headers, r.raw, nowS + 3600)).toBe(false);
    // Nothing left to send.
    expect(h.agent.store.dueMessages('webhook:nodered', now + 1e9, 10)).toEqual([]);
  });

  it('a receiver answering 500, then 200, gets the change again after the backoff, with the same webhook-id, and once', async () => {
    const rx = await receiver();
    const h = await setup([{ name: 'ha', url: rx.url }]);
    rx.script = [{ status: 500 }, { status: 503 }];
    h.raise(heat(1));
    await h.agent.outbox.drain();
    expect(rx.got).toHaveLength(1);
    now += 999;
    await h.agent.outbox.drain();
    expect(rx.got).toHaveLength(1);
    now += 1; // backoff 1 s
    await h.agent.outbox.drain();
    expect(rx.got).toHaveLength(2);
    now += 1_999;
    await h.agent.outbox.drain();
    expect(rx.got).toHaveLength(2);
    now += 1; // then 2 s
    await h.agent.outbox.drain();
    expect(rx.got).toHaveLength(3);
    now += 3_600_000;
    await h.agent.outbox.drain();
    expect(rx.got).toHaveLength(3);

    // Each attempt is signed afresh (its own timestamp), but the id stays: a receiver deduplicates by it.
    expect(new Set(rx.got.map(webhookId)).size).toBe(1);
    expect(new Set(rx.got.map((r) => r.headers['webhook-timestamp'])).size).toBe(3);
    for (const r of rx.got) expect(verifyStandardWebhook(SECRET, r.headers, r.raw, Number(r.headers['webhook-timestamp']))).toBe(true);
    expect(feedRows(h.agent, 'ha')).toEqual([{ state: 'firing', status: 'sent', attempts: 3, lastError: null }]);
  });

  it('a 4xx answer (400, 410) is the receiver\'s final word: failed, not retried, and the lane goes on', async () => {
    const rx = await receiver();
    const h = await setup([{ name: 'sms', url: rx.url }]);
    rx.script = [{ status: 400 }, { status: 410 }];
    h.raise(heat(1));
    h.raise(heat(2));
    h.raise(heat(3));
    await h.agent.outbox.drain();
    for (let i = 0; i < 3; i++) {
      now += 3_600_000;
      await h.agent.outbox.drain();
    }
    expect(rx.got.map((r) => r.body.data.cowId)).toEqual(['C1', 'C2', 'C3']);
    expect(feedRows(h.agent, 'sms').map((r) => [r.status, r.attempts, r.lastError])).toEqual([
      ['failed', 1, 'webhook sms: HTTP 400'],
      ['failed', 1, 'webhook sms: HTTP 410'],
      ['sent', 1, null],
    ]);
  });

  it('429 with Retry-After (seconds, or an HTTP date) is honoured over the shorter backoff', async () => {
    const rx = await receiver();
    const h = await setup([{ name: 'ha', url: rx.url }]);
    rx.script = [
      { status: 429, headers: { 'retry-after': '120' } },
      { status: 503, headers: { 'retry-after': new Date(Date.parse('2026-11-25T10:10:00Z')).toUTCString() } },
    ];
    h.raise(heat(1));
    await h.agent.outbox.drain();
    now += 119_999;
    await h.agent.outbox.drain();
    expect(rx.got).toHaveLength(1);
    now += 1;
    await h.agent.outbox.drain();
    expect(rx.got).toHaveLength(2); // 10:02:00, answered "come back at 10:10"
    now = Date.parse('2026-11-25T10:09:59Z');
    await h.agent.outbox.drain();
    expect(rx.got).toHaveLength(2);
    now = Date.parse('2026-11-25T10:10:00Z');
    await h.agent.outbox.drain();
    expect(rx.got).toHaveLength(3);
    expect(feedRows(h.agent, 'ha')).toMatchObject([{ status: 'sent', attempts: 3 }]);
    expect(new Set(rx.got.map(webhookId)).size).toBe(1);
  });

  it('a receiver that never answers: the per-send deadline fires, the request is abandoned, and the change goes later', async () => {
    const rx = await receiver();
    const h = await setup([{ name: 'hung', url: rx.url, timeoutMs: 1_000 }]);
    rx.script = [{ hang: true }];
    h.raise(heat(1));
    const t0 = performance.now();
    await h.agent.outbox.drain();
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(3_000);
    expect(feedRows(h.agent, 'hung')).toEqual([{ state: 'firing', status: 'pending', attempts: 1, lastError: 'webhook:hung: no answer within 1000 ms' }]);
    await eventually(() => rx.got[0]!.aborted, 2_000, 'the hung request to be closed by the agent');

    now += 1_000;
    await h.agent.outbox.drain();
    expect(rx.got).toHaveLength(2);
    expect(feedRows(h.agent, 'hung')).toMatchObject([{ status: 'sent', attempts: 2 }]);
    expect(webhookId(rx.got[1]!)).toBe(webhookId(rx.got[0]!));
  });
});

describe('webhook feed: lanes', () => {
  it('a slow feed and a hung feed do not delay another feed (real time)', async () => {
    const fast = await receiver();
    const slow = await receiver();
    const hung = await receiver();
    slow.otherwise = { delayMs: 500 };
    hung.otherwise = { hang: true };
    const h = await setup(
      [
        { name: 'slow', url: slow.url },
        { name: 'hung', url: hung.url, timeoutMs: 1_000 },
        { name: 'fast', url: fast.url },
      ],
      { start: true },
    );
    const N = 3;
    const t0 = performance.now();
    for (let n = 1; n <= N; n++) h.raise(heat(n));

    await eventually(() => fast.got.length === N && fast.got.every((r) => r.answeredAt !== null), 5_000, 'the fast feed');
    const fastDone = Math.max(...fast.got.map((r) => r.answeredAt!)) - t0;
    await eventually(() => slow.got.length === N && slow.got.every((r) => r.answeredAt !== null), 5_000, 'the slow feed');
    const slowDone = Math.max(...slow.got.map((r) => r.answeredAt!)) - t0;

    // The fast feed had everything before the slow one answered its first request, and long before it finished.
    expect(fastDone).toBeLessThan(400);
    expect(fastDone).toBeLessThan(Math.min(...slow.got.map((r) => r.answeredAt!)) - t0);
    expect(slowDone).toBeGreaterThanOrEqual(N * 500 - 50);
    // The hung feed got its first change, and nothing else was held behind it.
    expect(hung.got.length).toBeGreaterThanOrEqual(1);
    expect(hung.got[0]!.answeredAt).toBeNull();
    expect(fast.got.map((r) => r.body.data.cowId)).toEqual(['C1', 'C2', 'C3']);
    expect(slow.got.map((r) => r.body.data.cowId)).toEqual(['C1', 'C2', 'C3']);
  });

  it('types filter: a webhook configured for ["health"] gets health changes, and no heat', async () => {
    const vet = await receiver();
    const all = await receiver();
    const h = await setup([
      { name: 'vet', url: vet.url, types: ['health'] },
      { name: 'all', url: all.url },
    ]);
    h.raise(heat(1));
    h.raise(health(2));
    await h.agent.outbox.drain();
    h.agent.notifier.acknowledge(['heat:C1:1', 'health:C2:1'], 'Anna');
    await h.agent.outbox.drain();
    h.raise({ ...heat(1), state: 'resolved' });
    await h.agent.outbox.drain();

    expect(vet.got.map((r) => [r.body.type, r.body.data.id])).toEqual([
      ['alert.firing', 'health:C2:1'],
      ['alert.acknowledged', 'health:C2:1'],
    ]);
    expect(all.got.map((r) => [r.body.type, r.body.data.id])).toEqual([
      ['alert.firing', 'heat:C1:1'],
      ['alert.firing', 'health:C2:1'],
      ['alert.acknowledged', 'heat:C1:1'],
      ['alert.acknowledged', 'health:C2:1'],
      ['alert.resolved', 'heat:C1:1'],
    ]);
    // Heat was never even queued for the vet's feed.
    expect(h.agent.store.db.prepare(`SELECT count(*) AS n FROM outbox WHERE channel = 'webhook:vet' AND alert_id LIKE 'heat:%'`).get()).toEqual({ n: 0 });
  });
});
