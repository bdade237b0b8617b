import { raise, resolve } from './alerts.js';
import { HOUR_MS } from './baseline.js';
import type { DownSpell, Push, RuleContext } from './context.js';
import { iso, round } from './evidence.js';
import { isFlat } from './collar-fault.js';
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
  if (s.alerts.open.down_cow) return;
  const from = r.ts - r.intervalS * 1000;
  // Her normal for the hour the reading mostly lies in.
  const t = Math.floor((from + r.ts) / 2 / HOUR_MS);
  const norm = normal.hourNormal('act', t);
  const hours = r.intervalS / 3600;
  const rate = r.activity / hours;
  const rumNormal = r.rumination === undefined ? 0 : normal.hourNormal('rum', t);
  const rumKnown = rumNormal > 0;
  const rum = rumKnown ? r.rumination! / hours : NaN;
  let dayMean: number | null | undefined;
  // Whether she normally rests in this hour: her normal for it well under her mean hourly rate.
  const restHour = () => {
    if (dayMean === undefined) {
      const end = ctx.history.newest ?? t;
      dayMean = normal.stretchNormal('act', end - 24, end - 1)?.median ?? null;
    }
    return dayMean !== null && norm < cfg.activeShare * dayMean;
  };
  // She has not got up while she hardly moves: at most `maxActivityRatio` of her normal — or, in hours she
  // normally rests, half her usual rest with her rumination nearly stopped. One quarter-hour's rumination
  // varies by a third around its hour's, so each quarter-hour is held to the rumination lines loosely
  // (READING_SLACK) and the spell's sums are held to them strictly.
  const rest = norm > 0 && restHour();
  const still = norm > 0 && rate <= cfg.maxActivityRatio * norm;
  const resting = rest && rumKnown && rate <= cfg.restActivityRatio * norm && rum <= READING_SLACK * cfg.restRuminationRatio * rumNormal;
  if (!still && !resting) {
    if (s.down) delete s.down;
    return;
  }
  // A gap in delivery neither ends the spell nor counts towards it; a long one (a backlog still to come)
  // leaves her state unknown, and the spell starts again.
  let spell = s.down;
  if (!spell || from - spell.last > cfg.maxGapMinutes * 60_000) spell = s.down = newSpell(from);
  spell.last = r.ts;
  // What counts towards calling her down: readings with rumination (where the collar tells it), or, without
  // rumination, stillness in her active hours only — lying through her usual night is no sign of trouble.
  // Any other reading keeps the spell (she has not got up) but the count starts again.
  if ((!rumKnown && rest) || (spell.countedS > 0 && spell.rumination !== rumKnown)) {
    resetCount(spell, r.ts);
    if (!rumKnown) return;
  }
  spell.rumination = rumKnown;
  spell.countedS += r.intervalS;
  spell.act += r.activity;
  spell.actNormal += norm * hours;
  if (rumKnown) {
    spell.rum += r.rumination!;
    spell.rumNormal += rumNormal * hours;
    // A quarter of an hour at a time (a minute's rumination is a tenth or two, all rounding), her rumination
    // well over the lines starts the count again: a cow lying to chew, then going down, is judged from then.
    spell.chunkS += r.intervalS;
    spell.chunkRum += r.rumination!;
    spell.chunkRumNormal += rumNormal * hours;
    if (spell.chunkS >= CHUNK_S) {
      const over = spell.chunkRum > READING_SLACK * Math.max(cfg.maxRuminationRatio, cfg.stillRuminationRatio) * spell.chunkRumNormal;
      spell.chunkS = spell.chunkRum = spell.chunkRumNormal = 0;
      if (over) {
        resetCount(spell, r.ts);
        return;
      }
    }
  }
  if (rest) spell.restHours = true;
  const need = rumKnown ? cfg.hours : cfg.hoursWithoutRumination;
  if (spell.countedS < need * 3600) return;
  const actRatio = spell.act / spell.actNormal;
  const rumRatio = rumKnown ? spell.rum / spell.rumNormal : NaN;
  // Her spell as a whole. In her active hours: rumination at most half its normal — a cow lying down to
  // ruminate is resting, not down — or up to three quarters of it while stock-still: an injured cow down may
  // ruminate a little, but a resting cow moves her head and jaw, which a collar counts. Where the spell
  // reaches into hours she normally rests: rumination nearly stopped (a resting cow ruminates most of the
  // time she lies), or stock-still with at most half her rumination.
  const down = !rumKnown
    ? true
    : spell.restHours
      ? rumRatio <= cfg.restRuminationRatio || (actRatio <= cfg.stillActivityRatio && rumRatio <= cfg.maxRuminationRatio)
      : rumRatio <= cfg.maxRuminationRatio || (actRatio <= cfg.stillActivityRatio && rumRatio <= cfg.stillRuminationRatio);
  if (!down) {
    // Twice the hours and not down: a long rest, not a cow down. The count starts again, so what she did
    // hours ago cannot dilute what she does now.
    if (spell.countedS >= 2 * need * 3600) resetCount(spell, r.ts);
    return;
  }
  // A constant signal is judged as a collar: not while it covers the spell, nor while an all-zero run has
  // begun (a flat line starting: a cow down still moves and ruminates a little). One reading is not a
  // constant signal, however long it is (a collar reporting every two hours).
  const sig = s.run;
  if (sig && ((sig.n >= 2 && sig.from <= spell.from) || isFlat(sig))) return;
  push(raise(s.alerts, s.subject, 'down_cow', {
    at: r.ts,
    since: spell.from,
    severity: 'urgent',
    evidence: {
      metric: 'activity',
      ratio: round(actRatio),
      ...(rumKnown && { ruminationRatio: round(rumRatio) }),
      ruminationKnown: rumKnown,
      window: { from: iso(spell.from), to: iso(r.ts), hours: round((r.ts - spell.from) / HOUR_MS) },
    },
    cooldownMs: cfg.cooldownHours * HOUR_MS,
  }));
  delete s.down;
}

/** How loosely a quarter-hour is held to the spell's rumination lines (see judgeDownReading). */
const READING_SLACK = 1.5;
const CHUNK_S = 15 * 60;

function newSpell(from: number): DownSpell {
  return { from, last: from, countedS: 0, act: 0, actNormal: 0, rum: 0, rumNormal: 0, chunkS: 0, chunkRum: 0, chunkRumNormal: 0, rumination: false, restHours: false };
}

/** The spell goes on (she has not got up), but what counts towards calling her down starts again. */
function resetCount(spell: DownSpell, last: number): void {
  Object.assign(spell, newSpell(spell.from), { last });
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
