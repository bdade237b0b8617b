import { describe, expect, it } from 'vitest';
import { simulateHerd, simulateVariedHerd } from '../collar-sim/index.js';
import { DEFAULT_RULES, FarmDetector, type AlertEvent, type Reading } from '../rules/index.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 2, 2);

/** A small seeded generator (mulberry32): the same trial fails the same way every run. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Property: no reading that passes the wire contract can make the rules throw, or blind a cow. Each trial
 * streams a cow with a heat as a live gateway would (arrival = reading time) and slips hostile readings in
 * at random places — any time from long before her history to the year 2099, any activity up to 10^9, any
 * interval, rumination and battery the contract allows — and her heat must still be found, from its onset give or take the hour a wild reading sits in.
 */
describe('rules core, property: hostile readings', () => {
  const heatStart = START + 11 * DAY + 9 * HOUR;
  const base = [...simulateHerd({ farmId: 'f', cows: 1, startMs: START, days: 13, seed: 4, episodes: [{ collarId: 'C001', type: 'heat', start: heatStart, end: heatStart + 14 * HOUR }] }).readings()];

  it('never throws and never hides her heat (150 seeded trials)', () => {
    for (let trial = 0; trial < 150; trial++) {
      const r = rng(1000 + trial);
      const det = new FarmDetector('f', DEFAULT_RULES, { maxAheadOfArrivalMs: 15 * 60_000 });
      const hostile = new Map<number, Reading[]>();
      for (let k = 0; k < 1 + Math.floor(r() * 8); k++) {
        const at = Math.floor(r() * base.length);
        const intervalS = [60, 300, 900, 3600, 7200][Math.floor(r() * 5)]!;
        const when = r();
        const ts = when < 0.3 ? START - Math.floor(r() * 400 * DAY) : when < 0.6 ? base[at]!.ts + Math.floor((r() - 0.5) * 4 * DAY) : Math.floor(Date.UTC(2026, 0, 1) + r() * (Date.UTC(2099, 0, 1) - Date.UTC(2026, 0, 1)));
        const reading: Reading = { collarId: 'C001', ts, intervalS, activity: Math.floor(r() ** 4 * 1e9) };
        if (r() < 0.5) reading.rumination = r() * (intervalS / 60);
        if (r() < 0.3) reading.batteryPct = r() * 100;
        hostile.set(at, [...(hostile.get(at) ?? []), reading]);
      }
      const events: AlertEvent[] = [];
      base.forEach((reading, i) => {
        for (const h of hostile.get(i) ?? []) events.push(...det.observe(h, 'C001', reading.ts).events);
        events.push(...det.observe(reading, 'C001', reading.ts).events);
      });
      const heat = events.find((e) => e.type === 'heat' && e.state === 'firing' && e.since >= heatStart - 2 * HOUR);
      expect(heat, `trial ${trial}: ${JSON.stringify([...hostile.values()].flat())}`).toBeDefined();
      // A wild reading next to the onset may move it by its hour, no more.
      expect(Math.abs(heat!.since - heatStart), `trial ${trial}`).toBeLessThanOrEqual(HOUR);
    }
  });
});

/**
 * Property: the order readings arrive in does not matter within the reorder window. Each trial delivers the
 * same readings (three cows, 5-minute collars, heats and illnesses) with every reading delayed by a random
 * part of `reorder.minutes`, so any two measured closer together than that may swap; the alerts must be
 * exactly those of the readings delivered in the order they were measured.
 */
describe('rules core, property: order within the reorder window', () => {
  const sim = simulateHerd({ farmId: 'f', cows: 3, startMs: START, days: 20, seed: 9, intervalS: 300, episodes: 'default' });
  const inOrder = [...sim.readings()].sort((a, b) => a.ts - b.ts);
  const holdMs = DEFAULT_RULES.reorder.minutes * 60_000;
  // A silent collar heard again is said at once, by whichever reading arrives first: that one moment (`at`,
  // `backAt` of the resolve) is the only thing the order may move, within the window.
  const replay = (readings: Reading[]) => {
    const det = new FarmDetector('f', DEFAULT_RULES);
    return readings
      .flatMap((r) => det.observe(r, r.collarId, r.ts).events)
      .map((e) => (e.type === 'collar_offline' && e.state === 'resolved' ? { ...e, at: 0, evidence: { ...e.evidence, backAt: null } } : e));
  };
  const reference = replay(inOrder);

  it('gives the same alerts for 20 seeded arrival orders', () => {
    expect(reference.filter((e) => e.state === 'firing').map((e) => e.type)).toEqual(expect.arrayContaining(['heat', 'health']));
    for (let trial = 0; trial < 20; trial++) {
      const r = rng(5000 + trial);
      const shuffled = inOrder.map((x) => ({ x, at: x.ts + r() * holdMs })).sort((a, b) => a.at - b.at).map(({ x }) => x);
      expect(shuffled.some((x, i) => i > 0 && x.ts < shuffled[i - 1]!.ts), `trial ${trial} reordered nothing`).toBe(true);
      expect(replay(shuffled), `trial ${trial}`).toEqual(reference);
    }
  });
});

/**
 * The same, on a herd: whether an hour was the herd's (heat's busy hours, a rise of the herd's, the herd's
 * share of a drop) is a count of the herd's cows, so it held only if the farm judged its cows' readings in
 * one order. Released cow by cow instead (each when her own next reading came), every one of six arrival
 * orders of this herd gave some heat or illness another hour. 24 cows of the varied herd, 24 days:
 * collars reporting every minute to every two hours, clocks minutes apart, heats, illnesses, a calving,
 * collar faults, a milking moved, a heat-stress day and a pasture move.
 */
describe('rules core, property: order within the reorder window, on a herd', () => {
  const sim = simulateVariedHerd({ farmId: 'f', cows: 24, startMs: START, days: 24, seed: 7 });
  const inOrder = [...sim.readings()].sort((a, b) => a.ts - b.ts || a.collarId.localeCompare(b.collarId));
  const holdMs = DEFAULT_RULES.reorder.minutes * 60_000;
  const replay = (readings: Reading[]): AlertEvent[] => {
    const det = new FarmDetector('f', DEFAULT_RULES);
    return readings
      .flatMap((r) => det.observe(r, r.collarId, r.ts).events)
      .map((e) => (e.type === 'collar_offline' && e.state === 'resolved' ? { ...e, at: 0, evidence: { ...e.evidence, backAt: null } } : e));
  };

  // Each cow's alerts, in the order she raised them: herd-mates' readings that concern only themselves are
  // judged as they come, so which cow's alert is told first within the window may differ.
  const byCow = (events: AlertEvent[]) => {
    const cows = new Map<string, AlertEvent[]>();
    for (const e of events) cows.set(e.cowId, [...(cows.get(e.cowId) ?? []), e]);
    return [...cows].sort(([a], [b]) => a.localeCompare(b));
  };

  // Found on a second read: one collar whose clock runs three hours ahead (trusted for her own readings after
  // two hours of them) set the farm's frontier, and every herd-mate's readings were released before their
  // reordering was done. Her readings cannot move the farm's time further than arrival allows.
  it('gives the same alerts with a collar three hours ahead among them', () => {
    const ahead = inOrder.filter((r) => r.collarId === 'C001').map((r) => ({ r: { ...r, collarId: 'AHEAD', ts: r.ts + 3 * HOUR }, at: r.ts }));
    const all = [...inOrder.map((r) => ({ r, at: r.ts })), ...ahead];
    const replayAt = (arrivals: { r: Reading; at: number }[]) => {
      const det = new FarmDetector('f', DEFAULT_RULES, { maxAheadOfArrivalMs: 15 * 60_000 });
      return byCow(arrivals.flatMap(({ r, at }) => det.observe(r, r.collarId, at).events).filter((e) => e.cowId !== 'AHEAD')
        .map((e) => (e.type === 'collar_offline' && e.state === 'resolved' ? { ...e, at: 0, evidence: { ...e.evidence, backAt: null } } : e)));
    };
    const reference = replayAt([...all].sort((a, b) => a.at - b.at || a.r.ts - b.r.ts || a.r.collarId.localeCompare(b.r.collarId)));
    for (let trial = 0; trial < 2; trial++) {
      const r = rng(7100 + trial);
      const shuffled = all.map((x) => ({ ...x, at: x.at + r() * holdMs })).sort((a, b) => a.at - b.at);
      expect(replayAt(shuffled), `trial ${trial}`).toEqual(reference);
    }
  });

  it('gives the same alerts for 4 seeded arrival orders', () => {
    const reference = byCow(replay(inOrder));
    expect(sim.truth.some((e) => e.type === 'herd_event')).toBe(true);
    expect(reference.flatMap(([, es]) => es).filter((e) => e.state === 'firing').map((e) => e.type)).toEqual(expect.arrayContaining(['heat', 'health', 'down_cow']));
    for (let trial = 0; trial < 4; trial++) {
      const r = rng(7000 + trial);
      const shuffled = inOrder.map((x) => ({ x, at: x.ts + r() * holdMs })).sort((a, b) => a.at - b.at).map(({ x }) => x);
      expect(byCow(replay(shuffled)), `trial ${trial}`).toEqual(reference);
    }
  });
});
