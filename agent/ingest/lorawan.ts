import { z } from 'zod';
import { isCollarId, MAX_PAYLOAD_BYTES, toReading, type ParsedMessage } from './payload.js';

/**
 * Real collars through a LoRaWAN network server's MQTT integration: ChirpStack v4 and The Things Stack v3.
 * The network server's device codec decodes the collar's bytes into an object; a field map in the config
 * says which of its fields is which reading field, so an existing collar codec works without code.
 *
 * ChirpStack v4 (JSON encoding): `application/{applicationId}/device/{devEui}/event/up` with `time`,
 * `deviceInfo.devEui`, `object` (the codec's output), `rxInfo[].rssi`.
 * The Things Stack v3: `v3/{applicationId}@{tenantId}/devices/{deviceId}/up` with `received_at`,
 * `end_device_ids.dev_eui`, `uplink_message.decoded_payload`, `uplink_message.rx_metadata[].rssi`.
 * The collar is named by its DevEUI (upper case), as it is printed on the collar and in both consoles.
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
const segment = z.string().regex(/^[^/#+]{1,128}$/, 'one MQTT topic level, no / # or +');

export const LorawanSourceSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('chirpstack'), applicationId: segment, ...common }),
  z.strictObject({ type: z.literal('tts'), applicationId: segment, tenantId: segment.default('ttn'), ...common }),
]);
export type LorawanSource = z.infer<typeof LorawanSourceSchema>;

/** The topic a source's uplinks arrive on (one subscription per source). */
export function uplinkTopic(s: LorawanSource): string {
  return s.type === 'chirpstack' ? `application/${s.applicationId}/device/+/event/up` : `v3/${s.applicationId}@${s.tenantId}/devices/+/up`;
}

/** The source whose uplink topic `topic` is, or undefined. */
export function sourceOf(sources: readonly LorawanSource[], topic: string): LorawanSource | undefined {
  const parts = topic.split('/');
  return sources.find((s) =>
    s.type === 'chirpstack'
      ? parts.length === 6 && parts[0] === 'application' && parts[1] === s.applicationId && parts[2] === 'device' && parts[4] === 'event' && parts[5] === 'up'
      : parts.length === 5 && parts[0] === 'v3' && parts[1] === `${s.applicationId}@${s.tenantId}` && parts[2] === 'devices' && parts[4] === 'up',
  );
}

const get = (o: unknown, dotted: string): unknown => dotted.split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);

/** One uplink of `source` as readings of this farm's collar, or why not (a reason a technician can act on). */
export function parseUplink(source: LorawanSource, farmId: string, topic: string, payload: Buffer): ParsedMessage {
  if (payload.length > MAX_PAYLOAD_BYTES) return { ok: false, reason: `payload of ${payload.length} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit` };
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `invalid JSON (is the integration set to JSON, not Protobuf?): ${(err as Error).message}` };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { ok: false, reason: 'uplink must be a JSON object' };
  const cs = source.type === 'chirpstack';
  const devEui = get(json, cs ? 'deviceInfo.devEui' : 'end_device_ids.dev_eui') ?? (cs ? topic.split('/')[3] : undefined);
  if (typeof devEui !== 'string' || !isCollarId(devEui)) return { ok: false, reason: `no usable DevEUI in ${cs ? 'deviceInfo.devEui' : 'end_device_ids.dev_eui'}` };
  const ts = get(json, cs ? 'time' : 'uplink_message.received_at') ?? (cs ? undefined : get(json, 'received_at'));
  if (ts === undefined) return { ok: false, reason: cs ? 'no "time" in the uplink' : 'no "received_at" in the uplink' };
  const decoded = get(json, cs ? 'object' : 'uplink_message.decoded_payload');
  if (decoded === null || typeof decoded !== 'object') {
    return { ok: false, reason: `no decoded payload (${cs ? '"object"' : '"uplink_message.decoded_payload"'}): give the device a payload codec in ${cs ? "ChirpStack's device profile" : 'The Things Stack'}` };
  }
  const item: Record<string, unknown> = { ts, intervalS: source.intervalS };
  for (const key of MAPPABLE) {
    const from = source.fields[key];
    if (from === undefined) continue;
    const v = get(decoded, from);
    if (v === undefined) {
      if (key === 'activity') return { ok: false, reason: `the decoded payload has no "${from}" (fields.activity)` };
      continue;
    }
    item[key] = v;
  }
  const rssi = get(json, cs ? 'rxInfo.0.rssi' : 'uplink_message.rx_metadata.0.rssi');
  if (typeof rssi === 'number') item.rssi = rssi;
  const collarId = devEui.toUpperCase();
  const r = toReading(item, collarId);
  if ('reason' in r) return { ok: false, reason: r.reason };
  return { ok: true, farmId, collarId, readings: [r], rejected: [] };
}
