import { existsSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { scoreIceTag } from '../agent/eval.js';
import { ICETAG_DIR, ICETAG_FILES, loadIceTag } from '../bench/icetag.js';
import { DAY_MS, DEFAULT_RULES, FarmDetector, HOUR_MS, type Reading } from '../rules/index.js';

/**
 * False-alarm guard on real data: three IceTag cows (../shared/data/icetag, ~46 days each, presumed normal
 * and cycling). A cycling cow comes into heat every 18-24 days, about 1.45 times a cow-month, so the count of
 * heat alerts alone says little; what matters is whether each is explained. A heat is explained when the one
 * before or after it on the same cow is a cycle away (17-25 days) or two (36-48 days: one between not
 * seen). With the defaults: 516b_2 05-03 and 06-11 (39 days), 678_2 07-05, 689b_3 05-11, 05-21 and 06-14
 * (10, then 24), and no health alert. Unexplained: 689b_3's of 05-11, and 678_2's of 07-05, whose partner
 * until round 28 was a 3-hour burst at 3x on 07-29 (24 days on). Since round 29 three hours make a heat only
 * on a cow whose hours are steady, and hers wander (her 3-hour windows differ by a quarter from day to day):
 * the burst is not told, and on herds as noisy as real ones that took more false heats than true ones away
 * (docs/figures.md, "Heats on cows as noisy as real ones").
 */
describe.skipIf(!existsSync(ICETAG_DIR))('IceTag real cows', () => {
  it('raises no heat a cycle does not explain but two, and no health alert, with the default rules', () => {
    for (const file of ICETAG_FILES) {
      expect(loadIceTag(`${ICETAG_DIR}/${file}`, 'x').every((r) => Number.isFinite(r.activity))).toBe(true);
    }
    const onsets = new Map<string, number[]>();
    const s = scoreIceTag(DEFAULT_RULES, ICETAG_DIR, (cow, e) => {
      if (e.type === 'heat' && e.state === 'firing') onsets.set(cow, [...(onsets.get(cow) ?? []), e.since]);
    })!;
    expect(s.cows.map((c) => `${c.source}.csv`)).toEqual(ICETAG_FILES);
    expect(s.all.cowMonths).toBeCloseTo(4.53, 1);
    const cycleApart = (a: number, b: number) => {
      const days = Math.abs(a - b) / DAY_MS;
      return (days >= 17 && days <= 25) || (days >= 36 && days <= 48);
    };
    let unexplained = 0;
    for (const [, heats] of onsets) heats.forEach((t, i) => {
      if (!(i > 0 && cycleApart(t, heats[i - 1]!)) && !(i + 1 < heats.length && cycleApart(t, heats[i + 1]!))) unexplained++;
    });
    expect(unexplained).toBeLessThanOrEqual(2);
    expect(s.all.alerts.heat ?? 0).toBeLessThanOrEqual(6);
    expect(s.all.alerts.health ?? 0).toBe(0);
  });

  const heats = (readings: Reading[]) => {
    const det = new FarmDetector('eval', DEFAULT_RULES);
    const out: number[] = [];
    for (const r of readings) for (const e of det.observe(r, r.collarId, r.ts).events) if (e.type === 'heat' && e.state === 'firing') out.push(e.raisedAt);
    return out;
  };
  /** A cow's minutes summed into readings of `n` hours: those with at least half their minutes, scaled up to the whole span. */
  const summed = (minutes: Reading[], n: number): Reading[] => {
    const spans = new Map<number, { n: number; activity: number }>();
    for (const r of minutes) {
      const h = Math.ceil(r.ts / (n * HOUR_MS));
      const b = spans.get(h) ?? { n: 0, activity: 0 };
      b.n++;
      b.activity += r.activity;
      spans.set(h, b);
    }
    return [...spans]
      .filter(([, b]) => b.n >= 30 * n)
      .sort((a, b) => a[0] - b[0])
      .map(([h, b]) => ({ collarId: 'x', ts: h * n * HOUR_MS, intervalS: 3600 * n, activity: Math.round((b.activity * 60 * n) / b.n) }));
  };

  /**
   * A collar reporting every hour: the same cows' minutes summed into hourly readings (an hour with at least
   * half its minutes, scaled up to the whole hour; a third of IceTag's minutes are missing). Its heats must be
   * the minute data's (six since round 29; seven before, when the early word for hourly collars, three
   * readings, was said for every cow: without it, two of them were missed).
   */
  /**
   * Each cow's heats from her minutes summed into `n`-hour readings: the minute data's, each told within
   * `withinMs` of it, but `missed` of them, and `extra` more (by file).
   */
  const sameHeats = (n: number, withinMs: number, diff: Record<string, { missed?: number; extra?: number }> = {}) => {
    for (const file of ICETAG_FILES) {
      const minutes = loadIceTag(`${ICETAG_DIR}/${file}`, 'x');
      const byMinute = heats(minutes);
      const bySum = heats(summed(minutes, n));
      const { missed = 0, extra = 0 } = diff[file] ?? {};
      const matched = byMinute.filter((t) => bySum.some((s) => Math.abs(s - t) <= withinMs)).length;
      expect(matched, file).toBe(byMinute.length - missed);
      expect(bySum.length, file).toBe(matched + extra);
    }
  };

  // Told within an hour of the minute data's. (Their onsets may differ more: walking back over the hours
  // still up, an hour missing from the hourly readings is stepped over where the minute data had a few quiet
  // minutes of it.)
  it('an hourly collar finds the heats the minute data finds', () => sameHeats(1, HOUR_MS));

  /**
   * A collar reporting every 2 hours, as SCR-like exports give activity: the minute data's heats, told within
   * four hours of them (a 2-hour reading is all it knows of them), but one, and one more. The one missed is
   * 516b_2's of 06-11, which the minute data tells at exactly 2x over 9 hours: summed into 2-hour readings it
   * is just under (told from her 6-hour window until round 29, which since asks for a steady cow). The one
   * more is 678_2's 3-hour burst at 3x of 07-29, 24 days after her heat before, which the 4-hour word (two
   * readings, each 2x) tells on a cow whose hours wander too; the minute data's 3-hour word, since round 29,
   * only on a steady cow. Before the 4-hour word the 2-hourly readings missed that burst and another heat,
   * and raised a restless day four days after a heat before the 5-day cooldown.
   */
  it('a collar reporting every 2 hours finds the heats the minute data finds but a marginal one, and a 3-hour burst a cycle on', () =>
    sameHeats(2, 4 * HOUR_MS, { '516b_2.csv': { missed: 1 }, '678_2.csv': { extra: 1 } }));
});
