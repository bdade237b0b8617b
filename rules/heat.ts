import { raise, resolve } from './alerts.js';
import { DAY_MS, HOUR_MS } from './baseline.js';
import type { Push, RuleContext } from './context.js';
import { iso, round, windowEvidence } from './evidence.js';

/**
 * Heat: a sustained rise of activity over the last completed hours against her normal for those hours (see
 * README.md, "Heat"). `end` is the hour number the window ends at; `at` of a raise or resolve is the end of
 * the window that shows it (event time of the data), not the time of whichever reading completed it.
 */
export function judgeHeat(ctx: RuleContext, end: number, push: Push): void {
  const cfg = ctx.rules.heat;
  const herd = ctx.herd;
  // Most hours of most cows are nowhere near a heat: with too few hours at `hotRatio` times their own
  // normal (an upper bound of the hours the window counts hot), nothing can fire; skip the window.
  if (!ctx.state.alerts.open.heat && hotHoursAtMost(ctx, end) < cfg.minHotHours) return;
  const w = ctx.normal.window('act', cfg.windowHours, end, {
    capRatio: cfg.hourCapRatio,
    hotRatio: cfg.hotRatio,
    busyHotRatio: cfg.busyHourHotRatio,
    ...(herd && { busyHour: (t: number) => herd.busyHour(t) }),
    floorShare: cfg.floorShare,
  });
  if (!w || w.coverage < cfg.minCoverage) return;
  const at = w.to;
  const { alerts, subject } = ctx.state;
  if (!alerts.open.heat) {
    if (w.ratio >= cfg.minRatio && w.z >= cfg.minZ && w.hotHours >= cfg.minHotHours) {
      const since = ctx.normal.onset('act', end, (r) => r >= cfg.resolveRatio, 3 * cfg.windowHours) * HOUR_MS;
      const evidence = windowEvidence(w);
      const last = ctx.state.lastHeat;
      // Days since her last heat: 18-24 is a cycle; much shorter or longer is worth a second look.
      if (last !== null && last < since) Object.assign(evidence, { lastHeatSince: iso(last), daysSinceLastHeat: round((since - last) / DAY_MS, 1) });
      const raised = raise(alerts, subject, 'heat', { at, since, severity: 'warning', evidence, cooldownMs: cfg.cooldownHours * HOUR_MS });
      if (raised) ctx.state.lastHeat = raised.since;
      push(raised);
    }
  } else if (w.ratio < cfg.resolveRatio) {
    push(resolve(alerts, subject, 'heat', { at, evidence: windowEvidence(w) }));
  }
}

function hotHoursAtMost(ctx: RuleContext, end: number): number {
  const { hotRatio, windowHours } = ctx.rules.heat;
  let hot = 0;
  for (let t = end - windowHours; t < end; t++) {
    const rate = ctx.history.rate('act', t);
    if (rate === rate && rate >= hotRatio * ctx.normal.hourNormal('act', t)) hot++;
  }
  return hot;
}
