import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { Notifier } from '../agent/notify/notifier.js';
import { whatsappTemplates } from '../agent/notify/render.js';
import { WhatsAppChannel } from '../agent/notify/whatsapp.js';
import { Store } from '../agent/store/store.js';
import type { AlertEvent } from '../rules/index.js';
import { eventually, memoryLogger, tempDir, testConfig } from './helpers.js';
import { startWhatsAppStandIn, type WaFailure, type WhatsAppStandIn, type WhatsAppStandInOptions } from './standins/whatsapp.js';

/**
 * The WhatsApp channel and the WhatsApp inbound webhook against the local Cloud API stand-in, over real
 * HTTP. Time that the agent reasons about (backoff, pauses, pacing, snoozes, the 24-h window) comes from
 * an injected clock shared by the agent and the stand-in; only network round trips are waited for.
 */

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-25T08:00:00Z');
const TOKEN = 'EAAGtok-7f3c1d9e-never-print-me';
const APP_SECRET = 'appsecret-5b2e-never-print-me';
const VERIFY_TOKEN = 'verifytok-4a1f-never-print-me';
const PHONE_ID = '106540352242922';
const ANNA = '41790000001';
const BEN = '41790000002';
const STRANGER = '41799999999';
const PACE_MS = 6_000;
const BACKOFF_MS = 5_000; // baseDelayMs with random() = 0.5: the first retry waits exactly this long

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** An urgent health alert (its own template, with body parameters) about cow `cow`. */
function health(cow: string, at = T0): AlertEvent {
  return {
    id: `health:${cow}:${at}`, farmId: 'testfarm', cowId: cow, collarId: cow, type: 'health', state: 'firing', severity: 'urgent',
    at, since: at - HOUR, raisedAt: at, evidence: { metric: 'rumination', ratio: 0.42, window: { hours: 12 } },
  };
}

/** A heat alert (warning): still actionable for 18 h after `since`. */
function heat(cow: string, at = T0): AlertEvent {
  return {
    id: `heat:${cow}:${at}`, farmId: 'testfarm', cowId: cow, collarId: cow, type: 'heat', state: 'firing', severity: 'warning',
    at, since: at - HOUR, raisedAt: at, evidence: { metric: 'activity', ratio: 2.4, window: { hours: 6 } },
  };
}

const recipients = (...who: [string, string][]) => who.map(([name, address]) => ({ name, channel: 'whatsapp', address, language: 'en' }));

function config(dbPath: string, apiBaseUrl: string, o: { timeoutMs?: number; who?: [string, string][] } = {}) {
  return testConfig('mqtt://127.0.0.1:1', dbPath, {
    farm: { id: 'testfarm', name: 'Test farm', timezone: 'UTC' },
    channels: {
      whatsapp: {
        phoneNumberId: PHONE_ID, apiVersion: 'v21.0', token: TOKEN, appSecret: APP_SECRET, verifyToken: VERIFY_TOKEN,
        apiBaseUrl, timeoutMs: o.timeoutMs ?? 5_000, paceMs: PACE_MS,
      },
    },
    recipients: recipients(...(o.who ?? [['anna', ANNA]])),
    notify: { groupWaitS: 0, groupIntervalMin: 0, maxPerHour: 100, maxPerDay: 1000 },
  });
}

async function standIn(clock: { now: number }, extra: Partial<WhatsAppStandInOptions> = {}) {
  const opts: WhatsAppStandInOptions = {
    token: TOKEN, phoneNumberId: PHONE_ID, appSecret: APP_SECRET, templates: whatsappTemplates(), clock: () => clock.now, ...extra,
  };
  const wa = await startWhatsAppStandIn(opts);
  cleanups.push(() => wa.close());
  return { wa, opts };
}

/** A Notifier driven by hand (no loops running): a real Store on a temp file, the real WhatsAppChannel, the stand-in. */
async function notifierRig(o: { timeoutMs?: number; who?: [string, string][]; via?: (standInUrl: string) => Promise<string> } = {}) {
  const tmp = tempDir();
  const log = memoryLogger();
  const clock = { now: T0 };
  const { wa } = await standIn(clock);
  const cfg = config(join(tmp.dir, 'n.db'), o.via ? await o.via(wa.url) : wa.url, o);
  const store = new Store(cfg.store.path);
  cleanups.push(() => {
    store.close();
    tmp.cleanup();
  });
  const notifier = new Notifier({
    store, recipients: cfg.recipients, escalation: [], policy: cfg.notify, farmName: 'Test farm',
    channels: [new WhatsAppChannel(cfg.channels.whatsapp!)], logger: log.logger, feedsFor: () => [],
    clock: () => clock.now, random: () => 0.5, baseDelayMs: BACKOFF_MS, maxDelayMs: 60_000, pauseMs: HOUR,
  });
  const raise = (...events: AlertEvent[]) =>
    store.transaction(() => {
      for (const e of events) {
        store.recordAlert(e, [], clock.now);
        notifier.route(e, clock.now);
      }
    });
  return { clock, wa, store, notifier, log, raise };
}

/**
 * A reverse proxy in front of the Graph API (a corporate proxy, a load balancer) that answers the next
 * requests with the given HTTP statuses and an HTML page — no Graph error code at all — then forwards.
 */
async function htmlErrorProxy(target: string, statuses: number[]): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = statuses.shift();
      if (status) {
        res.writeHead(status, { 'content-type': 'text/html' });
        res.end(`<html><body><h1>${status}</h1>upstream unavailable</body></html>`);
        return;
      }
      void fetch(`${target}${req.url}`, { method: 'POST', headers: { authorization: String(req.headers.authorization), 'content-type': 'application/json' }, body: Buffer.concat(chunks) })
        .then(async (r) => {
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(await r.text());
        })
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The whole agent (HTTP server for the webhook, notifier loops) with an injected clock; MQTT points nowhere. */
async function agentRig(o: { who?: [string, string][]; windowErrors?: 'sync' | 'webhook' } = {}) {
  const tmp = tempDir();
  const log = memoryLogger();
  const clock = { now: T0 };
  const { wa, opts } = await standIn(clock, o.windowErrors ? { windowErrors: o.windowErrors } : {});
  const cfg = config(join(tmp.dir, 'a.db'), wa.url, o);
  const agent = new Agent(cfg, { logger: log.logger, clock: () => clock.now, random: () => 0.5, notifier: { baseDelayMs: BACKOFF_MS, pauseMs: HOUR } });
  await agent.start();
  cleanups.push(async () => {
    await agent.stop();
    tmp.cleanup();
  });
  // The stand-in reads its webhook address when it posts; the agent's port is known only now.
  opts.webhookUrl = `http://127.0.0.1:${agent.httpPort}/webhooks/whatsapp`;
  const url = `http://127.0.0.1:${agent.httpPort}`;
  const raise = (...events: AlertEvent[]) =>
    agent.store.transaction(() => {
      for (const e of events) {
        agent.store.recordAlert(e, [], clock.now);
        agent.notifier.route(e, clock.now);
      }
    });
  const messagesTo = (name: string) => agent.store.notify.recentMessages(100).filter((m) => m.recipient === name).reverse();
  const lastMessageTo = (name: string) => messagesTo(name).at(-1)!;
  const alertsJson = async () => ((await (await fetch(`${url}/api/alerts`)).json()) as { alerts: { id: string; state: string; ack?: { by: string; until?: string } }[] }).alerts;
  return { clock, wa, agent, log, url, raise, messagesTo, lastMessageTo, alertsJson };
}

/** A webhook body exactly as Meta posts one message; built here so a test can post the same bytes twice. */
function inboundBody(from: string, id: string, at: number, message: Record<string, unknown>): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{
      id: '102290129340398',
      changes: [{
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: '15550001234', phone_number_id: PHONE_ID },
          contacts: [{ profile: { name: 'Anna' }, wa_id: from }],
          messages: [{ from, id, timestamp: String(Math.floor(at / 1000)), ...message }],
        },
      }],
    }],
  });
}

const sentTo = (wa: WhatsAppStandIn, to: string, type?: string) => wa.sent.filter((s) => s.to === to && (!type || s.type === type));

describe('WhatsApp channel: what goes out', () => {
  it('sends an approved template to /{version}/{phoneNumberId}/messages with the bearer token, body parameters and ack/snooze payloads, and keeps the wamid', async () => {
    const { wa, store, notifier, raise } = await notifierRig();
    raise(health('C7'));
    await notifier.drain();

    expect(wa.requests).toHaveLength(1);
    const req = wa.requests[0]!;
    expect(req).toMatchObject({ method: 'POST', path: `/v21.0/${PHONE_ID}/messages`, status: 200, auth: `Bearer ${TOKEN}` });
    const [m] = store.notify.recentMessages(10);
    const body = req.body as any;
    expect(body).toMatchObject({ messaging_product: 'whatsapp', recipient_type: 'individual', to: ANNA, type: 'template' });
    expect(body.template.language).toEqual({ code: 'en' });
    const [bodyComponent, ack, snooze] = body.template.components;
    expect(bodyComponent.type).toBe('body');
    expect(bodyComponent.parameters.length).toBeGreaterThan(0);
    for (const p of bodyComponent.parameters) expect(p).toMatchObject({ type: 'text', text: expect.any(String) });
    expect(ack).toEqual({ type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: `ack:${m!.id}` }] });
    expect(snooze).toEqual({ type: 'button', sub_type: 'quick_reply', index: '1', parameters: [{ type: 'payload', payload: `snooze:${m!.id}` }] });

    // What the farmer's phone shows: the approved text filled in, naming the cow, with both buttons.
    expect(wa.sent).toHaveLength(1);
    expect(wa.sent[0]!.shown).toContain('C7');
    expect(wa.sent[0]!.buttons).toEqual(['Acknowledge', 'Snooze 4 h']);
    expect(m).toMatchObject({ recipient: 'anna', channel: 'whatsapp', status: 'sent', providerId: wa.sent[0]!.wamid, urgent: true });
  });

  it('keeps two urgent messages to one person at least paceMs apart on the clock', async () => {
    const { clock, wa, notifier, raise } = await notifierRig();
    raise(health('C1'));
    await notifier.drain();
    expect(wa.sent).toHaveLength(1);

    clock.now += 1_000;
    raise(health('C2', clock.now));
    await notifier.drain();
    expect(wa.requests).toHaveLength(1);
    clock.now = T0 + PACE_MS - 1;
    await notifier.drain();
    expect(wa.requests).toHaveLength(1);
    clock.now = T0 + PACE_MS;
    await notifier.drain();
    expect(wa.sent).toHaveLength(2);
    expect(wa.sent[1]!.shown).toContain('C2');
    expect(wa.sent[1]!.at - wa.sent[0]!.at).toBeGreaterThanOrEqual(PACE_MS);
  });
});

describe('WhatsApp channel: errors, by what the farmer is owed', () => {
  const retried: [string, WaFailure][] = [
    ['130429 throughput', { code: 130429 }],
    ['131056 pair rate limit', { code: 131056 }],
    ['4 too many calls', { code: 4 }],
    ['80007 WABA rate limit', { code: 80007 }],
    ['613 rate limit (HTTP 400)', { code: 613, httpStatus: 400 }],
    ['131000 something went wrong', { code: 131000 }],
    ['131016 service unavailable', { code: 131016 }],
    ['2 API service', { code: 2 }],
    ['HTTP 502 with an unknown code', { code: 999_999, httpStatus: 502 }],
    ['a dropped connection', { drop: true }],
  ];

  it.each(retried)('%s: retried with backoff, then delivered exactly once', async (_what, failure) => {
    const { clock, wa, store, notifier, raise, log } = await notifierRig();
    raise(health('C7'));
    wa.failNext(failure);
    await notifier.drain();

    expect(wa.sent).toHaveLength(0);
    expect(wa.requests).toHaveLength(1);
    expect(store.notify.recentMessages(1)[0]).toMatchObject({ status: 'retry' });
    expect(store.notify.state('anna')).toMatchObject({ attempts: 1, nextAttemptAt: T0 + BACKOFF_MS });
    expect(notifier.status().recipients[0]).toMatchObject({ retrying: true, pending: 1 });

    clock.now = T0 + BACKOFF_MS - 1;
    await notifier.drain();
    expect(wa.requests).toHaveLength(1);
    clock.now = T0 + BACKOFF_MS;
    await notifier.drain();
    await notifier.drain();
    expect(wa.requests).toHaveLength(2);
    expect(wa.sent).toHaveLength(1);
    expect(wa.sent[0]!.shown).toContain('C7');
    expect(store.notify.recentMessages(1)[0]).toMatchObject({ status: 'sent', providerId: wa.sent[0]!.wamid });
    expect(notifier.status().recipients[0]).toMatchObject({ retrying: false, pending: 0, lastError: null });
    expect(log.text()).not.toContain(TOKEN);
  });

  it('HTTP 502 / 503 / 429 from a proxy, with no Graph error body: retried with growing backoff, then delivered exactly once', async () => {
    const { clock, wa, store, notifier, raise } = await notifierRig({ via: (url) => htmlErrorProxy(url, [502, 503, 429]) });
    raise(health('C7'));
    let wait = BACKOFF_MS;
    for (const status of [502, 503, 429]) {
      await notifier.drain();
      expect(wa.sent).toHaveLength(0);
      expect(store.notify.recentMessages(1)[0]).toMatchObject({ status: 'retry', lastError: `WhatsApp error HTTP ${status}: no details` });
      clock.now += wait - 1;
      await notifier.drain();
      expect(store.notify.recentMessages(1)[0]!.status).toBe('retry');
      clock.now += 1;
      wait *= 2;
    }
    await notifier.drain();
    await notifier.drain();
    expect(wa.sent).toHaveLength(1);
    expect(store.notify.recentMessages(1)[0]).toMatchObject({ status: 'sent', providerId: wa.sent[0]!.wamid });
  });

  it('a response slower than timeoutMs: given up at the deadline, retried, delivered (at most one duplicate)', async () => {
    const { clock, wa, store, notifier, raise } = await notifierRig({ timeoutMs: 1_000 });
    raise(health('C7'));
    wa.failNext({ delayMs: 1_300 });
    const started = performance.now();
    await notifier.drain();
    expect(performance.now() - started).toBeLessThan(1_250);
    expect(store.notify.recentMessages(1)[0]).toMatchObject({ status: 'retry', lastError: expect.stringContaining('no answer within 1000 ms') });

    clock.now = T0 + BACKOFF_MS;
    await notifier.drain();
    expect(store.notify.recentMessages(1)[0]).toMatchObject({ status: 'sent' });
    expect(notifier.status().recipients[0]).toMatchObject({ retrying: false, pending: 0 });
    // The slow request may have got through after we stopped waiting (the Cloud API has no idempotency
    // key): the farmer sees the alert once, at worst twice — never not at all.
    await eventually(() => wa.requests.length === 2 && sentTo(wa, ANNA).length >= 1, 5_000, 'the retry');
    expect(sentTo(wa, ANNA).length).toBeLessThanOrEqual(2);
  });

  const permanent: [number, string][] = [
    [131026, 'message undeliverable'],
    [131051, 'unsupported message type'],
    [132000, 'template parameter count'],
    [132001, 'template does not exist'],
    [100, 'invalid parameter'],
  ];

  it.each(permanent)('%i (%s): the message fails with the reason, is not retried, and does not hold up the next', async (code) => {
    const { clock, wa, store, notifier, raise, log } = await notifierRig();
    raise(health('C7'));
    wa.failNext({ code });
    await notifier.drain();

    const [m] = store.notify.recentMessages(1);
    expect(m).toMatchObject({ status: 'failed', lastError: expect.stringContaining(`WhatsApp error ${code}`) });
    expect(notifier.status().recipients[0]!.lastError).toContain(`WhatsApp error ${code}`);
    expect(log.lines().filter((l) => l.msg === 'message refused for good; not retried (see the status page)')).toHaveLength(1);

    clock.now += 3 * 24 * HOUR;
    notifier.tick();
    await notifier.drain();
    await notifier.drain();
    expect(wa.requests).toHaveLength(1);
    expect(wa.sent).toHaveLength(0);

    raise(health('C8', clock.now));
    await notifier.drain();
    expect(wa.sent.map((s) => s.shown)).toEqual([expect.stringContaining('C8')]);
    expect(log.text()).not.toContain(TOKEN);
  });

  it.each([190, 368, 131048])('%i: pauses the whole channel, logs it once, sends nothing until the pause ends', async (code) => {
    const { clock, wa, store, notifier, raise, log } = await notifierRig({ who: [['anna', ANNA], ['ben', BEN]] });
    raise(health('C7'));
    // The account is refused for everyone: both people's first attempts fail.
    wa.failNext({ code }, { code });
    await notifier.drain();
    expect(wa.requests).toHaveLength(2);
    expect(wa.sent).toHaveLength(0);
    const paused = notifier.status().paused;
    expect(paused).toEqual([{ channel: 'whatsapp', until: new Date(T0 + HOUR).toISOString(), reason: expect.stringContaining(`WhatsApp error ${code}`) }]);
    const pausedLines = () => log.lines().filter((l) => l.level === 50 && String(l.msg).includes('channel paused'));
    expect(pausedLines()).toHaveLength(1);

    for (const t of [T0 + 10 * 60_000, T0 + 30 * 60_000, T0 + HOUR - 1]) {
      clock.now = t;
      notifier.tick();
      await notifier.drain();
    }
    expect(wa.requests).toHaveLength(2);
    expect(store.notify.pendingCount('anna') + store.notify.pendingCount('ben')).toBe(2);

    clock.now = T0 + HOUR;
    await notifier.drain();
    expect(sentTo(wa, ANNA)).toHaveLength(1);
    expect(sentTo(wa, BEN)).toHaveLength(1);
    expect(notifier.status().paused).toEqual([]);
    expect(pausedLines()).toHaveLength(1);
    expect(log.text()).not.toContain(TOKEN);
  });
});

describe('WhatsApp channel: a paused channel stays quiet', () => {
  // BUG (agent/notify/notifier.ts, Notifier.confirm): the answer to a farmer who writes or presses a button
  // goes out through channel.confirm without looking at `this.paused`, so while WhatsApp is paused for 368
  // (account restricted for policy) or 131048 (spam limit) the agent keeps sending. Remove `.fails` once fixed.
  it('sends nothing while paused, not even the answer to a farmer who writes', async () => {
    const { clock, wa, agent, raise } = await agentRig();
    raise(health('C7'));
    wa.failNext({ code: 368 });
    await agent.notifier.drain();
    expect(agent.notifier.status().paused).toHaveLength(1);

    clock.now += 60_000;
    expect(await wa.userWrites(ANNA, 'ok')).toBe(200);
    // The very call the webhook handler makes for its answer, awaited here so the check is not a race.
    await agent.notifier.confirm('whatsapp', ANNA, 'Nothing to acknowledge.');
    expect(agent.notifier.status().paused).toHaveLength(1);
    expect(wa.requests.map((r) => (r.body as { type: string }).type)).toEqual(['template']);
  });
});

describe("WhatsApp's 24-hour window", () => {
  it('sends a template while the farmer has not written, and an interactive message with reply buttons after she does', async () => {
    const { clock, wa, agent, raise, lastMessageTo } = await agentRig();
    raise(health('C1'));
    await agent.notifier.drain();
    expect(sentTo(wa, ANNA).map((s) => s.type)).toEqual(['template']);

    clock.now += 60_000;
    expect(await wa.userWrites(ANNA, 'hello')).toBe(200);
    expect(agent.notifier.status().recipients[0]!.windowOpen).toBe(true);
    // She wrote something the agent does not understand: it answers how to reply (free-form text).
    await eventually(() => sentTo(wa, ANNA, 'text').length === 1, 5_000, 'the help reply');

    clock.now += 60_000;
    raise(health('C2', clock.now));
    await agent.notifier.drain();
    const interactive = sentTo(wa, ANNA, 'interactive');
    expect(interactive).toHaveLength(1);
    const m = lastMessageTo('anna');
    expect(interactive[0]!.body.interactive.action.buttons).toEqual([
      { type: 'reply', reply: { id: `ack:${m.id}`, title: 'Acknowledge' } },
      { type: 'reply', reply: { id: `snooze:${m.id}`, title: 'Snooze 4 h' } },
    ]);
    expect(interactive[0]!.shown).toContain('C2');
    expect(m).toMatchObject({ status: 'sent', providerId: interactive[0]!.wamid });

    // 24 h after she wrote, the window is closed again: back to templates.
    clock.now = T0 + 60_000 + 24 * HOUR;
    raise(health('C3', clock.now));
    await agent.notifier.drain();
    expect(sentTo(wa, ANNA).at(-1)).toMatchObject({ type: 'template', shown: expect.stringContaining('C3') });
  });

  it('131047 from the API (the window closed earlier than the agent knew): the same send falls back to a template', async () => {
    const { clock, wa, agent, raise, lastMessageTo } = await agentRig();
    // The agent heard from Anna, but Meta's window for her is closed (the stand-in never saw her write).
    const status = await wa.postWebhook(inboundBody(ANNA, 'wamid.in-1', clock.now - 23 * HOUR, { type: 'text', text: { body: 'hello' } }));
    expect(status).toBe(200);
    expect(agent.notifier.status().recipients[0]!.windowOpen).toBe(true);
    const before = wa.requests.length;

    raise(health('C7'));
    await agent.notifier.drain();
    const tried = wa.requests.slice(before).filter((r) => (r.body as any).type !== 'text');
    expect(tried.map((r) => [(r.body as any).type, r.status])).toEqual([['interactive', 400], ['template', 200]]);
    expect(sentTo(wa, ANNA).filter((s) => s.type !== 'text').map((s) => s.type)).toEqual(['template']);
    expect(lastMessageTo('anna')).toMatchObject({ status: 'sent', providerId: sentTo(wa, ANNA, 'template')[0]!.wamid });
    expect(agent.notifier.status().recipients[0]!.windowOpen).toBe(false);
  });

  it("windowErrors 'webhook' (accepted, then a failed status with 131047): the message is sent again as a template", async () => {
    const { clock, wa, agent, raise, messagesTo, log } = await agentRig({ windowErrors: 'webhook' });
    expect(await wa.postWebhook(inboundBody(ANNA, 'wamid.in-1', clock.now, { type: 'text', text: { body: 'hello' } }))).toBe(200);
    await eventually(() => wa.requests.length === 1, 5_000, 'the help reply attempt');

    raise(health('C7'));
    await agent.notifier.drain();
    // Meta accepted it, then reports it failed: the agent puts it back in her queue and forgets the window.
    await eventually(() => messagesTo('anna').at(-1)?.status === 'retry', 5_000, 'the failed status');
    expect(agent.notifier.status().recipients[0]).toMatchObject({ windowOpen: false, pending: 1 });
    clock.now += PACE_MS; // still one message to one person per paceMs
    await agent.notifier.drain();

    const alertMessages = sentTo(wa, ANNA).filter((s) => s.type !== 'text');
    expect(alertMessages).toHaveLength(1);
    expect(alertMessages[0]!.shown).toContain('C7');
    const rows = messagesTo('anna');
    expect(rows.at(-2)).toMatchObject({ status: 'retry', delivery: 'failed', lastError: expect.stringContaining('131047') });
    expect(rows.at(-1)).toMatchObject({ status: 'sent', providerId: alertMessages[0]!.wamid });
    expect(agent.notifier.status().recipients[0]!.windowOpen).toBe(false);
    expect(log.text()).not.toContain('the chat service could not deliver a message it had accepted');
  });
});

describe('WhatsApp webhook: who may tell the agent what', () => {
  it('answers the subscription handshake only with the right verify token', async () => {
    const { wa } = await agentRig();
    expect(await wa.verifyWebhook(VERIFY_TOKEN, '1158201444')).toEqual({ status: 200, body: '1158201444' });
    expect((await wa.verifyWebhook('guessed-token', '1158201444')).status).toBe(403);
    expect((await wa.verifyWebhook('', '1158201444')).status).toBe(403);
  });

  it('refuses a forged or unsigned POST with 401, and nothing changes', async () => {
    const { wa, agent, raise, lastMessageTo } = await agentRig();
    const e = health('C7');
    raise(e);
    await agent.notifier.drain();
    const m = lastMessageTo('anna');
    const body = inboundBody(ANNA, 'wamid.forged', T0, { type: 'button', button: { payload: `ack:${m.id}`, text: 'Acknowledge' }, context: { id: m.providerId } });

    const wrongKey = `sha256=${createHmac('sha256', 'not-the-app-secret').update(body).digest('hex')}`;
    expect(await wa.postWebhook(body, wrongKey)).toBe(401);
    expect(await wa.postWebhook(body, null)).toBe(401);
    expect(await wa.postWebhook(body, 'sha256=')).toBe(401);
    expect(agent.store.alert(e.id)!.state).toBe('firing');
    expect(agent.notifier.status().recipients[0]!.windowOpen).toBe(false);
    // The genuine one, sent later, still counts (the forged ones did not burn its id).
    expect(await wa.postWebhook(body)).toBe(200);
    expect(agent.store.alert(e.id)!.state).toBe('acknowledged');
  });

  it('ignores a replayed POST: the snooze is not extended and the action is logged once', async () => {
    const { clock, wa, agent, raise, lastMessageTo, log } = await agentRig();
    const e = health('C7');
    raise(e);
    await agent.notifier.drain();
    const m = lastMessageTo('anna');
    const body = inboundBody(ANNA, 'wamid.press-1', clock.now, { type: 'button', button: { payload: `snooze:${m.id}`, text: 'Snooze 4 h' }, context: { id: m.providerId } });

    expect(await wa.postWebhook(body)).toBe(200);
    const until = T0 + 4 * HOUR;
    expect(agent.store.alert(e.id)).toMatchObject({ state: 'snoozed', ack: { by: 'anna', until } });

    clock.now += HOUR;
    expect(await wa.postWebhook(body)).toBe(200);
    expect(agent.store.alert(e.id)).toMatchObject({ state: 'snoozed', ack: { until } });
    expect(log.lines().filter((l) => l.msg === 'alerts snoozed')).toHaveLength(1);
    expect(agent.notifier.stats.snoozed).toBe(1);
    // One answer to her (a single attempt: this hand-made press never opened the stand-in's window, so it may not arrive).
    const answers = () => wa.requests.filter((r) => (r.body as any).type === 'text' && (r.body as any).to === ANNA);
    await eventually(() => answers().length >= 1, 5_000, 'the confirmation');
    expect(answers()).toHaveLength(1);
  });

  it('refuses a body larger than 256 KiB with 413 before parsing it', async () => {
    const { wa, log } = await agentRig();
    // Correctly signed but not JSON: a 400 would mean it had been read and parsed.
    const big = `{"object":"whatsapp_business_account","junk":"${'x'.repeat(300 * 1024)}`;
    expect(await wa.postWebhook(big)).toBe(413);
    expect(await wa.postWebhook(big, 'sha256=00')).toBe(413);
    expect(log.text()).not.toContain('xxxxxxxx');
  });
});

describe('WhatsApp webhook: the farmer acts from her phone', () => {
  it("a template quick-reply press acknowledges every alert of that message, end to end", async () => {
    const { clock, wa, agent, raise, lastMessageTo, alertsJson } = await agentRig();
    const a = health('C7');
    const b = heat('C8');
    raise(a, b);
    await agent.notifier.drain();
    const m = lastMessageTo('anna');
    expect(m.items).toBe(2);

    expect(await wa.pressTemplateButton(ANNA, `ack:${m.id}`, m.providerId!, 'Acknowledge')).toBe(200);
    for (const id of [a.id, b.id]) expect(agent.store.alert(id)).toMatchObject({ state: 'acknowledged', ack: { by: 'anna' } });
    const json = await alertsJson();
    expect(json.filter((x) => x.id === a.id || x.id === b.id)).toEqual([
      expect.objectContaining({ state: 'acknowledged', ack: expect.objectContaining({ by: 'anna' }) }),
      expect.objectContaining({ state: 'acknowledged', ack: expect.objectContaining({ by: 'anna' }) }),
    ]);
    // She is told it worked.
    await eventually(() => sentTo(wa, ANNA, 'text').length === 1, 5_000, 'the confirmation');

    // Acknowledged: no reminder the next day.
    const before = wa.requests.length;
    clock.now += 25 * HOUR;
    agent.notifier.tick();
    await agent.notifier.drain();
    expect(wa.requests.length).toBe(before);
  });

  it('an interactive reply press snoozes the alerts of that message for snoozeHours', async () => {
    const { clock, wa, agent, raise, lastMessageTo, alertsJson } = await agentRig();
    expect(await wa.userWrites(ANNA, 'hi')).toBe(200);
    await eventually(() => sentTo(wa, ANNA, 'text').length === 1, 5_000, 'the help reply');
    clock.now += 60_000;
    const e = health('C7', clock.now);
    raise(e);
    await agent.notifier.drain();
    const m = lastMessageTo('anna');
    expect(sentTo(wa, ANNA, 'interactive')).toHaveLength(1);

    expect(await wa.pressReplyButton(ANNA, `snooze:${m.id}`, 'Snooze 4 h', m.providerId!)).toBe(200);
    expect(agent.store.alert(e.id)).toMatchObject({ state: 'snoozed', ack: { by: 'anna', until: clock.now + 4 * HOUR } });
    expect((await alertsJson()).find((x) => x.id === e.id)).toMatchObject({ state: 'snoozed', ack: { by: 'anna', until: new Date(clock.now + 4 * HOUR).toISOString() } });
    await eventually(() => sentTo(wa, ANNA, 'text').length === 2, 5_000, 'the confirmation');
  });

  it('a press from a number that is not a recipient, or from someone the message was not sent to, changes nothing', async () => {
    const { wa, agent, raise, lastMessageTo, log } = await agentRig({ who: [['anna', ANNA], ['ben', BEN]] });
    const e = health('C7');
    raise(e);
    await agent.notifier.drain();
    const m = lastMessageTo('anna');

    expect(await wa.pressTemplateButton(STRANGER, `ack:${m.id}`, m.providerId!)).toBe(200);
    expect(agent.store.alert(e.id)!.state).toBe('firing');
    expect(log.lines().some((l) => String(l.msg).includes('not a recipient'))).toBe(true);
    expect(log.text()).not.toContain(STRANGER); // a stranger's phone number is personal data

    expect(await wa.pressTemplateButton(BEN, `ack:${m.id}`, m.providerId!)).toBe(200);
    expect(agent.store.alert(e.id)!.state).toBe('firing');
    expect(agent.notifier.stats.acknowledged).toBe(0);
    // Only the people who wrote get an answer; the stranger gets nothing from us.
    await eventually(() => sentTo(wa, BEN, 'text').length === 1, 5_000, "Ben's 'nothing to do' answer");
    expect(sentTo(wa, STRANGER)).toEqual([]);
  });

  it('a text reply "ok" quoting a message acknowledges the alerts of that message, not of the latest one', async () => {
    const { clock, wa, agent, raise, messagesTo } = await agentRig();
    const a = health('C7');
    raise(a);
    await agent.notifier.drain();
    clock.now += PACE_MS;
    const b = health('C8', clock.now);
    raise(b);
    await agent.notifier.drain();
    const [first, second] = messagesTo('anna');
    expect(second).toBeDefined();

    expect(await wa.userWrites(ANNA, 'OK', { contextWamid: first!.providerId! })).toBe(200);
    expect(agent.store.alert(a.id)).toMatchObject({ state: 'acknowledged', ack: { by: 'anna' } });
    expect(agent.store.alert(b.id)!.state).toBe('firing');
  });

  it('"STOP" opts the person out (shown on the status page, later alerts not sent to her); "START" opts her back in', async () => {
    const { clock, wa, agent, raise, url } = await agentRig({ who: [['anna', ANNA], ['ben', BEN]] });
    expect(await wa.userWrites(ANNA, 'STOP')).toBe(200);
    expect(agent.notifier.status().recipients.find((r) => r.name === 'anna')).toMatchObject({ optedOut: true });
    expect(await (await fetch(`${url}/`)).text()).toMatch(/<td class="main">anna<\/td><td data-label="channel">whatsapp \(en\)<\/td>\s*<td data-label="state">opted out \(STOP\)<\/td>/);
    const status = (await (await fetch(`${url}/api/status`)).json()) as { notify: { recipients: { name: string; optedOut: boolean }[] } };
    expect(status.notify.recipients.find((r) => r.name === 'anna')!.optedOut).toBe(true);
    await eventually(() => sentTo(wa, ANNA, 'text').length === 1, 5_000, 'the STOP receipt');

    clock.now += 60_000;
    raise(health('C7', clock.now));
    await agent.notifier.drain();
    expect(sentTo(wa, BEN).map((s) => s.shown)).toEqual([expect.stringContaining('C7')]);
    expect(sentTo(wa, ANNA).filter((s) => s.type !== 'text')).toEqual([]);

    clock.now += 60_000;
    expect(await wa.userWrites(ANNA, 'start')).toBe(200);
    expect(agent.notifier.status().recipients.find((r) => r.name === 'anna')).toMatchObject({ optedOut: false });
    await eventually(() => sentTo(wa, ANNA, 'text').length === 2, 5_000, 'the START receipt');
    clock.now += 60_000;
    raise(health('C8', clock.now));
    await agent.notifier.drain();
    expect(sentTo(wa, ANNA).filter((s) => s.type !== 'text').map((s) => s.shown)).toEqual([expect.stringContaining('C8')]);
  });

  it('delivery statuses arriving twice and out of order leave the message at its latest stage (read)', async () => {
    const { wa, agent, raise, lastMessageTo, url } = await agentRig();
    raise(health('C7'));
    await agent.notifier.drain();
    const wamid = lastMessageTo('anna').providerId!;
    for (const s of ['delivered', 'read', 'sent', 'delivered', 'read', 'sent'] as const) expect(await wa.sendStatus(wamid, s)).toBe(200);
    expect(lastMessageTo('anna')).toMatchObject({ status: 'sent', delivery: 'read', lastError: null });
    expect(await (await fetch(`${url}/`)).text()).toContain('<td data-label="status">read</td>');
  });
});

describe('WhatsApp secrets', () => {
  it('the token, app secret and verify token never appear in /api/status, the status page or the log', async () => {
    const { clock, wa, agent, raise, url, log, lastMessageTo } = await agentRig();
    // A morning with everything that writes to the log: a refused handshake, a forged POST, a revoked token, a press.
    expect((await wa.verifyWebhook('wrong')).status).toBe(403);
    expect(await wa.postWebhook('{}', 'sha256=deadbeef')).toBe(401);
    raise(health('C7'));
    wa.failNext({ code: 190 });
    await agent.notifier.drain();
    expect(agent.notifier.status().paused).toHaveLength(1);
    clock.now += HOUR;
    await agent.notifier.drain();
    const m = lastMessageTo('anna');
    expect(m.status).toBe('sent');
    expect(await wa.pressTemplateButton(ANNA, `ack:${m.id}`, m.providerId!)).toBe(200);
    await eventually(() => sentTo(wa, ANNA, 'text').length === 1, 5_000, 'the confirmation');
    log.logger.info({ whatsapp: agent.config.channels.whatsapp }, 'even a careless log of the whole WhatsApp config');

    const status = await (await fetch(`${url}/api/status`)).text();
    const page = await (await fetch(`${url}/`)).text();
    for (const secret of [TOKEN, APP_SECRET, VERIFY_TOKEN]) {
      expect(status).not.toContain(secret);
      expect(page).not.toContain(secret);
      expect(log.text()).not.toContain(secret);
    }
  });
});
