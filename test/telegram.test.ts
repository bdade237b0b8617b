// The Telegram channel end to end, over real HTTP on loopback: the agent's own client against the Bot API
// stand-in (test/standins/telegram.ts), long polling and webhook mode, with the agent's clock injected.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import type { AlertEvent } from '../rules/index.js';
import { eventually, memoryLogger, tempDir, testConfig } from './helpers.js';
import { startTelegramStandIn, type TelegramStandIn } from './standins/telegram.js';

const TOKEN = '123456:test-token';
const HOUR = 3_600_000;
const ANNA = '42';
const BRUNO = '43';
const STRANGER = '99';

const heat = (n: number): AlertEvent => ({
  id: `heat:C${n}:1`, farmId: 'testfarm', cowId: `C${n}`, collarId: `C${n}`, type: 'heat', state: 'firing', severity: 'warning',
  at: Date.parse('2026-11-25T03:00:00Z'), since: Date.parse('2026-11-24T23:30:00Z'), raisedAt: Date.parse('2026-11-25T03:00:00Z'),
  evidence: { metric: 'activity', ratio: 2.43, window: { hours: 6 } },
});
const health = (n: number): AlertEvent => ({
  ...heat(n), id: `health:C${n}:1`, type: 'health', severity: 'urgent',
  evidence: { metric: 'rumination', ratio: 0.42, window: { hours: 12 }, also: { metric: 'activity', ratio: 0.55 } },
});

interface Harness {
  tg: TelegramStandIn;
  agent: Agent;
  dbPath: string;
  logs: ReturnType<typeof memoryLogger>;
  /** Records an alert change and routes it to people, in one transaction, as the pipeline does. */
  raise(e: AlertEvent): void;
  /** A new agent on the same store (a restart), against `tg` (or another stand-in). */
  restart(tg?: TelegramStandIn): Promise<void>;
  sendMessages(): { method: string; status: number; body: unknown }[];
}

let now = 0;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

type Mode = 'polling' | 'webhook' | 'send-only';

async function setup(mode: Mode, opts: { webhookSecret?: string } = {}): Promise<Harness> {
  now = Date.parse('2026-11-25T10:00:00Z');
  const tmp = tempDir();
  cleanups.push(() => tmp.cleanup());
  const tg = await startTelegramStandIn({ token: TOKEN, clock: () => now });
  cleanups.push(() => tg.close());
  const dbPath = join(tmp.dir, 'tg.db');
  const config = (api: string) =>
    testConfig('mqtt://127.0.0.1:1', dbPath, {
      channels: {
        telegram: { botToken: TOKEN, apiBaseUrl: api, mode, pollTimeoutS: 1, paceMs: 0, ...(opts.webhookSecret && { webhookSecret: opts.webhookSecret }) },
      },
      recipients: [
        { name: 'Anna', channel: 'telegram', address: ANNA, language: 'en' },
        // Bruno only hears about health, so heat tests talk to Anna alone.
        { name: 'Bruno', channel: 'telegram', address: BRUNO, language: 'de', types: ['health'] },
      ],
      notify: { groupWaitS: 0, groupIntervalMin: 0, maxPerHour: 100, maxPerDay: 1000 },
    });
  const logs = memoryLogger();
  const make = (api: string) =>
    new Agent(config(api), { logger: logs.logger, clock: () => now, random: () => 0.5, notifier: { baseDelayMs: 1_000, maxDelayMs: 60_000, pauseMs: 10 * 60_000 } });
  const h: Harness = {
    tg,
    agent: make(tg.url),
    dbPath,
    logs,
    raise(e) {
      h.agent.store.transaction(() => {
        h.agent.store.recordAlert(e, [], now);
        h.agent.notifier.route(e, now);
      });
    },
    async restart(next = h.tg) {
      await h.agent.stop();
      h.tg = next;
      h.agent = make(next.url);
      await h.agent.start();
    },
    sendMessages: () => h.tg.requests.filter((r) => r.method === 'sendMessage'),
  };
  await h.agent.start();
  cleanups.push(() => h.agent.stop());
  return h;
}

async function telegramApi(tg: TelegramStandIn, method: string, body: unknown): Promise<any> {
  const r = await fetch(`${tg.url}/bot${TOKEN}/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return r.json();
}

describe('Telegram: sending', () => {
  it('sends the farmer the text with Acknowledge / Snooze buttons that carry our message id, in the person\'s language', async () => {
    const h = await setup('send-only');
    h.raise(health(7));
    await h.agent.notifier.drain();

    expect(h.tg.sent).toHaveLength(2);
    const anna = h.tg.sent.find((m) => m.chatId === ANNA)!;
    const bruno = h.tg.sent.find((m) => m.chatId === BRUNO)!;
    const ids = (chat: string) => h.agent.store.notify.recentMessages(10).find((m) => m.recipient === (chat === ANNA ? 'Anna' : 'Bruno'))!;
    const annaMsg = ids(ANNA);
    const brunoMsg = ids(BRUNO);

    // The request body as Telegram receives it.
    expect(anna.body.chat_id).toBe(ANNA);
    expect(anna.text).toBe(annaMsg.text);
    expect(anna.text).toContain('Cow C7 may be unwell');
    expect(anna.body.reply_markup).toEqual({
      inline_keyboard: [[
        { text: 'Acknowledge', callback_data: `ack:${annaMsg.id}` },
        { text: 'Snooze 4 h', callback_data: `snooze:${annaMsg.id}` },
      ]],
    });
    for (const b of [...anna.buttons, ...bruno.buttons]) expect(Buffer.byteLength(b.data)).toBeLessThanOrEqual(64);

    // Bruno reads German, buttons included.
    expect(bruno.text).toBe(brunoMsg.text);
    expect(bruno.text).toMatch(/Kuh C7/);
    expect(bruno.text).not.toMatch(/Cow C7|unwell/);
    expect(bruno.buttons).toEqual([
      { text: 'Gesehen', data: `ack:${brunoMsg.id}` },
      { text: 'Später (4 Std.)', data: `snooze:${brunoMsg.id}` },
    ]);

    // The message rows remember Telegram's ids, which replies refer to.
    expect(annaMsg).toMatchObject({ status: 'sent', channel: 'telegram', providerId: `${ANNA}:${anna.messageId}` });
  });

  it('429 with retry_after: the next attempt waits retry_after seconds, then the message goes once', async () => {
    const h = await setup('send-only');
    h.tg.failNext({ errorCode: 429, description: 'Too Many Requests: retry after 30', retryAfter: 30 });
    h.raise(heat(1));
    await h.agent.notifier.drain();
    expect(h.sendMessages().map((r) => r.status)).toEqual([429]);
    expect(h.agent.notifier.status().recipients.find((r) => r.name === 'Anna')).toMatchObject({ retrying: true, lastError: expect.stringContaining('429') });

    now += 29_999; // the backoff alone (1 s) would have allowed a retry long ago
    await h.agent.notifier.drain();
    expect(h.sendMessages()).toHaveLength(1);

    now += 1;
    await h.agent.notifier.drain();
    expect(h.sendMessages().map((r) => r.status)).toEqual([429, 200]);
    now += HOUR;
    await h.agent.notifier.drain();
    expect(h.tg.sent).toHaveLength(1);
    expect(h.tg.sent[0]!.text).toContain('Cow C1');
  });

  it('403 (bot blocked by the user): the message fails and is not retried', async () => {
    const h = await setup('send-only');
    h.tg.failNext({ errorCode: 403, description: 'Forbidden: bot was blocked by the user' });
    h.raise(heat(1));
    await h.agent.notifier.drain();
    for (let i = 0; i < 3; i++) {
      now += HOUR;
      await h.agent.notifier.drain();
    }
    expect(h.sendMessages().map((r) => r.status)).toEqual([403]);
    expect(h.tg.sent).toEqual([]);
    const [m] = h.agent.store.notify.recentMessages(10);
    expect(m).toMatchObject({ recipient: 'Anna', status: 'failed', lastError: expect.stringContaining('Forbidden') });
    expect(h.agent.notifier.stats).toMatchObject({ failed: 1, messages: 0 });
    expect(h.agent.store.notify.pendingCount('Anna')).toBe(0);
    // The channel itself is not paused: the next alert is tried (the person may have unblocked the bot).
    expect(h.agent.notifier.status().paused).toEqual([]);
    h.raise(heat(2));
    await h.agent.notifier.drain();
    expect(h.tg.sent.map((s) => s.text)).toEqual([expect.stringContaining('Cow C2')]);
  });

  it('401 (token revoked): the channel is paused, messages wait, and go once the pause is over', async () => {
    const h = await setup('send-only');
    h.tg.failNext({ errorCode: 401, description: 'Unauthorized' });
    h.raise(heat(1));
    await h.agent.notifier.drain();
    const paused = h.agent.notifier.status().paused;
    expect(paused).toEqual([{ channel: 'telegram', until: new Date(now + 10 * 60_000).toISOString(), reason: expect.stringContaining('401') }]);

    // Nothing goes on the paused channel, not even a new urgent alert to someone else.
    h.raise(health(2));
    now += 5 * 60_000;
    await h.agent.notifier.drain();
    expect(h.sendMessages().map((r) => r.status)).toEqual([401]);
    expect(h.agent.store.notify.pendingCount('Anna')).toBe(2);
    expect(h.agent.store.notify.pendingCount('Bruno')).toBe(1);

    now += 5 * 60_000;
    await h.agent.notifier.drain();
    expect(h.agent.notifier.status().paused).toEqual([]);
    const anna = h.tg.sent.filter((s) => s.chatId === ANNA);
    expect(anna).toHaveLength(1); // both of Anna's alerts in one message
    expect(anna[0]!.text).toMatch(/C1[\s\S]*C2|C2[\s\S]*C1/);
    expect(h.tg.sent.filter((s) => s.chatId === BRUNO)).toHaveLength(1);
  });

  it('5xx and a dropped connection are retried with backoff, and the message is delivered exactly once', async () => {
    const h = await setup('send-only');
    h.tg.failNext({ errorCode: 502, description: 'Bad Gateway' }, { drop: true });
    h.raise(heat(1));
    await h.agent.notifier.drain();
    expect(h.sendMessages().map((r) => r.status)).toEqual([502]);
    now += 999;
    await h.agent.notifier.drain();
    expect(h.sendMessages()).toHaveLength(1);
    now += 1; // first backoff: 1 s
    await h.agent.notifier.drain();
    expect(h.sendMessages().map((r) => r.status)).toEqual([502, 0]);
    now += 1_999;
    await h.agent.notifier.drain();
    expect(h.sendMessages()).toHaveLength(2);
    now += 1; // second backoff doubles
    await h.agent.notifier.drain();
    expect(h.sendMessages().map((r) => r.status)).toEqual([502, 0, 200]);
    now += HOUR;
    await h.agent.notifier.drain();
    expect(h.tg.sent).toHaveLength(1);
    expect(h.agent.notifier.stats).toMatchObject({ messages: 1, retried: 2, failed: 0 });
  });
});

describe('Telegram: buttons and replies by long polling', () => {
  it('Acknowledge pressed: the message\'s alerts are acknowledged by that person and the press is answered', async () => {
    const h = await setup('polling');
    h.raise(heat(1));
    h.raise(heat(2));
    await h.agent.notifier.drain();
    expect(h.tg.sent).toHaveLength(1);
    const msg = h.tg.sent[0]!;
    const ack = msg.buttons.find((b) => b.data.startsWith('ack:'))!;

    await h.tg.userPresses(ANNA, msg.messageId, ack.data);
    await eventually(() => h.tg.answeredCallbacks.length === 1, 10_000, 'the callback query to be answered');
    for (const id of ['heat:C1:1', 'heat:C2:1']) {
      expect(h.agent.store.alert(id)).toMatchObject({ state: 'acknowledged', ack: { by: 'Anna', at: now } });
    }
    const toast = h.tg.answeredCallbacks[0]!.text!;
    expect(toast).toMatch(/^Thanks, 2 alerts acknowledged/);
    expect(toast).toContain('C1');
    expect(toast.length).toBeLessThanOrEqual(200);
    expect(h.agent.notifier.stats.acknowledged).toBe(2);
    // The press was confirmed to Telegram (a later getUpdates offset), not left to be delivered again.
    await eventually(() => h.tg.requests.some((r) => r.method === 'getUpdates' && Number((r.body as { offset?: number }).offset) > 100_000_001), 5_000, 'the offset to move on');
  });

  it('Snooze pressed: the alert is snoozed for 4 h by that person', async () => {
    const h = await setup('polling');
    h.raise(heat(1));
    await h.agent.notifier.drain();
    const msg = h.tg.sent[0]!;
    await h.tg.userPresses(ANNA, msg.messageId, msg.buttons.find((b) => b.data.startsWith('snooze:'))!.data);
    await eventually(() => h.tg.answeredCallbacks.length === 1, 10_000, 'the callback query to be answered');
    expect(h.agent.store.alert('heat:C1:1')).toMatchObject({ state: 'snoozed', ack: { by: 'Anna', at: now, until: now + 4 * HOUR } });
    expect(h.tg.answeredCallbacks[0]!.text).toMatch(/^Snoozed for 4 h: Cow C1/);
  });

  it('a press from a chat that is not a recipient, or from a recipient the message was not sent to, changes nothing', async () => {
    const h = await setup('polling');
    h.raise(heat(1));
    await h.agent.notifier.drain();
    const msg = h.tg.sent[0]!;
    const data = msg.buttons[0]!.data;

    await h.tg.userPresses(STRANGER, msg.messageId, data);
    await eventually(() => h.tg.answeredCallbacks.length === 1, 10_000, 'the stranger\'s press to be answered');
    expect(h.tg.answeredCallbacks[0]!.text).toBeUndefined(); // the spinner stops; nothing to say to a stranger
    expect(h.agent.store.alert('heat:C1:1')!.state).toBe('firing');
    expect(h.logs.text()).toContain('not a recipient');

    // Bruno is a recipient, but the message (and its ack:<id>) was Anna's.
    await h.tg.userPresses(BRUNO, msg.messageId, data);
    await eventually(() => h.tg.answeredCallbacks.length === 2, 10_000, 'Bruno\'s press to be answered');
    expect(h.tg.answeredCallbacks[1]!.text).toMatch(/^Nichts zu bestätigen/);
    expect(h.agent.store.alert('heat:C1:1')!.state).toBe('firing');
    expect(h.agent.notifier.stats).toMatchObject({ acknowledged: 0, snoozed: 0 });
    // Nothing sent to either of them.
    expect(h.tg.sent).toHaveLength(1);
  });

  it('the same update delivered twice (a restart that polls from offset 0) acts once', async () => {
    const h = await setup('polling');
    h.raise(heat(1));
    await h.agent.notifier.drain();
    const msg = h.tg.sent[0]!;
    const snooze = msg.buttons.find((b) => b.data.startsWith('snooze:'))!.data;
    await h.tg.userPresses(ANNA, msg.messageId, snooze);
    await eventually(() => h.tg.answeredCallbacks.length === 1, 10_000, 'the press to be answered');
    const snoozedAt = now;
    expect(h.agent.store.alert('heat:C1:1')).toMatchObject({ state: 'snoozed', ack: { at: snoozedAt, until: snoozedAt + 4 * HOUR } });

    // The agent restarts an hour later and Telegram hands out the same update again (its update_id was not
    // confirmed): a second Bot API whose update ids start where the first one's did.
    now += HOUR;
    const again = await startTelegramStandIn({ token: TOKEN, clock: () => now });
    cleanups.push(() => again.close());
    await h.restart(again);
    await again.userPresses(ANNA, msg.messageId, snooze);
    await eventually(() => again.answeredCallbacks.length === 1, 10_000, 'the redelivered press to be answered');
    expect(again.requests.find((r) => r.method === 'getUpdates' && (r.body as { offset: number }).offset === 0)).toBeDefined();
    // A second snooze would have moved "until" to an hour later.
    expect(h.agent.store.alert('heat:C1:1')).toMatchObject({ state: 'snoozed', ack: { at: snoozedAt, until: snoozedAt + 4 * HOUR } });
    expect(again.answeredCallbacks[0]!.text).toBeUndefined();
  });

  it('a text reply STOP opts the person out (later alerts are not sent), START opts them back in', async () => {
    const h = await setup('polling');
    await h.tg.userWrites(ANNA, 'STOP');
    await eventually(() => h.tg.sent.length === 1, 10_000, 'the STOP receipt');
    expect(h.tg.sent[0]).toMatchObject({ chatId: ANNA, text: expect.stringMatching(/no more Cowbell messages/) });
    expect(h.agent.notifier.status().recipients.find((r) => r.name === 'Anna')!.optedOut).toBe(true);

    h.raise(heat(1));
    await h.agent.notifier.drain();
    now += HOUR;
    await h.agent.notifier.drain();
    expect(h.tg.sent).toHaveLength(1);

    now += HOUR;
    await h.tg.userWrites(ANNA, 'START');
    await eventually(() => h.tg.sent.length === 2, 10_000, 'the START receipt');
    expect(h.tg.sent[1]!.text).toMatch(/messages are on again/);
    expect(h.agent.notifier.status().recipients.find((r) => r.name === 'Anna')!.optedOut).toBe(false);

    h.raise(heat(2));
    await h.agent.notifier.drain();
    expect(h.tg.sent).toHaveLength(3);
    // Only what happened after START: the alert raised while she was out is not sent later.
    expect(h.tg.sent[2]!.text).toContain('Cow C2');
    expect(h.tg.sent[2]!.text).not.toContain('Cow C1');
  });

  it('a text reply "calved" to a message about one cow notes her calving day in the herd register, for the rules', async () => {
    const h = await setup('polling');
    h.agent.importHerd('cow,name,collar\nC1,Bella,C1\n');
    h.raise({ ...health(1), farmId: 'testfarm' });
    await h.agent.notifier.drain();
    await eventually(() => h.tg.sent.some((m) => m.chatId === ANNA), 10_000, 'the alert to Anna');
    // Late in the evening in UTC, the farm's clock: written at 22:30, it is that day's calving.
    now = Date.parse('2026-11-25T22:30:00Z');
    await h.tg.userWrites(ANNA, 'calved');
    await eventually(() => h.tg.sent.some((m) => /calved today/.test(m.text)), 10_000, 'the receipt');
    expect(h.tg.sent.find((m) => /calved today/.test(m.text))!.text).toMatch(/Cow C1 calved today, noted in the herd register/);
    expect(h.agent.store.herd.list().find((c) => c.cow === 'C1')?.calved).toBe('2026-11-25');
    expect(h.agent.store.openAlerts().find((a) => a.cowId === 'C1')?.state).toBe('acknowledged');
  });

  it('stop() returns promptly even while polling backs off after failures', async () => {
    const h = await setup('polling');
    // A webhook set behind the agent's back makes every getUpdates answer 409; the loop backs off 1 s, 2 s, …
    await telegramApi(h.tg, 'setWebhook', { url: 'http://127.0.0.1:1/nowhere' });
    await eventually(() => h.tg.requests.filter((r) => r.method === 'getUpdates' && r.status === 409).length >= 2, 10_000, 'two refused polls');
    const t0 = Date.now();
    await h.agent.stop();
    expect(Date.now() - t0).toBeLessThan(500);
  });
});

describe('Telegram: webhook mode', () => {
  const SECRET = 'tg_webhook-Secret_123';

  it('an update POSTed with the right secret token is acted on; the same update twice acts once', async () => {
    const h = await setup('webhook', { webhookSecret: SECRET });
    const url = `http://127.0.0.1:${h.agent.httpPort}/webhooks/telegram`;
    expect(await telegramApi(h.tg, 'setWebhook', { url, secret_token: SECRET, allowed_updates: ['message', 'callback_query'] })).toMatchObject({ ok: true });
    h.raise(heat(1));
    await h.agent.notifier.drain();
    const msg = h.tg.sent[0]!;

    await h.tg.userPresses(ANNA, msg.messageId, msg.buttons.find((b) => b.data.startsWith('snooze:'))!.data);
    expect(h.tg.webhookPosts).toEqual([{ status: 200 }]);
    expect(h.agent.store.alert('heat:C1:1')).toMatchObject({ state: 'snoozed', ack: { by: 'Anna', until: now + 4 * HOUR } });
    expect(h.tg.answeredCallbacks[0]!.text).toMatch(/^Snoozed for 4 h/);
    // The agent never polls in webhook mode.
    expect(h.tg.requests.filter((r) => r.method === 'getUpdates' || r.method === 'deleteWebhook')).toEqual([]);

    // Telegram redelivers an update whose answer it did not get: the same update_id acts once.
    const update = {
      update_id: 555,
      message: { message_id: 900, date: Math.floor(now / 1000), chat: { id: Number(ANNA), type: 'private' }, from: { id: Number(ANNA), is_bot: false, first_name: 'Anna' }, text: 'STOP' },
    };
    const post = () =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET }, body: JSON.stringify(update) });
    expect((await post()).status).toBe(200);
    expect(h.agent.notifier.status().recipients.find((r) => r.name === 'Anna')!.optedOut).toBe(true);
    expect(h.tg.sent.filter((s) => /no more Cowbell messages/.test(s.text))).toHaveLength(1);
    await h.tg.userWrites(ANNA, 'START');
    expect(h.agent.notifier.status().recipients.find((r) => r.name === 'Anna')!.optedOut).toBe(false);
    expect((await post()).status).toBe(200); // the old STOP again: a duplicate, ignored
    expect(h.agent.notifier.status().recipients.find((r) => r.name === 'Anna')!.optedOut).toBe(false);
    expect(h.tg.sent.filter((s) => /no more Cowbell messages/.test(s.text))).toHaveLength(1);
  });

  it('a wrong or missing secret token is refused with 401 and changes nothing; an oversize body gets 413', async () => {
    const h = await setup('webhook', { webhookSecret: SECRET });
    const url = `http://127.0.0.1:${h.agent.httpPort}/webhooks/telegram`;
    h.raise(heat(1));
    await h.agent.notifier.drain();
    const msg = h.tg.sent[0]!;
    const ack = msg.buttons[0]!.data;

    // Through the Bot API stand-in: a webhook registered with another secret, then with none.
    await telegramApi(h.tg, 'setWebhook', { url, secret_token: 'someone-elses-secret' });
    await h.tg.userPresses(ANNA, msg.messageId, ack);
    await telegramApi(h.tg, 'setWebhook', { url });
    await h.tg.userPresses(ANNA, msg.messageId, ack);
    expect(h.tg.webhookPosts).toEqual([{ status: 401 }, { status: 401 }]);

    // Straight at the route, with a well-formed update.
    const update = JSON.stringify({
      update_id: 777,
      callback_query: { id: 'cq1', from: { id: Number(ANNA), is_bot: false, first_name: 'Anna' }, chat_instance: '1', data: ack, message: { message_id: msg.messageId, date: 0, chat: { id: Number(ANNA), type: 'private' } } },
    });
    const post = (headers: Record<string, string>, body = update) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await post({ 'x-telegram-bot-api-secret-token': `${SECRET}x` })).status).toBe(401);
    expect((await post({ 'x-telegram-bot-api-secret-token': SECRET.slice(0, -1) })).status).toBe(401);
    expect((await post({ 'x-telegram-bot-api-secret-token': '' })).status).toBe(401);
    expect((await post({})).status).toBe(401);
    expect((await fetch(url)).status).toBe(405);

    const big = JSON.stringify({ update_id: 778, message: { message_id: 1, date: 0, chat: { id: Number(ANNA) }, text: 'x'.repeat(300 * 1024) } });
    expect((await post({ 'x-telegram-bot-api-secret-token': SECRET }, big)).status).toBe(413);
    // Right secret, but not an Update: refused as a bad request rather than failing inside as a 500.
    for (const body of ['{not json', 'null', '[]', '{"message":{}}']) {
      expect((await post({ 'x-telegram-bot-api-secret-token': SECRET }, body)).status).toBe(400);
    }

    expect(h.agent.store.alert('heat:C1:1')!.state).toBe('firing');
    expect(h.agent.notifier.stats).toMatchObject({ acknowledged: 0, snoozed: 0 });
    expect(h.tg.answeredCallbacks).toEqual([]);
    expect(h.tg.sent).toHaveLength(1);

    // And the right secret still works after all that (the refusals consumed nothing).
    const res = await post({ 'x-telegram-bot-api-secret-token': SECRET });
    expect(res.status).toBe(200);
    expect(h.agent.store.alert('heat:C1:1')).toMatchObject({ state: 'acknowledged', ack: { by: 'Anna' } });
  });
});
