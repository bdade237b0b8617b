import { raise, resolve, type Evidence, type Severity } from './alerts.js';
import { DAY_MS, HERD_HOUR_S, HOUR_MS } from './baseline.js';
import { suspectRun, wholeRun } from './collar-fault.js';
import type { Push, RuleContext } from './context.js';
import { daysAfter, iso, round, UNITS, windowEvidence } from './evidence.js';
import type { Metric } from './history.js';
import { newWindowStats, type WindowStats } from './normal.js';
import type { RuleSet } from './ruleset.js';
import { dueToCalve } from './rise.js';
import { BOTH_STREAK, CLIP_HIGH, decay, OWN_RISE, QUICK_STREAK, RISE, RISE_CHECKED, STREAK_HOUR, trendRatio, trendWeights, type Horizon, type Trend } from './trend.js';

/**
 * Unwell: activity and rumination down against her normal (see README.md, "Unwell"). Two kinds of evidence:
 *
 * - the last 24 completed hours against the same hours of her previous days: a deep drop of one signal, or a
 *   clear drop of both;
 * - her weighted trend (trend.ts) over three horizons, which sees an illness setting in — rumination and
 *   activity sliding together over a day — before a whole day has gone bad, and a lameness that takes her
 *   walking down for a day and a half while she ruminates as ever. Its thresholds widen with how much her
 *   own days differ (a restless cow must fall further), and a drop the herd shares (a heat-stress day, a
 *   feed change) is taken out first.
 */
export function judgeHealth(ctx: RuleContext, end: number, push: Push): void {
  const cfg = ctx.rules.health;
  const act = dayWindow(ctx, 'act', end);
  const rum = dayWindow(ctx, 'rum', end);
  if (!act && !rum) return;
  const at = end * HOUR_MS;
  const { alerts, subject } = ctx.state;
  // A cow down (or just up again) has had her own, urgent alert: one trouble, one alert.
  const downUntil = alerts.resolvedAt.down_cow;
  if (!alerts.open.health && (alerts.open.down_cow || (downUntil !== undefined && at - downUntil <= cfg.trend.afterRiseHours * HOUR_MS))) {
    breakStreaks(ctx.state.trend);
    return;
  }
  // A signal repeating as no live cow's does is likely her collar's (told stuck a few readings on): neither
  // a word that she is unwell nor that she is well again rests on it meanwhile. A judged hour whose paths
  // are not asked, as for a stuck collar (trendAlert): her streaks start again.
  if (suspectRun(ctx.state, ctx.rules.collarFault.stuckHours)) {
    breakStreaks(ctx.state.trend);
    return;
  }
  if (alerts.open.health) {
    breakStreaks(ctx.state.trend);
    // Well again when both 24-hour windows are back above the resolve line and her trend has turned.
    const trendUp = !(trendDrop(ctx, 'act', 0) < 1 - cfg.trend.resolveDrop) && !(trendDrop(ctx, 'rum', 0) < 1 - cfg.trend.resolveDrop);
    if ((!act || act.ratio >= cfg.resolveRatio) && (!rum || rum.ratio >= cfg.resolveRatio) && trendUp) {
      const evidence = windowEvidence((act ?? rum)!);
      if (act && rum) evidence.also = windowEvidence(rum);
      push(resolve(alerts, subject, 'health', { at, evidence }));
    }
    return;
  }
  // Walking down while she chews as usual, on a collar that tells lying: her deeper line (a real cow's quiet
  // day, lain through; a lame cow lies longer for days, and her last three days call her). Without lying,
  // nothing else would call her at 50-60 %, and the 60 % line holds.
  const actLow =
    act !== null && act.z <= cfg.maxZ && act.ratio <= cfg.activityMaxRatio &&
    !(act.ratio > cfg.activityAloneMaxRatio && rum !== null && rum.ratio >= cfg.resolveRatio && !Number.isNaN(lyingUp(ctx, end)));
  const rumLow = rum !== null && rum.z <= cfg.maxZ && rum.ratio <= cfg.ruminationMaxRatio;
  // The deeper of the windows down (activity's on a tie).
  let primary = actLow && rumLow ? (rum!.ratio < act!.ratio ? rum : act) : actLow ? act : rumLow ? rum : null;
  // Two signals agreeing find a milder drop: activity and rumination both down together for a day, beyond
  // two of her own spreads on average, which one signal alone is too noisy to show. Weighed together, not
  // each held to the line: an illness takes one further than the other, and on cows whose days wander as
  // real cows' do the lagging one sat at 1.3-2 spreads while the other was past 2, for a day or more.
  // Each is held to the line, as before, in the two days after a heat the farmer was told of, and while
  // the register has her due to calve: a heat's aftermath and a calving coming take both down a little (on
  // the noisy herds, two cows the day or two after a heat, and one calving before the register had it,
  // were called). Not after any rise of her trend: a cow whose hours wander rises so most days (rise.ts),
  // and held so, the two were weighed together on half the illnesses they were called sooner on.
  if (
    !primary && act && rum && !afterCalving(ctx, end) && act.ratio <= cfg.bothMaxRatio && rum.ratio <= cfg.bothMaxRatio &&
    act.z + rum.z <= 2 * cfg.bothMaxZ && act.z <= cfg.bothEachMaxZ && rum.z <= cfg.bothEachMaxZ &&
    ((act.z <= cfg.bothMaxZ && rum.z <= cfg.bothMaxZ) || !(heatSince(ctx, at - cfg.trend.afterRiseHours * HOUR_MS) || dueToCalve(ctx, end)))
  ) {
    primary = rum.ratio < act.ratio ? rum : act;
  }
  if (primary) {
    // Urgent when she is far down, or when activity and rumination are both down. The second metric's window
    // lags the first by hours as a drop begins, so it counts as down while it is below the resolve line (the
    // same line that says she is well again), without its own firing tests.
    const bothDown = act !== null && rum !== null && act.ratio < cfg.resolveRatio && rum.ratio < cfg.resolveRatio;
    const severity: Severity = bothDown || primary.ratio <= cfg.urgentRatio ? 'urgent' : 'warning';
    const evidence = windowEvidence(primary);
    const other = primary === act ? rum : act;
    if (other) evidence.also = windowEvidence(other);
    raiseHealth(ctx, end, push, evidence, severity, primary.metric);
    return;
  }
  const days = afterCalving(ctx, end) ? null : daysDown(ctx, end, act, rum);
  if (days) {
    raiseHealth(ctx, end, push, days.evidence, 'warning', days.metric);
    return;
  }
  const trend = trendAlert(ctx, end, act, rum);
  if (trend) raiseHealth(ctx, end, push, trend.evidence, trend.severity, trend.primaryMetric);
}

/** The day windows judgeHealth reads, filled in place (judging is synchronous; the evidence copies what it keeps). */
const dayAct = newWindowStats('act');
const dayRum = newWindowStats('rum');

/**
 * Her last 24 hours of one signal against the same hours of her previous days, if enough of them is known
 * and her normal is warmed up. (judgeHealth runs for every hour of every cow: it and these helpers make no
 * closure or array on the way, only the windows.)
 */
function dayWindow(ctx: RuleContext, m: Metric, end: number): WindowStats | null {
  const cfg = ctx.rules.health;
  const w = ctx.normal.window(m, cfg.windowHours, end, undefined, m === 'act' ? dayAct : dayRum);
  return w && w.coverage >= cfg.minCoverage && w.comparedDays >= cfg.warmupDays ? w : null;
}

/** The stretches daysDown reads, filled in place. */
const daysStats = newWindowStats('act');
const daysOther = newWindowStats('rum');

/**
 * Days down (`health.sustained`): a signal down over her last three days, the last of them too, against the
 * same stretches of her previous days. On a cow whose hours wander as real cows' do, her trend strays by a
 * fifth or more on ordinary days, and its lines, two or three of those spreads down, sat below a lame cow
 * walking at half her normal for a week: she was never called. Over three days her wander averages out, and
 * a lame cow lies longer (the second witness). Asked only when her last 24 hours are down that far.
 */
function daysDown(ctx: RuleContext, end: number, act: WindowStats | null, rum: WindowStats | null): { evidence: Evidence; metric: Metric } | null {
  const cfg = ctx.rules.health;
  const s = cfg.sustained;
  for (let i = 0; i < 2; i++) {
    const day = i === 0 ? act : rum;
    if (!day) continue;
    const m = day.metric;
    if (!(day.ratio <= (m === 'act' ? Math.max(s.activityMaxRatio, s.aloneMaxRatio) : s.ruminationMaxRatio))) continue;
    const w = ctx.normal.window(m, s.hours, end, undefined, daysStats);
    if (!w || w.coverage < cfg.minCoverage || w.comparedDays < cfg.warmupDays) continue;
    const past = ctx.normal.stretchNormal(m, end - s.hours, end - 1);
    if (!past || !(past.median > 0)) continue;
    const share = ctx.herd ? ctx.herd.herdRatio(m, end - s.hours, end - 1, (t) => ctx.normal.hourNormal(m, t)) : 1;
    const ratio = w.ratio / Math.max(cfg.trend.herdFloor, Math.min(1, share));
    const lying = m === 'act' ? lyingUp(ctx, end) : NaN;
    // Activity needs the lying witness where the collar tells lying, and a deeper drop where it does not.
    const line = m === 'rum' ? s.ruminationMaxRatio : lying !== lying ? s.aloneMaxRatio : lying >= 1 + s.lyingRise ? s.activityMaxRatio : 0;
    if (!(ratio <= line && day.ratio <= line && ratio <= 1 - s.spreads * Math.max(past.rawSpread / past.median, s.minSpread))) continue;
    const evidence: Evidence = { ...windowEvidence(w), path: 'days' };
    if (lying === lying) evidence.lying = lyingEvidence(cfg, end, lying);
    // The other signal over the same three days: the message tells both over one window.
    const other = ctx.normal.window(m === 'act' ? 'rum' : 'act', s.hours, end, undefined, daysOther);
    if (other) evidence.also = windowEvidence(other);
    return { evidence, metric: m };
  }
  return null;
}

/** Her last 24 hours' lying against its normal (lyingUp), as the alert states it. */
function lyingEvidence(cfg: RuleSet['health'], end: number, ratio: number): Evidence {
  return {
    metric: 'lying',
    unit: UNITS.lie,
    ratio: round(ratio),
    window: { from: iso((end - cfg.windowHours) * HOUR_MS), to: iso(end * HOUR_MS), hours: cfg.windowHours },
  };
}

function raiseHealth(ctx: RuleContext, end: number, push: Push, evidence: Evidence, severity: Severity, primaryMetric: Metric): void {
  const cfg = ctx.rules.health;
  const { alerts, subject } = ctx.state;
  const since = ctx.normal.onset(primaryMetric, end, (r) => r <= cfg.resolveRatio, 2 * cfg.windowHours) * HOUR_MS;
  registerNews(ctx, end, evidence);
  push(raise(alerts, subject, 'health', { at: end * HOUR_MS, since, severity, evidence, cooldownMs: cfg.cooldownHours * HOUR_MS }));
}

/** How long after a calving an unwell cow's days in milk are told: her lactation's first five months. */
const DAYS_IN_MILK_NEWS = 150;

/**
 * What the herd register says of her that the farmer and the vet read an unwell cow by. Due to calve: both
 * signals down in these days are most often her calving, which the register learns only when it is entered
 * (the message asks the farmer to answer "calved", which holds the dip from then on). Days in milk: most
 * illnesses of a dairy cow come in the weeks after calving, each in its own (metritis in the first ten
 * days, ketosis in the first three weeks), and a vet asks for them first — from her first whole day on (on
 * the day itself the farmer knows, and "0 days" says nothing).
 */
function registerNews(ctx: RuleContext, end: number, evidence: Evidence): void {
  const { calvedAt, inseminatedAt } = ctx.state.record ?? {};
  const at = end * HOUR_MS;
  if (inseminatedAt !== undefined && dueToCalve(ctx, end)) {
    Object.assign(evidence, { dueToCalve: true, inseminatedOn: iso(inseminatedAt), daysSinceInsemination: Math.floor((at - inseminatedAt) / DAY_MS) });
    return;
  }
  const inMilk = daysAfter(calvedAt, at, 1, DAYS_IN_MILK_NEWS);
  if (inMilk !== null) Object.assign(evidence, { calvedOn: iso(calvedAt!), daysSinceCalving: inMilk });
}

/**
 * On the day of a calving the herd register knows of and the `afterCalvingDays` after it (the register
 * keeps the day, not the hour: an evening calving is held as long after it as the days allow): a dip of
 * both signals is the calving's. Only the deep drop of one signal (a whole day at 60-65 % of normal or
 * less) is judged then.
 */
function afterCalving(ctx: RuleContext, end: number): boolean {
  const calved = ctx.state.record?.calvedAt;
  const at = end * HOUR_MS;
  return calved !== undefined && at >= calved && at - calved <= (1 + ctx.rules.health.trend.afterCalvingDays) * DAY_MS;
}

/** Whether her heat alert is open, or was resolved at `from` (ms) or later. */
function heatSince(ctx: RuleContext, from: number): boolean {
  const { open, resolvedAt } = ctx.state.alerts;
  return !!open.heat || (resolvedAt.heat ?? -Infinity) >= from;
}

const halfLifeOf = (cfg: RuleSet['health'], horizon: Horizon) =>
  horizon === 0 ? cfg.fastHalfLifeHours : horizon === 1 ? cfg.slowHalfLifeHours : cfg.quickHalfLifeHours;

/** Her trend over a horizon (0 fast, 1 slow, 2 quick) as a ratio to normal; NaN when not known. */
function trendDrop(ctx: RuleContext, metric: Metric, horizon: Horizon): number {
  const cfg = ctx.rules.health;
  const trend = ctx.state.trend;
  if (!trend) return NaN;
  // The quick horizon waits for as many hours as the fast one: a trend that starts afresh (after a calving's
  // hold, or two days unheard) is not read on its first few hours.
  const raw = trendRatio(trend, metric === 'act' ? 0 : 1, horizon, 2 * Math.max(halfLifeOf(cfg, horizon), cfg.fastHalfLifeHours));
  return raw === raw ? raw / ctx.normal.dayLevel(metric, ctx.history.newest! + 1) : raw;
}

/**
 * The herd's typical cow against her normal over the span a trend of `halfLife` remembers (four half-lives
 * hold 94 % of its weight), its hours weighed as that trend weighs hers — by her normal for each and how
 * long ago it was; 1 where the herd cannot tell. Taken all alike, a milking moved two hours (the herd down in
 * her busiest hours, up in quiet ones) read as a herd a few per cent down, and a cow lying a little more than
 * usual was called lame the morning it moved. Over two half-lives (75 %), a spell of the whole herd that had
 * ended (a storm that kept it in) still weighed in her trend after the herd's window had let it go, and a cow
 * already a little down was called unwell the night after it.
 */
function herdShare(ctx: RuleContext, metric: Metric, halfLife: number): number {
  const end = ctx.history.newest!;
  return ctx.herd ? ctx.herd.herdRatio(metric, end - Math.round(4 * halfLife), end - 1, trendWeights(ctx.normal, metric, halfLife, end - 1)) : 1;
}

/**
 * Her lying over the last 24 hours against what her normal for those same hours says (only the hours her
 * collar told lying: a day missing its busy hours, when she lies least, is not a day of lying more), with a
 * rise the herd shares taken out (rain keeping the herd in the cubicles), the herd weighed hour by hour as
 * her own day is; NaN where her collar does not tell lying. A whole day, not her hour-by-hour trend: a
 * milking moved shifts when she lies down, not how long (hour by hour, six cows of a group whose milking
 * moved were called unwell on a tuning seed).
 */
function lyingUp(ctx: RuleContext, end: number): number {
  const cfg = ctx.rules.health;
  const hours = cfg.windowHours;
  const weights = lyingWeights.length >= hours ? lyingWeights : (lyingWeights = new Float64Array(hours));
  let observed = 0;
  let expected = 0;
  let covered = 0;
  for (let i = 0; i < hours; i++) {
    const t = end - hours + i;
    const c = ctx.history.covered('lie', t);
    const normal = c > 0 ? ctx.normal.hourNormal('lie', t) : 0;
    weights[i] = normal > 0 ? (normal * c) / 3600 : 0;
    if (weights[i] === 0) continue;
    observed += ctx.history.value('lie', t);
    expected += weights[i]!;
    covered += c;
  }
  if (expected <= 0 || covered < cfg.minCoverage * hours * 3600) return NaN;
  const ratio = observed / expected;
  if (!ctx.herd) return ratio;
  const first = end - hours;
  return ratio / Math.max(1, ctx.herd.herdRatio('lie', first, end - 1, (t) => weights[t - first]!));
}
let lyingWeights = new Float64Array(24);

/**
 * The last hour her fast activity stood well up that was her own rise (a heat, the restlessness before a
 * calving), not the herd's busy hours: a group moved to new pasture is a fifth to a half of the herd hot
 * together, which lifts her trend as a heat would and which the herd's median cow does not show. Held as
 * hers, it held a lame cow in that group back for two days (called on the third and fourth day). A rise is
 * looked at once the herd has told its hours; until then it holds, as her own would. A rise her heat alert
 * covers is hers, however many cows were hot with her: the heat rule has judged it hers already, on its own
 * lines for the herd's busy hours (cows in heat together on a synchronisation programme make busy hours).
 */
function ownRise(ctx: RuleContext, end: number, trend: Trend): number {
  const rise = trend[RISE]!;
  if (rise !== trend[RISE_CHECKED]) {
    const first = rise - 2 * ctx.rules.health.fastHalfLifeHours;
    const heat = heatSince(ctx, first * HOUR_MS);
    // Past the hold, whose the rise was no longer matters (and hours the herd never told, a gateway's
    // outage, would be asked about every hour).
    const herds = heat ? false : end - rise > ctx.rules.health.trend.afterRiseHours ? true : herdsBusy(ctx, first, rise);
    if (herds === null) return rise;
    trend[RISE_CHECKED] = rise;
    if (!herds) trend[OWN_RISE] = rise;
  }
  return trend[OWN_RISE]!;
}

/**
 * Whether most of what took her over her normal in hours [first, last] came in the herd's busy hours, each
 * hour weighed as her fast trend weighs it (up to twice her normal, and less the longer ago); null while the
 * herd has not told one of those hours (whether an hour was busy is a count of the herd's cows: told by half
 * the herd, the count says another thing).
 */
function herdsBusy(ctx: RuleContext, first: number, last: number): boolean | null {
  const herd = ctx.herd;
  if (!herd) return false;
  const keep = 1 - decay(ctx.rules.health.fastHalfLifeHours);
  let all = 0;
  let busy = 0;
  for (let u = first; u <= last; u++) {
    const rate = ctx.history.rate('act', u, HERD_HOUR_S);
    const normal = ctx.normal.hourNormal('act', u);
    const over = rate === rate ? (Math.min(rate, CLIP_HIGH * normal) - normal) * keep ** (last - u) : 0;
    if (!(over > 0)) continue;
    if (!herd.settled(u)) return null;
    all += over;
    if (herd.busyHour(u)) busy += over;
  }
  return busy > 0.5 * all;
}

/** The lower of two ratios, either of which may be unknown (NaN). */
const lower = (a: number, b: number) => (a === a ? (b === b ? Math.min(a, b) : a) : b);

/**
 * Her both-down streaks start again: an hour her trend's paths were not judged. The hour is not marked as
 * counted: judged again (a late reading, or a rise the herd has since told to be its own), it may count.
 */
function breakStreaks(trend: Trend | undefined): void {
  if (!trend) return;
  trend[BOTH_STREAK] = 0;
  trend[QUICK_STREAK] = 0;
}

/** A way her trend can say she is unwell: the metrics it shows (the first the primary) and the horizon it reads (fast, unless said). */
interface TrendPath {
  name: string;
  metrics: Metric[];
  horizon?: Horizon;
  test: (herd: boolean) => boolean;
}

/** The trend paths; null when none fires. */
function trendAlert(ctx: RuleContext, end: number, act: WindowStats | null, rum: WindowStats | null) {
  const cfg = ctx.rules.health;
  const t = cfg.trend;
  const { alerts, trend } = ctx.state;
  if (!trend) return null;
  const run = wholeRun(ctx.state.runs);
  // Explained already (a cow down was left out by judgeHealth): a cow in heat has her own alert; a collar
  // repeating one value for an hour or more is being judged as a collar; and for two days after a rise of
  // activity (a heat, the restless hours before a calving) a dip of rumination and activity is the
  // aftermath — cows ruminate less for a day or two after calving, and during and after a heat — not an
  // illness, unless her rumination is as deep as the 24-hour line (below). The deep 24-hour drops above are
  // not held back by any of this.
  if (alerts.open.heat || (run && run.n >= 2 && ctx.state.lastTs! - run.from >= HOUR_MS)) {
    breakStreaks(trend);
    return null;
  }
  if (afterCalving(ctx, end)) {
    // What the trend gathered of the calving's dip would fire the hour the hold ends: it starts afresh, and
    // judges her again once it has hours of its own (a fast trend needs 12).
    delete ctx.state.trend;
    return null;
  }
  const afterRise = end - ownRise(ctx, end, trend) <= t.afterRiseHours;
  // Most hours of most cows are near normal: above the loosest lines (which her noise and the herd can only
  // move down), nothing can fire and the streak of both-down hours is broken.
  const fastAct = lower(trendDrop(ctx, 'act', 0), trendDrop(ctx, 'act', 2));
  const fastRum = lower(trendDrop(ctx, 'rum', 0), trendDrop(ctx, 'rum', 2));
  if (!(fastAct <= 1 - Math.min(t.bothActivityDrop, t.activityDrop, t.lyingActivityDrop)) && !(fastRum <= 1 - Math.min(t.bothRuminationDrop, t.ruminationDrop))) {
    breakStreaks(trend);
    return null;
  }
  return trendPaths(ctx, end, act, rum, trend, afterRise);
}

/** The paths of trendAlert, for the hours her trend is below one of the loosest lines (apart: its closures make a context at each call). */
function trendPaths(ctx: RuleContext, end: number, act: WindowStats | null, rum: WindowStats | null, trend: Trend, afterRise: boolean) {
  const cfg = ctx.rules.health;
  const t = cfg.trend;
  // The herd's share of each metric and horizon (herdShare), asked once however many paths, and the quick
  // streak's herd dip, want it: each asking weighs 16, 24 or 72 of the herd's hours by her normal for them.
  const shares = [NaN, NaN, NaN, NaN, NaN, NaN];
  const shareOf = (m: Metric, horizon: Horizon) => {
    const k = 2 * horizon + (m === 'act' ? 0 : 1);
    let v = shares[k]!;
    if (v !== v) shares[k] = v = herdShare(ctx, m, halfLifeOf(cfg, horizon));
    return v;
  };
  // Her trend, with a drop the herd shares taken out where `herd` (a herd-wide rise is left in: it says
  // nothing about her being unwell).
  const ratioOf = (m: Metric, horizon: Horizon, herd: boolean) => {
    const own = trendDrop(ctx, m, horizon);
    return herd && own === own ? own / Math.max(t.herdFloor, Math.min(1, shareOf(m, horizon))) : own;
  };
  // Whether the herd's typical cow is under `quickHerdAbove` of her normal on either signal, over the hours
  // her quick trend remembers: a heat-stress day, a feed change — or a milking moved, whose herd is at rest
  // in its old milking hours and busy, not chewing, in the new; then the fast trend, long tried, judges
  // alone. (The two signals multiplied, which lets a milking moved pass — one down in the hours the other is
  // up — scored the same on twenty-one herds; the plainer rule is kept.)
  const herdDipped = () => !!ctx.herd && (shareOf('act', 2) < t.quickHerdAbove || shareOf('rum', 2) < t.quickHerdAbove);
  // How much her days differ, relative to her normal: her own noise, from the 24-hour windows' past days,
  // and her trend's (below), never less than real cows' days differ (`daySpread`) unless her trend shows her
  // steady. The MAD of the one or two weeks of days she has
  // is a rough figure, and where it reads her far steadier than she is, an ordinary quiet half-day crosses
  // the lines: on a herd model with real cows' noise (days differing by 13 %), the false alerts were on cows
  // read at 2-9 %, 1.2-1.7 per 100 cow-days; with the floor 0.3, and about as many illnesses found.
  const ownSpread = (m: Metric) => {
    const stats = ctx.normal.stretchNormal(m, end - cfg.windowHours, end - 1);
    const own = stats && stats.median > 0 ? stats.rawSpread / stats.median : 0;
    return Number.isFinite(own) ? own : 0;
  };
  // Her spread, for her lines: how far her trend itself strays, read over her past two weeks' hours
  // (Normals.trendSpread), where that is known — never less than her days' own, and never less than the floor
  // unless she is steady (`steadyTrendSpreads` of it under the floor). The MAD of 14 days could read a cow
  // steady by chance; some 300 hours of the very trend her lines are drawn on do not, as a real cow lies
  // down at no fixed hour: real-like cows read 0.05-0.16 on activity and 0.04-0.10 on rumination (the IceTag
  // leg tags, the scorecard's noisy herds, the herd model kept outside), the simulator's steady cows
  // 0.02-0.06. Where it reads more than the floor, her lines widen with it: a cow whose days read steadier
  // than her trend is is held to her trend. Once a farm day, and asked only of a trend past a line's drop.
  const spreadOf = (m: Metric) => {
    const own = ownSpread(m);
    const floor = m === 'act' ? t.daySpread.activity : t.daySpread.rumination;
    if (!(t.steadyTrendSpreads > 0)) return Math.max(own, floor);
    const trend = ctx.normal.trendSpread(m, end, cfg.fastHalfLifeHours, cfg.warmupDays);
    if (trend !== trend) return Math.max(own, floor);
    return t.steadyTrendSpreads * trend < floor ? Math.max(own, trend) : Math.max(own, floor, trend);
  };
  // Whether her trend `r` is past a line `drop` down and `spreads` of her spreads down.
  const below = (r: number, drop: number, spreads: number, m: Metric) => r <= 1 - drop && r <= 1 - spreads * spreadOf(m);
  const bothNow = (horizon: Horizon, herd: boolean) =>
    below(ratioOf('rum', horizon, herd), t.bothRuminationDrop, t.spreads, 'rum') && below(ratioOf('act', horizon, herd), t.bothActivityDrop, t.spreads, 'act');
  // Her own (not herd-corrected) both-down streaks, fast and quick, move once per judged hour (on a collar
  // reporting every two hours, once per reading); the quick one's hours are outside a dip of the herd's
  // (herdDipped). A judged hour the paths are not asked (the hold after a rise, an open alert, a heat, a
  // stuck collar, a cow down: see breakStreaks) breaks them, where they used to freeze; hours with no data,
  // or a collar held as faulty, leave them as they were.
  if (afterRise) breakStreaks(trend);
  else if (trend[STREAK_HOUR] !== end) {
    trend[STREAK_HOUR] = end;
    trend[BOTH_STREAK] = bothNow(0, false) ? trend[BOTH_STREAK]! + 1 : 0;
    trend[QUICK_STREAK] = bothNow(2, false) && !herdDipped() ? trend[QUICK_STREAK]! + 1 : 0;
  }
  // Her day's lying (24 hour normals and the herd's hours), taken once however often the paths ask for it.
  let lying: number | undefined;
  const lyingNow = () => (lying ??= lyingUp(ctx, end));
  const paths: TrendPath[] = [
    {
      // Both signals sliding together: an illness setting in (ketosis, metritis, mastitis).
      name: 'both',
      metrics: ['rum', 'act'],
      test: (herd) => trend[BOTH_STREAK]! >= t.bothHours && bothNow(0, herd),
    },
    {
      // The same on her quick trend: two witnesses agreeing afford its noise, and it lags an illness's slide by
      // hours less (on the scorecard, ketosis ramping in over two to three days was called at 36-43 h on the
      // fast trend alone, a point or two short of the lines hours before). For longer in a row, as a few
      // quiet hours move it further (two hours at a fifth of her normal, a nap, held it over the lines for
      // two); and only hours outside a herd-wide dip count, where every cow slides, not all alike: the
      // typical cow taken out of a quick trend left the harder-hit called unwell on heat-stress days.
      name: 'both',
      metrics: ['rum', 'act'],
      horizon: 2,
      test: (herd) => trend[QUICK_STREAK]! >= t.quickBothHours && bothNow(2, herd),
    },
    {
      // Rumination down and staying down: off feed, whatever she does otherwise.
      name: 'rumination',
      metrics: ['rum'],
      test: (herd) =>
        below(ratioOf('rum', 0, herd), t.ruminationDrop, t.spreads + 1, 'rum') &&
        below(ratioOf('rum', 1, herd), t.slowDrop, t.spreads, 'rum') &&
        !(trendDrop(ctx, 'act', 0) > 1 + t.slowDrop),
    },
    {
      // Walking down for a day and a half while rumination holds: lame, or a collar without rumination.
      name: 'activity',
      metrics: ['act'],
      test: (herd) =>
        below(ratioOf('act', 0, herd), t.activityDrop, t.spreads + 1, 'act') &&
        below(ratioOf('act', 1, herd), t.activitySlowDrop, t.spreads, 'act'),
    },
    {
      // Walking less and lying down more (where the collar tells lying): lame, or unwell on a collar without
      // rumination. Lying up is the second witness, so the slow line sits one of her spreads nearer than
      // on activity alone: it is what held a lame cow's word back to the second day.
      name: 'lying',
      metrics: ['act'],
      test: (herd) =>
        below(ratioOf('act', 0, herd), t.lyingActivityDrop, t.spreads + 1, 'act') &&
        below(ratioOf('act', 1, herd), t.lyingActivitySlowDrop, Math.max(0, t.spreads - 1), 'act') &&
        lyingNow() >= 1 + t.lyingRise,
    },
  ];
  // In the two days after a rise, only rumination as far down as the 24-hour line (65 %) on her fast trend:
  // the aftermath of a heat or a calving is milder (a calving's dip takes rumination to 70-85 %), and a cow
  // whose mastitis set in the day after her heat was called 10-15 hours late, by the 24-hour line.
  const deepAfterRise: TrendPath = {
    name: 'rumination',
    metrics: ['rum'],
    test: (herd: boolean) => ratioOf('rum', 0, herd) <= cfg.ruminationMaxRatio && !(trendDrop(ctx, 'act', 0) > 1 + t.slowDrop),
  };
  // Her own trend first (cheap); the herd is asked only when that would fire, and can only take it back.
  const path = (afterRise ? [deepAfterRise] : paths).find((p) => p.test(false) && p.test(true));
  if (!path) return null;
  // The figures the path was judged on: its horizon's.
  const horizon = path.horizon ?? 0;
  const shown = 2 * halfLifeOf(cfg, horizon);
  const ev = (m: Metric): Evidence => {
    const w = m === 'act' ? act : rum;
    return {
      metric: m === 'act' ? 'activity' : 'rumination',
      unit: UNITS[m],
      ratio: round(ratioOf(m, horizon, true)),
      basis: 'trend',
      window: { from: iso((end - shown) * HOUR_MS), to: iso(end * HOUR_MS), hours: shown },
      ...(w && { day: { ratio: round(w.ratio), value: round(w.value, 1), baseline: round(w.expected, 1) } }),
    };
  };
  const [first, second] = path.metrics;
  const evidence: Evidence = { ...ev(first!), path: path.name };
  if (path.name === 'lying') evidence.lying = lyingEvidence(cfg, end, lyingNow());
  if (second) evidence.also = ev(second);
  else {
    const other: Metric = first === 'act' ? 'rum' : 'act';
    const r = ratioOf(other, horizon, true);
    if (r === r) evidence.also = ev(other);
  }
  // Urgent when her last hours are as deep as the 24-hour rules' lines already (she fell fast, both signals):
  // the trend counts each hour at most half down, so it cannot say how deep — and the farmer is shown those
  // hours, not a trend that reads milder than the word "urgent" above it.
  const recentAct = ctx.normal.window('act', t.urgentHours, end);
  const recentRum = ctx.normal.window('rum', t.urgentHours, end);
  if (recentAct && recentRum && recentAct.ratio <= cfg.activityMaxRatio && recentRum.ratio <= cfg.ruminationMaxRatio) {
    const [primary, other] = recentRum.ratio <= recentAct.ratio ? [recentRum, recentAct] : [recentAct, recentRum];
    return { evidence: { ...windowEvidence(primary), also: windowEvidence(other), path: path.name }, severity: 'urgent' as Severity, primaryMetric: primary.metric };
  }
  return { evidence, severity: 'warning' as Severity, primaryMetric: first! };
}
