import { raise, resolve } from './alerts.js';
import { DAY_MS, HOUR_MS } from './baseline.js';
import type { Channel, ChannelRun, CowState, FaultSignature, Push, RuleContext, SignalRuns } from './context.js';
import { iso, round } from './evidence.js';
import { newSum } from './history.js';
import type { Reading } from './reading.js';

const CHANNELS: readonly Channel[] = ['act', 'rum', 'lie'];
const NAMES = { act: 'activity', rum: 'rumination', lie: 'lying' } as const;

/**
 * How unlikely a live collar's run of repeats must be before it is called stuck. A live count of about v
 * repeats the one before with a chance of about 1/sqrt(4*pi*v) (two draws of a Poisson count; a real
 * collar's counts spread wider, so repeat less): the run of n readings is the collar when that chance to the
 * (n-1)th power is under one in a million. Signals that repeat together multiply their chances. Activity
 * of about 60 in a quarter-hour (chance 0.036) needs five repeats alone, with rumination and lying stuck
 * beside it two; a cow lying still, reading 2 an hour, would need nine, and a reading of her signals at
 * rest is never counted (below). Each run must also last `stuckHours`.
 */
const STUCK_CHANCE = 1e-6;

/**
 * The values a live cow holds for hours and which prove nothing repeated: no activity (lying still), and
 * none or all of the interval ruminating or lying. A cow lies for three hours or eats for two without
 * chewing; no cow ruminates at exactly 7 minutes a quarter-hour for three hours.
 */
function atRest(ch: Channel, v: number, intervalS: number): boolean {
  return v <= 0 || (ch !== 'act' && v >= intervalS / 60);
}

/** The chance a live reading of `v` repeats exactly (for minutes of an interval, counted from the nearer end). */
function repeatChance(ch: Channel, v: number, intervalS: number): number {
  const count = ch === 'act' ? v : Math.min(v, intervalS / 60 - v);
  return Math.min(0.5, 1 / Math.sqrt(4 * Math.PI * Math.max(1, count)));
}

/** Flat: activity exactly zero (not on a tag saying she lies) with rumination, where reported, zero too. */
function flatRun(runs: SignalRuns): ChannelRun | null {
  const act = runs.act;
  if (!act || act.v !== 0) return null;
  const rum = runs.rum;
  if (rum === null) return act;
  return rum.v === 0 ? (rum.n < act.n ? rum : act) : null;
}

/**
 * The run every signal the collar reports is in together (the shortest of theirs), or null; for a cow down,
 * whose readings repeated are her collar rather than her (down-cow.ts).
 */
export function wholeRun(runs: SignalRuns | null): ChannelRun | null {
  if (!runs?.act) return null;
  let shortest = runs.act;
  for (const ch of CHANNELS) {
    const run = runs[ch];
    if (run && run.n < shortest.n) shortest = run;
  }
  return shortest;
}

/**
 * A run of repeats the health rule will not read as her until the collar has been judged: a hundredth, over
 * an hour at least (a live cow's 40 minutes of rumination in 2 hours repeats three readings running about
 * once in 500 runs, and the hour's wait it costs her then is all it costs). Told stuck only at a millionth,
 * a rumination sensor stuck low on a collar reporting every 2 hours was read as a cow off her feed two
 * readings before its repeats told the collar (the scorecard, seed 41); and a low value repeats by chance
 * more often than a middling one, so its hold starts later while a deeper drop calls her sooner.
 */
const SUSPECT_CHANCE = 1e-2;
const LOG_SUSPECT = Math.log(SUSPECT_CHANCE);
const LOG_STUCK = Math.log(STUCK_CHANCE);

/**
 * Whether her signals repeat as a live cow's hardly ever do (each alone, or those repeating together, their
 * chances multiplied as stuckFault does), in the readings before the collar's verdict: what they say of her
 * waits for it. Only until then: not while a collar fault is open (the farmer has been told; its stuck
 * signals are kept out, and a second signal sticking beside it is not told), nor once a run is past the
 * line it is told at (held back by the cooldown, it holds nothing of hers back).
 */
export function suspectRun(s: CowState, stuckHours: number): boolean {
  const runs = s.runs;
  if (!runs || s.alerts.open.collar_fault) return false;
  let together: ChannelRun | null = null;
  let logTogether = 0;
  for (const ch of CHANNELS) {
    const run = runs[ch];
    if (!run || run.n < 2) continue;
    const intervalS = run.coveredS / run.n;
    if (atRest(ch, run.v, intervalS)) continue;
    const logChance = Math.log(repeatChance(ch, run.v, intervalS));
    if (beforeVerdict(run, (run.n - 1) * logChance, stuckHours)) return true;
    if (!together || run.n < together.n) together = run;
    logTogether += logChance;
  }
  return together !== null && beforeVerdict(together, (together.n - 1) * logTogether, stuckHours);
}

/** Whether a run whose repeats have a chance of e^`logChance` is suspect and not yet past the stuck line. */
function beforeVerdict(run: ChannelRun, logChance: number, stuckHours: number): boolean {
  if (logChance <= LOG_STUCK && run.coveredS >= stuckHours * 3600) return false;
  return logChance <= LOG_SUSPECT && run.coveredS >= 3600;
}

/** Whether the newest readings are a flat line starting (for the down rule: a cow down still moves a little). */
export const flatStarting = (runs: SignalRuns | null): boolean => !!runs && flatRun(runs) !== null;

/**
 * A collar gone wrong, told from its signals' runs of identical readings: a flat line (activity and
 * rumination exactly zero for `flatHours`), or one or more signals stuck on a value no live cow repeats for
 * `stuckHours` (STUCK_CHANCE) while the others may still vary: a frozen accelerometer or a dead rumination
 * microphone. Judged on newest readings only, in event time (`dayMedian`: her median hour over the day before,
 * as cow.ts reads it); it resolves when no signal it holds is still stuck.
 */
export function judgeSignal(ctx: RuleContext, r: Reading, push: Push, dayMedian: number): void {
  const cfg = ctx.rules.collarFault;
  const s = ctx.state;
  const runs = (s.runs ??= { act: null, rum: null, lie: null });
  // No movement is what a lying cow's leg or neck tag reads: where the tag reports her lying, zeros are
  // explained and do not count towards a flat line.
  const lyingAll = r.lying !== undefined && r.lying >= 0.9 * (r.intervalS / 60);
  let broken = 0;
  broken |= step(runs, 'act', lyingAll && r.activity === 0 ? undefined : r.activity, r) << 0;
  broken |= step(runs, 'rum', r.rumination, r) << 1;
  broken |= step(runs, 'lie', r.lying, r) << 2;
  const open = s.alerts.open.collar_fault;
  if (open?.evidence.kind === 'impossible') return;
  const held = s.fault && s.fault.to === undefined ? s.fault : null;
  // (An open signature outliving its alert would drop her readings of those values for ever.)
  if (!open && held) held.to = r.ts - r.intervalS * 1000;
  if (open && held) {
    // A signal it holds reading anything else (or a flat line's activity explained by her lying) is true
    // again; the fault is over when no signal it holds is still stuck on a value a live cow does not keep
    // (two sensors gone at different times come back at different times).
    let broke = false, left = 0;
    for (let k = 0; k < CHANNELS.length; k++) {
      const ch = CHANNELS[k]!, v = held[ch];
      if (v === undefined) continue;
      if (broken & (1 << k)) broke = true;
      else if (!atRest(ch, v, r.intervalS)) left++;
    }
    if (broke && !left) {
      held.to = r.ts - r.intervalS * 1000;
      back(s, r, push);
      return;
    }
    if (broke) for (let k = 0; k < CHANNELS.length; k++) if (broken & (1 << k)) delete held[CHANNELS[k]!];
    if (held.act !== undefined) return;
  } else if (open && open.evidence.kind !== 'spikes') {
    back(s, r, push);
    return;
  }
  // Nothing open, or a signal stuck alone or a spiking collar, whose activity may yet stick or flatline:
  // then the fault grows to the whole collar (her rules wait), within the alert already told.
  const fault = flatFault(runs, cfg.flatHours) ?? stuckFault(runs, cfg.stuckHours, r.intervalS) ?? (open ? null : lyingWhileActive(ctx, runs, r, dayMedian));
  if (!fault || (open && !fault.channels.includes('act'))) return;
  const { channels, run, flat } = fault;
  const hours = (run.coveredS * 1000) / HOUR_MS;
  const metric = channels[0]!;
  const event = open
    ? null
    : raise(s.alerts, s.subject, 'collar_fault', {
        at: r.ts,
        since: run.from,
        severity: 'warning',
        evidence: {
          kind: flat ? 'flat' : 'stuck',
          metric: NAMES[metric],
          value: runs[metric]!.v,
          ...(metric === 'act' && runs.rum && channels.includes('rum') && { rumination: runs.rum.v }),
          ...(metric !== 'lie' && runs.lie && channels.includes('lie') && { lying: runs.lie.v }),
          ...(fault.activityRatio !== undefined && { activityRatio: round(fault.activityRatio) }),
          hours: round(hours, 1),
        },
        cooldownMs: cfg.cooldownHours * HOUR_MS,
      });
  // Refused (a collar fault resolved less than the cooldown ago): nothing is held as the collar's, or her
  // readings of those values would be dropped for ever after.
  if (!open && !event) return;
  // The hours the fault has covered so far held no true data: drop them from her history, so a stuck or
  // flat stretch cannot later read as a sick cow or drag her baseline. Activity stuck is the whole collar
  // (her rules wait while it lasts, cow.ts); a signal stuck beside a live activity is dropped alone.
  const first = Math.floor(run.from / HOUR_MS), last = Math.floor((r.ts - 1) / HOUR_MS);
  if (channels.includes('act')) ctx.history.clear(first, last);
  else for (const ch of channels) ctx.history.forget(ch as 'rum' | 'lie', first, last);
  // Her trend has taken in some of those hours too: it starts again when the collar reads true. So does a
  // spell of stillness the flat line began (the down rule holds back from a flat run, not from a spell
  // that outlives it): kept, it was a cow down, urgent, at the first true reading after the fault.
  if (channels.includes('act') || channels.includes('rum')) delete s.trend;
  if (s.down) delete s.down;
  const signature: FaultSignature = { from: open && held ? Math.min(held.from, run.from) : run.from };
  for (const ch of channels) signature[ch] = runs[ch]!.v;
  s.fault = signature;
  push(event);
}

/**
 * Whether an open collar fault leaves nothing of hers to judge: readings no cow can make, or her activity
 * stuck or flat (a signal stuck alone, or a spiking collar's bursts, are kept out and the rest judged).
 */
export function blinds(s: CowState): boolean {
  const open = s.alerts.open.collar_fault;
  return !!open && (open.evidence.kind === 'impossible' || (s.fault !== undefined && s.fault.to === undefined && s.fault.act !== undefined));
}

/** Resolves her collar fault at reading `r`, the collar reading true again (of `kind`, where its judge says). */
function back(s: CowState, r: Reading, push: Push, kind?: 'impossible' | 'spikes', rescaled = false): void {
  const evidence = { ...(kind && { kind }), metric: 'activity', value: r.activity, backAt: iso(r.ts), ...(rescaled && { rescaled: true }) };
  push(resolve(s.alerts, s.subject, 'collar_fault', { at: r.ts, evidence }));
}

/** Extends a signal's run with the newest reading's value, or starts it afresh; whether a run was broken (1). */
function step(runs: SignalRuns, ch: Channel, v: number | undefined, r: Reading): number {
  const run = runs[ch];
  if (v === undefined) {
    runs[ch] = null;
    return run ? 1 : 0;
  }
  if (run && run.v === v) {
    run.coveredS += r.intervalS;
    run.n++;
    return 0;
  }
  // A live cow's every reading starts a run: the one she has is reused, not a new object per reading.
  const from = r.ts - r.intervalS * 1000;
  if (!run) {
    runs[ch] = { v, from, coveredS: r.intervalS, n: 1 };
    return 0;
  }
  run.v = v;
  run.from = from;
  run.coveredS = r.intervalS;
  run.n = 1;
  return 1;
}

interface Fault {
  channels: Channel[];
  /** The run the fault covers (of all its signals together). */
  run: ChannelRun;
  flat: boolean;
  /** Lying stuck: her activity over the run against her day's median hour. */
  activityRatio?: number;
}

function flatFault(runs: SignalRuns, flatHours: number): Fault | null {
  const run = flatRun(runs);
  if (!run || run.coveredS < flatHours * 3600) return null;
  const channels: Channel[] = runs.rum ? ['act', 'rum'] : ['act'];
  if (runs.lie && runs.lie.v === 0 && runs.lie.n >= run.n) channels.push('lie');
  return { channels, run, flat: true };
}

/**
 * Whether her activity repeats too, over at least half of another signal's run: then the whole collar may be
 * stuck (a stuck collar's first reading can differ in activity), told when its run is long enough, rather
 * than one signal now and the activity it holds read as hers.
 */
function activityRepeats(runs: SignalRuns, run: ChannelRun, intervalS: number): boolean {
  return !!runs.act && 2 * runs.act.n > run.n && !atRest('act', runs.act.v, intervalS);
}

/**
 * Signals stuck: all those not at rest repeating together (their chances multiplied), else any one alone;
 * each run at least `stuckHours` long.
 */
function stuckFault(runs: SignalRuns, stuckHours: number, intervalS: number): Fault | null {
  // A live cow's newest readings repeat nothing, nearly always: said before anything is made.
  if (!(runs.act && runs.act.n > 1) && !(runs.rum && runs.rum.n > 1) && !(runs.lie && runs.lie.n > 1)) return null;
  const minS = stuckHours * 3600;
  const logLine = LOG_STUCK;
  let together: ChannelRun | null = null;
  let logTogether = 0;
  const channels: Channel[] = [];
  for (const ch of CHANNELS) {
    const run = runs[ch];
    if (!run || run.n < 2 || atRest(ch, run.v, intervalS)) continue;
    channels.push(ch);
    if (!together || run.n < together.n) together = run;
    logTogether += Math.log(repeatChance(ch, run.v, intervalS));
  }
  if (!together) return null;
  if (together.coveredS >= minS && (together.n - 1) * logTogether <= logLine) return { channels, run: together, flat: false };
  for (const ch of channels) {
    const run = runs[ch]!;
    // A sensor stuck alone is told beside an activity that lives.
    if (ch !== 'act' && activityRepeats(runs, run, intervalS)) continue;
    if (run.coveredS >= minS && (run.n - 1) * Math.log(repeatChance(ch, run.v, intervalS)) <= logLine) return { channels: [ch], run, flat: false };
  }
  return null;
}

/**
 * Her activity while a tag that reports lying says she lay every minute, against the median of her hours
 * over the day before, at or above which the lying sensor is stuck: a cow lying does not walk. On the three
 * real IceTag cows, every stretch of three hours or more lain whole read at most 0.19 of it (12 stretches);
 * a stuck sensor on a cow up and about reads about 1.
 */
const LYING_ACTIVE = 0.5;
/**
 * And lain whole for at least this long: a cow's lying bouts last about an hour and a half on average, and
 * the real IceTag cows' longest lain whole was 4.25 h. (Our simulator's cows are not so still while lying:
 * at three hours, its collars reporting every 2 hours raised a false fault on most herds.)
 */
const LYING_STUCK_HOURS = 6;

/**
 * Lying stuck at the whole interval while she walks: a value a live cow holds (a long rest, a cow down), so
 * told by her activity over the run's whole hours instead of by its repeats.
 */
function lyingWhileActive(ctx: RuleContext, runs: SignalRuns, r: Reading, dayMedian: number): Fault | null {
  const intervalS = r.intervalS;
  const run = runs.lie;
  if (!run || run.coveredS < LYING_STUCK_HOURS * 3600 || run.v < intervalS / 60) return null;
  if (activityRepeats(runs, run, intervalS)) return null;
  const h = ctx.history;
  if (h.newest === null || !(dayMedian > 0)) return null;
  // The run's whole hours the history already holds (the newest reading is not in it yet).
  const first = Math.ceil(run.from / HOUR_MS), last = Math.min(h.newest, Math.floor((r.ts - intervalS * 1000) / HOUR_MS) - 1);
  if (last < first) return null;
  const { value, coveredS } = h.sum('act', first, last, scratch);
  const ratio = coveredS > 0 ? (value * 3600) / coveredS / dayMedian : 0;
  return ratio >= LYING_ACTIVE ? { channels: ['lie'], run, flat: false, activityRatio: ratio } : null;
}

const scratch = newSum();

/**
 * What of a reading is hers, given her open or last flat or stuck collar: all of it (`r`), the reading
 * without the signals a stuck sensor holds (a copy), or nothing when activity is the fault's. A reading
 * measured within the fault and reading what it read — live, or late in a backlog after a gateway outage,
 * before or after the fault was over (the true readings of a backlog after the collar mended are hers).
 */
export function hersOf(s: CowState, r: Reading): Reading | null {
  const sig = s.fault;
  if (!sig || r.ts <= sig.from || (sig.to !== undefined && r.ts > sig.to)) return r;
  if (sig.act !== undefined && r.activity !== sig.act) return r;
  if (sig.rum !== undefined && r.rumination !== sig.rum) return r;
  if (sig.lie !== undefined && r.lying !== sig.lie) return r;
  if (sig.act !== undefined) return null;
  const kept = { ...r };
  if (sig.rum !== undefined) delete kept.rumination;
  if (sig.lie !== undefined) delete kept.lying;
  return kept;
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
        back(s, r, push, 'impossible', rescaled);
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

/**
 * A burst the collar rather than the cow makes: a reading's rate at this many times her median hour over
 * the day before, times the square root of an hour over the reading's interval (a burst averaged over a
 * longer reading is lower, as a mean of more minutes), and for readings under a quarter-hour never less than
 * a quarter-hour's line holds: 7.5 hours of her median activity in the one reading (a real cow's minute can
 * hold several hours' worth: a cow running). On the three real IceTag cows summed into readings of 1, 5, 15
 * and 60 minutes, the highest tenth of a per mille of readings read 47-98, 29-49, 24-28 and 12-13 times
 * their day's median hour; over this line (450, 90, 30, 15) they came at most twice in a day, mostly never.
 * A heat's busiest hour is 2-4 times her normal for it, about 12 times her median hour: for readings of an
 * hour or more the line stays at 15, where the root alone would take a 2-hourly reading's to 10.6.
 */
const SPIKE_RATIO = 15;
/** Spikes within a day that say the collar: a loose or failing sensor sends them again and again. */
const SPIKES_PER_DAY = 4;

export const spikeLine = (intervalS: number): number => SPIKE_RATIO * Math.max(1, Math.sqrt(3600 / intervalS), 1800 / intervalS);

/**
 * A collar that keeps sending bursts no cow makes, among true readings (a loose sensor knocking, a failing
 * one): SPIKES_PER_DAY readings over the spike line within a day. Told as a collar fault; its bursts are
 * kept out of her history from then on, and the hours of those counted are forgotten (one such reading
 * reads as an hour of heat), while her true readings between them go on being judged. Resolved after a day
 * without one. Newest readings only.
 */
export function judgeSpikes(ctx: RuleContext, r: Reading, spike: boolean, push: Push): void {
  const s = ctx.state;
  const open = s.alerts.open.collar_fault;
  if (!spike) {
    const last = s.spikes?.at(-1);
    if (last === undefined || r.ts - last < DAY_MS) return;
    delete s.spikes;
    // A spiking collar gone stuck or flat as well is over when that is (judgeSignal).
    if (open?.evidence.kind === 'spikes' && !(s.fault && s.fault.to === undefined)) back(s, r, push, 'spikes');
    return;
  }
  // Only the last few are needed: how many fell within a day, and when the last came.
  const at = (s.spikes ??= []);
  at.push(r.ts);
  if (at.length > SPIKES_PER_DAY) at.shift();
  if (open || at.length < SPIKES_PER_DAY || at[0]! <= r.ts - DAY_MS) return;
  for (const ts of at) ctx.history.clear(Math.floor((ts - r.intervalS * 1000) / HOUR_MS), Math.floor((ts - 1) / HOUR_MS));
  delete s.trend;
  push(raise(s.alerts, s.subject, 'collar_fault', {
    at: r.ts,
    since: at[0]! - r.intervalS * 1000,
    severity: 'warning',
    evidence: { kind: 'spikes', metric: 'activity', value: r.activity, readings: at.length },
    cooldownMs: ctx.rules.collarFault.cooldownHours * HOUR_MS,
  }));
}
