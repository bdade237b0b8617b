import { z } from 'zod';
import defaults from './default-rules.json' with { type: 'json' };

const ratio = z.number().positive();
const hours = z.number().positive().max(24 * 60);

/**
 * Detection thresholds are data, not code: the defaults ship as `default-rules.json`, and a farm's config
 * may override any value. Units: activity and rumination are compared as rates per hour, so collars that
 * report every minute and collars that report every 15 minutes share one rule set.
 */
export const RuleSetSchema = z
  .strictObject({
    baseline: z.strictObject({
      /** Previous days a window is compared with; the median of these is the cow's normal. */
      days: z.int().min(3).max(60),
      /** A cow needs this many comparable days before deviations are judged. */
      warmupDays: z.int().min(1).max(30),
      /** A past day counts only if readings cover this share of its window. */
      minDayCoverage: z.number().min(0.05).max(1),
      /** Floors on the spread so a very steady cow is not alarmed by a small wobble. */
      minSpreadRatio: z.number().min(0).max(2),
      minSpreadAbs: z.number().min(0),
    }),
    heat: z.strictObject({
      windowHours: z.int().min(1).max(24),
      minRatio: ratio,
      minZ: z.number(),
      resolveRatio: ratio,
      /** Each hour counts at most this many times her normal for that clock hour (one wild hour cannot make a heat). */
      hourCapRatio: z.number().min(1),
      /** At least `minHotHours` of the window's hours must each be at `hotRatio` times their normal or more. */
      hotRatio: ratio,
      minHotHours: z.int().min(0),
      /**
       * In an hour when 15 % or more of the herd were hot together (a herd-wide event: up to ~1.8× for a
       * pasture move or late feed), an hour counts as hot for her only at this many times her normal.
       */
      busyHourHotRatio: ratio,
      /** Her normal for any hour is taken as at least this share of her mean rate over the whole day. */
      floorShare: z.number().min(0).max(1),
      minCoverage: z.number().min(0).max(1),
      cooldownHours: hours,
      /**
       * A cow whose windows differ from day to day by at most `maxSpread` of her normal for them, and whose hours
       * by at most `maxHourSpread` (Normals.hourSpread; not known yet, in her first five days: not steady), is told from a
       * window of `windowHours` too, `minHotHours` of them hot (0 hours: not); the early word (not the 4-hour
       * word of 2-hourly collars) is hers alone, whatever `windowHours`.
       */
      steady: z.strictObject({ maxSpread: z.number().min(0).max(5), maxHourSpread: z.number().min(0).max(10), windowHours: z.int().min(0).max(24), minHotHours: z.int().min(0) }),
      /**
       * The early word: the last `hours` completed hours each at `hotRatio` times her normal or more, together
       * `minRatio` times and `minZ` spreads above it. 0 hours: only the full window speaks.
       */
      early: z.strictObject({
        hours: z.int().min(0).max(12),
        hotRatio: ratio,
        minRatio: ratio,
        minZ: z.number(),
        /**
         * Where the collar tells rumination: after `hours` already, each at `hotRatio`, together `minRatio`,
         * with rumination at most `maxRuminationRatio` of its normal. 0 hours: off.
         */
        withRumination: z.strictObject({ hours: z.int().min(0).max(12), hotRatio: ratio, minRatio: ratio, maxRuminationRatio: ratio }),
        /** Only for collars reporting at least this often. */
        maxIntervalMinutes: z.number().min(0).max(240),
        /** Its hours must hold at least this many of her readings: one long reading is one draw of noise. */
        minReadings: z.number().min(0).max(100),
        /**
         * For collars reporting less often than `maxIntervalMinutes` (every 2 hours, as SCR-like exports do):
         * the last `hours` each at `hotRatio`, together `minRatio`, from at least `minReadings` readings. 0 hours: off.
         */
        sparse: z.strictObject({ hours: z.int().min(0).max(12), hotRatio: ratio, minRatio: ratio, maxIntervalMinutes: z.number().min(0).max(240), minReadings: z.number().min(0).max(100) }),
      }),
      /**
       * When three hours in four of the day before a window were at this many times her normal or more, her
       * normal is out of date (back from lameness, a livelier group): the window must be `minRatio` times
       * that level too. 0: off.
       */
      stepUpRatio: z.number().refine((v) => v === 0 || v >= 1, 'stepUpRatio is 0 (off) or at least 1'),
      /** No heat this many days after her last one (a cycle runs 18-24): a missed cycle. 0: not told. */
      missedCycle: z.strictObject({ afterDays: z.number().min(0).max(60) }),
    }),
    health: z.strictObject({
      windowHours: z.int().min(1).max(48),
      /**
       * Comparable past days her 24-hour windows need before she is judged unwell: more than a heat needs
       * (baseline.warmupDays), as a drop of a fifth is told from her day-to-day wobble only against a steadier
       * normal than a surge of 2-4x is.
       */
      warmupDays: z.int().min(1).max(30),
      activityMaxRatio: ratio,
      /**
       * Her activity's 24-hour line where her collar tells rumination and lying and she chews as usual (at
       * least `resolveRatio` of her normal): a cow whose days wander as real cows' do has a day at half her
       * walking now and then, lying through it and chewing as ever; a lame one lies longer for days, and her
       * last three days call her (`sustained`), which without lying want her at `sustained.aloneMaxRatio`.
       */
      activityAloneMaxRatio: ratio,
      ruminationMaxRatio: ratio,
      /**
       * Both activity and rumination at most this share of normal, the mean of their two z at most `bothMaxZ`
       * and each z at most `bothEachMaxZ`: a milder, shared drop. In the `trend.afterRiseHours` after a heat
       * alert, and while she is due to calve, each z at most `bothMaxZ` (health.ts).
       */
      bothMaxRatio: ratio,
      bothMaxZ: z.number(),
      bothEachMaxZ: z.number(),
      maxZ: z.number(),
      resolveRatio: ratio,
      urgentRatio: ratio,
      minCoverage: z.number().min(0).max(1),
      cooldownHours: hours,
      /** Half-lives of the weighted evidence (trend.ts): a fast one that sees an illness set in, a slow one for a mild, sustained drop. */
      fastHalfLifeHours: z.number().min(1).max(48),
      slowHalfLifeHours: z.number().min(1).max(96),
      /** Half-life of the quick horizon, whose lines are the both-signals path's: two witnesses afford its noise. */
      quickHalfLifeHours: z.number().min(1).max(48),
      /**
       * Drops of her trend (1 − ratio) that fire, each at least `spreads` times her own spread (her days', or
       * her trend's where that is more; `daySpread`, `steadyTrendSpreads`):
       * both signals together (fast horizon); rumination or activity alone (fast, one spread more), held on
       * the slow horizon by `slowDrop`. A shared herd drop is divided out, down to `herdFloor`.
       */
      trend: z.strictObject({
        bothRuminationDrop: z.number().min(0).max(1),
        bothActivityDrop: z.number().min(0).max(1),
        ruminationDrop: z.number().min(0).max(1),
        activityDrop: z.number().min(0).max(1),
        slowDrop: z.number().min(0).max(1),
        activitySlowDrop: z.number().min(0).max(1),
        /** Completed hours in a row both signals must be down before the two-signal path fires (fast trend). */
        bothHours: z.int().min(1).max(48),
        /** The same on her quick trend (`quickHalfLifeHours`), which a few quiet hours move further. */
        quickBothHours: z.int().min(1).max(48),
        /** Urgent when her last `urgentHours` are down to the 24-hour rules' single-signal lines on both signals. */
        urgentHours: z.int().min(1).max(24),
        spreads: z.number().min(0),
        /**
         * The least day-to-day spread (share of her normal) her lines are widened with, however steady her past
         * days read, unless her trend shows her steady (`steadyTrendSpreads`): real cows' days differ by 10-20 %
         * on activity (IceTag leg tags: 18 %) and 5-10 % on rumination. At the defaults (10 %, 7 %) it sets every
         * line for a cow held to it, the drops above being smaller than two or three such spreads. Over 0.3, at
         * 2-3 spreads, no line is left (and none for a cow whose trend strays so far: her trend's spread has no
         * cap).
         */
        daySpread: z.strictObject({ activity: z.number().min(0).max(0.3), rumination: z.number().min(0).max(0.3) }),
        /**
         * Her spread is how far her trend strays (Normals.trendSpread, over her past two weeks' hours), not less
         * than her days' own; and not less than `daySpread` either, unless this many of it are under that (a
         * steady cow: at 2, whose trend strays at most half as far as the floor; real-like cows read 0.05-0.16
         * on activity). 0: her trend is not read, and the floor holds for every cow.
         */
        steadyTrendSpreads: z.number().min(0).max(10),
        resolveDrop: z.number().min(0).max(1),
        herdFloor: z.number().min(0.1).max(1),
        /**
         * The both-signals path on her quick trend is read while the herd's typical cow, over the hours that
         * trend remembers, stands at this share of her normal or more on both signals; in a herd-wide dip, only
         * the fast trend is.
         */
        quickHerdAbove: z.number().min(0).max(1),
        /** Her fast activity trend at this ratio or more is a rise (a heat, a calving coming)... */
        riseRatio: z.number().min(1),
        /** ...after which a dip is its aftermath, not an illness, for this long. */
        afterRiseHours: hours,
        /**
         * Days after her calving day (in the herd register) in which, as on that day, a dip is the calving's:
         * cows ruminate and move less for one to three days after calving. The deep 24-hour lines still apply.
         */
        afterCalvingDays: z.number().min(0).max(14),
        /**
         * Where her collar tells lying: when her last 24 hours' lying is at least 1 + `lyingRise` of her
         * normal day (and of the herd's), her activity alone fires at the milder `lyingActivityDrop` (fast)
         * and `lyingActivitySlowDrop` (slow).
         */
        lyingRise: z.number().min(0),
        lyingActivityDrop: z.number().min(0).max(1),
        lyingActivitySlowDrop: z.number().min(0).max(1),
      }),
      /**
       * Days down: her last `hours` (three days) against the same hours of her previous days, a drop the herd
       * shares divided out as on her trend, and her last 24 hours down as far: a lame cow walks a third to
       * half less for days on end (and lies longer), where a cow whose ordinary hours wander has her trend's
       * lines drawn too far down to see it. Activity fires at `activityMaxRatio` with her last day's lying up
       * by `lyingRise` (a second witness), or at `aloneMaxRatio` where the collar does not tell lying;
       * rumination at `ruminationMaxRatio`. Each also `spreads` times the spread of such stretches on her
       * past days (at least `minSpread`). Not held after a rise: a heat's aftermath lasts a day or two.
       */
      sustained: z.strictObject({
        /** At most 72: the herd keeps its last 72 hours, and a cow's history (385 hours) fourteen past stretches of 72, the oldest in part. */
        hours: z.int().min(24).max(72),
        activityMaxRatio: ratio,
        lyingRise: z.number().min(0),
        aloneMaxRatio: ratio,
        ruminationMaxRatio: ratio,
        spreads: z.number().min(0),
        minSpread: z.number().min(0).max(0.5),
      }),
    }),
    /**
     * A cow down (unable or unwilling to get up): for `hours` completed hours that she is normally active in
     * (her normal for the hour at least `activeShare` of her daily mean), activity at most `maxActivityRatio`
     * of her normal — and, where the collar reports rumination, rumination at most `maxRuminationRatio` of
     * its normal too (a cow lying down to ruminate is resting, not down).
     */
    downCow: z.strictObject({
      /** Hours of readings she must have been down, judged reading by reading. */
      hours: z.number().min(0.5).max(12),
      /** Without rumination to tell resting from down, only a longer stillness counts (cows rest 1–3 h at a time). */
      hoursWithoutRumination: z.number().min(0.5).max(24),
      /** A gap in her readings longer than this ends a spell: her state in it is unknown. */
      maxGapMinutes: z.number().min(0).max(240),
      maxActivityRatio: z.number().min(0).max(1),
      maxRuminationRatio: z.number().min(0).max(1),
      /** In hours she normally rests, or: activity at most `stillActivityRatio` (not moving at all) with rumination up to `maxRuminationRatio`. */
      stillActivityRatio: z.number().min(0).max(1),
      /** Half an hour of chewing over this share of her usual starts her count again (she lay down to chew). */
      stillRuminationRatio: z.number().min(0).max(1),
      activeShare: z.number().min(0).max(2),
      /** In hours she normally rests: rumination at most this share of normal, movement at most `restActivityRatio`. */
      restRuminationRatio: z.number().min(0).max(1),
      restActivityRatio: z.number().min(0).max(1),
      minCoverage: z.number().min(0).max(1),
      resolveRatio: ratio,
      cooldownHours: hours,
    }),
    /**
     * A collar gone wrong rather than a cow: a signal (or several) repeating one value for `stuckHours`,
     * more often than a live count repeats by chance (collar-fault.ts), or activity (and rumination, where
     * reported) exactly zero for `flatHours` — a live cow's collar never reads the same count for hours, and
     * even a sleeping cow moves her head.
     */
    collarFault: z.strictObject({
      stuckHours: hours,
      flatHours: hours,
      cooldownHours: hours,
      /** A reading's activity rate above this many times her mean hourly rate is impossible: kept out of detection. */
      impossibleRatio: z.number().min(5),
      /** This many impossible readings in a row: the collar is faulty. */
      impossibleInRow: z.int().min(1).max(100),
    }),
    /**
     * Readings measured up to `minutes` apart may arrive in any order (a network server retrying, two
     * gateways hearing one collar): each is held that long and judged in the order measured, so the alerts
     * do not depend on the order. Detection waits that much longer; 0 judges each reading as it comes.
     */
    reorder: z.strictObject({ minutes: z.number().min(0).max(120) }),
    collarOffline: z.strictObject({ afterHours: hours, cooldownHours: hours }),
    batteryLow: z.strictObject({
      belowPct: z.number().min(0).max(100),
      resolveAbovePct: z.number().min(0).max(100),
      cooldownHours: hours,
    }),
  })
  .superRefine((r, ctx) => {
    const bad = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (r.baseline.warmupDays > r.baseline.days) bad(['baseline', 'warmupDays'], 'must not exceed baseline.days');
    if (r.health.warmupDays > r.baseline.days) bad(['health', 'warmupDays'], 'must not exceed baseline.days');
    if (r.heat.resolveRatio >= r.heat.minRatio) bad(['heat', 'resolveRatio'], 'must be below heat.minRatio (hysteresis)');
    if (r.heat.minHotHours > r.heat.windowHours) bad(['heat', 'minHotHours'], 'must not exceed heat.windowHours');
    if (r.heat.steady.windowHours > 0 && r.heat.steady.minHotHours > r.heat.steady.windowHours) bad(['heat', 'steady', 'minHotHours'], 'must not exceed heat.steady.windowHours');
    const s = r.health.sustained;
    if (r.health.resolveRatio <= Math.max(r.health.activityMaxRatio, r.health.activityAloneMaxRatio, r.health.ruminationMaxRatio, r.health.bothMaxRatio, s.activityMaxRatio, s.aloneMaxRatio, s.ruminationMaxRatio))
      bad(['health', 'resolveRatio'], 'must be above the firing ratios (hysteresis)');
    const t = r.health.trend;
    if (t.resolveDrop >= Math.min(t.bothRuminationDrop, t.bothActivityDrop, t.ruminationDrop, t.activityDrop, t.slowDrop, t.activitySlowDrop))
      bad(['health', 'trend', 'resolveDrop'], 'must be below every trend drop (hysteresis)');
    if (r.downCow.resolveRatio <= Math.max(r.downCow.maxActivityRatio, r.downCow.restActivityRatio))
      bad(['downCow', 'resolveRatio'], 'must be above downCow.maxActivityRatio and downCow.restActivityRatio (hysteresis)');
    if (r.batteryLow.resolveAbovePct < r.batteryLow.belowPct)
      bad(['batteryLow', 'resolveAbovePct'], 'must be at least batteryLow.belowPct');
  });

export type RuleSet = z.infer<typeof RuleSetSchema>;

/** Deep-partial overrides as a farm's config states them; validated only after merging onto the defaults. */
type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type RuleOverrides = DeepPartial<RuleSet>;

const isPlain = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);

/** Overrides laid over the defaults at any depth: a farm names only what it changes (`heat.early.hours`). */
function mergeDeep(base: unknown, over: unknown): unknown {
  if (!isPlain(base) || !isPlain(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeDeep(base[k], v);
  return out;
}

export const DEFAULT_RULES: RuleSet = Object.freeze(RuleSetSchema.parse(defaults));

export class RuleSetError extends Error {
  readonly code = 'COWBELL_RULES_INVALID';
  /** `issues` as strings; `details`, zod's own, for whoever words them for a person (agent/config.ts). */
  constructor(
    readonly issues: string[],
    readonly details: readonly z.core.$ZodIssue[] = [],
  ) {
    super(`invalid rule set: ${issues.join('; ')}`);
    this.name = 'RuleSetError';
  }
}

export function resolveRules(overrides: unknown = {}): RuleSet {
  const merged = mergeDeep(structuredClone(DEFAULT_RULES), overrides ?? {});
  const parsed = RuleSetSchema.safeParse(merged);
  if (!parsed.success) {
    throw new RuleSetError(parsed.error.issues.map((i) => `rules.${i.path.join('.')}: ${i.message}`), parsed.error.issues);
  }
  return parsed.data;
}
