import { readdirSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { DAY_MS, HOUR_MS, type AlertType } from '../../rules/index.js';
import { CowbellError } from '../errors.js';
import type { AlertRow } from '../store/store.js';
import {
  SEVERITY_RANK,
  type CollarStorm,
  type MessageContent,
  type MessageItem,
  type Recipient,
  type RenderContext,
  type RenderedMessage,
  type TemplateCall,
} from './message.js';

/**
 * How a message reads, in the recipient's language. Every word comes from `i18n/<language>.json`, so a new
 * language is a new file; this module only decides which sentence applies and fills in cows, times and
 * numbers (formatted with Intl for that language, in the recipient's time zone).
 */

export interface FormatOptions {
  timezone: string;
  /** Catalogue language; unknown or missing means English. */
  language?: string | undefined;
}

export type Reply = 'acknowledge' | 'snooze' | 'stop' | 'start' | 'calved';
export type ReceiptKind = 'acknowledged' | 'snoozed' | 'calved' | 'calvedUnknown' | 'calvedWhich' | 'nothing' | 'help' | 'stopped' | 'started';

export interface WhatsAppTemplate {
  name: string;
  language: string;
  category: 'UTILITY';
  body: string;
  buttons: string[];
}

// ---------------------------------------------------------------------------------------------- catalogue

const text = z.string().min(1);
/** Keyed by Intl.PluralRules categories; `other` is the one every language has. */
const plural = z.strictObject({
  zero: text.optional(), one: text.optional(), two: text.optional(), few: text.optional(), many: text.optional(), other: text,
});
type Plural = z.infer<typeof plural>;

const alertText = z.object({ headline: text, check: text, resolved: text });
const lineSet = z.object({
  line: text, groupLine: text, count: plural, resolvedLine: text, todo: text, pastNew: text, pastResolved: text, pastCount: plural,
});
const template = z.object({
  name: z.string().regex(/^[a-z0-9_]{1,512}$/, 'lowercase letters, digits and underscores only (Meta rule)'),
  category: z.literal('UTILITY'),
  body: text.max(1024),
  samples: z.array(text),
});
const words = z.array(text).min(1);

/** How many {{n}} parameters each template takes; the code fills them in this order. */
const TEMPLATE_PARAMS = { heat: 3, health: 3, collar: 2, urgent: 2, summary: 1 } as const;
type TemplateKind = keyof typeof TEMPLATE_PARAMS;

const catalogueSchema = z.object({
  language: text,
  /** BCP-47 locale for Intl (dates, numbers, plurals, lists); "en-GB" rather than "en" for a 24-hour day-month clock. */
  locale: text,
  names: z.object({ cow: text, cowNamed: text, cowWithCollar: text, collar: text, collarOnCow: text }),
  time: z.object({ short: text, range: text, minutes: text, hours: text, days: plural }),
  evidence: z.object({ window: text, metric: text, activity: text, rumination: text, lying: text, calved: plural }),
  alert: z.object({
    heat: alertText.extend({ activity: text, activityUnknown: text, checkTwoDays: text, cycle: plural, returned: plural, inseminated: plural }),
    health: alertText.extend({ evidence: text, due: plural }),
    down_cow: alertText,
    collar_offline: alertText,
    battery_low: alertText,
    collar_fault: alertText,
    /** No heat for longer than a cycle: the headline counts the days since her last one began. */
    missed_heat: z.object({ headline: plural, expected: text, check: text, resolved: text }),
    other: z.object({ headline: text, resolved: text }),
  }),
  lines: z.object({
    heat: lineSet, health: lineSet, down_cow: lineSet, collar_offline: lineSet, battery_low: lineSet, collar_fault: lineSet,
    missed_heat: lineSet,
  }),
  message: z.object({
    farm: text, urgent: text, reminder: text, reminderHead: text, escalation: text, backToNormal: text, todo: text,
    catchUp: text, catchUpSince: text, catchUpCount: plural, overflow: text, more: plural, listMore: plural,
  }),
  storm: z.object({ offline: plural, online: plural, offlineShort: plural, onlineShort: plural, collars: text }),
  whatsapp: z.object({
    // WhatsApp cuts quick-reply labels at 20 characters.
    buttons: z.object({ acknowledge: text.max(20), snooze: text.max(20) }),
    templates: z.object({ heat: template, health: template, collar: template, urgent: template, summary: template }),
    params: z.object({ collarOffline: text, batteryLow: text, collarFault: text, healthDue: text }),
  }),
  /** What the agent answers when the farmer replies. */
  receipts: z.object({ acknowledged: plural, snoozed: plural, calved: plural, calvedUnknown: text, calvedWhich: text, nothing: text, help: text, stopped: text, started: text }),
  replies: z.object({ acknowledge: words, snooze: words, stop: words, start: words, calved: words }),
});
export type Catalogue = z.infer<typeof catalogueSchema>;

const FALLBACK = 'en';
const I18N_DIR = new URL('./i18n/', import.meta.url);

function catalogueError(file: string, problems: string[]): CowbellError {
  return new CowbellError('COWBELL_I18N_INVALID', `message catalogue ${file} is not usable:\n  - ${problems.join('\n  - ')}`);
}

const placeholders = (s: string) => new Set([...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!));

/**
 * A translation may leave out a placeholder, but one the code never fills would reach the farmer as "{cow}".
 * English is the reference for which names exist at each key.
 */
function unknownPlaceholders(ref: unknown, other: unknown, path: string[], out: string[]): void {
  if (typeof other === 'string') {
    const refText = typeof ref === 'string' ? ref : ref && typeof ref === 'object' && 'other' in ref ? String(ref.other) : '';
    const known = placeholders(refText);
    for (const name of placeholders(other)) if (!known.has(name)) out.push(`"${path.join('.')}": unknown placeholder {${name}}`);
  } else if (other && typeof other === 'object' && ref && typeof ref === 'object' && !Array.isArray(other)) {
    for (const [key, value] of Object.entries(other)) {
      if (path[0] === 'replies' || (path[0] === 'whatsapp' && key === 'samples')) continue;
      unknownPlaceholders((ref as Record<string, unknown>)[key] ?? ref, value, [...path, key], out);
    }
  }
}

function checkTemplates(c: Catalogue, ref: Catalogue | undefined, out: string[]): void {
  for (const kind of Object.keys(TEMPLATE_PARAMS) as TemplateKind[]) {
    const t = c.whatsapp.templates[kind];
    const n = TEMPLATE_PARAMS[kind];
    const where = `"whatsapp.templates.${kind}"`;
    const used = [...t.body.matchAll(/\{\{(\d+)\}\}/g)].map((m) => Number(m[1]));
    const expected = Array.from({ length: n }, (_, i) => i + 1);
    if (used.length !== n || expected.some((i) => !used.includes(i))) out.push(`${where}: body must use {{1}} … {{${n}}} once each`);
    // Meta rejects templates whose body starts or ends with a parameter.
    if (/^\s*\{\{/.test(t.body) || /\}\}[\s.!?]*$/.test(t.body)) out.push(`${where}: body must not start or end with a parameter`);
    if (t.samples.length !== n) out.push(`${where}: needs ${n} sample value(s), one per parameter`);
    if (ref && ref.whatsapp.templates[kind].name !== t.name) {
      out.push(`${where}: name must be "${ref.whatsapp.templates[kind].name}" as in en.json (one template, one translation per language)`);
    }
  }
}

function checkReplies(c: Catalogue, out: string[]): void {
  const seen = new Map<string, string>();
  for (const [kind, list] of Object.entries(c.replies)) {
    for (const w of list) {
      const key = normalise(w, c.locale);
      const before = seen.get(key);
      if (before && before !== kind) out.push(`"replies": "${w}" is both a ${before} and a ${kind} word`);
      seen.set(key, kind);
    }
  }
}

/** Reads and checks every language file in `dir`; exported so a broken file can be tested without breaking this module. */
export function loadCatalogue(dir: URL): Map<string, Catalogue> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const raw = new Map<string, unknown>();
  for (const file of files) {
    try {
      raw.set(file, JSON.parse(readFileSync(new URL(file, dir), 'utf8')));
    } catch (err) {
      throw catalogueError(file, [`not valid JSON: ${(err as Error).message}`]);
    }
  }
  const out = new Map<string, Catalogue>();
  const parsed = new Map<string, Catalogue>();
  for (const [file, json] of raw) {
    const result = catalogueSchema.safeParse(json);
    if (!result.success) {
      throw catalogueError(
        file,
        result.error.issues.map((i) => `${i.path.length ? `"${i.path.join('.')}"` : 'file'}: ${i.input === undefined ? 'missing' : i.message}`),
      );
    }
    parsed.set(file, result.data);
  }
  const en = parsed.get(`${FALLBACK}.json`);
  if (!en) throw catalogueError(`${FALLBACK}.json`, ['missing: English is the fallback for every other language']);
  for (const [file, c] of parsed) {
    const problems: string[] = [];
    if (file !== `${FALLBACK}.json`) unknownPlaceholders(en, c, [], problems);
    checkTemplates(c, file === `${FALLBACK}.json` ? undefined : en, problems);
    checkReplies(c, problems);
    try {
      new Intl.PluralRules(c.locale);
    } catch {
      problems.push(`"locale": ${c.locale} is not a locale Intl knows`);
    }
    if (problems.length) throw catalogueError(file, problems);
    out.set(file.slice(0, -'.json'.length), c);
  }
  return out;
}

const catalogues = loadCatalogue(I18N_DIR);

function catalogueFor(language: string | undefined): { code: string; c: Catalogue } {
  const tag = (language ?? FALLBACK).toLowerCase();
  for (const code of [tag, tag.split(/[-_]/)[0]!]) {
    const c = catalogues.get(code);
    if (c) return { code, c };
  }
  return { code: FALLBACK, c: catalogues.get(FALLBACK)! };
}

// ---------------------------------------------------------------------------------------------- words

function fill(pattern: string, vars: Record<string, string | number>): string {
  return pattern.replace(/\{(\w+)\}/g, (whole, key: string) => (key in vars ? String(vars[key]) : whole));
}

const capitalise = (s: string) => s.charAt(0).toLocaleUpperCase() + s.slice(1);

/**
 * Most urgent first when types share a severity: a cow that cannot get up before a low battery. A cow overdue
 * for heat comes last: it is a matter of days (watch her, a vet check), never of hours.
 */
const TYPE_ORDER: readonly AlertType[] = ['down_cow', 'health', 'heat', 'collar_fault', 'collar_offline', 'battery_low', 'missed_heat'];
/** Alerts about the collar, not the cow. */
export const COLLAR_TYPES: ReadonlySet<string> = new Set<AlertType>(['collar_offline', 'battery_low', 'collar_fault']);
const LIST_MAX = 10;
const TEXT_MAX = 1024;
const PARAM_MAX = 200;
/** Within this distance of the message's own time a weekday names a day unambiguously. */
const WEEKDAY_RANGE_MS = 6 * DAY_MS;

type MetricEvidence = { metric?: unknown; ratio?: unknown; window?: { hours?: unknown } };
type Evidence = MetricEvidence & {
  also?: MetricEvidence;
  /** A health alert raised with her lying up as its second witness (a collar that tells lying). */
  lying?: MetricEvidence;
  value?: unknown;
  daysSinceLastHeat?: number;
  lastHeatSince?: string;
  /** heat: the herd register's last insemination (the start of that day on the farm's clock) and whole days from it to this onset. */
  inseminatedOn?: string;
  daysSinceInsemination?: number;
  /** heat: the herd register's calving (the start of that day on the farm's clock) and whole days from it. */
  calvedOn?: string;
  daysSinceCalving?: number;
  /** health: the herd register has her due to calve (inseminatedOn, daysSinceInsemination say from when). */
  dueToCalve?: boolean;
  /** missed_heat: when her next heat was due (her last one + 18–24 days). */
  expectedFrom?: string;
  expectedTo?: string;
  /** missed_heat, resolved: onset of the heat that ended it. */
  heatSince?: string;
};

/** A time the rules wrote as an ISO string, or the fallback when it is missing or unreadable. */
function evidenceTime(v: unknown, fallback: number): number {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? fallback : t;
}

/** The cycle the rules judge a missed heat against, for alerts that do not carry their expected window. */
const CYCLE_DAYS = { from: 18, to: 24 } as const;

const isOpen = (a: AlertRow) => a.state !== 'resolved';

class Words {
  readonly c: Catalogue;
  readonly code: string;
  private readonly dtf = new Map<string, Intl.DateTimeFormat>();
  private readonly rules: Intl.PluralRules;

  constructor(
    language: string | undefined,
    readonly tz: string,
    /** The message's own time, against which a weekday is enough to name a day. */
    readonly ref?: number,
  ) {
    ({ code: this.code, c: this.c } = catalogueFor(language));
    this.rules = new Intl.PluralRules(this.c.locale);
  }

  private fmt(key: string, o: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
    let f = this.dtf.get(key);
    if (!f) this.dtf.set(key, (f = new Intl.DateTimeFormat(this.c.locale, { timeZone: this.tz, ...o })));
    return f;
  }

  plural(p: Plural, n: number, vars: Record<string, string | number> = {}): string {
    return fill(p[this.rules.select(n)] ?? p.other, { count: n, n, ...vars });
  }

  clock(ms: number): string {
    return this.fmt('clock', { hour: '2-digit', minute: '2-digit' }).format(ms);
  }
  weekday(ms: number): string {
    return this.fmt('weekday', { weekday: 'short' }).format(ms);
  }
  date(ms: number): string {
    return this.fmt('date', { weekday: 'short', day: 'numeric', month: 'short' }).format(ms);
  }
  dayAndClock(ms: number): string {
    return this.fmt('dayAndClock', { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(ms);
  }
  private dayKey(ms: number): string {
    return this.fmt('dayKey', { year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
  }
  sameDay(a: number, b: number): boolean {
    return this.dayKey(a) === this.dayKey(b);
  }
  private near(ms: number): boolean {
    return this.ref !== undefined && Math.abs(this.ref - ms) < WEEKDAY_RANGE_MS;
  }
  /** "Tue 09:00" near the message's time, the full date further away. */
  short(ms: number): string {
    return this.near(ms) ? fill(this.c.time.short, { weekday: this.weekday(ms), time: this.clock(ms) }) : this.dayAndClock(ms);
  }
  day(ms: number): string {
    return this.near(ms) ? this.weekday(ms) : this.date(ms);
  }
  /** The end of a span: the clock alone when it is the same day as the start. */
  until(start: number, end: number, full = false): string {
    if (this.sameDay(start, end)) return this.clock(end);
    return full ? this.dayAndClock(end) : this.short(end);
  }
  range(start: number, end: number): string {
    return fill(this.c.time.range, { from: this.short(start), to: this.until(start, end) });
  }
  duration(ms: number): string {
    const h = ms / HOUR_MS;
    // Under two hours, minutes are what people say ("90 min", not "2 h").
    if (h < 2 && Math.round(h * 60) % 60 !== 0) return fill(this.c.time.minutes, { n: Math.max(1, Math.round(h * 60)) });
    if (h < 48) return fill(this.c.time.hours, { n: Math.round(h) });
    return this.plural(this.c.time.days, Math.round(h / 24));
  }
  percent(ratio: number): string {
    return new Intl.NumberFormat(this.c.locale, { style: 'percent', maximumFractionDigits: 0 }).format(Math.round(ratio * 100) / 100);
  }
  ratio(ratio: number): string {
    return new Intl.NumberFormat(this.c.locale, { minimumFractionDigits: 1, maximumFractionDigits: 1, useGrouping: false }).format(ratio);
  }
  /** "1, 2, 3 and 13 more", in the language's own list style. */
  list(ids: readonly string[]): string {
    const shown = ids.length > LIST_MAX ? ids.slice(0, LIST_MAX) : [...ids];
    if (ids.length > LIST_MAX) shown.push(this.plural(this.c.message.listMore, ids.length - LIST_MAX));
    return new Intl.ListFormat(this.c.locale, { style: 'long', type: 'conjunction' }).format(shown);
  }

  /** As the farmer knows her: "Cow 412 Bella" from the herd register; the collar only when it is all there is. */
  cow(a: AlertRow): string {
    if (a.cowName) return fill(this.c.names.cowNamed, { cow: a.cowId, name: a.cowName });
    return a.cowId === a.collarId ? fill(this.c.names.cow, { cow: a.cowId }) : fill(this.c.names.cowWithCollar, { cow: a.cowId, collar: a.collarId });
  }
  /** Collar messages are about the device; the cow is named only when she is not known by the collar's id. */
  collar(a: AlertRow): string {
    const cow = numberAndName(a);
    return a.cowId === a.collarId ? fill(this.c.names.collar, { collar: a.collarId }) : fill(this.c.names.collarOnCow, { cow, collar: a.collarId });
  }
  subject(a: AlertRow): string {
    return COLLAR_TYPES.has(a.type) ? this.collar(a) : this.cow(a);
  }

  private metric(e: MetricEvidence | undefined): string | null {
    if (!e || typeof e.ratio !== 'number') return null;
    const what = e.metric === 'rumination' ? this.c.evidence.rumination : e.metric === 'lying' ? this.c.evidence.lying : this.c.evidence.activity;
    return fill(this.c.evidence.metric, { metric: what, percent: this.percent(e.ratio) });
  }
  metrics(a: AlertRow, withLying = true): string {
    const ev = a.evidence as Evidence;
    return [this.metric(ev), this.metric(ev.also), withLying ? this.metric(ev.lying) : null].filter((s): s is string => s !== null).join(', ');
  }
  /** Her lying with its own window, where it was measured over other hours than the rest (a whole day). */
  private lyingApart(a: AlertRow): string | null {
    const ev = a.evidence as Evidence;
    const lying = this.metric(ev.lying);
    const hours = ev.lying?.window?.hours;
    if (!lying || typeof hours !== 'number' || !(hours > 0) || Math.round(hours) === Math.round(Number(ev.window?.hours))) return null;
    return lying + fill(this.c.evidence.window, { hours: Math.round(hours) });
  }
  private window(a: AlertRow): string {
    const hours = (a.evidence as Evidence).window?.hours;
    return typeof hours === 'number' && hours > 0 ? fill(this.c.evidence.window, { hours: Math.round(hours) }) : '';
  }
  batteryValue(a: AlertRow): string {
    const v = (a.evidence as Evidence).value;
    return typeof v === 'number' ? this.percent(v / 100) : '?';
  }
  /** missed_heat: onset of her last heat, and whole days from it to when the alert was raised. */
  private lastHeat(a: AlertRow): { since: number; days: number } {
    const ev = a.evidence as Evidence;
    const since = evidenceTime(ev.lastHeatSince, a.since);
    const days = typeof ev.daysSinceLastHeat === 'number' ? ev.daysSinceLastHeat : (a.raisedAt - since) / DAY_MS;
    return { since, days: Math.max(0, Math.round(days)) };
  }
  /**
   * heat: what the herd register adds — days since she calved, and the insemination before it. 18–24 days
   * on, she has come back into heat: she did not conceive. At any other time it is not the usual return,
   * and a cow in calf can show heat: a pregnancy check before inseminating again.
   */
  private registerLines(ev: Evidence): string[] {
    const t = this.c.alert.heat;
    const out: string[] = [];
    out.push(...this.calvedLine(ev));
    const days = ev.daysSinceInsemination;
    if (typeof days !== 'number' || typeof ev.inseminatedOn !== 'string') return out;
    const date = this.date(Date.parse(ev.inseminatedOn));
    out.push(this.plural(days >= 18 && days <= 24 ? t.returned : t.inseminated, days, { date }));
    return out;
  }

  /**
   * health: what the herd register adds — she is due to calve (a drop now is most often her calving: the
   * farmer is asked to answer "calved"), or her days in milk.
   */
  private healthRegisterLines(ev: Evidence): string[] {
    const t = this.c.alert.health;
    if (ev.dueToCalve === true && typeof ev.daysSinceInsemination === 'number' && typeof ev.inseminatedOn === 'string') {
      return [this.plural(t.due, ev.daysSinceInsemination, { date: this.date(Date.parse(ev.inseminatedOn)) })];
    }
    return this.calvedLine(ev);
  }

  /** "She calved N days before": the register's calving, which a heat and a health alert both tell. */
  private calvedLine(ev: Evidence): string[] {
    const dim = ev.daysSinceCalving;
    return typeof dim === 'number' && typeof ev.calvedOn === 'string' ? [this.plural(this.c.evidence.calved, dim, { date: this.date(Date.parse(ev.calvedOn)) })] : [];
  }

  /** Best insemination time: about 12–18 h after the onset of heat. */
  inseminate(since: number): string {
    return this.range(since + 12 * HOUR_MS, since + 18 * HOUR_MS);
  }

  /** Everything placeholders in the catalogue may ask for about one alert. */
  vars(a: AlertRow): Record<string, string> {
    const last = this.lastHeat(a);
    return {
      cow: this.cow(a),
      collar: this.collar(a),
      since: this.short(a.since),
      until: this.until(a.since, a.at),
      at: this.short(a.at),
      duration: this.duration(silentMs(a)),
      value: this.batteryValue(a),
      metrics: this.metrics(a),
      window: this.inseminate(a.since),
      lastHeat: this.date(last.since),
      days: this.plural(this.c.time.days, last.days),
      type: a.type,
    };
  }

  /** One alert's full text: what happened and since when, the evidence, what to do. No urgency mark. */
  alertLines(a: AlertRow): string[] {
    const t = this.c.alert;
    const name = this.cow(a);
    const since = this.dayAndClock(a.since);
    const window = this.window(a);
    if (!isOpen(a)) {
      const vars: Record<string, string> = { cow: name, collar: this.collar(a), since, until: this.until(a.since, a.at, true), at: this.dayAndClock(a.at), value: this.batteryValue(a), type: a.type };
      if (a.type === 'missed_heat') {
        // Ended by her next heat: when that one began, and the day (not the hour) of the one before.
        vars.since = this.date(this.lastHeat(a).since);
        vars.heat = this.dayAndClock(evidenceTime((a.evidence as Evidence).heatSince, a.at));
      }
      const byType = t as unknown as Partial<Record<string, { resolved: string }>>;
      return [fill(byType[a.type]?.resolved ?? t.other.resolved, vars)];
    }
    const ev = a.evidence as Evidence;
    switch (a.type) {
      case 'heat': {
        const from = a.since + 12 * HOUR_MS;
        const to = a.since + 18 * HOUR_MS;
        const check = this.sameDay(from, to)
          ? fill(t.heat.check, { day: this.date(from), from: this.clock(from), to: this.clock(to) })
          : fill(t.heat.checkTwoDays, {
              from: fill(this.c.time.short, { weekday: this.weekday(from), time: this.clock(from) }),
              to: fill(this.c.time.short, { weekday: this.weekday(to), time: this.clock(to) }),
            });
        const cycle = ev.daysSinceLastHeat;
        return [
          fill(t.heat.headline, { cow: name, since }),
          typeof ev.ratio === 'number' ? fill(t.heat.activity, { ratio: this.ratio(ev.ratio), window }) : fill(t.heat.activityUnknown, { window }),
          check,
          // A cycle of 18-24 days says this is a true heat; a short or long one is worth a second look.
          ...(typeof cycle === 'number' && typeof ev.lastHeatSince === 'string'
            ? [this.plural(t.heat.cycle, Math.round(cycle), { date: this.date(Date.parse(ev.lastHeatSince)) })]
            : []),
          ...this.registerLines(ev),
        ];
      }
      case 'health': {
        const lying = this.lyingApart(a);
        const metrics = this.metrics(a, !lying);
        return [
          fill(t.health.headline, { cow: name, since }),
          ...(metrics ? [fill(t.health.evidence, { metrics: capitalise(metrics), window: lying ? `${window}; ${lying}` : window })] : []),
          t.health.check,
          ...this.healthRegisterLines(ev),
        ];
      }
      case 'missed_heat': {
        const last = this.lastHeat(a);
        const from = evidenceTime(ev.expectedFrom, last.since + CYCLE_DAYS.from * DAY_MS);
        const to = evidenceTime(ev.expectedTo, last.since + CYCLE_DAYS.to * DAY_MS);
        return [
          this.plural(t.missed_heat.headline, last.days, { cow: name, date: this.date(last.since) }),
          fill(t.missed_heat.expected, { from: this.date(from), to: this.date(to) }),
          t.missed_heat.check,
        ];
      }
      case 'collar_offline':
      case 'battery_low':
      case 'collar_fault':
      case 'down_cow': {
        const vars = { cow: name, collar: this.collar(a), since, duration: this.duration(silentMs(a)), value: this.batteryValue(a) };
        return [fill(t[a.type].headline, vars), t[a.type].check];
      }
      default:
        return [fill(t.other.headline, { cow: name, type: a.type, since })];
    }
  }

  /** One alert as one line, for messages about several. */
  line(a: AlertRow, key: 'line' | 'groupLine' | 'resolvedLine' | 'pastNew' | 'pastResolved'): string {
    const set = (this.c.lines as Partial<Record<string, z.infer<typeof lineSet>>>)[a.type];
    if (!set) return this.alertLines(a)[0]!;
    return fill(set[key], this.vars(a));
  }
}

// ---------------------------------------------------------------------------------------------- one alert

/** One alert's full text, for the status page and the console. */
export function formatAlert(alert: AlertRow, o: FormatOptions): string {
  const w = new Words(o.language, o.timezone);
  const lines = w.alertLines(alert);
  if (isOpen(alert) && alert.severity === 'urgent') lines[0] = fill(w.c.message.urgent, { text: lines[0]! });
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------- messages

/** A line of the message, and how many alerts or storms it speaks for (what "…and N more" counts when cut). */
interface Line {
  text: string;
  items: number;
}

const typeRank = (t: AlertType) => {
  const i = TYPE_ORDER.indexOf(t);
  return i < 0 ? TYPE_ORDER.length : i;
};
const bySeverity = (a: MessageItem, b: MessageItem) => SEVERITY_RANK[b.alert.severity] - SEVERITY_RANK[a.alert.severity];

/** Groups by alert type, most urgent group first, most urgent item first within a group (stable otherwise). */
function groupByType(items: readonly MessageItem[]): MessageItem[][] {
  const groups = new Map<AlertType, MessageItem[]>();
  for (const it of items) {
    const g = groups.get(it.alert.type);
    if (g) g.push(it);
    else groups.set(it.alert.type, [it]);
  }
  const worst = (g: MessageItem[]) => Math.max(...g.map((it) => SEVERITY_RANK[it.alert.severity]));
  return [...groups.values()]
    .map((g) => [...g].sort(bySeverity))
    .sort((a, b) => worst(b) - worst(a) || typeRank(a[0]!.alert.type) - typeRank(b[0]!.alert.type));
}

function referenceTime(content: MessageContent): number | undefined {
  const times = [
    ...content.items.map((it) => it.alert.at),
    ...content.catchUp.map((it) => it.alert.at),
    ...content.storms.map((s) => s.from),
    ...(content.catchUpSince !== undefined ? [content.catchUpSince] : []),
    ...(content.overflow ? [content.overflow.heldSince] : []),
  ];
  return times.length ? Math.max(...times) : undefined;
}

function escalationText(w: Words, it: MessageItem, text: string): string {
  if (!it.escalation) return text;
  const names = new Intl.ListFormat(w.c.locale, { style: 'long', type: 'conjunction' }).format(it.escalation.notAckedBy);
  return fill(w.c.message.escalation, { names, duration: w.duration(it.escalation.afterMinutes * 60_000), text });
}

function withKind(w: Words, it: MessageItem, text: string): string {
  if (it.kind === 'reminder') return fill(w.c.message.reminder, { text });
  if (it.kind === 'escalation') return escalationText(w, it, text);
  return text;
}

const isResolved = (it: MessageItem) => it.kind === 'resolved' || !isOpen(it.alert);

function freshLines(w: Words, items: readonly MessageItem[]): Line[] {
  if (items.length === 1) {
    const it = items[0]!;
    const [first, ...rest] = w.alertLines(it.alert);
    return [{ text: withKind(w, it, first!), items: 1 }, ...rest.map((text) => ({ text, items: 0 }))];
  }
  const out: Line[] = [];
  const bullet = (it: MessageItem, text: string): Line => ({
    text: `• ${it.alert.severity === 'urgent' && isOpen(it.alert) ? fill(w.c.message.urgent, { text }) : text}`,
    items: 1,
  });
  const escalations = items.filter((it) => it.kind === 'escalation' && !isResolved(it)).sort(bySeverity);
  const fresh = items.filter((it) => it.kind === 'new' && !isResolved(it));
  const reminders = items.filter((it) => it.kind === 'reminder' && !isResolved(it)).sort(bySeverity);
  const resolved = items.filter(isResolved);

  for (const it of escalations) out.push({ text: escalationText(w, it, w.line(it.alert, 'line')), items: 1 });
  for (const group of groupByType(fresh)) {
    const set = w.c.lines[group[0]!.alert.type as keyof Catalogue['lines']];
    if (group.length === 1 || !set) {
      for (const it of group) out.push({ text: w.line(it.alert, 'line'), items: 1 });
      continue;
    }
    out.push({ text: `${w.plural(set.count, group.length)}:`, items: 0 });
    for (const it of group) out.push(bullet(it, w.line(it.alert, 'groupLine')));
  }
  if (reminders.length === 1) out.push({ text: fill(w.c.message.reminder, { text: w.line(reminders[0]!.alert, 'line') }), items: 1 });
  else if (reminders.length > 1) {
    out.push({ text: w.c.message.reminderHead, items: 0 });
    for (const it of reminders) out.push(bullet(it, w.line(it.alert, 'line')));
  }
  if (resolved.length === 1) out.push({ text: w.line(resolved[0]!.alert, 'resolvedLine'), items: 1 });
  else if (resolved.length > 1) {
    out.push({ text: w.c.message.backToNormal, items: 0 });
    for (const it of resolved) out.push({ text: `• ${w.line(it.alert, 'resolvedLine')}`, items: 1 });
  }
  const open = groupByType([...escalations, ...fresh, ...reminders]);
  const todos = open.map((g) => w.c.lines[g[0]!.alert.type as keyof Catalogue['lines']]?.todo).filter((s): s is string => !!s);
  if (todos.length) out.push({ text: fill(w.c.message.todo, { todos: todos.join('; ') }), items: 0 });
  return out;
}

function stormLines(w: Words, storm: CollarStorm): Line[] {
  const n = storm.collars.length;
  const p = storm.kind === 'offline' ? w.c.storm.offline : w.c.storm.online;
  return [
    { text: w.plural(p, n, { time: w.clock(storm.from), day: w.day(storm.from) }), items: 1 },
    { text: fill(w.c.storm.collars, { list: w.list(storm.collars) }), items: 0 },
  ];
}

/** "412 Bella" when the herd register names her, else her id. */
const numberAndName = (a: AlertRow) => (a.cowName ? `${a.cowId} ${a.cowName}` : a.cowId);

/** Past events one line each; a type with many of them becomes one counted line. */
const CATCH_UP_GROUP_FROM = 4;

function catchUpLines(w: Words, content: MessageContent): Line[] {
  const head = content.catchUpSince !== undefined
    ? fill(w.c.message.catchUpSince, { since: w.short(content.catchUpSince) })
    : w.c.message.catchUp;
  const out: Line[] = [{ text: head, items: 0 }];
  for (const group of groupByType(content.catchUp).sort((a, b) => typeRank(a[0]!.alert.type) - typeRank(b[0]!.alert.type))) {
    const type = group[0]!.alert.type;
    const set = w.c.lines[type as keyof Catalogue['lines']];
    if (set && group.length >= CATCH_UP_GROUP_FROM) {
      const ids = [...new Set(group.map(({ alert: a }) => (COLLAR_TYPES.has(type) ? a.collarId : numberAndName(a))))];
      out.push({ text: `• ${w.plural(set.pastCount, ids.length, { list: w.list(ids) })}`, items: group.length });
      continue;
    }
    const chronological = [...group].sort((a, b) => a.alert.since - b.alert.since);
    for (const it of chronological) out.push({ text: `• ${w.line(it.alert, isResolved(it) ? 'pastResolved' : 'pastNew')}`, items: 1 });
  }
  return out;
}

/**
 * Cuts whole lines from the end of the body, never mid-word, and says how many alerts were left out. The
 * tail (the note that messages were held back) always stays: it explains why this message is a digest.
 */
function fit(w: Words, body: Line[], tail: string | undefined, max: number): string {
  const join = (ls: Line[]) => ls.map((l) => l.text).join('\n');
  const withTail = (s: string) => (tail === undefined ? s : s ? `${s}\n\n${tail}` : tail);
  const budget = max - (tail === undefined ? 0 : tail.length + 2);
  if (join(body).length <= budget) return cutWords(withTail(join(body)), max);
  const kept = [...body];
  let dropped = 0;
  let droppedLines = 0;
  const suffix = (): Line => ({ text: w.plural(w.c.message.more, dropped || droppedLines), items: 0 });
  const pop = () => {
    const last = kept.pop()!;
    dropped += last.items;
    droppedLines += 1;
  };
  while (kept.length > 1 && join([...kept, suffix()]).length > budget) pop();
  // A heading whose lines were all cut, or a paragraph break before nothing, says nothing.
  while (kept.length > 1 && (kept.at(-1)!.text.endsWith(':') || kept.at(-1)!.text === '')) pop();
  return cutWords(withTail(join([...kept, suffix()])), max);
}

function cutWords(s: string, max: number): string {
  if (s.length <= max) return s;
  const head = s.slice(0, max - 1);
  const space = head.search(/\s\S*$/);
  return `${(space > max / 2 ? head.slice(0, space) : head).trimEnd()}…`;
}

/** WhatsApp template parameters: one plain line, short. */
function param(s: string): string {
  const flat = s.replace(/[\r\n\t]+/g, ' ').replace(/\s{2,}/g, ' ').trim();
  return cutWords(flat, PARAM_MAX) || '-';
}

function summaryLine(w: Words, content: MessageContent): string {
  const parts: string[] = [];
  const items = content.items;
  for (const it of items.filter((i) => i.kind === 'escalation' && !isResolved(i))) parts.push(escalationText(w, it, w.line(it.alert, 'line')));
  for (const group of groupByType(items.filter((i) => i.kind === 'new' && !isResolved(i)))) {
    const set = w.c.lines[group[0]!.alert.type as keyof Catalogue['lines']];
    parts.push(group.length === 1 || !set ? group.map((it) => w.line(it.alert, 'line')).join('; ') : w.plural(set.count, group.length));
  }
  const reminders = items.filter((i) => i.kind === 'reminder' && !isResolved(i));
  if (reminders.length) {
    const what = groupByType(reminders).map((g) => {
      const set = w.c.lines[g[0]!.alert.type as keyof Catalogue['lines']];
      return g.length === 1 || !set ? w.line(g[0]!.alert, 'line') : w.plural(set.count, g.length);
    });
    parts.push(fill(w.c.message.reminder, { text: what.join(', ') }));
  }
  const resolved = items.filter(isResolved);
  if (resolved.length === 1) parts.push(w.line(resolved[0]!.alert, 'resolvedLine'));
  else if (resolved.length > 1) parts.push(`${w.c.message.backToNormal} ${resolved.map((it) => w.subject(it.alert)).join(', ')}`);
  for (const s of content.storms) {
    parts.push(w.plural(s.kind === 'offline' ? w.c.storm.offlineShort : w.c.storm.onlineShort, s.collars.length, { time: w.short(s.from) }));
  }
  if (content.catchUp.length) parts.push(w.plural(w.c.message.catchUpCount, content.catchUp.length));
  const line = parts.join('; ');
  return content.urgent ? fill(w.c.message.urgent, { text: line }) : line;
}

function chooseTemplate(w: Words, content: MessageContent): TemplateCall {
  const t = w.c.whatsapp.templates;
  const call = (kind: TemplateKind, params: string[]): TemplateCall => ({ name: t[kind].name, language: w.code, params: params.map(param) });
  const only = content.items.length === 1 && content.catchUp.length === 0 && content.storms.length === 0 ? content.items[0] : undefined;
  if (only && only.kind === 'new' && isOpen(only.alert)) {
    const a = only.alert;
    const since = w.dayAndClock(a.since);
    const p = w.c.whatsapp.params;
    switch (a.type) {
      case 'heat':
        return call('heat', [w.cow(a), since, w.inseminate(a.since)]);
      case 'health': {
        const metrics = w.metrics(a);
        // A cow due to calve: the one line a template carries says so too (the full text asks for "calved").
        const ev = a.evidence as Evidence;
        const due = ev.dueToCalve === true && typeof ev.daysSinceInsemination === 'number';
        if (metrics) return call('health', [w.cow(a), since, due ? fill(p.healthDue, { metrics, count: String(ev.daysSinceInsemination) }) : metrics]);
        break;
      }
      case 'down_cow':
        return call('urgent', [w.cow(a), since]);
      case 'collar_offline':
        return call('collar', [w.collar(a), fill(p.collarOffline, { since, duration: w.duration(a.at - a.since) })]);
      case 'battery_low':
        return call('collar', [w.collar(a), fill(p.batteryLow, { value: w.batteryValue(a) })]);
      case 'collar_fault':
        return call('collar', [w.collar(a), fill(p.collarFault, { since })]);
      case 'missed_heat':
        // Not worth a template of its own (Meta approval per language): the summary carries her line.
        break;
    }
  }
  return call('summary', [summaryLine(w, content)]);
}

/** What one recipient reads: the chat text, the same as a WhatsApp template, and the reply buttons. */
export function renderMessage(content: MessageContent, ctx: RenderContext): RenderedMessage {
  const w = new Words(ctx.language, ctx.timezone, referenceTime(content));
  const sections: Line[][] = [];
  if (content.items.length) sections.push(freshLines(w, content.items));
  for (const storm of content.storms) sections.push(stormLines(w, storm));
  if (content.catchUp.length) sections.push(catchUpLines(w, content));
  const tail = content.overflow ? fill(w.c.message.overflow, { since: w.short(content.overflow.heldSince) }) : undefined;

  const lines = sections.flatMap((s, i) => (i === 0 ? s : [{ text: '', items: 0 }, ...s]));
  // The farm, then the urgency, on the first line: what a locked phone shows ("URGENT: Farm north: Cow …").
  if (ctx.nameFarm && lines[0]) lines[0] = { ...lines[0], text: fill(w.c.message.farm, { farm: ctx.farmName, text: lines[0].text }) };
  if (content.urgent && lines[0]) lines[0] = { ...lines[0], text: fill(w.c.message.urgent, { text: lines[0].text }) };
  const { acknowledge, snooze } = w.c.whatsapp.buttons;
  return { text: fit(w, lines, tail, TEXT_MAX), template: chooseTemplate(w, content), buttons: { acknowledge, snooze } };
}

// ---------------------------------------------------------------------------------------------- catalogue facts

/** Languages with a catalogue file, e.g. ["de", "en"]. */
export function languages(): string[] {
  return [...catalogues.keys()];
}

/** Every template in every language: what has to be approved in Meta's WhatsApp manager. */
export function whatsappTemplates(): WhatsAppTemplate[] {
  return [...catalogues].flatMap(([language, c]) =>
    (Object.keys(TEMPLATE_PARAMS) as TemplateKind[]).map((kind) => ({
      name: c.whatsapp.templates[kind].name,
      language,
      category: 'UTILITY' as const,
      body: c.whatsapp.templates[kind].body,
      buttons: [c.whatsapp.buttons.acknowledge, c.whatsapp.buttons.snooze],
    })),
  );
}

function normalise(s: string, locale: string): string {
  return s.normalize('NFC').trim().toLocaleLowerCase(locale).replace(/\s+/g, ' ').replace(/[.!?]+$/, '').trim();
}

/**
 * What a farmer's reply means. STOP and START also work in English whatever his language, because that is
 * what WhatsApp's own help and most people expect.
 */
export function parseReply(message: string, language: string): Reply | null {
  const { c } = catalogueFor(language);
  const en = catalogues.get(FALLBACK)!;
  const said = normalise(message, c.locale);
  if (!said) return null;
  const has = (list: readonly string[], locale: string) => list.some((x) => normalise(x, locale) === said);
  if (has(c.replies.stop, c.locale) || has(en.replies.stop, en.locale)) return 'stop';
  if (has(c.replies.start, c.locale) || has(en.replies.start, en.locale)) return 'start';
  // A tap on a template's quick-reply button arrives as its label.
  if (has([...c.replies.acknowledge, c.whatsapp.buttons.acknowledge, en.whatsapp.buttons.acknowledge], c.locale)) return 'acknowledge';
  if (has([...c.replies.snooze, c.whatsapp.buttons.snooze, en.whatsapp.buttons.snooze], c.locale)) return 'snooze';
  // A question ("calved?") is not an answer.
  if (!/\?\s*$/.test(message) && (has(c.replies.calved, c.locale) || has(en.replies.calved, en.locale))) return 'calved';
  return null;
}

/** The agent's answer to a reply: what was acknowledged or snoozed, or how to reply. */
export function renderReceipt(
  kind: ReceiptKind,
  alerts: readonly AlertRow[],
  r: Pick<Recipient, 'language' | 'timezone'>,
  snoozeHours?: number,
  /** calved: the days after the calving day that its dip is taken as the calving's. */
  calvingDays?: number,
): string {
  const w = new Words(r.language, r.timezone);
  const t = w.c.receipts;
  if (kind !== 'acknowledged' && kind !== 'snoozed' && kind !== 'calved') return t[kind];
  const list = w.list(alerts.map((a) => w.subject(a)));
  const hours = new Intl.NumberFormat(w.c.locale, { maximumFractionDigits: 1 }).format(snoozeHours ?? 4);
  return w.plural(t[kind], alerts.length, { list, hours, days: calvingDays ?? 3 });
}

/** How long a collar has been silent: the rule's own measure when it gives one (by the clock it can exceed at − since). */
function silentMs(a: AlertRow): number {
  const h = (a.evidence as { silentHours?: unknown }).silentHours;
  return typeof h === 'number' ? h * HOUR_MS : a.at - a.since;
}
