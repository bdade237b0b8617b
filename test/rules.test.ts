import { describe, it, expect } from 'vitest';
import { simulateHerd } from '../collar-sim/index.js';
import { profileAt } from '../collar-sim/common.js';
import {
  CowDetector,
  DEFAULT_RULES,
  FarmDetector,
  localDays,
  resolveRules,
  RuleSetError,
  SNAPSHOT_VERSION,
  type AlertEvent,
  type CowRecord,
  type CowSnapshot,
  type Reading,
  type RuleSet,
} from '../rules/index.js';
import { CowHistory } from '../rules/history.js';
import { Normals } from '../rules/normal.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const Q = 900; // seconds per reading
const START = Date.UTC(2026, 0, 5);
/**
 * The rules these tests judge with: the defaults, with her health lines widened by her own day-to-day spread
 * alone. The cows here are steady by construction (each hour within ±15 %, so their days differ by 2-3 %;
 * real cows' by 10-20 %), and the defaults' floor for real cows' spread (health.trend.daySpread) would hide
 * the mild drops these tests are about. The floor has tests of its own ("unwell, on cows as noisy as real
 * ones").
 */
function steadyRules(overrides: object = {}): RuleSet {
  const r = resolveRules(overrides);
  r.health.trend.daySpread = { activity: 0, rumination: 0 };
  r.health.trend.steadyTrendSpreads = 0;
  return r;
}
const rules = steadyRules();

/** Deterministic noise in [0.85, 1.15): the detector needs day-to-day wobble, not randomness. */
function noise(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 0.85 + 0.3 * (s / 2 ** 32);
  };
}

interface StreamOpts {
  collarId?: string;
  days: number;
  from?: number;
  /** Multiplier of activity / rumination at time t (1 = her normal). */
  act?: (t: number) => number;
  rum?: (t: number) => number;
  rumination?: boolean;
  /** Multiplier of the minutes she lies; unset, her collar does not tell lying. */
  lying?: (t: number) => number;
  battery?: (t: number) => number | undefined;
  skip?: (t: number) => boolean;
  seed?: number;
}

/** One cow, a reading every 15 min, with a daily rhythm (busy day, quiet night). */
function stream(o: StreamOpts): Reading[] {
  const from = o.from ?? START;
  const rnd = noise(o.seed ?? 7);
  const out: Reading[] = [];
  for (let ts = from + Q * 1000; ts <= from + o.days * DAY; ts += Q * 1000) {
    const hour = ((ts - from) % DAY) / HOUR;
    const rhythm = 1 + 0.6 * Math.sin(((hour - 8) / 24) * 2 * Math.PI);
    const a = rnd(), b = rnd();
    if (o.skip?.(ts)) continue;
    const r: Reading = { collarId: o.collarId ?? 'C1', ts, intervalS: Q, activity: Math.round(120 * rhythm * a * (o.act?.(ts) ?? 1)) };
    if (o.rumination !== false) r.rumination = Math.min(15, 6 * (2 - rhythm / 1.6) * b * (o.rum?.(ts) ?? 1));
    // Lies most of the quiet night, least in the busy day: about 11 hours a day.
    if (o.lying) r.lying = Math.min(15, 7 * (2.3 - rhythm) * rnd() * o.lying(ts));
    const bat = o.battery?.(ts);
    if (bat !== undefined) r.batteryPct = bat;
    out.push(r);
  }
  return out;
}

/** MurmurHash3's finaliser over a seed and a number, in [0, 1): neighbouring numbers' draws are unrelated. */
function hash01(seed: number, n: number): number {
  let x = (n ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return ((x ^ (x >>> 16)) >>> 0) / 2 ** 32;
}

/**
 * A cow who lies down at no fixed hour: each hour of hers drawn afresh (a hash of her seed and the hour),
 * mostly lying or up and about (bench/realism.ts measures real cows' hours).
 */
const wandering = (seed: number, wild = false) => (t: number) => {
  // `wild`: drawn for two hours at a time, as she lies or is up for two hours at a time.
  const u = hash01(seed, Math.floor(t / (wild ? 2 * HOUR : HOUR)));
  // Two hours in five mostly lying, the rest up and about: 0.1-0.4 and 0.8-2.2 of her normal; `wild`,
  // 0.05-0.3 and 0.8-3, as the IceTag cows' hours run from under a tenth to over three times it.
  if (wild) return u < 0.4 ? 0.05 + 0.625 * u : 0.8 + (2.2 * (u - 0.4)) / 0.6;
  return u < 0.4 ? 0.1 + 0.75 * u : 0.8 + (1.4 * (u - 0.4)) / 0.6;
};

/** Multiplier `k` inside [start, end), 1 elsewhere. */
const during = (start: number, end: number, k: number) => (t: number) => (t > start && t <= end ? k : 1);

/** Her quarter-hours split into readings of `sec` seconds each: a collar reporting more often. */
const split = (quarters: Reading[], sec: number) =>
  quarters.flatMap((r) => Array.from({ length: Q / sec }, (_, k) => ({ ...r, ts: r.ts - (Q / sec - 1 - k) * sec * 1000, intervalS: sec, activity: r.activity / (Q / sec), rumination: r.rumination! / (Q / sec) })));

/** A quarter-hour stream summed into readings of `n` quarters each: a collar reporting less often. */
function every(quarter: Reading[], n: number): Reading[] {
  const out: Reading[] = [];
  for (let i = n - 1; i < quarter.length; i += n) {
    const part = quarter.slice(i - n + 1, i + 1);
    const r: Reading = { collarId: 'C1', ts: part.at(-1)!.ts, intervalS: n * Q, activity: part.reduce((a, r) => a + r.activity, 0) };
    if (part[0]!.rumination !== undefined) r.rumination = part.reduce((a, r) => a + r.rumination!, 0);
    if (part[0]!.lying !== undefined) r.lying = part.reduce((a, r) => a + r.lying!, 0);
    out.push(r);
  }
  return out;
}

function run(readings: Reading[], det = new FarmDetector('farm', rules)): AlertEvent[] {
  const events: AlertEvent[] = [];
  for (const r of readings) events.push(...det.observe(r, r.collarId, r.ts).events);
  return events;
}
/** A farm on UTC, for the register's days. */
const det0 = () => new FarmDetector('farm', rules);
const firing = (es: readonly AlertEvent[], type?: string) => es.filter((e) => e.state === 'firing' && (!type || e.type === type));
const resolved = (es: readonly AlertEvent[], type?: string) => es.filter((e) => e.state === 'resolved' && (!type || e.type === type));

describe('heat', () => {
  const onset = START + 10 * DAY + 9 * HOUR;

  it('fires on a sustained rise, with evidence and a sensible onset', () => {
    const events = run(stream({ days: 12, act: during(onset, onset + 14 * HOUR, 3) }));
    const heat = firing(events, 'heat');
    expect(heat).toHaveLength(1);
    const e = heat[0]!;
    expect(e.at).toBeGreaterThan(onset);
    expect(e.at).toBeLessThanOrEqual(onset + 7 * HOUR);
    expect(e.since).toBeGreaterThanOrEqual(onset - HOUR);
    expect(e.since).toBeLessThanOrEqual(onset + 2 * HOUR);
    expect(e.severity).toBe('warning');
    expect(e).toMatchObject({ farmId: 'farm', cowId: 'C1', collarId: 'C1', raisedAt: e.at });
    const ev = e.evidence as Record<string, any>;
    expect(ev).toMatchObject({ metric: 'activity', unit: 'activity count', comparedDays: expect.any(Number) });
    expect(ev.ratio).toBeGreaterThanOrEqual(rules.heat.minRatio);
    expect(ev.deviation).toBeGreaterThanOrEqual(rules.heat.minZ);
    expect(ev.value).toBeGreaterThan(ev.baseline);
    // The early word: said on her first hours, before the full window fills.
    expect(ev.window.hours).toBe(rules.heat.early.hours);
    expect(Date.parse(ev.window.to) - Date.parse(ev.window.from)).toBe(rules.heat.early.hours * HOUR);
    expect(e.at).toBeLessThanOrEqual(onset + (rules.heat.early.hours + 1) * HOUR);
    expect(ev.comparedDays).toBeGreaterThanOrEqual(rules.baseline.warmupDays);
    // ...and resolves once she is back to normal, only once.
    expect(resolved(events, 'heat')).toHaveLength(1);
    expect(resolved(events, 'heat')[0]!.at).toBeGreaterThan(onset + 14 * HOUR);
    expect(resolved(events, 'heat')[0]!.id).toBe(e.id);
  });

  it('does not fire during warm-up, however big the rise', () => {
    const spike = START + (rules.baseline.warmupDays - 1) * DAY + 6 * HOUR;
    expect(firing(run(stream({ days: rules.baseline.warmupDays, act: during(spike, spike + 14 * HOUR, 6) })))).toEqual([]);
  });

  it('does not fire on a single wild hour, nor on a short burst', () => {
    expect(firing(run(stream({ days: 12, act: during(onset, onset + HOUR, 10) })))).toEqual([]);
    expect(firing(run(stream({ days: 12, act: during(onset, onset + 2 * HOUR, 5) })))).toEqual([]);
    // Three hours well up all the way are the first hours of a heat: said early, on purpose (a heat lasts
    // 8-20 h; the insemination window opens 12 h after its onset).
    expect(firing(run(stream({ days: 12, act: during(onset, onset + 3 * HOUR, 5) })), 'heat')).toHaveLength(1);
    const noEarly = new FarmDetector('farm', steadyRules({ heat: { early: { hours: 0, withRumination: { hours: 0 } } } }));
    expect(firing(run(stream({ days: 12, act: during(onset, onset + 3 * HOUR, 5) }), noEarly))).toEqual([]);
  });

  it('does not fire on a modest rise', () => {
    expect(firing(run(stream({ days: 12, act: during(onset, onset + 14 * HOUR, 1.4) })))).toEqual([]);
  });

  // No heat within five days of the last one's end: after ovulation her cycle's luteal phase holds her out of
  // heat for a week at least (a short cycle is 7-12 days). A cooldown of three days let a restless day four
  // days after a heat be one (a real cow's minutes summed into 2-hour readings, docs/figures.md).
  it('keeps one open alert per cow and type, and honours the cooldown after a resolve', () => {
    const second = onset + 4 * DAY; // 3 days after the first resolved: inside its 5-day cooldown
    const third = onset + 8 * DAY; // a short cycle: told
    const act = (t: number) => during(onset, onset + 30 * HOUR, 3)(t) * during(second + 4 * HOUR, second + 16 * HOUR, 3)(t) * during(third, third + 14 * HOUR, 3)(t);
    const events = run(stream({ days: 20, act }));
    const heat = firing(events, 'heat');
    expect(heat.map((e) => e.at < third)).toEqual([true, false]);
    // Never two open at once: firing and resolved alternate.
    const seq = events.filter((e) => e.type === 'heat').map((e) => e.state);
    expect(seq).toEqual(['firing', 'resolved', 'firing', 'resolved']);
  });
});

describe('collars reporting at odd intervals', () => {
  // Found in review: covered time rounded to 15 s per piece made 67-s readings 11 % busier and 68-s ones 6 %
  // quieter than the same cow on 15-minute readings; a collar switching between them looked unwell.
  it('a rate does not depend on the interval the collar reports at', () => {
    const rate = (intervalS: number) => {
      const det = new FarmDetector('f', rules);
      const from = START + 7;
      // Alternating a little either side (a constant count would be a stuck collar).
      let i = 0;
      for (let ts = from + intervalS * 1000; ts <= from + 6 * HOUR; ts += intervalS * 1000) {
        det.observe({ collarId: 'C1', ts, intervalS, activity: ((480 * intervalS) / 3600) * (i++ % 2 ? 1.05 : 0.95) }, 'C1', ts);
      }
      return det.cows.get('C1')!.history.rate('act', Math.floor((START + 3 * HOUR) / HOUR));
    };
    for (const interval of [60, 67, 68, 300, 900]) expect(Math.abs(rate(interval) / 480 - 1), `${interval} s`).toBeLessThan(0.03);
  });
});

describe('impossible values', () => {
  // Found by the hostile-readings property: one 2-hour reading with a wrapped counter, spread over the three
  // clock hours it touches, read as three hours of heat; the false heat's cooldown then hid her real one.
  it('keeps a reading no cow can make out of her history, and counts it', () => {
    const heatStart = START + 11 * DAY + 9 * HOUR;
    const sim = simulateHerd({ farmId: 'f', cows: 1, startMs: START, days: 13, seed: 4, episodes: [{ collarId: 'C001', type: 'heat', start: heatStart, end: heatStart + 14 * HOUR }] });
    const readings = [...sim.readings()];
    const wild: Reading = { collarId: 'C001', ts: heatStart - 50 * HOUR - 3 * 60_000, intervalS: 7200, activity: 11_000_000 };
    const at = readings.findIndex((r) => r.ts > heatStart - 23 * HOUR);
    const det = new FarmDetector('f', rules);
    const heats = firing(run([...readings.slice(0, at), wild, ...readings.slice(at)], det), 'heat');
    expect(heats).toHaveLength(1);
    expect(heats[0]!.since).toBe(heatStart);
    expect(det.impossibleReadings()).toBe(1);
    // Three in a row are the collar, not the cow: a collar fault, resolved by the first plausible reading.
    const base = stream({ days: 12 });
    const from = base.findIndex((r) => r.ts > START + 10 * DAY + 9 * HOUR);
    const broken = base.map((r, i) => (i >= from && i < from + 4 ? { ...r, activity: 9_000_000 } : r));
    const faults = run(broken).filter((e) => e.type === 'collar_fault');
    expect(faults.map((e) => e.state)).toEqual(['firing', 'resolved']);
    expect(faults[0]!.evidence).toMatchObject({ kind: 'impossible' });
    expect(faults[0]!.since).toBe(base[from]!.ts - Q * 1000);
    expect(firing(run(broken)).filter((e) => e.type !== 'collar_fault')).toEqual([]);
    // A heat's busiest hours are far below the line: a 4x day is judged as usual.
    expect(firing(run(stream({ days: 12, act: during(START + 10 * DAY + 9 * HOUR, START + 10 * DAY + 23 * HOUR, 4) })), 'heat')).toHaveLength(1);
  });
});

describe('heat cycle', () => {
  it('flags a missed cycle once, 25 days after her last heat, and her next heat resolves it', () => {
    const first = START + 7 * DAY + 9 * HOUR;
    const late = first + 29 * DAY;
    const heatAt = (...starts: number[]) => (t: number) => (starts.some((s) => t > s && t <= s + 14 * HOUR) ? 3 : 1);
    const events = run(stream({ days: 38, act: heatAt(first, late) }));
    const missed = events.filter((e) => e.type === 'missed_heat');
    expect(missed.map((e) => e.state)).toEqual(['firing', 'resolved']);
    expect(missed[0]!.severity).toBe('info');
    expect(missed[0]!.at - missed[0]!.since).toBeGreaterThanOrEqual(25 * DAY);
    expect(missed[0]!.at - missed[0]!.since).toBeLessThanOrEqual(25 * DAY + HOUR);
    expect(missed[0]!.evidence).toMatchObject({ daysSinceLastHeat: 25, expectedFrom: expect.any(String), expectedTo: expect.any(String) });
    expect(missed[1]!.at).toBeGreaterThan(late);
    // A cow that comes back into heat within her cycle is not flagged; one never seen in heat is not either.
    expect(run(stream({ days: 38, act: heatAt(first, first + 21 * DAY) })).filter((e) => e.type === 'missed_heat')).toEqual([]);
    expect(run(stream({ days: 38 })).filter((e) => e.type === 'missed_heat')).toEqual([]);
  });

  it('does not flag a cow inseminated at her last heat (presumed in calf), and does flag one inseminated at an earlier heat', () => {
    const first = START + 7 * DAY + 9 * HOUR;
    const heatAt = (t: number) => (t > first && t <= first + 14 * HOUR ? 3 : 1);
    const withRecord = (record: CowRecord) => {
      const det = new FarmDetector('farm', rules);
      det.setRecords(new Map([['C1', record]]));
      return run(stream({ days: 38, act: heatAt }), det).filter((e) => e.type === 'missed_heat');
    };
    // The register keeps the day: inseminated the morning after a heat that began in the evening.
    expect(withRecord({ inseminatedAt: det0().dayStart('2026-01-13') })).toEqual([]);
    expect(withRecord({ inseminatedAt: det0().dayStart('2026-01-12') })).toEqual([]);
    expect(withRecord({ inseminatedAt: det0().dayStart('2025-12-20') }).map((e) => e.state)).toEqual(['firing']);
    // A calving after her last heat starts her cycles afresh; one typed in ahead (expected) is not one yet.
    expect(withRecord({ calvedAt: det0().dayStart('2026-01-20') })).toEqual([]);
    expect(withRecord({ calvedAt: det0().dayStart('2026-03-20') }).map((e) => e.state)).toEqual(['firing']);
  });

  it("says when the register's insemination before a heat was, from 3 days on", () => {
    const first = START + 7 * DAY + 9 * HOUR; // 2026-01-12 09:00
    const heatAt = (t: number) => (t > first && t <= first + 14 * HOUR ? 3 : 1);
    const heatWith = (inseminated: string) => {
      const det = new FarmDetector('farm', rules);
      det.setRecords(new Map([['C1', { inseminatedAt: det.dayStart(inseminated) }]]));
      return firing(run(stream({ days: 10, act: heatAt }), det), 'heat')[0]!.evidence;
    };
    expect(heatWith('2025-12-22')).toMatchObject({ inseminatedOn: '2025-12-22T00:00:00.000Z', daysSinceInsemination: 21 });
    const det = new FarmDetector('farm', rules);
    det.setRecords(new Map([['C1', { calvedAt: det.dayStart('2025-11-08') }]]));
    expect(firing(run(stream({ days: 10, act: heatAt }), det), 'heat')[0]!.evidence).toMatchObject({ calvedOn: '2025-11-08T00:00:00.000Z', daysSinceCalving: 65 });
    // Inseminated at this heat (entered before its alert came), or too long ago to tell: nothing said.
    expect(heatWith('2026-01-12').daysSinceInsemination).toBeUndefined();
    expect(heatWith('2025-10-01').daysSinceInsemination).toBeUndefined();
  });

  it('says how many days since her last heat', () => {
    const first = START + 7 * DAY + 9 * HOUR;
    const second = first + 21 * DAY + 2 * HOUR;
    const act = (t: number) => ((t > first && t <= first + 14 * HOUR) || (t > second && t <= second + 14 * HOUR) ? 3 : 1);
    const heats = firing(run(stream({ days: 30, act })), 'heat');
    expect(heats).toHaveLength(2);
    expect(heats[0]!.evidence.daysSinceLastHeat).toBeUndefined();
    expect(heats[1]!.evidence).toMatchObject({ lastHeatSince: new Date(heats[0]!.since).toISOString() });
    expect(heats[1]!.evidence.daysSinceLastHeat).toBeCloseTo(21.1, 0);
  });
});

describe('herd-wide events', () => {
  // A group moved to new pasture walks up to twice its normal for hours: each cow alone would look like the
  // start of a heat. Many cows hot in the same hours is the herd, not a cycle; a heat (2–4×) still shows.
  it('a pasture move for part of the herd raises no heat; a cow truly in heat during it is still found', () => {
    const move = START + 10 * DAY + 9 * HOUR;
    const inHeat = move + HOUR;
    const cows = Array.from({ length: 20 }, (_, i) => {
      const moved = i < 8;
      const heat = i === 0;
      const act = (t: number) => (heat && t > inHeat && t <= inHeat + 14 * HOUR ? 3 : moved && t > move && t <= move + 9 * HOUR ? 2.2 : 1);
      return stream({ collarId: `H${i}`, days: 12, seed: 40 + i, act });
    });
    const merged = cows.flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    const heats = firing(run(merged), 'heat');
    expect(heats.map((h) => h.cowId)).toEqual(['H0']);
    // The same group judged cow by cow, without its herd, calls the move a heat.
    const alone = cows.slice(1, 8).flatMap((rs) => firing(run(rs), 'heat'));
    expect(alone.length).toBeGreaterThan(0);
  });

  // In a herd of 100, a group of 12 is 12 %: more cows hot together than chance allows (about 3 % are in an
  // ordinary hour), though not the 15 % a fixed line asked for.
  it('a move of a small group of a large herd is the herd too', () => {
    const move = START + 10 * DAY + 9 * HOUR;
    const cows = Array.from({ length: 100 }, (_, i) => {
      const act = (t: number) => (i < 12 && t > move && t <= move + 9 * HOUR ? 2.2 : 1);
      return stream({ collarId: `H${i}`, days: 12, seed: 40 + i, act });
    });
    const merged = cows.flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    expect(firing(run(merged), 'heat')).toEqual([]);
  });
});

describe('a cow back to her old self', () => {
  // Two weeks lame at under half her steps, then three days getting back: her past 14 days still remember
  // the lame ones, so on her return every hour reads twice her "normal" for days.
  const lameFrom = START + 3 * DAY;
  const back = START + 17 * DAY;
  const well = back + 3 * DAY;
  const lame = (t: number) => (t <= lameFrom ? 1 : t <= back ? 0.45 : t <= well ? 0.45 + (0.55 * (t - back)) / (well - back) : 1);

  it('raises no heat on her return, and a heat a few days later is still found', () => {
    const steady = stream({ days: 30, act: lame });
    const off = new FarmDetector('farm', steadyRules({ heat: { stepUpRatio: 0 } }));
    // Without the check, her return is a heat.
    expect(firing(run(steady, off), 'heat').length).toBeGreaterThan(0);
    expect(firing(run(steady), 'heat')).toEqual([]);
    // A heat 3x her true normal five days after she is well: 3x her level, however out of date her normal.
    const onset = well + 5 * DAY + 9 * HOUR;
    const events = run(stream({ days: 30, act: (t) => lame(t) * during(onset, onset + 14 * HOUR, 3)(t) }));
    const heats = firing(events, 'heat');
    expect(heats).toHaveLength(1);
    // Her onset is where she rose over her level, not where she rose over the lame weeks: the insemination
    // advice depends on it. And the heat is over when she is back to that level.
    expect(heats[0]!.since).toBeGreaterThanOrEqual(onset - HOUR);
    expect(heats[0]!.at).toBeLessThanOrEqual(onset + 7 * HOUR);
    const over = resolved(events, 'heat');
    expect(over).toHaveLength(1);
    expect(over[0]!.at).toBeLessThanOrEqual(onset + 14 * HOUR + 8 * HOUR);
  });

  // Found in review: lamer still (0.40), she is back at 2.4x her "normal", where 3x its hours is all a
  // window can count of them; a heat over that level read as over an hour after it was raised.
  it('a heat over a high level is over when she is back to that level, not an hour after it is raised', () => {
    const lamer = (t: number) => Math.min(1, lame(t) - 0.05 * (t > lameFrom && t <= well ? 1 : 0));
    const onset = well + DAY + 9 * HOUR;
    const events = run(stream({ days: 30, act: (t) => lamer(t) * during(onset, onset + 14 * HOUR, 3)(t) }));
    const heat = firing(events, 'heat');
    expect(heat).toHaveLength(1);
    expect((heat[0]!.evidence as { level?: number }).level).toBeGreaterThan(2.3);
    const over = resolved(events, 'heat');
    expect(over).toHaveLength(1);
    expect(over[0]!.at).toBeGreaterThan(onset + 12 * HOUR);
    // Over once her window (9 hours) is mostly past the heat: within its length and two hours of the heat's end.
    expect(over[0]!.at).toBeLessThanOrEqual(onset + 14 * HOUR + (rules.heat.windowHours + 2) * HOUR);
  });
});

describe('heat, on cows as noisy as real ones', () => {
  const onset = START + 10 * DAY + 9 * HOUR;
  const noisyHerd = (heat: (i: number) => (t: number) => number) =>
    Array.from({ length: 20 }, (_, i) => stream({ collarId: `H${String(i).padStart(2, '0')}`, days: 14, seed: 200 + i, act: (t) => wandering(i + 1)(t) * heat(i)(t) }))
      .flat()
      .sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));

  it("reads how much a cow's hours differ from day to day: little on a steady cow, much on one whose hours wander", () => {
    const spread = (act?: (t: number) => number) => {
      const det = new FarmDetector('farm', rules);
      run(stream({ days: 12, act }), det);
      return det.cows.get('C1')!.normal.hourSpread((START + 12 * DAY) / HOUR);
    };
    expect(spread()).toBeLessThan(0.2);
    expect(spread(wandering(1))).toBeGreaterThan(0.4);
    expect(spread(wandering(1, true))).toBeGreaterThan(0.4);
    // Before she has 4 past days at 12 of the day's hours: not known.
    const det = new FarmDetector('farm', rules);
    run(stream({ days: 4 }), det);
    expect(det.cows.get('C1')!.normal.hourSpread((START + 4 * DAY) / HOUR)).toBeNaN();
  });

  // Found on the scorecard's --real-noise herds: the herd's line was a fixed 3 % of its cows hot at once, and
  // in a herd this noisy a fifth of the cows are hot in any hour. Every hour was the herd's, and half the
  // heats were held back as its (50-54 % found). The line is now the herd's own usual share.
  it('a cow in heat in a herd whose cows lie down at no fixed hour is found, and no other cow is called', () => {
    const events = run(noisyHerd((i) => (i === 0 ? during(onset, onset + 14 * HOUR, 3) : () => 1)));
    expect(firing(events, 'heat').map((e) => e.cowId)).toEqual(['H00']);
  });

  // Three hours up on a cow whose hours wander are as often an ordinary day as the first hours of a heat:
  // on the noisy herds the 3-hour word raised about as many false heats as true ones.
  /** Her activity: `k` times her normal inside [from, to), her own (steady or wandering) hours elsewhere. */
  const spell = (own: (t: number) => number, from: number, to: number, k: number) => (t: number) => (t > from && t <= to ? k : own(t));
  const steadyHours = () => 1;

  /** The hours of the windows her heats were told from. */
  const told = (events: AlertEvent[]) => firing(events, 'heat').map((e) => (e.evidence.window as { hours: number }).hours);

  // The wandering cow's own hours may make a 9-hour window of the burst's (one hour in three of hers is 1.5x
  // or more): here the 9-hour window asks all 9 hours hot, so that what is seen is the shorter ones' line.
  const only = (o: object = {}) => new FarmDetector('farm', steadyRules({ heat: { minHotHours: 9, ...o } }));

  it('three hours at 3x make an early word on a steady cow, not on a cow whose hours wander', () => {
    const burst = (own: (t: number) => number) => spell(own, onset, onset + 3 * HOUR, 3);
    expect(told(run(stream({ days: 12, act: burst(steadyHours) }), only()))).toEqual([3]);
    const wanderingBurst = () => stream({ days: 12, seed: 201, act: burst(wandering(1)) });
    expect(told(run(wanderingBurst(), only()))).toEqual([]);
    // Either line alone holds it back: her hours' spread (Normals.hourSpread), and the window's own.
    expect(told(run(wanderingBurst(), only({ steady: { maxSpread: 5 } })))).toEqual([]);
    expect(told(run(wanderingBurst(), only({ steady: { maxHourSpread: 10 } })))).toEqual([]);
    // Without either, it is one.
    expect(told(run(wanderingBurst(), only({ steady: { maxSpread: 5, maxHourSpread: 10 } })))).toEqual([3]);
    // Her heat of 14 hours is found, from the 9-hour window.
    const heat = firing(run(stream({ days: 12, seed: 201, act: spell(wandering(1), onset, onset + 14 * HOUR, 3) })), 'heat');
    expect(heat).toHaveLength(1);
    expect(heat[0]!.evidence.window).toMatchObject({ hours: 9 });
  });

  it('six hours at 3x are a heat from the 6-hour window on a steady cow, not on a cow whose hours wander', () => {
    const six = (own: (t: number) => number) => spell(own, onset, onset + 6 * HOUR, 3);
    expect(told(run(stream({ days: 12, act: six(steadyHours) }), only({ early: { hours: 0 } })))).toEqual([6]);
    expect(told(run(stream({ days: 12, seed: 201, act: six(wandering(1, true)) }), only({ early: { hours: 0 } })))).toEqual([]);
    expect(told(run(stream({ days: 12, seed: 201, act: six(wandering(1, true)) }), only({ early: { hours: 0 }, steady: { maxSpread: 5 } })))).toEqual([]);
    expect(told(run(stream({ days: 12, seed: 201, act: six(wandering(1, true)) }), only({ early: { hours: 0 }, steady: { maxSpread: 5, maxHourSpread: 10 } })))).toEqual([6]);
  });

  // Found on the scorecard's noisy herds: until her hours had told how much they differ (four past days), a
  // cow was taken as steady, and in a new collar's first week its short windows and early words raised
  // about as many false heats as true ones.
  it("a new collar's cow is told from the 9-hour window until her hours show she is steady", () => {
    const third = START + 3 * DAY + 9 * HOUR;
    const burst = (own: (t: number) => number, hours: number) => spell(own, third, third + hours * HOUR, 3);
    // On her third day, three hours at 3x are no word and six no heat, whether her hours wander or not
    // (the window's own spread let through: that line has its test above).
    const loose = { steady: { maxSpread: 5 } };
    expect(told(run(stream({ days: 5, seed: 201, act: burst(wandering(1), 3) }), only(loose)))).toEqual([]);
    expect(told(run(stream({ days: 5, act: burst(steadyHours, 3) }), only(loose)))).toEqual([]);
    expect(told(run(stream({ days: 5, act: burst(steadyHours, 6) }), only({ ...loose, early: { hours: 0 } })))).toEqual([]);
    // A heat of 14 hours then is told, from the 9-hour window; with her hours known, the same three hours
    // are an early word (above).
    expect(told(run(stream({ days: 5, act: burst(steadyHours, 14) })))).toEqual([9]);
  });
});

describe('heat, in a herd up together', () => {
  const onset = START + 10 * DAY + 9 * HOUR;
  // The herd all at 1.4x its normal for 12 hours (feed pushed up late, a cool day after a hot week): no cow is
  // 1.5x, so no hour is the herd's by its count of hot cows. A cow at 2.2x hers is up half again as much as
  // her herd, not two to four times: no heat. One at 3.5x is.
  it("takes the herd's typical hour out of hers", () => {
    const up = during(onset, onset + 12 * HOUR, 1.4);
    const herd = Array.from({ length: 20 }, (_, i) =>
      stream({ collarId: `H${String(i).padStart(2, '0')}`, days: 14, seed: 240 + i, act: (t) => (i === 0 ? during(onset, onset + 12 * HOUR, 2.2)(t) : i === 1 ? during(onset, onset + 12 * HOUR, 3.5)(t) : up(t)) }),
    )
      .flat()
      .sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    expect(firing(run(herd), 'heat').map((e) => e.cowId)).toEqual(['H01']);
    // Alone, at 2.2x she would be called.
    expect(firing(run(stream({ days: 14, seed: 240, act: during(onset, onset + 12 * HOUR, 2.2) })), 'heat')).toHaveLength(1);
  });
});

describe('the early heat word', () => {
  const onset = START + 10 * DAY + 9 * HOUR;
  /** The rules with the 2-hour word (rumination down) turned on, as a farm's config may. */
  const withRumWord = steadyRules({ heat: { early: { withRumination: { hours: 2 } } } });
  const heatAt = (o: Partial<StreamOpts>) => firing(run(stream({ days: 12, act: during(onset, onset + 14 * HOUR, 3), ...o })), 'heat')[0]!.at - onset;

  // The 2-hour word with rumination is off by default: on herds as noisy as real cows (the scorecard's
  // --real-noise herds, and a herd model written apart from the project) it raised more false heats than
  // true ones, as any two hours up and about leave less time to chew.
  it('comes after 3 hot hours, her rumination down or not; after 2 with it down where the farm turns that word on', () => {
    expect(heatAt({ rum: during(onset, onset + 14 * HOUR, 0.75) })).toBe(3 * HOUR);
    expect(heatAt({})).toBe(3 * HOUR);
    expect(heatAt({ rumination: false })).toBe(3 * HOUR);
    const at = (o: Partial<StreamOpts>) => firing(run(stream({ days: 12, act: during(onset, onset + 14 * HOUR, 3), ...o }), new FarmDetector('farm', withRumWord)), 'heat')[0]!.at - onset;
    expect(at({ rum: during(onset, onset + 14 * HOUR, 0.75) })).toBe(2 * HOUR);
    expect(at({})).toBe(3 * HOUR);
  });

  // Found on the scorecard: on a collar reporting every 2 hours, the 2 hours of the early word were one
  // reading, one draw of noise; most false early words came from such collars.
  it('is not said on one long reading: a collar reporting every 2 hours waits for a second', () => {
    const from = onset + HOUR; // on the collar's 2-hour grid
    const up = (t: number) => (t > from && t <= from + 2 * HOUR ? 3 : 1);
    const twoHourly = every(stream({ days: 12, act: up, rum: (t) => (up(t) > 1 ? 0.7 : 1) }), 8);
    expect(twoHourly.some((r) => r.ts === from + 2 * HOUR)).toBe(true);
    expect(firing(run(twoHourly), 'heat')).toEqual([]);
  });

  // Found on real cows: three leg-tag cows' minutes summed into 2-hour readings missed a 4-hour burst at
  // 3.1-3.6x that the minute data called a heat; a 2-hourly collar waited for the 6-hour window, which a
  // short heat does not fill. Two readings, each 2x her normal: the 4-hour word.
  it('on a collar reporting every 2 hours: after 2 readings, rumination down or not told', () => {
    const from = onset + HOUR; // on the collar's 2-hour grid
    const heat = (hours: number, rum?: number) =>
      every(stream({ days: 12, act: during(from, from + hours * HOUR, 3), ...(rum === undefined ? { rumination: false } : { rum: during(from, from + hours * HOUR, rum) }) }), 8);
    const at = (rs: Reading[], d?: FarmDetector) => firing(run(rs, d), 'heat').map((e) => e.at - from);
    expect(at(heat(14, 0.75))).toEqual([4 * HOUR]);
    expect(at(heat(14))).toEqual([4 * HOUR]);
    // A heat of 4 hours: without the word, never told.
    expect(at(heat(4))).toEqual([4 * HOUR]);
    const noSparse = () => new FarmDetector('farm', steadyRules({ heat: { early: { sparse: { hours: 0 } } } }));
    expect(at(heat(4), noSparse())).toEqual([]);
    expect(at(heat(14), noSparse())).toEqual([6 * HOUR]);
    // Two readings at 3x while she chews as usual: two wild readings in a row (a knock each), not a heat.
    expect(at(heat(4, 1))).toEqual([]);
    // Nor when one of them comes without its rumination (found on a second read): her collar tells it, and
    // what is not told is not taken as down.
    for (const k of [0, 1]) {
      const readings = heat(4, 1);
      const first = readings.findIndex((r) => r.ts > from);
      const { rumination: _gone, ...bare } = readings[first + k]!;
      readings[first + k] = bare;
      expect(at(readings), `reading ${k + 1} without rumination`).toEqual([]);
    }
  });

  // An hourly collar's heats were told only when the 6-hour window filled, 5.6 h after onset on the
  // scorecard. Three hours are three readings: the 3-hour word, as on the three real leg-tag cows summed
  // into hourly readings, which found the same heats as their minute data. Two hours are two readings, too
  // few for the 2-hour word even with rumination down.
  it('on an hourly collar: after 3 readings, not 2, even with her rumination down', () => {
    const hourly = (o: Partial<StreamOpts>) => every(stream({ days: 12, act: during(onset, onset + 14 * HOUR, 3), ...o }), 4);
    const at = (rs: Reading[]) => firing(run(rs), 'heat')[0]!.at - onset;
    expect(at(hourly({ rum: during(onset, onset + 14 * HOUR, 0.75) }))).toBe(3 * HOUR);
    expect(at(hourly({}))).toBe(3 * HOUR);
    // A 2-hour burst on an hourly collar, rumination down: not a heat.
    const burst = every(stream({ days: 12, act: during(onset, onset + 2 * HOUR, 3), rum: during(onset, onset + 2 * HOUR, 0.7) }), 4);
    expect(firing(run(burst), 'heat')).toEqual([]);
  });

  // Found on the scorecard: with 2 hours, the early word was said for many cows in a herd-wide busy spell.
  it("is not said in the herd's busy hours: a busy spell of the whole herd raises no heat", () => {
    const spell = (t: number) => (t > onset && t <= onset + 3 * HOUR ? 3 : 1);
    const rum = (t: number) => (t > onset && t <= onset + 3 * HOUR ? 0.7 : 1);
    const herd = Array.from({ length: 20 }, (_, i) => stream({ collarId: `H${i}`, days: 12, seed: 60 + i, act: spell, rum }));
    const merged = herd.flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    expect(firing(run(merged), 'heat')).toEqual([]);
  });

  // Found on the scorecard: a milking moved an hour earlier, and two cows of 200 whose hour completed among
  // the herd's first few, judged on what 5 and 2 cows had told of that hour, raised a heat.
  it("waits for the herd to tell an hour before it says whether the hour was the herd's", () => {
    const milking = onset;
    const herdHour = (t: number) => t > milking && t <= milking + HOUR;
    const restless = (t: number) => t > milking - HOUR && t <= milking;
    const herd = Array.from({ length: 20 }, (_, i) =>
      stream({
        collarId: `H${String(i).padStart(2, '0')}`,
        days: 12,
        seed: 80 + i,
        act: (t) => (herdHour(t) ? 3 : i === 0 && restless(t) ? 2.3 : 1),
        rum: (t) => (herdHour(t) || (i === 0 && restless(t)) ? 0.7 : 1),
      }),
    );
    // H00 tells each hour first: her early word is judged when she alone has told the milking hour.
    const merged = herd.flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    expect(firing(run(merged, new FarmDetector('farm', withRumWord)), 'heat')).toEqual([]);
    // Her two hours are an early word on their own: without her herd, she is called in heat.
    expect(firing(run(herd[0]!, new FarmDetector('farm', withRumWord)), 'heat')).toHaveLength(1);
  });

  // Found on herds whose collars all report every hour or two: half the herd, its clocks a few minutes
  // behind, tells an hour only with its next reading. A window held for the herd was replaced by her next
  // one before the herd had told its hours, and that one by the next: none was judged, and half the heats
  // of such herds were lost (an all-hourly and an all-2-hourly herd of 200: 45–47 % found; now 97 %).
  it('is judged on a herd of hourly collars whose clocks are minutes apart', () => {
    const inHeat = (t: number) => t > onset && t <= onset + 14 * HOUR;
    const herd = Array.from({ length: 20 }, (_, i) =>
      every(stream({ collarId: 'C1', days: 12, seed: 120 + i, act: (t) => (i === 0 && inHeat(t) ? 3 : 1) }), 4).map((r) => ({
        ...r,
        collarId: `H${String(i).padStart(2, '0')}`,
        // Half the herd's clocks run 5 minutes behind, the rest 2 minutes ahead.
        ts: r.ts + (i % 2 ? -5 : 2) * 60_000,
      })),
    );
    const merged = herd.flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    const heats = firing(run(merged), 'heat');
    expect(heats.map((e) => e.cowId)).toEqual(['H00']);
    // Stamped with her data's time: the end of her 3-hour word's window (told one reading later).
    expect(heats[0]!.at - onset).toBeLessThanOrEqual(4 * HOUR + 2 * 60_000);
  });

  // The herd's gateway goes down while hers keeps talking: the herd never tells the hour, and her heat is
  // judged half an hour of the farm's time later, on what the herd had told. Not by the clock alone: a
  // verdict taken on a quiet farm would be the first few cows' again, and differ from a replay's.
  it('a heat waiting for a herd that does not tell the hour is judged half an hour of farm time later', () => {
    const inHeat = (t: number) => t > onset && t <= onset + 14 * HOUR;
    const herd = Array.from({ length: 20 }, (_, i) =>
      stream({
        collarId: `H${String(i).padStart(2, '0')}`,
        days: 12,
        seed: 100 + i,
        act: (t) => (i === 0 && inHeat(t) ? 3 : 1),
        rum: (t) => (i === 0 && inHeat(t) ? 0.7 : 1),
      }),
    );
    const herdDown = onset + HOUR + 45 * 60_000;
    const upTo = (last: number) =>
      herd
        .flat()
        .filter((r) => r.ts <= herdDown || (r.collarId === 'H00' && r.ts <= last))
        .sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    const early = new FarmDetector('farm', withRumWord);
    expect(firing(run(upTo(onset + 2 * HOUR + 15 * 60_000), early), 'heat')).toEqual([]);
    expect(firing(early.checkSilence(onset + 5 * HOUR), 'heat')).toEqual([]);
    const heat = firing(run(upTo(onset + 2 * HOUR + 45 * 60_000), new FarmDetector('farm', withRumWord)), 'heat');
    expect(heat.map((e) => e.cowId)).toEqual(['H00']);
    // Stamped with her data's time.
    expect(heat[0]!.at).toBe(onset + 2 * HOUR);
  });
});

describe('a herd-wide spell in a backlog', () => {
  // Found in a second read: the herd learnt an hour only from cows' newest readings, so a spell of the whole
  // herd that reached the agent as a backlog after newer readings (a gateway down for eight hours, then
  // uploading what it missed while the collars talked live again) was nobody's: each of 20 cows was called
  // in heat. The backlog now tells the herd its hours, and a heat in a backlog waits until most of the herd
  // has told them (half an hour of the farm's time at most).
  const spell = START + 10 * DAY + 9 * HOUR;
  const down = spell - HOUR;
  const herdOf = (heatCow: boolean) =>
    Array.from({ length: 20 }, (_, i) =>
      stream({
        collarId: `H${String(i).padStart(2, '0')}`,
        days: 12,
        seed: 120 + i,
        act: (t) => (heatCow && i === 0 && t > spell && t <= spell + 14 * HOUR ? 3.2 : t > spell && t <= spell + 6 * HOUR ? 2.3 : 1),
        rum: (t) => (t > spell && t <= spell + 6 * HOUR ? 0.8 : 1),
      }),
    );
  /**
   * Live until the gateway goes down; from when it is back, live readings, and the backlog: the collars
   * uploading side by side, two hours of every cow's with each quarter-hour of live readings, or, once live
   * readings have been judged (held a quarter-hour for reordering), one collar's whole backlog after another.
   */
  const delivered = (herd: Reading[][], sideBySide: boolean, up: number) => {
    const byTs = (x: Reading, y: Reading) => x.ts - y.ts || x.collarId.localeCompare(y.collarId);
    const all = herd.flat().sort(byTs);
    const out = all.filter((r) => r.ts <= down);
    const live = all.filter((r) => r.ts > up);
    const backlog = sideBySide ? all.filter((r) => r.ts > down && r.ts <= up) : herd.flatMap((rs) => rs.filter((r) => r.ts > down && r.ts <= up));
    let sent = 0;
    for (const r of live) {
      const upTo = down + Math.floor((r.ts - up) / (Q * 1000)) * 2 * HOUR;
      if (sideBySide) while (sent < backlog.length && backlog[sent]!.ts <= upTo) out.push(backlog[sent++]!);
      else if (r.ts > up + 2 * Q * 1000) while (sent < backlog.length) out.push(backlog[sent++]!);
      out.push(r);
    }
    return out;
  };

  // (Found in a second read: with the spell ending as the gateway came back, the cows' newest windows held
  // it too, and their wait, counted from those windows' end, was long over: 9 of 20 were called.)
  it.each([
    [true, 8],
    [false, 8],
    [true, 6],
    [false, 6],
  ])("is the herd's, not twenty heats; a cow truly in heat in it is still found (side by side: %s, back after %i h)", (sideBySide, back) => {
    const up = spell + back * HOUR;
    expect(firing(run(delivered(herdOf(false), sideBySide, up)), 'heat')).toEqual([]);
    const heats = firing(run(delivered(herdOf(true), sideBySide, up)), 'heat');
    expect(heats.map((e) => e.cowId)).toEqual(['H00']);
  });
});

describe('heat from a backfill', () => {
  // Found when tried as a new user would: a collar out of reach 08:00–16:00 uploads that stretch at 20:00.
  // The heat began at 09:00; judged while the upload was still filling in the window, it was reported with
  // onset 15:15 (the late reading's own time), moving the insemination advice six hours late.
  it('takes onset and time from the data that shows the heat, whatever order it arrived in', () => {
    const heatStart = START + 15 * DAY + 9 * HOUR;
    const sim = simulateHerd({ farmId: 'f', cows: 1, startMs: START, days: 17, seed: 5, episodes: [{ collarId: 'C001', type: 'heat', start: heatStart, end: heatStart + 14 * HOUR }] });
    const all = [...sim.readings()];
    const heatOf = (ordered: Reading[]) => {
      const det = new FarmDetector('f', rules);
      for (const r of ordered) for (const e of det.observe(r, r.collarId, r.ts).events) if (e.type === 'heat' && e.state === 'firing') return e;
      return undefined;
    };
    const live = heatOf(all)!;
    const gap = all.filter((r) => r.ts > heatStart - HOUR && r.ts <= heatStart + 7 * HOUR);
    const rest = all.filter((r) => !gap.includes(r));
    const cut = rest.findIndex((r) => r.ts > heatStart + 11 * HOUR);
    const backfilled = heatOf([...rest.slice(0, cut), ...gap, ...rest.slice(cut)])!;
    expect(live.since).toBe(heatStart);
    expect(backfilled.since).toBe(heatStart);
    // It is known once the window that shows it is whole: the hour the upload completed, on the hour.
    expect(backfilled.at % HOUR).toBe(0);
    expect(backfilled.at).toBeLessThanOrEqual(heatStart + 11 * HOUR);
  });
});

describe('a reading stamped in the future', () => {
  // Found in review: two glitches stamped 20 h ahead, 15 min apart, vouched for each other; the first was
  // judged, her clock jumped 20 h, and every real reading after it was too late for the down-cow rule.
  it('a few readings stamped hours ahead wait for real time: a cow down is still called on time', () => {
    const onset = START + 10 * DAY + 9 * HOUR;
    const down = (t: number) => (t > onset && t <= onset + 8 * HOUR ? 0.05 : 1);
    const readings = stream({ days: 12, act: down, rum: down });
    const det = new FarmDetector('f', rules, { maxAheadOfArrivalMs: 15 * 60_000 });
    const events: AlertEvent[] = [];
    for (const r of readings) {
      if (r.ts === onset - HOUR || r.ts === onset - 45 * 60_000) {
        events.push(...det.observe({ collarId: 'C1', ts: r.ts + 20 * HOUR, intervalS: Q, activity: 100, rumination: 5 }, 'C1', r.ts).events);
      }
      events.push(...det.observe(r, 'C1', r.ts).events);
    }
    const called = firing(events, 'down_cow');
    expect(called).toHaveLength(1);
    expect(called[0]!.at - onset).toBeLessThanOrEqual(3 * HOUR);
  });

  // Found in review: a collar reporting on another scale (a new model on the same cow) was refused reading
  // after reading for ever, her clock frozen.
  it('a collar on another scale is a fault for a day, then taken as hers and learnt afresh', () => {
    const readings = stream({ days: 16 }).map((r) => (r.ts > START + 12 * DAY ? { ...r, activity: r.activity * 400 } : r));
    const det = new FarmDetector('f', rules);
    const events = run(readings, det);
    const faults = events.filter((e) => e.type === 'collar_fault');
    expect(faults.map((e) => e.state)).toEqual(['firing', 'resolved']);
    expect(faults[1]!.evidence).toMatchObject({ kind: 'impossible', rescaled: true });
    expect(faults[1]!.at - faults[0]!.at).toBeLessThanOrEqual(DAY + HOUR);
    expect(det.cows.get('C1')!.newestTs).toBe(readings.at(-1)!.ts);
    expect(firing(events).filter((e) => e.type !== 'collar_fault')).toEqual([]);
  });

  // Found when tried as a new user would: one reading stamped 2030 moved the cow's clock there; every real
  // reading after it counted as too late to judge, battery and silence stopped too, and nothing said so.
  it('cannot blind her: later real readings are still judged, and the heat is still found', () => {
    const heatStart = START + 15 * DAY + 9 * HOUR;
    const sim = simulateHerd({ farmId: 'f', cows: 1, startMs: START, days: 17, seed: 5, episodes: [{ collarId: 'C001', type: 'heat', start: heatStart, end: heatStart + 14 * HOUR }] });
    const det = new FarmDetector('f', rules, { maxAheadOfArrivalMs: 15 * 60_000 });
    const events: AlertEvent[] = [];
    let future = 0;
    let unjudged = 0;
    for (const r of sim.readings()) {
      if (r.ts === START + 10 * DAY) {
        const res = det.observe({ ...r, ts: Date.UTC(2030, 0, 1), batteryPct: 3 }, r.collarId, r.ts);
        if (res.future) future++;
        events.push(...res.events);
      }
      const res = det.observe(r, r.collarId, r.ts);
      if (!res.judged) unjudged++;
      events.push(...res.events);
    }
    expect(future).toBe(1);
    expect(unjudged).toBe(0);
    expect(det.cows.get('C001')!.state.lastTs).toBeLessThan(Date.UTC(2027, 0, 1));
    expect(det.farm.watermark).toBeLessThan(Date.UTC(2027, 0, 1));
    // Its battery level was as wrong as its clock: no alert from it.
    expect(events.filter((e) => e.type === 'battery_low')).toEqual([]);
    expect(events.find((e) => e.type === 'heat' && e.state === 'firing')?.since).toBe(heatStart);
  });

  // Found in a second read: with the gateway's clock an hour behind, every reading waited an hour for ever.
  it.each([1, 2, 5])('with the gateway %i h behind, her readings are judged within 15 minutes once 2 hours have come so', (behindH) => {
    const det = new FarmDetector('f', rules, { maxAheadOfArrivalMs: 15 * 60_000 });
    for (let i = 0; i < 100; i++) {
      const ts = START + i * 15 * 60_000;
      det.observe({ collarId: 'C1', ts, intervalS: 900, activity: 10 + (i % 3) }, 'C1', ts - behindH * HOUR);
      if (i >= 12) expect(ts - det.cows.get('C1')!.state.lastTs!, `reading ${i}`).toBeLessThanOrEqual(15 * 60_000);
    }
  });

  it('a gateway clock running behind loses nothing for a cow it knows: her readings step forward and are judged', () => {
    const det = new FarmDetector('f', rules, { maxAheadOfArrivalMs: 15 * 60_000 });
    let judged = 0;
    for (let i = 0; i < 400; i++) {
      const ts = START + i * 15 * 60_000;
      // After 100 readings the gateway reboots believing it is three days earlier (no RTC, NTP not synced yet).
      const arrival = i < 100 ? ts : ts - 3 * DAY;
      if (det.observe({ collarId: 'C1', ts, intervalS: 900, activity: 10 + (i % 3) }, 'C1', arrival).judged) judged++;
      // Her clock follows her readings: held for reordering, and for the first 2 hours after the reboot while
      // the stream proves itself, never longer.
      if (i >= 110) expect(ts - det.cows.get('C1')!.state.lastTs!, `reading ${i}`).toBeLessThanOrEqual(15 * 60_000);
    }
    expect(judged).toBe(400);
  });
});

describe('daylight saving', () => {
  const tz = 'Europe/Zurich';
  it("starts the register's days at the farm's midnight, summer and winter; a non-date is NaN", () => {
    const det = new FarmDetector('farm', rules, { timezone: tz });
    expect(new Date(det.dayStart('2026-07-01')).toISOString()).toBe('2026-06-30T22:00:00.000Z');
    expect(new Date(det.dayStart('2026-12-01')).toISOString()).toBe('2026-11-30T23:00:00.000Z');
    expect(det.dayStart('1.12.2026')).toBeNaN();
    // And back: the day it is on the farm's clock, as the register writes it (23:30 UTC is past midnight there).
    expect(det.localDate(Date.parse('2026-07-01T21:59:00Z'))).toBe('2026-07-01');
    expect(det.localDate(Date.parse('2026-07-01T22:00:00Z'))).toBe('2026-07-02');
    expect(det.localDate(Date.parse('2026-12-01T23:30:00Z'))).toBe('2026-12-02');
    expect(det.localDate(det.dayStart('2026-10-25'))).toBe('2026-10-25');
    // New Zealand moves its clock at 02:00 on 27 September 2026: that day still began at NZST midnight.
    expect(new Date(new FarmDetector('farm', rules, { timezone: 'Pacific/Auckland' }).dayStart('2026-09-27')).toISOString()).toBe('2026-09-26T12:00:00.000Z');
    expect(new Date(new FarmDetector('farm', rules, { timezone: 'Pacific/Auckland' }).dayStart('2026-09-28')).toISOString()).toBe('2026-09-27T11:00:00.000Z');
  });

  const fmt = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
  /** The farm's wall clock at `t`, written as if it were UTC. */
  const wall = (t: number) => {
    const p: Record<string, number> = {};
    for (const x of fmt.formatToParts(t)) if (x.type !== 'literal') p[x.type] = Number(x.value);
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!);
  };

  it('k days back is the same time on the farm clock, across the change', () => {
    const shift = localDays(tz);
    // 06:00 in Zurich on 1 Nov 2026 (CET) and on 24 Oct (CEST, before the clocks went back on 25 Oct).
    const t = Date.parse('2026-11-01T05:00:00Z');
    expect(t - shift(t, 8)).toBe(Date.parse('2026-10-24T04:00:00Z'));
    expect(t - shift(t, 7)).toBe(Date.parse('2026-10-25T05:00:00Z'));
    // Spring: 06:00 on 1 Apr (CEST) and on 28 Mar (CET).
    const u = Date.parse('2026-04-01T04:00:00Z');
    expect(u - shift(u, 4)).toBe(Date.parse('2026-03-28T05:00:00Z'));
    expect(localDays('UTC')(t, 3)).toBe(3 * DAY);
  });

  // Her rhythm follows the farm's clock (milking at 05:00 and 16:00). Across the October change a cow in
  // Zurich must be judged exactly as a cow with the same days on a farm without daylight saving.
  it('a cow is judged by the farm clock: the same alerts and evidence as without the change', () => {
    const hash = (n: number) => {
      let x = (n ^ 0x9e3779b9) >>> 0;
      x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
      x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
      return ((x ^ (x >>> 16)) >>> 0) / 2 ** 32;
    };
    const heatFrom = Date.UTC(2026, 9, 29, 9);
    const heatTo = Date.UTC(2026, 9, 29, 23);
    const activity = (w: number) => {
      const h = (w % DAY) / HOUR;
      const base = (h >= 5 && h < 7) || (h >= 16 && h < 18) ? 300 : h >= 7 && h < 20 ? 120 : 20;
      return Math.round(base * (0.85 + 0.3 * hash(w / (Q * 1000))) * (w > heatFrom && w <= heatTo ? 3 : 1));
    };
    const zurich: Reading[] = [];
    const noDst: Reading[] = [];
    const seen = new Set<number>();
    for (let t = Date.UTC(2026, 9, 8); t < Date.UTC(2026, 10, 2); t += Q * 1000) {
      const w = wall(t);
      zurich.push({ collarId: 'Z', ts: t, intervalS: Q, activity: activity(w) });
      // The hour the clocks went back happens once on a farm without daylight saving.
      if (!seen.has(w)) noDst.push({ collarId: 'N', ts: w, intervalS: Q, activity: activity(w) });
      seen.add(w);
    }
    const judged = (rs: Reading[], onWall: (t: number) => number, timezone?: string) => {
      const det = new FarmDetector('f', rules, timezone ? { timezone } : {});
      // The day the clocks go back has 25 hours on the farm (one hour happens twice) and 24 on the farm without
      // the change, so a normal taken from whole days may differ by a fraction of a percent: to 1 %.
      const baseline = (b: unknown) => (typeof b === 'number' ? Math.round(Math.log(b) / Math.log(1.01)) : b);
      return run(rs, det).map((e) => ({ type: e.type, state: e.state, since: onWall(e.since), at: onWall(e.at), ratio: e.evidence.ratio, baseline: baseline(e.evidence.baseline) }));
    };
    const reference = judged(noDst, (t) => t);
    expect(reference.map((e) => `${e.type} ${e.state}`)).toEqual(['heat firing', 'heat resolved']);
    expect(reference[0]!.since).toBe(heatFrom);
    expect(judged(zurich, wall, tz)).toEqual(reference);
    // Judged by UTC hours, the same cow is compared with the wrong hours for two weeks after the change.
    expect(judged(zurich, wall)).not.toEqual(reference);
  });
});

describe('health', () => {
  const onset = START + 10 * DAY + 6 * HOUR;

  it('fires urgent on a sustained drop of both activity and rumination', () => {
    const sick = during(onset, onset + 3 * DAY, 0.3);
    const events = run(stream({ days: 16, act: sick, rum: sick }));
    const h = firing(events, 'health');
    expect(h).toHaveLength(1);
    expect(h[0]!.severity).toBe('urgent');
    expect(h[0]!.at).toBeGreaterThan(onset);
    expect(h[0]!.at).toBeLessThanOrEqual(onset + 24 * HOUR);
    const ev = h[0]!.evidence as Record<string, any>;
    expect(['activity', 'rumination']).toContain(ev.metric);
    // The figures shown are as deep as the word "urgent" says (found reading the demo's console: an urgent
    // alert showed the milder weighted trend, 81 % and 73 %).
    expect(ev.ratio).toBeLessThanOrEqual(Math.max(rules.health.activityMaxRatio, rules.health.ruminationMaxRatio));
    expect(ev.also).toMatchObject({ metric: expect.any(String) });
    expect(ev.also.metric).not.toBe(ev.metric);
    expect(resolved(events, 'health')).toHaveLength(1);
    expect(firing(events, 'heat')).toEqual([]);
  });

  // An illness ramping in (ketosis, metritis) takes both down a quarter for days before either is down 40 %.
  it('fires on a milder drop when activity and rumination are down together, not when one alone is', () => {
    const mild = during(onset, onset + 3 * DAY, 0.68);
    const both = firing(run(stream({ days: 16, act: mild, rum: mild })), 'health');
    expect(both).toHaveLength(1);
    expect(both[0]!.at - onset).toBeLessThanOrEqual(30 * HOUR);
    expect(both[0]!.evidence).toMatchObject({ also: expect.anything() });
    // One signal alone at this depth is found too (a lame cow walks less; a cow off feed ruminates less), but
    // only once it has held for longer: one signal is noisier than two agreeing.
    for (const alone of [{ act: mild }, { rum: mild }]) {
      const one = firing(run(stream({ days: 16, ...alone })), 'health');
      expect(one).toHaveLength(1);
      expect(one[0]!.at).toBeGreaterThan(both[0]!.at);
    }
    const slight = during(onset, onset + 3 * DAY, 0.88);
    expect(firing(run(stream({ days: 16, act: slight })), 'health')).toEqual([]);
    expect(firing(run(stream({ days: 16, rum: slight })), 'health')).toEqual([]);
  });

  // Found on a herd model written apart from the project, whose days wander as real cows' do: an illness
  // takes one signal further than the other, and the lagging one sat at 1.3-2 of her spreads for a day or
  // more while the other was past 2. The two are weighed together: their mean two spreads down.
  it('weighs the two signals together: one down two spreads and the other nearly so is called', () => {
    const twoSignals = (each?: number) =>
      steadyRules({ health: { ...(each !== undefined && { bothEachMaxZ: each }), trend: { activityDrop: 1, lyingActivityDrop: 1, bothActivityDrop: 1, ruminationDrop: 1 }, sustained: { aloneMaxRatio: 0.01, activityMaxRatio: 0.01, ruminationMaxRatio: 0.01 } } });
    const health = (o: Omit<StreamOpts, 'days'>, det = new FarmDetector('farm', twoSignals())) => firing(run(stream({ days: 16, ...o }), det), 'health');
    // Her days differ by about a tenth on each signal, so a day's drop is a few of her spreads, not dozens.
    const daily = (seed: number, ill = 1) => (t: number) => (0.9 + 0.2 * hash01(seed, Math.floor((t - START) / DAY))) * during(onset, onset + 2 * DAY, ill)(t);
    const h = health({ act: daily(3, 0.7), rum: daily(5, 0.8) });
    expect(h).toHaveLength(1);
    expect(h[0]!.evidence).toMatchObject({ metric: 'activity', also: { metric: 'rumination' } });
    expect(h[0]!.evidence.deviation).toBeLessThanOrEqual(-2);
    expect((h[0]!.evidence.also as { deviation: number }).deviation).toBeGreaterThan(-2);
    // Each held to two spreads, as before: not called.
    expect(health({ act: daily(3, 0.7), rum: daily(5, 0.8) }, new FarmDetector('farm', twoSignals(-2)))).toEqual([]);
    // One signal alone that far down, or her ordinary days: not called.
    expect(health({ act: daily(3, 0.7), rum: daily(5) })).toEqual([]);
    expect(health({ act: daily(3), rum: daily(5) })).toEqual([]);
    // The same two days straight after a heat she was called in: its aftermath, each held to the line.
    const heat = during(onset - 14 * HOUR, onset, 3);
    const after = run(stream({ days: 16, act: (t) => daily(3, 0.7)(t) * heat(t), rum: daily(5, 0.8) }), new FarmDetector('farm', twoSignals()));
    expect(firing(after, 'heat')).toHaveLength(1);
    expect(firing(after, 'health')).toEqual([]);
    // The same two days while the register has her due to calve (served 280 days before): her calving coming.
    const due = new FarmDetector('farm', twoSignals());
    due.setRecords(new Map([['C1', { inseminatedAt: onset - 280 * DAY }]]));
    expect(health({ act: daily(3, 0.7), rum: daily(5, 0.8) }, due)).toEqual([]);
  });

  // Ketosis ramping in over three days (the scorecard's slowest illness) has her a tenth down at 24 h and a
  // quarter at 36 h. Her fast trend (half its weight on the last 6 hours) lags that slide by hours, and
  // reached its lines a point or two late: called at 36-43 h on the scorecard. Both signals agreeing are
  // read on her quick trend (4 hours) too, for three hours in a row.
  it('calls a slow slide of both signals on her quick trend, hours before her fast trend alone would', () => {
    const fastOnly = steadyRules({ health: { trend: { quickBothHours: 48 } } });
    const slide = (k: number) => (t: number) => {
      const u = Math.min(1, Math.max(0, (t - onset) / (72 * HOUR)));
      return 1 - (1 - k) * u * u * (3 - 2 * u);
    };
    // The same slide under five draws of her hour-to-hour noise: never later, mostly sooner.
    const sooner = [5, 7, 8, 9, 11].filter((seed) => {
      const readings = stream({ days: 16, seed, act: slide(0.65), rum: slide(0.6) });
      const quick = firing(run(readings), 'health');
      const fast = firing(run(readings, new FarmDetector('farm', fastOnly)), 'health');
      expect(quick).toHaveLength(1);
      expect(fast).toHaveLength(1);
      expect(quick[0]!.at).toBeLessThanOrEqual(fast[0]!.at);
      if (quick[0]!.at === fast[0]!.at) return false;
      expect(quick[0]!.at - onset).toBeLessThanOrEqual(36 * HOUR);
      // The figures shown are the quick trend's, over the hours it weighs (two half-lives).
      const hours = 2 * rules.health.quickHalfLifeHours;
      expect(quick[0]!.evidence).toMatchObject({ path: 'both', basis: 'trend', window: { hours }, also: { window: { hours } } });
      return true;
    });
    expect(sooner.length).toBeGreaterThanOrEqual(3);
  });

  // Found on a second read: an hour her trend's paths are not asked (here her collar repeats one value for an
  // hour and a quarter, held as a collar's trouble) froze her both-down streaks, and they went on counting
  // after it as if the hours had been in a row. Now they start again: the same slide, called 34 h in, is
  // called three judged hours after the stuck hour ends (the hour after, frozen).
  it('an hour her trend is not judged breaks her both-down streak', () => {
    const slide = (k: number) => (t: number) => {
      const u = Math.min(1, Math.max(0, (t - onset) / (72 * HOUR)));
      return 1 - (1 - k) * u * u * (3 - 2 * u);
    };
    const readings = stream({ days: 16, seed: 8, act: slide(0.65), rum: slide(0.6) });
    const plain = firing(run(readings), 'health');
    expect(plain).toHaveLength(1);
    const stuckEnd = plain[0]!.at - HOUR;
    const stuck = readings.map((r) => ({ ...r }));
    const i = stuck.findIndex((r) => r.ts === stuckEnd);
    for (let k = i - 4; k <= i; k++) Object.assign(stuck[k]!, { activity: stuck[i - 5]!.activity, rumination: stuck[i - 5]!.rumination });
    const h = firing(run(stuck), 'health');
    expect(h).toHaveLength(1);
    expect(h[0]!.at - stuckEnd).toBeGreaterThanOrEqual(rules.health.trend.quickBothHours * HOUR);
  });

  // A lame cow walks less and lies down more, long before she eats less (Solano et al. 2016; Eberhart &
  // Krawczel 2017): on a collar that tells lying, her lying up is the second witness to a milder drop.
  it('finds a milder drop of activity when her collar tells she lies down more, and not lying alone', () => {
    const lame = during(onset, onset + 4 * DAY, 0.84);
    const more = during(onset, onset + 4 * DAY, 1.2);
    const same = () => 1;
    for (const rumination of [true, false]) {
      const h = firing(run(stream({ days: 16, rumination, act: lame, lying: more })), 'health');
      expect(h).toHaveLength(1);
      expect(h[0]!.at - onset).toBeLessThanOrEqual(36 * HOUR);
      expect(h[0]!.evidence).toMatchObject({ metric: 'activity', path: 'lying', lying: { metric: 'lying', unit: 'minutes lying' } });
      expect((h[0]!.evidence as { lying: { ratio: number } }).lying.ratio).toBeGreaterThanOrEqual(1 + rules.health.trend.lyingRise);
      // The same drop while she lies as ever is not enough for activity alone; nor is lying more while she
      // walks as ever (a wet day in the cubicles).
      expect(firing(run(stream({ days: 16, rumination, act: lame, lying: same })), 'health')).toEqual([]);
      expect(firing(run(stream({ days: 16, rumination, lying: more })), 'health')).toEqual([]);
    }
  });

  // Found on a second read: a day missing its busy hours (when she lies least) read as a day of lying more.
  it('does not read a day missing its busy hours as a day of lying more', () => {
    const lame = during(onset, onset + 4 * DAY, 0.84);
    const hourOfDay = (t: number) => ((t - START) % DAY) / HOUR;
    const readings = stream({ days: 16, act: lame, lying: () => 1, skip: (t) => t > onset - DAY && hourOfDay(t) > 8 && hourOfDay(t) <= 16 });
    expect(firing(run(readings), 'health')).toEqual([]);
  });

  // A collar whose lying went missing (a firmware change, a gateway's decoder dropping the field): what her
  // lying said before is no witness to a drop after.
  it('does not take her lying from before her collar stopped telling it as a witness', () => {
    const lame = during(onset, onset + 4 * DAY, 0.84);
    const readings = stream({ days: 16, act: lame, lying: during(onset - 2 * DAY, onset, 1.3) });
    for (const r of readings) if (r.ts > onset) delete r.lying;
    expect(firing(run(readings), 'health')).toEqual([]);
  });

  // Found on the scorecard: a mastitis setting in the day after her heat waited out the two days' hold after a
  // rise, and was called by the 24-hour line 10-15 h later than by her trend.
  it('in the two days after a heat, calls rumination as deep as the 24-hour line on her trend, not a milder dip', () => {
    const heat = (t: number) => (t > onset - 14 * HOUR && t <= onset ? 3 : 1);
    const sick = (k: number, days = 4) => run(stream({ days: 16, act: heat, rum: during(onset + 6 * HOUR, onset + days * DAY, k) }));
    const h = firing(sick(0.4), 'health');
    expect(firing(sick(0.4), 'heat')).toHaveLength(1);
    expect(h).toHaveLength(1);
    expect(h[0]!.evidence).toMatchObject({ metric: 'rumination', basis: 'trend' });
    expect(h[0]!.at - onset).toBeLessThanOrEqual(18 * HOUR);
    // Chewing a fifth less for a day and a half after her heat is its aftermath.
    expect(firing(sick(0.8, 1.5), 'health')).toEqual([]);
  });

  // Found on the scorecard: a collar that reports every hour sends the odd wild reading (a knock, a cow at the
  // brush) as a whole hour at 3×, and that one hour lifted her fast trend past the rise line: for two days
  // only the deep lines could call her, and a ketosis setting in the next morning was called at 60 h, not 37.
  it.each([
    ['hourly, on the hour', 4, 0],
    ['hourly, at half past', 4, 2],
    ['every 2 hours', 8, 0],
  ])('one wild reading is no rise (%s): an illness the next day is called as without it', (_, n, skip) => {
    const ill = during(onset, onset + DAY, 0.8);
    // Her reading ending in 13:00-15:00, the busiest hours of her day, which count for most in her trend, at
    // `wild` times what she did: spread over the hour slots it covers, two at :30 or every 2 hours.
    const sick = (wild: number) => {
      const readings = every(stream({ days: 16, act: ill, rum: ill }).slice(skip), n);
      const r = readings.find((x) => x.ts > onset - 17 * HOUR)!;
      r.activity *= wild;
      return firing(run(readings), 'health');
    };
    const plain = sick(1);
    expect(plain).toHaveLength(1);
    expect(plain[0]!.at - onset).toBeLessThanOrEqual(24 * HOUR);
    expect(sick(3).map((h) => h.at)).toEqual(plain.map((h) => h.at));
    // Six hours at 3× are a rise (a heat's first hours, say): the same dip after them is its aftermath.
    const heat = during(onset - 21 * HOUR, onset - 15 * HOUR, 3);
    expect(firing(run(every(stream({ days: 16, act: (t) => heat(t) * ill(t), rum: ill }).slice(skip), n)), 'health')).toEqual([]);
  });

  // Found on a second read: a rise was looked for in her hours every hour, so it ended when her hours fell
  // back, while her trend still stood over the line: the two days' hold after a heat ended 9-15 h sooner,
  // and the dip of a day or two after it was called as an illness.
  it('holds back the dip of two days after a heat as long as her trend stays up', () => {
    const heat = during(onset - 10 * HOUR, onset, 3);
    const dip = during(onset, onset + 2 * DAY, 0.8);
    const events = run(stream({ days: 16, act: (t) => heat(t) * dip(t), rum: dip }));
    expect(firing(events, 'heat')).toHaveLength(1);
    expect(firing(events, 'health')).toEqual([]);
    // Without the heat, the same dip is called: the test is of the hold.
    expect(firing(run(stream({ days: 16, act: dip, rum: dip })), 'health')).toHaveLength(1);
  });

  // Found on the scorecard: a cow whose trend still read a little over her normal when a ketosis set in — her
  // rumination falling, her activity back to normal — was taken for a cow about to calve ("up while chewing
  // less") and waited out two days' hold. A calving's restlessness is hours up, not a trend lagging behind.
  it('a cow livelier the day before whose rumination then falls is called, not held as a calving', () => {
    const sick = (livelier: number) =>
      firing(run(stream({ days: 16, act: during(onset - DAY, onset, livelier), rum: during(onset, onset + 3 * DAY, 0.6) })), 'health');
    const plain = sick(1);
    expect(plain).toHaveLength(1);
    expect(plain[0]!.at - onset).toBeLessThanOrEqual(12 * HOUR);
    // A day up by a sixth, no hour of it at 1.3× her normal: her trend reads 1.18 at the onset.
    const livelier = sick(1.18);
    expect(livelier).toHaveLength(1);
    expect(livelier[0]!.at - plain[0]!.at).toBeLessThanOrEqual(2 * HOUR);
  });

  // Found on the scorecard: before a calving a cow walks more and chews less. Where she is up by a fifth or a
  // quarter, no single hour half as much again, while chewing a quarter less in the last hours, that is the
  // restlessness the dip after it follows — not an illness, though the herd register has no calving yet.
  it('the restless hours before a calving hold back the dip after it, without the register', () => {
    const calving = START + 10 * DAY + 14 * HOUR;
    const dip = during(calving, calving + 1.5 * DAY, 0.72);
    const restless = during(calving - 12 * HOUR, calving, 1.2);
    const chewing = during(calving - 3 * HOUR, calving, 0.7);
    const health = (act: (t: number) => number, rum: (t: number) => number) => firing(run(stream({ days: 18, act, rum })), 'health');
    expect(health((t) => restless(t) * dip(t), (t) => chewing(t) * dip(t))).toEqual([]);
    // The same dip without the restless hours is called: the test is of the hold.
    expect(health(dip, dip)).toHaveLength(1);
    // Up by a quarter without chewing less is no sign of a calving, and no rise: the dip is called.
    expect(health((t) => restless(t) * dip(t), dip)).toHaveLength(1);
  });

  // Found on the scorecard: most false health alerts were calvings' dips, called in the hours before the
  // register had the calving. A calving's restlessness is often only a few hours up while she chews less,
  // which her 6-hour trend reaches after the calving, or not at all. The register's insemination says she is
  // due: then restless hours and the quiet ones after them are her calving.
  describe('a cow the register has due to calve', () => {
    const calving = START + 10 * DAY + 14 * HOUR;
    const dip = during(calving, calving + 1.5 * DAY, 0.72);
    const restless = during(calving - 3 * HOUR, calving, 1.3);
    const chewing = during(calving - 3 * HOUR, calving, 0.72);
    const judge = (record: (det: FarmDetector) => CowRecord | undefined, act: (t: number) => number, rum: (t: number) => number) => {
      const det = new FarmDetector('farm', rules);
      const r = record(det);
      if (r) det.setRecords(new Map([['C1', r]]));
      return firing(run(stream({ days: 18, act, rum }), det), 'health');
    };
    const served = (daysBefore: number) => (det: FarmDetector) => ({ inseminatedAt: det.dayStart(det.localDate(calving - daysBefore * DAY)) });
    const calvingDip = (record: (det: FarmDetector) => CowRecord | undefined) => judge(record, (t) => restless(t) * dip(t), (t) => chewing(t) * dip(t));

    it('her restless hours and the quiet ones after them are her calving: the dip after is held', () => {
      // Without a register, three restless hours are too few to tell from an illness: the dip is called.
      expect(calvingDip(() => undefined)).toHaveLength(1);
      expect(calvingDip(served(272))).toEqual([]);
      expect(calvingDip(served(290))).toEqual([]);
      // Her previous calving, before that insemination, is the register's ordinary row: due all the same.
      expect(calvingDip((det) => ({ ...served(280)(det), calvedAt: det.dayStart(det.localDate(calving - 380 * DAY)) }))).toEqual([]);
      // A dip that takes her activity only to 80 % (a calving's goes to 60-80 %) after the restless hours.
      const mild = during(calving, calving + 1.5 * DAY, 0.8);
      expect(judge(served(280), (t) => restless(t) * mild(t), (t) => chewing(t) * dip(t))).toEqual([]);
      expect(judge(() => undefined, (t) => restless(t) * mild(t), (t) => chewing(t) * dip(t))).toHaveLength(1);
      // A calving date typed in ahead, still to come, is not one yet: she is due.
      expect(calvingDip((det) => ({ ...served(280)(det), calvedAt: det.dayStart(det.localDate(calving + 5 * DAY)) }))).toEqual([]);
    });

    it('a rise like a heat in a cow due to calve is her calving coming, not a heat to inseminate', () => {
      const busy = during(calving - 8 * HOUR, calving, 2.6);
      const chewingLess = during(calving - 8 * HOUR, calving, 0.8);
      const heats = (record: (det: FarmDetector) => CowRecord | undefined) => {
        const det = new FarmDetector('farm', rules);
        const r = record(det);
        if (r) det.setRecords(new Map([['C1', r]]));
        return firing(run(stream({ days: 18, act: busy, rum: chewingLess }), det), 'heat');
      };
      expect(heats(() => undefined)).toHaveLength(1);
      // Inseminated 200 days before, or 301: not due, and it is told as a heat (with the insemination).
      expect(heats(served(200))).toHaveLength(1);
      expect(heats(served(301))).toHaveLength(1);
      expect(heats(served(280))).toEqual([]);
      expect(heats(served(265))).toEqual([]);
    });

    // The register keeps days: an insemination is counted from the start of its day, and her sign here is
    // seen 17 hours into the day of the calving.
    it('is due 265 to 300 days after the insemination, and not once a calving since is entered', () => {
      expect(calvingDip(served(265))).toEqual([]);
      expect(calvingDip(served(300))).toEqual([]);
      for (const days of [200, 264, 301, 365]) expect(calvingDip(served(days))).toHaveLength(1);
      // Calved ten days ago (the register has it) after that insemination: not due, and this dip is called.
      expect(calvingDip((det) => ({ ...served(280)(det), calvedAt: det.dayStart(det.localDate(calving - 10 * DAY)) }))).toHaveLength(1);
    });

    it('a dip without restless hours before it, or after a busy spell she came back from, is still called', () => {
      const called = judge(served(280), dip, dip);
      expect(called).toHaveLength(1);
      // Told as maybe her calving (the farmer can answer "calved"), with the insemination it counts from.
      expect(called[0]!.evidence).toMatchObject({ dueToCalve: true, daysSinceInsemination: 280 });
      expect(judge(served(200), dip, dip)[0]!.evidence).not.toHaveProperty('dueToCalve');
      // Calved ten days ago: her days in milk instead.
      const fresh = judge((det) => ({ ...served(280)(det), calvedAt: det.dayStart(det.localDate(calving - 10 * DAY)) }), dip, dip);
      expect(fresh[0]!.evidence).toMatchObject({ daysSinceCalving: 10 });
      expect(fresh[0]!.evidence).not.toHaveProperty('dueToCalve');
      // A busy spell, six ordinary hours, then both signals down: no step down after the spell, no calving.
      const later = during(calving + 6 * HOUR, calving + 1.5 * DAY + 6 * HOUR, 0.72);
      expect(judge(served(280), (t) => restless(t) * later(t), (t) => chewing(t) * later(t))).toHaveLength(1);
      // Up without chewing less, then the dip: no sign of a calving.
      expect(judge(served(280), (t) => restless(t) * dip(t), dip)).toHaveLength(1);
    });

    // Found on a second read: a milking moved puts the whole herd up and not chewing for hours, and then at
    // rest; read against a herd of the hours before, every due cow had a calving's sign.
    it("a whole herd restless and then quiet (a milking moved) is no cow's calving: her illness is called", () => {
      const busy = during(calving - 3 * HOUR, calving, 1.5);
      const rest = during(calving, calving + 3 * HOUR, 0.8);
      const sick = during(calving + 3 * HOUR, calving + 3 * DAY, 0.8);
      const herd = (record: boolean) => {
        const det = new FarmDetector('farm', rules);
        if (record) det.setRecords(new Map([['H00', { inseminatedAt: det.dayStart(det.localDate(calving - 280 * DAY)) }]]));
        const cows = Array.from({ length: 20 }, (_, i) =>
          stream({
            collarId: `H${String(i).padStart(2, '0')}`,
            days: 16,
            seed: 300 + i,
            act: (t) => busy(t) * rest(t) * (i === 0 ? sick(t) : 1),
            rum: (t) => chewing(t) * (i === 0 ? sick(t) : 1),
          }),
        );
        const merged = cows.flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
        return firing(run(merged, det), 'health').filter((e) => e.cowId === 'H00');
      };
      const without = herd(false);
      expect(without).toHaveLength(1);
      const due = herd(true);
      expect(due).toHaveLength(1);
      expect(due[0]!.at).toBe(without[0]!.at);
    });

    it('a due cow walking less for days is not taken for calving by a busy spell: her illness is called', () => {
      const onset = calving;
      const lame = during(onset - 2 * DAY, onset + 3 * DAY, 0.82);
      const worse = during(onset, onset + 3 * DAY, 0.94);
      const spell = during(onset - 3 * HOUR, onset, 1.4);
      const sick = during(onset, onset + 3 * DAY, 0.8);
      const h = judge(served(280), (t) => lame(t) * worse(t) * spell(t), (t) => chewing(t) * sick(t));
      expect(h).toHaveLength(1);
      expect(h[0]!.at - onset).toBeLessThanOrEqual(24 * HOUR);
    });
  });

  // Found tracing the scorecard's late ketosis: a cow's hours are skewed (a walk to the brush or the
  // pasture is an hour at two or three times her normal, on no fixed hour), so each hour's normal, a median,
  // does not see them while her day does; her hours against their normals read a few per cent over 1 on an
  // ordinary day, and so did her trend, which then had to fall further than its lines say.
  it('finds a mild drop of both signals on a cow whose busy hours wander, and does not call her ordinary days', () => {
    // Two hours a day at twice her normal, different hours each day.
    const burst = (t: number) => {
      const day = Math.floor((t - START) / DAY);
      const hour = Math.floor(((t - START) % DAY) / HOUR);
      return hour === (day * 7 + 3) % 24 || hour === (day * 7 + 14) % 24 ? 2 : 1;
    };
    // Both down 12 %, the two-signal line: called within the day (before her trend was read against her
    // day, not at all in three days).
    const ill = during(onset, onset + 3 * DAY, 0.88);
    const h = firing(run(stream({ days: 16, act: (t) => burst(t) * ill(t), rum: ill })), 'health');
    expect(h).toHaveLength(1);
    expect(h[0]!.evidence).toMatchObject({ basis: 'trend', path: 'both' });
    expect(h[0]!.at - onset).toBeLessThanOrEqual(30 * HOUR);
    expect(firing(run(stream({ days: 16, act: burst })), 'health')).toEqual([]);
  });

  it('a day at half her walking, lain through while she chews as usual, is called only well under half', () => {
    // Deep lines only: her trend and her last three days set where they cannot fire, so the 24-hour lines
    // alone are read.
    const deep = steadyRules({ health: { bothMaxRatio: 0.01, trend: { activityDrop: 1, lyingActivityDrop: 1, bothActivityDrop: 1 }, sustained: { aloneMaxRatio: 0.01, activityMaxRatio: 0.01 } } });
    const health = (o: Omit<StreamOpts, 'days'>) => firing(run(stream({ days: 14, ...o }), new FarmDetector('farm', deep)), 'health');
    const day = during(onset, onset + DAY, 0.52);
    const asEver = () => 1;
    // A collar that tells lying, she chewing as usual: a real cow's quiet day, not news; well under half is.
    expect(health({ act: day, lying: asEver })).toEqual([]);
    expect(health({ act: during(onset, onset + DAY, 0.4), lying: asEver })).toHaveLength(1);
    // Chewing less (under the line that says she is well again): the 60 % line.
    expect(health({ act: day, rum: during(onset, onset + DAY, 0.8), lying: asEver })).toHaveLength(1);
    // A collar that tells no lying (nothing else would call a lame cow at 50-60 %), or no rumination: 60 %.
    expect(health({ act: day })).toHaveLength(1);
    expect(health({ act: day, rumination: false })).toHaveLength(1);
  });

  it('fires warning on a drop of activity alone (collars without rumination)', () => {
    const events = run(stream({ days: 14, rumination: false, act: during(onset, onset + 3 * DAY, 0.45) }));
    const h = firing(events, 'health');
    expect(h).toHaveLength(1);
    expect(h[0]!.severity).toBe('warning');
    expect(h[0]!.evidence).toMatchObject({ metric: 'activity' });
  });

  // Cows ruminate and move less for a day to three after calving (and more in the hours before): what a farm
  // that keeps its herd register has told the agent is not news, and a false alarm at the busiest time.
  it('holds back the trend in the three days after a calving the register knows, not the deep drops or later days', () => {
    const calving = START + 10 * DAY + 3 * HOUR; // 2026-01-15 03:00
    const withCalving = (act: (t: number) => number, rum = act) => {
      const det = new FarmDetector('farm', rules);
      det.setRecords(new Map([['C1', { calvedAt: det.dayStart('2026-01-15') }]]));
      return firing(run(stream({ days: 18, act, rum }), det), 'health');
    };
    const dip = during(calving, calving + 2 * DAY, 0.72);
    expect(firing(run(stream({ days: 18, act: dip, rum: dip })), 'health')).toHaveLength(1); // no register: called
    expect(withCalving(dip)).toEqual([]);
    // A cow off feed is called whatever the register says: a whole day ruminating at 40 % of her normal.
    expect(withCalving(() => 1, during(calving, calving + 2 * DAY, 0.4))).toHaveLength(1);
    // An evening calving: the register's day is nearly over, and the hold runs on from it; nor does what the
    // trend gathered of the dip fire when the hold ends (a dip of three days, as some cows have).
    const evening = START + 10 * DAY + 22 * HOUR;
    expect(withCalving(during(evening, evening + 3 * DAY, 0.8))).toEqual([]);
    expect(withCalving(during(evening, evening + 2 * DAY, 0.72))).toEqual([]);
    // The same dip setting in on her fourth day after calving is an illness (ketosis, metritis come then).
    const later = during(calving + 4 * DAY, calving + 6 * DAY, 0.72);
    const h = withCalving(later);
    expect(h).toHaveLength(1);
    expect(h[0]!.at).toBeGreaterThan(calving + 4 * DAY);
  });

  it('judges health only after 4 comparable days (heats after 2): a new collar on a cow off feed on day 3 is not called', () => {
    const offFeed = (day: number) => firing(run(stream({ days: 9, rum: during(START + day * DAY, START + (day + 2) * DAY, 0.4) })), 'health');
    const early = offFeed(2);
    // Called, if at all, only once her fourth day is in: never on the two days off feed while learning.
    expect(early.every((h) => h.at >= START + 4 * DAY)).toBe(true);
    expect(offFeed(5)).toHaveLength(1);
    const first = START + 2 * DAY + 9 * HOUR;
    expect(firing(run(stream({ days: 4, act: (t) => (t > first && t <= first + 14 * HOUR ? 3 : 1) })), 'heat')).toHaveLength(1);
  });

  it('fires on a drop of rumination alone, and not on a short quiet spell', () => {
    const rumDrop = run(stream({ days: 14, rum: during(onset, onset + 3 * DAY, 0.3) }));
    expect(firing(rumDrop, 'health')).toHaveLength(1);
    expect(firing(rumDrop, 'health')[0]!.evidence).toMatchObject({ metric: 'rumination', unit: 'minutes ruminating' });
    // Two quiet hours are a nap, not an illness. (Four hours with rumination and movement both down to a fifth
    // are flagged: a cow that stops ruminating for half a day's morning is worth a look.)
    const spell = during(onset, onset + 2 * HOUR, 0.2);
    expect(firing(run(stream({ days: 14, act: spell, rum: spell })))).toEqual([]);
  });
});

// Real cows' days differ by 10-20 % on activity (the IceTag leg tags here: 18 %; bench/realism.ts), and the
// MAD of her one or two weeks of days can read a cow far steadier than she is: her health lines are widened
// by her trend's own spread, read over her past two weeks' hours, and by at least real cows' spread
// (health.trend.daySpread) unless her trend is steadier than that by half (health.trend.steadyTrendSpreads).
describe('unwell, on cows as noisy as real ones', () => {
  const onset = START + 10 * DAY + 6 * HOUR;
  /** Her activity `k` times her own over [from, to), on her own (steady or wandering) hours. */
  const spell = (own: (t: number) => number, from: number, to: number, k: number) => (t: number) => own(t) * during(from, to, k)(t);
  const health = (readings: Reading[], r: RuleSet = DEFAULT_RULES) => firing(run(readings, new FarmDetector('farm', r)), 'health');
  // The same 24 hours every day, from a tenth to twice her normal, in an order of each day's own: her days'
  // totals barely differ (their MAD reads her steadier than the floor), her hours and her trend do.
  const levels = Array.from({ length: 24 }, (_, i) => (i < 10 ? 0.1 + 0.03 * i : 0.8 + 0.1 * (i - 10)));
  const orders = new Map<number, number[]>();
  const alike = (seed: number) => (t: number) => {
    const day = Math.floor((t - 1) / DAY);
    let order = orders.get(seed * 1e6 + day);
    if (!order) orders.set(seed * 1e6 + day, (order = [...levels.keys()].sort((a, b) => hash01(seed, day * 24 + a) - hash01(seed, day * 24 + b))));
    return levels[order[Math.floor(((t - 1) % DAY) / HOUR)]!]!;
  };
  /** Every cow held to the floor, as before round 30. */
  const floored = resolveRules({ health: { trend: { steadyTrendSpreads: 0 } } });

  it("reads how far a cow's trend strays on her ordinary days: little on a steady cow, as much as real cows' days on one whose hours wander", () => {
    const trendSpread = (act?: (t: number) => number, days = 12) => {
      const det = new FarmDetector('farm', rules);
      run(stream({ days, act }), det);
      return det.cows.get('C1')!.normal.trendSpread('act', (START + days * DAY) / HOUR, 6, 4);
    };
    expect(trendSpread()).toBeLessThan(0.04);
    expect(trendSpread(wandering(1))).toBeGreaterThan(DEFAULT_RULES.health.trend.daySpread.activity / 2);
    expect(trendSpread(wandering(2, true))).toBeGreaterThan(DEFAULT_RULES.health.trend.daySpread.activity / 2);
    // With fewer than 4 days before yesterday: not known.
    expect(trendSpread(undefined, 5)).toBeNaN();
  });

  /** Her last three days alone: the 24-hour activity lines and her trend's activity paths set where they cannot fire. */
  const onlyDays = { activityMaxRatio: 0.01, activityAloneMaxRatio: 0.01, trend: { activityDrop: 1, lyingActivityDrop: 1 } };
  const only = resolveRules({ health: onlyDays });

  it('days down: a cow walking a third less for days is called once she also lies longer, or at half her walking', () => {
    // The path alone (`only`), as on a cow whose hours and days wander as real cows' do, where those lines sit
    // below a lame cow's walking (the noisy herds of the scorecard; docs/figures.md, round 33).
    const lameFrom = START + 16 * DAY + 6 * HOUR; // two weeks of her days before it
    const lame = (k: number) => during(lameFrom, lameFrom + 7 * DAY, k);
    const longer = during(lameFrom, lameFrom + 7 * DAY, 1.2);
    const days = (o: Omit<StreamOpts, 'days'>, r = only) => health(stream({ ...o, days: 26 }), r);
    for (const seed of [7, 8, 9]) {
      const h = days({ seed, act: lame(0.62), lying: longer });
      expect(h).toHaveLength(1);
      // Both signals over the same three days (the message tells them over one window), her lying over the day.
      expect(h[0]!.evidence).toMatchObject({ metric: 'activity', path: 'days', window: { hours: 72 }, also: { metric: 'rumination', window: { hours: 72 } }, lying: { metric: 'lying', window: { hours: 24 } } });
      expect(h[0]!.at - lameFrom).toBeLessThanOrEqual(5 * DAY);
      // Lying as ever, a third less walking is three quiet days of a real cow, not a lameness.
      expect(days({ seed, act: lame(0.62), lying: () => 1 })).toEqual([]);
      // A collar that does not tell lying: not at 62 %, called under half her walking.
      expect(days({ seed, act: lame(0.62) })).toEqual([]);
      expect(days({ seed, act: lame(0.45) })).toMatchObject([{ evidence: { path: 'days' } }]);
      // Turned off, nothing.
      expect(days({ seed, act: lame(0.45) }, resolveRules({ health: { ...onlyDays, sustained: { aloneMaxRatio: 0.01 } } }))).toEqual([]);
    }
  });

  it('days down: three days the whole herd walks half as much (a storm, a long spell kept in) are the herd\'s, not each cow\'s', () => {
    const from = START + 16 * DAY + 6 * HOUR;
    const kept = during(from, from + 4 * DAY, 0.5);
    const cows = Array.from({ length: 20 }, (_, i) => stream({ collarId: `H${i}`, days: 24, seed: 60 + i, act: kept }));
    const merged = cows.flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    expect(firing(run(merged, new FarmDetector('farm', only)), 'health')).toEqual([]);
    // One of them alone, judged without her herd: called on her days.
    expect(firing(run(cows[0]!, new FarmDetector('farm', only)), 'health')).toMatchObject([{ evidence: { path: 'days' } }]);
  });

  // Her last 24 hours must be down as far as her three days: a cow who walked little for two days (after a
  // busy one) and is about herself again is not called on the three days her window then holds.
  it('days down: not once her last day is back', () => {
    const from = START + 16 * DAY + 6 * HOUR;
    const spell = (back: number) => (t: number) => (t <= from - DAY || t > from + 3 * DAY ? 1 : t <= from ? 1.4 : t <= from + 2 * DAY ? 0.3 : back);
    expect(firing(run(stream({ days: 24, act: spell(0.9) }), new FarmDetector('farm', only)), 'health')).toEqual([]);
    // Still down on the third day: called.
    expect(firing(run(stream({ days: 24, act: spell(0.3) }), new FarmDetector('farm', only)), 'health')).toMatchObject([{ evidence: { path: 'days' } }]);
  });

  it('a quiet half-day a real cow has on an ordinary week is not called, however steady her past days read', () => {
    // Walking a quarter less for 18 hours, chewing as ever: two of a real cow's spreads, a day in twenty.
    for (const seed of [1, 2, 3]) expect(health(stream({ days: 16, act: spell(wandering(seed), onset, onset + 18 * HOUR, 0.75) }))).toEqual([]);
  });

  it('a cow whose hours wander is not judged on her days where they read alike: her trend says she is not steady', () => {
    // Walking a fifth less for two days, chewing as ever: within a real cow's noise.
    for (const seed of [1, 2, 3, 4, 5]) {
      const readings = stream({ days: 16, act: spell(alike(seed), onset, onset + 48 * HOUR, 0.8) });
      const inSpell = (es: AlertEvent[]) => es.filter((e) => e.at > onset && e.at <= onset + 60 * HOUR);
      expect(inSpell(health(readings))).toEqual([]);
      // Read by her days' own spread alone, she is called: they read her steady.
      expect(inSpell(health(readings, steadyRules()))).toHaveLength(1);
    }
  });

  it('a cow whose trend strays further than the floor is held to her trend, not the floor', () => {
    // Walking 30 % less for two days, chewing as ever, on a cow whose hours wander and whose trend strays by
    // some 12 % on ordinary days: three of the floor's spreads, not three of hers.
    const readings = stream({ days: 16, act: spell(alike(4), onset, onset + 48 * HOUR, 0.7) });
    const det = new FarmDetector('farm', DEFAULT_RULES);
    expect(firing(run(readings, det), 'health')).toEqual([]);
    const spread = det.cows.get('C1')!.normal.trendSpread('act', onset / HOUR, DEFAULT_RULES.health.fastHalfLifeHours, DEFAULT_RULES.health.warmupDays);
    expect(spread).toBeGreaterThan(DEFAULT_RULES.health.trend.daySpread.activity);
    // Held to the floor, it is called.
    expect(health(readings, floored)).toHaveLength(1);
  });

  it('a cow whose trend strays more than half the floor is held to the floor, though it strays less', () => {
    // Walking 28 % less for two days, on a cow whose hours wander and whose trend strays by some 8 %: the
    // floor's trend lines (3 × 10 %) do not call it, her whole day does (the 24-hour line, on a collar that
    // tells no lying); on her own trend's spread they would, hours sooner. Her trend's spread is not trusted
    // under the floor unless twice it is.
    const readings = stream({ days: 16, act: spell(alike(5), onset, onset + 48 * HOUR, 0.72) });
    const det = new FarmDetector('farm', DEFAULT_RULES);
    const called = firing(run(readings, det), 'health');
    const spread = det.cows.get('C1')!.normal.trendSpread('act', onset / HOUR, DEFAULT_RULES.health.fastHalfLifeHours, DEFAULT_RULES.health.warmupDays);
    expect(spread).toBeLessThan(DEFAULT_RULES.health.trend.daySpread.activity);
    expect(2 * spread).toBeGreaterThanOrEqual(DEFAULT_RULES.health.trend.daySpread.activity);
    expect(called).toHaveLength(1);
    expect(called[0]!.evidence.basis).not.toBe('trend');
    // Her trend's spread trusted (once it is under the floor at all): called on her trend.
    expect(health(readings, resolveRules({ health: { trend: { steadyTrendSpreads: 1.01 } } }))).toMatchObject([{ evidence: { basis: 'trend' } }]);
  });

  it('a steady cow is held to two of her own spreads: both signals a little down for a day is called', () => {
    // Her hours within ±30 % of her normal, drawn afresh each hour: her trend strays by some 4 %, so twice it
    // is under the floor, and her lines are two of her spreads (8-9 %), not four, nor the floor's two of 10 %.
    const jitter = (t: number) => 0.7 + 0.6 * hash01(3, Math.floor(t / HOUR));
    const sick = (k: number) => (t: number) => jitter(t) * during(onset, onset + 24 * HOUR, k)(t);
    const readings = stream({ days: 16, seed: 3, act: sick(0.88), rum: sick(0.85) });
    const det = new FarmDetector('farm', DEFAULT_RULES);
    const called = firing(run(readings, det), 'health');
    const spread = det.cows.get('C1')!.normal.trendSpread('act', onset / HOUR, DEFAULT_RULES.health.fastHalfLifeHours, DEFAULT_RULES.health.warmupDays);
    expect(spread).toBeGreaterThan(0.025);
    expect(2 * spread).toBeLessThan(DEFAULT_RULES.health.trend.daySpread.activity);
    expect(called).toHaveLength(1);
    expect(called[0]!.evidence.path).toBe('both');
    expect(called[0]!.at - onset).toBeLessThanOrEqual(36 * HOUR);
    // Held to the floor, as every cow was before, it is not.
    expect(health(readings, floored)).toEqual([]);
  });

  it('on a cow whose trend is steady, the same half-day is called: the floor is for cows as noisy as real ones', () => {
    const readings = stream({ days: 16, act: during(onset, onset + 18 * HOUR, 0.75) });
    const called = health(readings);
    expect(called).toHaveLength(1);
    expect(called[0]!.evidence.path).toBe('activity');
    // Held to the floor, as every cow was before, it is not.
    expect(health(readings, floored)).toEqual([]);
  });

  // What the floor's lines still call (on a cow held to them): a lameness, and an illness setting in.
  it('a lame cow walking a third less, chewing as ever, is still called within 36 hours', () => {
    const called = health(stream({ days: 16, act: during(onset, onset + 5 * DAY, 0.65) }), floored);
    expect(called).toHaveLength(1);
    expect(called[0]!.evidence.path).toBe('activity');
    expect(called[0]!.at - onset).toBeLessThanOrEqual(36 * HOUR);
  });

  it('both signals down a fifth, as an illness sets in, is still called within 36 hours', () => {
    const sick = during(onset, onset + 4 * DAY, 0.78);
    const called = health(stream({ days: 16, act: sick, rum: sick }), floored);
    expect(called).toHaveLength(1);
    expect(called[0]!.evidence.path).toBe('both');
    expect(called[0]!.at - onset).toBeLessThanOrEqual(36 * HOUR);
  });
});

describe('unwell, in a herd', () => {
  /**
   * A herd of 20 (H00-H19) on the simulator's daily profile, a reading every 15 min for 14 days, whose day
   * (its milking with it) runs `moveH` hours later from `moved` on; `cow` scales cow i's signals at `ts`.
   * Lying is told only when `lying` is set.
   */
  const profileHerd = (o: { seed: number; moved: number; moveH: number; lying?: boolean; cow: (i: number, ts: number) => { act?: number; rum?: number; lie?: number } }) =>
    Array.from({ length: 20 }, (_, i) => {
      const rnd = noise(o.seed + i);
      const out: Reading[] = [];
      for (let ts = START + Q * 1000; ts <= START + 14 * DAY; ts += Q * 1000) {
        const t = ts - Q * 500 - (ts > o.moved ? o.moveH * HOUR : 0);
        const p = profileAt((((t - START) % DAY) / HOUR + 24) % 24);
        const k = o.cow(i, ts);
        const r: Reading = { collarId: `H${String(i).padStart(2, '0')}`, ts, intervalS: Q, activity: Math.round(120 * p.act * rnd() * (k.act ?? 1)), rumination: p.rum * rnd() * (k.rum ?? 1) };
        if (o.lying) r.lying = Math.min(15, p.lie * rnd() * (k.lie ?? 1));
        out.push(r);
      }
      return out;
    }).flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));

  // Found on the scorecard: a milking moved to another hour shifts every cow's lying against her normal for
  // days. Lying up is a witness to her own drop of activity only where her herd's is not up with it.
  it('a rise of lying the whole herd shares is no witness to a cow walking less', () => {
    const onset = START + 10 * DAY + 6 * HOUR;
    const lame = during(onset, onset + 4 * DAY, 0.84);
    const more = during(onset, onset + 4 * DAY, 1.2);
    const herdOf = (herdLies: boolean) =>
      Array.from({ length: 20 }, (_, i) => stream({ collarId: `H${i}`, days: 16, seed: 90 + i, act: i === 0 ? lame : undefined, lying: i === 0 || herdLies ? more : () => 1 }))
        .flat()
        .sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    const h0 = (events: AlertEvent[]) => firing(events, 'health').filter((e) => e.cowId === 'H0');
    expect(h0(run(herdOf(false)))).toHaveLength(1);
    expect(h0(run(herdOf(true)))).toEqual([]);
    expect(firing(run(herdOf(true)), 'health')).toEqual([]);
  });

  // Found on the scorecard: a group moved to new pasture walks half as much again for hours, and each of its
  // cows' trends read that as her own rise: the two days' hold after a heat began, and cows going lame in the
  // group that day were called on the third and fourth (81.6 h after onset). A rise the herd shares is not
  // hers, whether the whole herd was busy or a group too small to move the herd's median cow.
  /**
   * A herd of 20 (ids H00-H19), the first `group` of them `k` times livelier over [from, to], and H00 going
   * lame at `onset`: walking a fifth less, lying a fifth longer. In arrival order (`arrives`, else `ts`).
   */
  const lameInBusyHerd = (o: { onset: number; group: number; from: number; to: number; k: number; seed: number; arrives?: (r: Reading) => number }) => {
    const busy = during(o.from, o.to, o.k);
    const at = o.arrives ?? ((r: Reading) => r.ts);
    return Array.from({ length: 20 }, (_, i) =>
      stream({
        collarId: `H${String(i).padStart(2, '0')}`, days: 16, seed: o.seed + i,
        act: (t) => (i < o.group ? busy(t) : 1) * (i === 0 ? during(o.onset, o.onset + 4 * DAY, 0.8)(t) : 1),
        lying: i === 0 ? during(o.onset, o.onset + 4 * DAY, 1.2) : () => 1,
      }),
    ).flat().sort((x, y) => at(x) - at(y) || x.ts - y.ts || x.collarId.localeCompare(y.collarId));
  };

  it.each([20, 8])("a busy spell of %i cows of 20 does not hold back a lame cow's call as her own heat would", (group) => {
    const onset = START + 10 * DAY + 6 * HOUR;
    const herd = lameInBusyHerd({ onset, group, from: onset + 2 * HOUR, to: onset + 12 * HOUR, k: 1.8, seed: 140 });
    const h = firing(run(herd), 'health');
    expect(h.map((e) => e.cowId)).toEqual(['H00']);
    // Held as her own rise, she waited out two days after the spell: called 64 h after onset. Now 37 h: the
    // spell's busy hours still lift her trend for a while after it (a herd's rise is left in her trend).
    expect(h[0]!.at - onset).toBeLessThanOrEqual(40 * HOUR);
  });

  // The herd's busy hours are a count of its cows: a rise is asked about once the herd has told its hours.
  // Here the rest of her group's collars send that day late, in one backlog (their gateway was down).
  it("waits for the herd to tell a rise's hours before it says whose the rise was", () => {
    const onset = START + 10 * DAY + 6 * HOUR;
    const back = onset + 20 * HOUR;
    const arrives = (r: Reading) => (r.collarId >= 'H01' && r.collarId <= 'H07' && r.ts > onset && r.ts <= back ? back : r.ts);
    const herd = lameInBusyHerd({ onset, group: 8, from: onset + 2 * HOUR, to: onset + 12 * HOUR, k: 1.8, seed: 140, arrives });
    const h = firing(run(herd), 'health');
    expect(h.map((e) => e.cowId)).toEqual(['H00']);
    expect(h[0]!.at - onset).toBeLessThanOrEqual(40 * HOUR);
  });

  // Found on a second read: her own heat, with two cows of 20 in heat a few hours after her (cows on a
  // synchronisation programme) or a group busy in its hours, made busy hours, and the dip after her heat was
  // taken for an illness. Her own rise still holds her trend: the dip after a heat is its aftermath.
  it.each([
    ['alone', 0, 0, 2.5],
    ['with 2 cows in heat 4 h after her', 2, 4, 2.5],
    ['with 3 cows in heat 6 h after her', 3, 6, 2.5],
    ['with a group of 8 busy in her heat', 8, 4, 1.8],
  ])('still holds back the dip after her own heat: %s', (_, others, offset, k) => {
    const onset = START + 10 * DAY + 6 * HOUR;
    const theirs = during(onset + offset * HOUR, onset + (offset + (k > 2 ? 12 : 8)) * HOUR, k);
    // Her heat at 3x: at 2.5x, with 8 of 20 busy at once, the herd's typical hour is a little over its normal
    // and is taken out of hers (normal.ts, WindowOptions.herd), which leaves her just under the 2.5x a busy
    // hour asks of a heat.
    const herd = Array.from({ length: 20 }, (_, i) =>
      stream({
        collarId: `H${i}`, days: 16, seed: 160 + i,
        act: (t) => (i >= 1 && i <= others ? theirs(t) : 1) * (i === 0 ? during(onset, onset + 12 * HOUR, 3)(t) * during(onset + 12 * HOUR, onset + 48 * HOUR, 0.75)(t) : 1),
        rum: i === 0 ? during(onset + 24 * HOUR, onset + 48 * HOUR, 0.8) : undefined,
      }),
    ).flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    const events = run(herd);
    expect(firing(events, 'heat').map((e) => e.cowId)).toContain('H0');
    expect(firing(events, 'health')).toEqual([]);
    // Without the hold, the same dip is called: the test is of the hold.
    const alone = run(stream({ days: 16, seed: 160, act: during(onset + 12 * HOUR, onset + 48 * HOUR, 0.75), rum: during(onset + 24 * HOUR, onset + 48 * HOUR, 0.8) }));
    expect(firing(alone, 'health')).toHaveLength(1);
  });

  // A whole herd livelier for hours (feed pushed up, a cool morning after a hot week), each cow up a third and
  // none "hot": no busy hour says so, but the herd's own rise does.
  it('a rise of the whole herd, no cow hot, does not hold back a lame cow after it', () => {
    const onset = START + 10 * DAY + 6 * HOUR;
    const herd = lameInBusyHerd({ onset, group: 20, from: onset - 10 * HOUR, to: onset, k: 1.4, seed: 180 });
    const h = firing(run(herd), 'health');
    expect(h.map((e) => e.cowId)).toEqual(['H00']);
    expect(h[0]!.at - onset).toBeLessThanOrEqual(36 * HOUR);
  });

  // Found on a second read: a herd whose lying moved six hours later (a milking moved), lying as long as
  // ever, read as a herd lying longer hour by hour, and took a lame cow's witness away.
  it('a herd whose lying moved to other hours has not lain longer: a lame cow in it is still called', () => {
    const onset = START + 10 * DAY + 6 * HOUR;
    const rhythm = (t: number) => 1 + 0.6 * Math.sin(((((t - START) % DAY) / HOUR - 8) / 24) * 2 * Math.PI);
    const moved = (t: number) => (t > onset - 2 * DAY ? (2.3 - rhythm(t + 6 * HOUR)) / (2.3 - rhythm(t)) : 1);
    const herd = Array.from({ length: 20 }, (_, i) =>
      stream({
        collarId: `H${i}`, days: 16, seed: 120 + i,
        act: i === 0 ? during(onset, onset + 4 * DAY, 0.84) : undefined,
        lying: (t) => moved(t) * (i === 0 && t > onset && t <= onset + 4 * DAY ? 1.12 : 1),
      }),
    ).flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    const h = firing(run(herd), 'health');
    expect(h.map((e) => e.cowId)).toEqual(['H0']);
    expect(h[0]!.evidence).toMatchObject({ path: 'lying' });
  });

  // Found on the scorecard, two ways a herd doing nothing unusual read as a herd down, and took 4-15 % out
  // of every cow's drop: illnesses were called hours late. The herd's activity hours were told with the heat
  // rule's floor for a quiet hour (at least half her mean hourly rate), so in the small hours of every night,
  // when a herd lies and moves a third as much as by day, its median cow read 0.7 of her normal; and its
  // median cow was read as the middle of her 8 %-wide bin, 0.96 or 1.04 as she fell either side of 1.0
  // (what the herd shares is taken out of a drop, never added: the 0.96s counted).
  it.each([
    ['walking less', 0.75, 1],
    ['walking and ruminating less', 0.86, 0.85],
  ])('a cow %s is called in a quiet herd as soon as on her own', (_, act, rum) => {
    const onset = START + 10 * DAY + 6 * HOUR;
    const night = (t: number) => (((t - START) % DAY) / HOUR >= 23 || ((t - START) % DAY) / HOUR < 4 ? 0.4 : 1);
    const cow = (i: number): StreamOpts => ({
      collarId: `H${String(i).padStart(2, '0')}`, days: 16, seed: 200 + i, rumination: rum < 1,
      act: (t) => night(t) * (i === 0 ? during(onset, onset + 4 * DAY, act)(t) : 1),
      rum: i === 0 ? during(onset, onset + 4 * DAY, rum) : undefined,
    });
    const alone = firing(run(stream(cow(0))), 'health');
    const herd = Array.from({ length: 20 }, (_, i) => stream(cow(i))).flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    const inHerd = firing(run(herd), 'health');
    expect(alone).toHaveLength(1);
    expect(inHerd.map((e) => e.cowId)).toEqual(['H00']);
    expect(inHerd[0]!.at - alone[0]!.at).toBeLessThanOrEqual(HOUR);
  });

  // What the herd's share is for: a hot spell takes the whole herd's walking and chewing down a fifth for two
  // days. Each cow alone would be called unwell; in her herd, none is.
  it('a drop the whole herd shares (two hot days) is taken out: no cow is called unwell', () => {
    const hot = during(START + 10 * DAY + 8 * HOUR, START + 12 * DAY + 8 * HOUR, 0.78);
    const hotRum = during(START + 10 * DAY + 8 * HOUR, START + 12 * DAY + 8 * HOUR, 0.82);
    const night = (t: number) => (((t - START) % DAY) / HOUR >= 23 || ((t - START) % DAY) / HOUR < 4 ? 0.4 : 1);
    const cow = (i: number): StreamOpts => ({ collarId: `H${String(i).padStart(2, '0')}`, days: 14, seed: 320 + i, act: (t) => night(t) * hot(t), rum: hotRum });
    expect(firing(run(stream(cow(0))), 'health')).toHaveLength(1);
    const herd = Array.from({ length: 20 }, (_, i) => stream(cow(i))).flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    expect(firing(run(herd), 'health')).toEqual([]);
  });

  // Found on the scorecard with the quick trend: on a heat-stress day every cow slides, not all alike, and the
  // typical cow taken out of a quick trend leaves the harder-hit a tenth down for hours (four false alerts on
  // nine herds). Here 15 cows of 20 walk a fifth less and chew 15 % less for 20 hours, one of them a little
  // more; she is not called, on the quick trend or the fast. (Without the herd's dip holding the quick
  // trend back, she is.)
  it('a cow hit a little harder than her herd on a hot day is not called on her quick trend', () => {
    const from = START + 10 * DAY + 8 * HOUR;
    const hot = (k: number) => during(from, from + 20 * HOUR, k);
    const herd = Array.from({ length: 20 }, (_, i) =>
      stream({ collarId: `H${String(i).padStart(2, '0')}`, days: 14, seed: 600 + i, act: i === 0 ? hot(0.73) : i < 16 ? hot(0.8) : undefined, rum: i === 0 ? hot(0.76) : i < 16 ? hot(0.85) : undefined }),
    ).flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    expect(firing(run(herd), 'health')).toEqual([]);
    const ungated = new FarmDetector('farm', steadyRules({ health: { trend: { quickHerdAbove: 0 } } }));
    expect(firing(run(herd, ungated), 'health').map((e) => e.cowId)).toEqual(['H00']);
  });

  // The herd's dip is either signal's: a feed the herd likes less has it chewing 15 % less for 20 hours while
  // it walks as ever. A cow chewing 25 % less and walking 10 % less then is not called on her quick trend
  // (nor her fast one); without the dip holding the quick trend back, she is.
  it('a herd chewing less on a new feed holds back the quick trend, though it walks as ever', () => {
    const from = START + 10 * DAY + 8 * HOUR;
    const feed = (k: number) => during(from, from + 20 * HOUR, k);
    const herd = Array.from({ length: 20 }, (_, i) =>
      stream({ collarId: `H${String(i).padStart(2, '0')}`, days: 14, seed: 700 + i, act: i === 0 ? feed(0.9) : undefined, rum: i === 0 ? feed(0.75) : i < 16 ? feed(0.85) : undefined }),
    ).flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    expect(firing(run(herd), 'health')).toEqual([]);
    const ungated = new FarmDetector('farm', steadyRules({ health: { trend: { quickHerdAbove: 0 } } }));
    expect(firing(run(herd, ungated), 'health').map((e) => e.cowId)).toEqual(['H00']);
  });

  // Found on the scorecard: milking moved two hours later. Her trend weighs each hour by her normal for it,
  // so the milking hours she now spends lying count for much, and she reads a fifth down; the herd's cows all
  // read so, but the herd's hours were taken all alike, the quiet night's as much as the milking's, and the
  // herd's share came out at a few per cent. A cow lying a little more than usual these days was then called
  // lame (here one of the five lying a tenth longer; on the scorecard, three cows on two farms the morning
  // their milking moved).
  it('a milking moved two hours later is no lameness: the herd is weighed as her trend weighs her hours', () => {
    const moved = START + 10 * DAY;
    const herd = profileHerd({ seed: 300, moved, moveH: 2, lying: true, cow: (i, ts) => ({ lie: i % 4 === 3 && ts > moved - 2 * DAY ? 1.1 : 1 }) });
    expect(firing(run(herd), 'health')).toEqual([]);
  });

  // Found on the scorecard: a milking moved two hours earlier puts the whole herd up and not chewing in hours
  // that used to be quiet. Each cow read as up while chewing less — a calving coming — and a cow whose ketosis
  // set in that week waited out two days' hold (called at 53 h instead of 37 h). Compared on her fast trend
  // alone (the quick read's path off): in the week the milking moved her own hours are shifted too — she
  // chews in hours she used to be milked in — and her quick trend is no sooner than her fast one, while in a
  // still week it calls her 1 h sooner (15 h, against 16).
  it('a milking moved is no calving coming: a cow falling ill that week is called as in a week without it', () => {
    const fastOnly = steadyRules({ health: { trend: { quickBothHours: 48 } } });
    const herdOf = (moveH: number, rules = steadyRules()) => {
      const moved = START + 9 * DAY;
      const onset = moved + 6 * HOUR;
      const ill = (ts: number) => (ts > onset && ts <= onset + 3 * DAY ? Math.min(1, (ts - onset) / DAY) : 0);
      const sick = (i: number, ts: number) => (i === 0 ? ill(ts) : 0);
      const readings = profileHerd({ seed: 400, moved, moveH, cow: (i, ts) => ({ act: 1 - 0.3 * sick(i, ts), rum: 1 - 0.45 * sick(i, ts) }) });
      const health = firing(run(readings, new FarmDetector('farm', rules)), 'health');
      expect(health.map((h) => h.cowId)).toEqual(['H00']);
      return health[0]!.at - onset;
    };
    const still = herdOf(0, fastOnly);
    expect(herdOf(-2, fastOnly)).toBeLessThanOrEqual(still + 3 * HOUR);
    expect(herdOf(-2)).toBeLessThanOrEqual(still + 3 * HOUR);
    expect(herdOf(0)).toBeLessThanOrEqual(still);
  });

  // Found on twelve other seeds: her chewing less counted against any herd a little down (a herd often reads
  // a per cent or two under its normal) refused a calving's own restlessness, and seven more calving dips
  // were called. Only a herd chewing at least 5 % less has its share taken out. Here the herd chews 4 % less
  // (a feed change, say) and she walks a seventh more for a day, chewing 42 % less in her last three hours.
  it("a calving's restless hours in a herd chewing a little less are still hers: the dip after is held", () => {
    const calving = START + 10 * DAY + 14 * HOUR;
    const herd = Array.from({ length: 20 }, (_, i) =>
      stream({
        collarId: `H${String(i).padStart(2, '0')}`, days: 14, seed: 500 + i,
        act: (t) => (i === 0 ? during(calving - DAY, calving, 1.14)(t) * during(calving, calving + 1.5 * DAY, 0.72)(t) : 1),
        rum: (t) => (t > START + 9 * DAY ? 0.96 : 1) * (i === 0 ? during(calving - 3 * HOUR, calving, 0.58)(t) * during(calving, calving + 1.5 * DAY, 0.72)(t) : 1),
      }),
    ).flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    expect(firing(run(herd), 'health')).toEqual([]);
  });

  // Found on a second read: the herd's share was taken over two half-lives of her trend (12 hours), which
  // hold three quarters of its weight. A storm that kept the herd in for eight hours still weighed in her
  // trend after the herd's window had let it go, and a cow already a little down (7 % less walking, 10 %
  // less chewing: no call on her own) was called unwell the night after it.
  it('a spell the whole herd had is taken out of her trend for as long as her trend remembers it', () => {
    const storm = (k: number) => during(START + 10 * DAY + 8 * HOUR, START + 10 * DAY + 16 * HOUR, k);
    const mild = (k: number) => during(START + 8 * DAY, START + 14 * DAY, k);
    const cow = (i: number): StreamOpts => ({
      collarId: `H${String(i).padStart(2, '0')}`, days: 14, seed: 340 + i,
      act: (t) => storm(0.6)(t) * (i === 0 ? mild(0.93)(t) : 1),
      rum: (t) => storm(0.7)(t) * (i === 0 ? mild(0.9)(t) : 1),
    });
    expect(firing(run(stream({ ...cow(0), act: mild(0.93), rum: mild(0.9) })), 'health')).toEqual([]);
    const herd = Array.from({ length: 20 }, (_, i) => stream(cow(i))).flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    expect(firing(run(herd), 'health')).toEqual([]);
  });
});

describe("her trend's ordinary level (Normals.dayLevel)", () => {
  const H = HOUR;
  /** Her history with an hourly reading `act(t)` for the hour ending t + 1 h, from `from` to `to`. */
  const history = (from: number, to: number, act: (t: number) => number, skip: (t: number) => boolean = () => false) => {
    const h = new CowHistory(24 * 40);
    const late: number[] = [];
    const put = (t: number) => {
      h.advanceTo(Math.max(h.newest ?? -Infinity, Math.floor((t + H - 1) / H)));
      h.add({ collarId: 'c', ts: t + H, intervalS: 3600, activity: act(t), rumination: act(t) });
    };
    for (let t = from; t <= to; t += H) (skip(t) ? late.push(t) : put(t));
    return { h, late: () => late.forEach(put) };
  };
  const wandering = (t: number) => {
    const day = Math.floor((t - START) / DAY);
    const hour = Math.floor(((t - START) % DAY) / H);
    return hour === (day * 7 + 3) % 24 || hour === (day * 7 + 14) % 24 ? 40 : 20;
  };

  it('reads over 1 for a cow whose busy hours wander, 1 for one whose days are alike', () => {
    const to = START + 20 * DAY + 12 * H;
    const skewed = history(START, to, wandering).h;
    expect(new Normals(skewed, rules.baseline).dayLevel('act', skewed.newest! + 1)).toBeGreaterThan(1.05);
    const alike = history(START, to, (t) => (Math.floor(((t - START) % DAY) / H) === 6 ? 40 : 20)).h;
    expect(new Normals(alike, rules.baseline).dayLevel('act', alike.newest! + 1)).toBe(1);
  });

  // Found on a second read: across a clock change every past day's hours were paired with yesterday's by
  // position, so a cow whose days are alike on the farm's clock read 9 % high the day after it.
  it('reads 1 across a clock change for a cow whose days are alike on the farm clock', () => {
    const zone = 'Europe/Berlin';
    const hourThere = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: 'numeric', hourCycle: 'h23' });
    const busy: Record<number, number> = { 5: 60, 6: 40, 7: 25, 8: 15, 16: 60, 17: 40, 18: 25, 19: 15 };
    const act = (t: number) => busy[Number(hourThere.format(t))] ?? 10;
    for (const day of ['2025-03-31', '2025-04-01', '2025-10-27', '2025-10-28']) {
      const to = Date.parse(`${day}T12:00:00Z`);
      const { h } = history(to - 30 * DAY, to, act);
      expect(new Normals(h, rules.baseline, localDays(zone)).dayLevel('act', h.newest! + 1)).toBe(1);
    }
  });

  // Found on a second read: a reading landing late in yesterday does not tell her past days changed, and the
  // level once taken stayed as it was: the verdict depended on arrival order.
  it("is the same whatever order yesterday's readings came in", () => {
    const today = START + 20 * DAY;
    // Her days differ in how many of their hours are busy (one to four) and how busy, so which days count
    // moves the median; yesterday was busier still.
    let seed = 3;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const busyHours = [1, 3, 2, 4, 1, 2, 3, 1, 4, 2, 3, 2, 1, 4, 3, 2, 1, 3, 4, 2, 1];
    const act = (t: number) => {
      const day = Math.floor((t - START) / DAY);
      const hour = (t / H) % 24;
      const k = t >= today - DAY ? 8 : busyHours[day % 21]!;
      return (hour - ((day * 7) % 24) + 24) % 24 < k ? 10 * (1.2 + 0.7 * rnd()) : 10;
    };
    const { h, late } = history(START, today, act, (t) => t >= today - 12 * H && t < today);
    const n = new Normals(h, rules.baseline);
    const before = n.dayLevel('act', h.newest! + 1);
    late();
    expect(n.dayLevel('act', h.newest! + 1)).toBe(before);
    expect(new Normals(h, rules.baseline).dayLevel('act', h.newest! + 1)).toBe(before);
  });
});

describe('down_cow', () => {
  const onset = START + 10 * DAY + 9 * HOUR; // a morning hour she is normally up and about
  const downFor = (h: number) => (t: number) => (t > onset && t <= onset + h * HOUR ? 0.05 : 1);

  it('fires urgent within 2 h when she hardly moves nor ruminates in her active hours, and resolves when she is up', () => {
    const events = run(stream({ days: 12, act: downFor(8), rum: downFor(8) }));
    const [up, down] = events.filter((e) => e.type === 'down_cow') as [AlertEvent, AlertEvent];
    expect(up).toMatchObject({ state: 'firing', severity: 'urgent', since: onset });
    expect(up.at - onset).toBeLessThanOrEqual(2 * HOUR);
    expect(down.state).toBe('resolved');
    expect(down.at).toBeGreaterThanOrEqual(onset + 8 * HOUR);
    expect(firing(events, 'collar_fault')).toEqual([]);
  });

  // Found when tried on the scorecard: a collar reporting every 2 hours sends one long reading, which the
  // stuck-collar guard took for a constant signal covering her window, so a cow down was never called.
  // Found in a second read: an impossible reading completing an hour did not close it, so a cow down was
  // called an hour late.
  // Found on herds as noisy as real ones: an hour she lies through is all but still, and a sick cow resting
  // chews at half to three quarters of her usual; stock-still with up to three quarters of it was called down.
  it('a sick cow lying still two hours, chewing at two thirds of her usual, is resting, not down', () => {
    const resting = (t: number) => (t > onset && t <= onset + 2 * HOUR ? 1 : 0);
    const readings = stream({ days: 12, act: (t) => (resting(t) ? 0.04 : 1), rum: (t) => (resting(t) ? 0.65 : 1) });
    expect(firing(run(readings), 'down_cow')).toEqual([]);
    // The same stillness chewing at a third of her usual is a cow down.
    const down = stream({ days: 12, act: (t) => (resting(t) ? 0.04 : 1), rum: (t) => (resting(t) ? 0.33 : 1) });
    expect(firing(run(down), 'down_cow')).toHaveLength(1);
  });

  // Found on herds as noisy as real ones: every false cow down there (7 in three herds' 90 days) was a sick
  // cow, chewing at half her usual all day, resting.
  it('a cow unwell for days, chewing at half her usual, lying still two hours is resting; stopping chewing, she is down', () => {
    const ill = (t: number) => (t > onset - 3 * DAY ? 0.5 : 1);
    const resting = (t: number) => t > onset && t <= onset + 2 * HOUR;
    const spell = (chew: number) => stream({ days: 12, act: (t) => (resting(t) ? 0.04 : ill(t)), rum: (t) => ill(t) * (resting(t) ? chew : 1) });
    // Lying still chewing at 90 % of where her illness has it: 45 % of her usual, under the line of half.
    expect(firing(run(spell(0.9)), 'down_cow')).toEqual([]);
    // Down, her chewing stops: a quarter of where it was.
    const [down] = firing(run(spell(0.25)), 'down_cow');
    expect(down).toMatchObject({ severity: 'urgent', since: onset });
    expect(down!.at - onset).toBeLessThanOrEqual(2 * HOUR);
    // A healthy cow lying so still chewing at 45 % of her usual is down, as before.
    expect(firing(run(stream({ days: 12, act: (t) => (resting(t) ? 0.04 : 1), rum: (t) => (resting(t) ? 0.45 : 1) })), 'down_cow')).toHaveLength(1);
    // So is a cow in the dip after her calving (chewing at 75 % of her usual, not told unwell) who goes down
    // with milk fever still chewing at 45 % of her usual: it is her health alert, not any dip, that moves
    // the line.
    const calved = onset - 20 * HOUR;
    const dip = (t: number) => (t > calved ? 0.75 : 1);
    const det = new FarmDetector('farm', rules);
    det.setRecords(new Map([['C1', { calvedAt: det.dayStart(new Date(calved).toISOString().slice(0, 10)) }]]));
    const events = run(stream({ days: 12, act: (t) => (resting(t) ? 0.04 : dip(t)), rum: (t) => (resting(t) ? 0.45 : dip(t)) }), det);
    expect(firing(events, 'health')).toEqual([]);
    expect(firing(events, 'down_cow').map((e) => e.at - onset)).toEqual([expect.any(Number)]);
    expect(firing(events, 'down_cow')[0]!.at - onset).toBeLessThanOrEqual(2 * HOUR);
  });

  // Found in a second read: read against her level alone, a sick cow who went down stock-still chewing at
  // 28 % of her usual (70 % of where her illness had it) was never called; and a calving's dip, told as
  // unwell hours before because the register had not been told of the calving, held a cow down with milk
  // fever to the moved line.
  it('a sick cow stock-still and hardly chewing is down; so is a cow down in a dip told unwell only hours before', () => {
    const ill = (t: number) => (t > onset - 3 * DAY ? 0.4 : 1);
    const still = (t: number) => t > onset && t <= onset + 6 * HOUR;
    const sick = run(stream({ days: 12, act: (t) => (still(t) ? 0.03 : ill(t)), rum: (t) => (still(t) ? 0.28 : ill(t)) }));
    expect(firing(sick, 'health')[0]!.at).toBeLessThan(onset - DAY);
    const [down] = firing(sick, 'down_cow');
    expect(down!.at - onset).toBeLessThanOrEqual(2 * HOUR);
    // Calved (not yet in the register) 14 hours before she goes down: her dip is told as unwell.
    const calved = onset - 14 * HOUR;
    const dip = (t: number) => (t > calved ? 0.6 : 1);
    const fever = run(stream({ days: 12, act: (t) => (still(t) ? 0.03 : dip(t)), rum: (t) => (still(t) ? 0.45 : dip(t)) }));
    expect(firing(fever, 'health')[0]!.at).toBeLessThan(onset);
    const [feverDown] = firing(fever, 'down_cow');
    expect(feverDown!.at - onset).toBeLessThanOrEqual(2 * HOUR);
    // In the hours she normally rests, too: stock-still at 45 % of her usual chewing (90 % of where her
    // illness has it) she rests; hardly moving at 28 % (her rest line, of her normal), she is down.
    const night = START + 10 * DAY + 1 * HOUR;
    const atNight = (t: number) => t > night && t <= night + 4 * HOUR;
    const unwell = (t: number) => (t > night - 3 * DAY ? 0.5 : 1);
    const nightSpell = (move: number, chew: number) =>
      run(stream({ days: 12, act: (t) => (atNight(t) ? move : unwell(t)), rum: (t) => (atNight(t) ? chew : unwell(t)) }));
    expect(firing(nightSpell(0.03, 0.45), 'down_cow')).toEqual([]);
    expect(firing(nightSpell(0.13, 0.28), 'down_cow')).toHaveLength(1);
  });

  it('an impossible reading still completes her hour: a cow down is called on time', () => {
    const readings = stream({ days: 12, act: downFor(8), rum: downFor(8) }).map((r) => (r.ts === onset + 2 * HOUR ? { ...r, activity: 1e7 } : r));
    const [up] = firing(run(readings), 'down_cow');
    expect(up!.at - onset).toBeLessThanOrEqual(2 * HOUR);
  });

  it('finds a cow down on a collar reporting every 2 hours', () => {
    const twoHourly = every(stream({ days: 12, act: downFor(8), rum: downFor(8) }), 8);
    const down = firing(run(twoHourly), 'down_cow');
    expect(down).toHaveLength(1);
    // Known once a 2-hour reading inside the episode is followed by the next (held for reordering).
    expect(down[0]!.at - onset).toBeLessThanOrEqual(6 * HOUR);
  });

  // Found on the scorecard: a collar reporting hourly was held to 1.5 hours of stillness, which takes two of
  // its readings after the one she went down in: she was called 1.7-2.8 hours after she went down.
  it('calls a cow down on an hourly collar from her first still hour when she has stopped chewing', () => {
    const hourly = (act: (t: number) => number, rum: (t: number) => number) => every(stream({ days: 12, act, rum }), 4);
    // Down twenty minutes into an hour: that hour's reading is only partly still; the next one is all still.
    const mid = onset + 20 * 60_000;
    const down = (t: number) => (t > mid && t <= mid + 6 * HOUR ? 0.03 : 1);
    const [up] = firing(run(hourly(down, (t) => (down(t) < 1 ? 0.15 : 1))), 'down_cow') as [AlertEvent];
    expect(up).toMatchObject({ severity: 'urgent' });
    expect(up.at - mid).toBeLessThanOrEqual(2 * HOUR);
    // Still chewing at 40 %, she is called on her second still hour, as before.
    const [later] = firing(run(hourly(down, (t) => (down(t) < 1 ? 0.4 : 1))), 'down_cow') as [AlertEvent];
    expect(later.at - mid).toBeGreaterThan(2 * HOUR);
    expect(later.at - mid).toBeLessThanOrEqual(3 * HOUR);
    // An hour lying still to ruminate, as a resting cow does, is not a cow down; nor is an hour lying
    // stock-still chewing at half her usual, nor one moving her head a little while she chews at 60 %.
    // (Found in a second read: one still hour was first enough whatever the chewing, where a quarter-hourly
    // collar asks for an hour and a half.)
    expect(firing(run(hourly(downFor(1), () => 1)), 'down_cow')).toEqual([]);
    expect(firing(run(hourly(downFor(1), (t) => (downFor(1)(t) < 1 ? 0.5 : 1))), 'down_cow')).toEqual([]);
    const lying = (t: number) => (t > onset && t <= onset + HOUR ? 0.13 : 1);
    expect(firing(run(hourly(lying, (t) => (lying(t) < 1 ? 0.6 : 1))), 'down_cow')).toEqual([]);
  });

  // Found on a herd model written apart from the project: after a milking or fresh feed a cow eats and
  // hardly chews, and an hourly collar's cow lying through such an hour, her usual two minutes of chewing
  // not there, was called down (9 false alarms in 27,000 cow-days).
  it('an hourly collar: an hour lying still when she usually hardly chews is not a cow down', () => {
    // Every day at this hour she eats: a twelfth of her usual chewing.
    const eatingHour = (t: number) => {
      const x = (((t - onset) % DAY) + DAY) % DAY;
      return x > 0 && x <= HOUR;
    };
    const still = (t: number) => t > onset && t <= onset + HOUR;
    const hourly = (chewing: number) =>
      every(stream({ days: 12, act: (t) => (still(t) ? 0.03 : 1), rum: (t) => (still(t) ? chewing : 1) * (eatingHour(t) ? 0.08 : 1) }), 4);
    expect(firing(run(hourly(0)), 'down_cow')).toEqual([]);
    // The line is ten minutes short of her usual: about 8 minutes usual (a quarter of this hour's chewing)
    // is no sign, about 14 (nearly half) is.
    const usually = (share: number) =>
      every(stream({ days: 12, act: (t) => (still(t) ? 0.03 : 1), rum: (t) => (still(t) ? 0 : 1) * (eatingHour(t) ? share : 1) }), 4);
    expect(firing(run(usually(0.25)), 'down_cow')).toEqual([]);
    expect(firing(run(usually(0.45)), 'down_cow')).toHaveLength(1);
    // The same still hour, chewing as little, where she usually chews a third of it: she has stopped.
    const usual = every(stream({ days: 12, act: (t) => (still(t) ? 0.03 : 1), rum: (t) => (still(t) ? 0 : 1) }), 4);
    expect(firing(run(usual), 'down_cow')).toHaveLength(1);
  });

  it('does not fire for a cow lying down to ruminate, nor for her usual night', () => {
    expect(firing(run(stream({ days: 12, act: downFor(3) })), 'down_cow')).toEqual([]);
    const night = START + 10 * DAY + 1 * HOUR;
    const still = (t: number) => (t > night && t <= night + 4 * HOUR ? 0.05 : 1);
    expect(firing(run(stream({ days: 12, act: still })), 'down_cow')).toEqual([]);
  });

  // A cow that goes down at night (milk fever after calving) is still at night anyway; what gives her away
  // is that she stops ruminating, which a resting cow does most of the time she lies.
  it('finds a cow down at night by her rumination stopping', () => {
    const night = START + 10 * DAY + 1 * HOUR;
    const down = (t: number) => (t > night && t <= night + 6 * HOUR ? 0.05 : 1);
    const [up] = firing(run(stream({ days: 12, act: down, rum: down })), 'down_cow') as [AlertEvent];
    expect(up).toMatchObject({ severity: 'urgent' });
    expect(up.at - night).toBeLessThanOrEqual(3 * HOUR);
  });

  // Judged reading by reading: a cow going down twenty minutes into an hour is called 1.5 hours of her
  // readings later, not once two whole clock hours have passed (it was up to 3 h).
  it('calls a cow going down in the middle of an hour within 2 h, from the reading she went down in', () => {
    const mid = onset + 20 * 60_000;
    const down = (t: number) => (t - Q * 1000 >= mid - Q * 1000 && t > mid && t <= mid + 6 * HOUR ? 0.03 : 1);
    const [up] = firing(run(stream({ days: 12, act: down, rum: (t) => (down(t) < 1 ? 0.3 : 1) })), 'down_cow') as [AlertEvent];
    expect(up.at - mid).toBeLessThanOrEqual(2 * HOUR);
    expect(up.since).toBeGreaterThanOrEqual(mid - Q * 1000);
    expect(up.since).toBeLessThanOrEqual(mid + Q * 1000);
  });

  // Found on the scorecard: one quarter-hour's rumination swings by a third around its hour's, and each
  // swing over the line started the count again, so a cow down ruminating at 45 % was called 6 hours late.
  it('a quarter-hour of rumination over the line does not start the count again; the spell is judged as a whole', () => {
    let i = 0;
    const down = downFor(8);
    const rum = (t: number) => (down(t) < 1 ? (i++ % 3 === 0 ? 0.7 : 0.3) : 1);
    const [up] = firing(run(stream({ days: 12, act: down, rum })), 'down_cow') as [AlertEvent];
    expect(up.at - onset).toBeLessThanOrEqual(2 * HOUR);
    // Found in a second read: a cow lying stock-still to chew at her usual rate for an hour, then dozing for
    // half an hour, was called down on the sums. Chewing starts the count again.
    const chewThenDoze = (t: number) => (t > onset && t <= onset + HOUR ? 0.95 : t > onset + HOUR && t <= onset + 1.5 * HOUR ? 0 : 1);
    const lying = (t: number) => (t > onset && t <= onset + 1.5 * HOUR ? 0.06 : 1);
    expect(firing(run(stream({ days: 12, act: lying, rum: chewThenDoze })), 'down_cow')).toEqual([]);
    // A cow lying to ruminate at 85 % of her usual, however still, is resting.
    expect(firing(run(stream({ days: 12, act: down, rum: (t) => (down(t) < 1 ? 0.85 : 1) })), 'down_cow')).toEqual([]);
  });

  // Found on the scorecard: a single quarter-hour of chewing at her usual rate, amid a third of it, started
  // the count again, and a cow down was called an hour late. Chewing is told by half an hour of it.
  it('one quarter-hour of chewing does not start the count again; half an hour does', () => {
    const down = downFor(8);
    const spike = (k: number) => (t: number) => (down(t) < 1 ? (t > onset + HOUR && t <= onset + HOUR + k * Q * 1000 ? 0.9 : 0.3) : 1);
    const [up] = firing(run(stream({ days: 12, act: down, rum: spike(1) })), 'down_cow') as [AlertEvent];
    expect(up.at - onset).toBeLessThanOrEqual(1.5 * HOUR);
    const [late] = firing(run(stream({ days: 12, act: down, rum: spike(2) })), 'down_cow') as [AlertEvent];
    expect(late.at - onset).toBeGreaterThanOrEqual(2.5 * HOUR);
  });

  // Found on a fresh scorecard seed and in a second read: on a collar reporting every minute, a minute's
  // rumination is a tenth or two and its activity a count or two (all rounding); each minute over a line
  // started the count again or ended the spell, so she was never called.
  it('finds a cow down on a collar reporting every minute, whose rumination is all rounding', () => {
    const minutes = stream({ days: 12, act: downFor(8), rum: (t) => (downFor(8)(t) < 1 ? 0.45 : 1) }).flatMap((r, i) =>
      Array.from({ length: 15 }, (_, k): Reading => ({
        collarId: 'C1',
        ts: r.ts - (14 - k) * 60_000,
        intervalS: 60,
        // Down, a count or three now and then (a minute's activity is all rounding); up, as the stream has it.
        activity: downFor(8)(r.ts) < 1 ? ((i * 15 + k) % 9 === 0 ? 3 : 0) : Math.round((r.activity / 15) * (0.5 + ((i * 15 + k) % 7) / 6)),
        // Down, she chews a whole minute now and then (a third of her usual in all); up, as the stream has it.
        rumination: downFor(8)(r.ts) < 1 ? ((i * 15 + k) % 7 === 0 ? 1 : 0) : Math.round((r.rumination! / 15) * 10) / 10,
      })),
    );
    const [up] = firing(run(minutes), 'down_cow') as [AlertEvent];
    expect(up.at - onset).toBeLessThanOrEqual(2 * HOUR);
  });

  // Found in a second read: stillness either side of a stretch not heard was added up as one spell, and
  // the readings of that stretch, arriving late, showed she had been up: an urgent alert taken back.
  it('stillness either side of a stretch not heard is not one spell', () => {
    const lie1 = (t: number) => t > onset && t <= onset + HOUR;
    const up = (t: number) => t > onset + HOUR && t <= onset + 1.75 * HOUR;
    const lie2 = (t: number) => t > onset + 1.75 * HOUR && t <= onset + 2.6 * HOUR;
    const readings = stream({ days: 12, act: (t) => (lie1(t) || lie2(t) ? 0.03 : 1), rum: (t) => (lie1(t) || lie2(t) ? 0.3 : 1) });
    const det = new FarmDetector('farm', rules);
    const events: AlertEvent[] = [];
    const late = readings.filter((r) => up(r.ts));
    for (const r of readings) {
      if (up(r.ts)) continue;
      events.push(...det.observe(r, r.collarId, r.ts).events);
      // Out of reach while she was up: those readings come at noon.
      if (r.ts === onset + 3 * HOUR) for (const l of late) events.push(...det.observe(l, l.collarId, r.ts).events);
    }
    expect(events.filter((e) => e.type === 'down_cow')).toEqual([]);
  });

  // Found in a second read: at night a reading up to half her usual movement counted as down while an hour at
  // 40 % resolved it, so an urgent alert could be raised and resolved on the same reading.
  it('the night rest line stays under the resolve line', () => {
    expect(() => resolveRules({ downCow: { restActivityRatio: 0.5 } })).toThrow(/restActivityRatio/);
    const night = START + 10 * DAY + 1 * HOUR;
    const quiet = (t: number) => (t > night && t <= night + 6 * HOUR ? 0.42 : 1);
    expect(run(stream({ days: 12, act: quiet, rum: (t) => (quiet(t) < 1 ? 0.1 : 1) })).filter((e) => e.type === 'down_cow')).toEqual([]);
  });

  it('finds a cow down at night that still ruminates a little, by her lying stock-still', () => {
    const night = START + 10 * DAY + 1 * HOUR;
    const down = (t: number) => (t > night && t <= night + 6 * HOUR ? 0.02 : 1);
    const [up] = firing(run(stream({ days: 12, act: down, rum: (t) => (down(t) < 1 ? 0.45 : 1) })), 'down_cow') as [AlertEvent];
    expect(up.at - night).toBeLessThanOrEqual(2 * HOUR);
    // Lying through her night at a quarter of her usual movement, ruminating less: resting, not down.
    const quiet = (t: number) => (t > night && t <= night + 6 * HOUR ? 0.25 : 1);
    expect(firing(run(stream({ days: 12, act: quiet, rum: (t) => (quiet(t) < 1 ? 0.45 : 1) })), 'down_cow')).toEqual([]);
  });

  it('without rumination to tell rest from down, waits for a longer stillness (cows rest 1–3 h at a time)', () => {
    expect(firing(run(stream({ days: 12, rumination: false, act: downFor(3) })), 'down_cow')).toEqual([]);
    // A real leg-tagged cow lay 4 h 41 min without moving at midday in July, and got up.
    expect(firing(run(stream({ days: 12, rumination: false, act: downFor(4.6) })), 'down_cow')).toEqual([]);
    const [up] = firing(run(stream({ days: 12, rumination: false, act: downFor(8) })), 'down_cow') as [AlertEvent];
    expect(up.at - onset).toBeLessThanOrEqual(rules.downCow.hoursWithoutRumination * HOUR);
  });
  // Her readings wait the 15-minute hold so that any arrival order gives the same alerts; a cow down was
  // told a quarter of an hour after the reading that showed it (on the scorecard, 2 of 44 cows on
  // quarter-hourly collars told over 2 h after going down, with 1.9 h of data each). Her readings come in
  // order, with no gap: none can still sort in among them, and the hold can decide nothing else.
  it('is told with the reading that shows it when her readings come in order, not a hold later', () => {
    const readings = stream({ days: 12, act: downFor(8), rum: downFor(8) });
    const det = det0();
    const told: Array<{ e: AlertEvent; arrival: number }> = [];
    for (const r of readings) for (const e of det.observe(r, r.collarId, r.ts).events) if (e.type === 'down_cow' && e.state === 'firing') told.push({ e, arrival: r.ts });
    expect(told).toHaveLength(1);
    expect(told[0]!.arrival).toBe(told[0]!.e.at);
    expect(told[0]!.e).toMatchObject({ since: onset, severity: 'urgent' });
    // Held to the end of the hold, as before: the same alert, a quarter of an hour later.
    expect(firing(run(readings), 'down_cow')).toEqual([told[0]!.e]);
  });

  // Found on a third read: the check for a reading that closes one of the rule's quarter-hours counted in
  // multiples of 15 minutes, and a 10-minute collar's quarter-hours close every 20 (the rule starts each
  // afresh), so its cow down was told a reading late; and one lost minute anywhere in a 1-minute collar's
  // spell held the whole spell to the hold, though a minute's reading cannot show she got up.
  it('is told with the reading that shows it on a collar reporting every 10 minutes, or every minute with one lost', () => {
    const minutes = split(stream({ days: 12, act: downFor(8), rum: downFor(8) }), 60);
    const tenMin: Reading[] = [];
    for (let i = 9; i < minutes.length; i += 10) {
      const part = minutes.slice(i - 9, i + 1);
      tenMin.push({ collarId: 'C1', ts: part.at(-1)!.ts, intervalS: 600, activity: part.reduce((a, r) => a + r.activity, 0), rumination: part.reduce((a, r) => a + r.rumination!, 0) });
    }
    const lost = minutes.filter((r) => r.ts !== onset + 37 * 60_000);
    for (const [name, readings] of [['10 min', tenMin], ['1 min, one lost', lost]] as const) {
      const det = det0();
      const told: Array<{ e: AlertEvent; arrival: number }> = [];
      for (const r of readings) for (const e of det.observe(r, r.collarId, r.ts).events) if (e.type === 'down_cow' && e.state === 'firing') told.push({ e, arrival: r.ts });
      expect(told, name).toHaveLength(1);
      expect(told[0]!.arrival, name).toBe(told[0]!.e.at);
      expect(firing(run(readings), 'down_cow'), name).toEqual([told[0]!.e]);
    }
  });

  // Found on a second read: with a minute's slack for collar clocks, a 1-minute collar's missing reading
  // still read as following on, and the cow was told down on the readings without it.
  it('waits out the hold when a reading of hers is still to come: one that came late may show her up', () => {
    for (const sec of [300, 60]) {
      // A collar reporting every 5 minutes, or every minute, whose readings overtake each other in the hold.
      const often = split(stream({ days: 12, act: downFor(8), rum: downFor(8) }), sec);
      const shown = firing(run(often), 'down_cow')[0]!.at;
      // The reading before the one that shows it shows her up and about: she got up, and the count starts
      // again from then.
      const up = often.map((r) => (r.ts === shown - sec * 1000 ? { ...r, activity: r.activity * 40 } : r));
      const reference = firing(run(up), 'down_cow');
      expect(reference[0]!.at, `${sec} s`).toBeGreaterThan(shown);
      // It comes 6 or 12 minutes late, after readings that follow it: still within the hold, so the same
      // alert, not one told ahead on the readings without it.
      const late = up.map((r) => ({ r, at: r.ts === shown - sec * 1000 ? r.ts + (sec === 60 ? 6 : 12) * 60_000 : r.ts })).sort((a, b) => a.at - b.at);
      const det = det0();
      const events = late.flatMap(({ r, at }) => det.observe(r, r.collarId, at).events);
      expect(firing(events, 'down_cow'), `${sec} s`).toEqual(reference);
    }
  });

  // Found on a second read: told ahead, the alert was open when her held readings before it were judged;
  // one of them completing an hour judged her health, which holds back while she is down (one trouble, one
  // alert), so a sick cow who then went down lost her health alert.
  it('told ahead, it does not take the place of a health alert her earlier readings raise', () => {
    const ill = onset - 3 * HOUR;
    // Judged as each reading comes (no hold, so nothing told ahead): the alerts in the order measured.
    const unheld = () => new FarmDetector('farm', steadyRules({ reorder: { minutes: 0 } }));
    let both = 0;
    for (let min = 150; min <= 175; min += 5) {
      const down = ill + min * 60_000;
      const f = (t: number) => (t > down && t <= down + 8 * HOUR ? 0.05 : t > ill && t <= down + 8 * HOUR ? 0.5 : 1);
      const readings = split(stream({ days: 12, act: f, rum: f }), 300);
      const events = run(readings);
      expect(firing(events), `down ${min} min after`).toEqual(firing(run(readings, unheld())));
      const health = firing(events, 'health')[0];
      if (health && health.at < firing(events, 'down_cow')[0]!.at) both++;
    }
    // Some of these cows are told unwell first, then down.
    expect(both).toBeGreaterThan(0);
  });
});

describe('collar_fault', () => {
  const from = START + 10 * DAY + 10 * HOUR;
  const replace = (rs: Reading[], hours: number, make: (r: Reading) => Reading) =>
    rs.map((r) => (r.ts > from && r.ts <= from + hours * HOUR ? make(r) : r));

  it('a flat-lined collar is a collar fault, not a cow down or unwell, and her history forgets it', () => {
    const events = run(replace(stream({ days: 14 }), 10, (r) => ({ ...r, activity: 0, rumination: 0 })));
    const faults = events.filter((e) => e.type === 'collar_fault');
    expect(faults.map((e) => e.state)).toEqual(['firing', 'resolved']);
    expect(faults[0]).toMatchObject({ since: from, severity: 'warning', evidence: { kind: 'flat' } });
    expect(faults[0]!.at - from).toBeLessThanOrEqual(rules.collarFault.flatHours * HOUR + Q * 1000);
    // Ten hours of zeros would read as a sick cow for a day, and a cow down after two hours.
    expect(firing(events, 'health')).toEqual([]);
    expect(firing(events, 'down_cow')).toEqual([]);
  });

  // Found on a second read: on a collar reporting every minute, the stillness the flat line began outlived
  // the fault, and its first true reading raised an urgent cow down dated from the fault's start.
  it('a flat line is no cow down when the collar reads true again', () => {
    for (const sec of [60, 900]) {
      const readings = replace(split(stream({ days: 11 }), sec), 4.5, (r) => ({ ...r, activity: 0, rumination: 0 }));
      const events = run(readings);
      expect(firing(events, 'collar_fault'), `${sec} s`).toHaveLength(1);
      expect(firing(events, 'down_cow'), `${sec} s`).toEqual([]);
    }
  });

  // Found on the scorecard: a gateway outage during a flat line delivered the collar's zeros late, as a
  // backlog; they went into her history, and the hour the fault was over she was called urgently unwell.
  it("a backlog of a faulty collar's readings, arriving late, is not her either", () => {
    const flatHours = 48;
    const gapFrom = from + 12 * HOUR;
    const gapTo = from + 46 * HOUR;
    const readings = replace(stream({ days: 14 }), flatHours, (r) => ({ ...r, activity: 0, rumination: 0 }));
    const inGap = (r: Reading) => r.ts > gapFrom && r.ts <= gapTo;
    const backlog = readings.filter(inGap);
    const live = readings.filter((r) => !inGap(r));
    // The backlog comes an hour after the outage, while the collar still reads flat.
    const at = live.findIndex((r) => r.ts > gapTo + HOUR);
    const events = run([...live.slice(0, at), ...backlog, ...live.slice(at)]);
    expect(events.filter((e) => e.type === 'collar_fault').map((e) => e.state)).toEqual(['firing', 'resolved']);
    expect(firing(events, 'health')).toEqual([]);
    expect(firing(events, 'down_cow')).toEqual([]);
    // ...nor when it comes after the collar reads true again.
    const after = live.findIndex((r) => r.ts > from + (flatHours + 2) * HOUR);
    const later = run([...live.slice(0, after), ...backlog, ...live.slice(after)]);
    expect(firing(later, 'health')).toEqual([]);
    expect(firing(later, 'down_cow')).toEqual([]);
  });

  // Found in review: the fault's span ran to the first true reading to arrive, so a backlog's true
  // readings after the collar mended, measured before that one, were dropped with the fault's.
  it("keeps a backlog's true readings from after the collar mended, and finds a heat in them", () => {
    const heatFrom = from + 14 * HOUR;
    const readings = replace(stream({ days: 14, act: during(heatFrom, heatFrom + 14 * HOUR, 3) }), 10, (r) => ({ ...r, activity: 0, rumination: 0 }));
    const inGap = (r: Reading) => r.ts > from + 8 * HOUR && r.ts <= from + 30 * HOUR;
    const live = readings.filter((r) => !inGap(r));
    // The first readings after the outage arrive live (and are judged), then the gateway uploads what it held.
    const at = live.findIndex((r) => r.ts > from + 30 * HOUR) + 3;
    const events = run([...live.slice(0, at), ...readings.filter(inGap), ...live.slice(at)]);
    const heat = firing(events, 'heat');
    expect(heat).toHaveLength(1);
    expect(heat[0]!.since).toBeGreaterThanOrEqual(heatFrom - HOUR);
    expect(heat[0]!.since).toBeLessThanOrEqual(heatFrom + 2 * HOUR);
  });

  // Found on a herd model written apart from the project: a neck collar's activity frozen while its rumination
  // still varied was never told, and read as a cow walking a fifth of her usual: a health alert instead.
  it('one sensor stuck beside live ones is a collar fault of that signal, and her other signals are still judged', () => {
    // Activity frozen at a quiet night's count: without the fault, a cow walking a fifth of her usual for a day.
    const frozen = run(replace(stream({ days: 14 }), 30, (r) => ({ ...r, activity: 23 })));
    expect(firing(frozen, 'collar_fault')).toEqual([expect.objectContaining({ since: from, evidence: expect.objectContaining({ kind: 'stuck', metric: 'activity', value: 23 }) })]);
    expect(firing(frozen, 'health')).toEqual([]);
    expect(firing(frozen, 'down_cow')).toEqual([]);
    // A dead rumination sensor reading 1.5 minutes a quarter-hour while she comes into heat: the fault is the
    // sensor's, the heat is still found, and no cow that stopped chewing is called.
    const heatFrom = from + 12 * HOUR;
    const mute = run(replace(stream({ days: 14, act: during(heatFrom, heatFrom + 14 * HOUR, 3) }), 40, (r) => ({ ...r, rumination: 1.5 })));
    const fault = firing(mute, 'collar_fault');
    expect(fault).toEqual([expect.objectContaining({ since: from, evidence: expect.objectContaining({ kind: 'stuck', metric: 'rumination', value: 1.5 }) })]);
    expect(fault[0]!.at - from).toBeLessThanOrEqual(rules.collarFault.stuckHours * HOUR + Q * 1000);
    const heat = firing(mute, 'heat');
    expect(heat).toHaveLength(1);
    expect(Math.abs(heat[0]!.since - heatFrom)).toBeLessThanOrEqual(2 * HOUR);
    expect(firing(mute, 'health')).toEqual([]);
    expect(mute.filter((e) => e.type === 'collar_fault').map((e) => e.state)).toEqual(['firing', 'resolved']);
    // Found on our own scorecard: a whole collar stuck, its activity joining the repeat one reading after its
    // rumination, was told as rumination alone, and its frozen activity then read as a cow in heat. It is the
    // collar: told once its activity has repeated long enough.
    const whole = run(replace(stream({ days: 14 }), 20, (r) => ({ ...r, rumination: 6.8, ...(r.ts > from + Q * 1000 && { activity: 233 }) })));
    expect(firing(whole, 'collar_fault')).toEqual([expect.objectContaining({ evidence: expect.objectContaining({ kind: 'stuck', metric: 'activity', value: 233, rumination: 6.8 }) })]);
    expect(firing(whole).filter((e) => e.type !== 'collar_fault')).toEqual([]);
  });

  // Found on the same herd model: a leg tag's lying sensor stuck at "lying the whole quarter-hour" while she
  // walked to milking and back was not told, as lying the whole time is what a resting cow reads.
  it("a tag saying she lies every minute while she walks is stuck; a long rest or a cow down is not", () => {
    const lying = () => 1;
    const stuck = run(replace(stream({ days: 14, rumination: false, lying }), 20, (r) => ({ ...r, lying: 15 })));
    const fault = firing(stuck, 'collar_fault');
    expect(fault).toEqual([expect.objectContaining({ evidence: expect.objectContaining({ kind: 'stuck', metric: 'lying', value: 15 }) })]);
    expect(fault[0]!.at - from).toBeGreaterThanOrEqual(6 * HOUR);
    expect(fault[0]!.at - from).toBeLessThanOrEqual(8 * HOUR);
    // Eight hours lain whole, moving a twentieth of her usual: a long rest (longer than a real cow's), not her tag.
    const rest = run(replace(stream({ days: 14, rumination: false, lying }), 8, (r) => ({ ...r, lying: 15, activity: Math.round(r.activity * 0.05) + (Math.floor(r.ts / (Q * 1000)) % 3) })));
    expect(firing(rest, 'collar_fault')).toEqual([]);
    // Ten hours down, hardly moving: a cow down, urgent, not her collar.
    const down = run(replace(stream({ days: 14, rumination: false, lying }), 10, (r) => ({ ...r, lying: 15, activity: 1 + (Math.floor(r.ts / (Q * 1000)) % 3) })));
    expect(firing(down, 'collar_fault')).toEqual([]);
    expect(firing(down, 'down_cow')).toHaveLength(1);
  });

  // Found on the same herd model: a collar reporting every 2 hours whose step count came out the same twice
  // (a chance of about one in two hundred a reading) was told stuck, on one herd in three a few times a season.
  it('a count that repeats by chance is no stuck collar; one that keeps repeating is', () => {
    // A leg tag reporting every 2 hours: her quarter-hours summed.
    const twoHourly = every(stream({ days: 14, rumination: false, lying: () => 1 }), 8);
    const at = twoHourly.findIndex((r) => r.ts > from);
    // Her step count the same three readings running, her lying not.
    const chance = twoHourly.map((r, i) => (i > at && i <= at + 2 ? { ...r, activity: twoHourly[at]!.activity } : r));
    expect(firing(run(chance), 'collar_fault')).toEqual([]);
    // Every signal the same for half a day: stuck.
    const stuck = twoHourly.map((r, i) => (i > at && i <= at + 6 ? { ...r, activity: twoHourly[at]!.activity, lying: twoHourly[at]!.lying } : r));
    const fault = firing(run(stuck), 'collar_fault');
    expect(fault).toEqual([expect.objectContaining({ since: twoHourly[at]!.ts - 7200_000, evidence: expect.objectContaining({ kind: 'stuck', metric: 'activity' }) })]);
    expect(fault[0]!.at - fault[0]!.since).toBeLessThanOrEqual(8 * HOUR);
  });

  // Found on our own scorecard (seed 41): a collar reporting every 2 hours whose rumination stuck low was
  // called unwell two readings before its repeats told the collar. While a signal repeats as a live cow's
  // hardly ever does, her health waits for the collar's verdict.
  it('a rumination sensor sticking low on a 2-hourly collar is told as the collar, not as a cow unwell', () => {
    const twoHourly = every(stream({ days: 14 }), 8);
    const at = twoHourly.findIndex((r) => r.ts > from);
    const usual = twoHourly.slice(0, at).map((r) => r.rumination!).sort((a, b) => a - b)[Math.floor(at / 2)]!;
    // A third of her usual, and a tenth (a low value repeats by chance more often, so is suspect later).
    for (const share of [0.35, 0.1]) {
      const value = Math.round(share * usual * 10) / 10;
      const stuck = twoHourly.map((r, i) => (i >= at && i < at + 15 ? { ...r, rumination: value } : r));
      const events = run(stuck);
      expect(firing(events, 'collar_fault')).toEqual([expect.objectContaining({ evidence: expect.objectContaining({ kind: 'stuck', metric: 'rumination', value }) })]);
      expect(firing(events, 'health')).toEqual([]);
      // Her rumination truly that low for the same hours, each reading its own: she is called.
      const low = twoHourly.map((r, i) => (i >= at && i < at + 15 ? { ...r, rumination: r.rumination! * share } : r));
      expect(firing(run(low), 'health')).toHaveLength(1);
    }
  });

  // Found on a second read: with one sensor told stuck, a second sticking beside it is not told (only
  // activity grows the fault), and her health waited for a verdict that never came, while she fell ill.
  it('a second sensor sticking while a fault is open does not hold her health back', () => {
    const lying = () => 1;
    const base = stream({ days: 16, lying, act: during(from + 36 * HOUR, from + 5 * DAY, 0.3) });
    const broken = base.map((r) => (r.ts <= from ? r : { ...r, rumination: 1.5, ...(r.ts > from + 12 * HOUR && { lying: 5.2 }) }));
    const events = run(broken);
    expect(firing(events, 'collar_fault')).toEqual([expect.objectContaining({ evidence: expect.objectContaining({ metric: 'rumination' }) })]);
    const h = firing(events, 'health');
    expect(h).toHaveLength(1);
    expect(h[0]!.at - (from + 36 * HOUR)).toBeLessThanOrEqual(DAY);
  });

  // Found on the same herd model: a loose sensor sending bursts of 30-80 times a quarter-hour's count among
  // true readings raised heats (one such reading reads as an hour at five times her normal) and no fault.
  it('a collar that keeps sending bursts no cow makes is a collar fault; her heat among them is still found', () => {
    const heatFrom = from + 30 * HOUR;
    const base = stream({ days: 14, act: during(heatFrom, heatFrom + 14 * HOUR, 3) });
    // One reading in six over two days, from 9 a.m.
    const spiky = base.map((r, i) => (r.ts > from && r.ts <= from + 48 * HOUR && i % 6 === 0 ? { ...r, activity: 9000 } : r));
    const events = run(spiky);
    const faults = events.filter((e) => e.type === 'collar_fault');
    expect(faults.map((e) => e.state)).toEqual(['firing', 'resolved']);
    expect(faults[0]!.evidence).toMatchObject({ kind: 'spikes', readings: 4 });
    expect(faults[0]!.at - from).toBeLessThanOrEqual(6 * HOUR);
    // Over a day after the last burst.
    expect(faults[1]!.at - (from + 48 * HOUR)).toBeGreaterThanOrEqual(23 * HOUR);
    const heat = firing(events, 'heat');
    expect(heat).toHaveLength(1);
    expect(Math.abs(heat[0]!.since - heatFrom)).toBeLessThanOrEqual(2 * HOUR);
    // Before the fault is told, bursts are hers: three in a day are no heat either way, and no fault.
    const three = base.map((r) => ([2, 7, 13].some((h) => r.ts === from + h * HOUR) ? { ...r, activity: 9000 } : r));
    const told = run(three);
    expect(firing(told, 'collar_fault')).toEqual([]);
    expect(firing(told, 'heat')).toHaveLength(1);
    // A collar reporting every minute: a minute at 200 times her median hour (a cow running, three hours of
    // her activity in it), four times a day, is hers; real cows' minutes go past that.
    const minutes = split(stream({ days: 12 }), 60);
    const runs = [7, 9, 13, 17].map((h) => from + h * HOUR);
    expect(firing(run(minutes.map((r) => (runs.includes(r.ts) ? { ...r, activity: 1600 } : r))), 'collar_fault')).toEqual([]);
  });

  // Found on a second read: a rumination sensor stuck alone left her activity judged; when the activity
  // froze as well, it was read as hers, a cow walking half her usual: a false health alert.
  it('a signal stuck alone grows to the whole collar when her activity sticks too', () => {
    const readings = stream({ days: 14 }).map((r) => {
      if (r.ts <= from) return r;
      const rum = r.ts <= from + 40 * HOUR ? { rumination: 1.5 } : {};
      const act = r.ts > from + 6 * HOUR && r.ts <= from + 30 * HOUR ? { activity: 23 } : {};
      return { ...r, ...rum, ...act };
    });
    const events = run(readings);
    expect(events.filter((e) => e.type === 'collar_fault').map((e) => e.state)).toEqual(['firing', 'resolved']);
    expect(firing(events).filter((e) => e.type !== 'collar_fault')).toEqual([]);
  });

  // Found on a second read: a fault refused by the cooldown (a second flat line soon after the first) was
  // still held as the collar's, with no end: every later reading of those values was dropped, and a cow
  // down two days later, lying still at no activity, was never told.
  it('a fault the cooldown holds back does not hide her readings afterwards', () => {
    const lying = () => 1;
    const downFrom = from + 2 * DAY;
    const readings = stream({ days: 14, rumination: false, lying }).map((r) => {
      const t = r.ts;
      if ((t > from && t <= from + 5 * HOUR) || (t > from + 7 * HOUR && t <= from + 12 * HOUR)) return { ...r, activity: 0 };
      if (t > downFrom && t <= downFrom + 10 * HOUR) return { ...r, activity: 0, lying: 15 };
      return r;
    });
    const events = run(readings);
    expect(firing(events, 'collar_fault')).toHaveLength(1);
    const down = firing(events, 'down_cow');
    expect(down).toHaveLength(1);
    expect(down[0]!.since).toBeLessThanOrEqual(downFrom + HOUR);
  });

  it('a stuck collar repeating one value is a collar fault; zeros on a tag that reports her lying are not', () => {
    const stuck = run(replace(stream({ days: 12 }), 6, (r) => ({ ...r, activity: 57, rumination: 7 })));
    expect(firing(stuck, 'collar_fault')).toEqual([expect.objectContaining({ since: from, evidence: expect.objectContaining({ kind: 'stuck', value: 57 }) })]);
    const lying = run(replace(stream({ days: 12, rumination: false }), 6, (r) => ({ ...r, activity: 0, lying: 15 })));
    expect(firing(lying, 'collar_fault')).toEqual([]);
  });
});

describe('battery_low', () => {
  it('fires below the threshold and resolves only above the hysteresis line', () => {
    const t0 = START + DAY;
    const pct = [30, 20, 14, 13, 18, 24, 26, 14, 12];
    const battery = (t: number) => {
      const i = Math.floor((t - t0) / (4 * HOUR));
      return i < 0 ? 40 : pct[Math.min(i, pct.length - 1)];
    };
    const events = run(stream({ days: 3.5, battery })).filter((e) => e.type === 'battery_low');
    const at = (i: number) => t0 + i * 4 * HOUR;
    expect(events.map((e) => [e.state, e.severity])).toEqual([['firing', 'info'], ['resolved', 'info'], ['firing', 'info']]);
    const [up, down, again] = events as [AlertEvent, AlertEvent, AlertEvent];
    expect(up.at).toBeGreaterThanOrEqual(at(2));
    expect(up.at).toBeLessThan(at(3));
    expect(up.evidence).toMatchObject({ metric: 'batteryPct', value: 14, threshold: rules.batteryLow.belowPct });
    expect(down.at).toBeGreaterThanOrEqual(at(6)); // 18 % and 24 % do not resolve it
    expect(down.at).toBeLessThan(at(7));
    // 14 % again right after the resolve: no re-fire until the cooldown has passed.
    expect(again.at).toBe(down.at + rules.batteryLow.cooldownHours * HOUR);
    expect(again.id).not.toBe(up.id);
  });

  // Found in a second read: a held reading stamped 20 h ahead made every battery level on time look older.
  it('a reading stamped hours ahead does not silence the battery readings on time', () => {
    const det = new FarmDetector('farm', rules, { maxAheadOfArrivalMs: 15 * 60_000 });
    const now = START + 3 * DAY;
    det.observe({ collarId: 'C1', ts: now - HOUR, intervalS: Q, activity: 10, batteryPct: 80 }, 'C1', now - HOUR);
    det.observe({ collarId: 'C1', ts: now + 20 * HOUR, intervalS: Q, activity: 11, batteryPct: 90 }, 'C1', now - 45 * 60_000);
    const low = det.observe({ collarId: 'C1', ts: now, intervalS: Q, activity: 12, batteryPct: 10 }, 'C1', now).events;
    expect(low.map((e) => `${e.type} ${e.state}`)).toEqual(['battery_low firing']);
  });

  it('ignores the battery level of a late backlog reading', () => {
    const det = new FarmDetector('farm', rules);
    const r = (ts: number, batteryPct: number): Reading => ({ collarId: 'C1', ts, intervalS: 900, activity: 10, batteryPct });
    const now = START + 3 * DAY;
    expect(run([r(now, 10)], det).map((e) => e.state)).toEqual(['firing']);
    // A reading from two days ago, uploaded late, still says 80 %: that is history, not a new battery.
    expect(run([r(now - 2 * DAY, 80)], det)).toEqual([]);
    expect(det.cows.get('C1')!.state.alerts.open.battery_low).toBeDefined();
  });
});

describe('collar_offline', () => {
  const gapFrom = START + 2 * DAY;
  const gapTo = gapFrom + 10 * HOUR;
  const a = stream({ collarId: 'A', days: 3, seed: 1 });
  const b = stream({ collarId: 'B', days: 3, seed: 2, skip: (t) => t > gapFrom && t <= gapTo });
  const merged = [...a, ...b].sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));

  it('fires by event time when herd-mates keep talking, and resolves on the next reading', () => {
    const events = run(merged).filter((e) => e.type === 'collar_offline');
    expect(events.map((e) => [e.cowId, e.state])).toEqual([['B', 'firing'], ['B', 'resolved']]);
    const [up, down] = events as [AlertEvent, AlertEvent];
    expect(up.since).toBe(gapFrom);
    expect(up.at - gapFrom).toBeGreaterThanOrEqual(rules.collarOffline.afterHours * HOUR);
    expect(up.at - gapFrom).toBeLessThan(rules.collarOffline.afterHours * HOUR + HOUR);
    expect(up.evidence).toMatchObject({ judgedBy: 'event_time' });
    expect(down.at).toBe(gapTo + Q * 1000);
    expect(down.id).toBe(up.id);
  });

  // Found when tried as a new user would: silence judged by the clock was stamped with the clock's time,
  // which then fed the event-time cooldown. A collar whose clock runs a day behind the gateway's came back,
  // and its next real silence was not reported for a day.
  it('keeps the wall clock and event time apart: a clock-judged silence is stamped in her event time', () => {
    const det = new FarmDetector('farm', rules);
    const lag = DAY; // her clock runs a day behind the gateway's
    const first = a.filter((r) => r.ts <= gapFrom);
    for (const r of first) det.observe(r, r.collarId, r.ts + lag);
    const wall = gapFrom + lag + 7 * HOUR;
    const [silent] = det.checkSilence(wall) as [AlertEvent];
    expect(silent.at).toBe(gapFrom + rules.collarOffline.afterHours * HOUR);
    expect(silent.evidence).toMatchObject({ judgedBy: 'wall_clock', judgedAtWallClock: new Date(wall).toISOString(), silentHours: 7 });
    // She comes back for two hours, then goes silent again while a herd-mate keeps talking (event time).
    const events: AlertEvent[] = [];
    const back = a.filter((r) => r.ts > gapFrom + 7 * HOUR && r.ts <= gapFrom + 9 * HOUR);
    const mate = stream({ collarId: 'M', days: 3, seed: 9 }).filter((r) => r.ts > gapFrom + 7 * HOUR);
    for (const r of [...back, ...mate].sort((x, y) => x.ts - y.ts)) events.push(...det.observe(r, r.collarId, r.ts + lag).events);
    const a2 = events.filter((e) => e.cowId === 'A' && e.type === 'collar_offline');
    expect(a2.map((e) => e.state)).toEqual(['resolved', 'firing']);
    expect(a2[1]!.since).toBe(gapFrom + 9 * HOUR);
    expect(a2[1]!.at - a2[1]!.since).toBeLessThan(rules.collarOffline.afterHours * HOUR + HOUR);
  });

  it('fires by wall clock when the whole farm is silent, but not right after a backlog arrives', () => {
    const det = new FarmDetector('farm', rules);
    const upTo = a.filter((r) => r.ts <= gapFrom);
    for (const r of upTo) det.observe(r, r.collarId, r.ts);
    expect(det.checkSilence(gapFrom + 5 * HOUR)).toEqual([]);
    const silent = det.checkSilence(gapFrom + 7 * HOUR);
    expect(silent).toHaveLength(1);
    expect(silent[0]).toMatchObject({ type: 'collar_offline', state: 'firing', cowId: 'A', evidence: { judgedBy: 'wall_clock' } });
    expect(det.checkSilence(gapFrom + 8 * HOUR)).toEqual([]); // already open

    // Backlog: old readings (event time 7 h behind) arrive now; the clock must not call the collar silent.
    const det2 = new FarmDetector('farm', rules);
    const now = gapFrom + 7 * HOUR;
    for (const r of upTo) det2.observe(r, r.collarId, now);
    expect(det2.checkSilence(now)).toEqual([]);
    expect(det2.checkSilence(now + 5 * HOUR)).toEqual([]);
    expect(det2.checkSilence(now + 6 * HOUR)).toHaveLength(1);
  });
});

describe('replay', () => {
  const onset = START + 10 * DAY + 9 * HOUR;
  const readings = stream({ days: 13, act: during(onset, onset + 14 * HOUR, 3), battery: (t) => (t > onset + DAY ? 10 : 50) });

  it('is deterministic: same readings, same events and ids', () => {
    const a = run(readings);
    const b = run(readings);
    expect(a.length).toBeGreaterThan(2);
    expect(b).toEqual(a);
    expect(new Set(a.filter((e) => e.state === 'firing').map((e) => e.id)).size).toBe(firing(a).length);
  });

  it('gives the same events after restoring a JSON snapshot mid-stream', () => {
    const full = run(readings);
    for (const cut of [onset - 2 * HOUR, onset + 3 * HOUR + 15 * 60_000]) {
      const det = new FarmDetector('farm', rules);
      const before = run(readings.filter((r) => r.ts <= cut), det);
      const snap = JSON.parse(JSON.stringify(det.cows.get('C1')!.snapshot())) as CowSnapshot;
      expect(snap.v).toBe(SNAPSHOT_VERSION);
      const det2 = new FarmDetector('farm', rules);
      det2.farm = JSON.parse(JSON.stringify(det.farm));
      det2.restoreCow(snap);
      const after = run(readings.filter((r) => r.ts > cut), det2);
      expect([...before, ...after]).toEqual(full);
      const dirty = det2.dirtyCows();
      expect(dirty.map((c) => c.subject.cowId)).toEqual(['C1']);
      expect(det2.dirtyCows()).toHaveLength(1); // still dirty until its snapshot is saved
      det2.markSaved(dirty);
      expect(det2.dirtyCows()).toEqual([]);
    }
  });

  // A snapshot stored before her trend had its quick horizon (15 numbers): the quick one starts at her fast
  // one, its streak at 0, and she is judged on; an illness after the restart is still called.
  it('restores a trend stored before the quick horizon, and goes on judging her', () => {
    const sick = during(onset + 2 * DAY, onset + 5 * DAY, 0.68);
    const all = stream({ days: 16, act: (t) => during(onset, onset + 14 * HOUR, 3)(t) * sick(t), rum: sick });
    const cut = onset + DAY;
    const det = new FarmDetector('farm', rules);
    run(all.filter((r) => r.ts <= cut), det);
    const snap = JSON.parse(JSON.stringify(det.cows.get('C1')!.snapshot())) as CowSnapshot;
    const trend = (snap as unknown as { trend: number[] }).trend;
    expect(trend).toHaveLength(20);
    (snap as unknown as { trend: number[] }).trend = trend.slice(0, 15);
    const det2 = new FarmDetector('farm', rules);
    det2.farm = JSON.parse(JSON.stringify(det.farm));
    det2.restoreCow(snap);
    expect((det2.cows.get('C1')!.snapshot() as unknown as { trend: number[] }).trend).toEqual([...trend.slice(0, 15), ...trend.slice(0, 4), 0]);
    const h = firing(run(all.filter((r) => r.ts > cut), det2), 'health');
    expect(h).toHaveLength(1);
    expect(h[0]!.at).toBeGreaterThan(onset + 2 * DAY);
  });

  // A restart while a cow's rise waits for the herd, or while its hold runs: the herd's hours and her trend
  // (which rises were hers) come back from the snapshots, and nothing is judged otherwise than without it.
  it('gives the same events after a herd restarts from its snapshots while a rise is weighed', () => {
    const onset = START + 10 * DAY + 6 * HOUR;
    const herd = Array.from({ length: 20 }, (_, i) =>
      stream({
        collarId: `H${i}`, days: 14, seed: 140 + i,
        act: (t) => (i < 8 ? during(onset + 2 * HOUR, onset + 12 * HOUR, 1.8)(t) : 1) * (i === 0 ? during(onset, onset + 4 * DAY, 0.8)(t) : i === 9 ? during(onset, onset + 12 * HOUR, 2.5)(t) * during(onset + 12 * HOUR, onset + 48 * HOUR, 0.75)(t) : 1),
        lying: i === 0 ? during(onset, onset + 4 * DAY, 1.2) : () => 1,
      }),
    ).flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    const full = run(herd);
    expect(firing(full, 'health').map((e) => e.cowId)).toEqual(['H0']);
    for (const cut of [onset + 13 * HOUR, onset + 14 * HOUR + 30 * 60_000, onset + 30 * HOUR]) {
      const det = new FarmDetector('farm', rules);
      const before = run(herd.filter((r) => r.ts <= cut), det);
      const det2 = new FarmDetector('farm', rules);
      det2.restoreFarm(JSON.parse(JSON.stringify(det.snapshotFarm())));
      for (const cow of det.cows.values()) det2.restoreCow(JSON.parse(JSON.stringify(cow.snapshot())) as CowSnapshot);
      const after = run(herd.filter((r) => r.ts > cut), det2);
      expect([...before, ...after]).toEqual(full);
    }
  });

  // The herd's line is its cows' own usual share of hot hours, each past day judged against the median of the
  // others. Against the median of all of them, five days at 10 and five at 16 read as never hot (16 is under
  // 1.5x their median, 13); judged as a new day is, against the other nine (median 10), the 16s are.
  it("takes how often a cow is hot at an hour of her day from each past day against the others", () => {
    const h = new CowHistory(24 * 40);
    const at6 = [10, 16, 10, 16, 10, 16, 10, 16, 10, 16];
    for (let t = START; t < START + 11 * DAY; t += HOUR) {
      h.advanceTo(Math.floor((t + HOUR - 1) / HOUR));
      const day = Math.floor((t - START) / DAY);
      h.add({ collarId: 'c', ts: t + HOUR, intervalS: 3600, activity: (t - START) % DAY === 6 * HOUR && day < 10 ? at6[day]! : 20 });
    }
    const hour = (START + 10 * DAY + 6 * HOUR) / HOUR;
    expect(new Normals(h, rules.baseline).hotShare(hour, 1.5, 0)).toBe(0.5);
    // A floor over the others' median is the line's: at 12, 1.5x is 18, and no day is hot.
    expect(new Normals(h, rules.baseline).hotShare(hour, 1.5, 12)).toBe(0);
    // One past day has no others: no share (the herd counts her as its plain 3 %).
    const one = { ...rules.baseline, warmupDays: 1, days: 1 };
    expect(new Normals(h, one).hotShare(hour, 1.5, 0)).toBeNaN();
  });

  // A herd's hours, usual shares and all, come back from a snapshot as they were.
  it("restores a herd's hours and their usual shares from a snapshot", () => {
    const herd = Array.from({ length: 12 }, (_, i) => stream({ collarId: `H${i}`, days: 6, seed: 320 + i, act: (t) => (Math.floor(t / HOUR) * (i + 7)) % 5 === 0 ? 2.5 : 1 }))
      .flat()
      .sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    const det = new FarmDetector('farm', rules);
    run(herd, det);
    const snap = det.snapshotFarm();
    expect(snap.herdHours!.some((r) => r.at(-2)! > 0.03 * r[1]! + 1)).toBe(true);
    const det2 = new FarmDetector('farm', rules);
    det2.restoreFarm(JSON.parse(JSON.stringify(snap)));
    expect(det2.snapshotFarm()).toEqual(snap);
  });

  // Snapshots written before round 29 hold no usual share in the herd's hours: they are restored, each hour's
  // usual share taken as the plain 3 % its line was then drawn from.
  it("restores a herd's hours from a snapshot written before the herd kept its usual share", () => {
    const herd = Array.from({ length: 12 }, (_, i) => stream({ collarId: `H${i}`, days: 5, seed: 300 + i })).flat().sort((x, y) => x.ts - y.ts || x.collarId.localeCompare(y.collarId));
    const det = new FarmDetector('farm', rules);
    run(herd, det);
    const rows = det.snapshotFarm().herdHours!;
    expect(rows.length).toBeGreaterThan(24);
    const det2 = new FarmDetector('farm', rules);
    det2.restoreFarm({ ...det.farm, herdHours: rows.map((r) => r.slice(0, -2)) });
    const back = det2.snapshotFarm().herdHours!;
    expect(back.map((r) => r.slice(0, -2))).toEqual(rows.map((r) => r.slice(0, -2)));
    for (const r of back) expect(r.at(-2)).toBeCloseTo(0.03 * r[1]!, 9);
  });

  // A collar that does not tell lying in a reading leaves that hour's lying unknown, not 0 minutes: a day of
  // zeros against her normal would read as lying far less, and hours of it as a normal of nothing.
  it('keeps lying per hour, and an hour a reading without lying fell in as unknown', () => {
    const h = new CowHistory(48);
    const rs = stream({ days: 1, lying: () => 1 });
    h.advanceTo(Math.floor((rs.at(-1)!.ts - 1) / HOUR));
    const hour = h.newest! - 3;
    for (const r of rs) h.add(Math.floor((r.ts - 1) / HOUR) === hour - 1 ? { ...r, lying: undefined } : r);
    const told = rs.filter((r) => Math.floor((r.ts - 1) / HOUR) === hour).reduce((a, r) => a + r.lying!, 0);
    expect(h.rate('lie', hour)).toBeCloseTo(told, 0);
    expect(h.rate('lie', hour - 1)).toBeNaN();
    expect(h.rate('act', hour - 1)).toBeGreaterThan(0);
    expect(new CowHistory(48, { newest: h.newest, data: h.bytes() }).rate('lie', hour)).toBe(h.rate('lie', hour));
  });

  it('judges late readings within the history and refuses ones older than it', () => {
    const cow = new CowDetector(rules, { farmId: 'farm', cowId: 'C1', collarId: 'C1' });
    for (const r of stream({ days: 20 })) cow.observe(r, r.ts);
    expect(cow.historyDays()).toBeGreaterThanOrEqual(rules.baseline.days);
    expect(cow.historyDays()).toBeLessThan(20); // old history is evicted
    const newest = cow.state.lastTs!;
    const late = { ...readings[0]!, ts: newest - 2 * DAY };
    expect(cow.observe(late, newest).judged).toBe(true);
    const ancient = { ...readings[0]!, ts: newest - (rules.baseline.days + 5) * DAY };
    expect(cow.observe(ancient, newest)).toEqual({ events: [], judged: false });
    expect(cow.state.lastTs).toBe(newest);
  });
});

describe('resolveRules', () => {
  it('returns the defaults and merges overrides section by section', () => {
    expect(resolveRules()).toEqual(DEFAULT_RULES);
    const r = resolveRules({ heat: { windowHours: 8 } });
    expect(r.heat.windowHours).toBe(8);
    expect(r.heat.minRatio).toBe(DEFAULT_RULES.heat.minRatio);
    expect(r.health).toEqual(DEFAULT_RULES.health);
  });

  const fails = (o: unknown) => {
    try {
      resolveRules(o);
    } catch (err) {
      expect(err).toBeInstanceOf(RuleSetError);
      expect((err as RuleSetError).code).toBe('COWBELL_RULES_INVALID');
      return (err as RuleSetError).issues.join('\n');
    }
    throw new Error('expected resolveRules to throw');
  };

  it('rejects unknown keys and bad values with the path in the message', () => {
    expect(fails({ heat: { windowHour: 8 } })).toMatch(/rules\.heat.*windowHour/);
    expect(fails({ heet: {} })).toMatch(/heet/);
    expect(fails({ heat: { windowHours: 0 } })).toMatch(/^rules\.heat\.windowHours: /);
    expect(fails({ heat: { windowHours: 2.5 } })).toMatch(/rules\.heat\.windowHours/);
    expect(fails({ baseline: { warmupDays: 'four' } })).toMatch(/rules\.baseline\.warmupDays/);
    expect(fails({ batteryLow: { belowPct: 150 } })).toMatch(/rules\.batteryLow\.belowPct/);
  });

  it('enforces hysteresis and consistency', () => {
    expect(fails({ heat: { resolveRatio: DEFAULT_RULES.heat.minRatio } })).toMatch(/rules\.heat\.resolveRatio: .*hysteresis/);
    expect(fails({ health: { resolveRatio: 0.6 } })).toMatch(/rules\.health\.resolveRatio: .*hysteresis/);
    expect(fails({ health: { trend: { resolveDrop: 0.08 } } })).toMatch(/rules\.health\.trend\.resolveDrop: .*hysteresis/);
    expect(fails({ health: { warmupDays: 20 } })).toMatch(/rules\.health\.warmupDays: must not exceed baseline\.days/);
    expect(fails({ batteryLow: { belowPct: 30, resolveAbovePct: 20 } })).toMatch(/rules\.batteryLow\.resolveAbovePct/);
    expect(fails({ baseline: { days: 5, warmupDays: 6 } })).toMatch(/rules\.baseline\.warmupDays/);
    expect(fails({ heat: { windowHours: 4, minHotHours: 5 } })).toMatch(/rules\.heat\.minHotHours/);
    expect(fails({ heat: { steady: { windowHours: 4, minHotHours: 5 } } })).toMatch(/rules\.heat\.steady\.minHotHours/);
    expect(resolveRules({ heat: { steady: { windowHours: 0 } } }).heat.steady.windowHours).toBe(0);
  });

  it('keeps warm-up short enough for the demo herd (7 days before its first episode)', () => {
    expect(DEFAULT_RULES.baseline.warmupDays).toBeLessThanOrEqual(6);
  });
});

describe('detection quality on the simulator (regression guard; figures from bench/evaluate.ts)', () => {
  it('finds heats and illnesses with few false alarms (30 cows, 28 days, seed 7)', () => {
    const sim = simulateHerd({ farmId: 'sim', cows: 30, startMs: START, days: 28, seed: 7, episodes: 'default' });
    const events = firing(run([...sim.readings()], new FarmDetector('sim', rules)));
    const tol = 12 * HOUR;
    const typeOf = { heat: 'heat', illness: 'health', collar_offline: 'collar_offline', battery_low: 'battery_low' } as const;
    const delays: Record<string, number[]> = { heat: [], illness: [], collar_offline: [], battery_low: [] };
    const counts: Record<string, number> = {};
    for (const ep of sim.truth) {
      counts[ep.type] = (counts[ep.type] ?? 0) + 1;
      const hit = events.find((e) => e.cowId === ep.cowId && e.type === typeOf[ep.type] && e.at >= ep.start && e.at <= ep.end + tol);
      if (hit) delays[ep.type]!.push(hit.at - ep.start);
    }
    const falseAlarms = events.filter(
      (e) => (e.type === 'heat' || e.type === 'health') &&
        !sim.truth.some((ep) => ep.cowId === e.cowId && e.at >= ep.start - tol && e.at <= ep.end + tol),
    );
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
    expect(counts.heat).toBeGreaterThanOrEqual(9);
    expect(delays.heat!.length / counts.heat!).toBeGreaterThanOrEqual(0.95);
    expect(delays.illness!.length / counts.illness!).toBeGreaterThanOrEqual(0.95);
    expect(delays.collar_offline!.length).toBe(counts.collar_offline);
    expect(delays.battery_low!.length).toBe(counts.battery_low);
    expect(med(delays.heat!)).toBeLessThanOrEqual(7 * HOUR);
    expect(Math.max(...delays.heat!)).toBeLessThanOrEqual(9 * HOUR);
    expect(med(delays.illness!)).toBeLessThanOrEqual(25 * HOUR);
    expect(falseAlarms).toEqual([]);
  });
});


describe('battery level from the network server (no reading)', () => {
  it('raises on a fresh low level, and a status from a backlog cannot overrule a newer reading', () => {
    const det = new FarmDetector('farm', rules);
    const r = (ts: number, batteryPct: number): Reading => ({ collarId: 'c1', ts, intervalS: Q, activity: 10, batteryPct });
    det.observe(r(START, 80), 'c1', START);
    det.observe(r(START + 4 * HOUR, 80), 'c1', START + 4 * HOUR);
    // Two hours older than her newest reading: not her battery now.
    expect(det.observeBattery('c1', 'c1', START + 2 * HOUR, 5)).toEqual([]);
    const low = det.observeBattery('c1', 'c1', START + 4 * HOUR + 60_000, 5);
    expect(firing(low, 'battery_low')).toHaveLength(1);
    expect(low[0]).toMatchObject({ at: START + 4 * HOUR + 60_000, evidence: { value: 5 } });
    // The next reading's level is the newer word.
    const back = det.observe(r(START + 5 * HOUR, 90), 'c1', START + 5 * HOUR).events;
    expect(resolved(back, 'battery_low')).toHaveLength(1);
  });
});
