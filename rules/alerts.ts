/**
 * The alert lifecycle: firing → resolved, at most one open alert per (cow, type), and a cooldown after a
 * resolve so a cow hovering on a threshold does not page the farmer every hour. All times are event time.
 */
export const ALERT_TYPES = ['heat', 'health', 'down_cow', 'collar_offline', 'collar_fault', 'battery_low', 'missed_heat'] as const;
export type AlertType = (typeof ALERT_TYPES)[number];
export type Severity = 'info' | 'warning' | 'urgent';
export type AlertState = 'firing' | 'resolved';

export type Evidence = Record<string, unknown>;

/** One state change of one alert; what the agent stores, publishes and turns into messages. */
export interface AlertEvent {
  id: string;
  farmId: string;
  cowId: string;
  collarId: string;
  type: AlertType;
  state: AlertState;
  severity: Severity;
  /** Event time of the reading (or the clock, for a silent collar) that raised or resolved it. */
  at: number;
  /** Estimated onset. */
  since: number;
  /** Event time it was raised (equals `at` while firing). */
  raisedAt: number;
  evidence: Evidence;
}

export interface OpenAlert {
  id: string;
  severity: Severity;
  raisedAt: number;
  since: number;
  evidence: Evidence;
}

export interface AlertBookState {
  open: Partial<Record<AlertType, OpenAlert>>;
  resolvedAt: Partial<Record<AlertType, number>>;
}

export function emptyAlertBook(): AlertBookState {
  return { open: {}, resolvedAt: {} };
}

export interface Subject {
  farmId: string;
  cowId: string;
  collarId: string;
}

/** Ids are derived, not random, so replaying the same readings yields the same alert ids. */
export function alertId(subject: Subject, type: AlertType, raisedAt: number): string {
  return `${type}:${subject.cowId}:${raisedAt.toString(36)}`;
}

export function raise(
  book: AlertBookState,
  subject: Subject,
  type: AlertType,
  p: { at: number; since: number; severity: Severity; evidence: Evidence; cooldownMs: number },
): AlertEvent | null {
  if (book.open[type]) return null;
  const lastResolved = book.resolvedAt[type];
  if (lastResolved !== undefined && p.at < lastResolved + p.cooldownMs) return null;
  const open: OpenAlert = {
    id: alertId(subject, type, p.at),
    severity: p.severity,
    raisedAt: p.at,
    since: Math.min(p.since, p.at),
    evidence: p.evidence,
  };
  book.open[type] = open;
  return { ...subject, type, state: 'firing', at: p.at, ...open };
}

export function resolve(
  book: AlertBookState,
  subject: Subject,
  type: AlertType,
  p: { at: number; evidence: Evidence },
): AlertEvent | null {
  const open = book.open[type];
  if (!open) return null;
  delete book.open[type];
  // A late reading can resolve "before" the raise in event time; the lifecycle still moves forward.
  const at = Math.max(p.at, open.raisedAt);
  book.resolvedAt[type] = at;
  return { ...subject, type, state: 'resolved', at, ...open, evidence: p.evidence };
}
