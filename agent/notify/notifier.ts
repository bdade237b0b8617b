import Database from 'better-sqlite3';
import { HOUR_MS, type AlertEvent, type AlertType } from '../../rules/index.js';
import type { EscalationStep, NotifyConfig } from '../config.js';
import { asDeliveryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { NotificationRow } from '../store/notify-store.js';
import { toAlertRow, type AlertRow, type Store } from '../store/store.js';
import type { ChatChannel, InboundEvent, InboundOutcome } from './chat.js';
import { compose, isEmpty, quietHoursEnd } from './compose.js';
import { Loop, withDeadline } from './loop.js';
import { SEVERITY_RANK, type Recipient } from './message.js';
import { COLLAR_TYPES, parseReply, renderMessage, renderReceipt } from './render.js';

/**
 * People's side of the outbox. An alert change becomes one notification row per person who wants it, in
 * the transaction that records the alert. Each person then has a queue of their own that turns what is due
 * into as few messages as the farmer can act on: grouped (Alertmanager's group_wait / group_interval /
 * repeat_interval), held through quiet hours unless urgent, capped per hour and day with the rest folded
 * into the next message, storms and catch-ups collapsed (see compose.ts), paced per person, retried with
 * backoff. A message row is marked in flight before its request; a crash leaves it in flight, and the next
 * start sends it again: at most one duplicate, never a gap.
 */

export interface NotifierOptions {
  store: Store;
  recipients: Recipient[];
  escalation: EscalationStep[];
  policy: NotifyConfig;
  farmName: string;
  /** Name the farm at the head of each message (one box, several farms). */
  nameFarm?: boolean;
  channels: ChatChannel[];
  logger: Logger;
  /** Feed channels (MQTT, webhooks) that publish acknowledgements and snoozes like every other change. */
  feedsFor: (alert: AlertRow) => readonly string[];
  /** Called after feed rows were committed, so the outbox delivers them now. */
  onFeedQueued?: () => void;
  clock?: () => number;
  random?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long a channel stays paused after the service refused our credentials or account. */
  pauseMs?: number;
  /** The database failed under a notifier step. */
  onFatal?: (err: Error) => void;
  /**
   * A person replied that the cows of a message have calved (today): noted in the herd register, in the
   * caller's transaction. Returns the cows it could note (only the register's cows have a record).
   */
  onCalved?: (cowIds: string[], now: number) => string[];
  /** The days after a calving day whose dip is the calving's (rules.health.trend.afterCalvingDays), for the answer. */
  calvingDays?: number;
}

export interface NotifierStats {
  messages: number;
  items: number;
  retried: number;
  failed: number;
  expired: number;
  dropped: number;
  acknowledged: number;
  snoozed: number;
}

/**
 * "Back to normal" is news only where the farmer would act on it: a recovered cow, a collar sending again.
 * Not an ended heat, a changed battery, or a cow overdue for heat coming into heat: that heat is its own message.
 */
const RESOLVE_IS_NEWS: ReadonlySet<AlertType> = new Set(['health', 'down_cow', 'collar_offline', 'collar_fault']);
const TICK_MS = 30_000;
/** WhatsApp's "outside the 24-h window", as a failed status may report it after the send was accepted. */
const WHATSAPP_WINDOW_CLOSED = 131047;

export class Notifier {
  readonly stats: NotifierStats = { messages: 0, items: 0, retried: 0, failed: 0, expired: 0, dropped: 0, acknowledged: 0, snoozed: 0 };
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly channels: Map<string, ChatChannel>;
  private readonly lanes = new Map<string, Loop>();
  private readonly ticker: Loop;
  /** Channel → until when it is paused, and why (a revoked token): shown on the status page. */
  readonly paused = new Map<string, { until: number; reason: string }>();
  private readonly toldOnce = new Set<string>();
  /** Delivery statuses that arrived before the send they are about was committed (bounded). */
  private readonly orphanStatuses = new Map<string, InboundEvent>();

  constructor(private readonly o: NotifierOptions) {
    this.clock = o.clock ?? Date.now;
    this.random = o.random ?? Math.random;
    this.channels = new Map(o.channels.map((c) => [c.name, c]));
    for (const r of o.recipients) {
      this.lanes.set(r.name, new Loop(`notify:${r.name}`, () => this.guard(() => this.step(r)), o.logger, { idleMs: 60_000 }));
    }
    this.ticker = new Loop('notify:tick', () => this.guard(async () => (this.tick(), TICK_MS)), o.logger);
  }

  get recipients(): readonly Recipient[] {
    return this.o.recipients;
  }

  start(): void {
    const { store, logger } = this.o;
    const reclaimed = store.transaction(() => store.notify.reclaimInflight());
    if (reclaimed.length) {
      logger.warn({ messages: reclaimed.length }, 'messages were in flight when the agent stopped; sending them again (the person may get them twice)');
    }
    const gone = store.transaction(() => store.notify.skipPendingExcept(this.o.recipients.map((r) => r.name)));
    for (const g of gone) logger.warn({ recipient: g.recipient, notifications: g.n }, 'notifications for someone no longer in "recipients" will not be sent');
    for (const c of this.channels.values()) c.start?.();
    for (const lane of this.lanes.values()) lane.start();
    this.ticker.start();
  }

  async stop(): Promise<void> {
    await this.ticker.stop();
    await Promise.all([...this.lanes.values()].map((l) => l.stop()));
    for (const c of this.channels.values()) await c.stop?.();
  }

  nudge(): void {
    for (const lane of this.lanes.values()) lane.nudge();
  }

  /** One step of every person's queue (tests drive the notifier with an injected clock this way). */
  async drain(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((l) => l.runOnce()));
  }

  /**
   * Queues an alert change for the people who want it. Runs inside the transaction that records the
   * change, so the alert and what people will be told about it commit together.
   */
  route(e: AlertEvent, now: number): void {
    const ns = this.o.store.notify;
    const alert = toAlertRow(e);
    for (const r of this.o.recipients) {
      if (!r.types.includes(e.type) || SEVERITY_RANK[e.severity] < SEVERITY_RANK[r.minSeverity]) continue;
      if (ns.state(r.name).optedOut) continue;
      // Only a raise can be urgent: "back to normal" waits for the morning like any good news.
      const urgent = e.severity === 'urgent' && e.state === 'firing';
      const notBefore = urgent ? now : (quietHoursEnd(r, now) ?? now);
      if (e.state === 'firing') {
        ns.add({ alertId: e.id, recipient: r.name, kind: 'new', dedup: 'new', urgent, payload: { alert }, notBefore }, now);
      } else if (RESOLVE_IS_NEWS.has(e.type) && ns.wasTold(e.id, r.name)) {
        ns.add({ alertId: e.id, recipient: r.name, kind: 'resolved', dedup: 'resolved', urgent: false, payload: { alert }, notBefore }, now);
      }
    }
  }

  /** Escalations, reminders, ended snoozes, queue bounds: what only the clock can tell. */
  tick(): void {
    const { store, policy } = this.o;
    const ns = store.notify;
    const now = this.clock();
    let queued = false;
    store.transaction(() => {
      for (const a of store.endSnoozes(now)) {
        store.queueFeeds(a, `firing:${now}`, this.o.feedsFor(a), now);
        queued = true;
        for (const r of this.o.recipients) {
          if (ns.wasTold(a.id, r.name)) {
            ns.add({ alertId: a.id, recipient: r.name, kind: 'reminder', dedup: `reminder:snooze:${now}`, urgent: false, payload: { alert: a }, notBefore: quietHoursEnd(r, now) ?? now }, now);
          }
        }
      }
      for (const a of store.unacknowledgedUrgent()) {
        // Only alerts someone was told about escalate (not, say, alerts older than this agent's notifier).
        const notAckedBy = this.o.recipients.filter((r) => ns.wasTold(a.id, r.name)).map((r) => r.name);
        if (!notAckedBy.length) continue;
        this.o.escalation.forEach((step, i) => {
          if (now - a.escalateFrom < step.afterMinutes * 60_000) return;
          for (const name of step.to) {
            ns.add({ alertId: a.id, recipient: name, kind: 'escalation', dedup: `escalation:${i}:${a.escalateFrom}`, urgent: true, payload: { alert: a, escalation: { notAckedBy, afterMinutes: step.afterMinutes } }, notBefore: now }, now);
          }
        });
      }
      if (policy.repeatIntervalHours > 0) {
        // Like Alertmanager's repeat_interval, per person: once one open alert is due for a reminder, the
        // others nearly due come along, so reminders arrive together rather than one every few minutes.
        // Info alerts (a low battery, a silent collar, a cow overdue for heat) are told once; only warnings and
        // urgent ones repeat.
        const every = policy.repeatIntervalHours * HOUR_MS;
        const open = store.unacknowledged().filter((a) => a.severity !== 'info');
        for (const r of this.o.recipients) {
          const told = open.map((a) => ({ a, last: ns.lastToldAt(a.id, r.name) })).filter((x): x is { a: AlertRow; last: number } => x.last !== null);
          if (!told.some((x) => now - x.last >= every)) continue;
          // A reminder tells nothing new: it never wakes anyone (quiet hours hold it, even for an urgent
          // alert — escalation is what acts on an urgent one nobody answers) and it waits its turn in grouping.
          for (const { a, last } of told) {
            if (now - last < every * 0.75) continue;
            ns.add({ alertId: a.id, recipient: r.name, kind: 'reminder', dedup: `reminder:${last}`, urgent: false, payload: { alert: a }, notBefore: quietHoursEnd(r, now) ?? now }, now);
          }
        }
      }
      for (const r of this.o.recipients) {
        const dropped = ns.dropOverflow(r.name, policy.maxPendingPerRecipient);
        if (dropped) {
          this.stats.dropped += dropped;
          this.o.logger.warn({ recipient: r.name, dropped, kept: policy.maxPendingPerRecipient }, "person's queue is full: dropped the oldest non-urgent notifications (urgent ones are never dropped)");
        }
      }
      ns.pruneSeen(now - 30 * 24 * HOUR_MS);
    });
    if (queued) this.o.onFeedQueued?.();
    this.nudge();
  }

  /**
   * A database error leaves rows half-way (a message in flight); only a restart sorts that out (it resends
   * what was in flight), so it is the agent's to handle, as for ingest. A full disk is the exception: each
   * write was rolled back whole, so either nothing went out, or a message went out and stays in flight (sent
   * again at the next start: one duplicate, never a loss). The lane tries again later (the loop's error
   * delay) rather than the agent exiting into the same full disk.
   */
  private async guard(step: () => Promise<number | null>): Promise<number | null> {
    try {
      return await step();
    } catch (err) {
      if (err instanceof Database.SqliteError && err.code !== 'SQLITE_FULL') this.o.onFatal?.(err);
      throw err;
    }
  }

  backoffMs(attempts: number): number {
    const base = this.o.baseDelayMs ?? 5_000;
    const max = this.o.maxDelayMs ?? 15 * 60_000;
    return Math.round(Math.min(max, base * 2 ** Math.max(0, attempts - 1)) * (0.8 + 0.4 * this.random()));
  }

  /** Works on one person's queue; returns when to look again (null: when nudged). */
  private async step(r: Recipient): Promise<number | null> {
    const { store, policy, logger } = this.o;
    const ns = store.notify;
    const channel = this.channels.get(r.channel);
    if (!channel) return null;
    let now = this.clock();
    const state = ns.state(r.name);
    if (state.optedOut) {
      const pending = ns.pending(r.name);
      if (pending.length) store.transaction(() => ns.setStatus(pending.map((n) => n.id), 'skipped'));
      return null;
    }
    const pause = this.paused.get(r.channel);
    if (pause && pause.until > now) return pause.until - now;
    if (state.nextAttemptAt > now) return state.nextAttemptAt - now;

    let pending = ns.pending(r.name);
    if (!pending.length) return null;
    const expireBefore = now - policy.expireAfterHours * HOUR_MS;
    const expired = pending.filter((n) => !n.urgent && n.createdAt < expireBefore);
    if (expired.length) {
      store.transaction(() => ns.setStatus(expired.map((n) => n.id), 'expired'));
      this.stats.expired += expired.length;
      logger.warn({ recipient: r.name, expired: expired.length, olderThanHours: policy.expireAfterHours }, 'notifications expired unsent: no longer worth sending');
      pending = pending.filter((n) => !expired.includes(n));
    }
    const due = pending.filter((n) => n.notBefore <= now);
    if (!due.length) return pending.length ? Math.min(...pending.map((n) => n.notBefore)) - now : null;

    const { sendAt, capped } = this.sendTime(r, channel, due, state.lastSentAt, now);
    if (sendAt > now) return sendAt - now;

    const { content, carried, merged, skipped } = compose(due, (id) => store.alert(id), now, {
      stormMinCollars: policy.stormMinCollars,
      catchUpAfterMs: policy.catchUpAfterHours * HOUR_MS,
    });
    if (skipped.length) store.transaction(() => ns.setStatus(skipped, 'skipped'));
    if (isEmpty(content)) {
      if (merged.length) store.transaction(() => ns.setStatus(merged, 'merged'));
      return 0;
    }
    if (capped) content.overflow = { heldSince: Math.min(...due.map((n) => n.createdAt)) };
    const rendered = renderMessage(content, { language: r.language, timezone: r.timezone, farmName: this.o.farmName, nameFarm: !!this.o.nameFarm });
    const actions = [...content.items].some((i) => i.alert.state !== 'resolved' && i.kind !== 'resolved');
    const messageId = store.transaction(() => ns.startMessage({ recipient: r.name, channel: r.channel, urgent: content.urgent, text: rendered.text }, carried, merged, now));

    try {
      const res = await withDeadline(channel.timeoutMs, `${r.channel} send to ${r.name}`, (signal) =>
        channel.send(r, rendered, { messageId, actions, windowOpen: state.windowUntil > now }, signal),
      );
      now = this.clock();
      store.transaction(() => {
        ns.messageSent(messageId, res.providerId ?? null, now);
        ns.updateState(r.name, { lastSentAt: now, attempts: 0, nextAttemptAt: 0, lastError: null, ...(res.windowClosed && { windowUntil: 0 }) });
      });
      this.paused.delete(r.channel);
      const early = res.providerId ? this.orphanStatuses.get(res.providerId) : undefined;
      if (early) {
        this.orphanStatuses.delete(res.providerId!);
        this.handleInbound(early);
      }
      this.stats.messages++;
      this.stats.items += carried.length;
      logger.info({ recipient: r.name, channel: r.channel, messageId, items: carried.length, urgent: content.urgent }, 'message sent');
      return 0;
    } catch (err) {
      const e = asDeliveryError(err);
      now = this.clock();
      if (e.pauseChannel) {
        const until = now + (this.o.pauseMs ?? HOUR_MS);
        store.transaction(() => {
          ns.messageRetry(messageId, e.message);
          ns.updateState(r.name, { lastError: e.message });
        });
        if (!this.paused.has(r.channel)) {
          logger.error({ channel: r.channel, err: e.message, code: e.code, pausedUntil: new Date(until).toISOString() }, `${r.channel} refused our account or credentials: channel paused, messages wait; the technician must act`);
        }
        this.paused.set(r.channel, { until, reason: e.message });
        this.stats.retried++;
        return until - now;
      }
      if (!e.retryable) {
        store.transaction(() => {
          ns.messageFailed(messageId, e.message);
          ns.updateState(r.name, { lastError: e.message, attempts: 0 });
        });
        this.stats.failed++;
        const once = `${r.name}:${e.message}`;
        if (!this.toldOnce.has(once)) {
          this.toldOnce.add(once);
          logger.error({ recipient: r.name, channel: r.channel, messageId, err: e.message }, 'message refused for good; not retried (see the status page)');
        }
        return 0;
      }
      const attempts = state.attempts + 1;
      const delay = Math.max(e.retryAfterMs ?? 0, this.backoffMs(attempts));
      store.transaction(() => {
        ns.messageRetry(messageId, e.message);
        ns.updateState(r.name, { attempts, nextAttemptAt: now + delay, lastError: e.message });
      });
      this.stats.retried++;
      logger.warn({ recipient: r.name, channel: r.channel, attempt: attempts, retryInMs: delay, err: e.message }, 'message not delivered; will retry');
      return delay;
    }
  }

  /**
   * When the due notifications may go. Urgent: as soon as the pace allows. Otherwise Alertmanager's
   * rules: the first waits `groupWaitS` for company, a later message waits `groupIntervalMin` after the
   * last one, and the hourly and daily caps hold the rest back (it then goes as one digest).
   */
  private sendTime(r: Recipient, channel: ChatChannel, due: NotificationRow[], lastSentAt: number, now: number): { sendAt: number; capped: boolean } {
    const { policy } = this.o;
    const paceReady = lastSentAt + channel.paceMs;
    if (due.some((n) => n.urgent)) return { sendAt: Math.max(now, paceReady), capped: false };
    const groupReady = Math.min(...due.map((n) => Math.max(n.createdAt, n.notBefore))) + policy.groupWaitS * 1000;
    const intervalReady = lastSentAt ? lastSentAt + policy.groupIntervalMin * 60_000 : 0;
    const ready = Math.max(groupReady, intervalReady);
    const sent = this.o.store.notify.sentSince(r.name, Math.min(ready, now) - 24 * HOUR_MS);
    /** When the caps let a message go that is ready at `t`. */
    const capFree = (t: number) => {
      const day = sent.filter((x) => x > t - 24 * HOUR_MS && x <= t);
      const hour = day.filter((x) => x > t - HOUR_MS);
      let free = t;
      if (hour.length >= policy.maxPerHour) free = Math.max(free, hour[hour.length - policy.maxPerHour]! + HOUR_MS);
      if (day.length >= policy.maxPerDay) free = Math.max(free, day[day.length - policy.maxPerDay]! + 24 * HOUR_MS);
      return free;
    };
    // Held back by a cap: as of when it was ready, the hour's or the day's messages were used up.
    const capped = capFree(ready) > ready;
    const sendAt = Math.max(now, paceReady, ready, capFree(Math.max(now, ready)));
    // Caps, backoff or an outage can push a message into the night: quiet hours are judged when it goes.
    return { sendAt: quietHoursEnd(r, sendAt) ?? sendAt, capped };
  }

  /** A person pressed a button, replied, wrote STOP or START; or the service reported a delivery status. */
  handleInbound(e: InboundEvent): InboundOutcome {
    const { store, logger } = this.o;
    const ns = store.notify;
    const now = this.clock();
    return store.transaction((): InboundOutcome => {
      if (e.type === 'status') {
        const m = ns.messageByProviderId(e.providerId);
        if (!m) {
          // The status can overtake the answer to our own request: keep it a while and apply it once the send is committed.
          if (this.orphanStatuses.size >= 1000) this.orphanStatuses.delete(this.orphanStatuses.keys().next().value!);
          this.orphanStatuses.set(e.providerId, e);
          return { outcome: 'nothing-to-do' };
        }
        if (!ns.firstSeen(`${e.channel}:${e.id}`, now)) return { outcome: 'duplicate' };
        if (!ns.updateDelivery(m.id, e.status, e.error ?? null) || e.status !== 'failed') return { outcome: 'status' };
        if (e.error?.startsWith(`${WHATSAPP_WINDOW_CLOSED} `) && m.status === 'sent') {
          // Accepted, then refused because the 24-h window had closed: say it again, as a template this time.
          ns.updateState(m.recipient, { windowUntil: 0 });
          ns.requeueMessage(m.id, `${e.error}; sending again as a template`);
          queueMicrotask(() => this.lanes.get(m.recipient)?.nudge());
          return { outcome: 'status' };
        }
        logger.error({ recipient: m.recipient, messageId: m.id, err: e.error }, 'the chat service could not deliver a message it had accepted');
        return { outcome: 'status' };
      }
      // Seen ids are kept for 30 days; anything older than a week is a replay (Meta's signature has no timestamp).
      if (e.at < now - 7 * 24 * HOUR_MS) return { outcome: 'duplicate' };
      if (!ns.firstSeen(`${e.channel}:${e.id}`, now)) return { outcome: 'duplicate' };
      const r = this.o.recipients.find((x) => x.channel === e.channel && x.address === e.from);
      if (!r) {
        logger.warn({ channel: e.channel, from: redactAddress(e.from) }, 'message from someone who is not a recipient; ignored (add them to "recipients" to let them answer)');
        return { outcome: 'unknown-sender' };
      }
      // Any message from the person opens WhatsApp's 24-h window for free-form replies.
      ns.updateState(r.name, { windowUntil: Math.min(e.at, now) + 24 * HOUR_MS });
      let action: 'acknowledge' | 'snooze' | 'stop' | 'start' | 'calved' | null;
      let messageId: number | undefined;
      if (e.type === 'button') {
        const m = /^(ack|snooze):(\d+)$/.exec(e.data);
        action = m ? (m[1] === 'ack' ? 'acknowledge' : 'snooze') : null;
        messageId = m ? Number(m[2]) : undefined;
      } else {
        action = parseReply(e.text, r.language);
        messageId = (e.replyTo && ns.messageByProviderId(e.replyTo)?.id) || ns.latestSentTo(r.name)?.id;
      }
      if (action === 'stop' || action === 'start') {
        ns.updateState(r.name, { optedOut: action === 'stop' });
        logger.info({ recipient: r.name }, action === 'stop' ? 'recipient opted out (STOP)' : 'recipient opted back in (START)');
        return { outcome: action === 'stop' ? 'stopped' : 'started', reply: renderReceipt(action === 'stop' ? 'stopped' : 'started', [], r) };
      }
      // Someone who wrote STOP hears nothing about the herd until START.
      if (ns.state(r.name).optedOut) return { outcome: 'nothing-to-do', reply: renderReceipt('stopped', [], r) };
      if (!action) {
        // A template only carries a one-line summary; anything the person writes opens the window, and the
        // answer is the whole of their latest message, with how to reply.
        const latest = ns.latestSentTo(r.name);
        const help = renderReceipt('help', [], r);
        return { outcome: 'not-understood', reply: latest ? `${latest.text}\n\n${help}` : help };
      }
      const m = messageId === undefined ? undefined : ns.message(messageId);
      // A button carries our message id; only the person it was sent to may act on it.
      if (!m || m.recipient !== r.name) return { outcome: 'nothing-to-do', reply: renderReceipt('nothing', [], r) };
      if (action === 'calved') return this.calved(m.id, r, Math.min(e.at, now), now);
      const changed = this.setAck(ns.alertIdsOfMessage(m.id), action, r.name, now);
      if (!changed.length) return { outcome: 'nothing-to-do', reply: renderReceipt('nothing', [], r) };
      if (action === 'acknowledge') this.stats.acknowledged += changed.length;
      else this.stats.snoozed += changed.length;
      logger.info({ recipient: r.name, action, alerts: changed.map((a) => a.id) }, action === 'acknowledge' ? 'alerts acknowledged' : 'alerts snoozed');
      queueMicrotask(() => this.o.onFeedQueued?.());
      return { outcome: action === 'acknowledge' ? 'acknowledged' : 'snoozed', reply: renderReceipt(action === 'acknowledge' ? 'acknowledged' : 'snoozed', changed, r, this.o.policy.snoozeHours) };
    });
  }

  /**
   * "Calved" in answer to a message: its cows calved today. Noted in the herd register (so their dip in the
   * next days is the calving's, not an illness), and the message's alerts about them acknowledged.
   */
  private calved(messageId: number, r: Recipient, said: number, now: number): InboundOutcome {
    const { store, logger } = this.o;
    // About a cow, not her collar: a message about collars, or about several cows, cannot say which calved.
    const alerts = store.notify.alertIdsOfMessage(messageId).map((id) => store.alert(id))
      .filter((a): a is AlertRow => !!a && !COLLAR_TYPES.has(a.type));
    const cows = [...new Set(alerts.map((a) => a.cowId))];
    if (!this.o.onCalved || cows.length === 0) return { outcome: 'nothing-to-do', reply: renderReceipt('nothing', [], r) };
    if (cows.length > 1) return { outcome: 'nothing-to-do', reply: renderReceipt('calvedWhich', [], r) };
    // The day she was said to have calved: when the farmer wrote, not when a backlog of replies came in.
    const noted = new Set(this.o.onCalved(cows, said));
    if (!noted.size) return { outcome: 'nothing-to-do', reply: renderReceipt('calvedUnknown', [], r) };
    const ofNoted = alerts.filter((a) => noted.has(a.cowId));
    this.stats.acknowledged += this.setAck(ofNoted.map((a) => a.id), 'acknowledge', r.name, now).length;
    logger.info({ recipient: r.name, cows: [...noted] }, 'calving noted in the herd register from a reply');
    queueMicrotask(() => this.o.onFeedQueued?.());
    // One line per cow, not per alert.
    const perCow = [...new Map(ofNoted.map((a) => [a.cowId, a])).values()];
    return { outcome: 'calved', reply: renderReceipt('calved', perCow, r, undefined, this.o.calvingDays) };
  }

  /** Acknowledge from the status page or the API (the technician, the farmer at the PC). */
  acknowledge(alertIds: string[], by: string, action: 'acknowledge' | 'snooze' = 'acknowledge'): AlertRow[] {
    const { store } = this.o;
    const now = this.clock();
    const changed = store.transaction(() => this.setAck(alertIds, action, by, now));
    if (changed.length) this.o.onFeedQueued?.();
    return changed;
  }

  /**
   * Inside the caller's transaction: acknowledges or snoozes the alerts that are still open, publishes the
   * change on the feeds like every other, and drops the reminders and escalations it makes moot.
   */
  private setAck(alertIds: readonly string[], action: 'acknowledge' | 'snooze', by: string, now: number): AlertRow[] {
    const { store } = this.o;
    const changed =
      action === 'acknowledge'
        ? store.setAck(alertIds, { state: 'acknowledged', by }, now)
        : store.setAck(alertIds, { state: 'snoozed', by, until: now + this.o.policy.snoozeHours * HOUR_MS }, now);
    for (const a of changed) store.queueFeeds(a, `${a.state}:${now}`, this.o.feedsFor(a), now);
    store.notify.skipPendingFollowUps(changed.map((a) => a.id));
    return changed;
  }

  /** Sends a short answer to the person who just acted (best effort: the action itself is already committed). */
  async confirm(channelName: string, from: string, text: string): Promise<void> {
    const r = this.o.recipients.find((x) => x.channel === channelName && x.address === from);
    const channel = this.channels.get(channelName);
    if (!r || !channel?.confirm) return;
    // A paused channel (account restricted, spam limit) sends nothing, not even answers.
    if ((this.paused.get(channelName)?.until ?? 0) > this.clock()) return;
    try {
      await withDeadline(channel.timeoutMs, 'confirmation', (signal) => channel.confirm!(r, text, signal));
    } catch (err) {
      this.o.logger.warn({ recipient: r.name, err: (err as Error).message }, 'could not send the confirmation');
    }
  }

  status() {
    const ns = this.o.store.notify;
    const now = this.clock();
    return {
      recipients: this.o.recipients.map((r) => {
        const s = ns.state(r.name);
        return {
          name: r.name,
          channel: r.channel,
          language: r.language,
          pending: ns.pendingCount(r.name),
          optedOut: s.optedOut,
          windowOpen: s.windowUntil > now,
          lastSentAt: s.lastSentAt ? new Date(s.lastSentAt).toISOString() : null,
          retrying: s.attempts > 0,
          lastError: s.lastError,
        };
      }),
      paused: [...this.paused].filter(([, p]) => p.until > now).map(([channel, p]) => ({ channel, until: new Date(p.until).toISOString(), reason: p.reason })),
      stats: { ...this.stats },
    };
  }
}

/** Phone numbers are personal data: logs keep the last three digits. */
function redactAddress(a: string): string {
  return a.length > 4 ? `…${a.slice(-3)}` : '…';
}
