import { DAY_MS, HOUR_MS } from './baseline.js';

/**
 * "The same clock hours on a previous day" in the farm's time zone. A cow's rhythm follows the farm's
 * clock (milking, feeding), so when daylight saving moves that clock, her 06:00 milking is an hour later in
 * UTC; comparing UTC hours would compare milking with the hour before it for two weeks. A shifter gives,
 * for a time `t`, how far back `k` local days are: k × 24 h, give or take the hour the clock moved between.
 *
 * Pure: time zone rules come from the runtime's ICU data (Intl), not from a clock.
 */
export type DayShift = ((t: number, k: number) => number) & {
  /** How far the farm's clock is ahead of UTC at `t` (ms): where its days begin. */
  offset?: (t: number) => number;
};

export const utcDays: DayShift = (_t, k) => k * DAY_MS;

export function localDays(timezone: string): DayShift {
  if (timezone === 'UTC' || timezone === 'Etc/UTC') return utcDays;
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric',
  });
  // Offsets change a few times a year at most: one look-up per hour is plenty, and the cache stays small.
  const cache = new Map<number, number>();
  const offset = (t: number): number => {
    const hour = Math.floor(t / HOUR_MS);
    let off = cache.get(hour);
    if (off === undefined) {
      const p: Record<string, number> = {};
      for (const part of fmt.formatToParts(hour * HOUR_MS)) if (part.type !== 'literal') p[part.type] = Number(part.value);
      off = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!) - hour * HOUR_MS;
      if (cache.size > 50_000) cache.clear();
      cache.set(hour, off);
    }
    return off;
  };
  const shift: DayShift = (t, k) => k * DAY_MS - offset(t) + offset(t - k * DAY_MS);
  shift.offset = offset;
  return shift;
}

/**
 * The start of a day given as "YYYY-MM-DD" on the farm's clock (ms); NaN when it is not such a date.
 */
export function localDayStart(day: string, shift: DayShift = utcDays): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return NaN;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (!shift.offset) return t;
  // The offset at midnight there, not at UTC midnight: on a day the clock moves early in the morning (New
  // Zealand, Australia) the two differ. Where midnight itself is skipped (Chile), the day starts an hour early.
  return t - shift.offset(t - shift.offset(t));
}

/** The day ("YYYY-MM-DD") it is at `t` on the farm's clock: the register's way of writing a day. */
export function localDate(t: number, shift: DayShift = utcDays): string {
  return new Date(t + (shift.offset?.(t) ?? 0)).toISOString().slice(0, 10);
}
