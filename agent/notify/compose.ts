import { HOUR_MS } from '../../rules/index.js';
import type { NotificationRow } from '../store/notify-store.js';
import type { AlertRow } from '../store/store.js';
import type { CollarStorm, MessageContent, MessageItem, Recipient } from './message.js';

/**
 * Decides what one message to one person says, from everything due for them. Pure: the notifier passes
 * the clock and each alert's current state, so the same queue always gives the same message.
 *
 * - An alert that is already over when its message can finally go (the link was down, the person was in
 *   quiet hours) is told once, in the past tense, in a catch-up block — not as a fresh alarm followed by
 *   "back to normal".
 * - A heat whose insemination window has passed is catch-up too: nothing left to act on.
 * - Reminders and escalations about an alert someone has since acknowledged or snoozed are dropped.
 * - Many collars silent (or back) together become one paragraph about the cause.
 */

export interface ComposePolicy {
  stormMinCollars: number;
  catchUpAfterMs: number;
}

export interface Composition {
  content: MessageContent;
  /** Notifications this message tells about. */
  carried: number[];
  /** Notifications folded into another line of the same message (a "back to normal" inside a catch-up line). */
  merged: number[];
  /** Notifications no longer worth telling (a reminder about an alert acknowledged since). */
  skipped: number[];
}

/** Past the end of the usual insemination window (12–18 h after onset), a heat is history. */
const HEAT_ACTIONABLE_MS = 18 * HOUR_MS;
const KIND_ORDER = { new: 0, escalation: 1, reminder: 2, resolved: 3 } as const;

export function compose(due: readonly NotificationRow[], current: (alertId: string) => AlertRow | undefined, now: number, policy: ComposePolicy): Composition {
  const carried: number[] = [];
  const merged: number[] = [];
  const skipped: number[] = [];
  const fresh: { item: MessageItem; urgent: boolean; id: number }[] = [];
  const catchUp: { item: MessageItem; id: number }[] = [];

  const byAlert = new Map<string, NotificationRow[]>();
  for (const n of due) {
    const list = byAlert.get(n.alertId);
    if (list) list.push(n);
    else byAlert.set(n.alertId, [n]);
  }

  for (const [alertId, rows] of byAlert) {
    const now_ = current(alertId) ?? rows[rows.length - 1]!.payload.alert;
    const open = now_.state !== 'resolved';
    const acked = now_.state === 'acknowledged' || now_.state === 'snoozed';
    // Reminders and escalations are only worth sending while someone still has to act; the other rows
    // (the raise, the "back to normal") are news either way.
    const moot = rows.filter((r) => (r.kind === 'reminder' || r.kind === 'escalation') && (!open || acked));
    skipped.push(...moot.map((r) => r.id));
    const live = rows.filter((r) => !moot.includes(r));
    if (!live.length) continue;
    live.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.id - b.id);
    const lead = live[0]!;
    const rest = live.slice(1).map((r) => r.id);
    const waitingSince = Math.max(lead.createdAt, lead.notBefore);

    if (lead.kind === 'resolved') {
      const item: MessageItem = { alert: now_, kind: 'resolved' };
      if (now - waitingSince > policy.catchUpAfterMs) catchUp.push({ item, id: lead.id });
      else fresh.push({ item, urgent: false, id: lead.id });
      merged.push(...rest);
      continue;
    }
    const stale = !open || (now_.type === 'heat' && now_.since + HEAT_ACTIONABLE_MS < now);
    if (stale) {
      // "Cow 12 was in heat from … to …": the raise and the resolve in one past-tense line.
      catchUp.push({ item: { alert: now_, kind: 'new' }, id: lead.id });
      merged.push(...rest);
      continue;
    }
    const alert = { ...lead.payload.alert, state: now_.state, ...(now_.ack && { ack: now_.ack }) };
    fresh.push({
      item: { alert, kind: lead.kind, ...(lead.payload.escalation && { escalation: lead.payload.escalation }) },
      urgent: lead.urgent,
      id: lead.id,
    });
    merged.push(...rest);
  }

  const storms: CollarStorm[] = [];
  for (const [kind, itemKind] of [['offline', 'new'], ['online', 'resolved']] as const) {
    const members = fresh.filter((f) => f.item.alert.type === 'collar_offline' && f.item.kind === itemKind);
    if (members.length < policy.stormMinCollars) continue;
    storms.push({
      kind,
      collars: members.map((m) => m.item.alert.collarId).sort(),
      from: Math.min(...members.map((m) => (kind === 'offline' ? m.item.alert.since : m.item.alert.at))),
    });
    for (const m of members) {
      carried.push(m.id);
      fresh.splice(fresh.indexOf(m), 1);
    }
  }

  fresh.sort((a, b) => Number(b.urgent) - Number(a.urgent) || a.id - b.id);
  catchUp.sort((a, b) => a.id - b.id);
  carried.push(...fresh.map((f) => f.id), ...catchUp.map((c) => c.id));
  const content: MessageContent = {
    items: fresh.map((f) => f.item),
    catchUp: catchUp.map((c) => c.item),
    storms,
    urgent: fresh.some((f) => f.urgent),
  };
  return { content, carried, merged, skipped };
}

export function isEmpty(c: MessageContent): boolean {
  return c.items.length === 0 && c.catchUp.length === 0 && c.storms.length === 0;
}

/** Minutes since local midnight in a time zone. */
function localMinutes(ms: number, timezone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(ms);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * When the person's quiet hours end, if `now` falls inside them; else null. Quiet hours may wrap midnight
 * ("21:30"–"05:30"). Computed to the minute in their time zone; on a daylight-saving night the end can be
 * off by the hour the clock moves.
 */
export function quietHoursEnd(r: Pick<Recipient, 'quietHours' | 'timezone'>, now: number): number | null {
  if (!r.quietHours) return null;
  const start = minutesOf(r.quietHours.start);
  const end = minutesOf(r.quietHours.end);
  if (start === end) return null;
  const t = localMinutes(now, r.timezone);
  const inside = start < end ? t >= start && t < end : t >= start || t < end;
  if (!inside) return null;
  const minutesLeft = (end - t + 1440) % 1440;
  return Math.floor(now / 60_000) * 60_000 + minutesLeft * 60_000;
}
