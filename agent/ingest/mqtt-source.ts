import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { AgentConfig } from '../config.js';
import { redactUrl, type Logger } from '../log.js';

export interface MqttSourceOptions {
  config: AgentConfig['mqtt'];
  farmId: string;
  logger: Logger;
  /** Must commit the message before returning; throwing leaves the message unacknowledged. */
  onMessage: (topic: string, payload: Buffer) => void;
  onFatal: (err: Error) => void;
  clock?: () => number;
}

const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;

/**
 * The broker connection. A fixed client id and a persistent session (clean: false) mean the broker queues
 * readings while the agent is down; overriding `handleMessage` means mqtt.js sends the PUBACK only after
 * `onMessage` has committed, so a crash between receipt and commit loses nothing: the broker redelivers.
 */
export class MqttSource {
  private client: MqttClient | null = null;
  private stopping = false;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  connected = false;
  connectedSince: number | null = null;
  lastError: string | null = null;

  constructor(private readonly o: MqttSourceOptions) {}

  get topic(): string {
    return `farm/${this.o.farmId}/collar/+/reading`;
  }

  start(): void {
    const c = this.o.config;
    const options: IClientOptions = {
      clientId: c.clientId,
      clean: false,
      protocolVersion: c.protocolVersion,
      keepalive: c.keepaliveS,
      // Reconnects are ours, with exponential backoff, so a broker that is down is not hammered every second.
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      ...(c.username !== undefined && { username: c.username }),
      ...(c.password !== undefined && { password: c.password }),
      ...(c.protocolVersion === 5 && { properties: { sessionExpiryInterval: c.sessionExpiryS } }),
    };
    if (c.tls) {
      if (c.tls.caFile) options.ca = readFileSync(c.tls.caFile);
      if (c.tls.certFile) options.cert = readFileSync(c.tls.certFile);
      if (c.tls.keyFile) options.key = readFileSync(c.tls.keyFile);
      options.rejectUnauthorized = c.tls.rejectUnauthorized;
    }
    const client = mqtt.connect(c.url, options);
    this.client = client;
    client.handleMessage = (packet, callback) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      try {
        this.o.onMessage(packet.topic, payload);
        callback();
      } catch (err) {
        // No PUBACK: the broker keeps the message for the next session. The store is broken, so stop.
        callback(err as Error);
        this.o.onFatal(err as Error);
      }
    };
    client.on('connect', (connack) => {
      this.connected = true;
      this.connectedSince = (this.o.clock ?? Date.now)();
      this.failures = 0;
      this.lastError = null;
      this.o.logger.info({ url: redactUrl(c.url), sessionPresent: connack.sessionPresent }, 'connected to broker');
      client.subscribe(this.topic, { qos: 1 }, (err) => {
        if (err) this.o.logger.error({ err: err.message, topic: this.topic }, 'subscribe failed');
      });
    });
    client.on('error', (err) => {
      this.lastError = err.message;
      this.o.logger.warn({ err: err.message }, 'broker connection error');
    });
    client.on('close', () => {
      if (this.connected) this.o.logger.warn('broker connection closed');
      this.connected = false;
      this.connectedSince = null;
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer || !this.client) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.failures++);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.o.logger.info({ inMs: delay }, 'reconnecting to broker');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopping) this.client?.reconnect();
    }, delay);
  }

  /** Publishes and resolves once the broker has acknowledged (QoS 1). */
  async publish(topic: string, payload: string): Promise<void> {
    if (!this.client || !this.connected) throw new Error('not connected to the broker');
    await this.client.publishAsync(topic, payload, { qos: 1, retain: false });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    if (client) await client.endAsync();
    this.connected = false;
  }
}
