/**
 * How noisy the simulator's cows are beside real ones: the same two figures for the simulated herd and the
 * real IceTag cows (../shared/data/icetag), side by side.
 *
 * - An hour against the same clock hour of her past seven days (its median): the spread of these ratios is
 *   what the heat rule's hot hours and the health trend's hours see. A cow lies down in bouts of one to two
 *   hours, at no fixed hour, and an hour she lies through carries a tenth or less of a standing one's movement.
 * - Her day against her own days: the robust coefficient of variation (MAD × 1.4826 / median) of her daily
 *   totals. This is the spread that the health lines widen with.
 *
 * - How far her health trend strays on her ordinary days, as the rules read it (Normals.trendSpread, every
 *   fifth day of the run): a cow whose trend strays so little that twice it is under the floor of real
 *   cows' day-to-day spread (health.trend.daySpread) is held to her own lines, not the floor's.
 *
 * Hours and days within a day of one of her episodes in the simulator's ground truth are left out of the
 * first two (ordinary days only; bench/noise.ts). The IceTag cows' days count where at least 80 % of their
 * minutes are there.
 *
 *   npm run build && node dist/bench/realism.js [seed=31] [cows=120] [days=40] [--real-noise]
 *
 * With --real-noise, the simulator's cows are drawn as noisy as real ones (collar-sim's `realNoise`), and
 * both lines are printed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { simulateVariedHerd } from '../collar-sim/index.js';
import { DAY_MS, DEFAULT_RULES, FarmDetector, HOUR_MS, type Reading } from '../rules/index.js';
import { ICETAG_DIR, ICETAG_FILES, loadIceTag } from './icetag.js';
import { dayCv, herdNoise, hourRatios, quantile as q } from './noise.js';

const seed = Number(process.argv[2] ?? 31);
const cows = Number(process.argv[3] ?? 120);
const days = Number(process.argv[4] ?? 40);
const realNoise = process.argv.includes('--real-noise');

function line(name: string, ratios: number[], cvs: number[]): void {
  const share = (x: number) => `${((100 * ratios.filter((r) => r >= x).length) / ratios.length).toFixed(1)} %`;
  console.log(
    `${name.padEnd(34)} hours ${String(ratios.length).padStart(6)}: ratio p10 ${q(ratios, 0.1).toFixed(2)}, p50 ${q(ratios, 0.5).toFixed(2)}, p90 ${q(ratios, 0.9).toFixed(2)}; ` +
      `at 1.5x or more ${share(1.5)}, at 2x or more ${share(2)}   days: cows ${cvs.length}, CV median ${cvs.length ? q(cvs, 0.5).toFixed(3) : '-'}`,
  );
}

/** Her health trend's spread (Normals.trendSpread) for every cow, at the start of every fifth day, into `out`. */
function trendSpreads(readings: Iterable<Reading>, out: { act: number[]; rum: number[] }): void {
  const det = new FarmDetector('realism', DEFAULT_RULES);
  const { fastHalfLifeHours, warmupDays } = DEFAULT_RULES.health;
  let day = -Infinity;
  for (const r of readings) {
    const d = Math.floor(r.ts / DAY_MS);
    if (d > day && d % 5 === 0) {
      for (const cow of det.cows.values()) {
        for (const m of ['act', 'rum'] as const) {
          const v = cow.normal.trendSpread(m, (d * DAY_MS) / HOUR_MS, fastHalfLifeHours, warmupDays);
          if (v === v) out[m].push(v);
        }
      }
    }
    day = Math.max(day, d);
    det.observe(r, r.collarId, r.ts);
  }
}

function spreadLine(name: string, out: { act: number[]; rum: number[] }): void {
  const { activity, rumination } = DEFAULT_RULES.health.trend.daySpread;
  const k = DEFAULT_RULES.health.trend.steadyTrendSpreads;
  const one = (xs: number[], floor: number) =>
    xs.length ? `p5 ${q(xs, 0.05).toFixed(3)}, p50 ${q(xs, 0.5).toFixed(3)}, p90 ${q(xs, 0.9).toFixed(3)}, held to her own ${((100 * xs.filter((x) => k * x < floor).length) / xs.length).toFixed(0)} %` : '-';
  console.log(`${name.padEnd(34)} health trend's spread, activity: ${one(out.act, activity)}; rumination: ${one(out.rum, rumination)}`);
}

console.log('An hour against the same hour of her past 7 days, and her day against her days (ordinary hours and days only)');
const lines: [string, { act: number[]; rum: number[] }][] = [];
for (const real of realNoise ? [false, true] : [false]) {
  const sim = simulateVariedHerd({ farmId: 'realism', cows, startMs: Date.UTC(2026, 0, 5), days, seed, realNoise: real });
  const { ratios, cvs } = herdNoise(sim.readings(), sim.cows, sim.truth);
  const name = `simulator${real ? ', real noise' : ''} (seed ${seed}, <= 15 min)`;
  line(name, ratios, cvs);
  const spreads = { act: [], rum: [] };
  trendSpreads(sim.readings(), spreads);
  lines.push([name, spreads]);
}
if (existsSync(ICETAG_DIR)) {
  const ratios: number[] = [];
  const cvs: number[] = [];
  const spreads = { act: [], rum: [] };
  for (const f of ICETAG_FILES) {
    const readings = loadIceTag(join(ICETAG_DIR, f), f);
    hourRatios(readings, () => true, ratios);
    const cv = dayCv(readings, () => true);
    if (cv !== null) cvs.push(cv);
    trendSpreads(readings, spreads);
  }
  line('IceTag (real leg tags, 1-min)', ratios, cvs);
  lines.push(['IceTag (real leg tags, 1-min)', spreads]);
} else {
  console.log(`(no IceTag data at ${ICETAG_DIR}: the real cows' line is left out)`);
}
console.log("\nHow far her health trend strays over her past two weeks, read every fifth day ('held to her own': twice it under the floor)");
for (const [name, spreads] of lines) spreadLine(name, spreads);
