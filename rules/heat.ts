import { raise, resolve } from './alerts.js';
import { DAY_MS, HOUR_MS } from './baseline.js';
import type { HerdView, Push, RuleContext } from './context.js';
import { daysAfter, iso, round, windowEvidence } from './evidence.js';
import type { WindowOptions, WindowStats } from './normal.js';
import { dueToCalve } from './rise.js';

/** The hours before an early word that must all be known: after a gap her onset cannot be placed. */
const EARLY_KNOWN_HOURS = 6;
/** How long after an insemination a heat is told with it (two cycles and a half: a late return is news too). */
const INSEMINATION_NEWS_DAYS = 60;
/** How long after a calving a heat is told with it: days in milk while she is to be served again. */
const CALVING_NEWS_DAYS = 150;

/**
 * Heat: a sustained rise of activity over the last completed hours against her normal for those hours (see
 * README.md, "Heat"). `end` is the hour number the window ends at; `at` of a raise or resolve is the end of
 * the window that shows it (event time of the data), not the time of whichever reading completed it.
 * `intervalS`: how often her collar reports (the reading being judged). `mode`: 'live' for her newest
 * window; 'backfill' for a window in the past, filled in by a backlog: it may show a heat, but not that one
 * is over; 'recheck' for a live window held back until the herd had told its hours (see below), and
 * 'backfill-recheck' for a backfilled one.
 */
export function judgeHeat(ctx: RuleContext, end: number, push: Push, intervalS: number, mode: 'live' | 'backfill' | 'recheck' | 'backfill-recheck' = 'live'): void {
  const cfg = ctx.rules.heat;
  const { alerts, subject } = ctx.state;
  const raiseOnly = mode === 'backfill' || mode === 'backfill-recheck';
  // A window still held for the herd when her next one is judged gets its verdict first, on what the herd has
  // told by then. Dropped unjudged, as it was, a herd whose hours are told slowly — every collar hourly, their
  // clocks minutes apart, so half the herd tells an hour only with its next reading — had each window held
  // in turn and none judged: an all-hourly herd lost half its heats. (Asked first: `delete` is a call into
  // the runtime even when there is nothing to delete.)
  if (mode === 'live' && ctx.state.heatRecheck) {
    const held = ctx.state.heatRecheck;
    delete ctx.state.heatRecheck;
    if (held.end < end) judgeHeat(ctx, held.end, push, held.intervalS, 'recheck');
  }
  const open = alerts.open.heat;
  if (open) {
    if (raiseOnly) return;
    const w = heatWindow(ctx, cfg.windowHours, end, cfg.hotRatio);
    // Over when she is back under 1.3x the level she held before it (1: her normal), each hour capped at 3x
    // that level: capped at 3x her out-of-date normal, a heat over a level of 2.3 or more would read as over.
    const level = typeof open.evidence.level === 'number' ? open.evidence.level : 1;
    const v = level > 1 ? overLevel(ctx, cfg.windowHours, end, level) : w;
    if (w && v && v.ratio < cfg.resolveRatio * level) push(resolve(alerts, subject, 'heat', { at: w.to, evidence: windowEvidence(w) }));
    return;
  }
  let w = windowHeat(ctx, end, cfg.windowHours, cfg.minHotHours);
  // A cow whose hours are steady is told from fewer of them. Real cows lie down at no fixed hour, and an hour
  // up where she usually lies reads twice or three times its normal: on herds that noisy (the scorecard's
  // --real-noise herds), a window of six hours alone, five of them hot, found 237 of 300 heats with 47 false
  // ones (two herds of 100 cows, 60 days); nine hours alone, six of them hot, 241 with 10.
  const steady = cfg.steady;
  if (!w && steady.windowHours > 0) {
    const short = windowHeat(ctx, end, steady.windowHours, steady.minHotHours);
    if (short && short.spread <= steady.maxSpread && steadyCow(ctx, end)) w = short;
  }
  // The early word: the first few hours of a heat, every one of them well up (a heat is 2-4x her normal from
  // its first hours). Said hours before a window fills, so the insemination window is not half gone. Only
  // for a cow whose same hours differ little from day to day (earlyWord): on a cow whose hours wander, three
  // hours up are as often an ordinary day. A farm may turn on a 2-hour word where the collar tells
  // rumination and it is down (a cow in heat ruminates a fifth less, Reith & Hoy 2012); off by default, as
  // any busy spell leaves less time to chew: on the noisy herds it raised more false heats than true ones.
  // Without rumination, 2 busy hours are too common on real cows (three leg-tagged cows: 6 heats in 4.5
  // cow-months with 3 hours then, 8-10 with 2).
  // Only with the hours before it known: after a gap (a backlog still to come) her onset cannot be placed
  // yet, and the insemination advice would be as late as the gap is long.
  const early = cfg.early;
  // Its hours hold at least `minReadings` readings at the rate her collar reports (that of the reading
  // judged): one or two long readings are one or two draws of noise, not the first hours of a heat (on the
  // scorecard, 2-hour words on collars reporting every 1-2 hours raised most of the false early words). So
  // an hourly collar has the 3-hour word, not the 2-hour one.
  const earlyOk = intervalS <= early.maxIntervalMinutes * 60;
  const rumHours = earlyOk && enoughReadings(ctx, early.withRumination.hours, intervalS) && ctx.history.covered('rum', end - 1) > 0 ? early.withRumination.hours : 0;
  if (!w && earlyOk && (rumHours || enoughReadings(ctx, early.hours, intervalS)) && everyHourKnown(ctx, end, EARLY_KNOWN_HOURS)) {
    const wr = early.withRumination;
    if (rumHours && rumHours < early.hours) {
      const e = earlyWord(ctx, end, intervalS, rumHours, wr.hotRatio, wr.minRatio);
      if (e && ruminationDown(ctx, rumHours, end)) w = e;
    }
    w ??= earlyWord(ctx, end, intervalS, early.hours, early.hotRatio, early.minRatio);
  }
  // A collar reporting every 2 hours (SCR-like exports give 2-hour activity) has no early word above and
  // waited for the full window, which a short heat does not fill: real leg-tag cows' minutes summed into
  // 2-hour readings missed a 4-hour burst at 3x. Its own word: two readings, each 2x, together 2.5x. Where it
  // tells rumination, that is down too: two wild readings in a row (a knock each) do not chew less. Not held
  // to a steady cow: each reading is two hours already, and on the noisy herds it raised no false heat.
  const sparse = early.sparse;
  if (!w && !earlyOk && sparse.hours > 0 && intervalS <= sparse.maxIntervalMinutes * 60 && everyHourKnown(ctx, end, EARLY_KNOWN_HOURS)) {
    const e = earlyWord(ctx, end, intervalS, sparse.hours, sparse.hotRatio, sparse.minRatio, sparse.minReadings, false);
    // Whether her collar tells rumination is what she has told on past days, not whether these readings
    // did: two wild readings without it would otherwise pass for a heat.
    if (e && (!(ctx.normal.hourNormal('rum', end - 1) > 0) || ruminationDown(ctx, sparse.hours, end))) w = e;
  }
  if (w) raiseHeat(ctx, w, end, push, intervalS, mode);
}

/**
 * The heat window `w` found ending at `end`: raised, unless it falls in the cooldown after her last heat, is
 * no rise over the level she has held, or waits for the herd. (A function of its own, as are the window
 * helpers below: judgeHeat runs for every hour of every cow, and a closure in it made a context each time.)
 */
function raiseHeat(ctx: RuleContext, w: WindowStats, end: number, push: Push, intervalS: number, mode: 'live' | 'backfill' | 'recheck' | 'backfill-recheck'): void {
  const cfg = ctx.rules.heat;
  const herd = ctx.herd;
  const { alerts, subject } = ctx.state;
  // In the cooldown after her last heat nothing is raised: spare the work of telling whether it would be.
  const lastResolved = alerts.resolvedAt.heat;
  if (lastResolved !== undefined && w.to < lastResolved + cfg.cooldownHours * HOUR_MS) return;
  // A cow the herd register has due to calve is at the end of a pregnancy, which stops her cycles: what
  // looks like a heat in these weeks is the restlessness of her calving coming (health.ts reads it so), and
  // "inseminate her" would be the wrong advice to a farmer watching her calve.
  if (dueToCalve(ctx, end)) return;
  // A heat is a rise out of the level she has been holding (see levelOf): over a level that is up, the window
  // must be a heat over that level too, each hour capped at 3x that level (capped at 3x the out-of-date
  // normal, a true heat on top of the new level would read no higher than her return does).
  const level = levelOf(ctx, w.from);
  if (level > 1) {
    const over = overLevel(ctx, (w.to - w.from) / HOUR_MS, end, level);
    if (!over || over.ratio / level < cfg.minRatio) return;
  }
  // Whether her hours were the herd's is told by the herd's count of them; a cow whose hour completes among
  // the first few of the herd's would be judged on those few (on the scorecard, two cows of 200 raised a heat
  // at a milking moved an hour, told by 5 and 2 cows). So a heat waits until most of the herd has told the
  // hours (the same event time: the rest of the herd's readings of that hour arriving), half an hour at most.
  // So does a heat in a backlog: when the whole herd was not heard (a gateway down), its hours come as the
  // herd's backlogs do, and a spell of the whole herd judged on the first few backlogs would be a heat for
  // each cow whose backlog came first.
  if ((mode === 'live' || mode === 'backfill') && herd && !settledAll(herd, w.from / HOUR_MS, end)) {
    if (mode === 'live') ctx.state.heatRecheck = { end, intervalS };
    else {
      // A window added to the hold starts its wait afresh (heldAt unset): it is as new to the herd as the first.
      const held = ctx.state.heatBackfill;
      ctx.state.heatBackfill = held ? { from: Math.min(held.from, end), to: Math.max(held.to, end), intervalS: held.intervalS } : { from: end, to: end, intervalS };
    }
    return;
  }
  const since = ctx.normal.onset('act', end, (r) => r >= cfg.resolveRatio * level, 3 * cfg.windowHours) * HOUR_MS;
  const evidence = windowEvidence(w);
  if (level > 1) evidence.level = round(level);
  const last = ctx.state.lastHeat;
  // Days since her last heat: 18-24 is a cycle; much shorter or longer is worth a second look.
  if (last !== null && last < since) Object.assign(evidence, { lastHeatSince: iso(last), daysSinceLastHeat: round((since - last) / DAY_MS, 1) });
  // Days since calving, as a heat report gives them: whether she is past the farm's waiting period before
  // inseminating is for the farmer to say.
  const { calvedAt, inseminatedAt } = ctx.state.record ?? {};
  // From 3 days on: within 3 days of a register date, this is the heat she was inseminated at, or her
  // calving's restlessness, entered before the alert came.
  const inMilk = daysAfter(calvedAt, since, 3, CALVING_NEWS_DAYS);
  if (inMilk !== null) Object.assign(evidence, { calvedOn: iso(calvedAt!), daysSinceCalving: inMilk });
  // Inseminated in the weeks before: a heat now says whether she conceived, and a cow in calf can show heat
  // too (a few in a hundred), where inseminating again may cost the pregnancy.
  const sinceService = daysAfter(inseminatedAt, since, 3, INSEMINATION_NEWS_DAYS);
  if (sinceService !== null) Object.assign(evidence, { inseminatedOn: iso(inseminatedAt!), daysSinceInsemination: sinceService });
  const raised = raise(alerts, subject, 'heat', { at: w.to, since, severity: 'warning', evidence, cooldownMs: cfg.cooldownHours * HOUR_MS });
  if (raised) {
    ctx.state.lastHeat = raised.since;
    delete ctx.state.missedCycleTold;
    const open = alerts.open.missed_heat;
    if (open) push(resolve(alerts, subject, 'missed_heat', { at: w.to, evidence: { ...open.evidence, heatSince: iso(since) } }));
  }
  push(raised);
}

/**
 * A missed cycle: a cow seen in heat, and no heat since for longer than a cycle runs (18-24 days). She may be
 * pregnant, or had a heat nobody saw (a silent heat, a short one at night), or stopped cycling (a cyst,
 * illness, poor condition): worth watching and, if she was not inseminated, a vet check. Said once per heat,
 * in event time; resolved by her next heat.
 */
export function judgeMissedCycle(ctx: RuleContext, end: number, push: Push): void {
  const cfg = ctx.rules.heat.missedCycle;
  const s = ctx.state;
  // A heat held back for the herd (heatRecheck, heatBackfill) may be the very one that comes on time.
  if (cfg.afterDays <= 0 || s.lastHeat === null || s.missedCycleTold || s.heatRecheck || s.heatBackfill) return;
  const at = end * HOUR_MS;
  if (at - s.lastHeat < cfg.afterDays * DAY_MS || s.alerts.open.heat) return;
  s.missedCycleTold = true;
  // Inseminated at that heat (the register keeps the day: the day before its onset counts, for a heat that
  // began in the evening) and no heat since: presumed in calf, which is what the farmer hoped for. A calving
  // since that heat starts her cycles afresh. Neither is a cycle missed.
  const { inseminatedAt, calvedAt } = s.record ?? {};
  // Dates still to come (a calving expected, typed in ahead) say nothing yet.
  if ((inseminatedAt !== undefined && inseminatedAt >= s.lastHeat - DAY_MS && inseminatedAt <= at) || (calvedAt !== undefined && calvedAt > s.lastHeat && calvedAt <= at)) return;
  push(raise(s.alerts, s.subject, 'missed_heat', {
    at,
    since: s.lastHeat,
    severity: 'info',
    evidence: {
      lastHeatSince: iso(s.lastHeat),
      daysSinceLastHeat: round((at - s.lastHeat) / DAY_MS, 1),
      expectedFrom: iso(s.lastHeat + 18 * DAY_MS),
      expectedTo: iso(s.lastHeat + 24 * DAY_MS),
    },
    cooldownMs: 0,
  }));
}

/** The options of the heat windows, filled in for each (judging is synchronous): made once, not for each hour of each cow. */
const heatWindowOptions: WindowOptions = { capRatio: 0, hotRatio: 0, busyHotRatio: 0, floorShare: 0, herd: undefined };

/** Her activity over the `hours` before `end`, each hour capped, its hot hours counted (busier in the herd's busy hours); null if too little of it is known. */
function heatWindow(ctx: RuleContext, hours: number, end: number, hotRatio: number): WindowStats | null {
  const cfg = ctx.rules.heat;
  const o = heatWindowOptions;
  o.capRatio = cfg.hourCapRatio;
  o.hotRatio = hotRatio;
  o.busyHotRatio = cfg.busyHourHotRatio;
  o.herd = ctx.herd ?? undefined;
  o.floorShare = cfg.floorShare;
  const w = ctx.normal.window('act', hours, end, o);
  o.herd = undefined;
  return w && w.coverage >= cfg.minCoverage ? w : null;
}

/** Whether her rumination over the `hours` before `end` is known and down to the early word's line (a cow in heat chews less). */
function ruminationDown(ctx: RuleContext, hours: number, end: number): boolean {
  const rum = ctx.normal.window('rum', hours, end);
  return !!rum && rum.coverage >= ctx.rules.heat.minCoverage && rum.ratio <= ctx.rules.heat.early.withRumination.maxRuminationRatio;
}

/** Whether `hours` of her collar's readings hold at least the early word's `minReadings`. */
function enoughReadings(ctx: RuleContext, hours: number, intervalS: number, minReadings = ctx.rules.heat.early.minReadings): boolean {
  return hours > 0 && hours * 3600 >= minReadings * intervalS;
}

/**
 * The `hours`-hour window before `end` where at least `minHotHours` of its hours are hot, it is `minRatio`
 * times her normal and `minZ` spreads over it; null otherwise. Most hours of most cows have too few hours
 * hot to be worth the window.
 */
function windowHeat(ctx: RuleContext, end: number, hours: number, minHotHours: number): WindowStats | null {
  const cfg = ctx.rules.heat;
  if (!enoughHotHours(ctx, end, hours, cfg.hotRatio, minHotHours)) return null;
  const w = heatWindow(ctx, hours, end, cfg.hotRatio);
  return w && w.ratio >= cfg.minRatio && w.z >= cfg.minZ && w.hotHours >= minHotHours ? w : null;
}

/**
 * The early word over the `hours` before `end`: every hour of them hot, none the herd's busy hour, and, for
 * a word held to a steady cow (`steady`), the window's spread over her past days at most `heat.steady.maxSpread`
 * of her normal for it and her hours steady (steadyCow). (The three real leg-tag cows' 3-hour windows differ
 * by 15-60 %, 30 % at the median; the steady simulated cows' by 15 %.)
 */
function earlyWord(ctx: RuleContext, end: number, intervalS: number, hours: number, hotRatio: number, minRatio: number, minReadings?: number, steady = true): WindowStats | null {
  // Each of its hours mostly covered and hot (cheap, and most hours fail it): one wild reading spread
  // thin over the edge of an hour is not an hour.
  if (!enoughReadings(ctx, hours, intervalS, minReadings) || !enoughHotHours(ctx, end, hours, hotRatio, hours, 0.75 * 3600)) return null;
  const e = heatWindow(ctx, hours, end, hotRatio);
  const herd = ctx.herd;
  // A few hours are as easily a herd's as hers (feed pushed up late, a pasture move, a milking moved): no
  // early word in a herd's busy hour.
  if (!e || e.ratio < minRatio || e.z < ctx.rules.heat.early.minZ || e.hotHours < hours || (herd && busyAny(herd, end, hours))) return null;
  return !steady || (e.spread <= ctx.rules.heat.steady.maxSpread && steadyCow(ctx, end)) ? e : null;
}

/** The window's activity against her normal, each hour counted up to 3x (hourCapRatio) `level` times it. */
function overLevel(ctx: RuleContext, hours: number, end: number, level: number): WindowStats | null {
  const cfg = ctx.rules.heat;
  const w = ctx.normal.window('act', hours, end, { capRatio: cfg.hourCapRatio * level, floorShare: cfg.floorShare });
  return w && w.coverage >= cfg.minCoverage ? w : null;
}

/**
 * The level she has been holding before a window that starts at `from` (ms), as a multiple of her normal: 1
 * unless three hours in four of the day before were at `stepUpRatio` times her normal or more. Then her
 * normal is out of date, not her: she is back from weeks of lameness or illness that her past 14 days still
 * remember, or moved to a livelier group. The day before a heat's first hours is an ordinary day: on six of
 * the scorecard's herds this level was at most 1.23 before every true heat alert; on nine, 1.31-1.70 before
 * fifteen of its eighteen false ones, every one a cow getting over two weeks of lameness.
 */
function levelOf(ctx: RuleContext, from: number): number {
  const stepUp = ctx.rules.heat.stepUpRatio;
  if (stepUp <= 0) return 1;
  const level = ctx.normal.levelBefore('act', from / HOUR_MS, 24, 0.25);
  return level >= stepUp ? level : 1;
}

/**
 * Whether her hours are steady enough for a short window or an early word to say a heat: on the simulator's
 * steady cows they differ from day to day by 9-14 % of their normal (Normals.hourSpread), on its cows as noisy as real
 * ones and the three IceTag cows by 50-110 %; a window's own spread, from 10-14 past days, read steady on
 * such cows one time in ten, and most of the false heats left on the noisy herds came so. Unknown (a cow
 * in her first five days, until four past days hold her hours): not steady. Most cows are not, and a new
 * collar's normal is two to four days of her hours: on the noisy herds, the short windows and early words
 * of collars in their first week raised about as many false heats as true ones, the first a farmer sees of
 * a new install.
 */
function steadyCow(ctx: RuleContext, end: number): boolean {
  return ctx.normal.hourSpread(end - 1) <= ctx.rules.heat.steady.maxHourSpread;
}

/**
 * Whether at least `need` of the `hours` before `end` are at `hotRatio` times their normal: an upper bound of
 * the hours a window counts hot (it floors the normal, and asks more in the herd's busy hours). Newest hour
 * first, and given up once too many have failed: most hours of most cows are nowhere near a heat.
 */
function enoughHotHours(ctx: RuleContext, end: number, hours: number, hotRatio: number, need: number, minCoverS = 1): boolean {
  let missed = hours - need;
  if (missed < 0) return false;
  for (let t = end - 1; t >= end - hours; t--) {
    const rate = ctx.history.rate('act', t, minCoverS);
    if (!(rate === rate && rate >= hotRatio * ctx.normal.hourNormal('act', t)) && --missed < 0) return false;
  }
  return true;
}

/** Whether the herd has told every hour in [first, end) (Herd.settled). */
export function settledAll(herd: HerdView, first: number, end: number): boolean {
  for (let t = first; t < end; t++) if (!herd.settled(t)) return false;
  return true;
}

function busyAny(herd: HerdView, end: number, hours: number): boolean {
  for (let t = end - hours; t < end; t++) if (herd.busyHour(t)) return true;
  return false;
}

function everyHourKnown(ctx: RuleContext, end: number, hours: number): boolean {
  for (let t = end - hours; t < end; t++) if (ctx.history.covered('act', t) === 0) return false;
  return true;
}

