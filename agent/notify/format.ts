import { HOUR_MS } from '../../rules/index.js';
import type { AlertRow } from '../store/store.js';

/**
 * What the farmer reads. One short line for what happened and since when, one for the evidence in plain
 * words, one for what to do. Times are in the farm's time zone; numbers are rounded the way people say them.
 */
export interface FormatOptions {
  timezone: string;
}


function clock(ms: number, tz: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit' }).format(ms);
}

function dayAndClock(ms: number, tz: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: tz, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
  }).format(ms);
}

/** The end of a span: the clock alone when it is the same day as the start. */
function until(start: number, end: number, tz: string): string {
  const day = (ms: number) => new Intl.DateTimeFormat('en-GB', { timeZone: tz, dateStyle: 'short' }).format(ms);
  return day(start) === day(end) ? clock(end, tz) : dayAndClock(end, tz);
}

function duration(ms: number): string {
  const h = ms / HOUR_MS;
  if (h < 1) return `${Math.max(1, Math.round(h * 60))} min`;
  if (h < 48) return `${Math.round(h)} h`;
  return `${Math.round(h / 24)} days`;
}

const percent = (ratio: number) => `${Math.round(ratio * 100)}%`;
const times = (ratio: number) => `${ratio.toFixed(1)}×`;

function cowName(a: AlertRow): string {
  return a.cowId === a.collarId ? `Cow ${a.cowId}` : `Cow ${a.cowId} (collar ${a.collarId})`;
}

/** Collar messages are about the device; the cow is named only when she is not known by the collar's id. */
function collarName(a: AlertRow): string {
  return a.cowId === a.collarId ? `Collar ${a.collarId}` : `Collar ${a.collarId} on cow ${a.cowId}`;
}

type MetricEvidence = { metric?: string; ratio?: number; window?: { hours?: number } };

function metricPhrase(e: MetricEvidence | undefined): string | null {
  if (!e || typeof e.ratio !== 'number') return null;
  const what = e.metric === 'rumination' ? 'rumination' : 'activity';
  return `${what} ${percent(e.ratio)} of her normal`;
}

export function formatAlert(a: AlertRow, o: FormatOptions): string {
  const tz = o.timezone;
  const ev = a.evidence as MetricEvidence & { also?: MetricEvidence; value?: number; silentHours?: number };
  const hours = ev.window?.hours ? ` over the last ${Math.round(ev.window.hours)} h` : '';
  const urgent = a.severity === 'urgent' ? 'URGENT: ' : '';
  const name = cowName(a);

  if (a.state === 'resolved') {
    switch (a.type) {
      case 'heat':
        return `${name}: heat activity is over (began ${dayAndClock(a.since, tz)}, ended ${until(a.since, a.at, tz)}).`;
      case 'health':
        return `${name} is back to her normal (unwell since ${dayAndClock(a.since, tz)}, recovered by ${until(a.since, a.at, tz)}).`;
      case 'collar_offline':
        return `${collarName(a)} is sending again as of ${dayAndClock(a.at, tz)}.`;
      case 'battery_low':
        return `${collarName(a)} battery is fine again (${ev.value ?? '?'}%).`;
      default:
        return `${name}: ${a.type} resolved at ${dayAndClock(a.at, tz)}.`;
    }
  }

  switch (a.type) {
    case 'heat': {
      const best = `${clock(a.since + 12 * HOUR_MS, tz)}–${clock(a.since + 18 * HOUR_MS, tz)}`;
      return [
        `${urgent}${name} is probably in heat, since about ${dayAndClock(a.since, tz)}.`,
        `Activity ${typeof ev.ratio === 'number' ? times(ev.ratio) : 'well above'} her normal${hours}.`,
        `Check: watch for standing heat and mounting. If confirmed, inseminate about 12–18 h after onset (${best}).`,
      ].join('\n');
    }
    case 'health': {
      const parts = [metricPhrase(ev), metricPhrase(ev.also)].filter(Boolean).join(', ');
      return [
        `${urgent}${name} may be unwell, since about ${dayAndClock(a.since, tz)}.`,
        `${parts.charAt(0).toUpperCase()}${parts.slice(1)}${hours}.`,
        `Check: appetite, temperature, udder, feet and whether she is lame or down; call the vet if she is off feed.`,
      ].join('\n');
    }
    case 'collar_offline':
      return [
        `${collarName(a)} has sent nothing since ${dayAndClock(a.since, tz)} (${duration(a.at - a.since)}).`,
        `Check: is the collar still on the cow, and is she within reach of the gateway?`,
      ].join('\n');
    case 'battery_low':
      return [
        `${collarName(a)} battery is low: ${ev.value ?? '?'}%.`,
        `Check: replace or charge the battery in the next few days.`,
      ].join('\n');
    default:
      return `${urgent}${name}: ${a.type} since ${dayAndClock(a.since, tz)}.`;
  }
}
