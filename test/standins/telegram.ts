// A local stand-in for the Telegram Bot API, so tests and the demo drive the agent's real HTTP
// client (long polling or webhook) over loopback. Shapes and errors follow docs/chat-apis.md.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLoopback, post, readBody } from './http.js';

export type TgFailure = { errorCode: number; description: string; retryAfter?: number } | { drop: true } | { delayMs: number };

export interface TgSent {
  chatId: string;
  messageId: number;
  text: string;
  buttons: { text: string; data: string }[];
  body: any;
  at: number;
}

export interface TelegramStandIn {
  url: string;
  sent: TgSent[];
  /** every answered call; status 0 when the connection was dropped on purpose */
  requests: { method: string; status: number; body: unknown }[];
  answeredCallbacks: { id: string; text?: string }[];
  failNext(...f: TgFailure[]): void;
  onSent?: (m: TgSent) => void;
  userPresses(chatId: string, messageId: number, data: string): Promise<void>;
  userWrites(chatId: string, text: string, replyToMessageId?: number): Promise<void>;
  webhookPosts: { status: number }[];
  close(): Promise<void>;
}

const BOT = { id: 7000000001, is_bot: true, first_name: 'Cowbell', username: 'cowbell_test_bot' };
const UPDATE_TYPES = ['message', 'callback_query'] as const;

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly retryAfter?: number,
  ) {
    super(description);
  }
}

interface Poll {
  offset: number | undefined;
  limit: number;
  finish(status: number, body: unknown): void;
}

function isObj(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}


/** Telegram takes parameters as a query string, urlencoded form or JSON; non-JSON transports send objects JSON-encoded. */
function params(req: IncomingMessage, raw: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const q = new URL(req.url ?? '/', 'http://x').searchParams;
  for (const [k, v] of q) out[k] = v;
  const ct = req.headers['content-type'] ?? '';
  if (raw !== '') {
    if (ct.includes('application/json')) {
      const j: unknown = JSON.parse(raw);
      if (!isObj(j)) throw new ApiError(400, 'Bad Request: invalid JSON body');
      Object.assign(out, j);
    } else {
      for (const [k, v] of new URLSearchParams(raw)) out[k] = v;
    }
  }
  for (const k of ['reply_markup', 'allowed_updates']) {
    const v = out[k];
    if (typeof v === 'string') {
      try {
        out[k] = JSON.parse(v);
      } catch {
        throw new ApiError(400, `Bad Request: can't parse ${k} JSON object`);
      }
    }
  }
  return out;
}

function int(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

function chatOf(chatId: string): { id: number | string; type: string; first_name?: string; username?: string } {
  const n = int(chatId);
  if (n === undefined) return { id: chatId, type: 'channel' };
  return n < 0 ? { id: n, type: 'group' } : { id: n, type: 'private', first_name: `Farmer ${String(n).slice(-4)}` };
}

export async function startTelegramStandIn(o: { token: string; clock?: () => number }): Promise<TelegramStandIn> {
  const clock = o.clock ?? Date.now;
  const failures: TgFailure[] = [];
  let listening: { url: string; close(): Promise<void> } | undefined;
  // Updates stay queued until a later getUpdates offset confirms them, as on Telegram's side.
  const queue: { update_id: number; [k: string]: unknown }[] = [];
  const messages = new Map<string, Record<string, unknown>>(); // `${chatId}:${messageId}` → Message
  const nextMessageId = new Map<string, number>();
  const openCallbacks = new Set<string>();
  let nextUpdateId = 100_000_001;
  let poll: Poll | undefined;
  let webhook: { url: string; secret?: string; allowed?: Set<string> } | undefined;
  let allowedUpdates = new Set<string>(UPDATE_TYPES);
  let closed = false;

  const now = (): number => Math.floor(clock() / 1000);
  const messageIdFor = (chatId: string): number => {
    const id = (nextMessageId.get(chatId) ?? 0) + 1;
    nextMessageId.set(chatId, id);
    return id;
  };
  const typeOf = (u: Record<string, unknown>): string => UPDATE_TYPES.find((t) => t in u) ?? 'message';

  function take(offset: number | undefined, limit: number): unknown[] {
    if (offset !== undefined) {
      if (offset < 0) {
        // A negative offset keeps only the last |offset| updates and forgets the rest.
        queue.splice(0, Math.max(0, queue.length + offset));
      } else {
        while (queue.length > 0 && queue[0]!.update_id < offset) queue.shift();
      }
    }
    return queue.slice(0, limit);
  }

  function wakePoll(): void {
    if (!poll) return;
    const got = take(poll.offset, poll.limit);
    if (got.length > 0) poll.finish(200, { ok: true, result: got });
  }

  function deliver(update: Record<string, unknown>): Promise<void> {
    return push({ update_id: nextUpdateId++, ...update });
  }

  async function push(full: { update_id: number; [k: string]: unknown }): Promise<void> {
    if (webhook) {
      if (webhook.allowed && !webhook.allowed.has(typeOf(full))) return;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (webhook.secret !== undefined) headers['x-telegram-bot-api-secret-token'] = webhook.secret;
      const status = await post(webhook.url, headers, JSON.stringify(full));
      stand.webhookPosts.push({ status });
      return;
    }
    // As documented, allowed_updates filters updates created after it was set; queued ones stay.
    if (!allowedUpdates.has(typeOf(full))) return;
    queue.push(full);
    wakePoll();
  }

  function sendMessage(p: Record<string, unknown>): { result: unknown; sent: TgSent } {
    const chatIdRaw = p.chat_id;
    if (chatIdRaw === undefined || chatIdRaw === '') throw new ApiError(400, 'Bad Request: chat_id is empty');
    if (typeof chatIdRaw !== 'string' && typeof chatIdRaw !== 'number') throw new ApiError(400, 'Bad Request: chat not found');
    const chatId = String(chatIdRaw);
    if (typeof p.text !== 'string' || p.text.trim() === '') throw new ApiError(400, 'Bad Request: message text is empty');
    // Telegram counts the limit in UTF-16 code units after entity parsing; plain length is close enough here.
    if (p.text.length > 4096) throw new ApiError(400, 'Bad Request: message is too long');
    if (p.parse_mode !== undefined && !['HTML', 'Markdown', 'MarkdownV2'].includes(String(p.parse_mode)))
      throw new ApiError(400, `Bad Request: unsupported parse_mode`);
    const buttons: { text: string; data: string }[] = [];
    if (p.reply_markup !== undefined) {
      const rm = p.reply_markup;
      if (!isObj(rm)) throw new ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object");
      if (rm.inline_keyboard !== undefined) {
        if (!Array.isArray(rm.inline_keyboard) || !rm.inline_keyboard.every((row: unknown) => Array.isArray(row)))
          throw new ApiError(400, 'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays');
        for (const row of rm.inline_keyboard as unknown[][]) {
          for (const b of row) {
            if (!isObj(b) || typeof b.text !== 'string' || b.text === '') throw new ApiError(400, 'Bad Request: BUTTON_TEXT_INVALID');
            if (b.callback_data !== undefined) {
              const bytes = typeof b.callback_data === 'string' ? Buffer.byteLength(b.callback_data, 'utf8') : 0;
              if (bytes < 1 || bytes > 64) throw new ApiError(400, 'Bad Request: BUTTON_DATA_INVALID');
              buttons.push({ text: b.text, data: b.callback_data as string });
            } else if (b.url === undefined) {
              throw new ApiError(400, "Bad Request: can't parse inline keyboard button: InlineKeyboardButton must have exactly one of the optional fields");
            }
          }
        }
      }
    }
    const messageId = messageIdFor(chatId);
    const message: Record<string, unknown> = { message_id: messageId, from: BOT, chat: chatOf(chatId), date: now(), text: p.text };
    if (p.reply_markup !== undefined && isObj(p.reply_markup) && p.reply_markup.inline_keyboard !== undefined) message.reply_markup = p.reply_markup;
    const replyTo = isObj(p.reply_parameters) ? int(p.reply_parameters.message_id) : int(p.reply_to_message_id);
    if (replyTo !== undefined) {
      const orig = messages.get(`${chatId}:${replyTo}`);
      if (orig) message.reply_to_message = orig;
    }
    messages.set(`${chatId}:${messageId}`, message);
    return { result: message, sent: { chatId, messageId, text: p.text, buttons, body: p, at: clock() } };
  }

  async function handle(method: string, p: Record<string, unknown>, res: ServerResponse): Promise<{ status: number; body: unknown } | 'dropped'> {
    switch (method.toLowerCase()) {
      case 'getme':
        return ok({ ...BOT, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false });
      case 'sendmessage': {
        const f = failures.shift();
        if (f && 'drop' in f) return 'dropped';
        if (f && 'delayMs' in f) await new Promise((r) => setTimeout(r, f.delayMs));
        if (f && 'errorCode' in f) throw new ApiError(f.errorCode, f.description, f.retryAfter);
        const { result, sent } = sendMessage(p);
        stand.sent.push(sent);
        stand.onSent?.(sent);
        return ok(result);
      }
      case 'getupdates': {
        if (webhook) throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
        const offset = int(p.offset);
        const limit = Math.min(100, Math.max(1, int(p.limit) ?? 100));
        const timeout = Math.max(0, int(p.timeout) ?? 0);
        if (p.allowed_updates !== undefined) {
          if (!Array.isArray(p.allowed_updates)) throw new ApiError(400, "Bad Request: can't parse allowed_updates JSON array");
          // An empty list means "all types"; the choice sticks for later calls, as documented.
          allowedUpdates = p.allowed_updates.length === 0 ? new Set(UPDATE_TYPES) : new Set(p.allowed_updates.map(String));
        }
        // A newer getUpdates ends the one still waiting, like a second bot instance would.
        poll?.finish(409, { ok: false, error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' });
        const got = take(offset, limit);
        if (got.length > 0 || timeout === 0) return ok(got);
        return new Promise((resolve) => {
          const timer = setTimeout(() => mine.finish(200, { ok: true, result: [] }), timeout * 1000);
          const mine: Poll = {
            offset,
            limit,
            finish: (status, body) => {
              clearTimeout(timer);
              if (poll === mine) poll = undefined;
              resolve({ status, body });
            },
          };
          poll = mine;
          // The agent gave up on this poll (its own timeout, or shutdown): stop holding it.
          res.once('close', () => {
            if (poll === mine) mine.finish(499, { ok: false, error_code: 499, description: 'client closed the request' });
          });
        });
      }
      case 'answercallbackquery': {
        const id = p.callback_query_id;
        if (typeof id !== 'string' || id === '') throw new ApiError(400, 'Bad Request: parameter "callback_query_id" is required');
        if (!openCallbacks.has(id)) throw new ApiError(400, 'Bad Request: query is too old and response timeout expired or query ID is invalid');
        if (typeof p.text === 'string' && p.text.length > 200) throw new ApiError(400, 'Bad Request: MESSAGE_TOO_LONG');
        openCallbacks.delete(id);
        stand.answeredCallbacks.push(typeof p.text === 'string' ? { id, text: p.text } : { id });
        return ok(true);
      }
      case 'setwebhook': {
        const url = typeof p.url === 'string' ? p.url : undefined;
        if (url === undefined) throw new ApiError(400, 'Bad Request: parameter "url" is required');
        if (url === '') {
          webhook = undefined;
          return ok(true, 'Webhook was deleted');
        }
        // Real Telegram insists on HTTPS on ports 443/80/88/8443; loopback HTTP is the point of a stand-in.
        if (!/^https?:\/\//.test(url)) throw new ApiError(400, 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook');
        const secret = p.secret_token === undefined ? undefined : String(p.secret_token);
        if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret))
          throw new ApiError(400, 'Bad Request: bad webhook: Secret token contains unallowed characters');
        if (p.drop_pending_updates === true || p.drop_pending_updates === 'true') queue.length = 0;
        const allowed = Array.isArray(p.allowed_updates) && p.allowed_updates.length > 0 ? new Set(p.allowed_updates.map(String)) : undefined;
        webhook = { url, ...(secret !== undefined ? { secret } : {}), ...(allowed ? { allowed } : {}) };
        poll?.finish(409, { ok: false, error_code: 409, description: 'Conflict: terminated by setWebhook request' });
        // Updates that queued up before the webhook existed are pushed to it, as Telegram does.
        const pending = queue.splice(0);
        for (const u of pending) void push(u).catch(() => undefined);
        return ok(true, 'Webhook was set');
      }
      case 'deletewebhook': {
        webhook = undefined;
        if (p.drop_pending_updates === true || p.drop_pending_updates === 'true') queue.length = 0;
        return ok(true, 'Webhook was deleted');
      }
      case 'getwebhookinfo':
        return ok({ url: webhook?.url ?? '', has_custom_certificate: false, pending_update_count: webhook ? 0 : queue.length });
      default:
        throw new ApiError(404, 'Not Found');
    }
  }

  function ok(result: unknown, description?: string): { status: number; body: unknown } {
    return { status: 200, body: description === undefined ? { ok: true, result } : { ok: true, result, description } };
  }

  const stand: TelegramStandIn = {
    url: '',
    sent: [],
    requests: [],
    answeredCallbacks: [],
    webhookPosts: [],
    failNext: (...f) => void failures.push(...f),
    userPresses: async (chatId, messageId, data) => {
      const message = messages.get(`${chatId}:${messageId}`) ?? { message_id: messageId, from: BOT, chat: chatOf(chatId), date: now(), text: '' };
      const id = `${BigInt.asUintN(63, randomBytes(8).readBigUInt64BE())}`;
      openCallbacks.add(id);
      const chat = chatOf(chatId);
      await deliver({
        callback_query: {
          id,
          from: { id: chat.id, is_bot: false, first_name: chat.first_name ?? 'Farmer' },
          message,
          chat_instance: createHash('sha1').update(chatId).digest().readBigInt64BE().toString(),
          data,
        },
      });
    },
    userWrites: async (chatId, text, replyToMessageId) => {
      const chat = chatOf(chatId);
      const message: Record<string, unknown> = {
        message_id: messageIdFor(chatId),
        from: { id: chat.id, is_bot: false, first_name: chat.first_name ?? 'Farmer' },
        chat,
        date: now(),
        text,
      };
      if (replyToMessageId !== undefined) {
        const orig = messages.get(`${chatId}:${replyToMessageId}`);
        if (orig) message.reply_to_message = orig;
      }
      messages.set(`${chatId}:${String(message.message_id)}`, message);
      await deliver({ message });
    },
    close: async () => {
      closed = true;
      poll?.finish(200, { ok: true, result: [] });
      await listening?.close();
    },
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const raw = await readBody(req);
      const m = /^\/bot([^/]+)\/([A-Za-z]+)\/?$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
      const method = m?.[2] ?? '';
      let p: Record<string, unknown> = {};
      let out: { status: number; body: unknown } | 'dropped';
      try {
        if (!m) throw new ApiError(404, 'Not Found');
        if (m[1] !== o.token) throw new ApiError(401, 'Unauthorized');
        p = params(req, raw);
        out = closed ? { status: 502, body: { ok: false, error_code: 502, description: 'Bad Gateway' } } : await handle(method, p, res);
      } catch (e) {
        if (e instanceof ApiError) {
          const body: Record<string, unknown> = { ok: false, error_code: e.code, description: e.description };
          if (e.retryAfter !== undefined) body.parameters = { retry_after: e.retryAfter };
          out = { status: e.code, body };
        } else if (e instanceof SyntaxError) {
          out = { status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: invalid JSON body' } };
        } else throw e;
      }
      if (out === 'dropped') {
        stand.requests.push({ method, status: 0, body: p });
        req.socket.destroy();
        return;
      }
      if (res.destroyed) return;
      stand.requests.push({ method, status: out.status, body: p });
      res.writeHead(out.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out.body));
    })().catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      }
    });
  });
  listening = await listenLoopback(server);
  stand.url = listening.url;
  return stand;
}

