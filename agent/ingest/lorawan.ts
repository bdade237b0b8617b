import { z } from 'zod';
import { isCollarId, readJson, toReading, type ParsedMessage, type Rejected } from './payload.js';

/**
 * Real collars through a LoRaWAN network server's MQTT integration: ChirpStack v4 and The Things Stack v3.
 * The network server's device codec decodes the collar's bytes into an object; a field map in the config
 * says which of its fields is which reading field, so an existing collar codec works without code.
 *
 * ChirpStack v4 (JSON encoding): `application/{applicationId}/device/{devEui}/event/up` with `time`,
 * `deviceInfo.devEui`, `object` (the codec's output), `rxInfo[].rssi`.
 * The Things Stack v3: `v3/{applicationId}@{tenantId}/devices/{deviceId}/up` with `received_at`,
 * `end_device_ids.dev_eui`, `uplink_message.decoded_payload`, `uplink_message.rx_metadata[].rssi`.
 * The collar is named by its DevEUI (in capitals, as printed on the collar), or by its device id where the
 * network server tells no DevEUI.
 */

/** Reading fields a field map may fill, each from a dotted path in the decoded object (`"motion.count"`). */
const MAPPABLE = ['activity', 'intervalS', 'rumination', 'eating', 'lying', 'temperature', 'batteryPct', 'seq'] as const;
const path = z.string().regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'a field of the decoded object, dotted for nested ones ("motion.count")');

const FieldMapSchema = z
  .strictObject(Object.fromEntries(MAPPABLE.map((k) => [k, path.optional()])) as Record<(typeof MAPPABLE)[number], z.ZodOptional<typeof path>>)
  .refine((m) => m.activity !== undefined, 'must name the field that holds activity');

const common = {
  fields: FieldMapSchema,
  /** The collar's reporting interval when the decoded object does not carry it. */
  intervalS: z.int().min(60).max(7200).default(900),
};
const segment = z.string().regex(/^[^/#+@]{1,128}$/, 'one MQTT topic level, no / # + or @ (the application id alone, not "app@tenant")');

export const LorawanSourceSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('chirpstack'), applicationId: segment, ...common }),
  /** `tenantId`: "ttn" on The Things Network; "" for The Things Stack Open Source, whose topics name none. */
  z.strictObject({ type: z.literal('tts'), applicationId: segment, tenantId: z.union([segment, z.literal('')]).default('ttn'), ...common }),
]);
export type LorawanSource = z.infer<typeof LorawanSourceSchema>;

/**
 * Where each network server puts what a reading needs, defined once: its uplink topic (with `+` for the
 * device) and the dotted paths into its uplink JSON.
 */
const FORMATS = {
  chirpstack: {
    topic: (s: LorawanSource) => `application/${s.applicationId}/device/+/event/up`,
    device: 'deviceInfo.devEui',
    time: ['time'],
    decoded: 'object',
    rssi: 'rxInfo.0.rssi',
    codecAt: "ChirpStack's device profile",
    // The device's answer to the network server's status request (LoRaWAN DevStatusAns): battery 0–100.
    status: {
      topic: (s: LorawanSource) => `application/${s.applicationId}/device/+/event/status`,
      battery: 'batteryLevel',
      unavailable: 'batteryLevelUnavailable',
      external: 'externalPowerSource',
    },
  },
  tts: {
    topic: (s: LorawanSource) => `v3/${s.type === 'tts' && s.tenantId ? `${s.applicationId}@${s.tenantId}` : s.applicationId}/devices/+/up`,
    device: 'end_device_ids.dev_eui',
    // When the network server received it; the application server's own time if that is missing.
    time: ['uplink_message.received_at', 'received_at'],
    decoded: 'uplink_message.decoded_payload',
    rssi: 'uplink_message.rx_metadata.0.rssi',
    codecAt: 'The Things Stack',
  },
} as const;

/** The topic a source's uplinks arrive on (one subscription per source). */
export function uplinkTopic(s: LorawanSource): string {
  return FORMATS[s.type].topic(s);
}

/**
 * The topic a source's device-status events arrive on, where its network server publishes them (ChirpStack;
 * The Things Stack's MQTT server sends none: its collars' battery must come through the codec).
 */
export function statusTopic(s: LorawanSource): string | undefined {
  const f = FORMATS[s.type];
  return 'status' in f ? f.status.topic(s) : undefined;
}

/** The source whose status topic `topic` is, or undefined. */
export function statusSourceOf(sources: readonly LorawanSource[], topic: string): LorawanSource | undefined {
  return sources.find((s) => {
    const t = statusTopic(s);
    return t !== undefined && matches(t, topic);
  });
}

export type ParsedStatus =
  | { ok: true; collarId: string; ts: number; batteryPct: number }
  /** A well-formed status that says nothing about the battery (mains power, level not measured). */
  | { ok: true; collarId: string; none: string }
  | { ok: false; reason: string };

/** A device-status event of `source` as a battery level of its collar. */
export function parseStatus(source: LorawanSource, topic: string, payload: Buffer): ParsedStatus {
  const f = FORMATS[source.type];
  if (!('status' in f)) return { ok: false, reason: `${source.type} sends no status events` };
  const event = readEvent(source, topic, payload, 'status event');
  if ('reason' in event) return { ok: false, reason: event.reason };
  const { json, collarId } = event;
  if (get(json, f.status.external) === true) return { ok: true, collarId, none: 'on external power' };
  if (get(json, f.status.unavailable) === true) return { ok: true, collarId, none: 'battery level not measured' };
  const ts = Date.parse(String(get(json, f.time[0]) ?? ''));
  if (Number.isNaN(ts)) return { ok: false, reason: `no "${f.time[0]}" in the status event` };
  const level = numeric(get(json, f.status.battery));
  // Protobuf's JSON may leave out a field at its default: no level is no word on the battery.
  if (level === undefined) return { ok: true, collarId, none: 'no battery level in the event' };
  if (typeof level !== 'number' || !(level >= 0 && level <= 100)) return { ok: false, reason: `"${f.status.battery}" must be a number from 0 to 100` };
  return { ok: true, collarId, ts, batteryPct: level };
}

/** Whether `topic` matches the subscription `filter` (`+` for one level; the filters here have no `#`). */
function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  return f.length === t.length && f.every((level, i) => level === '+' || level === t[i]);
}

/** The source whose uplink topic `topic` is, or undefined. */
export function sourceOf(sources: readonly LorawanSource[], topic: string): LorawanSource | undefined {
  return sources.find((s) => matches(uplinkTopic(s), topic));
}

/** A field of the decoded JSON by dotted path: its own properties only (never "constructor" and the like). */
const get = (o: unknown, dotted: string): unknown =>
  dotted.split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' && Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined), o);

/** Codecs often write numbers as text ("12", "38.5"): those are numbers. Anything else is left to validation. */
const numeric = (v: unknown) => (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v);

/** A DevEUI in capitals, as printed on the collar (ChirpStack writes it in lower case); a device id as it is. */
export const collarIdOf = (device: string) => (/^[0-9a-fA-F]{16}$/.test(device) ? device.toUpperCase() : device);

/** A network server's event as JSON, with the collar it is from: what uplinks and status events share. */
function readEvent(source: LorawanSource, topic: string, payload: Buffer, what: string): { json: object; collarId: string } | { reason: string } {
  const read = readJson(payload, ' (is the integration set to JSON, not Protobuf?)');
  if ('reason' in read) return read;
  const { json } = read;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { reason: `${what} must be a JSON object` };
  const f = FORMATS[source.type];
  if (source.type === 'tts' && get(json, 'simulated') === true) return { reason: 'a simulated uplink (from the console), not the collar' };
  // The device level of the topic when the event names no DevEUI (a device id on The Things Stack).
  const device = get(json, f.device) ?? topic.split('/')[3];
  if (typeof device !== 'string' || !isCollarId(device)) return { reason: `no usable device id in ${f.device} or the topic` };
  return { json, collarId: collarIdOf(device) };
}

/** One uplink of `source` as readings of this farm's collar, or why not (a reason a technician can act on). */
export function parseUplink(source: LorawanSource, farmId: string, topic: string, payload: Buffer): ParsedMessage {
  const event = readEvent(source, topic, payload, 'uplink');
  if ('reason' in event) return { ok: false, reason: event.reason };
  const { json, collarId } = event;
  const f = FORMATS[source.type];
  let ts: unknown;
  for (const at of f.time) ts ??= get(json, at);
  if (ts === undefined) return { ok: false, reason: `no "${f.time.at(-1)}" in the uplink` };
  const decoded = get(json, f.decoded);
  if (decoded === null || typeof decoded !== 'object') return { ok: false, reason: `no decoded payload ("${f.decoded}"): give the device a payload codec in ${f.codecAt}` };
  const base: Record<string, unknown> = { ts, intervalS: source.intervalS };
  const optional: [string, unknown][] = [];
  for (const key of MAPPABLE) {
    const from = source.fields[key];
    if (from === undefined) continue;
    const v = numeric(get(decoded, from));
    if (v === undefined) {
      if (key === 'activity') return { ok: false, reason: `the decoded payload has no "${from}" (fields.activity)` };
      continue;
    }
    if (key === 'activity' || key === 'intervalS') base[key] = v;
    else optional.push([key, v]);
  }
  const rssi = get(json, f.rssi);
  if (typeof rssi === 'number') optional.push(['rssi', rssi]);
  const r = toReading(base, collarId);
  if ('reason' in r) return { ok: false, reason: r.reason };
  // One field the codec gets wrong (a temperature of the air, a battery in volts) costs only that field, not
  // her activity: the reading is kept and the field's problem quarantined beside it.
  const rejected: Rejected[] = [];
  for (const [key, v] of optional) {
    const one = toReading({ ...base, [key]: v }, collarId);
    if ('reason' in one) rejected.push({ reason: `${one.reason} (fields.${key} "${source.fields[key as keyof typeof source.fields] ?? key}"; the reading is kept without it)` });
    else Object.assign(r, { [key]: one[key as keyof typeof one] });
  }
  return { ok: true, farmId, collarId, readings: [r], rejected };
}
