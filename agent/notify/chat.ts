import type { Recipient, RenderedMessage } from './message.js';

/** What the notifier tells a chat channel besides the words. */
export interface SendContext {
  /** Our message id: button payloads carry it ("ack:42"), so a press finds the alerts the message was about. */
  messageId: number;
  /** Some alert in the message is still open: offer Acknowledge / Snooze. */
  actions: boolean;
  /** The person wrote to us in the last 24 h (WhatsApp's customer-service window): free-form is allowed. */
  windowOpen: boolean;
}

export interface SendResult {
  /** The service's id for the message (WhatsApp wamid, Telegram message_id): delivery statuses and replies refer to it. */
  providerId?: string;
  /** The service said the 24-h window was closed after all (the message went as a template instead). */
  windowClosed?: boolean;
}

/**
 * A chat service that reaches a person. It throws a DeliveryError classified by the service's own error
 * codes (retry, give up, pause the whole channel); anything else it throws counts as "try again later".
 */
export interface ChatChannel {
  readonly name: Recipient['channel'];
  /** Deadline for one send. */
  readonly timeoutMs: number;
  /** Least time between two messages to one person. */
  readonly paceMs: number;
  send(to: Recipient, message: RenderedMessage, ctx: SendContext, signal: AbortSignal): Promise<SendResult>;
  /** Short free-form answer to something the person just did (they wrote to us, so the window is open); best effort. */
  confirm?(to: Recipient, text: string, signal: AbortSignal): Promise<void>;
  start?(): void;
  stop?(): Promise<void>;
}

/** Something a person or a chat service told us. */
export type InboundEvent =
  | {
      type: 'button';
      channel: Recipient['channel'];
      /** The person's address on that channel (wa_id, chat id). */
      from: string;
      /** The button's payload: "ack:42", "snooze:42". */
      data: string;
      /** Unique per event, to ignore a redelivered or replayed one. */
      id: string;
      at: number;
    }
  | { type: 'text'; channel: Recipient['channel']; from: string; text: string; replyTo?: string | undefined; id: string; at: number }
  | { type: 'status'; channel: Recipient['channel']; providerId: string; status: 'sent' | 'delivered' | 'read' | 'failed'; error?: string | undefined; id: string; at: number };

export interface InboundOutcome {
  outcome: 'acknowledged' | 'snoozed' | 'calved' | 'stopped' | 'started' | 'status' | 'duplicate' | 'unknown-sender' | 'nothing-to-do' | 'not-understood';
  /** What to tell the person back (the Telegram button toast, a WhatsApp reply), in their language. */
  reply?: string;
}

export type InboundHandler = (e: InboundEvent) => InboundOutcome;

/** The demo's and a bare install's channel: prints what the person would read. */
export class ConsoleChat implements ChatChannel {
  readonly name = 'console' as const;
  readonly timeoutMs = 5_000;
  readonly paceMs = 0;
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  async send(to: Recipient, m: RenderedMessage, ctx: SendContext): Promise<SendResult> {
    const head = to.name === 'console' ? '' : `→ ${to.name}: `;
    const buttons = ctx.actions ? `\n    [${m.buttons.acknowledge}] [${m.buttons.snooze}]` : '';
    this.out.write(`\n${head}${m.text.replace(/\n/g, '\n    ')}${buttons}\n`);
    return {};
  }
}
