import { z } from 'zod';
import { DEFAULT_INTERVAL_S, type Reading } from '../../rules/index.js';

/**
 * The wire contract (README, "Wire contract"): validation of what collars publish. Everything a collar or
 * network server can get wrong ends here as a short reason a technician can act on.
 */
export const MAX_PAYLOAD_BYTES = 512 * 1024;
export const MAX_READINGS_PER_MESSAGE = 1000;
const ID = /^[A-Za-z0-9._:-]{1,64}$/;
const TOPIC = /^farm\/([^/]+)\/collar\/([^/]+)\/reading$/;
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

export interface Rejected {
  reason: string;
}

export type ParsedMessage =
  | { ok: true; farmId: string; collarId: string; readings: Reading[]; rejected: Rejected[] }
  | { ok: false; reason: string };

export function parseTopic(topic: string): { farmId: string; collarId: string } | null {
  const m = TOPIC.exec(topic);
  if (!m || !ID.test(m[1]!) || !ID.test(m[2]!)) return null;
  return { farmId: m[1]!, collarId: m[2]! };
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
  const where = parseTopic(topic);
  if (!where) return { ok: false, reason: 'topic is not farm/{farmId}/collar/{collarId}/reading with plain ids' };
  if (payload.length > MAX_PAYLOAD_BYTES) {
    return { ok: false, reason: `payload of ${payload.length} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit` };
  }
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
  }
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
    const parsed = ReadingSchema.safeParse(item);
    if (!parsed.success) {
      rejected.push({ reason: `${label}${describe(parsed.error)}` });
      return;
    }
    const { collarId, ...fields } = parsed.data;
    if (collarId !== undefined && collarId !== where.collarId) {
      rejected.push({ reason: `${label}collarId "${collarId}" does not match the topic's "${where.collarId}"` });
      return;
    }
    const reading: Reading = { collarId: where.collarId, ts: fields.ts, intervalS: fields.intervalS, activity: fields.activity };
    for (const key of ['rumination', 'eating', 'lying', 'temperature', 'batteryPct', 'rssi', 'seq'] as const) {
      if (fields[key] !== undefined) reading[key] = fields[key];
    }
    readings.push(reading);
  });
  return { ok: true, ...where, readings, rejected };
}
