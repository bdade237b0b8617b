import { raise, resolve } from './alerts.js';
import { HOUR_MS } from './baseline.js';
import type { Push, RuleContext, SignalRun } from './context.js';
import { iso, round } from './evidence.js';
import type { Reading } from './reading.js';

/** Exactly zero on everything the collar reports. */
export const isFlat = (run: SignalRun) => run.act === 0 && (run.rum ?? 0) === 0;

/**
 * A stuck collar repeats one non-zero reading; a flat one reads exactly zero on everything it reports.
 * Neither happens on a live cow for hours (even asleep she moves her head), so either is the collar.
 * Judged on newest readings only, in event time; it resolves as soon as the signal varies again.
 */
export function judgeSignal(ctx: RuleContext, r: Reading, push: Push): void {
  const cfg = ctx.rules.collarFault;
  const s = ctx.state;
  const rum = r.rumination ?? null;
  const run = s.run;
  // No movement is what a lying cow's leg or neck tag reads: where the tag reports her lying, zeros are
  // explained and do not count towards a flat line.
  const lyingAll = r.lying !== undefined && r.lying >= 0.9 * (r.intervalS / 60);
  if (lyingAll && r.activity === 0) {
    s.run = null;
    return;
  }
  // Only a different value ends a run: a gap in delivery (a backlog still to come) does not mend a sensor.
  if (run && run.act === r.activity && run.rum === rum) {
    run.last = r.ts;
    run.coveredS += r.intervalS;
    run.n = (run.n ?? 1) + 1;
  } else {
    const open = s.alerts.open.collar_fault;
    if (open && run) s.faultSpan = { from: open.since, to: r.ts - r.intervalS * 1000, act: run.act, rum: run.rum };
    // A live cow's every reading starts a run: the one she has is reused, not a new object per reading.
    if (run) {
      run.act = r.activity;
      run.rum = rum;
      run.from = r.ts - r.intervalS * 1000;
      run.last = r.ts;
      run.coveredS = r.intervalS;
      run.n = 1;
    } else s.run = { act: r.activity, rum, from: r.ts - r.intervalS * 1000, last: r.ts, coveredS: r.intervalS, n: 1 };
    if (open) push(resolve(s.alerts, s.subject, 'collar_fault', { at: r.ts, evidence: { metric: 'activity', value: r.activity, backAt: iso(r.ts) } }));
    return;
  }
  const flat = isFlat(run);
  const hours = (run.coveredS * 1000) / HOUR_MS;
  if (s.alerts.open.collar_fault || hours < (flat ? cfg.flatHours : cfg.stuckHours)) return;
  // The hours the fault has covered so far held no true data: drop them from her history, so a stuck or
  // flat stretch cannot later read as a sick cow or drag her baseline.
  ctx.history.clear(Math.floor(run.from / HOUR_MS), Math.floor((run.last - 1) / HOUR_MS));
  // Her trend has taken in some of those hours too: it starts again when the collar reads true. So does a
  // spell of stillness the flat line began (the down rule holds back from a flat run, not from a spell
  // that outlives it): kept, it was a cow down, urgent, at the first true reading after the fault.
  delete s.trend;
  if (s.down) delete s.down;
  push(raise(s.alerts, s.subject, 'collar_fault', {
    at: r.ts,
    since: run.from,
    severity: 'warning',
    evidence: { kind: flat ? 'flat' : 'stuck', metric: 'activity', value: run.act, ...(run.rum !== null && { rumination: run.rum }), hours: round(hours, 1) },
    cooldownMs: cfg.cooldownHours * HOUR_MS,
  }));
}

/**
 * A collar sending values no cow can make (a counter that wrapped, a broken accelerometer), several readings
 * in a row: a collar fault. One such reading is kept out of her history and nothing more; `impossibleInRow`
 * of them say the collar. Resolved by the first plausible reading, or after a day of them by taking the
 * new scale as hers (`rescaled`: a different collar; cow.ts starts her normal afresh). Newest readings only.
 */
export function judgeImpossible(ctx: RuleContext, r: Reading, impossible: boolean, push: Push, rescaled = false): void {
  const s = ctx.state;
  const cfg = ctx.rules.collarFault;
  if (!impossible) {
    if (s.impossible) {
      delete s.impossible;
      if (s.alerts.open.collar_fault?.evidence.kind === 'impossible') {
        push(resolve(s.alerts, s.subject, 'collar_fault', { at: r.ts, evidence: { kind: 'impossible', metric: 'activity', value: r.activity, backAt: iso(r.ts), ...(rescaled && { rescaled: true }) } }));
      }
    }
    return;
  }
  const run = (s.impossible ??= { n: 0, from: r.ts - r.intervalS * 1000 });
  run.n++;
  if (run.n < cfg.impossibleInRow || s.alerts.open.collar_fault) return;
  push(raise(s.alerts, s.subject, 'collar_fault', {
    at: r.ts,
    since: run.from,
    severity: 'warning',
    evidence: { kind: 'impossible', metric: 'activity', value: r.activity, readings: run.n },
    cooldownMs: cfg.cooldownHours * HOUR_MS,
  }));
}
