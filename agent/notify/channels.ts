import { createHmac } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { request } from 'undici';
import type { AgentConfig, WebhookConfig } from '../config.js';
import { DeliveryError } from '../errors.js';
import { brokerOptions } from '../ingest/mqtt-source.js';
import { redactUrl, type Logger } from '../log.js';
import type { AlertRow } from '../store/store.js';
import { alertToJson, alertTopic } from '../wire.js';
import type { FeedChannel } from './outbox.js';

/**
 * Publishes every alert change as JSON on farm/{farmId}/alert/{type}: the integration point for Home
 * Assistant and Node-RED. It has a broker connection of its own: on the ingest connection, the PUBACK for
 * our publish would queue behind a backlog of readings that mqtt.js hands over one at a time, and time out.
 */
export class MqttAlertChannel implements FeedChannel {
  readonly name = 'mqtt';
  readonly timeoutMs = 10_000;
  private client: MqttClient | null = null;

  constructor(
    private readonly config: AgentConfig['mqtt'],
    private readonly logger: Logger,
  ) {}

  start(): void {
    const client = mqtt.connect(this.config.url, {
      ...brokerOptions(this.config),
      clientId: `${this.config.clientId}-alerts`,
      // Nothing to keep across restarts: unsent changes wait in the outbox, not in the broker session.
      clean: true,
      reconnectPeriod: 5_000,
    });
    client.on('error', (err) => this.logger.warn({ err: err.message, url: redactUrl(this.config.url) }, 'alert publisher: broker connection error'));
    this.client = client;
  }

  /** The outbox's deadline (withDeadline) gives up on a PUBACK that does not come; nothing to abort here. */
  async send(alert: AlertRow): Promise<void> {
    const client = this.client;
    if (!client?.connected) throw new DeliveryError('alert publisher is not connected to the broker', true);
    try {
      await client.publishAsync(alertTopic(alert.farmId, alert.type), JSON.stringify(alertToJson(alert)), { qos: 1, retain: false });
    } catch (err) {
      // An MQTT 5 PUBACK with a reason code of 0x80 or more is the broker saying no (e.g. its ACL): final.
      const code = (err as { code?: unknown }).code;
      const refused = typeof code === 'number' && code >= 0x80;
      throw new DeliveryError(`MQTT publish ${refused ? 'refused' : 'failed'}: ${(err as Error).message}`, !refused, { cause: err });
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    await Promise.race([client.endAsync(true), new Promise((r) => setTimeout(r, 1000).unref())]);
  }
}

/**
 * POSTs every alert change as JSON, signed the Standard Webhooks way (webhook-id, webhook-timestamp,
 * webhook-signature = "v1," + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"), so Node-RED, Home
 * Assistant or an SMS gateway can check it came from this agent and drop a redelivery by its id.
 */
export class WebhookChannel implements FeedChannel {
  readonly name: string;
  readonly timeoutMs: number;
  private readonly key: Buffer;

  constructor(
    private readonly cfg: WebhookConfig,
    private readonly clock: () => number = Date.now,
  ) {
    this.name = `webhook:${cfg.name}`;
    this.timeoutMs = cfg.timeoutMs;
    const secret = cfg.secret.reveal();
    // Secrets issued as "whsec_<base64>" carry the key base64-encoded; anything else is the key itself.
    this.key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
  }

  async send(alert: AlertRow, signal: AbortSignal, deliveryId: string): Promise<void> {
    const id = `msg_${deliveryId.replace(/[^A-Za-z0-9_.:-]/g, '_')}`;
    const timestamp = Math.floor(this.clock() / 1000);
    const body = JSON.stringify({ type: `alert.${alert.state}`, timestamp: new Date(timestamp * 1000).toISOString(), data: alertToJson(alert) });
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'cowbell',
      ...signWebhook(this.key, id, timestamp, body),
    };
    let res;
    try {
      res = await request(this.cfg.url, { method: 'POST', headers, body, signal });
    } catch (err) {
      throw new DeliveryError(`webhook ${this.cfg.name}: ${(err as Error).message}`, true, { cause: err });
    }
    await res.body.dump();
    if (res.statusCode >= 200 && res.statusCode < 300) return;
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'], this.clock());
    // The receiver's 4xx is its final word (bad URL, gone, refused signature) — except "slow down" and "timeout".
    const retryable = res.statusCode >= 500 || res.statusCode === 429 || res.statusCode === 408;
    throw new DeliveryError(`webhook ${this.cfg.name}: HTTP ${res.statusCode}`, retryable, {
      ...(retryAfterMs !== undefined && { retryAfterMs }),
    });
  }
}

export function signWebhook(key: Buffer, id: string, timestamp: number, body: string): Record<string, string> {
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` };
}

/** Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3); anything else, or a time already past, is ignored. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}
