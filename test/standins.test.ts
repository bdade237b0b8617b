import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTelegramStandIn, type TelegramStandIn } from './standins/telegram.js';
import { startWhatsAppStandIn, type ApprovedTemplate, type WhatsAppStandIn } from './standins/whatsapp.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  raw: string;
}

/** A tiny webhook receiver playing the agent's part; it checks Meta's signature the way the agent must. */
async function receiver(appSecret?: string): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      got.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw });
      if (appSecret !== undefined && req.method === 'POST') {
        const want = Buffer.from(`sha256=${createHmac('sha256', appSecret).update(raw).digest('hex')}`);
        const have = Buffer.from(String(req.headers['x-hub-signature-256'] ?? ''));
        if (have.length !== want.length || !timingSafeEqual(have, want)) {
          res.writeHead(401).end();
          return;
        }
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`,
    got,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('WhatsApp Cloud API stand-in', () => {
  const templates: ApprovedTemplate[] = [{ name: 'cow_alert', language: 'en', body: 'Cow {{1}}: {{2}}', buttons: ['Seen it', 'Snooze'] }];
  const waId = '41790000001';

  async function setup(clock?: () => number): Promise<{ wa: WhatsAppStandIn; hook: Awaited<ReturnType<typeof receiver>>; post: (body: unknown, auth?: string) => Promise<{ status: number; json: any }> }> {
    const hook = await receiver('app-secret');
    const wa = await startWhatsAppStandIn({ token: 'tok', phoneNumberId: '1234', appSecret: 'app-secret', webhookUrl: hook.url, templates, ...(clock ? { clock } : {}) });
    cleanups.push(hook.close, wa.close);
    const post = async (body: unknown, auth = 'Bearer tok', phone = '1234') => {
      const r = await fetch(`${wa.url}/v21.0/${phone}/messages`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, json: (await r.json()) as any };
    };
    return { wa, hook, post };
  }

  const template = (params: string[], buttons = true) => ({
    messaging_product: 'whatsapp',
    to: waId,
    type: 'template',
    template: {
      name: 'cow_alert',
      language: { code: 'en' },
      components: [
        { type: 'body', parameters: params.map((text) => ({ type: 'text', text })) },
        ...(buttons ? [{ type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: 'ack:1' }] }] : []),
      ],
    },
  });
  const interactive = (n: number) => ({
    messaging_product: 'whatsapp',
    to: waId,
    type: 'interactive',
    interactive: { type: 'button', body: { text: 'Cow 7 in heat' }, action: { buttons: Array.from({ length: n }, (_, i) => ({ type: 'reply', reply: { id: `b${i}`, title: `B${i}` } })) } },
  });

  it('accepts a template and answers like the Graph API; rejects bad requests with the documented codes', async () => {
    const { wa, post } = await setup();
    const ok = await post(template(['C7', 'in heat']));
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ messaging_product: 'whatsapp', contacts: [{ input: waId, wa_id: waId }] });
    expect(ok.json.messages[0].id).toMatch(/^wamid\./);
    expect(wa.sent[0]).toMatchObject({ to: waId, type: 'template', shown: 'Cow C7: in heat\n[Seen it]\n[Snooze]', buttons: ['Seen it', 'Snooze'] });

    const noAuth = await post(template(['C7', 'x']), 'Bearer wrong');
    expect([noAuth.status, noAuth.json.error.code]).toEqual([401, 190]);
    expect((await post({ ...template(['C7']) })).json.error).toMatchObject({ code: 132000, error_data: { messaging_product: 'whatsapp' } });
    expect((await post(template(['C7', 'line\nbreak']))).json.error.code).toBe(132018);
    expect((await post(template(['C7', 'five     spaces']))).json.error.code).toBe(132018);
    const missing = await post({ ...template(['a', 'b']), template: { name: 'nope', language: { code: 'en' } } });
    expect([missing.status, missing.json.error.code]).toEqual([404, 132001]);
    expect((await post(interactive(4))).json.error.code).toBe(100);
    expect(wa.sent).toHaveLength(1);
    expect(wa.requests.map((r) => r.status)).toEqual([200, 401, 400, 400, 400, 404, 400]);
  });

  it('refuses free-form messages outside the 24-h window the farmer opens by writing', async () => {
    let now = Date.parse('2026-11-25T06:00:00Z');
    const { wa, hook, post } = await setup(() => now);
    const closed = await post(interactive(2));
    expect([closed.status, closed.json.error.code]).toEqual([400, 131047]);

    expect(await wa.userWrites(waId, 'hi')).toBe(200);
    expect((await post(interactive(2))).status).toBe(200);
    now += 25 * 3600_000;
    expect((await post(interactive(2))).json.error.code).toBe(131047);
    expect((await post(template(['C7', 'ok']))).status).toBe(200); // templates need no window

    const delivered = JSON.parse(hook.got[0]!.raw);
    expect(delivered.entry[0].changes[0].value.messages[0]).toMatchObject({ from: waId, type: 'text', text: { body: 'hi' }, id: wa.lastInboundId() });
  });

  it('signs webhooks with X-Hub-Signature-256 and sends button replies and statuses in Meta shapes', async () => {
    const { wa, hook, post } = await setup();
    const wamid = (await post(template(['C7', 'x']))).json.messages[0].id as string;
    expect(await wa.pressTemplateButton(waId, 'ack:1', wamid, 'Seen it')).toBe(200);
    expect(await wa.pressReplyButton(waId, 'b0', 'B0', wamid)).toBe(200);
    expect(await wa.sendStatus(wamid, 'failed', { errorCode: 131026 })).toBe(200);
    expect(await wa.postWebhook('{"object":"whatsapp_business_account","entry":[]}', 'sha256=00')).toBe(401);
    expect(await wa.postWebhook('{}', null)).toBe(401);

    const values = hook.got.slice(0, 3).map((g) => JSON.parse(g.raw).entry[0].changes[0].value);
    expect(values[0].messages[0]).toMatchObject({ type: 'button', button: { payload: 'ack:1', text: 'Seen it' }, context: { id: wamid } });
    expect(values[1].messages[0]).toMatchObject({ type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'b0', title: 'B0' } } });
    expect(values[2].statuses[0]).toMatchObject({ id: wamid, status: 'failed', recipient_id: waId, errors: [{ code: 131026 }] });
    expect(values[0].metadata.phone_number_id).toBe('1234');
  });

  it('plays failures: a throttling code, a dropped connection, a slow answer', async () => {
    const { wa, post } = await setup();
    wa.failNext({ code: 131056 }, { drop: true }, { delayMs: 150 });
    const throttled = await post(template(['C7', 'x']));
    expect([throttled.status, throttled.json.error.code]).toEqual([429, 131056]);
    await expect(post(template(['C7', 'x']))).rejects.toThrow();
    const t0 = Date.now();
    expect((await post(template(['C7', 'x']))).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });
});

describe('Telegram Bot API stand-in', () => {
  async function setup(): Promise<{ tg: TelegramStandIn; call: (method: string, body?: unknown, token?: string) => Promise<{ status: number; json: any }> }> {
    const tg = await startTelegramStandIn({ token: '123:abc' });
    cleanups.push(tg.close);
    const call = async (method: string, body: unknown = {}, token = '123:abc') => {
      const r = await fetch(`${tg.url}/bot${token}/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, json: (await r.json()) as any };
    };
    return { tg, call };
  }
  const keyboard = (data: string) => ({ inline_keyboard: [[{ text: 'Seen it', callback_data: data }]] });

  it('sends messages with inline keyboards and answers errors like Telegram', async () => {
    const { tg, call } = await setup();
    expect(await call('getMe', {}, '123:wrong')).toEqual({ status: 401, json: { ok: false, error_code: 401, description: 'Unauthorized' } });
    const sent = await call('sendMessage', { chat_id: 42, text: 'Cow C7 in heat', reply_markup: keyboard('ack:1') });
    expect(sent.json.result).toMatchObject({ message_id: 1, chat: { id: 42, type: 'private' }, text: 'Cow C7 in heat', reply_markup: keyboard('ack:1') });
    expect(tg.sent[0]).toMatchObject({ chatId: '42', messageId: 1, buttons: [{ text: 'Seen it', data: 'ack:1' }] });

    expect((await call('sendMessage', { chat_id: 42, text: 'x', reply_markup: keyboard('x'.repeat(65)) })).json.description).toBe('Bad Request: BUTTON_DATA_INVALID');
    tg.failNext({ errorCode: 429, description: 'Too Many Requests: retry after 7', retryAfter: 7 });
    expect(await call('sendMessage', { chat_id: 42, text: 'x' })).toEqual({
      status: 429,
      json: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 7', parameters: { retry_after: 7 } },
    });
    expect(tg.sent).toHaveLength(1);
  });

  it('holds getUpdates until a button press arrives, and offset confirms it', async () => {
    const { tg, call } = await setup();
    const msg = (await call('sendMessage', { chat_id: 42, text: 'Cow C7', reply_markup: keyboard('ack:1') })).json.result;
    const t0 = Date.now();
    const polling = call('getUpdates', { timeout: 10, allowed_updates: ['message', 'callback_query'] });
    setTimeout(() => void tg.userPresses('42', msg.message_id, 'ack:1'), 100);
    const updates = (await polling).json.result;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(updates).toHaveLength(1);
    const cq = updates[0].callback_query;
    expect(cq).toMatchObject({ data: 'ack:1', message: { message_id: msg.message_id, chat: { id: 42 } }, from: { id: 42, is_bot: false } });
    expect(typeof cq.chat_instance).toBe('string');

    expect((await call('answerCallbackQuery', { callback_query_id: cq.id, text: 'Noted' })).json).toEqual({ ok: true, result: true });
    expect(tg.answeredCallbacks).toEqual([{ id: cq.id, text: 'Noted' }]);
    expect((await call('getUpdates', { offset: updates[0].update_id })).json.result).toHaveLength(1); // not yet confirmed
    expect((await call('getUpdates', { offset: updates[0].update_id + 1 })).json.result).toEqual([]);
  });

  it('delivers to a webhook with the secret-token header, refuses getUpdates meanwhile, and close() ends a pending poll', async () => {
    const { tg, call } = await setup();
    const hook = await receiver();
    cleanups.push(hook.close);
    expect((await call('setWebhook', { url: hook.url, secret_token: 's3cret_-' })).json.result).toBe(true);
    await tg.userWrites('42', 'status?');
    expect(hook.got[0]!.headers['x-telegram-bot-api-secret-token']).toBe('s3cret_-');
    expect(JSON.parse(hook.got[0]!.raw).message).toMatchObject({ text: 'status?', chat: { id: 42, type: 'private' } });
    expect(tg.webhookPosts).toEqual([{ status: 200 }]);
    expect((await call('getUpdates', {})).status).toBe(409);

    await call('deleteWebhook', {});
    const polling = call('getUpdates', { timeout: 30 });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await tg.close();
    await polling.catch(() => undefined);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
