import { DAY_MS, HERD_HOUR_S, HOUR_MS } from './baseline.js';
import type { RuleContext } from './context.js';
import { OWN_RISE, RISE, RISE_CHECKED, trendRatio, trendWeights, type Trend } from './trend.js';

/**
 * A rise of hers: busier than usual (a heat), or up and about while hardly ruminating (the restless hours
 * before a calving, when a cow walks more and ruminates a third less). For two days after one, only a deep
 * drop is called unwell (health.ts): what follows a heat or a calving is its aftermath, not an illness. Marked
 * in her trend (`RISE`, and `OWN_RISE` for one the herd cannot have made) as each hour completes, after the
 * hour has been folded into it.
 */

/** An hour of a rise (risenHours): a heat is over when she falls under this (a hot hour is 1.5×). */
const RISEN_HOUR = 1.3;
/**
 * Rumination in the restless hours before a calving (risenHours, calvingStep): a cow chews up to a third less as calving
 * nears; a fifth, over three hours, so that her first restless hours count, not only her last.
 */
const RESTLESS_RUMINATION = 0.8;

/**
 * Days after an insemination within which the herd register's cow may calve from it: gestation in Holsteins
 * averages about 279 days, standard deviation 5-6 days (Norman et al. 2009, J. Dairy Sci. 92:2259): 265 is
 * two and a half deviations early, 300 nearly four late.
 */
const DUE_FROM_DAYS = 265;
const DUE_TO_DAYS = 300;
/**
 * Her activity in the three hours after a calving's restless ones, at most: she has calved, and lies or
 * stands by the calf (the dip after a calving takes activity to 60-80 % of normal). On two of the
 * scorecard's herds, three restless hours then three at 85 % or less came about four times in five weeks
 * on a cow neither calving nor ill, against eleven without the quiet ones, and at 37 of 43 calvings.
 */
const CALVING_STEP = 0.85;

/** Marks a rise at hour `t`, just completed and folded into `trend`, when her hours show one. */
export function markRise(ctx: RuleContext, trend: Trend, t: number, intervalS: number): void {
  // A cow the register says is due to calve: restless hours, and then quiet ones, are her calving, however
  // her trend reads. Her trend remembers hours: a calving's restlessness is often a few hours at a fifth to a
  // half up while she chews a quarter less, and her 6-hour trend reached the lines below after the calving,
  // or not at all (on the scorecard's nine untuned seeds, 34 of last round's 35 false health alerts were such
  // calvings' dips, called before the register had the calving). Only for a cow due: anywhere else, hours
  // up while chewing less are as often an illness setting in with a busy hour in it as a calving. And only
  // with the step down after them: hours up while chewing less come every few days on any cow (a busy spell
  // leaves no time to chew), and taken alone they held many a due cow that fell ill. Not for a cow
  // walking less over the last day: a calving comes out of her ordinary days, not out of a lameness.
  if (dueToCalve(ctx, t) && calvingStep(ctx, t) && !walkingLess(ctx, trend, t)) {
    trend[RISE] = trend[OWN_RISE] = trend[RISE_CHECKED] = t;
    return;
  }
  // Only once the trend has some hours of its own: just (re)started (after a calving, a long gap), one busy
  // hour would be a "rise" and hold her trend back for two days.
  const settled = ctx.rules.health.fastHalfLifeHours;
  const fastAct = trendRatio(trend, 0, 0, settled);
  const fastRum = trendRatio(trend, 1, 0, settled);
  const t2 = ctx.rules.health.trend;
  // Hers, not the herd's: a group moved to new pasture, or feed pushed up late, is busier together for
  // hours, and what follows is no aftermath of hers (held back for two days by it, a lame cow in that group
  // was called on the fourth day). The herd's hours before this one (the one closing is still being told),
  // each weighed as her trend weighs it: by her normal for it and how long ago it was. Only a herd up 10 %
  // or more: a milking moved reads a few per cent up or down over half a day, and taken out, that was the
  // rise of cows about to calve, whose dip after it then raised five false alerts on the scorecard. The
  // restlessness before a calving (up while ruminating less) is hers whatever the herd's activity does
  // (health.ts tells the rest from the herd's); only her chewing less is weighed against the herd's.
  const upWhileChewingLess = Math.min(1.1, t2.riseRatio);
  if (fastAct >= upWhileChewingLess) {
    const herdUp = herdOver(ctx, 'act', t, settled);
    const own = herdUp >= 1.1 ? fastAct / herdUp : fastAct;
    // A rise is looked for in her hours when it starts; one under way (stamped the hour before) goes on
    // while her trend stays over the line, as long as a heat's aftermath lasts.
    const going = trend[RISE]! >= t - 1;
    // Her chewing less is counted against the herd's over its recent hours, where the herd chewed at least
    // 5 % less: a milking moved puts the whole herd up and not chewing in hours that used to be quiet, and
    // every cow read as about to calve (a ketosis setting in that week waited out two days' hold, 53 h for
    // 37). Not a herd a per cent or two down, as it often is: then a calving's own restlessness was refused.
    // (Asked only when hers is down to the line: counted against a herd down, it can only read higher.)
    const rumLine = 1 - t2.bothRuminationDrop;
    let ownRum = fastRum;
    if (fastRum <= rumLine) {
      const herdRum = herdOver(ctx, 'rum', t, settled);
      if (herdRum <= 0.95) ownRum = fastRum / herdRum;
    }
    if (ownRum <= rumLine) {
      if (going || risenHours(ctx, t, upWhileChewingLess, intervalS)) trend[RISE] = trend[OWN_RISE] = trend[RISE_CHECKED] = t;
    } else if (own >= t2.riseRatio && (going || risenHours(ctx, t, t2.riseRatio, intervalS))) trend[RISE] = t;
  }
}

/**
 * The herd's level over the hours before `t`, each weighed as her trend weighs it (1 without a herd). A
 * function apart: a closure in markRise made a context for every hour of every cow.
 */
function herdOver(ctx: RuleContext, m: 'act' | 'rum', t: number, settled: number): number {
  return ctx.herd ? ctx.herd.herdRatio(m, t - 2 * settled, t - 1, trendWeights(ctx.normal, m, settled, t)) : 1;
}

/**
 * Whether her last hours hold a rise, not one reading: her fast trend can be lifted past a rise line by
 * a single reading (a wild one — a knock, a cow at the brush — is a whole hour at 3× on a collar that
 * reports every hour, and her trend takes an hour at up to 2×), or by a few hours a fifth up on a trend
 * that already reads over 1 (hourly activity is skewed, and her normal is its median). Either held a cow
 * falling ill after it to the deep lines for two days: on the scorecard, ketosis called at 52–60 h instead
 * of 34–37 h, and a ketosis's own falling rumination on such a trend read as a calving coming. A heat is
 * many hours at 2–4×; the restless hours before a calving are hours up while she chews less. So: more
 * hours at RISEN_HOUR× her normal than one reading of hers can fill (it is spread over the hour slots it
 * covers: an hourly reading at :30 fills two, a 2-hourly one two or three), or her last three hours
 * together up at `line` while her rumination in them is down a fifth.
 */
function risenHours(ctx: RuleContext, t: number, line: number, intervalS: number): boolean {
  const h = ctx.history;
  const n = ctx.normal;
  // A reading of half an hour or more can fill two hours at 1.5× alone; a shorter one, at most one.
  const need = intervalS >= 1800 ? Math.ceil(intervalS / 3600) + 2 : 2;
  let risen = 0;
  for (let u = t - need - 1; u <= t; u++) {
    const normal = n.hourNormal('act', u);
    if (normal > 0 && h.rate('act', u, HERD_HOUR_S) >= RISEN_HOUR * normal) risen++;
  }
  return risen >= need || restlessHours(ctx, t, line);
}

/**
 * A calving, seen from her collar: her last three hours (to `t`) quiet, at most CALVING_STEP of her normal
 * activity together, after three restless ones (restlessHours), each counted over the herd in those same
 * hours: a milking moved puts every cow up and not chewing for hours that used to be quiet, and the herd
 * rests together after it. (The herd is still telling hour `t`: its quiet is read from the two before.)
 */
function calvingStep(ctx: RuleContext, t: number): boolean {
  const herd = ctx.herd;
  if (!(threeHours(ctx, 'act', t) <= CALVING_STEP * (herd ? Math.min(1, herd.herdRatio('act', t - 2, t - 1)) : 1))) return false;
  const herdAct = herd ? Math.max(1, herd.herdRatio('act', t - 5, t - 3)) : 1;
  const herdRum = herd ? Math.min(1, herd.herdRatio('rum', t - 5, t - 3)) : 1;
  return restlessHours(ctx, t - 3, Math.min(1.1, ctx.rules.health.trend.riseRatio) * herdAct, RESTLESS_RUMINATION * herdRum);
}

/**
 * Whether her slow trend says she has been walking less over the last day (8 % down, activitySlowDrop),
 * with a drop the herd shares over that day divided out (a heat-stress day keeps every cow in).
 */
function walkingLess(ctx: RuleContext, trend: Trend, t: number): boolean {
  const slow = trendRatio(trend, 0, 1, ctx.rules.health.slowHalfLifeHours);
  if (!(slow < 1 - ctx.rules.health.trend.activitySlowDrop)) return false;
  const herd = ctx.herd ? ctx.herd.herdRatio('act', t - 24, t - 1) : 1;
  return slow / Math.max(ctx.rules.health.trend.herdFloor, Math.min(1, herd)) < 1 - ctx.rules.health.trend.activitySlowDrop;
}

/** Whether her last three hours together are up at `line` times her normal while her rumination in them is at most `rumLine` times it. */
function restlessHours(ctx: RuleContext, t: number, line: number, rumLine = RESTLESS_RUMINATION): boolean {
  return threeHours(ctx, 'act', t) >= line && threeHours(ctx, 'rum', t) <= rumLine;
}

/** Her three hours to `t` together against their normals; NaN when one of them is not known. */
function threeHours(ctx: RuleContext, m: 'act' | 'rum', t: number): number {
  let sum = 0, normal = 0;
  for (let u = t - 2; u <= t; u++) {
    const r = ctx.history.rate(m, u, HERD_HOUR_S), n = ctx.normal.hourNormal(m, u);
    if (!(n > 0) || r !== r) return NaN;
    sum += r;
    normal += n;
  }
  return sum / normal;
}

/**
 * Whether the herd register has her due to calve at hour `t`: inseminated 265 to 300 days before, and no
 * calving entered since (a calving date still to come, typed in as expected, is not one yet). A farm that
 * keeps no insemination dates has no cow due, and nothing changes.
 */
export function dueToCalve(ctx: RuleContext, t: number): boolean {
  const record = ctx.state.record;
  const served = record?.inseminatedAt;
  if (served === undefined) return false;
  const at = t * HOUR_MS;
  const calved = record!.calvedAt;
  if (calved !== undefined && calved > served && calved <= at) return false;
  // Whole days, as the register keeps them: from the start of day 265 after it to the end of day 300.
  return at - served >= DUE_FROM_DAYS * DAY_MS && at - served < (DUE_TO_DAYS + 1) * DAY_MS;
}
