import type Database from 'better-sqlite3';
import type { AlertRow } from './store.js';

/**
 * The notifier's tables: what each person is still to be told (notifications), the messages put
 * together for them, each person's channel state, and inbound ids already acted on. Times are the agent's
 * clock (this is about people's phones, not cows' event time).
 */

export type NotificationKind = 'new' | 'resolved' | 'reminder' | 'escalation';
export type NotificationStatus = 'pending' | 'inflight' | 'sent' | 'failed' | 'merged' | 'skipped' | 'expired' | 'dropped';

export interface NewNotification {
  alertId: string;
  recipient: string;
  kind: NotificationKind;
  /** Keeps a reason to tell from being queued twice: "new", "resolved", "reminder:<n>", "escalation:<step>". */
  dedup: string;
  urgent: boolean;
  payload: NotificationPayload;
  notBefore: number;
}

export interface NotificationPayload {
  alert: AlertRow;
  escalation?: { notAckedBy: string[]; afterMinutes: number };
}

export interface NotificationRow {
  id: number;
  alertId: string;
  recipient: string;
  kind: NotificationKind;
  urgent: boolean;
  payload: NotificationPayload;
  notBefore: number;
  createdAt: number;
}

export interface RecipientState {
  optedOut: boolean;
  windowUntil: number;
  attempts: number;
  nextAttemptAt: number;
  lastSentAt: number;
  lastError: string | null;
}

export interface MessageRow {
  id: number;
  recipient: string;
  channel: string;
  status: 'inflight' | 'sent' | 'retry' | 'failed';
  urgent: boolean;
  items: number;
  text: string;
  providerId: string | null;
  delivery: string | null;
  lastError: string | null;
  createdAt: number;
  sentAt: number | null;
}

const DELIVERY_RANK: Record<string, number> = { sent: 1, delivered: 2, read: 3, failed: 4 };

export class NotifyStore {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      insert: db.prepare(`INSERT OR IGNORE INTO notifications (alert_id, recipient, kind, dedup, urgent, payload, not_before, created_at)
        VALUES (@alertId, @recipient, @kind, @dedup, @urgent, @payload, @notBefore, @now)`),
      told: db.prepare<[string, string], { n: number }>(`SELECT count(*) AS n FROM notifications
        WHERE alert_id = ? AND recipient = ? AND kind = 'new' AND status NOT IN ('skipped', 'expired', 'dropped')`),
      pending: db.prepare<[string, number], Record<string, unknown>>(`SELECT * FROM notifications WHERE recipient = ? AND status = 'pending' ORDER BY id LIMIT ?`),
      pendingCount: db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM notifications WHERE recipient = ? AND status = 'pending'`),
      setStatus: db.prepare(`UPDATE notifications SET status = ?, message_id = ? WHERE id = ?`),
      releaseMessage: db.prepare(`UPDATE notifications SET status = 'pending', message_id = NULL WHERE message_id = ? AND status = 'inflight'`),
      finishMessageItems: db.prepare(`UPDATE notifications SET status = ? WHERE message_id = ? AND status = 'inflight'`),
      insertMessage: db.prepare(`INSERT INTO messages (recipient, channel, status, urgent, items, text, created_at) VALUES (?, ?, 'inflight', ?, ?, ?, ?)`),
      messageSent: db.prepare(`UPDATE messages SET status = 'sent', provider_id = ?, delivery = 'accepted', sent_at = ?, last_error = NULL WHERE id = ?`),
      messageFailed: db.prepare(`UPDATE messages SET status = ?, last_error = ? WHERE id = ?`),
      inflightMessages: db.prepare<[], { id: number; recipient: string }>(`SELECT id, recipient FROM messages WHERE status = 'inflight'`),
      sentSince: db.prepare<[string, number], { sent_at: number }>(`SELECT sent_at FROM messages WHERE recipient = ? AND status = 'sent' AND sent_at >= ? ORDER BY sent_at`),
      state: db.prepare<[string], Record<string, number | string | null>>(`SELECT * FROM recipient_state WHERE recipient = ?`),
      ensureState: db.prepare(`INSERT OR IGNORE INTO recipient_state (recipient) VALUES (?)`),
      byProvider: db.prepare<[string], Record<string, unknown>>(`SELECT * FROM messages WHERE provider_id = ?`),
      message: db.prepare<[number], Record<string, unknown>>(`SELECT * FROM messages WHERE id = ?`),
      latestSentTo: db.prepare<[string], Record<string, unknown>>(`SELECT * FROM messages WHERE recipient = ? AND status = 'sent' ORDER BY sent_at DESC, id DESC LIMIT 1`),
      setDelivery: db.prepare(`UPDATE messages SET delivery = ?, last_error = coalesce(?, last_error) WHERE id = ?`),
      alertsOfMessage: db.prepare<[number], { alert_id: string }>(`SELECT alert_id FROM message_items WHERE message_id = ?`),
      addItem: db.prepare(`INSERT OR IGNORE INTO message_items (message_id, alert_id) SELECT ?, alert_id FROM notifications WHERE id = ?`),
      seen: db.prepare(`INSERT OR IGNORE INTO inbound_seen (id, received_at) VALUES (?, ?)`),
      pruneSeen: db.prepare(`DELETE FROM inbound_seen WHERE received_at < ?`),
      lastTold: db.prepare<[string, string], { t: number | null }>(`SELECT max(m.sent_at) AS t FROM notifications n JOIN messages m ON m.id = n.message_id
        WHERE n.alert_id = ? AND n.recipient = ? AND n.status = 'sent'`),
      skipFollowUps: db.prepare(`UPDATE notifications SET status = 'skipped' WHERE alert_id = ? AND status = 'pending' AND kind IN ('reminder', 'escalation')`),
      recentMessages: db.prepare<[number], Record<string, unknown>>(`SELECT * FROM messages ORDER BY id DESC LIMIT ?`),
      failedMessages: db.prepare<[number], Record<string, unknown>>(`SELECT * FROM messages WHERE status = 'failed' ORDER BY id DESC LIMIT ?`),
    };
  }

  /** Inside the caller's transaction. Returns false when this reason to tell was already queued. */
  add(n: NewNotification, now: number): boolean {
    return this.s.insert.run({ ...n, urgent: n.urgent ? 1 : 0, payload: JSON.stringify(n.payload), now }).changes > 0;
  }

  /** Was this person told (or about to be told) that the alert was raised? Only then is "back to normal" news. */
  wasTold(alertId: string, recipient: string): boolean {
    return (this.s.told.get(alertId, recipient)?.n ?? 0) > 0;
  }

  /** When this person was last sent a message about the alert (null: never). */
  lastToldAt(alertId: string, recipient: string): number | null {
    return this.s.lastTold.get(alertId, recipient)?.t ?? null;
  }

  /** Someone acted on these alerts: reminders and escalations still queued about them are moot. */
  skipPendingFollowUps(alertIds: readonly string[]): void {
    for (const id of alertIds) this.s.skipFollowUps.run(id);
  }

  pending(recipient: string, limit = 5000): NotificationRow[] {
    return this.s.pending.all(recipient, limit).map(toNotification);
  }

  pendingCount(recipient: string): number {
    return this.s.pendingCount.get(recipient)?.n ?? 0;
  }

  setStatus(ids: readonly number[], status: NotificationStatus, messageId: number | null = null): void {
    for (const id of ids) this.s.setStatus.run(status, messageId, id);
  }

  /** Claims the notifications for a message about to be sent: the row says "in flight" before the request goes out. */
  startMessage(m: { recipient: string; channel: string; urgent: boolean; text: string }, carried: readonly number[], merged: readonly number[], now: number): number {
    const id = Number(this.s.insertMessage.run(m.recipient, m.channel, m.urgent ? 1 : 0, carried.length + merged.length, m.text, now).lastInsertRowid);
    this.setStatus(carried, 'inflight', id);
    this.setStatus(merged, 'inflight', id);
    for (const n of [...carried, ...merged]) this.s.addItem.run(id, n);
    return id;
  }

  messageSent(id: number, providerId: string | null, now: number): void {
    this.s.messageSent.run(providerId, now, id);
    this.s.finishMessageItems.run('sent', id);
  }

  /** The request failed and will be tried again: the notifications go back to pending, to be regrouped. */
  messageRetry(id: number, error: string): void {
    this.s.messageFailed.run('retry', error.slice(0, 500), id);
    this.s.releaseMessage.run(id);
  }

  /** A message the service accepted and then failed to deliver, to be sent again (its notifications back to pending). */
  requeueMessage(id: number, error: string): void {
    this.s.messageFailed.run('retry', error.slice(0, 500), id);
    this.db.prepare(`UPDATE notifications SET status = 'pending', message_id = NULL WHERE message_id = ? AND status = 'sent'`).run(id);
  }

  messageFailed(id: number, error: string): void {
    this.s.messageFailed.run('failed', error.slice(0, 500), id);
    this.s.finishMessageItems.run('failed', id);
  }

  /** Pending notifications of people no longer configured will never go: skip them, and say for whom. */
  skipPendingExcept(recipients: readonly string[]): { recipient: string; n: number }[] {
    const list = JSON.stringify(recipients);
    const rows = this.db
      .prepare<[string], { recipient: string; n: number }>(`SELECT recipient, count(*) AS n FROM notifications
        WHERE status = 'pending' AND recipient NOT IN (SELECT value FROM json_each(?)) GROUP BY recipient`)
      .all(list);
    if (rows.length) {
      this.db.prepare(`UPDATE notifications SET status = 'skipped' WHERE status = 'pending' AND recipient NOT IN (SELECT value FROM json_each(?))`).run(list);
    }
    return rows;
  }

  /** After a crash: messages whose request may or may not have reached the service. Sent again: at most one duplicate each. */
  reclaimInflight(): { id: number; recipient: string }[] {
    const rows = this.s.inflightMessages.all();
    for (const r of rows) this.messageRetry(r.id, 'the agent stopped while sending; sending again');
    return rows;
  }

  sentSince(recipient: string, since: number): number[] {
    return this.s.sentSince.all(recipient, since).map((r) => r.sent_at);
  }

  state(recipient: string): RecipientState {
    const r = this.s.state.get(recipient);
    if (!r) return { optedOut: false, windowUntil: 0, attempts: 0, nextAttemptAt: 0, lastSentAt: 0, lastError: null };
    return {
      optedOut: r.opted_out === 1,
      windowUntil: r.window_until as number,
      attempts: r.attempts as number,
      nextAttemptAt: r.next_attempt_at as number,
      lastSentAt: r.last_sent_at as number,
      lastError: r.last_error as string | null,
    };
  }

  updateState(recipient: string, patch: Partial<RecipientState>): void {
    this.s.ensureState.run(recipient);
    const columns: Record<keyof RecipientState, string> = {
      optedOut: 'opted_out', windowUntil: 'window_until', attempts: 'attempts', nextAttemptAt: 'next_attempt_at', lastSentAt: 'last_sent_at', lastError: 'last_error',
    };
    const keys = Object.keys(patch) as (keyof RecipientState)[];
    if (!keys.length) return;
    const values = keys.map((k) => (typeof patch[k] === 'boolean' ? (patch[k] ? 1 : 0) : patch[k]));
    this.db.prepare(`UPDATE recipient_state SET ${keys.map((k) => `${columns[k]} = ?`).join(', ')} WHERE recipient = ?`).run(...values, recipient);
  }

  messageByProviderId(providerId: string): MessageRow | undefined {
    const r = this.s.byProvider.get(providerId);
    return r && toMessage(r);
  }

  message(id: number): MessageRow | undefined {
    const r = this.s.message.get(id);
    return r && toMessage(r);
  }

  latestSentTo(recipient: string): MessageRow | undefined {
    const r = this.s.latestSentTo.get(recipient);
    return r && toMessage(r);
  }

  /** Delivery statuses arrive twice and out of order: only a later stage is kept (sent < delivered < read; failed is final). */
  updateDelivery(id: number, status: string, error: string | null): boolean {
    const m = this.message(id);
    if (!m) return false;
    if ((DELIVERY_RANK[status] ?? 0) <= (DELIVERY_RANK[m.delivery ?? ''] ?? 0)) return false;
    this.s.setDelivery.run(status, error, id);
    return true;
  }

  alertIdsOfMessage(id: number): string[] {
    return this.s.alertsOfMessage.all(id).map((r) => r.alert_id);
  }

  /** True the first time an inbound id is seen. */
  firstSeen(id: string, now: number): boolean {
    return this.s.seen.run(id, now).changes > 0;
  }

  pruneSeen(before: number): void {
    this.s.pruneSeen.run(before);
  }

  recentMessages(limit: number): MessageRow[] {
    return this.s.recentMessages.all(limit).map(toMessage);
  }

  failedMessages(limit: number): MessageRow[] {
    return this.s.failedMessages.all(limit).map(toMessage);
  }

  counts(): Record<string, number> {
    const rows = this.db.prepare<[], { status: string; n: number }>(`SELECT status, count(*) AS n FROM notifications GROUP BY status`).all();
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /** Oldest non-urgent pending rows of a person beyond `keep`: dropped when the queue is full. */
  dropOverflow(recipient: string, keep: number): number {
    const excess = this.pendingCount(recipient) - keep;
    if (excess <= 0) return 0;
    return this.db
      .prepare(`UPDATE notifications SET status = 'dropped' WHERE id IN (
        SELECT id FROM notifications WHERE recipient = ? AND status = 'pending' AND urgent = 0 ORDER BY id LIMIT ?)`)
      .run(recipient, excess).changes;
  }
}

function toNotification(r: Record<string, unknown>): NotificationRow {
  return {
    id: r.id as number,
    alertId: r.alert_id as string,
    recipient: r.recipient as string,
    kind: r.kind as NotificationKind,
    urgent: r.urgent === 1,
    payload: JSON.parse(r.payload as string) as NotificationPayload,
    notBefore: r.not_before as number,
    createdAt: r.created_at as number,
  };
}

function toMessage(r: Record<string, unknown>): MessageRow {
  return {
    id: r.id as number,
    recipient: r.recipient as string,
    channel: r.channel as string,
    status: r.status as MessageRow['status'],
    urgent: r.urgent === 1,
    items: r.items as number,
    text: r.text as string,
    providerId: r.provider_id as string | null,
    delivery: r.delivery as string | null,
    lastError: r.last_error as string | null,
    createdAt: r.created_at as number,
    sentAt: r.sent_at as number | null,
  };
}
