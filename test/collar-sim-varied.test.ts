import { describe, it, expect } from 'vitest';
import type { Reading } from '../rules/reading.js';
import { simulateVariedHerd, type VariedHerdOptions, type VariedTruthEpisode } from '../collar-sim/index.js';
import { herdNoise, quantile } from '../bench/noise.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MINUTE = 60_000;
const START = Date.UTC(2026, 2, 2);
const base: VariedHerdOptions = { farmId: 'farm-v', cows: 80, startMs: START, days: 60, seed: 7 };

// One shared mid-size herd (mixed intervals): generation dominates test time.
const sim = simulateVariedHerd(base);
const readings = [...sim.readings()];
const byCow = new Map<string, Reading[]>();
for (const r of readings) (byCow.get(r.collarId) ?? byCow.set(r.collarId, []).get(r.collarId)!).push(r);
const arrivals = [...sim.arrivals()];
const bySeq = new Map(readings.map((r) => [`${r.collarId}/${r.seq}`, r]));
/** The reading as measured (true time) behind an arrival; every arrival is a measured reading. */
const measured = (r: Reading): Reading => {
  const m = bySeq.get(`${r.collarId}/${r.seq}`);
  if (!m) throw new Error(`arrival ${r.collarId}/${r.seq} was never measured`);
  return m;
};

/** Readings of a cow whose whole interval lies in [from, to). */
const inside = (rs: Reading[], from: number, to: number) => rs.filter((r) => r.ts - r.intervalS * 1000 >= from && r.ts <= to);
const sum = <T>(rs: T[], f: (r: T) => number) => rs.reduce((a, r) => a + f(r), 0);
/** Activity per hour of a cow in [from, to) against the same hours of the previous `days` days. */
function ratioToDaysBefore(rs: Reading[], from: number, to: number, days = 7): number {
  const now = inside(rs, from, to);
  let prev = 0, prevH = 0;
  for (let d = 1; d <= days; d++) {
    const p = inside(rs, from - d * DAY, to - d * DAY);
    prev += sum(p, (r) => r.activity);
    prevH += sum(p, (r) => r.intervalS) / 3600;
  }
  return sum(now, (r) => r.activity) / (sum(now, (r) => r.intervalS) / 3600) / (prev / prevH);
}
/** Whether anything else (another episode of the cow, a herd event) touches [from, to). */
function clean(e: VariedTruthEpisode, from: number, to: number): boolean {
  return sim.truth.every((o) => o === e || o.type === 'delivery_gap' || o.end <= from || o.start >= to ||
    (o.cowId !== e.cowId && !(o.cows ?? []).includes(e.cowId)));
}

describe('simulateVariedHerd', () => {
  // With real noise too: its lying bouts are a cow's state as time goes, which a second pass (the scorecard
  // reads the readings, then the arrivals) once found where the first had left it — every cow lying.
  it.each([false, true])('is deterministic per seed, in readings, arrivals and truth (realNoise %s)', (realNoise) => {
    const small = { ...base, cows: 12, days: 20, realNoise };
    const a = simulateVariedHerd(small), b = simulateVariedHerd(small);
    const ra = [...a.readings()];
    expect([...b.readings()]).toEqual(ra);
    expect([...a.readings()]).toEqual(ra); // iterating again replays the same data
    expect([...b.arrivals()]).toEqual([...a.arrivals()]);
    expect(b.truth).toEqual(a.truth);
    expect(b.params).toEqual(a.params);
    expect(b.cows).toEqual(a.cows);
  });

  it('different seeds give different farm, cow and episode parameters', () => {
    const other = simulateVariedHerd({ ...base, seed: 8 });
    for (const k of Object.keys(sim.params) as Array<keyof typeof sim.params>) expect(other.params[k]).not.toBe(sim.params[k]);
    expect(other.cows.map((c) => c.intervalS)).not.toEqual(sim.cows.map((c) => c.intervalS));
    expect(other.cows.map((c) => c.cycleDays)).not.toEqual(sim.cows.map((c) => c.cycleDays));
    const peaks = (s: typeof sim) => s.truth.filter((e) => e.type === 'heat').map((e) => e.params!.peak!);
    expect(peaks(other)).not.toEqual(peaks(sim));
    // Drawn from ranges, not constants: parameters spread within their documented bounds.
    const p = peaks(sim).filter((x, i) => !sim.truth.filter((e) => e.type === 'heat')[i]!.silent);
    expect(Math.min(...p)).toBeGreaterThanOrEqual(2.3);
    expect(Math.max(...p)).toBeLessThanOrEqual(4);
    expect(Math.max(...p) - Math.min(...p)).toBeGreaterThan(1);
    const cycles = sim.cows.flatMap((c) => (c.cycleDays === undefined ? [] : [c.cycleDays]));
    expect(Math.min(...cycles)).toBeGreaterThanOrEqual(18);
    expect(Math.max(...cycles)).toBeLessThanOrEqual(24);
  });

  it('a 200 cow × 90 day herd has every episode type in its truth', () => {
    const big = simulateVariedHerd({ ...base, cows: 200, days: 90, seed: 11 });
    const kinds = new Set(big.truth.map((e) => `${e.type}${e.subtype ? '/' + e.subtype : ''}`));
    for (const k of [
      'heat', 'illness/ketosis', 'illness/metritis', 'illness/mastitis', 'illness/lameness', 'calving', 'down_cow/injury',
      'collar_fault/flatline', 'collar_fault/stuck', 'collar_fault/battery_dying', 'collar_fault/spikes', 'battery_low', 'collar_offline/battery_dead',
      'herd_event/heat_stress', 'herd_event/schedule_change', 'herd_event/pasture_move', 'delivery_gap/gateway', 'delivery_gap/radio',
    ]) expect(kinds, k).toContain(k);
    expect(big.truth.some((e) => e.type === 'heat' && e.silent)).toBe(true);
    for (const e of big.truth.filter((x) => x.type === 'herd_event' || x.subtype === 'gateway')) {
      expect(e.cowId).toBe('*');
      expect(e.cows!.length).toBeGreaterThan(0);
    }
    for (const e of big.truth) expect(e.end, `${e.type} ${e.collarId}`).toBeGreaterThan(e.start);
    expect(new Set(big.cows.map((c) => c.intervalS))).toEqual(new Set([60, 300, 900, 3600, 7200]));
  });

  it('readings stay within the wire contract, sorted by ts then collarId', () => {
    const bad: string[] = [];
    const check = (ok: boolean, what: string, r: Reading) => { if (!ok && bad.length < 5) bad.push(`${what}: ${JSON.stringify(r)}`); };
    let prev: Reading | undefined;
    for (const r of readings) {
      check(!prev || r.ts > prev.ts || (r.ts === prev.ts && r.collarId > prev.collarId), 'order', r);
      prev = r;
      const mins = r.intervalS / 60;
      check(Number.isInteger(r.activity) && r.activity >= 0, 'activity', r);
      check([r.rumination, r.eating, r.lying].every((m) => m! >= 0 && m! <= mins), 'minutes', r);
      check(r.rumination! + r.eating! <= mins + 1e-9, 'rumination+eating', r);
      check(r.temperature! >= 30 && r.temperature! <= 45, 'temperature', r);
      check(r.batteryPct! >= 0 && r.batteryPct! <= 100, 'battery', r);
    }
    expect(bad).toEqual([]);
  });

  it('a non-silent heat shows at least 2× the activity of the same hours on the days before', () => {
    const heats = sim.truth.filter((e) => e.type === 'heat' && !e.silent && e.start >= START + 7 * DAY);
    let judged = 0;
    for (const e of heats) {
      const from = e.start + e.params!.rampInH! * HOUR, to = e.end - e.params!.rampOutH! * HOUR;
      if (!clean(e, e.start - 7 * DAY, e.end) || to - from < 4 * HOUR) continue;
      judged++;
      expect(ratioToDaysBefore(byCow.get(e.collarId)!, from, to), `${e.collarId} ${new Date(e.start).toISOString()}`).toBeGreaterThanOrEqual(2);
    }
    expect(judged).toBeGreaterThan(10);
    // Silent heats barely move activity.
    for (const e of sim.truth.filter((x) => x.type === 'heat' && x.silent && x.start >= START + 7 * DAY)) {
      if (!clean(e, e.start - 7 * DAY, e.end)) continue;
      expect(ratioToDaysBefore(byCow.get(e.collarId)!, e.start + 3 * HOUR, e.end - 2 * HOUR)).toBeLessThan(1.6);
    }
  });

  it('collar faults show in the readings exactly where the truth puts them', () => {
    const faults = sim.truth.filter((e) => e.type === 'collar_fault');
    const stuckAlone = ['activity_stuck', 'rumination_stuck', 'lying_stuck'];
    expect(new Set(faults.map((e) => (stuckAlone.includes(e.subtype!) ? 'one signal stuck' : e.subtype)))).toEqual(new Set(['flatline', 'stuck', 'battery_dying', 'one signal stuck', 'spikes']));
    for (const e of faults) {
      const rs = byCow.get(e.collarId)!;
      const during = rs.filter((r) => r.ts >= e.start && r.ts < e.end);
      const before = rs.filter((r) => r.ts < e.start).at(-1)!;
      const after = rs.find((r) => r.ts >= e.end);
      const sensors = (r: Reading) => [r.activity, r.rumination, r.eating, r.lying, r.temperature].join();
      if (e.subtype === 'flatline') {
        expect(during.length).toBeGreaterThan(5);
        expect(new Set(during.map(sensors)).size).toBe(1);
        expect(during[0]!.activity).toBe(0);
        expect(during[0]!.rumination).toBe(0);
        expect(before.activity + before.lying!).toBeGreaterThan(0);
        if (after) expect(sensors(after)).not.toBe(sensors(during[0]!));
      } else if (e.subtype === 'stuck') {
        expect(during.length).toBeGreaterThan(5);
        expect(new Set(during.map(sensors)).size).toBe(1);
        expect(during[0]!.activity).toBeGreaterThan(0);
        if (after) expect(sensors(after)).not.toBe(sensors(during[0]!));
      } else if (stuckAlone.includes(e.subtype!)) {
        // One signal repeats what it read last before the fault; the others live on.
        const signal = (r: Reading) => (e.subtype === 'activity_stuck' ? r.activity : e.subtype === 'rumination_stuck' ? r.rumination : r.lying);
        expect(during.length).toBeGreaterThan(5);
        expect(new Set(during.map(signal)).size).toBe(1);
        if (e.subtype !== 'activity_stuck') expect(signal(during[0]!)).toBe(signal(before));
        expect(new Set(during.map((r) => [r.activity, r.rumination, r.lying].filter((_, i) => i !== stuckAlone.indexOf(e.subtype!)).join())).size).toBeGreaterThan(during.length / 2);
      } else if (e.subtype === 'spikes') {
        // About one reading in seven carries a burst of 10-40 hours of her activity; the rest are hers.
        const hourly = sum(rs.filter((r) => r.ts >= e.start - 7 * DAY && r.ts < e.start), (r) => r.activity) / 168;
        const bursts = during.filter((r) => r.activity >= 10 * hourly);
        expect(bursts.length).toBeGreaterThan(0);
        expect(bursts.length).toBeLessThan(during.length / 3);
      } else {
        // Battery falls to nothing and the readings thin out before the collar dies.
        expect(during.at(-1)!.batteryPct!).toBeLessThan(5);
        const steps = Math.round((e.end - e.start) / (during[0]!.intervalS * 1000));
        expect(during.length).toBeLessThan(steps);
        const dead = sim.truth.find((o) => o.type === 'collar_offline' && o.collarId === e.collarId)!;
        expect(dead.start).toBe(e.end);
        expect(rs.some((r) => r.ts >= dead.start && r.ts < dead.end)).toBe(false);
        const low = sim.truth.find((o) => o.type === 'battery_low' && o.collarId === e.collarId)!;
        expect(rs.find((r) => r.batteryPct! < 15)!.ts).toBe(low.start);
      }
    }
  });

  it('a down cow barely moves and lies all the time, without her values being constant', () => {
    const downs = sim.truth.filter((e) => e.type === 'down_cow');
    expect(downs.length).toBeGreaterThan(0);
    for (const e of downs) {
      const rs = byCow.get(e.collarId)!;
      const during = inside(rs, e.start, e.end);
      if (during.length === 0) continue; // a 2-hour collar may have no reading wholly inside a short episode
      const perHour = sum(during, (r) => r.activity) / (sum(during, (r) => r.intervalS) / 3600);
      const week = rs.filter((r) => r.ts >= e.start - 7 * DAY && r.ts < e.start);
      const normal = sum(week, (r) => r.activity) / (sum(week, (r) => r.intervalS) / 3600);
      expect(perHour / normal).toBeLessThan(0.1);
      for (const r of during) expect(r.lying! / (r.intervalS / 60)).toBeGreaterThanOrEqual(0.9);
      if (during.length >= 4) expect(new Set(during.map((r) => `${r.activity},${r.lying},${r.rumination}`)).size).toBeGreaterThan(1);
    }
  });

  it('the arrival order holds late, out-of-order and duplicated readings; nothing arrives before it was measured', () => {
    expect(arrivals.length).toBeGreaterThan(0);
    let late = 0, outOfOrder = 0, dupes = 0, backwards = 0, early = 0;
    const lastTs = new Map<string, number>();
    const seen = new Set<string>();
    let prevAt = -Infinity;
    for (const { arrivedAt, reading } of arrivals) {
      const r = measured(reading); // in true time: the arrival's ts is on the collar's clock
      if (arrivedAt < prevAt) backwards++;
      prevAt = arrivedAt;
      if (arrivedAt <= r.ts) early++;
      if (arrivedAt - r.ts > HOUR) late++;
      if (r.ts < (lastTs.get(r.collarId) ?? -Infinity)) outOfOrder++;
      lastTs.set(r.collarId, Math.max(r.ts, lastTs.get(r.collarId) ?? -Infinity));
      const key = `${r.collarId}/${r.seq}`;
      if (seen.has(key)) dupes++;
      seen.add(key);
    }
    expect(backwards).toBe(0);
    expect(early).toBe(0);
    expect(late).toBeGreaterThan(100);
    expect(outOfOrder).toBeGreaterThan(10);
    expect(dupes).toBeGreaterThan(10);
    // Every arrival is a measured reading; what never arrives is what an overflowed buffer lost.
    const lost = sum(sim.truth.filter((e) => e.type === 'delivery_gap'), (e) => e.params!.lost!);
    expect(bySeq.size - seen.size).toBe(lost);
    // Readings inside a gap arrive only after it ends.
    const gap = sim.truth.find((e) => e.type === 'delivery_gap' && e.subtype === 'radio')!;
    const fromGap = arrivals.filter((a) => a.reading.collarId === gap.collarId && measured(a.reading).ts >= gap.start && measured(a.reading).ts < gap.end);
    expect(fromGap.length).toBeGreaterThan(0);
    expect(fromGap.every((a) => a.arrivedAt > gap.end)).toBe(true);
  });

  it("collar clocks: each cow's skew is in the truth and every reading it sends carries it; a couple reset once", () => {
    const skewsS = sim.cows.map((c) => c.clockSkewMs / 1000);
    expect(skewsS.every((x) => Number.isInteger(x) && Math.abs(x) <= 600)).toBe(true);
    expect(skewsS.filter((x) => Math.abs(x) <= 120).length).toBeGreaterThanOrEqual(0.85 * skewsS.length);
    expect(skewsS.some((x) => Math.abs(x) > 120)).toBe(true); // a few minutes off
    expect(new Set(skewsS).size).toBeGreaterThan(20); // drawn per cow, not one farm constant
    const resets = sim.cows.filter((c) => c.clockReset);
    expect(resets.length).toBeGreaterThanOrEqual(1);
    expect(resets.length).toBeLessThanOrEqual(2);
    for (const c of resets) expect(new Date(c.clockReset!.ts).getUTCFullYear()).toBeGreaterThanOrEqual(2030);

    const cow = new Map(sim.cows.map((c) => [c.collarId, c]));
    const wrong: string[] = [];
    const resetSeen = new Map<string, number>();
    arrivals.forEach(({ reading }, i) => {
      const m = measured(reading), c = cow.get(reading.collarId)!;
      const isReset = c.clockReset?.at === m.ts;
      if (isReset) resetSeen.set(c.collarId, (resetSeen.get(c.collarId) ?? 0) + 1);
      const want = isReset ? c.clockReset!.ts : m.ts + c.clockSkewMs;
      if (reading.ts !== want && wrong.length < 5) wrong.push(`${reading.collarId}/${reading.seq}: ts ${reading.ts}, want ${want}`);
      if (i % 97 === 0) expect({ ...reading, ts: m.ts }).toEqual(m); // only the stamp differs
    });
    expect(wrong).toEqual([]);
    // The reset stamps one reading (a redelivery of it carries the same stamp), and it does reach the gateway.
    expect([...resetSeen.keys()].sort()).toEqual(resets.map((c) => c.collarId).sort());
    // A collar ahead of the gateway stamps its live readings later than they arrive.
    const ahead = sim.cows.find((c) => c.clockSkewMs > 60_000 && !c.clockReset)!;
    const live = arrivals.filter((a) => a.reading.collarId === ahead.collarId && a.arrivedAt - measured(a.reading).ts < MINUTE);
    expect(live.length).toBeGreaterThan(10);
    for (const a of live) expect(a.reading.ts - a.arrivedAt).toBeGreaterThan(ahead.clockSkewMs - MINUTE);
    // The truth stays in true time: a collar fault starts on a reading the collar measured, not on what it stamped.
    for (const e of sim.truth.filter((x) => x.type === 'collar_fault')) {
      expect(byCow.get(e.collarId)!.some((r) => r.ts === e.start)).toBe(true);
    }
  });

  it('follows the farm time zone: the daily rhythm keeps its local hours across a daylight-saving change', () => {
    expect(sim.timezone).toBe('UTC');
    // Berlin moves from UTC+1 to UTC+2 on 29 March 2026 at 01:00 UTC. 14 days: no milking-time change.
    const start = Date.UTC(2026, 2, 22), change = Date.UTC(2026, 2, 29, 1);
    const o: VariedHerdOptions = { farmId: 'tz', cows: 12, startMs: start, days: 14, seed: 3, intervals: [900] };
    const berlin = simulateVariedHerd({ ...o, timezone: 'Europe/Berlin' });
    expect(berlin.timezone).toBe('Europe/Berlin');
    const utc = simulateVariedHerd(o);
    /** Herd activity by hour of day (UTC, or Berlin's clock) over [from, to). */
    const profile = (s: typeof sim, from: number, to: number, local: boolean) => {
      const bins = new Array<number>(24).fill(0);
      // The cows' rhythm, not a faulty collar's: a burst of a spiking one outweighs a dozen cows' hour.
      const faulty = new Set(s.truth.filter((e) => e.type === 'collar_fault').map((e) => e.collarId));
      for (const r of s.readings()) {
        if (faulty.has(r.collarId)) continue;
        const mid = r.ts - r.intervalS * 500;
        if (mid < from || mid >= to) continue;
        const off = local ? (mid < change ? HOUR : 2 * HOUR) : 0;
        bins[Math.floor((((mid + off) % DAY) + DAY) % DAY / HOUR)]! += r.activity;
      }
      return bins;
    };
    /** How many hours later (mod 24) the rhythm runs after than before, by the best circular correlation. */
    const shift = (before: number[], after: number[]) => {
      let best = 0, bestC = -Infinity;
      for (let k = 0; k < 24; k++) {
        const c = sum(before.map((b, h) => b * after[(h + k) % 24]!), (x) => x);
        if (c > bestC) [best, bestC] = [k, c];
      }
      return best;
    };
    const before: [number, number] = [start, Date.UTC(2026, 2, 28)], after: [number, number] = [Date.UTC(2026, 2, 30), start + 14 * DAY];
    const moved = (s: typeof sim, local: boolean) => shift(profile(s, ...before, local), profile(s, ...after, local));
    expect(moved(berlin, true)).toBe(0); // the same local hours
    expect(moved(berlin, false)).toBe(23); // an hour earlier in UTC
    expect(moved(utc, false)).toBe(0);
    // And the farmer's doings: a pasture move starts between 06:00 and 15:00 on the farm's clock.
    const hourIn = (t: number) => Number(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: 'numeric', hourCycle: 'h23' }).format(t));
    const moves = simulateVariedHerd({ ...o, cows: 20, days: 60, timezone: 'Europe/Berlin' }).truth.filter((e) => e.subtype === 'pasture_move');
    expect(moves.length).toBeGreaterThan(0);
    for (const e of moves) {
      expect(hourIn(e.start)).toBeGreaterThanOrEqual(6);
      expect(hourIn(e.start)).toBeLessThanOrEqual(15);
    }
    expect(() => simulateVariedHerd({ ...o, days: 2, timezone: 'Mars/Olympus_Mons' })).toThrow(RangeError);
  });

  // The default herd's cows are far steadier than real ones (bench/realism.ts: an hour within 0.8-1.25x the
  // same hour's median nine times in ten, days within 3 %; the IceTag leg tags' hours 0.08-3.5x, days 18 %).
  it('with realNoise, its cows are as noisy as real ones: lying bouts in their hours, days that differ', () => {
    const o: VariedHerdOptions = { farmId: 'farm-n', cows: 30, startMs: START, days: 24, seed: 7, intervals: [900] };
    const measure = (realNoise: boolean) => {
      const s = simulateVariedHerd({ ...o, realNoise });
      const { ratios, cvs } = herdNoise(s.readings(), s.cows, s.truth);
      let activity = 0;
      for (const r of s.readings()) activity += r.activity;
      return { p10: quantile(ratios, 0.1), p90: quantile(ratios, 0.9), twice: ratios.filter((r) => r >= 2).length / ratios.length, cv: quantile(cvs, 0.5), activity };
    };
    const steady = measure(false);
    const real = measure(true);
    expect(steady.p90).toBeLessThan(1.4);
    expect(steady.cv).toBeLessThan(0.06);
    // Real cows: an hour she lies through is a tenth of its median or less, one up and about twice it or more.
    expect(real.p10).toBeLessThan(0.2);
    expect(real.p90).toBeGreaterThan(2);
    expect(real.twice).toBeGreaterThan(0.08);
    expect(real.cv).toBeGreaterThan(0.1);
    expect(real.cv).toBeLessThan(0.35);
    // Only the noise: the herd moves as much in all.
    expect(real.activity / steady.activity).toBeGreaterThan(0.93);
    expect(real.activity / steady.activity).toBeLessThan(1.07);
  });
});
