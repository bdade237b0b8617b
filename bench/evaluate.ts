/**
 * Detection quality figures for the rules core: false alarms on real cows (IceTag), recall / delay / false
 * alarms against ground truth on simulated herds, and replay throughput. Prints figures; asserts nothing.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/evaluate.js [overrides-json] [options]
 *
 *   overrides-json   rule overrides as a farm config states them, e.g. '{"heat":{"windowHours":8}}'
 *   --seeds 1,2,3    simulator seeds (default 1,2,3,4,5)
 *   --cows 60        simulated herd size (default 60)
 *   --days 35        simulated days (default 35)
 *   --no-icetag      skip the IceTag replay; --no-sim skips the simulator
 *   --no-rumination  drop rumination from simulated readings (as collars without it, e.g. IceTag, report)
 *   --list           list every heat/health alert raised on the IceTag cows
 *
 * Several overrides-json arguments make a sweep: each is evaluated in turn.
 */
import { MONTH_DAYS, scoreIceTag } from '../agent/eval.js';
import { simulateHerd, type GroundTruthEpisode } from '../collar-sim/index.js';
import { FarmDetector, resolveRules, type AlertEvent, type AlertType, type Reading, type RuleSet } from '../rules/index.js';
import { ICETAG_DIR } from './icetag.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** An episode counts as detected by an alert raised in [start, end + TOLERANCE]; alerts within ±TOLERANCE of any episode are not false. */
const TOLERANCE = 12 * HOUR;
const SIM_START = Date.UTC(2026, 0, 5);
const TRUTH_TO_ALERT: Record<GroundTruthEpisode['type'], AlertType> = {
  heat: 'heat',
  illness: 'health',
  collar_offline: 'collar_offline',
  battery_low: 'battery_low',
};
const JUDGED: AlertType[] = ['heat', 'health', 'down_cow', 'collar_fault'];

interface Options {
  overrides: string[];
  seeds: number[];
  cows: number;
  days: number;
  icetag: boolean;
  sim: boolean;
  list: boolean;
  rumination: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { overrides: [], seeds: [1, 2, 3, 4, 5], cows: 60, days: 35, icetag: true, sim: true, list: false, rumination: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--seeds') o.seeds = value().split(',').map(Number);
    else if (a === '--cows') o.cows = Number(value());
    else if (a === '--days') o.days = Number(value());
    else if (a === '--no-icetag') o.icetag = false;
    else if (a === '--no-sim') o.sim = false;
    else if (a === '--list') o.list = true;
    else if (a === '--no-rumination') o.rumination = false;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else o.overrides.push(a);
  }
  if (o.overrides.length === 0) o.overrides.push('{}');
  return o;
}

/** Replays readings (in order, arriving as they are stamped) through one farm detector; returns the firing events. */
function replay(farmId: string, rules: RuleSet, readings: Iterable<Reading>): { fired: AlertEvent[]; n: number; ms: number } {
  const det = new FarmDetector(farmId, rules);
  const fired: AlertEvent[] = [];
  let n = 0;
  const t0 = performance.now();
  for (const r of readings) {
    n++;
    for (const e of det.observe(r, r.collarId, r.ts).events) if (e.state === 'firing') fired.push(e);
  }
  return { fired, n, ms: performance.now() - t0 };
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '-');
const hours = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / HOUR).toFixed(1)} h`);
const fix = (x: number, d = 2) => x.toFixed(d);
function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function evaluateIceTag(rules: RuleSet, list: boolean) {
  const listed = new Map<string, AlertEvent[]>();
  const s = scoreIceTag(rules, ICETAG_DIR, (cow, e) => {
    if (list && JUDGED.includes(e.type)) (listed.get(cow) ?? listed.set(cow, []).get(cow)!).push(e);
  });
  if (!s) {
    console.log(`IceTag: ${ICETAG_DIR} not found, skipped`);
    return;
  }
  console.log('IceTag (real cows, presumed normal; alerts raised, total and per cow-month)');
  const line = (c: { alerts: Record<string, number>; perCowMonth: Record<string, number> }) => {
    const per = (t: AlertType) => `${t} ${c.alerts[t] ?? 0} (${fix(c.perCowMonth[t] ?? 0)}/cow-month)`;
    const other = Object.entries(c.alerts).filter(([t]) => !JUDGED.includes(t as AlertType)).map(([t, v]) => `${t} ${v}`);
    return `${JUDGED.map(per).join(', ')}${other.length ? ', ' + other.join(', ') : ''}`;
  };
  for (const c of s.cows) {
    console.log(`  ${c.source.padEnd(6)} ${fix(c.cowDays, 1)} days: ${line(c)}`);
    for (const e of listed.get(c.source) ?? []) {
      const ev = e.evidence as { ratio?: number; deviation?: number; window?: { hours?: number } };
      console.log(`      ${e.type} ${e.severity} at ${new Date(e.at).toISOString().slice(0, 16)} since ${new Date(e.since).toISOString().slice(11, 16)} ratio ${ev.ratio} z ${ev.deviation}`);
    }
  }
  console.log(`  all    ${fix(s.all.cowMonths, 2)} cow-months: ${line(s.all)}`);
}

function evaluateSim(rules: RuleSet, o: Options) {
  const detected: Record<string, { n: number; hit: number; delays: number[] }> = {};
  const falseBy: Record<string, number> = Object.fromEntries(JUDGED.map((t) => [t, 0]));
  const falseOnNegatives: Record<string, number> = Object.fromEntries(JUDGED.map((t) => [t, 0]));
  let cowMonths = 0;
  let negMonths = 0;
  let readingsN = 0;
  let replayMs = 0;
  for (const seed of o.seeds) {
    const sim = simulateHerd({ farmId: `sim-${seed}`, cows: o.cows, startMs: SIM_START, days: o.days, seed, episodes: 'default' });
    const readings = [...sim.readings()].map((r) => (o.rumination ? r : { ...r, rumination: undefined }));
    const { fired, n, ms } = replay(sim.farmId, rules, readings);
    readingsN += n;
    replayMs += ms;
    cowMonths += (o.cows * o.days) / MONTH_DAYS;
    const withEpisodes = new Set(sim.truth.map((e) => e.cowId));
    negMonths += ((o.cows - withEpisodes.size) * o.days) / MONTH_DAYS;
    for (const ep of sim.truth) {
      const d = (detected[ep.type] ??= { n: 0, hit: 0, delays: [] });
      d.n++;
      const type = TRUTH_TO_ALERT[ep.type];
      const hit = fired.find((e) => e.cowId === ep.cowId && e.type === type && e.at >= ep.start && e.at <= ep.end + TOLERANCE);
      if (hit) {
        d.hit++;
        d.delays.push(hit.at - ep.start);
      }
    }
    for (const e of fired) {
      if (!JUDGED.includes(e.type)) continue;
      const mine = sim.truth.filter((ep) => ep.cowId === e.cowId);
      if (mine.some((ep) => e.at >= ep.start - TOLERANCE && e.at <= ep.end + TOLERANCE)) continue;
      falseBy[e.type]!++;
      if (mine.length === 0) falseOnNegatives[e.type]!++;
    }
  }
  console.log(`Simulated herds (${o.cows} cows × ${o.days} days, seeds ${o.seeds.join(',')}${o.rumination ? '' : ', rumination dropped'}; detected = matching alert in [start, end + 12 h])`);
  for (const [type, d] of Object.entries(detected)) {
    console.log(
      `  ${type.padEnd(14)} recall ${d.hit}/${d.n} = ${pct(d.hit / d.n).padStart(6)}   delay median ${hours(median(d.delays)).padStart(7)}, max ${hours(d.delays.length ? Math.max(...d.delays) : undefined).padStart(7)}`,
    );
  }
  for (const t of JUDGED) {
    console.log(
      `  false ${t.padEnd(8)} ${String(falseBy[t]).padStart(4)} = ${fix(falseBy[t]! / cowMonths, 3)}/cow-month` +
        `   (on cows without any episode: ${falseOnNegatives[t]} = ${fix(falseOnNegatives[t]! / negMonths, 3)}/cow-month)`,
    );
  }
  console.log(`  replay throughput ${Math.round(readingsN / (replayMs / 1000)).toLocaleString('en')} readings/s (${readingsN.toLocaleString('en')} readings in ${fix(replayMs / 1000)} s)`);
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  for (const arg of o.overrides) {
    const rules = resolveRules(JSON.parse(arg));
    console.log(`\n== rules overrides: ${arg}`);
    if (o.icetag) evaluateIceTag(rules, o.list);
    if (o.sim) evaluateSim(rules, o);
  }
}

main();
