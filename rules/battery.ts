import { raise, resolve } from './alerts.js';
import { HOUR_MS } from './baseline.js';
import type { Push, RuleContext } from './context.js';
import type { Reading } from './reading.js';

/** A battery running low: raised below `belowPct`, resolved only at `resolveAbovePct` (a level wobbles). */
export function judgeBattery(ctx: RuleContext, r: Reading, push: Push): void {
  const cfg = ctx.rules.batteryLow;
  const pct = r.batteryPct!;
  const { alerts, subject } = ctx.state;
  // Nearly every reading carries a level, and nearly every one is unremarkable: nothing made for those.
  if (pct < cfg.belowPct) {
    if (alerts.open.battery_low) return;
    push(raise(alerts, subject, 'battery_low', { at: r.ts, since: r.ts, severity: 'info', evidence: evidenceOf(pct, cfg.belowPct), cooldownMs: cfg.cooldownHours * HOUR_MS }));
  } else if (pct >= cfg.resolveAbovePct && alerts.open.battery_low) {
    push(resolve(alerts, subject, 'battery_low', { at: r.ts, evidence: evidenceOf(pct, cfg.belowPct) }));
  }
}

const evidenceOf = (pct: number, belowPct: number) => ({ metric: 'batteryPct', value: pct, threshold: belowPct });
