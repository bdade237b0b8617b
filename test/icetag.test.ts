import { existsSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { scoreIceTag } from '../agent/eval.js';
import { ICETAG_DIR, ICETAG_FILES, loadIceTag } from '../bench/icetag.js';
import { DEFAULT_RULES } from '../rules/index.js';

/**
 * False-alarm guard on real data: three IceTag cows (../shared/data/icetag, ~46 days each, presumed normal).
 * With the defaults `node dist/bench/evaluate.js` reports 5 heat alerts over 4.53 cow-months (two of them look
 * like real heats on 689b_3) and no health alert; the bounds leave a little margin.
 */
describe.skipIf(!existsSync(ICETAG_DIR))('IceTag real cows', () => {
  it('raises few heat and no health alerts with the default rules', () => {
    for (const file of ICETAG_FILES) {
      expect(loadIceTag(`${ICETAG_DIR}/${file}`, 'x').every((r) => Number.isFinite(r.activity))).toBe(true);
    }
    const s = scoreIceTag(DEFAULT_RULES, ICETAG_DIR)!;
    expect(s.cows.map((c) => `${c.source}.csv`)).toEqual(ICETAG_FILES);
    for (const c of s.cows) expect(c.alerts.heat ?? 0, `${c.source} heat alerts`).toBeLessThanOrEqual(4);
    expect(s.all.cowMonths).toBeCloseTo(4.53, 1);
    expect((s.all.alerts.heat ?? 0) / s.all.cowMonths).toBeLessThanOrEqual(1.4);
    expect(s.all.alerts.health ?? 0).toBeLessThanOrEqual(1);
  });
});
