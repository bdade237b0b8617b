import { raise, resolve } from './alerts.js';
import { DAY_MS, HOUR_MS } from './baseline.js';
import type { DownSpell, Push, RuleContext } from './context.js';
import { iso, round } from './evidence.js';
import { flatStarting, wholeRun } from './collar-fault.js';
import type { Reading } from './reading.js';

/**
 * A cow down: almost no movement for hours she is normally up and about, and (where reported) hardly
 * ruminating (see README.md, "A cow down"). Judged reading by reading, not by completed hours: a cow that
 * goes down at twenty past nine is called an hour and a half of readings later, not once two whole clock
 * hours have passed (up to three hours). Hours she usually sleeps through count only by rumination
 * stopping, and a signal that is exactly constant is left to the collar-fault rule: a broken sensor is not
 * a cow down. Newest readings only, in event time.
 */
export function judgeDownReading(ctx: RuleContext, r: Reading, push: Push): void {
  const cfg = ctx.rules.downCow;
  const { normal, state: s } = ctx;
  // Raised ahead of her held readings (CowDetector.downAhead), her spell is left as a raise leaves it.
  if (s.alerts.open.down_cow) {
    if (s.down) delete s.down;
    return;
  }
  const from = r.ts - r.intervalS * 1000;
  const t = hourOf(r);
  const norm = normal.hourNormal('act', t);
  const hours = r.intervalS / 3600;
  // A gap in delivery longer than `maxGapMinutes` (a backlog still to come) leaves her state unknown.
  let d = s.down;
  if (d && from - d.last > cfg.maxGapMinutes * 60_000) d = undefined;
  // Most readings of most cows: a quarter-hour or longer, and she moves. Nothing is kept, and nothing more
  // is looked up (this runs for every reading of every cow).
  if (norm <= 0 || (!d && movedIn(ctx, r, norm) && (r.rumination === undefined || r.activity > cfg.restActivityRatio * norm * hours || !restHour(ctx, norm)))) {
    if (s.down) delete s.down;
    return;
  }
  const rumNormal = r.rumination === undefined ? 0 : normal.hourNormal('rum', t);
  const rumKnown = rumNormal > 0;
  // A reading that does not follow on from the last (one missing, or still to come late): the spell has a
  // stretch not heard, which a late reading may yet show she was up in (CowDetector.downAhead waits then).
  // Only a reading of a quarter-hour or more can show that (judgeDownLate): a lost minute changes nothing.
  if (d && r.intervalS >= CHUNK_S && !followsOn(r, d.last)) d.gap = true;
  d ??= s.down = newSpell();
  d.last = r.ts;
  // Judged a quarter-hour at a time: a minute's activity is a count or two and its rumination a tenth or two,
  // all rounding, and one quarter-hour's rumination swings by a third around its hour's.
  if (d.chunkS === 0) d.chunkFrom = from;
  d.chunkS += r.intervalS;
  d.chunkAct += r.activity;
  d.chunkActNormal += norm * hours;
  if (rumKnown) {
    d.chunkRum += r.rumination!;
    d.chunkRumNormal += rumNormal * hours;
  } else d.chunkNoRum = true;
  if (restHour(ctx, norm)) d.chunkRest = true;
  if (d.chunkS < CHUNK_S) return;
  const q = { from: d.chunkFrom, s: d.chunkS, act: d.chunkAct, actNormal: d.chunkActNormal, rum: d.chunkRum, rumNormal: d.chunkRumNormal, rumKnown: !d.chunkNoRum, rest: d.chunkRest };
  Object.assign(d, EMPTY_CHUNK);
  // She has not got up while she hardly moves: at most `maxActivityRatio` of her normal — or, in hours she
  // normally rests, a little under her usual rest with her rumination nearly stopped.
  const still = q.act <= cfg.maxActivityRatio * q.actNormal;
  const resting = q.rest && q.rumKnown && q.act <= cfg.restActivityRatio * q.actNormal && q.rum <= READING_SLACK * cfg.restRuminationRatio * q.rumNormal;
  if (!still && !resting) {
    delete s.down;
    return;
  }
  d.from ??= q.from;
  // What counts towards calling her down: quarter-hours with rumination (where the collar tells it) at most
  // half its normal — a cow lying to chew, then going down, is judged from then — or, without
  // rumination, stillness in her active hours only: lying through her usual night is no sign of trouble.
  // Half an hour of chewing over that line keeps the spell (she has not got up) but the count starts again.
  // Chewing is told by half an hour of it: a resting cow chews in bouts of half an hour to an hour, while
  // one quarter-hour's rumination swings by a third around its hour's (a cow down, ruminating at a third of
  // her usual, was called an hour late when one quarter-hour's swing started her count again). A single
  // quarter-hour over the line is counted, and the spell's sums below decide.
  const over = q.rumKnown && q.rum > cfg.stillRuminationRatio * q.rumNormal;
  d.chewingS = over ? (d.chewingS ?? 0) + q.s : 0;
  const countsNot = q.rumKnown ? d.chewingS >= CHEWING_S : q.rest;
  if (countsNot || (d.countedS > 0 && d.rumination !== q.rumKnown)) {
    resetCount(d);
    if (countsNot) return;
  }
  if (d.countedS === 0) d.countFrom = q.from;
  d.rumination = q.rumKnown;
  d.countedS += q.s;
  d.act += q.act;
  d.actNormal += q.actNormal;
  d.rum += q.rum;
  d.rumNormal += q.rumNormal;
  if (q.rest) d.restS += q.s;
  const need = q.rumKnown ? cfg.hours : cfg.hoursWithoutRumination;
  // A collar reporting every hour shows 1.5 hours only with two still readings after the one she went down
  // in (which is only partly still): 2-3 hours after she went down. Its first still hour is judged on its
  // own where it says more than the spell's lines ask: stock-still and hardly chewing (a cow down with milk
  // fever stops ruminating). An hour lying still chewing at half her usual is a rest too, and is left to
  // the second reading (on the scorecard's hourly collars, a cow down chewed at 0.1-0.45 of her usual).
  // Only where she chewed at least CHEWING_SHORT_MIN minutes less than her usual for the hour: after milking,
  // and when fresh feed comes, a cow eats and hardly chews, and an hour lying still then, chewing her usual
  // two minutes less, is no sign (on a herd model written apart from the project, hourly collars raised 9
  // false cows down in 27,000 cow-days so, each lying through the hour after a milking or a feed).
  const oneHour = q.rumKnown && r.intervalS >= 3600 && d.countedS >= 3600 && d.countedS < need * 3600 && d.rumNormal - d.rum >= CHEWING_SHORT_MIN * (d.countedS / 3600);
  // Her readings cover most of the time counted: stillness either side of a stretch not heard is not one
  // spell (she may have been up in between, and those readings may come late).
  if ((d.countedS < need * 3600 && !oneHour) || d.countedS * 1000 < MIN_COVER * (r.ts - d.countFrom)) return;
  const actRatio = d.act / d.actNormal;
  const rumRatio = q.rumKnown ? d.rum / d.rumNormal : NaN;
  if (oneHour && !(actRatio <= cfg.stillActivityRatio && rumRatio <= cfg.restRuminationRatio)) return;
  // Her spell as a whole. In her active hours: rumination at most half its normal — a cow lying down to
  // ruminate is resting, not down, and a sick cow resting chews at half to three quarters of her usual (on
  // herds as noisy as real ones, where a lying hour is all but still, a second line of three quarters while
  // stock-still called 39 sick cows resting in two herds' 90 days; without it 4). Where most of it lies
  // in hours she normally rests: rumination nearly stopped (a resting cow ruminates most of the time she
  // lies), or stock-still with at most half her rumination.
  // For a cow told unwell a day or more before the spell (chewingLevel), half is of where her chewing has
  // stood over the day before it: unwell, she chews at 35-70 % of her usual all day, and lying to rest at
  // about half her usual, on the line. On the scorecard's herds as noisy as real ones, every false cow down
  // (7 in three herds' 90 days, before round 31) was such a sick cow resting. Stock-still and hardly chewing (at most 30 %
  // of her usual) she is down from whatever level: a cow down with milk fever stops chewing.
  const half = rumRatio <= cfg.maxRuminationRatio && rumRatio <= cfg.maxRuminationRatio * chewingLevel(ctx, d.from);
  const down = !q.rumKnown
    ? true
    : d.restS * 2 > d.countedS
      ? rumRatio <= cfg.restRuminationRatio || (actRatio <= cfg.stillActivityRatio && half)
      : half || (actRatio <= cfg.stillActivityRatio && rumRatio <= cfg.restRuminationRatio);
  if (!down) {
    // Twice the hours and not down: a long rest, not a cow down. The count starts again, so what she did
    // hours ago cannot dilute what she does now.
    if (d.countedS >= 2 * need * 3600) resetCount(d);
    return;
  }
  // A constant signal is judged as a collar: not while it covers the spell, nor while an all-zero run has
  // begun (a flat line starting: a cow down still moves and ruminates a little). One reading is not a
  // constant signal, however long it is (a collar reporting every two hours).
  const same = wholeRun(s.runs);
  if ((same && same.n >= 2 && same.from <= d.from) || flatStarting(s.runs)) return;
  const since = d.from;
  delete s.down;
  push(raise(s.alerts, s.subject, 'down_cow', {
    at: r.ts,
    since,
    severity: 'urgent',
    evidence: {
      metric: 'activity',
      ratio: round(actRatio),
      ...(q.rumKnown && { ruminationRatio: round(rumRatio) }),
      ruminationKnown: q.rumKnown,
      window: { from: iso(since), to: iso(r.ts), hours: round((r.ts - since) / HOUR_MS) },
    },
    cooldownMs: cfg.cooldownHours * HOUR_MS,
  }));
}

/**
 * A reading that comes late, for a stretch her spell has passed over: if she moved in it, she got up, and the
 * stillness either side of it is not one spell.
 */
export function judgeDownLate(ctx: RuleContext, r: Reading): void {
  const d = ctx.state.down;
  if (!d || d.from === null || r.ts <= d.from) return;
  const norm = ctx.normal.hourNormal('act', hourOf(r));
  if (norm > 0 && movedIn(ctx, r, norm)) delete ctx.state.down;
}

/** The hour a reading mostly lies in: her normal for it is the one she is held to. */
export const hourOf = (r: Reading) => Math.floor((r.ts - r.intervalS * 500) / HOUR_MS);

/** A reading of a quarter-hour or longer in which she moved more than a cow down can: she is up. */
function movedIn(ctx: RuleContext, r: Reading, norm: number): boolean {
  return r.intervalS >= CHUNK_S && r.activity > ctx.rules.downCow.maxActivityRatio * norm * (r.intervalS / 3600);
}

/**
 * For a cow whose health alert is open and was raised a day or more before a spell that began at `from`
 * (ms), her rumination over the 24 hours before the spell against her normal for them, where it is down; 1
 * otherwise (and where not known). A day: an alert raised in the hours before is often a calving's dip the
 * register has not been told of yet (most of the nine seeds' false health alerts), and a cow down with milk
 * fever in it, chewing at 45 % of her usual, was not called. Asked only of a spell chewing at most half her
 * usual.
 */
function chewingLevel(ctx: RuleContext, from: number): number {
  const ill = ctx.state.alerts.open.health;
  if (!ill || ill.raisedAt > from - DAY_MS) return 1;
  const w = ctx.normal.window('rum', 24, Math.floor(from / HOUR_MS));
  return w && w.coverage >= ctx.rules.downCow.minCoverage && w.ratio > 0 ? Math.min(1, w.ratio) : 1;
}

/** Whether she normally rests in the hour: her normal for it well under her mean hourly rate. */
function restHour(ctx: RuleContext, norm: number): boolean {
  const end = ctx.history.newest;
  if (end === null) return false;
  const day = ctx.normal.stretchNormal('act', end - 24, end - 1);
  return !!day && norm < ctx.rules.downCow.activeShare * day.median;
}

/** How loosely a quarter-hour is held to the rest line of rumination (see judgeDownReading). */
const READING_SLACK = 1.5;
/** The rule judges her readings a quarter-hour at a time. */
export const CHUNK_S = 15 * 60;

/**
 * Whether reading `r` follows on from one of hers ending at `last`, none missing between them: a collar's
 * clock wanders, by a minute or, for a collar reporting every minute, by less than half a reading.
 */
export const followsOn = (r: Reading, last: number) => r.ts - r.intervalS * 1000 <= last + Math.min(60_000, r.intervalS * 500);
/** The share of the counted time her readings must cover. */
const MIN_COVER = 0.75;
/** Minutes an hour she must have chewed less than her usual for one hourly reading of hers to say she has stopped. */
const CHEWING_SHORT_MIN = 10;
/** How long she must chew at her usual rate, lying still, for the count of a spell to start again. */
const CHEWING_S = 30 * 60;

const EMPTY_CHUNK = { chunkFrom: 0, chunkS: 0, chunkAct: 0, chunkActNormal: 0, chunkRum: 0, chunkRumNormal: 0, chunkNoRum: false, chunkRest: false };
const EMPTY_COUNT = { countFrom: 0, countedS: 0, act: 0, actNormal: 0, rum: 0, rumNormal: 0, restS: 0, rumination: false };

function newSpell(): DownSpell {
  return { from: null, last: 0, chewingS: 0, ...EMPTY_CHUNK, ...EMPTY_COUNT };
}

/** The spell goes on (she has not got up), but what counts towards calling her down starts again. */
function resetCount(d: DownSpell): void {
  Object.assign(d, EMPTY_COUNT);
}

/** A cow down is up again when an hour of hers reads at least `resolveRatio` of its normal activity. */
export function judgeDownResolved(ctx: RuleContext, end: number, push: Push): void {
  const cfg = ctx.rules.downCow;
  const { history: h, normal } = ctx;
  const { alerts, subject } = ctx.state;
  if (!alerts.open.down_cow) return;
  const last = end - 1;
  const norm = normal.hourNormal('act', last);
  const rate = h.rate('act', last, cfg.minCoverage * 3600);
  if (rate === rate && norm > 0 && rate >= cfg.resolveRatio * norm) {
    push(resolve(alerts, subject, 'down_cow', { at: end * HOUR_MS, evidence: { metric: 'activity', ratio: round(rate / norm) } }));
  }
}
