import { createHmac } from 'node:crypto';
import { request } from 'undici';
import type { WhatsAppConfig } from '../config.js';
import { DeliveryError } from '../errors.js';
import type { ChatChannel, InboundEvent, SendContext, SendResult } from './chat.js';
import type { Recipient, RenderedMessage } from './message.js';
import { sameSecret } from '../secret.js';

/**
 * The WhatsApp Cloud API (docs/chat-apis.md has the shapes and where they come from). A business may
 * start a conversation only with an approved template; inside the 24-h window that opens when the person
 * writes to us, it may send free-form messages, here interactive ones with reply buttons. Both carry
 * "ack:<message id>" / "snooze:<message id>" as button payloads.
 */

/** Error codes, by what to do about them. The HTTP status is only a hint: Meta's tables disagree on it. */
const RETRY = new Set([4, 80007, 130429, 131056, 613, 131000, 131016, 1, 2]);
const PAUSE = new Set([190, 368, 131048, 131031, 133010, 10, 200]);
const WINDOW_CLOSED = 131047;

const INTERACTIVE_BODY_MAX = 1024;

export class WhatsAppChannel implements ChatChannel {
  readonly name = 'whatsapp' as const;
  readonly timeoutMs: number;
  readonly paceMs: number;

  constructor(private readonly cfg: WhatsAppConfig) {
    this.timeoutMs = cfg.timeoutMs;
    this.paceMs = cfg.paceMs;
  }

  private get endpoint(): string {
    return `${this.cfg.apiBaseUrl.replace(/\/$/, '')}/${this.cfg.apiVersion}/${this.cfg.phoneNumberId}/messages`;
  }

  async send(to: Recipient, m: RenderedMessage, ctx: SendContext, signal: AbortSignal): Promise<SendResult> {
    if (ctx.windowOpen) {
      try {
        return { providerId: await this.post(freeForm(to.address, m, ctx), signal) };
      } catch (err) {
        // The window closed earlier than we knew (our clock, their clock): say it again as a template.
        if (!(err instanceof DeliveryError && err.code === 'WHATSAPP_131047')) throw err;
        return { providerId: await this.post(template(to.address, m, ctx), signal), windowClosed: true };
      }
    }
    return { providerId: await this.post(template(to.address, m, ctx), signal) };
  }

  async confirm(to: Recipient, text: string, signal: AbortSignal): Promise<void> {
    await this.post({ messaging_product: 'whatsapp', recipient_type: 'individual', to: to.address, type: 'text', text: { body: text } }, signal);
  }

  /** Returns the wamid; throws a DeliveryError classified by Meta's error code. */
  private async post(body: unknown, signal: AbortSignal): Promise<string> {
    let res;
    try {
      res = await request(this.endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.cfg.token.reveal()}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
    } catch (err) {
      throw new DeliveryError(`WhatsApp: ${(err as Error).message}`, true, { cause: err });
    }
    const text = await res.body.text();
    let json: { messages?: { id?: string }[]; error?: { code?: number; message?: string; error_data?: { details?: string } } } = {};
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      // A proxy's HTML error page: judged by the status below.
    }
    if (res.statusCode >= 200 && res.statusCode < 300) {
      const id = json.messages?.[0]?.id;
      if (!id) throw new DeliveryError('WhatsApp accepted the request but returned no message id', true);
      return id;
    }
    throw classifyWhatsAppError(res.statusCode, json.error, res.headers['retry-after']);
  }
}

export function classifyWhatsAppError(
  status: number,
  error: { code?: number; message?: string; error_data?: { details?: string } } | undefined,
  retryAfter?: string | string[],
): DeliveryError {
  const code = error?.code;
  const what = `WhatsApp error ${code ?? `HTTP ${status}`}: ${error?.error_data?.details ?? error?.message ?? 'no details'}`;
  const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  const retryAfterMs = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
  const opts = { code: `WHATSAPP_${code ?? status}`, ...(retryAfterMs && { retryAfterMs }) };
  if (code === WINDOW_CLOSED) return new DeliveryError(what, false, opts);
  if (code !== undefined && PAUSE.has(code)) return new DeliveryError(what, true, { ...opts, pauseChannel: true });
  if (code !== undefined && RETRY.has(code)) return new DeliveryError(what, true, opts);
  if (code === undefined) return new DeliveryError(what, status >= 500 || status === 429 || status === 408, opts);
  // 131026 undeliverable, 131051 unsupported type, 132000/132001/132018 template, 100 bad parameter, and codes
  // we do not know: retrying the same request gives the same answer, so fail the message and say why.
  return new DeliveryError(what, status >= 500, opts);
}

function buttonIds(ctx: SendContext) {
  return { ack: `ack:${ctx.messageId}`, snooze: `snooze:${ctx.messageId}` };
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function freeForm(to: string, m: RenderedMessage, ctx: SendContext) {
  const base = { messaging_product: 'whatsapp', recipient_type: 'individual', to };
  if (!ctx.actions) return { ...base, type: 'text', text: { body: cut(m.text, 4096) } };
  const ids = buttonIds(ctx);
  return {
    ...base,
    type: 'interactive',
    interactive: {
      type: 'button',
      body: { text: cut(m.text, INTERACTIVE_BODY_MAX) },
      action: {
        buttons: [
          { type: 'reply', reply: { id: ids.ack, title: cut(m.buttons.acknowledge, 20) } },
          { type: 'reply', reply: { id: ids.snooze, title: cut(m.buttons.snooze, 20) } },
        ],
      },
    },
  };
}

function template(to: string, m: RenderedMessage, ctx: SendContext) {
  const ids = buttonIds(ctx);
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to,
    type: 'template',
    template: {
      name: m.template.name,
      language: { code: m.template.language },
      components: [
        { type: 'body', parameters: m.template.params.map((text) => ({ type: 'text', text })) },
        // The approved template always has both buttons; a press on a message about alerts already over finds nothing to do.
        { type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: ids.ack }] },
        { type: 'button', sub_type: 'quick_reply', index: '1', parameters: [{ type: 'payload', payload: ids.snooze }] },
      ],
    },
  };
}

/** X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of the raw body with the app secret, compared in constant time. */
export function verifyHubSignature(raw: Buffer, header: string | undefined, appSecret: string): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const given = Buffer.from(header.slice(7), 'hex');
  const expected = createHmac('sha256', appSecret).update(raw).digest();
  return sameSecret(given, expected);
}

interface WaWebhook {
  entry?: { changes?: { field?: string; value?: WaValue }[] }[];
}
interface WaValue {
  messages?: {
    from?: string; id?: string; timestamp?: string; type?: string;
    text?: { body?: string };
    button?: { payload?: string; text?: string };
    interactive?: { type?: string; button_reply?: { id?: string; title?: string } };
    context?: { id?: string };
  }[];
  statuses?: { id?: string; status?: string; timestamp?: string; errors?: { code?: number; title?: string }[] }[];
}

const STATUSES = new Set(['sent', 'delivered', 'read', 'failed']);

/** What a verified webhook POST tells us; anything unrecognised is left out. */
export function parseWhatsAppWebhook(body: unknown, now: number): InboundEvent[] {
  const events: InboundEvent[] = [];
  const at = (ts: string | undefined) => (ts && /^\d+$/.test(ts) ? Number(ts) * 1000 : now);
  for (const entry of (body as WaWebhook)?.entry ?? []) {
    for (const change of entry.changes ?? []) {
      const v = change.value;
      if (!v) continue;
      for (const msg of v.messages ?? []) {
        if (!msg.from || !msg.id) continue;
        const base = { channel: 'whatsapp' as const, from: msg.from, id: msg.id, at: at(msg.timestamp) };
        if (msg.type === 'button' && msg.button?.payload) events.push({ ...base, type: 'button', data: msg.button.payload });
        else if (msg.type === 'interactive' && msg.interactive?.button_reply?.id) events.push({ ...base, type: 'button', data: msg.interactive.button_reply.id });
        // Any other message (a photo, a voice note) still opens the window: pass it on as text we may not understand.
        else events.push({ ...base, type: 'text', text: msg.text?.body ?? '', replyTo: msg.context?.id });
      }
      for (const st of v.statuses ?? []) {
        if (!st.id || !st.status || !STATUSES.has(st.status)) continue;
        const err = st.errors?.[0];
        events.push({
          type: 'status', channel: 'whatsapp', providerId: st.id, status: st.status as 'sent',
          id: `${st.id}:${st.status}`, at: at(st.timestamp),
          ...(err && { error: `${err.code ?? '?'} ${err.title ?? ''}`.trim() }),
        });
      }
    }
  }
  return events;
}
