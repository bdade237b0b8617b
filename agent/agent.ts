import { DAY_MS, HOUR_MS, type AlertEvent } from '../rules/index.js';
import type { AgentConfig } from './config.js';
import { HttpServer, type AgentStatus } from './http/server.js';
import { MqttSource } from './ingest/mqtt-source.js';
import { createLogger, redactUrl, type Logger } from './log.js';
import { ConsoleChannel, MqttAlertChannel, type Channel } from './notify/channels.js';
import { OutboxWorker } from './notify/outbox.js';
import { ReadingPipeline } from './pipeline.js';
import { Store } from './store/store.js';

export interface AgentOptions {
  logger?: Logger;
  /** Wall clock, injectable for tests; detection itself never reads it. */
  clock?: () => number;
  /** Where the console channel prints (the farmer's view); stdout by default. */
  consoleOut?: NodeJS.WritableStream;
  /** Extra channels (tests, future WhatsApp/Telegram) keyed by name; each gets every alert transition. */
  extraChannels?: Channel[];
  snapshotEveryMs?: number;
  silenceCheckEveryMs?: number;
  outbox?: { pollMs?: number; baseDelayMs?: number; maxDelayMs?: number };
  onAlert?: (e: AlertEvent) => void;
  /** Called when the agent cannot go on (the store failed); the CLI exits non-zero so a supervisor restarts it. */
  onFatal?: (err: Error) => void;
}

/**
 * The controller: builds the components in data-flow order (store → pipeline → outbox → ingest → http),
 * starts them, and stops them in reverse. Each periodic job is wrapped so one failing job is logged and
 * retried on its next tick instead of taking the agent down.
 */
export class Agent {
  readonly logger: Logger;
  readonly store: Store;
  readonly pipeline: ReadingPipeline;
  readonly outbox: OutboxWorker;
  readonly mqtt: MqttSource;
  readonly http: HttpServer;
  httpPort: number | null = null;
  private readonly clock: () => number;
  private readonly timers: NodeJS.Timeout[] = [];
  private startedAt = 0;
  private stopped = false;
  private failed = false;

  constructor(
    readonly config: AgentConfig,
    private readonly o: AgentOptions = {},
  ) {
    this.logger = o.logger ?? createLogger(config.log.level);
    this.clock = o.clock ?? Date.now;
    this.store = new Store(config.store.path);

    const channels: Channel[] = [
      ...(config.channels.some((c) => c.type === 'console') ? [new ConsoleChannel({ timezone: config.farm.timezone }, o.consoleOut)] : []),
      new MqttAlertChannel((topic, payload) => this.mqtt.publish(topic, payload)),
      ...(o.extraChannels ?? []),
    ];
    const names = channels.map((c) => c.name);
    const quietOnResolve = new Set(config.channels.filter((c) => !c.notifyResolved).map((c) => c.type as string));

    this.outbox = new OutboxWorker({ store: this.store, channels, logger: this.logger, clock: this.clock, ...o.outbox });
    this.pipeline = new ReadingPipeline({
      farmId: config.farm.id,
      rules: config.rules,
      retentionDays: config.store.retentionDays,
      store: this.store,
      logger: this.logger,
      channels: names,
      resolvedChannels: names.filter((n) => !quietOnResolve.has(n)),
      clock: this.clock,
      onAlert: (e) => {
        this.logger.info({ alertId: e.id, type: e.type, state: e.state, cowId: e.cowId, at: new Date(e.at).toISOString() }, 'alert');
        o.onAlert?.(e);
      },
    });
    this.mqtt = new MqttSource({
      config: config.mqtt,
      farmId: config.farm.id,
      logger: this.logger,
      onMessage: (topic, payload) => {
        const alertsBefore = this.pipeline.counters.alerts;
        this.pipeline.handleMessage(topic, payload);
        if (this.pipeline.counters.alerts !== alertsBefore) this.outbox.nudge();
      },
      onFatal: (err) => this.fatal(err),
      clock: this.clock,
    });
    this.http = new HttpServer(
      {
        status: () => this.status(),
        health: () => ({ ok: this.mqtt.connected && this.mqtt.subscribed, broker: this.mqtt.connected, subscribed: this.mqtt.subscribed, lastMessageAt: this.pipeline.lastMessageAt }),
        alertsSince: (since, limit) => this.store.alertsSince(since, limit),
        openAlerts: () => this.store.openAlerts(),
        latestAlerts: (limit) => this.store.latestAlerts(limit),
        timezone: config.farm.timezone,
      },
      this.logger,
    );
  }

  async start(): Promise<void> {
    this.startedAt = this.clock();
    const t0 = performance.now();
    const restored = this.pipeline.restore();
    this.logger.info({ ...restored, ms: Math.round(performance.now() - t0) }, 'detector state restored');
    this.outbox.start();
    this.mqtt.start();
    this.httpPort = await this.http.start(this.config.http.host, this.config.http.port);
    this.every(this.o.snapshotEveryMs ?? 30_000, 'snapshot', () => this.pipeline.snapshot());
    this.every(this.o.silenceCheckEveryMs ?? 60_000, 'silence check', () => this.checkSilence());
    this.every(HOUR_MS, 'retention', () => {
      const wm = this.pipeline.detector.farm.watermark;
      const keepMs = this.config.store.retentionDays * DAY_MS;
      if (wm !== null) this.store.pruneReadings(wm - keepMs);
      this.store.pruneHistory(this.clock() - keepMs);
    });
    this.logger.info(
      { farm: this.config.farm.id, broker: redactUrl(this.config.mqtt.url), http: `http://${this.config.http.host}:${this.httpPort}/` },
      'cowbell agent started',
    );
  }

  /**
   * The clock can only vouch for silence while we were listening: after the agent or its broker link has
   * been down, every collar's last arrival is old, and judging then would page the farmer about the whole
   * herd. So a collar is judged silent by the clock only once the link has been up for the silence period.
   */
  checkSilence(): void {
    const since = this.mqtt.connectedSince;
    if (since === null || this.clock() - since < this.config.rules.collarOffline.afterHours * HOUR_MS) return;
    this.pipeline.checkSilence();
    this.outbox.nudge();
  }

  private every(ms: number, name: string, job: () => unknown): void {
    const timer = setInterval(() => {
      try {
        job();
      } catch (err) {
        this.logger.error({ job: name, err: (err as Error).message }, 'periodic job failed');
      }
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private fatal(err: Error): void {
    this.logger.fatal({ err: err.message }, 'store failure; stopping');
    // The detector may be ahead of what committed; the next start rebuilds from the last good snapshot.
    this.failed = true;
    if (this.o.onFatal) this.o.onFatal(err);
    else void this.stop().finally(() => process.exit(1));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.mqtt.stop();
    await this.http.stop();
    await this.outbox.stop();
    try {
      if (!this.failed) this.pipeline.snapshot();
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'final snapshot failed; state will be rebuilt from readings');
    }
    this.store.close();
    this.logger.info('cowbell agent stopped');
  }

  status(): AgentStatus {
    const counts = this.store.counts();
    const c = this.pipeline.counters;
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const warmup = this.config.rules.baseline.warmupDays;
    let warmingUp = 0;
    for (const cow of this.pipeline.detector.cows.values()) if (cow.historyDays() < warmup) warmingUp++;
    return {
      ok: this.mqtt.connected && this.mqtt.subscribed,
      farm: { id: this.config.farm.id, name: this.config.farm.name },
      startedAt: new Date(this.startedAt).toISOString(),
      broker: { url: redactUrl(this.config.mqtt.url), connected: this.mqtt.connected, subscribed: this.mqtt.subscribed, lastError: this.mqtt.lastError },
      ingest: { ...c, lastMessageAt: iso(this.pipeline.lastMessageAt) },
      herd: { collars: counts.collars, warmingUp, watermark: iso(this.pipeline.detector.farm.watermark) },
      store: { readings: counts.readings, quarantined: counts.quarantined, openAlerts: counts.openAlerts, outboxPending: counts.outboxPending, outboxFailed: counts.outboxFailed },
      outbox: { ...this.outbox.stats },
      recentQuarantine: this.store.recentQuarantine(10).map((q) => ({ ...q, receivedAt: new Date(q.receivedAt).toISOString() })),
    };
  }
}
