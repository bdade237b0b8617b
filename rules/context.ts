import type { AlertBookState, AlertEvent, Subject } from './alerts.js';
import type { CowHistory } from './history.js';
import type { Normals } from './normal.js';
import type { RuleSet } from './ruleset.js';

/**
 * What a rule sees of one cow: her history and normal, her alert book and the little state the rules keep
 * between readings. Every rule is a function of this context; none reads a clock.
 */
export interface CowState {
  subject: Subject;
  /** Her newest reading judged (event time) and the latest arrival of any of her readings (wall time). */
  lastTs: number | null;
  lastArrival: number | null;
  alerts: AlertBookState;
  /** Each signal's run of identical newest readings, to tell a stuck or flat collar (collar-fault.ts). */
  runs: SignalRuns | null;
  /** Onset of the last heat raised for her: how long her cycle is. */
  lastHeat: number | null;
  /** Whether a missed cycle was already said for the heat at `lastHeat`. */
  missedCycleTold?: boolean;
  /** Since when (wall clock) all her readings have come stamped past the gateway's clock (cow.ts). */
  aheadSince?: number;
  /** When her last few bursts over the spike line were measured (collar-fault.ts), within the last day. */
  spikes?: number[];
  /** Impossible readings in a row (collar-fault.ts), and the start of the first. */
  impossible?: { n: number; from: number };
  /** Weighted evidence of her recent hours against their normal (trend.ts). */
  trend?: number[];
  /** The spell of readings in which she has hardly moved (down-cow.ts). */
  down?: DownSpell;
  /**
   * Her open or last flat or stuck collar: from its onset to the first true reading to arrive (event time;
   * no `to` while it is open), and what each signal it holds read. A late reading of those values in that
   * span is the fault's, not hers.
   */
  fault?: FaultSignature;
  /** What the herd register says of her (FarmDetector.setRecords); absent when it says nothing. */
  record?: CowRecord;
  /**
   * A heat her window showed while the herd's last hours were not yet told by most of its cows: judged again
   * once they are (FarmDetector), as whether those hours were the herd's decides it, or half an hour of the
   * farm's time after the later of the window's end and `heldAt` (the farm's event time when it was held).
   */
  heatRecheck?: { end: number; intervalS: number; heldAt?: number };
  /**
   * Heat windows a backlog filled in (ending at hours `from`..`to`) while the herd had not yet told those
   * hours — a gateway down for the whole herd, its backlogs still coming: judged again once it has, or half
   * an hour of the farm's time after `heldAt` (the farm's event time when the newest window was held).
   */
  heatBackfill?: { from: number; to: number; intervalS: number; heldAt?: number };
}

/**
 * What the farm's own records (the herd register) tell the rules about a cow, each date as the start of
 * that day on the farm's clock (the register keeps days, not hours).
 */
export interface CowRecord {
  /** Her last calving: the dip in rumination and activity in the days after it is the calving, not an illness. */
  calvedAt?: number;
  /** Her last insemination: no heat 18-24 days after it is the news the farmer hopes for, not a missed cycle. */
  inseminatedAt?: number;
}

export interface DownSpell {
  /** Start of the spell (null until a still quarter-hour begins it) and the end of her newest reading. */
  from: number | null;
  last: number;
  /**
   * Seconds of the latest quarter-hours in a row in which she chewed at her usual rate or more (absent in
   * older snapshots).
   */
  chewingS: number;
  /** The quarter-hour being gathered (down-cow.ts judges a quarter-hour at a time). */
  chunkFrom: number;
  chunkS: number;
  chunkAct: number;
  chunkActNormal: number;
  chunkRum: number;
  chunkRumNormal: number;
  chunkNoRum: boolean;
  chunkRest: boolean;
  /**
   * What counts towards calling her down: since when, seconds, sums of activity and rumination and of their
   * normal, seconds in hours she normally rests, and whether rumination was told.
   */
  countFrom: number;
  countedS: number;
  act: number;
  actNormal: number;
  rum: number;
  rumNormal: number;
  restS: number;
  rumination: boolean;
  /** A stretch of the spell was not heard (a reading missing between two of hers): see CowDetector.downAhead. */
  gap?: boolean;
}

/** A signal her collar reports: activity, rumination, lying. */
export type Channel = 'act' | 'rum' | 'lie';

/** One signal's run of identical newest readings. */
export interface ChannelRun {
  v: number;
  /** Start of the first reading's interval, event time (every run ends at her newest reading). */
  from: number;
  /** Seconds the run's readings cover: a gap in delivery neither ends a run nor counts towards it. */
  coveredS: number;
  /** Readings in the run: one reading, however long, repeats nothing. */
  n: number;
}

/** Each signal's run; null for a signal the newest reading did not carry (or, activity, zeros her lying explains). */
export type SignalRuns = Record<Channel, ChannelRun | null>;

/** A flat or stuck collar: when it began, when it was over (absent while open), what each signal it holds read. */
export interface FaultSignature {
  from: number;
  to?: number;
  act?: number;
  rum?: number;
  lie?: number;
}

/**
 * What a cow's rules may ask of her herd: whether an hour was a herd-wide one (many cows at once well above
 * their own normal: a pasture move, feed pushed up late, a thunderstorm), and where she tells her own.
 */
export interface HerdView {
  busyHour(hour: number): boolean;
  /**
   * Whether enough of the herd has told the hour for busyHour to be its verdict, not the first few cows'
   * (always, for a herd too small to tell anything).
   */
  settled(hour: number): boolean;
  /**
   * The herd's typical ratio to normal over the hours [first, last] (1 when too few cows report); with
   * `weight`, each hour counts by it (her own normal for the hour, to weigh the herd as her own day is).
   */
  herdRatio(metric: 'act' | 'rum' | 'lie', first: number, last: number, weight?: (hour: number) => number): number;
  /**
   * Her completed hour: hot or not, how often she was hot at that hour of her past days (NaN while she is
   * warming up), and her ratios to normal (NaN for a signal her collar does not tell).
   */
  report(hour: number, hot: boolean, usuallyHot: number, actRatio: number, rumRatio: number, lieRatio: number): void;
}

export type Push = (e: AlertEvent | null) => void;

export interface RuleContext {
  readonly rules: RuleSet;
  readonly state: CowState;
  readonly history: CowHistory;
  readonly normal: Normals;
  readonly herd: HerdView | null;
}
