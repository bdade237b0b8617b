import { z } from 'zod';
import { DEFAULT_INTERVAL_S, type Reading } from '../../rules/index.js';
import { splitCollarTopic, type CollarTopicKind } from '../wire.js';
import { accelToReadings, captureEnd, MIN_ACCEL_READING_S, type Sample } from './accel.js';

/**
 * The wire contract (README, "Wire contract"): validation of what collars publish. Everything a collar or
 * network server can get wrong ends here as a short reason a technician can act on.
 */
export const MAX_PAYLOAD_BYTES = 512 * 1024;
export const MAX_READINGS_PER_MESSAGE = 1000;
const ID = /^[A-Za-z0-9._:-]{1,64}$/;
export const MAX_ACCEL_SAMPLES = 100_000;
export const MAX_ACCEL_HZ = 200;
/** The widest range collar accelerometers measure; beyond it a value is corrupt, not a jolt. */
export const MAX_ACCEL_G = 16;
/** Anything below this is epoch seconds or nonsense, not milliseconds (it is 2001-09-09). */
const MIN_EPOCH_MS = 1e12;
/** Beyond this a date is a corrupt value, not a clock drift (and past 8.64e15 JavaScript has no date at all). */
const MAX_EPOCH_MS = Date.UTC(2100, 0, 1);
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

/** Hand-written rather than a zod union, so the technician reads which rule the time broke. */
const Timestamp = z.unknown().transform((v, ctx): number => {
  const fail = (message: string) => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return fail('epoch milliseconds must be a whole number');
    if (v < MIN_EPOCH_MS) return fail('looks like epoch seconds; ts must be epoch milliseconds');
    if (v >= MAX_EPOCH_MS) return fail('is after the year 2100');
    return v;
  }
  if (typeof v === 'string') {
    if (!ISO_WITH_ZONE.test(v)) return fail('ISO-8601 time needs a date, a time and a zone (Z or ±hh:mm)');
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) return fail('not a valid date');
    if (ms < MIN_EPOCH_MS || ms >= MAX_EPOCH_MS) return fail('must be between 2001 and 2100');
    return ms;
  }
  return fail('required: an ISO-8601 time with a zone, or epoch milliseconds');
});

const ReadingSchema = z
  .object({
    ts: Timestamp,
    activity: finite.min(0),
    intervalS: z.int().min(60).max(7200).default(DEFAULT_INTERVAL_S),
    rumination: finite.min(0).optional(),
    eating: finite.min(0).optional(),
    lying: finite.min(0).optional(),
    temperature: finite.min(30).max(45).optional(),
    batteryPct: finite.min(0).max(100).optional(),
    rssi: finite.min(-200).max(50).optional(),
    seq: z.int().min(0).optional(),
    collarId: z.string().optional(),
  })
  .superRefine((r, ctx) => {
    for (const key of ['rumination', 'eating', 'lying'] as const) {
      const minutes = r[key];
      if (minutes !== undefined && minutes > r.intervalS / 60) {
        ctx.addIssue({ code: 'custom', path: [key], message: `more minutes (${minutes}) than the interval holds` });
      }
    }
  });

/**
 * One reading as the wire contract has it (README, "Wire contract"), for collar `collarId`: the reading, or
 * why not. Shared by every source (the farm's own topics, LoRaWAN network servers).
 */
export function toReading(item: unknown, collarId: string): Reading | Rejected {
  return quickReading(item, collarId) ?? toReadingBySchema(item, collarId);
}

/** Bounds of the optional fields, as in ReadingSchema (the fast path below must agree with it exactly). */
const OPTIONAL_BOUNDS = [
  ['rumination', 0, Infinity], ['eating', 0, Infinity], ['lying', 0, Infinity], ['temperature', 30, 45],
  ['batteryPct', 0, 100], ['rssi', -200, 50],
] as const;

/**
 * The common reading, checked by hand: zod spent ~3 µs on each, an eighth of a single-reading message's
 * cost. Only a reading that ReadingSchema would take as it is comes out of here; anything else (a mistake, an
 * unusual shape) returns undefined and goes through the schema, which says what is wrong.
 * `test/payload.test.ts` checks the two agree on random input.
 */
function quickReading(item: unknown, collarId: string): Reading | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return undefined;
  const o = item as Record<string, unknown>;
  let ts: number;
  const t = o.ts;
  if (typeof t === 'string') {
    if (!ISO_WITH_ZONE.test(t)) return undefined;
    ts = Date.parse(t);
  } else if (typeof t === 'number' && Number.isInteger(t)) ts = t;
  else return undefined;
  if (!(ts >= MIN_EPOCH_MS && ts < MAX_EPOCH_MS)) return undefined;
  const activity = o.activity;
  if (typeof activity !== 'number' || !Number.isFinite(activity) || activity < 0) return undefined;
  let intervalS = DEFAULT_INTERVAL_S;
  if (o.intervalS !== undefined) {
    if (typeof o.intervalS !== 'number' || !Number.isSafeInteger(o.intervalS) || o.intervalS < 60 || o.intervalS > 7200) return undefined;
    intervalS = o.intervalS;
  }
  if (o.collarId !== undefined && o.collarId !== collarId) return undefined;
  const reading: Reading = { collarId, ts, intervalS, activity };
  for (const [key, min, max] of OPTIONAL_BOUNDS) {
    const v = o[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) return undefined;
    if ((key === 'rumination' || key === 'eating' || key === 'lying') && v > intervalS / 60) return undefined;
    reading[key] = v;
  }
  if (o.seq !== undefined) {
    if (typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq) || o.seq < 0) return undefined;
    reading.seq = o.seq;
  }
  return reading;
}

/** The schema's way: every reading the fast path does not take, and the reason when it is not one. */
export function toReadingBySchema(item: unknown, collarId: string): Reading | Rejected {
  const parsed = ReadingSchema.safeParse(item);
  if (!parsed.success) return { reason: describe(parsed.error) };
  const { collarId: named, ...fields } = parsed.data;
  if (named !== undefined && named !== collarId) return { reason: `collarId "${named}" does not match the topic's "${collarId}"` };
  const reading: Reading = { collarId, ts: fields.ts, intervalS: fields.intervalS, activity: fields.activity };
  for (const key of ['rumination', 'eating', 'lying', 'temperature', 'batteryPct', 'rssi', 'seq'] as const) {
    if (fields[key] !== undefined) reading[key] = fields[key];
  }
  return reading;
}

export const isCollarId = (id: string) => ID.test(id);

/** A message's JSON within the size limit, or why not; `hint` says what the technician may have set wrong. */
export function readJson(payload: Buffer, hint = ''): { json: unknown } | Rejected {
  if (payload.length > MAX_PAYLOAD_BYTES) return { reason: `payload of ${payload.length} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit` };
  try {
    return { json: JSON.parse(payload.toString('utf8')) };
  } catch (err) {
    return { reason: `invalid JSON${hint}: ${(err as Error).message}` };
  }
}

export interface Rejected {
  reason: string;
}

export type ParsedMessage =
  | { ok: true; farmId: string; collarId: string; readings: Reading[]; rejected: Rejected[] }
  | { ok: false; reason: string };

/** A collar topic with plain ids; null otherwise. */
export function parseTopic(topic: string): { farmId: string; collarId: string; kind: CollarTopicKind } | null {
  const t = splitCollarTopic(topic);
  return t && ID.test(t.farmId) && ID.test(t.collarId) ? t : null;
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || 'reading'}: ${i.message}`)
    .join('; ');
}

/**
 * Parses one MQTT message. A message with a broken envelope is rejected whole; in a batch, each bad reading
 * is rejected on its own so one corrupt row does not cost a collar its whole backlog.
 */
export function parseMessage(topic: string, payload: Buffer): ParsedMessage {
  const topicParts = parseTopic(topic);
  if (!topicParts) return { ok: false, reason: 'topic is not farm/{farmId}/collar/{collarId}/reading or …/accel with plain ids' };
  const { kind, ...where } = topicParts;
  const read = readJson(payload);
  if ('reason' in read) return { ok: false, reason: read.reason };
  const { json } = read;
  if (kind === 'accel') return parseAccel(where, json);
  let items: unknown[];
  if (json !== null && typeof json === 'object' && 'readings' in json) {
    const list = (json as { readings: unknown }).readings;
    if (!Array.isArray(list)) return { ok: false, reason: '"readings" must be an array' };
    if (list.length === 0) return { ok: false, reason: '"readings" is empty' };
    if (list.length > MAX_READINGS_PER_MESSAGE) {
      return { ok: false, reason: `${list.length} readings in one message; at most ${MAX_READINGS_PER_MESSAGE}` };
    }
    items = list;
  } else if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    items = [json];
  } else {
    return { ok: false, reason: 'payload must be a JSON object: one reading or {"readings": [...]}' };
  }

  const readings: Reading[] = [];
  const rejected: Rejected[] = [];
  items.forEach((item, index) => {
    const label = items.length > 1 ? `readings[${index}] ` : '';
    const r = toReading(item, where.collarId);
    if ('reason' in r) rejected.push({ reason: `${label}${r.reason}` });
    else readings.push(r);
  });
  return { ok: true, ...where, readings, rejected };
}

const AccelSchema = z.object({
  ts: Timestamp,
  hz: finite.min(1).max(MAX_ACCEL_HZ),
  samples: z.array(z.unknown()).min(1, 'must hold at least one [x, y, z]').max(MAX_ACCEL_SAMPLES, `at most ${MAX_ACCEL_SAMPLES} samples in one message`),
  collarId: z.string().optional(),
});

/** Why sample `index` is not three finite numbers within ±16 g, or null. */
function badSample(s: unknown, index: number): string | null {
  if (!Array.isArray(s) || s.length !== 3) return `samples[${index}]: must be [x, y, z] in g`;
  for (let a = 0; a < 3; a++) {
    const v: unknown = s[a];
    if (typeof v !== 'number' || !Number.isFinite(v)) return `samples[${index}][${a}]: must be a finite number`;
    if (Math.abs(v) > MAX_ACCEL_G) return `samples[${index}][${a}]: ${v} g is outside ±${MAX_ACCEL_G} g`;
  }
  return null;
}

/**
 * A raw capture `{ts, hz, samples}` on …/accel. It is one time series, so one bad sample refuses the whole
 * message (dropping it would shift every later sample's time); a good one becomes activity readings.
 */
function parseAccel(where: { farmId: string; collarId: string }, json: unknown): ParsedMessage {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { ok: false, reason: 'accel payload must be a JSON object {"ts", "hz", "samples": [[x, y, z], ...]}' };
  }
  const parsed = AccelSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: describe(parsed.error) };
  const { ts, hz, samples, collarId } = parsed.data;
  if (collarId !== undefined && collarId !== where.collarId) {
    return { ok: false, reason: `collarId "${collarId}" does not match the topic's "${where.collarId}"` };
  }
  for (let i = 0; i < samples.length; i++) {
    const bad = badSample(samples[i], i);
    if (bad) return { ok: false, reason: bad };
  }
  const end = captureEnd(ts, hz, samples.length);
  if (end - ts < MIN_ACCEL_READING_S * 1000) {
    return { ok: false, reason: `${samples.length} samples at ${hz} Hz last ${(end - ts) / 1000} s; a capture needs at least ${MIN_ACCEL_READING_S} s` };
  }
  if (end >= MAX_EPOCH_MS) return { ok: false, reason: 'ts: the capture ends after the year 2100' };
  const readings = accelToReadings({ collarId: where.collarId, ts, hz, samples: samples as Sample[] });
  return { ok: true, ...where, readings, rejected: [] };
}
