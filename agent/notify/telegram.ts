import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { TelegramConfig } from '../config.js';
import { DeliveryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ChatChannel, InboundEvent, InboundHandler, SendContext, SendResult } from './chat.js';
import type { Recipient, RenderedMessage } from './message.js';
import { sameSecret } from '../secret.js';

/**
 * The Telegram Bot API (docs/chat-apis.md). Messages carry an inline keyboard whose callback_data is
 * "ack:<message id>" / "snooze:<message id>". Button presses and replies come back by long polling
 * getUpdates — an outbound connection, so it works behind a farm's NAT — or by webhook with the
 * secret-token header. Telegram's `error_code` is documented as subject to change and `description` as
 * human-readable, so errors are judged by status class and `parameters.retry_after`.
 */

interface TgResponse<T> {
  ok: boolean;
  result?: T;
  error_code?: number;
  description?: string;
  parameters?: { retry_after?: number };
}

interface TgUpdate {
  update_id: number;
  message?: { message_id: number; date: number; chat: { id: number }; text?: string; reply_to_message?: { message_id: number } };
  callback_query?: { id: string; from: { id: number }; data?: string; message?: { message_id: number; chat: { id: number } } };
}

const POLL_BACKOFF_MAX_MS = 60_000;

export class TelegramChannel implements ChatChannel {
  readonly name = 'telegram' as const;
  readonly timeoutMs: number;
  readonly paceMs: number;
  /** Set by the controller: where button presses and replies go. */
  onInbound: InboundHandler | null = null;
  private polling = false;
  private pollAbort: AbortController | null = null;
  private pollDone: Promise<void> | null = null;
  /** Aborted by stop(): ends a backoff wait between failed polls at once. */
  private stopping: AbortController | null = null;
  private offset = 0;

  constructor(
    private readonly cfg: TelegramConfig,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.timeoutMs = cfg.timeoutMs;
    this.paceMs = cfg.paceMs;
  }

  async send(to: Recipient, m: RenderedMessage, ctx: SendContext, signal: AbortSignal): Promise<SendResult> {
    const body: Record<string, unknown> = { chat_id: to.address, text: m.text.slice(0, 4096) };
    if (ctx.actions) {
      body.reply_markup = {
        inline_keyboard: [[
          { text: m.buttons.acknowledge, callback_data: `ack:${ctx.messageId}` },
          { text: m.buttons.snooze, callback_data: `snooze:${ctx.messageId}` },
        ]],
      };
    }
    const sent = await this.call<{ message_id: number; chat: { id: number } }>('sendMessage', body, signal);
    return { providerId: `${sent.chat.id}:${sent.message_id}` };
  }

  async confirm(to: Recipient, text: string, signal: AbortSignal): Promise<void> {
    await this.call('sendMessage', { chat_id: to.address, text }, signal);
  }

  private async call<T>(method: string, body: unknown, signal: AbortSignal): Promise<T> {
    const url = `${this.cfg.apiBaseUrl.replace(/\/$/, '')}/bot${this.cfg.botToken.reveal()}/${method}`;
    let res;
    try {
      res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
    } catch (err) {
      // undici's message never contains the URL, so the token in the path stays out of logs.
      throw new DeliveryError(`Telegram ${method}: ${(err as Error).message}`, true, { cause: err });
    }
    let json: TgResponse<T> = { ok: false };
    try {
      json = (await res.body.json()) as TgResponse<T>;
    } catch {
      // Not JSON (a proxy's page): judged by the status below.
    }
    if (json.ok && res.statusCode === 200) return json.result as T;
    throw classifyTelegramError(method, res.statusCode, json);
  }

  start(): void {
    if (this.cfg.mode === 'webhook' && this.cfg.webhookUrl) {
      // Telegram sends the secret back in a header on every update, so forged posts can be told apart.
      void this.quietly('setWebhook', {
        url: this.cfg.webhookUrl,
        secret_token: this.cfg.webhookSecret?.reveal(),
        allowed_updates: ['message', 'callback_query'],
      });
    }
    if (this.cfg.mode !== 'polling' || this.polling) return;
    this.polling = true;
    this.stopping = new AbortController();
    this.pollDone = this.pollLoop();
  }

  async stop(): Promise<void> {
    this.polling = false;
    this.pollAbort?.abort(new Error('stopping'));
    this.stopping?.abort(new Error('stopping'));
    await this.pollDone;
  }

  private async pollLoop(): Promise<void> {
    let failures = 0;
    // A webhook set earlier makes getUpdates answer 409; polling mode means we own the updates.
    await this.quietly('deleteWebhook', {});
    while (this.polling) {
      this.pollAbort = new AbortController();
      const deadline = setTimeout(() => this.pollAbort?.abort(new Error('getUpdates timed out')), (this.cfg.pollTimeoutS + 10) * 1000);
      try {
        const updates = await this.call<TgUpdate[]>(
          'getUpdates',
          { offset: this.offset, timeout: this.cfg.pollTimeoutS, allowed_updates: ['message', 'callback_query'] },
          this.pollAbort.signal,
        );
        failures = 0;
        for (const u of updates) {
          // Confirmed to Telegram (by the next offset) only once handled: a failure gets it again, and the
          // inbound id check makes the second time harmless.
          await this.handleUpdate(u);
          this.offset = Math.max(this.offset, u.update_id + 1);
        }
      } catch (err) {
        if (!this.polling) break;
        const e = err as DeliveryError;
        const wait = e.retryAfterMs ?? Math.min(POLL_BACKOFF_MAX_MS, 1000 * 2 ** failures++);
        this.logger.warn({ err: e.message, retryInMs: wait }, 'Telegram getUpdates failed; will poll again');
        // stop() must not wait out a backoff of up to a minute.
        await sleep(wait, undefined, { signal: this.stopping!.signal, ref: false }).catch(() => undefined);
      } finally {
        clearTimeout(deadline);
      }
    }
  }

  /** One update from getUpdates or the webhook. */
  async handleUpdate(u: TgUpdate): Promise<void> {
    const event = telegramEvent(u, this.clock());
    if (!event || !this.onInbound) return;
    const outcome = this.onInbound(event);
    if (outcome.outcome === 'unknown-sender') {
      // The technician needs this number for the config: log it (a chat id is not a secret).
      this.logger.warn({ chatId: event.type === 'status' ? undefined : event.from }, 'Telegram: someone who is not a recipient wrote to the bot; add this chat id as a recipient\'s address to let them receive alerts');
    }
    if (u.callback_query) {
      // Telegram shows a spinner on the button until the query is answered.
      await this.quietly('answerCallbackQuery', { callback_query_id: u.callback_query.id, ...(outcome.reply && { text: outcome.reply.slice(0, 200) }) });
    } else if (outcome.reply && outcome.outcome !== 'duplicate' && u.message) {
      await this.quietly('sendMessage', { chat_id: u.message.chat.id, text: outcome.reply });
    }
  }

  private async quietly(method: string, body: unknown): Promise<void> {
    try {
      await this.call(method, body, AbortSignal.timeout(this.timeoutMs));
    } catch (err) {
      this.logger.warn({ method, err: (err as Error).message }, 'Telegram call failed');
    }
  }

  /** Webhook mode: the secret_token given to setWebhook comes back in this header. */
  verifySecret(header: string | undefined): boolean {
    const expected = this.cfg.webhookSecret?.reveal();
    if (!expected || !header) return false;
    return sameSecret(header, expected);
  }
}

export function classifyTelegramError(method: string, status: number, json: TgResponse<unknown>): DeliveryError {
  const code = json.error_code ?? status;
  const what = `Telegram ${method}: ${code} ${json.description ?? 'no description'}`;
  const retryAfter = json.parameters?.retry_after;
  if (code === 429) return new DeliveryError(what, true, { code: 'TELEGRAM_429', ...(retryAfter && { retryAfterMs: retryAfter * 1000 }) });
  // A wrong or revoked bot token: nothing goes until the technician fixes it.
  if (code === 401 || code === 404) return new DeliveryError(what, true, { code: `TELEGRAM_${code}`, pauseChannel: true });
  // 400 (chat not found, bad request) and 403 (the person blocked the bot): this message will never go.
  if (code >= 400 && code < 500) return new DeliveryError(what, false, { code: `TELEGRAM_${code}` });
  return new DeliveryError(what, true, { code: `TELEGRAM_${code}` });
}

export function telegramEvent(u: TgUpdate, now: number): InboundEvent | null {
  const id = `u${u.update_id}`;
  const cq = u.callback_query;
  if (cq?.data) {
    const chat = cq.message?.chat.id ?? cq.from.id;
    return { type: 'button', channel: 'telegram', from: String(chat), data: cq.data, id, at: now };
  }
  const msg = u.message;
  if (msg) {
    return {
      type: 'text', channel: 'telegram', from: String(msg.chat.id), text: msg.text ?? '', id, at: msg.date * 1000,
      replyTo: msg.reply_to_message ? `${msg.chat.id}:${msg.reply_to_message.message_id}` : undefined,
    };
  }
  return null;
}
