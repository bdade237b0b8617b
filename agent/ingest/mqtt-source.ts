import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { AgentConfig } from '../config.js';
import { redactUrl, type Logger } from '../log.js';
import { collarTopicFilter } from '../wire.js';

export interface MqttSourceOptions {
  config: AgentConfig['mqtt'];
  farmId: string;
  /** LoRaWAN network servers' uplink topics to subscribe to as well. */
  sourceTopics?: readonly string[];
  /** Their device-status topics (battery levels): wanted, but collars' readings do not depend on them. */
  statusTopics?: readonly string[];
  /**
   * What the last run subscribed to. The broker keeps a persistent session's subscriptions: a topic since
   * taken out of the config (a source removed, the farm id changed) would go on delivering messages that
   * can only be quarantined, so it is unsubscribed.
   */
  previousTopics?: readonly string[];
  /** Called once every topic is granted, to remember them for the next run's `previousTopics`. */
  onSubscribed?: (topics: string[]) => void;
  logger: Logger;
  /**
   * Must commit every message of the group before returning; throwing leaves them all unacknowledged (the
   * broker redelivers them) and stops consumption.
   */
  onMessages: (group: readonly InboundMessage[]) => void;
  /** Messages committed together at most (default 1000): a bound on one transaction's size and latency. */
  maxGroup?: number;
  /**
   * A failure that may pass (the disk full): `onRetry` puts the pipeline back to what is committed at once,
   * the group is kept, unacknowledged, no further message is taken, and the same group is tried again every
   * `retryMs`. Any other failure is fatal.
   */
  retryable?: (err: Error) => boolean;
  onRetry?: () => void;
  retryMs?: number;
  onFatal: (err: Error) => void;
  clock?: () => number;
}

export interface InboundMessage {
  topic: string;
  payload: Buffer;
}

/** The PUBACK packet mqtt.js would write, and the private method that writes it (mqtt 5.16, pinned). */
interface AckPacket {
  cmd: string;
  messageId?: number;
}
type SendPacket = (packet: AckPacket, cb?: (err?: Error) => void, ...rest: unknown[]) => void;

/** How long a group may wait for more packets while they keep coming (see flushUnlessGrowing). */
const GROUP_WAIT_MS = 5;
const BACKOFF_MIN_MS = 1_000;
const STOP_GRACE_MS = 2_000;
const BACKOFF_MAX_MS = 60_000;

/** Address, credentials and TLS: shared by the ingest connection and the alert publisher's own. */
export function brokerOptions(c: AgentConfig['mqtt']): IClientOptions {
  const options: IClientOptions = {
    protocolVersion: c.protocolVersion,
    keepalive: c.keepaliveS,
    connectTimeout: 15_000,
    ...(c.username !== undefined && { username: c.username }),
    ...(c.password !== undefined && { password: c.password }),
  };
  if (c.tls) {
    if (c.tls.caFile) options.ca = readFileSync(c.tls.caFile);
    if (c.tls.certFile) options.cert = readFileSync(c.tls.certFile);
    if (c.tls.keyFile) options.key = readFileSync(c.tls.keyFile);
    options.rejectUnauthorized = c.tls.rejectUnauthorized;
  }
  return options;
}

/**
 * The broker connection. A fixed client id and a persistent session (clean: false) mean the broker queues
 * readings while the agent is down.
 *
 * Group commit, still acknowledged after commit: mqtt.js hands over the next packet only once
 * `handleMessage`'s callback has run, and sends the PUBACK from inside that callback. So the callback is
 * run at once, to keep the packets coming, while the PUBACK it sends is caught and held; the messages are
 * committed as one group (all the packets of one socket read, up to `maxGroup`, flushed before the event
 * loop turns), and only then are the held PUBACKs written, in the order the PUBLISHes came (MQTT 3.1.1
 * §4.6). A crash before the commit loses nothing: no PUBACK went out and the broker redelivers. PUBACKs held
 * for a connection that has since closed are dropped: their message ids mean nothing on the next one.
 * This relies on mqtt.js's private `_sendPacket` (checked at start; mqtt is pinned, and
 * test/ack-after-commit.test.ts watches the PUBACKs on the wire).
 */
export class MqttSource {
  private client: MqttClient | null = null;
  private group: InboundMessage[] = [];
  private heldAcks: AckPacket[] = [];
  /** Counts connections, so a flush knows whether its held PUBACKs still belong to the open one. */
  private generation = 0;
  private groupGeneration = 0;
  private flushScheduled = false;
  private groupStarted = 0;
  /** The store failed: nothing more is taken (mqtt.js gets no callback, so it hands over no more packets). */
  private failed = false;
  /** The retry of a group the store refused (disk full; the timer holds the group), and the packet after it. */
  private stallTimer: NodeJS.Timeout | null = null;
  private waiting: (() => void) | null = null;
  /** Since when the store has refused the waiting group; null while all is well. */
  stalledSince: number | null = null;
  private sendPacket: SendPacket | null = null;
  private stopping = false;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  connected = false;
  /** False while the broker refuses our subscription: connected, but deaf. */
  subscribed = false;
  private subscribeTimer: NodeJS.Timeout | null = null;
  connectedSince: number | null = null;
  lastError: string | null = null;

  /**
   * What the agent subscribes to: the farm's counted readings and each network server's uplinks decide
   * health; raw accelerometer captures (README, "Readings in") are optional.
   */
  readonly required: readonly string[];
  /** Optional topics, each with what is missed while the broker refuses it. */
  readonly optional: ReadonlyMap<string, string>;

  constructor(private readonly o: MqttSourceOptions) {
    this.required = [collarTopicFilter(o.farmId), ...(o.sourceTopics ?? [])];
    this.optional = new Map([
      [collarTopicFilter(o.farmId, 'accel'), 'raw accelerometer topic refused by the broker; counted readings still arrive (allow it in the broker ACL for raw collars)'],
      ...(o.statusTopics ?? []).map((t): [string, string] => [t, 'device-status topic refused by the broker; readings still arrive, battery levels only through the codec (allow it in the broker ACL)']),
    ]);
  }

  get topics(): string[] {
    return [...this.required, ...this.optional.keys()];
  }

  start(): void {
    const c = this.o.config;
    const options: IClientOptions = {
      ...brokerOptions(c),
      clientId: c.clientId,
      clean: false,
      // Reconnects are ours, with exponential backoff, so a broker that is down is not hammered every second.
      reconnectPeriod: 0,
      ...(c.protocolVersion === 5 && { properties: { sessionExpiryInterval: c.sessionExpiryS } }),
    };
    const client = mqtt.connect(c.url, options);
    this.client = client;
    const internals = client as unknown as { _sendPacket?: SendPacket };
    const send = internals._sendPacket;
    if (typeof send !== 'function') throw new Error('mqtt.js no longer has _sendPacket: the PUBACK cannot be held until commit (see MqttSource)');
    this.sendPacket = send.bind(client);
    let capture: AckPacket[] | null = null;
    internals._sendPacket = (packet, cb, ...rest) => {
      if (capture && packet.cmd === 'puback') {
        capture.push(packet);
        return cb?.();
      }
      return this.sendPacket!(packet, cb, ...rest);
    };
    client.handleMessage = (packet, callback) => {
      // Stopping: what comes now is left unacknowledged, for the broker to deliver at the next start.
      if (this.failed || this.stopping) return;
      if (this.stallTimer) {
        // Not taken while the store cannot take anything: without the callback mqtt.js hands over no more.
        this.waiting = () => client.handleMessage(packet, callback);
        return;
      }
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      if (this.group.length === 0) this.groupGeneration = this.generation;
      this.group.push({ topic: packet.topic, payload });
      capture = this.heldAcks;
      try {
        callback();
      } finally {
        capture = null;
      }
      if (this.group.length >= (this.o.maxGroup ?? 1000)) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        this.groupStarted = performance.now();
        // mqtt.js works through the packets of one socket read on process.nextTick: they are all in the
        // group by the time setImmediate runs, and a lone live reading waits for nothing else.
        const seen = this.group.length;
        setImmediate(() => this.flushUnlessGrowing(seen));
      }
    };
    client.on('connect', (connack) => {
      this.generation++;
      // A group's PUBACKs go out together after its commit, and the broker sends the next messages only as
      // they come back: Nagle's algorithm would hold them for the broker's delayed ACK (~40 ms a group).
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      this.connected = true;
      this.connectedSince = (this.o.clock ?? Date.now)();
      this.failures = 0;
      this.lastError = null;
      this.o.logger.info({ url: redactUrl(c.url), sessionPresent: connack.sessionPresent }, 'connected to broker');
      this.subscribe(client, 0);
    });
    client.on('error', (err) => {
      this.lastError = err.message;
      this.o.logger.warn({ err: err.message }, 'broker connection error');
    });
    client.on('close', () => {
      // What came on the closed connection is still worth committing; its PUBACKs are not worth sending, and
      // a packet held back during a stall belongs to it (the broker sends it again).
      this.generation++;
      this.waiting = null;
      this.flush();
      if (this.connected && !this.stopping) this.o.logger.warn('broker connection closed');
      this.connected = false;
      this.subscribed = false;
      this.connectedSince = null;
      this.scheduleReconnect();
    });
  }

  /**
   * A refused subscription (an ACL, a typo in the farm id) is retried with backoff. The farm's readings topic
   * and each network server's uplink topic decide health — a refused one means collars not arriving — while
   * a broker that refuses only …/accel (an ACL written before raw collars existed) keeps the farm running,
   * says so once, and keeps asking for it. One request per topic, each on its own: mqtt.js reports a refusal
   * for the request as a whole, not for the topic refused.
   */
  private subscribe(client: MqttClient, attempt: number): void {
    const topics = this.topics;
    const stale = attempt === 0 ? (this.o.previousTopics ?? []).filter((t) => !topics.includes(t)) : [];
    if (stale.length) {
      client.unsubscribe(stale, (err) => {
        if (err) this.o.logger.warn({ err: err.message, topics: stale }, 'could not unsubscribe from topics no longer in the config');
        else this.o.logger.info({ topics: stale }, 'unsubscribed from topics no longer in the config');
      });
    }
    const refused = new Set<string>();
    let answered = 0;
    for (const topic of topics) {
      client.subscribe(topic, { qos: 1 }, (err, granted) => {
        const why = err ?? (granted?.some((g) => g.qos >= 0x80) ? new Error(`broker refused ${topic}`) : null);
        if (why) {
          refused.add(topic);
          const missed = this.optional.get(topic);
          if (missed !== undefined) {
            if (attempt === 0) this.o.logger.warn({ err: why.message, topic }, missed);
          } else {
            this.o.logger.error({ err: why.message, topic }, 'subscribe failed; the collars on this topic are not arriving (allow it in the broker ACL)');
          }
        }
        if (++answered < topics.length) return;
        this.subscribed = this.required.every((t) => !refused.has(t));
        this.lastError = refused.size ? `subscribe refused: ${[...refused].join(', ')}` : null;
        if (refused.size) this.retrySubscribe(client, attempt);
        else this.o.onSubscribed?.(topics);
      });
    }
  }

  /**
   * One socket read holds 64 KiB: six or seven backlog messages of a day's readings each, and one commit (one
   * fsync) for so few made the fsync the bottleneck (6.5 messages a commit). While the last turn of the
   * event loop brought more packets, the group waits for the next turn's, for `GROUP_WAIT_MS` at most; a
   * turn with none (the broker waits for PUBACKs, or a lone live reading) flushes at once.
   */
  private flushUnlessGrowing(seen: number): void {
    if (!this.flushScheduled) return;
    const n = this.group.length;
    if (n > seen && performance.now() - this.groupStarted < GROUP_WAIT_MS) {
      setImmediate(() => this.flushUnlessGrowing(n));
      return;
    }
    this.flush();
  }

  /** Commits the group, then acknowledges it. */
  private flush(): void {
    this.flushScheduled = false;
    const group = this.group;
    const acks = this.heldAcks;
    if (group.length === 0 || this.failed || this.stallTimer) return;
    this.group = [];
    this.heldAcks = [];
    this.commit(group, acks, this.groupGeneration);
  }

  private commit(group: InboundMessage[], acks: AckPacket[], generation: number): void {
    try {
      this.o.onMessages(group);
    } catch (err) {
      // No PUBACK: the broker keeps the messages for the next session.
      const e = err as Error;
      if (this.o.retryable?.(e) && !this.stopping) return this.stall(group, acks, generation, e);
      // The store is broken: stop taking more.
      this.failed = true;
      this.o.onFatal(e);
      return;
    }
    if (this.stalledSince !== null) {
      this.o.logger.warn({ stalledS: Math.round(((this.o.clock ?? Date.now)() - this.stalledSince) / 1000) }, 'the database takes readings again; resuming');
      this.stalledSince = null;
      this.lastError = null;
    }
    // Not once stop() has let go of the client: it is ending, and a write would fail ("write after end").
    if (generation === this.generation && this.connected && this.client) for (const ack of acks) this.sendPacket!(ack);
    const next = this.waiting;
    this.waiting = null;
    next?.();
  }

  private stall(group: InboundMessage[], acks: AckPacket[], generation: number, err: Error): void {
    // At once, not only before the retry: the pipeline had judged the group in memory, and a snapshot taken
    // meanwhile (the periodic one, the one at stop) must not save what the store never took.
    try {
      this.o.onRetry?.();
    } catch (e) {
      this.failed = true;
      return this.o.onFatal(e as Error);
    }
    const now = (this.o.clock ?? Date.now)();
    if (this.stalledSince === null) {
      this.stalledSince = now;
      this.o.logger.error({ err: err.message, messages: group.length },
        'the database cannot take readings (disk full?): nothing is acknowledged, the broker keeps them, and they are tried again every few seconds');
    }
    this.lastError = `database full since ${new Date(this.stalledSince).toISOString()}: readings wait at the broker (${err.message})`;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = null;
      this.commit(group, acks, generation);
    }, this.o.retryMs ?? 5_000);
    this.stallTimer.unref();
  }

  private retrySubscribe(client: MqttClient, attempt: number): void {
    if (this.stopping || this.subscribeTimer) return;
    this.subscribeTimer = setTimeout(() => {
      this.subscribeTimer = null;
      if (this.connected && this.client === client) this.subscribe(client, attempt + 1);
    }, Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt));
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

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.flush();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.subscribeTimer) clearTimeout(this.subscribeTimer);
    const client = this.client;
    this.client = null;
    if (client) {
      // A clean end waits for in-flight publishes, which never finish on a dead link: wait briefly, then force.
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_GRACE_MS)));
      const ended = await Promise.race([client.endAsync(!this.connected).then(() => 'ended' as const), grace]);
      clearTimeout(timer);
      // A second end() is a no-op while the first is pending, so drop the socket ourselves.
      if (ended === 'timeout') client.stream?.destroy();
    }
    this.connected = false;
    this.subscribed = false;
  }
}
