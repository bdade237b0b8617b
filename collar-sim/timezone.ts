import { HOUR } from './common.js';

/**
 * A farm's UTC offset over a run, from the runtime's time zone data (Intl): `offset(t)` is local wall
 * time minus UTC, in ms, at instant t. Offsets change a few times a year, so the run is sampled once an
 * hour and each change is pinned to the second; a look-up is then a walk over a handful of entries.
 * Throws a RangeError for a zone Intl does not know.
 */
export function zoneOffset(timeZone: string, from: number, to: number): (t: number) => number {
  if (timeZone === 'UTC') return () => 0;
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  });
  const exact = (t: number): number => {
    const p: Record<string, number> = {};
    for (const { type, value } of fmt.formatToParts(t)) if (type !== 'literal') p[type] = Number(value);
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - Math.floor(t / 1000) * 1000;
  };
  const since: number[] = [from];
  const offs: number[] = [exact(from)];
  for (let t = from; t < to; t += HOUR) {
    const next = Math.min(t + HOUR, to);
    if (exact(next) === offs.at(-1)) continue;
    let lo = t, hi = next; // offset at lo is the old one, at hi the new one
    while (hi - lo > 1000) {
      const mid = Math.floor((lo + hi) / 2000) * 1000;
      if (mid <= lo) break;
      if (exact(mid) === offs.at(-1)) lo = mid; else hi = mid;
    }
    since.push(hi);
    offs.push(exact(hi));
  }
  return (t) => {
    if (t < from || t > to) return exact(t);
    let i = since.length - 1;
    while (since[i]! > t) i--;
    return offs[i]!;
  };
}

/** The standard (winter) offset of the zone in the year of t: the smaller of January's and July's. */
export function standardOffset(offset: (t: number) => number, t: number): number {
  const y = new Date(t).getUTCFullYear();
  return Math.min(offset(Date.UTC(y, 0, 1)), offset(Date.UTC(y, 6, 1)));
}
