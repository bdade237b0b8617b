import type { Reading } from '../rules/index.js';
import type { AlertRow } from './store/store.js';

/**
 * The MQTT wire contract (README, "Wire contract"), defined once: the topics collars publish readings to,
 * which the agent subscribes to and takes apart, the topics it publishes alerts on, and the JSON of a
 * reading and of an alert as they travel. What a reading's JSON may hold, and why one is refused, is
 * ingest/payload.ts.
 */

export type CollarTopicKind = 'reading' | 'accel';

/** Where a collar publishes: counted readings, or raw accelerometer captures (`accel`). */
export function collarTopic(farmId: string, collarId: string, kind: CollarTopicKind = 'reading'): string {
  return `farm/${farmId}/collar/${collarId}/${kind}`;
}

/** Every collar of a farm, as the agent subscribes. */
export function collarTopicFilter(farmId: string, kind: CollarTopicKind = 'reading'): string {
  return collarTopic(farmId, '+', kind);
}

const COLLAR_TOPIC = /^farm\/([^/]+)\/collar\/([^/]+)\/(reading|accel)$/;

/** A collar topic's parts; null for any other topic. The ids are as they came (payload.ts checks them). */
export function splitCollarTopic(topic: string): { farmId: string; collarId: string; kind: CollarTopicKind } | null {
  const m = COLLAR_TOPIC.exec(topic);
  return m ? { farmId: m[1]!, collarId: m[2]!, kind: m[3] as CollarTopicKind } : null;
}

/** Where the agent publishes an alert's every change, one topic per alert type. */
export function alertTopic(farmId: string, type: string): string {
  return `farm/${farmId}/alert/${type}`;
}

/** A reading as a collar gateway sends it: the time as an ISO string. */
export function readingToWire(r: Reading): Record<string, unknown> {
  return { ...r, ts: new Date(r.ts).toISOString() };
}

/** An alert as the MQTT feed, webhooks and `/api/alerts` show it: times as ISO strings. */
export function alertToJson(a: AlertRow) {
  return {
    id: a.id, farmId: a.farmId, cowId: a.cowId, ...(a.cowName !== undefined && { cowName: a.cowName }), collarId: a.collarId, type: a.type, state: a.state,
    severity: a.severity, at: new Date(a.at).toISOString(), since: new Date(a.since).toISOString(), evidence: a.evidence,
    ...(a.ack && {
      ack: { by: a.ack.by, at: new Date(a.ack.at).toISOString(), ...(a.ack.until !== undefined && { until: new Date(a.ack.until).toISOString() }) },
    }),
    ...(a.recordedAt !== undefined && { recordedAt: new Date(a.recordedAt).toISOString() }),
  };
}
