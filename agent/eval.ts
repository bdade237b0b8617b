import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadIceTag } from '../bench/icetag.js';
import { simulateVariedHerd, type VariedTruthEpisode } from '../collar-sim/index.js';
import { DAY_MS, FarmDetector, HOUR_MS, type AlertEvent, type AlertType, type CowRecord, type Reading, type RuleSet } from '../rules/index.js';

/**
 * The scorecard (`cowbell eval`): seeded herds replayed through the same rules core as the agent — in the
 * order a gateway receives them, late, out of order and duplicated (duplicates dropped, as the store drops
 * them), with the same 15-minute cap on
 * readings stamped ahead of their arrival — scored against the simulator's ground truth; and real exports
 * replayed for alerts per cow-month. Offline: no broker, no store, no notifier.
 *
 * How an alert is matched to an episode: an alert of type T raised (its `raisedAt`, event time) for a cow
 * matches an episode of that cow whose truth type maps to T (below) when it is raised between the
 * episode's start and its end + 12 h. An episode is found when at least one alert matches it; its delay is
 * from the episode's start to the first matching alert (to its raisedAt, and to the arrival of the reading
 * whose turn raised it: when the farmer is told). An alert matching no episode is false; a false
 * heat or health alert raised during a herd-wide event (start to end + 12 h) on a cow it affected is
 * counted as raised by that event (a schedule change: its first three days). A collar_offline alert on a
 * collar behind a delivery gap (a gateway or radio outage) is not false: it was not heard. Silent heats are
 * reported apart and not counted in heat sensitivity; an alert matching a silent heat is not false.
 *
 * Alert times are event times, on the clock of the collar that stamped the readings, while the truth is in
 * true time: before matching, each alert's raisedAt has its cow's collar clock error (from the truth) taken
 * off, so a collar minutes behind does not raise a battery_low "before" the battery fell. (A collar_offline
 * alert is timed by the herd's clocks rather than its own; the few minutes this shifts it do not matter
 * against hours of outage.)
 */

const TOLERANCE_MS = 12 * HOUR_MS;
const MAX_AHEAD_MS = 15 * 60_000;
export const MONTH_DAYS = 30.44;

export const SCORED: AlertType[] = ['heat', 'health', 'down_cow', 'collar_fault', 'collar_offline', 'battery_low'];

function alertTypeOf(e: VariedTruthEpisode): AlertType | null {
  switch (e.type) {
    case 'heat': return 'heat';
    case 'illness': return 'health';
    case 'down_cow': return 'down_cow';
    case 'collar_fault': return e.subtype === 'battery_dying' ? null : 'collar_fault';
    case 'collar_offline': return 'collar_offline';
    case 'battery_low': return 'battery_low';
    default: return null;
  }
}

export interface TypeScore {
  episodes: number;
  found: number;
  sensitivity: number | null;
  /** Health only: found within 36 h of onset. */
  foundWithin36h?: number;
  /**
   * Health only: false alerts on a cow the herd register had due to calve, told as maybe her calving (the
   * message asks the farmer to answer "calved"): a calving's dip the register did not know of yet.
   */
  falseToldAsCalving?: number;
  alerts: number;
  truePositives: number;
  ppv: number | null;
  falseAlerts: number;
  falsePer100CowDays: number;
  delayMedianH: number | null;
  delayP90H: number | null;
  /**
   * From the onset to when the farmer could be told: the arrival (true time) of the reading whose turn
   * raised the alert — after the reordering hold and any wait for the herd — where `delay*` is from the
   * onset to the data the alert is about (its raisedAt).
   */
  toldDelayMedianH: number | null;
  toldDelayP90H: number | null;
  /**
   * How far the first matching alert's estimated onset (`since`, which a heat's insemination advice counts
   * from) lies from the episode's true start, in hours (positive: later): median, and the 10th and 90th
   * percentiles.
   */
  onsetErrorMedianH: number | null;
  onsetErrorP10H: number | null;
  onsetErrorP90H: number | null;
  /** Heat only: silent heats in the truth, and how many an alert matched anyway. */
  silent?: { episodes: number; found: number };
  /** False alerts raised during a herd-wide event on a cow it affected. */
  fromHerdEvents: number;
  /** down_cow only: episodes the farmer was told of within 2 h of onset (the line for a cow down). */
  toldWithin2h?: number;
  /**
   * Heat and down_cow: the same by how often the cow's collar reports (seconds): how soon an alert can come
   * turns on it (an hourly collar's heat needs three readings, a 2-hourly collar tells a cow down 2-4 h late).
   */
  byInterval?: Record<string, IntervalScore>;
}

export interface IntervalScore {
  episodes: number;
  found: number;
  delayMedianH: number | null;
  toldDelayMedianH: number | null;
  /** down_cow only: told within 2 h of onset. */
  toldWithin2h?: number;
}

export interface ScenarioOptions {
  seed: number;
  cows: number;
  days: number;
  /** Default 2026-01-05. */
  startMs?: number;
  /** The farm's IANA time zone (default UTC), for the herd's daily rhythm and the detector's "same hours on previous days". */
  timezone?: string;
  /**
   * Whether the farm keeps its herd register: each calving's day is given to the detector as the register
   * gives it (the date, not the hour), once the farmer has entered it — at 08:00 the morning after. Default
   * true; false scores a farm without one.
   */
  register?: boolean;
  /**
   * A stress test of the register's due dates: every cow that falls ill and does not calve in the run is in
   * the register as due at her illness (an insemination 280 days before its start), so that what the due
   * cow's calving sign (rules/rise.ts) costs a cow that falls ill while due shows on every illness.
   */
  dueAtIllness?: boolean;
  /**
   * Every collar reporting at this one interval (s), as on a farm that bought one model; default the varied
   * mix (mostly 15 minutes, some every minute to every 2 hours).
   */
  intervalS?: number;
  /** Cows as noisy as real ones: lying bouts and days that differ (collar-sim's `realNoise`). */
  realNoise?: boolean;
}

/**
 * Berlin's clocks go back an hour on 25 October 2026 at 01:00 UTC: a scenario on a farm there whose run
 * crosses that change 60 % of the way in, after the baselines have had weeks to settle.
 */
export function acrossDst(o: { seed: number; cows: number; days: number }): ScenarioOptions {
  return { ...o, timezone: 'Europe/Berlin', startMs: Date.UTC(2026, 9, 25) - Math.floor(0.6 * o.days) * DAY_MS };
}

/** How a scenario whose collars all report at one interval is named in the score and the CLI's progress. */
export const everyCollar = (intervalS: number | undefined) => (intervalS ? ` (every collar every ${intervalS / 60} min)` : '');

export interface ScenarioScore {
  seed: number;
  startMs: number;
  timezone?: string;
  /** Every collar's interval, where one was set (ScenarioOptions.intervalS). */
  intervalS?: number;
  /** Whether calvings were in the herd register (ScenarioOptions.register). */
  register: boolean;
  /** ScenarioOptions.dueAtIllness, where set. */
  dueAtIllness?: boolean;
  /** ScenarioOptions.realNoise, where set. */
  realNoise?: boolean;
  cows: number;
  days: number;
  cowDays: number;
  readings: number;
  seconds: number;
  byType: Record<string, TypeScore>;
  /** Missed cycles flagged, and how many followed a heat that was silent or not found (see scoreScenario). */
  missedHeat: { alerts: number; explained: number; per100CowDays: number };
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]! : null);
const quantile = (xs: number[], q: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]! : null);
const p90 = (xs: number[]) => quantile(xs, 0.9);
const round = (x: number | null, d = 2) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

/**
 * The herd register a farmer keeps: the insemination each calving cow conceived from, known from the start
 * (months before the run), and each cow's calving, as dates on the farm's clock, the calving entered at
 * 08:00 the morning after (what the detector judged before that, it judged without it). `enter(now)` gives
 * the detector every calving entered by `now` (arrival time, the gateway's clock). Cows that stay in calf all
 * run long, and inseminations during the run, are not in it; with `dueAtIllness`, see ScenarioOptions.
 */
function calvingRegister(det: FarmDetector, truth: VariedTruthEpisode[], dueAtIllness = false): (now: number) => void {
  const calvings = truth.filter((e) => e.type === 'calving' && typeof e.params?.calvingAt === 'number');
  const records = new Map<string, CowRecord>();
  if (dueAtIllness) {
    const calvers = new Set(calvings.map((e) => e.cowId));
    // Her first illness, if she has more than one.
    for (const e of truth.filter((e) => e.type === 'illness' && !calvers.has(e.cowId)).sort((a, b) => b.start - a.start)) {
      records.set(e.cowId, { inseminatedAt: det.dayStart(det.localDate(e.start - 280 * DAY_MS)) });
    }
  }
  for (const e of calvings) {
    const served = e.params!.servedAt;
    if (typeof served === 'number') records.set(e.cowId, { inseminatedAt: det.dayStart(det.localDate(served)) });
  }
  det.setRecords(new Map(records));
  const due = calvings
    .map((e) => {
      const calvedAt = det.dayStart(det.localDate(e.params!.calvingAt!));
      return { cowId: e.cowId, calvedAt, enteredAt: calvedAt + DAY_MS + 8 * HOUR_MS };
    })
    .sort((a, b) => a.enteredAt - b.enteredAt);
  let next = 0;
  return (now) => {
    if (next >= due.length || due[next]!.enteredAt > now) return;
    while (next < due.length && due[next]!.enteredAt <= now) {
      const { cowId, calvedAt } = due[next++]!;
      records.set(cowId, { ...records.get(cowId), calvedAt });
    }
    det.setRecords(new Map(records));
  };
}

export function scoreScenario(rules: RuleSet, o: ScenarioOptions): ScenarioScore {
  const startMs = o.startMs ?? Date.UTC(2026, 0, 5);
  const timezone = o.timezone ? { timezone: o.timezone } : {};
  const sim = simulateVariedHerd({ farmId: 'eval', cows: o.cows, startMs, days: o.days, seed: o.seed, ...timezone, ...(o.intervalS && { intervals: [o.intervalS] }), ...(o.realNoise && { realNoise: true }) });
  const det = new FarmDetector('eval', rules, { maxAheadOfArrivalMs: MAX_AHEAD_MS, ...timezone });
  const enter = o.register !== false ? calvingRegister(det, sim.truth, o.dueAtIllness) : () => {};
  const skew = new Map(sim.cows.map((c) => [c.cowId, c.clockSkewMs]));
  const intervalOf = new Map(sim.cows.map((c) => [c.cowId, c.intervalS]));
  const raised: (AlertEvent & { toldAt: number })[] = []; // raisedAt in true time
  let readings = 0;
  const t0 = performance.now();
  // The agent's store keeps one reading per collar and time (UNIQUE (collar_id, ts)) and hands only new ones
  // to the rules: a backlog's duplicates are dropped here as they are there.
  const seen = new Set<string>();
  for (const { arrivedAt, reading } of sim.arrivals()) {
    const key = `${reading.collarId}@${reading.ts}`;
    if (seen.has(key)) continue;
    seen.add(key);
    readings++;
    enter(arrivedAt);
    for (const e of det.observe(reading, reading.collarId, arrivedAt).events) {
      const off = skew.get(e.cowId) ?? 0;
      if (e.state === 'firing') raised.push({ ...e, raisedAt: e.raisedAt - off, since: e.since - off, toldAt: arrivedAt });
    }
  }
  const seconds = (performance.now() - t0) / 1000;

  const episodes = sim.truth.filter((e) => alertTypeOf(e) !== null);
  // A schedule change lasts to the end of the run; what it can raise is in its first days.
  const herdEvents = sim.truth
    .filter((e) => e.type === 'herd_event')
    .map((e) => (e.subtype === 'schedule_change' ? { ...e, end: Math.min(e.end, e.start + 3 * DAY_MS) } : e));
  const gaps = sim.truth.filter((e) => e.type === 'delivery_gap');
  const cowDays = o.cows * o.days;
  const byType: Record<string, TypeScore> = {};
  for (const type of SCORED) {
    const eps = episodes.filter((e) => alertTypeOf(e) === type);
    const alerts = raised.filter((a) => a.type === type);
    const matches = (a: AlertEvent, e: VariedTruthEpisode) => a.cowId === e.cowId && a.raisedAt >= e.start && a.raisedAt <= e.end + TOLERANCE_MS;
    const delays: number[] = [];
    const toldDelays: number[] = [];
    const onsetErrors: number[] = [];
    let found = 0;
    let within36 = 0;
    let silentFound = 0;
    let toldWithin2h = 0;
    const perInterval = new Map<number, { episodes: number; delays: number[]; told: number[]; within2h: number }>();
    for (const e of eps) {
      const iv = e.silent ? undefined : intervalOf.get(e.cowId);
      const slot = iv === undefined ? undefined : perInterval.get(iv) ?? perInterval.set(iv, { episodes: 0, delays: [], told: [], within2h: 0 }).get(iv)!;
      if (slot) slot.episodes++;
      const first = alerts.filter((a) => matches(a, e)).sort((x, y) => x.raisedAt - y.raisedAt)[0];
      if (!first) continue;
      if (e.silent) {
        silentFound++;
        continue;
      }
      found++;
      const delay = Math.max(0, first.raisedAt - e.start);
      const told = Math.max(0, first.toldAt - e.start);
      delays.push(delay / HOUR_MS);
      toldDelays.push(told / HOUR_MS);
      onsetErrors.push((first.since - e.start) / HOUR_MS);
      if (delay <= 36 * HOUR_MS) within36++;
      if (told <= 2 * HOUR_MS) toldWithin2h++;
      slot?.delays.push(delay / HOUR_MS);
      slot?.told.push(told / HOUR_MS);
      if (slot && told <= 2 * HOUR_MS) slot.within2h++;
    }
    const byInterval: Record<string, IntervalScore> = {};
    for (const [iv, x] of [...perInterval].sort((a, b) => a[0] - b[0])) {
      byInterval[iv] = { episodes: x.episodes, found: x.delays.length, delayMedianH: round(median(x.delays), 1), toldDelayMedianH: round(median(x.told), 1), ...(type === 'down_cow' && { toldWithin2h: x.within2h }) };
    }
    // A collar not heard during a delivery gap (a gateway or radio outage) was truly not heard: not false.
    const explained = (a: AlertEvent) =>
      type === 'collar_offline' && gaps.some((g) => (g.cows ?? []).includes(a.cowId) && a.raisedAt >= g.start && a.raisedAt <= g.end + TOLERANCE_MS);
    const falseOnes = alerts.filter((a) => !eps.some((e) => matches(a, e)) && !explained(a));
    const truePositives = alerts.length - falseOnes.length;
    const fromHerd = type === 'heat' || type === 'health'
      ? falseOnes.filter((a) => herdEvents.some((h) => (h.cows ?? []).includes(a.cowId) && a.raisedAt >= h.start && a.raisedAt <= h.end + TOLERANCE_MS)).length
      : 0;
    const scored = eps.filter((e) => !e.silent).length;
    byType[type] = {
      episodes: scored,
      found,
      sensitivity: scored ? round(found / scored, 3) : null,
      ...(type === 'health' && { foundWithin36h: within36, falseToldAsCalving: falseOnes.filter((a) => a.evidence.dueToCalve === true).length }),
      alerts: alerts.length,
      truePositives,
      ppv: alerts.length ? round(truePositives / alerts.length, 3) : null,
      falseAlerts: falseOnes.length,
      falsePer100CowDays: round((falseOnes.length / cowDays) * 100, 3)!,
      delayMedianH: round(median(delays), 1),
      delayP90H: round(p90(delays), 1),
      toldDelayMedianH: round(median(toldDelays), 1),
      toldDelayP90H: round(p90(toldDelays), 1),
      onsetErrorMedianH: round(median(onsetErrors), 2),
      onsetErrorP10H: round(quantile(onsetErrors, 0.1), 2),
      onsetErrorP90H: round(quantile(onsetErrors, 0.9), 2),
      ...(type === 'heat' && { silent: { episodes: eps.length - scored, found: silentFound } }),
      fromHerdEvents: fromHerd,
      ...(type === 'down_cow' && { toldWithin2h }),
      ...((type === 'heat' || type === 'down_cow') && { byInterval }),
    };
  }
  // A missed cycle is explained when she did have a heat in the run-up to it that no heat alert matched: a
  // silent one, or one the detector missed. Otherwise the flag was false (her heats were all found).
  const heats = sim.truth.filter((e) => e.type === 'heat');
  const heatAlerts = raised.filter((a) => a.type === 'heat');
  const missed = raised.filter((a) => a.type === 'missed_heat');
  const explainedMissed = missed.filter((a) =>
    heats.some((h) => h.cowId === a.cowId && h.start >= a.since + 14 * DAY_MS && h.start <= a.raisedAt &&
      !heatAlerts.some((x) => x.cowId === h.cowId && x.raisedAt >= h.start && x.raisedAt <= h.end + TOLERANCE_MS)),
  ).length;
  const missedHeat = { alerts: missed.length, explained: explainedMissed, per100CowDays: round((missed.length / cowDays) * 100, 3)! };
  return { seed: o.seed, startMs, ...timezone, ...(o.intervalS && { intervalS: o.intervalS }), register: o.register !== false, ...(o.dueAtIllness && { dueAtIllness: true }), ...(o.realNoise && { realNoise: true }), cows: o.cows, days: o.days, cowDays, readings, seconds: round(seconds, 1)!, byType, missedHeat };
}

/**
 * Real exports: the IceTag files (../shared/data/icetag, their own format) and any CSV in Cowbell's
 * documented form — a header row naming `collarId`, `ts` (ISO-8601 with zone, or epoch ms), `activity`,
 * and optionally `intervalS` (default 900), `rumination`, `lying`, `batteryPct` — one reading a row.
 */
export function readCsvReadings(text: string, file: string): Reading[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  const header = lines.shift()?.split(',').map((h) => h.trim()) ?? [];
  const col = (name: string) => header.indexOf(name);
  for (const need of ['collarId', 'ts', 'activity']) if (col(need) < 0) throw new Error(`${file}: no "${need}" column (header: ${header.join(',')})`);
  const out: Reading[] = [];
  for (const line of lines) {
    const f = line.split(',');
    const rawTs = f[col('ts')]!.trim();
    const ts = /^\d+$/.test(rawTs) ? Number(rawTs) : Date.parse(rawTs);
    const activity = Number(f[col('activity')]);
    if (!Number.isFinite(ts) || !Number.isFinite(activity)) continue;
    const r: Reading = { collarId: f[col('collarId')]!.trim(), ts, intervalS: col('intervalS') >= 0 ? Number(f[col('intervalS')]) || 900 : 900, activity };
    for (const k of ['rumination', 'lying', 'batteryPct'] as const) {
      const v = col(k) >= 0 ? Number(f[col(k)]) : NaN;
      if (Number.isFinite(v) && f[col(k)]!.trim() !== '') r[k] = v;
    }
    out.push(r);
  }
  return out.sort((a, b) => a.ts - b.ts);
}

export interface RealScore {
  source: string;
  cows: number;
  cowDays: number;
  cowMonths: number;
  alerts: Record<string, number>;
  perCowMonth: Record<string, number>;
}

/** Replays readings (sorted by ts) through one farm detector, each arriving as it is stamped; `onAlert` sees every alert raised. */
export function scoreReal(rules: RuleSet, source: string, readings: Reading[], onAlert?: (e: AlertEvent) => void): RealScore {
  const r = replayReal(rules, readings, onAlert);
  return realScore(source, r.cows, r.cowDays, r.alerts);
}

function replayReal(rules: RuleSet, readings: Reading[], onAlert?: (e: AlertEvent) => void) {
  const det = new FarmDetector('eval', rules);
  const alerts: Record<string, number> = {};
  const span = new Map<string, [number, number]>();
  for (const r of readings) {
    const s = span.get(r.collarId);
    span.set(r.collarId, s ? [Math.min(s[0], r.ts), Math.max(s[1], r.ts)] : [r.ts, r.ts]);
    for (const e of det.observe(r, r.collarId, r.ts).events) {
      if (e.state !== 'firing') continue;
      alerts[e.type] = (alerts[e.type] ?? 0) + 1;
      onAlert?.(e);
    }
  }
  const cowDays = [...span.values()].reduce((sum, [a, b]) => sum + (b - a) / DAY_MS, 0);
  return { cows: span.size, cowDays, alerts };
}

function realScore(source: string, cows: number, cowDays: number, alerts: Record<string, number>): RealScore {
  const cowMonths = cowDays / MONTH_DAYS;
  const perCowMonth = Object.fromEntries(Object.entries(alerts).map(([k, v]) => [k, round(v / cowMonths, 2)!]));
  return { source, cows, cowDays: round(cowDays, 1)!, cowMonths: round(cowMonths, 2)!, alerts, perCowMonth };
}

/**
 * The IceTag exports in `dir` (../shared/data/icetag: one cow a file, see bench/icetag.ts), each cow replayed
 * on her own and the figures summed in `all`. On their own because the exports cover different weeks: as one
 * herd, the cows whose export ended first would be found silent once the others' readings moved the farm's
 * clock on. Null when the folder is missing or holds no export.
 */
export function scoreIceTag(rules: RuleSet, dir: string, onAlert?: (cow: string, e: AlertEvent) => void): { cows: RealScore[]; all: RealScore } | null {
  if (!existsSync(dir)) return null;
  const files = readdirSync(dir).filter((f) => f.endsWith('.csv')).sort();
  if (files.length === 0) return null;
  const all = { cows: 0, cowDays: 0, alerts: {} as Record<string, number> };
  const cows = files.map((f) => {
    const id = f.replace(/\.csv$/, '');
    const r = replayReal(rules, loadIceTag(join(dir, f), id), onAlert && ((e) => onAlert(id, e)));
    all.cows += r.cows;
    all.cowDays += r.cowDays;
    for (const [k, v] of Object.entries(r.alerts)) all.alerts[k] = (all.alerts[k] ?? 0) + v;
    return realScore(id, r.cows, r.cowDays, r.alerts);
  });
  return { cows, all: realScore(`IceTag (${files.length} cows)`, all.cows, all.cowDays, all.alerts) };
}

export function csvSources(dir: string): { name: string; readings: Reading[] }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .map((f) => ({ name: f, text: readFileSync(join(dir, f), 'utf8') }))
    .filter((f) => f.text.split('\n', 1)[0]!.split(',').map((h) => h.trim()).includes('collarId'))
    .map((f) => ({ name: f.name, readings: readCsvReadings(f.text, f.name) }));
}

export function formatScore(s: ScenarioScore): string {
  const pct = (x: number | null) => (x === null ? '   —  ' : `${(x * 100).toFixed(1).padStart(5)}%`);
  const h = (x: number | null) => (x === null ? '   —' : x.toFixed(1).padStart(5));
  const signed = (x: number | null) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(1)}`);
  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  const where =
    (s.timezone ? ` (${s.timezone}, ${day(s.startMs)} to ${day(s.startMs + s.days * DAY_MS)})` : '') +
    everyCollar(s.intervalS) +
    (s.register ? '' : ', no herd register') +
    (s.dueAtIllness ? ', every sick cow due to calve' : '') +
    (s.realNoise ? ', cows as noisy as real ones' : '');
  const lines = [
    `seed ${s.seed}${where}: ${s.cows} cows × ${s.days} days (${s.readings.toLocaleString('en')} readings in arrival order, replayed in ${s.seconds} s)`,
    `  type            episodes  found  sensitivity   alerts   PPV     false/100 cow-days  delay med / p90 h  told med / p90 h  from herd events`,
  ];
  for (const [type, t] of Object.entries(s.byType)) {
    const extra = t.foundWithin36h !== undefined ? `  (within 36 h: ${t.foundWithin36h}; false told as maybe calving: ${t.falseToldAsCalving ?? 0})` : t.silent ? `  (silent heats: ${t.silent.found}/${t.silent.episodes} found anyway; onset ${signed(t.onsetErrorMedianH)} h off, ${signed(t.onsetErrorP10H)} to ${signed(t.onsetErrorP90H)})` : '';
    lines.push(
      `  ${type.padEnd(15)} ${String(t.episodes).padStart(8)} ${String(t.found).padStart(6)}  ${pct(t.sensitivity)}     ${String(t.alerts).padStart(6)}  ${pct(t.ppv)}  ${t.falsePer100CowDays.toFixed(3).padStart(8)}           ${h(t.delayMedianH)} / ${h(t.delayP90H)}     ${h(t.toldDelayMedianH)} / ${h(t.toldDelayP90H)}    ${String(t.fromHerdEvents).padStart(4)}${extra}`,
    );
  }
  for (const type of ['heat', 'down_cow'] as const) {
    const t = s.byType[type];
    if (!t?.byInterval) continue;
    const parts = Object.entries(t.byInterval).map(([iv, x]) => {
      const every = Number(iv) < 3600 ? `${Number(iv) / 60} min` : `${Number(iv) / 3600} h`;
      const within = x.toldWithin2h !== undefined ? `, told within 2 h ${x.toldWithin2h}` : '';
      return `${every}: ${x.found}/${x.episodes}, ${h(x.delayMedianH).trim()} / told ${h(x.toldDelayMedianH).trim()} h${within}`;
    });
    if (parts.length) lines.push(`  ${type} by how often the collar reports (found, median delay): ${parts.join('; ')}`);
  }
  const m = s.missedHeat;
  lines.push(`  missed_heat     ${String(m.alerts).padStart(6)} flagged (${m.per100CowDays.toFixed(3)}/100 cow-days), ${m.explained} after a heat that was silent or not found`);
  return lines.join('\n');
}
