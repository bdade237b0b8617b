import { statSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DAY_MS, HOUR_MS, type AlertEvent } from '../rules/index.js';
import type { AgentConfig } from './config.js';
import { farmViews } from './http/farm.js';
import { renderMetrics, type Family } from './http/metrics.js';
import { PageAuth } from './http/auth.js';
import { HttpServer, type AgentStatus } from './http/server.js';
import { statusTopic, uplinkTopic } from './ingest/lorawan.js';
import { MqttSource } from './ingest/mqtt-source.js';
import { createLogger, redactUrl, type Logger } from './log.js';
import { MqttAlertChannel, WebhookChannel } from './notify/channels.js';
import { ConsoleChat, type ChatChannel, type InboundEvent } from './notify/chat.js';
import { Notifier } from './notify/notifier.js';
import { OutboxWorker, type FeedChannel } from './notify/outbox.js';
import { TelegramChannel } from './notify/telegram.js';
import { WhatsAppChannel } from './notify/whatsapp.js';
import type { AlertRow } from './store/store.js';
import { formatHerdCsv, parseHerdCsv } from './herd/csv.js';
import { applyHerd, noteCalving, type HerdImportResult } from './herd/register.js';
import { ReadingPipeline } from './pipeline.js';
import { Store } from './store/store.js';

export interface AgentOptions {
  logger?: Logger;
  /** Wall clock, injectable for tests; detection itself never reads it. */
  clock?: () => number;
  /** Where the console channel prints (the farmer's view); stdout by default. */
  consoleOut?: NodeJS.WritableStream;
  /** Extra machine feeds (tests); each gets every alert change. */
  extraFeeds?: FeedChannel[];
  snapshotEveryMs?: number;
  silenceCheckEveryMs?: number;
  outbox?: { pollMs?: number; baseDelayMs?: number; maxDelayMs?: number; maxPending?: number };
  notifier?: { baseDelayMs?: number; maxDelayMs?: number; pauseMs?: number };
  random?: () => number;
  onAlert?: (e: AlertEvent) => void;
  /** How long to wait before a group the full disk refused is tried again (5 s). */
  storeRetryMs?: number;
  /** Called when the agent cannot go on (the store failed); the CLI exits non-zero so a supervisor restarts it. */
  onFatal?: (err: Error) => void;
  /** Name the farm at the head of each message to people (set when one process serves several farms). */
  nameFarm?: boolean;
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
  readonly notifier: Notifier;
  readonly mqtt: MqttSource;
  readonly alertPublisher: MqttAlertChannel;
  readonly telegram: TelegramChannel | null;
  /** The machine feeds (MQTT, matching webhooks) an alert change is queued for. */
  readonly feedsFor: (a: Pick<AlertRow, 'type'>) => string[];
  readonly http: HttpServer;
  httpPort: number | null = null;
  private readonly clock: () => number;
  private readonly timers: NodeJS.Timeout[] = [];
  private startedAt = 0;
  /** Event-loop delay, sampled by Node itself (for /metrics). */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });
  private stopped = false;
  private failed = false;
  /**
   * Whether the detector was restored from the store: stopped before that (a signal during start-up, a
   * farm beside it failing to start), its empty state must not be saved over the stored one.
   */
  private restored = false;

  constructor(
    readonly config: AgentConfig,
    private readonly o: AgentOptions = {},
  ) {
    this.logger = o.logger ?? createLogger(config.log.level);
    this.clock = o.clock ?? Date.now;
    this.store = new Store(config.store.path);

    // Machine feeds: every alert change, in order.
    this.alertPublisher = new MqttAlertChannel(config.mqtt, this.logger);
    const webhooks = config.channels.webhooks.map((w) => ({ feed: new WebhookChannel(w, this.clock), types: w.types }));
    const feeds: FeedChannel[] = [this.alertPublisher, ...webhooks.map((w) => w.feed), ...(o.extraFeeds ?? [])];
    const feedsFor = (this.feedsFor = (a: Pick<AlertRow, 'type'>) => [
      this.alertPublisher.name,
      ...webhooks.filter((w) => !w.types || w.types.includes(a.type)).map((w) => w.feed.name),
      ...(o.extraFeeds ?? []).map((f) => f.name),
    ]);
    this.outbox = new OutboxWorker({ store: this.store, channels: feeds, logger: this.logger, clock: this.clock, ...(o.random && { random: o.random }), ...o.outbox });

    // People: grouped, paced, in their language.
    const chats: ChatChannel[] = [];
    if (config.recipients.some((r) => r.channel === 'console')) chats.push(new ConsoleChat(o.consoleOut));
    if (config.channels.whatsapp) chats.push(new WhatsAppChannel(config.channels.whatsapp));
    this.telegram = config.channels.telegram ? new TelegramChannel(config.channels.telegram, this.logger, this.clock) : null;
    if (this.telegram) chats.push(this.telegram);
    this.notifier = new Notifier({
      store: this.store,
      recipients: config.recipients,
      escalation: config.escalation,
      policy: config.notify,
      farmName: config.farm.name ?? config.farm.id,
      nameFarm: !!o.nameFarm,
      channels: chats,
      logger: this.logger,
      feedsFor,
      onFeedQueued: () => this.outbox.nudge(),
      onFatal: (err) => this.fatal(err),
      // The pipeline is made below; a reply can only come once the agent runs.
      onCalved: (cowIds, now) => noteCalving(this.store, this.pipeline, cowIds, this.pipeline.detector.localDate(now), now),
      calvingDays: config.rules.health.trend.afterCalvingDays,
      clock: this.clock,
      ...(o.random && { random: o.random }),
      ...o.notifier,
    });
    if (this.telegram) this.telegram.onInbound = (e) => this.notifier.handleInbound(e);

    this.pipeline = new ReadingPipeline({
      farmId: config.farm.id,
      sources: config.sources,
      timezone: config.farm.timezone,
      rules: config.rules,
      retentionDays: config.store.retentionDays,
      store: this.store,
      logger: this.logger,
      feedsFor,
      notify: (e, now) => this.notifier.route(e, now),
      clock: this.clock,
      unassignedCollars: config.herd.unassignedCollars,
      maxUnassignedCollars: config.herd.maxUnassignedCollars,
      onAlert: (e) => {
        this.logger.info({ alertId: e.id, type: e.type, state: e.state, cowId: e.cowId, at: new Date(e.at).toISOString() }, 'alert');
        o.onAlert?.(e);
      },
    });
    this.mqtt = new MqttSource({
      config: config.mqtt,
      farmId: config.farm.id,
      sourceTopics: config.sources.map(uplinkTopic),
      statusTopics: config.sources.map(statusTopic).filter((t) => t !== undefined),
      previousTopics: this.store.getMeta<string[]>('subscribedTopics') ?? [],
      onSubscribed: (topics) => {
        try {
          this.store.setMeta('subscribedTopics', topics);
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, 'could not record the subscribed topics');
        }
      },
      logger: this.logger,
      onMessages: (group) => {
        const alertsBefore = this.pipeline.counters.alerts;
        this.pipeline.handleMessages(group);
        if (this.pipeline.counters.alerts !== alertsBefore) {
          this.outbox.nudge();
          this.notifier.nudge();
        }
      },
      onFatal: (err) => this.fatal(err),
      // A full disk passes when space is made: wait for it, saying so, rather than exit and be restarted
      // into the same full disk again and again.
      retryable: (err) => (err as { code?: string }).code === 'SQLITE_FULL',
      onRetry: () => this.pipeline.reset(),
      ...(o.storeRetryMs !== undefined && { retryMs: o.storeRetryMs }),
      clock: this.clock,
    });
    this.http = new HttpServer(
      {
        status: () => this.status(),
        health: () => ({ ok: this.mqtt.connected && this.mqtt.subscribed && this.mqtt.stalledSince === null, broker: this.mqtt.connected, subscribed: this.mqtt.subscribed, lastMessageAt: this.pipeline.lastMessageAt }),
        alertsSince: (since, limit) => this.store.alertsSince(since, limit),
        openAlerts: () => this.store.openAlerts(),
        latestAlerts: (limit) => this.store.latestAlerts(limit),
        timezone: config.farm.timezone,
        notify: () => this.notifier.status(),
        recentMessages: (limit) => this.store.notify.recentMessages(limit),
        metrics: () => this.metrics(),
        herdCsv: () => formatHerdCsv(this.store.herd.list()),
        // The farm page's herd, cow and gateway views (agent/http/farm.ts).
        ...farmViews({ store: this.store, pipeline: this.pipeline, config, clock: this.clock, startedAt: () => this.startedAt }),
      },
      this.logger,
      {
        clock: this.clock,
        act: (id, action) => this.notifier.acknowledge([id], 'status page', action).length,
        importHerd: (csv) => this.importHerd(csv),
        whatsapp: config.channels.whatsapp && {
          appSecret: config.channels.whatsapp.appSecret,
          verifyToken: config.channels.whatsapp.verifyToken,
          handle: (events) => this.inboundWhatsApp(events),
        },
        telegram: this.telegram && config.channels.telegram?.mode === 'webhook' ? {
          verify: (h) => this.telegram!.verifySecret(h),
          handle: (u) => this.telegram!.handleUpdate(u as Parameters<TelegramChannel['handleUpdate']>[0]),
        } : undefined,
      },
      config.http.password && new PageAuth(config.http.password, this.clock),
    );
  }

  async start(): Promise<void> {
    if (this.stopped) return;
    this.startedAt = this.clock();
    this.loopDelay.enable();
    const t0 = performance.now();
    const restored = this.pipeline.restore();
    this.restored = true;
    this.logger.info({ ...restored, ms: Math.round(performance.now() - t0) }, 'detector state restored');
    // The page first: a config mistake there (a port in use) stops start-up before anything is connected.
    try {
      this.httpPort = await this.http.start(this.config.http.host, this.config.http.port);
    } catch (err) {
      if (this.stopped) return;
      throw err;
    }
    // Stopped while the page was opening (a signal at start-up): nothing more is started.
    if (this.stopped) return;
    this.alertPublisher.start();
    this.outbox.start();
    this.notifier.start();
    this.mqtt.start();
    this.every(this.o.snapshotEveryMs ?? 30_000, 'snapshot', () => this.pipeline.snapshot());
    this.every(this.o.silenceCheckEveryMs ?? 60_000, 'silence check', () => this.checkSilence());
    this.every(HOUR_MS, 'retention', () => {
      const wm = this.pipeline.detector.farm.watermark;
      const keepMs = this.config.store.retentionDays * DAY_MS;
      this.store.pruneHistory(this.clock() - keepMs);
      const forgotten = this.pipeline.forgetSilentCollars(this.clock() - this.config.herd.forgetUnassignedAfterDays * DAY_MS);
      if (forgotten.length) this.logger.info({ collars: forgotten.slice(0, 20), n: forgotten.length }, 'unassigned collars silent for long forgotten');
      if (wm !== null) return this.store.pruneReadings(wm - keepMs);
    });
    const wa = this.config.channels.whatsapp;
    if (wa && (!wa.appSecret || !wa.verifyToken)) {
      this.logger.warn('WhatsApp sends, but farmers\' buttons and replies are off: set channels.whatsapp.appSecret and verifyToken, and point Meta\'s webhook at /webhooks/whatsapp (docs/whatsapp.md)');
    }
    this.logger.info(
      // Under a FarmHost every line already carries the farm.
      { ...(this.logger.bindings().farm === undefined && { farm: this.config.farm.id }), broker: redactUrl(this.config.mqtt.url), http: `http://${this.config.http.host}:${this.httpPort}/` },
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

  /** WhatsApp webhook events: act on each, then answer the person (best effort, after the commit). */
  private inboundWhatsApp(events: InboundEvent[]): void {
    for (const e of events) {
      const outcome = this.notifier.handleInbound(e);
      if (e.type !== 'status' && outcome.reply && outcome.outcome !== 'duplicate' && outcome.outcome !== 'unknown-sender') {
        void this.notifier.confirm('whatsapp', e.from, outcome.reply);
      }
    }
    this.notifier.nudge();
  }

  private every(ms: number, name: string, job: () => unknown): void {
    // A job that yields (retention) may still be running at its next tick: that tick is skipped.
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      Promise.resolve()
        .then(job)
        .catch((err: unknown) => this.logger.error({ job: name, err: (err as Error).message }, 'periodic job failed'))
        .finally(() => (running = false));
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
    this.loopDelay.disable();
    await this.mqtt.stop();
    await this.http.stop();
    await this.notifier.stop();
    await this.outbox.stop();
    await this.alertPublisher.stop();
    try {
      if (!this.failed && this.restored) this.pipeline.snapshot();
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'final snapshot failed; state will be rebuilt from readings');
    }
    this.store.close();
    this.logger.info('cowbell agent stopped');
  }

  /** A herd file from `cowbell herd import` or the farm page, applied to the register and the detector. */
  importHerd(csv: string): HerdImportResult {
    const result = applyHerd(this.store, this.pipeline, this.config.farm.id, parseHerdCsv(csv), this.clock());
    this.logger.info({ cows: result.cows, updated: result.updated, collarChanges: result.collarChanges.length, retired: result.retired.length }, 'herd register imported');
    return result;
  }

  /** /metrics: what a technician's Prometheus scrapes (README, "Alerts out": other HTTP routes). */
  metrics(): string {
    const now = this.clock();
    const c = this.pipeline.counters;
    const m = this.store.metricCounts(now - HOUR_MS);
    const lag = this.loopDelay;
    let dbBytes = 0;
    for (const suffix of ['', '-wal']) {
      try {
        dbBytes += statSync(this.config.store.path + suffix).size;
      } catch {
        // no WAL file yet
      }
    }
    const counter = (name: string, help: string, samples: Family['samples']): Family => ({ name, help, type: 'counter', samples });
    const gauge = (name: string, help: string, samples: Family['samples']): Family => ({ name, help, type: 'gauge', samples });
    return renderMetrics([
      counter('cowbell_messages_received_total', 'MQTT messages received since start.', [{ value: c.messages }]),
      counter('cowbell_readings_total', 'Readings since start, by what became of them.', [
        { labels: { outcome: 'accepted' }, value: c.readings },
        { labels: { outcome: 'duplicate' }, value: c.duplicates },
        { labels: { outcome: 'quarantined' }, value: c.quarantined },
        { labels: { outcome: 'too_late' }, value: c.lateUnjudged },
        { labels: { outcome: 'stamped_ahead' }, value: c.futureUnjudged },
      ]),
      gauge('cowbell_readings_missing', "Readings never received, by the collars' sequence numbers (since start).", [{ value: c.seqMissing }]),
      counter('cowbell_alert_changes_total', 'Alert changes (raised or resolved) since start.', [{ value: c.alerts }]),
      counter('cowbell_unassigned_collars_total', 'Collars outside the herd register since start: messages of new ones refused at the cap, and silent ones forgotten.', [
        { labels: { outcome: 'refused' }, value: c.unassignedRefused },
        { labels: { outcome: 'forgotten' }, value: c.unassignedForgotten },
      ]),
      gauge('cowbell_alerts_open', 'Open alerts, by type.', m.openAlerts.map((r) => ({ labels: { type: r.type }, value: r.n }))),
      gauge('cowbell_outbox_messages', 'Outbox rows, by status.', m.outbox.map((r) => ({ labels: { status: r.status }, value: r.n }))),
      gauge('cowbell_outbox_oldest_pending_age_seconds', 'Age of the oldest message still waiting to go (0 when none).', [{ value: m.oldestPending === null ? 0 : Math.max(0, (now - m.oldestPending) / 1000) }]),
      counter('cowbell_outbox_sends_total', 'Outbox send attempts since start, by result.', Object.entries(this.outbox.stats).map(([result, n]) => ({ labels: { result }, value: n }))),
      gauge('cowbell_outbox_failed_messages', 'Outbox rows that failed for good, by reason (first 60 characters).', m.failedByReason.map((r) => ({ labels: { reason: r.reason }, value: r.n }))),
      gauge('cowbell_broker_connected', '1 while connected to the broker.', [{ value: this.mqtt.connected ? 1 : 0 }]),
      gauge('cowbell_broker_subscribed', '1 while every required topic is subscribed.', [{ value: this.mqtt.subscribed ? 1 : 0 }]),
      gauge('cowbell_collars', 'Collars known to the agent.', [{ value: m.collars }]),
      gauge('cowbell_collars_heard_last_hour', 'Collars with a message in the last hour.', [{ value: m.collarsHeard }]),
      gauge('cowbell_event_loop_lag_seconds', 'Event-loop delay since start: mean, p99 and max.', [
        { labels: { stat: 'mean' }, value: lag.count ? lag.mean / 1e9 : 0 },
        { labels: { stat: 'p99' }, value: lag.count ? lag.percentile(99) / 1e9 : 0 },
        { labels: { stat: 'max' }, value: lag.count ? lag.max / 1e9 : 0 },
      ]),
      gauge('cowbell_sqlite_bytes', 'Size of the database file and its write-ahead log.', [{ value: dbBytes }]),
      gauge('cowbell_uptime_seconds', 'Seconds since the agent started.', [{ value: Math.max(0, (now - this.startedAt) / 1000) }]),
    ]);
  }

  status(): AgentStatus {
    const counts = this.store.counts();
    const c = this.pipeline.counters;
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    // Still learning until she is judged for everything: heats come first, health after more days.
    const warmup = Math.max(this.config.rules.baseline.warmupDays, this.config.rules.health.warmupDays);
    let warmingUp = 0;
    for (const cow of this.pipeline.detector.cows.values()) if (cow.historyDays() < warmup) warmingUp++;
    return {
      ok: this.mqtt.connected && this.mqtt.subscribed && this.mqtt.stalledSince === null,
      farm: { id: this.config.farm.id, name: this.config.farm.name },
      startedAt: new Date(this.startedAt).toISOString(),
      broker: { url: redactUrl(this.config.mqtt.url), connected: this.mqtt.connected, subscribed: this.mqtt.subscribed, lastError: this.mqtt.lastError },
      ingest: { ...c, impossible: this.pipeline.detector.impossibleReadings(), lastMessageAt: iso(this.pipeline.lastMessageAt) },
      herd: {
        collars: counts.collars, warmingUp, watermark: iso(this.pipeline.detector.farm.watermark),
        futureStamped: [...this.pipeline.futureCollars].map(([collarId, f]) => ({ collarId, ts: iso(f.ts)!, receivedAt: iso(f.at)! })),
      },
      store: { readings: counts.readings, quarantined: counts.quarantined, openAlerts: counts.openAlerts, outboxPending: counts.outboxPending, outboxFailed: counts.outboxFailed },
      outbox: { ...this.outbox.stats },
      notify: this.notifier.status(),
      recentQuarantine: this.store.recentQuarantine(10).map((q) => ({ ...q, receivedAt: new Date(q.receivedAt).toISOString() })),
    };
  }
}
