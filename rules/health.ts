import { raise, resolve, type Severity } from './alerts.js';
import { HOUR_MS } from './baseline.js';
import type { Push, RuleContext } from './context.js';
import { windowEvidence } from './evidence.js';
import type { WindowStats } from './normal.js';

/** Unwell: activity and rumination down against her normal (see README.md, "Unwell"). */
export function judgeHealth(ctx: RuleContext, end: number, push: Push): void {
  const cfg = ctx.rules.health;
  const judged: WindowStats[] = [];
  for (const m of ['act', 'rum'] as const) {
    const w = ctx.normal.window(m, cfg.windowHours, end);
    if (w && w.coverage >= cfg.minCoverage) judged.push(w);
  }
  if (judged.length === 0) return;
  const at = end * HOUR_MS;
  const { alerts, subject } = ctx.state;
  if (!alerts.open.health) {
    const maxRatio = (w: WindowStats) => (w.metric === 'act' ? cfg.activityMaxRatio : cfg.ruminationMaxRatio);
    let low = judged.filter((w) => w.z <= cfg.maxZ && w.ratio <= maxRatio(w));
    // Two signals agreeing find a milder drop: activity and rumination both down together for a day (an
    // illness ramping in), each beyond two of her own spreads, which one signal alone is too noisy to show.
    if (low.length === 0 && judged.length === 2 && judged.every((w) => w.ratio <= cfg.bothMaxRatio && w.z <= cfg.bothMaxZ)) low = [...judged];
    if (low.length === 0) return;
    low.sort((a, b) => a.ratio - b.ratio);
    const primary = low[0]!;
    // Urgent when she is far down, or when activity and rumination are both down. The second metric's window
    // lags the first by hours as a drop begins, so it counts as down while it is below the resolve line (the
    // same line that says she is well again), without its own firing tests.
    const bothDown = judged.length > 1 && judged.every((w) => w.ratio < cfg.resolveRatio);
    const severity: Severity = bothDown || primary.ratio <= cfg.urgentRatio ? 'urgent' : 'warning';
    const evidence = windowEvidence(primary);
    const other = judged.find((w) => w !== primary);
    if (other) evidence.also = windowEvidence(other);
    const since = ctx.normal.onset(primary.metric, end, (r) => r <= cfg.resolveRatio, 2 * cfg.windowHours) * HOUR_MS;
    push(raise(alerts, subject, 'health', { at, since, severity, evidence, cooldownMs: cfg.cooldownHours * HOUR_MS }));
  } else if (judged.every((w) => w.ratio >= cfg.resolveRatio)) {
    const evidence = windowEvidence(judged[0]!);
    if (judged[1]) evidence.also = windowEvidence(judged[1]);
    push(resolve(alerts, subject, 'health', { at, evidence }));
  }
}
