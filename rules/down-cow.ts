import { raise, resolve } from './alerts.js';
import { HOUR_MS } from './baseline.js';
import type { Push, RuleContext } from './context.js';
import { iso, round } from './evidence.js';
import { isFlat } from './collar-fault.js';

/**
 * A cow down: almost no movement for hours she is normally up and about, and (where reported) hardly
 * ruminating (see README.md, "A cow down"). Hours she usually sleeps through count only by rumination
 * stopping, and a signal that is exactly constant is left to the collar-fault rule: a broken sensor is not
 * a cow down.
 */
export function judgeDown(ctx: RuleContext, end: number, push: Push): void {
  const cfg = ctx.rules.downCow;
  const { history: h, normal } = ctx;
  const { alerts, subject, run } = ctx.state;
  const last = end - 1;
  const minCover = cfg.minCoverage * 3600;
  if (alerts.open.down_cow) {
    const norm = normal.hourNormal('act', last);
    const rate = h.rate('act', last, minCover);
    if (rate === rate && norm > 0 && rate >= cfg.resolveRatio * norm) {
      push(resolve(alerts, subject, 'down_cow', { at: end * HOUR_MS, evidence: { metric: 'activity', ratio: round(rate / norm) } }));
    }
    return;
  }
  // Rumination tells a resting cow (ruminating) from a cow down; without it, only longer stillness counts.
  const hasRumination = h.covered('rum', last) > 0;
  const hours = hasRumination ? cfg.hours : cfg.hoursWithoutRumination;
  const first = end - hours;
  // A constant signal is judged as a collar: not while it covers the window, nor while an all-zero run
  // covers the newest hour (a flat line starting: a cow down still moves and ruminates a little). One
  // reading is not a constant signal, however long it is (a collar reporting every two hours).
  if (run && ((run.n >= 2 && run.from <= first * HOUR_MS) || (isFlat(run) && run.from <= last * HOUR_MS))) return;
  // Newest hour first, each hour's normal only as needed: almost every hour fails at once, cheaply.
  // An hour counts as down in either of two ways. In hours she is normally up and about: hardly moving,
  // and (where reported) hardly ruminating. In hours she normally rests: rumination nearly stopped — a
  // resting cow ruminates most of the time she lies — and no more movement than half her usual rest.
  let worst = 0;
  let dayMean: number | null | undefined;
  const restHour = (norm: number) => {
    if (dayMean === undefined) dayMean = normal.stretchNormal('act', end - 24, last)?.median ?? null;
    return dayMean !== null && norm < cfg.activeShare * dayMean;
  };
  let activeOnlyRest = false;
  for (let t = last; t >= first; t--) {
    const rate = h.rate('act', t, minCover);
    if (rate !== rate) return;
    const norm = normal.hourNormal('act', t);
    if (norm <= 0) return;
    let rum = NaN;
    let rumNormal = 0;
    if (hasRumination) {
      rum = h.rate('rum', t, minCover);
      rumNormal = normal.hourNormal('rum', t);
    }
    const rumKnown = rum === rum && rumNormal > 0;
    const resting = rumKnown && rum <= cfg.restRuminationRatio * rumNormal && rate <= cfg.restActivityRatio * norm && restHour(norm);
    // Hardly moving, and hardly ruminating — or not moving at all: a cow lying down to ruminate still moves
    // her head and jaw, which a collar counts; an injured cow down may ruminate a little and lie stock-still.
    const still =
      rate <= cfg.maxActivityRatio * norm &&
      (!rumKnown || rum <= cfg.maxRuminationRatio * rumNormal || (rate <= cfg.stillActivityRatio * norm && rum <= cfg.stillRuminationRatio * rumNormal));
    if (!resting && !still) return;
    // Stillness alone counts only in hours she is normally up and about: lying through her usual night is
    // no sign of trouble.
    if (!resting && (restHour(norm) || dayMean === null)) activeOnlyRest = true;
    worst = Math.max(worst, rate / norm);
  }
  if (activeOnlyRest) return;
  const since = normal.onset('act', first, (r) => r <= cfg.maxActivityRatio, 12) * HOUR_MS;
  push(raise(alerts, subject, 'down_cow', {
    at: end * HOUR_MS,
    since,
    severity: 'urgent',
    evidence: { metric: 'activity', ratio: round(worst), ruminationKnown: hasRumination, window: { from: iso(first * HOUR_MS), to: iso(end * HOUR_MS), hours } },
    cooldownMs: cfg.cooldownHours * HOUR_MS,
  }));
}
