import { readFileSync, statfsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAY_MS, dueToCalve, HOUR_MS, localDays, robustStats, type AlertType, type CowDetector, type RuleSet, type Severity } from '../../rules/index.js';
import type { ReadingPipeline } from '../pipeline.js';
import { SeriesQueries } from '../store/series.js';
import type { HerdRow } from '../herd/csv.js';
import type { AlertRow, Store } from '../store/store.js';

/** What the farm page says about a cow, worst first (the overview sorts by it). */
export const COW_STATES = ['down', 'sick', 'heat', 'watch', 'collar', 'nocollar', 'learning', 'normal'] as const;
export type CowState = (typeof COW_STATES)[number];
export const COW_STATE_LABEL: Record<CowState, string> = {
  down: 'down', sick: 'sick', heat: 'in heat', watch: 'watch', collar: 'collar problem', nocollar: 'no collar', learning: 'still learning', normal: 'normal',
};

export interface CowSummary {
  cowId: string;
  /** The collar she wears now; null for a cow of the herd register without one. */
  collarId: string | null;
  /** From the herd register; null for a collar it does not place on a cow (then `registered` is false). */
  name: string | null;
  group: string | null;
  registered: boolean;
  state: CowState;
  /** Event time of her newest reading (ISO), null when none is stored. */
  lastReadingAt: string | null;
  /** Days of history the detector holds for her; she is judged from `warmupDays`. */
  historyDays: number;
  /** The herd register has her due to calve at the farm's newest reading (no heat is told for her). */
  dueToCalve: boolean;
  openAlerts: { id: string; type: AlertType; severity: Severity; state: AlertRow['state']; since: string }[];
}

export interface HeatRecord {
  alertId: string;
  /** Onset (ISO). */
  since: string;
  daysSincePrevious: number | null;
}

export interface CowDetail {
  cow: CowSummary;
  /** Her alerts, newest first (open and past, as long as the store keeps them). */
  alerts: AlertRow[];
  heats: HeatRecord[];
  /** Onset of her last heat and the next one expected a cycle later (ISO); none while she is due to calve. */
  lastHeat: string | null;
  nextHeat: string | null;
  /**
   * What the herd register says of her calving and service ("YYYY-MM-DD"), whole days since her
   * insemination at the farm's newest reading, and whether the rules hold her due to calve then (no heat is
   * told for her, and a drop may be her calving).
   */
  register: { calved: string | null; inseminated: string | null; daysSinceInsemination: number | null; dueToCalve: boolean };
  warmupDays: number;
  /** Days before she can be called unwell (more than a heat needs). */
  healthWarmupDays: number;
}

export interface SeriesBand {
  /** Her normal for each hour (median of the same clock hour on her previous days) ± its spread; null while unknown. */
  mid: (number | null)[];
  lo: (number | null)[];
  hi: (number | null)[];
}

export interface CowSeries {
  cowId: string;
  days: number;
  timezone: string;
  from: string;
  to: string;
  /** Start of each hour, epoch seconds (what uPlot takes). */
  t: number[];
  /** Activity per hour (the collar's counts) and rumination in minutes per hour; null where nothing came. */
  activity: (number | null)[];
  rumination: (number | null)[];
  band: { activity: SeriesBand; rumination: SeriesBand };
  alerts: { id: string; type: AlertType; severity: Severity; state: AlertRow['state']; since: number; raisedAt: number }[];
}

export interface GatewayInfo {
  version: string;
  uptimeS: number;
  /** Readings that arrived in the last five minutes, per minute. */
  readingsPerMinute: number;
  dbBytes: number;
  disk: { freeBytes: number; totalBytes: number } | null;
  /** Readings judged too late (stored, not judged) since start; the agent does not yet keep which cows. */
  lateUnjudged: number;
  /** Collars whose sequence numbers skipped readings (lost before they reached the agent), worst first (at most 20). */
  seqGaps: { collarId: string; missing: number }[];
  /** The cows those were for, most recent first (at most 20). */
  lateCows: { cowId: string; readings: number; lastAt: string }[];
  /** Collars whose readings came stamped far in the future, with the cow wearing each. */
  stampedAhead: { collarId: string; cowId: string | null; ts: string; receivedAt: string }[];
}

/** A cow comes into heat about every 21 days: the next one is expected that long after the last onset. */
export const CYCLE_DAYS = 21;
const MAX_COW_ALERTS = 200;

export interface FarmDeps {
  store: Store;
  pipeline: ReadingPipeline;
  config: { store: { path: string }; farm: { timezone: string }; rules: RuleSet };
  clock: () => number;
  startedAt: () => number;
}

/** What the farm page needs beyond AgentStatus, for the HttpServer's StatusSource. */
export function farmViews(d: FarmDeps) {
  const q = new SeriesQueries(d.store.db);
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const rules = d.config.rules;
  const dayShift = localDays(d.config.farm.timezone);

  /** Every cow's summary with her herd register row, or only one cow's (`only`: her page needs nobody else's). */
  const summaries = (only?: string): { summary: CowSummary; row: HerdRow | undefined; her: CowDetector | undefined }[] => {
    const byCow = new Map<string, { collarId: string | null; lastSeen: number; lastTs: number | null }>();
    for (const c of q.collars(only)) {
      const had = byCow.get(c.cowId);
      const lastTs = Math.max(had?.lastTs ?? -Infinity, c.lastTs ?? -Infinity);
      const newer = !had || c.lastSeen >= had.lastSeen;
      byCow.set(c.cowId, {
        collarId: newer ? c.collarId : had.collarId, lastSeen: Math.max(had?.lastSeen ?? 0, c.lastSeen), lastTs: lastTs === -Infinity ? null : lastTs,
      });
    }
    const open = new Map<string, AlertRow[]>();
    for (const a of d.store.openAlerts()) {
      if (only !== undefined && a.cowId !== only) continue;
      open.set(a.cowId, [...(open.get(a.cowId) ?? []), a]);
      // An alert may name a cow the herd table does not (yet) hold: she is listed all the same.
      if (!byCow.has(a.cowId)) byCow.set(a.cowId, { collarId: a.collarId, lastSeen: 0, lastTs: null });
    }
    // The herd register's cows, whether or not a collar of theirs has been heard.
    const register = new Map(d.store.herd.list().filter((r) => only === undefined || r.cow === only).map((r) => [r.cow, r]));
    for (const [cowId, r] of register) if (!byCow.has(cowId)) byCow.set(cowId, { collarId: r.collar ?? null, lastSeen: 0, lastTs: null });
    // Due to calve as the rules hold it at the farm's newest reading (event time, as they judge).
    const now = d.pipeline.detector.farm.watermark;
    return [...byCow].map(([cowId, c]) => {
      const alerts = open.get(cowId) ?? [];
      const her = d.pipeline.detector.cows.get(cowId);
      const historyDays = her?.historyDays() ?? 0;
      const r = register.get(cowId);
      const summary: CowSummary = {
        cowId, collarId: c.collarId, name: r?.name ?? null, group: r?.group ?? null, registered: r !== undefined,
        state: c.collarId === null && !alerts.length ? 'nocollar' : stateOf(alerts, historyDays < rules.baseline.warmupDays),
        lastReadingAt: iso(c.lastTs), historyDays, dueToCalve: her !== undefined && now !== null && dueToCalve(her, Math.floor(now / HOUR_MS)),
        openAlerts: alerts.map((a) => ({ id: a.id, type: a.type, severity: a.severity, state: a.state, since: iso(a.since)! })),
      };
      return { summary, row: r, her };
    });
  };

  const cows = (only?: string): CowSummary[] => summaries(only).map((s) => s.summary);

  const cowAlerts = (cowId: string) => q.alertIds(cowId, MAX_COW_ALERTS).map((id) => d.store.alert(id)).filter((a): a is AlertRow => !!a);

  const cow = (cowId: string): CowDetail | null => {
    const [found] = summaries(cowId);
    if (!found) return null;
    const { summary, row, her } = found;
    const alerts = cowAlerts(cowId);
    const onsets = alerts.filter((a) => a.type === 'heat').map((a) => ({ id: a.id, since: a.since })).sort((a, b) => a.since - b.since);
    const heats = onsets.map((h, i) => ({
      alertId: h.id, since: iso(h.since)!, daysSincePrevious: i ? Math.round(((h.since - onsets[i - 1]!.since) / DAY_MS) * 10) / 10 : null,
    }));
    // The detector remembers her last onset after the store has pruned its alert (retention).
    const remembered = her?.state.lastHeat ?? null;
    const last = Math.max(onsets.at(-1)?.since ?? -Infinity, remembered ?? -Infinity);
    const lastHeat = last === -Infinity ? null : last;
    const now = d.pipeline.detector.farm.watermark;
    const served = her?.state.record?.inseminatedAt;
    const due = summary.dueToCalve;
    return {
      cow: summary, alerts, heats: heats.reverse(), lastHeat: iso(lastHeat), nextHeat: iso(lastHeat === null || due ? null : lastHeat + CYCLE_DAYS * DAY_MS),
      register: {
        calved: row?.calved ?? null, inseminated: row?.inseminated ?? null,
        daysSinceInsemination: served !== undefined && now !== null && now >= served ? Math.floor((now - served) / DAY_MS) : null,
        dueToCalve: due,
      },
      warmupDays: rules.baseline.warmupDays,
      healthWarmupDays: rules.health.warmupDays,
    };
  };

  const series = (cowId: string, days: number): CowSeries | null => {
    const collars = q.collars(cowId);
    if (!collars.length) return null;
    const newest = Math.max(...collars.map((c) => c.lastTs ?? -Infinity));
    // The window ends at her newest reading, not the clock: a collar back from days out of reach, or a
    // replayed history, still shows its readings.
    const end = Math.floor(((newest === -Infinity ? d.clock() : newest) - 1) / HOUR_MS) + 1;
    const start = end - days * 24;
    // Her band for the first hours needs `baseline.days` days before them, and a day more for daylight saving.
    const rows = q.hours(cowId, (start - (rules.baseline.days + 1) * 24) * HOUR_MS, end * HOUR_MS);
    const byHour = new Map(rows.map((r) => [r.hour, r]));
    const rate = (hour: number, metric: 'act' | 'rum', minS: number): number | null => {
      const r = byHour.get(hour);
      if (!r) return null;
      const [v, s] = metric === 'act' ? [r.act, r.actS] : [r.rum, r.rumS];
      return s > 0 && s >= minS ? (v * 3600) / s : null;
    };
    const t: number[] = [];
    const activity: (number | null)[] = [];
    const rumination: (number | null)[] = [];
    const band = { activity: emptyBand(), rumination: emptyBand() };
    // The detector's Normals answers only for hours its ring still holds (about two weeks back) and only
    // hour by hour; a 30-day chart needs every past hour. So the band is computed here from the same
    // statistics (robustStats over the same clock hour of her previous `baseline.days` farm days, each day
    // counted only when covered to `minDayCoverage`) on the hourly sums read from the readings table.
    const need = Math.min(3600, rules.baseline.minDayCoverage * 3600);
    const past = new Float64Array(rules.baseline.days);
    for (let h = start; h < end; h++) {
      t.push(h * 3600);
      activity.push(round(rate(h, 'act', 1)));
      rumination.push(round(rate(h, 'rum', 1)));
      for (const [metric, b] of [['act', band.activity], ['rum', band.rumination]] as const) {
        let n = 0;
        for (let k = 1; k <= rules.baseline.days; k++) {
          const v = rate(h - Math.round(dayShift(h * HOUR_MS, k) / HOUR_MS), metric, need);
          if (v !== null) past[n++] = v;
        }
        const s = robustStats(past, n, rules.baseline);
        b.mid.push(s ? round(s.median) : null);
        b.lo.push(s ? round(Math.max(0, s.median - s.spread)) : null);
        b.hi.push(s ? round(s.median + s.spread) : null);
      }
    }
    const alerts = cowAlerts(cowId)
      .filter((a) => a.since < end * HOUR_MS && a.at >= start * HOUR_MS)
      .map((a) => ({ id: a.id, type: a.type, severity: a.severity, state: a.state, since: Math.floor(a.since / 1000), raisedAt: Math.floor(a.raisedAt / 1000) }));
    return {
      cowId, days, timezone: d.config.farm.timezone, from: iso(start * HOUR_MS)!, to: iso(end * HOUR_MS)!, t, activity, rumination, band, alerts,
    };
  };

  const gateway = (): GatewayInfo => {
    const now = d.clock();
    const path = d.config.store.path;
    let dbBytes = 0;
    for (const suffix of ['', '-wal']) {
      try {
        dbBytes += statSync(path + suffix).size;
      } catch {
        // no WAL file yet
      }
    }
    let disk: GatewayInfo['disk'] = null;
    try {
      const fs = statfsSync(dirname(path));
      disk = { freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
    } catch {
      // a file system that cannot say (some container overlays)
    }
    const cowOf = new Map(q.collars().map((c) => [c.collarId, c.cowId]));
    return {
      version: VERSION,
      uptimeS: Math.max(0, Math.round((now - d.startedAt()) / 1000)),
      readingsPerMinute: Math.round((q.arrivedSince(now - 5 * 60_000).n / 5) * 10) / 10,
      dbBytes,
      disk,
      lateUnjudged: d.pipeline.counters.lateUnjudged,
      seqGaps: [...d.pipeline.seqGaps].filter(([, g]) => g.missing > 0).sort((a, b) => b[1].missing - a[1].missing).slice(0, 20).map(([collarId, g]) => ({ collarId, missing: g.missing })),
      lateCows: [...d.pipeline.lateCows].sort((a, b) => b[1].at - a[1].at).slice(0, 20).map(([cowId, l]) => ({ cowId, readings: l.n, lastAt: iso(l.at)! })),
      stampedAhead: [...d.pipeline.futureCollars].map(([collarId, f]) => ({ collarId, cowId: cowOf.get(collarId) ?? null, ts: iso(f.ts)!, receivedAt: iso(f.at)! })),
    };
  };

  return { cows, cow, series, gateway };
}

export function stateOf(open: readonly Pick<AlertRow, 'type' | 'severity'>[], learning: boolean): CowState {
  const has = (type: AlertType, severity?: Severity) => open.some((a) => a.type === type && (!severity || a.severity === severity));
  if (has('down_cow')) return 'down';
  if (has('health', 'urgent')) return 'sick';
  if (has('heat')) return 'heat';
  // A warning about her health, or a heat that did not come, is worth a look rather than a call to the vet.
  if (has('health') || has('missed_heat')) return 'watch';
  if (has('collar_offline') || has('collar_fault') || has('battery_low')) return 'collar';
  return learning ? 'learning' : 'normal';
}

const emptyBand = (): SeriesBand => ({ mid: [], lo: [], hi: [] });
const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);

/** The agent's version, from the package.json above this file (agent/http/ in a checkout, dist/agent/http/ when built). */
export const VERSION = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'cowbell') return pkg.version ?? 'unknown';
    } catch {
      // not here: one level up
    }
  }
  return 'unknown';
})();
