import { raise, resolve, type AlertEvent } from './alerts.js';
import { HOUR_MS } from './baseline.js';
import type { CowState } from './context.js';
import { iso, round } from './evidence.js';
import type { RuleSet } from './ruleset.js';

/** Any reading at all proves the collar is talking again. */
export function collarBack(s: CowState, ts: number): AlertEvent | null {
  if (!s.alerts.open.collar_offline) return null;
  return resolve(s.alerts, s.subject, 'collar_offline', {
    at: ts,
    evidence: { backAt: iso(ts), lastReadingAt: s.lastTs === null ? null : iso(s.lastTs) },
  });
}

/**
 * A collar that has said nothing for `afterHours`. Two clocks, never mixed: by event time, her newest
 * reading against the farm's watermark; by the wall clock, her last arrival against the clock (for a farm
 * gone silent as a whole, where event time stands still). Either way the alert is stamped in event time —
 * the moment her own readings went silent by the rule (her last reading + afterHours) — because the alert
 * book's cooldowns and resolves are event time; the wall-clock moment of judgement goes in the evidence.
 */
export function judgeSilence(
  s: CowState,
  /** Her newest reading, judged or still held for reordering. */
  lastTs: number | null,
  now: number,
  judgedBy: 'event_time' | 'wall_clock',
  cfg: RuleSet['collarOffline'],
): AlertEvent | null {
  if (lastTs === null || s.alerts.open.collar_offline) return null;
  const afterMs = cfg.afterHours * HOUR_MS;
  const silentMs = judgedBy === 'event_time' ? now - lastTs : s.lastArrival === null ? 0 : now - s.lastArrival;
  if (silentMs < afterMs) return null;
  // Stamped at the moment the rule was met, not when a scan happened to notice it: a scan's moment depends
  // on which reading moved the farm's clock, so the same readings in another order would stamp another time.
  const at = lastTs + afterMs;
  return raise(s.alerts, s.subject, 'collar_offline', {
    at,
    since: lastTs,
    severity: 'info',
    evidence: {
      lastReadingAt: iso(lastTs),
      silentHours: round((judgedBy === 'event_time' ? afterMs : silentMs) / HOUR_MS, 1),
      judgedBy,
      ...(judgedBy === 'wall_clock' && { judgedAtWallClock: iso(now), lastArrivalAt: iso(s.lastArrival!) }),
    },
    cooldownMs: cfg.cooldownHours * HOUR_MS,
  });
}
