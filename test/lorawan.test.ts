import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { parseConfig } from '../agent/config.js';
import type { ConfigError } from '../agent/errors.js';
import { LorawanSourceSchema, parseStatus, parseUplink, sourceOf, statusSourceOf, statusTopic, uplinkTopic } from '../agent/ingest/lorawan.js';
import { brokerKinds, eventually, memoryLogger, memoryStream, startBroker, tempDir, testConfig, type TestBroker } from './helpers.js';

// Shaped as the network servers' MQTT integrations send them (JSON encoding): ChirpStack v4's event/up and
// The Things Stack v3's uplink message, each with a collar codec's decoded object.
const chirpstackUp = (devEui: string, time: string, object: Record<string, unknown> | undefined) => ({
  deduplicationId: '3ac7e3c4-4401-4b8d-9386-a5c902f9202d',
  time,
  deviceInfo: {
    tenantId: '52f14cd4-c6f1-4fbd-8f87-4025e1d49242',
    tenantName: 'ChirpStack',
    applicationId: '17c82e96-be03-4f38-aef3-f83d48582d97',
    applicationName: 'Herd collars',
    deviceProfileId: '14855bf7-d10d-4aee-b618-ebfcb64dc7ad',
    deviceProfileName: 'Neck collar v2',
    deviceName: 'collar-412',
    devEui,
    tags: {},
  },
  devAddr: '00189440',
  adr: true,
  dr: 5,
  fCnt: 92,
  fPort: 2,
  confirmed: false,
  data: 'AQIDBA==',
  ...(object && { object }),
  rxInfo: [{ gatewayId: '0016c001f153a14c', uplinkId: 4217106255, rssi: -87, snr: 9.2, channel: 2, location: {}, context: 'EFwMtA==', metadata: {} }],
  txInfo: { frequency: 868500000, modulation: { lora: { bandwidth: 125000, spreadingFactor: 7, codeRate: 'CR_4_5' } } },
});

// ChirpStack v4's event/status (the device's answer to a DevStatusReq), JSON encoding.
const chirpstackStatus = (devEui: string, time: string, fields: Record<string, unknown>) => ({
  deduplicationId: '9d6a1a8e-3c5e-4b5a-9a43-0f5c4f0a4c11',
  time,
  deviceInfo: chirpstackUp(devEui, time, undefined).deviceInfo,
  margin: 7,
  ...fields,
});

const ttsUp = (deviceId: string, devEui: string, receivedAt: string, decoded: Record<string, unknown>) => ({
  end_device_ids: { device_id: deviceId, application_ids: { application_id: 'herd-collars' }, dev_eui: devEui, join_eui: '0000000000000000', dev_addr: '260B1234' },
  correlation_ids: ['as:up:01H0S4XG0M6WJ3DJ0Q9B7VQ3ZM'],
  received_at: receivedAt,
  uplink_message: {
    session_key_id: 'AYfGJrAcJ0Gf3w1n8sQd4w==',
    f_port: 2,
    f_cnt: 17,
    frm_payload: 'AQIDBA==',
    decoded_payload: decoded,
    rx_metadata: [{ gateway_ids: { gateway_id: 'barn-gw', eui: 'B827EBFFFE61B7A1' }, time: receivedAt, rssi: -101, channel_rssi: -101, snr: 6.5 }],
    settings: { data_rate: { lora: { bandwidth: 125000, spreading_factor: 9 } }, frequency: '868100000' },
    received_at: receivedAt,
  },
});

const chirpstack = LorawanSourceSchema.parse({
  type: 'chirpstack',
  applicationId: '17c82e96-be03-4f38-aef3-f83d48582d97',
  fields: { activity: 'motion.count', rumination: 'rumMin', batteryPct: 'battery', seq: 'counter' },
});
const tts = LorawanSourceSchema.parse({ type: 'tts', applicationId: 'herd-collars', tenantId: 'ttn', intervalS: 600, fields: { activity: 'act', temperature: 'temp' } });
const buf = (o: unknown) => Buffer.from(JSON.stringify(o));

describe('LoRaWAN network server uplinks', () => {
  it('a ChirpStack v4 uplink becomes a reading of the collar named by its DevEUI, through the field map', () => {
    const topic = 'application/17c82e96-be03-4f38-aef3-f83d48582d97/device/a84041000181c5e1/event/up';
    expect(uplinkTopic(chirpstack)).toBe('application/17c82e96-be03-4f38-aef3-f83d48582d97/device/+/event/up');
    expect(sourceOf([tts, chirpstack], topic)).toBe(chirpstack);
    const up = chirpstackUp('a84041000181c5e1', '2026-11-20T10:15:00.287279+00:00', { motion: { count: 412 }, rumMin: 9.5, battery: 87, counter: 92 });
    expect(parseUplink(chirpstack, 'hillside', topic, buf(up))).toEqual({
      ok: true,
      farmId: 'hillside',
      collarId: 'A84041000181C5E1',
      readings: [{ collarId: 'A84041000181C5E1', ts: Date.parse('2026-11-20T10:15:00.287Z'), intervalS: 900, activity: 412, rumination: 9.5, batteryPct: 87, seq: 92, rssi: -87 }],
      rejected: [],
    });
  });

  it('a The Things Stack v3 uplink becomes a reading, stamped with the time the network server received it', () => {
    const topic = 'v3/herd-collars@ttn/devices/collar-412/up';
    expect(uplinkTopic(tts)).toBe('v3/herd-collars@ttn/devices/+/up');
    expect(sourceOf([chirpstack, tts], topic)).toBe(tts);
    expect(sourceOf([chirpstack, tts], 'v3/other-app@ttn/devices/collar-412/up')).toBeUndefined();
    const parsed = parseUplink(tts, 'hillside', topic, buf(ttsUp('collar-412', '70B3D57ED005A1B2', '2026-11-20T10:15:03.123456789Z', { act: 230, temp: 38.7 })));
    expect(parsed).toEqual({
      ok: true,
      farmId: 'hillside',
      collarId: '70B3D57ED005A1B2',
      readings: [{ collarId: '70B3D57ED005A1B2', ts: Date.parse('2026-11-20T10:15:03.123Z'), intervalS: 600, activity: 230, temperature: 38.7, rssi: -101 }],
      rejected: [],
    });
  });

  // Found in a second read: real codecs write numbers as text, and one field out of range (the air's
  // temperature, a battery in volts) threw away the whole reading, so the cow looked silent.
  it('takes numbers written as text, and a field the codec gets wrong costs only that field', () => {
    const topic = 'v3/herd-collars@ttn/devices/collar-412/up';
    const p = parseUplink(tts, 'hillside', topic, buf(ttsUp('collar-412', '70B3D57ED005A1B2', '2026-11-20T10:15:03Z', { act: '230', temp: 21.5 })));
    expect(p.ok && p.readings).toEqual([expect.objectContaining({ activity: 230, rssi: -101 })]);
    expect(p.ok && p.readings[0]!.temperature).toBeUndefined();
    expect(p.ok && p.rejected).toEqual([{ reason: expect.stringMatching(/temperature.*fields\.temperature "temp".*kept without it/) }]);
  });

  it('refuses a simulated uplink, and knows The Things Stack Open Source topics and devices without a DevEUI', () => {
    const up = ttsUp('collar-412', '70B3D57ED005A1B2', '2026-11-20T10:15:03Z', { act: 5 });
    const simulated = parseUplink(tts, 'hillside', 'v3/herd-collars@ttn/devices/collar-412/up', buf({ ...up, simulated: true }));
    expect(simulated).toEqual({ ok: false, reason: expect.stringMatching(/simulated/) });
    const open = LorawanSourceSchema.parse({ type: 'tts', applicationId: 'herd-collars', tenantId: '', fields: { activity: 'act' } });
    expect(uplinkTopic(open)).toBe('v3/herd-collars/devices/+/up');
    const { dev_eui: _none, ...ids } = up.end_device_ids;
    const abp = parseUplink(open, 'hillside', 'v3/herd-collars/devices/collar-412/up', buf({ ...up, end_device_ids: ids }));
    expect(abp.ok && abp.collarId).toBe('collar-412');
    expect(LorawanSourceSchema.safeParse({ type: 'tts', applicationId: 'herd-collars@ttn', fields: { activity: 'act' } }).success).toBe(false);
  });

  it("reads a ChirpStack status event's battery level, and says nothing when there is none", () => {
    const src = LorawanSourceSchema.parse({ type: 'chirpstack', applicationId: 'herd', fields: { activity: 'a' } });
    const topic = 'application/herd/device/a84041000181c5e1/event/status';
    const at = '2026-11-20T08:00:00Z';
    expect(statusSourceOf([src], topic)).toBe(src);
    expect(parseStatus(src, topic, Buffer.from(JSON.stringify(chirpstackStatus('a84041000181c5e1', at, { batteryLevel: 63.2 }))))).toEqual({ ok: true, collarId: 'A84041000181C5E1', ts: Date.parse(at), batteryPct: 63.2 });
    expect(parseStatus(src, topic, Buffer.from(JSON.stringify(chirpstackStatus('a84041000181c5e1', at, { externalPowerSource: true }))))).toMatchObject({ ok: true, none: 'on external power' });
    expect(parseStatus(src, topic, Buffer.from(JSON.stringify(chirpstackStatus('a84041000181c5e1', at, {}))))).toMatchObject({ ok: true, none: expect.stringMatching(/no battery level/) });
    expect(parseStatus(src, topic, Buffer.from(JSON.stringify(chirpstackStatus('a84041000181c5e1', at, { batteryLevel: 140 }))))).toMatchObject({ ok: false, reason: expect.stringMatching(/0 to 100/) });
    const tts = LorawanSourceSchema.parse({ type: 'tts', applicationId: 'herd', fields: { activity: 'a' } });
    expect(statusTopic(tts)).toBeUndefined();
  });

  it('says what to fix when an uplink cannot be a reading', () => {
    const topic = 'application/17c82e96-be03-4f38-aef3-f83d48582d97/device/a84041000181c5e1/event/up';
    const reason = (o: unknown) => {
      const p = parseUplink(chirpstack, 'hillside', topic, typeof o === 'string' ? Buffer.from(o) : buf(o));
      return p.ok ? null : p.reason;
    };
    expect(reason(chirpstackUp('a84041000181c5e1', '2026-11-20T10:15:00Z', undefined))).toMatch(/codec in ChirpStack's device profile/);
    expect(reason(chirpstackUp('a84041000181c5e1', '2026-11-20T10:15:00Z', { battery: 80 }))).toMatch(/no "motion.count" \(fields.activity\)/);
    expect(reason(chirpstackUp('a84041000181c5e1', '2026-11-20T10:15:00Z', { motion: { count: -3 } }))).toMatch(/activity/);
    expect(reason('\u0008\u0012protobuf')).toMatch(/JSON, not Protobuf/);
    const { time: _drop, ...noTime } = chirpstackUp('a84041000181c5e1', 'x', { motion: { count: 1 } });
    expect(reason(noTime)).toMatch(/no "time"/);
  });

  it('a source without an activity field, or with a wildcard in its application, is a config error', () => {
    const base = { farm: { id: 'hillside' }, mqtt: { url: 'mqtt://broker.local:1883' } };
    const issues = (sources: unknown) => {
      try {
        parseConfig({ ...base, sources });
        return [];
      } catch (err) {
        return (err as ConfigError).issues;
      }
    };
    expect(issues([{ type: 'chirpstack', applicationId: 'app', fields: { rumination: 'rum' } }]).join()).toMatch(/sources\.0\.fields.*activity/);
    expect(issues([{ type: 'tts', applicationId: '+', fields: { activity: 'act' } }]).join()).toMatch(/sources\.0\.applicationId/);
    expect(issues([{ type: 'loriot', applicationId: 'a', fields: { activity: 'act' } }]).join()).toMatch(/sources\.0\.type/);
  });
});

describe.each(brokerKinds)('ChirpStack and The Things Stack uplinks through a real %s broker', (kind) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker(kind);
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('subscribes to each source, stores their uplinks as readings of the right collar, and quarantines one without a codec', async () => {
    const tmp = tempDir();
    const sources = [
      { type: 'chirpstack', applicationId: 'herd', fields: { activity: 'motion.count', rumination: 'rumMin' } },
      { type: 'tts', applicationId: 'herd-collars', tenantId: 'ttn', fields: { activity: 'act' } },
    ];
    const agent = new Agent(testConfig(broker.url, join(tmp.dir, 'lorawan.db'), { sources }), { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
    await agent.start();
    const pub = await mqtt.connectAsync(broker.url, { clientId: `lorawan-pub-${kind}` });
    try {
      await eventually(() => agent.mqtt.subscribed, 10_000, 'subscribed');
      expect(agent.mqtt.topics).toEqual(expect.arrayContaining(['application/herd/device/+/event/up', 'v3/herd-collars@ttn/devices/+/up']));
      // The readings topic is granted first; the sources' subscriptions follow it: wait until the broker has them.
      const t = new Date(Math.floor((Date.now() - 3_600_000) / 900_000) * 900_000);
      const first = JSON.stringify(chirpstackUp('a84041000181c5e1', t.toISOString(), { motion: { count: 412 }, rumMin: 9.5 }));
      for (let i = 0; agent.pipeline.counters.readings < 1; i++) {
        if (i > 100) throw new Error('the ChirpStack uplink never arrived');
        await pub.publishAsync('application/herd/device/a84041000181c5e1/event/up', first, { qos: 1 });
        await new Promise((r) => setTimeout(r, 50));
      }
      await pub.publishAsync('v3/herd-collars@ttn/devices/collar-9/up', JSON.stringify(ttsUp('collar-9', '70b3d57ed005a1b2', t.toISOString(), { act: 230 })), { qos: 1 });
      await pub.publishAsync('application/herd/device/a84041000181c5e2/event/up', JSON.stringify(chirpstackUp('a84041000181c5e2', t.toISOString(), undefined)), { qos: 1 });
      await eventually(() => agent.pipeline.counters.readings >= 2 && agent.pipeline.counters.quarantined >= 1, 10_000, 'the TTS uplink and the quarantined one');
      const rows = agent.store.db.prepare('SELECT collar_id, ts, activity, rumination FROM readings ORDER BY collar_id').all() as { collar_id: string; ts: number; activity: number; rumination: number | null }[];
      expect(rows).toEqual([
        { collar_id: '70B3D57ED005A1B2', ts: t.getTime(), activity: 230, rumination: null },
        { collar_id: 'A84041000181C5E1', ts: t.getTime(), activity: 412, rumination: 9.5 },
      ]);
      const q = agent.store.db.prepare('SELECT topic, reason FROM quarantine').all() as { topic: string; reason: string }[];
      expect(q).toEqual([{ topic: 'application/herd/device/a84041000181c5e2/event/up', reason: expect.stringMatching(/codec/) }]);

      // ChirpStack's device-status events: a low battery is the collar's alert; no level, or mains power, is no word.
      expect(agent.mqtt.topics).toContain('application/herd/device/+/event/status');
      const later = new Date(t.getTime() + 5 * 60_000).toISOString();
      await pub.publishAsync('application/herd/device/a84041000181c5e2/event/status', JSON.stringify(chirpstackStatus('a84041000181c5e2', later, { batteryLevelUnavailable: true })), { qos: 1 });
      await pub.publishAsync('application/herd/device/a84041000181c5e1/event/status', JSON.stringify(chirpstackStatus('a84041000181c5e1', later, { batteryLevel: 9.45 })), { qos: 1 });
      const low = await eventually(() => agent.store.openAlerts().find((a) => a.type === 'battery_low'), 10_000, 'the battery alert');
      expect(low).toMatchObject({ collarId: 'A84041000181C5E1', evidence: { value: 9.45 } });
      expect(agent.pipeline.counters.statusEvents).toBe(1);
      expect(agent.store.openAlerts()).toHaveLength(1);

      // The herd register names the cow by the DevEUI printed on her collar (in whatever case it was typed):
      // the next uplink is hers, and so is the battery alert the collar already had.
      await agent.importHerd('cow,name,collar\n412,Bella,a84041000181c5e1\n');
      const next = new Date(t.getTime() + 15 * 60_000).toISOString();
      await pub.publishAsync('application/herd/device/a84041000181c5e1/event/up', JSON.stringify(chirpstackUp('a84041000181c5e1', next, { motion: { count: 300 } })), { qos: 1 });
      await eventually(() => agent.pipeline.detector.cows.get('412')?.newestTs === Date.parse(next), 10_000, 'the uplink as cow 412\'s reading');
      expect(agent.pipeline.detector.cows.get('412')!.subject.collarId).toBe('A84041000181C5E1');
      expect(agent.store.openAlerts()[0]).toMatchObject({ cowId: '412', cowName: 'Bella', type: 'battery_low' });
    } finally {
      await pub.endAsync();
      await agent.stop();
      tmp.cleanup();
    }
  });
});

describe.each(brokerKinds)('a source taken out of the config, on a real %s broker', (kind) => {
  it('is unsubscribed from the persistent session: its uplinks stop arriving instead of being quarantined', async () => {
    const broker = await startBroker(kind);
    const tmp = tempDir();
    const db = join(tmp.dir, 'stale.db');
    const clientId = `cowbell-stale-${kind}-${Math.random().toString(36).slice(2)}`;
    const sources = [{ type: 'chirpstack', applicationId: 'old-app', fields: { activity: 'a' } }];
    const log = memoryLogger();
    let agent = new Agent(testConfig(broker.url, db, { sources, mqtt: { url: broker.url, clientId } }), { logger: log.logger, consoleOut: memoryStream().stream });
    const pub = await mqtt.connectAsync(broker.url, { clientId: `stale-pub-${kind}` });
    try {
      await agent.start();
      await eventually(() => agent.store.getMeta<string[]>('subscribedTopics')?.includes('application/old-app/device/+/event/up'), 10_000, 'the topics recorded');
      await agent.stop();
      agent = new Agent(testConfig(broker.url, db, { mqtt: { url: broker.url, clientId } }), { logger: log.logger, consoleOut: memoryStream().stream });
      await agent.start();
      await eventually(() => log.text().includes('unsubscribed from topics no longer in the config'), 10_000, 'the unsubscribe');
      await eventually(() => agent.store.getMeta<string[]>('subscribedTopics') && !agent.store.getMeta<string[]>('subscribedTopics')!.some((t) => t.includes('old-app')), 10_000, 'the new topics recorded');
      const t = new Date(Math.floor((Date.now() - 3_600_000) / 900_000) * 900_000);
      await pub.publishAsync('application/old-app/device/a84041000181c5e1/event/up', JSON.stringify(chirpstackUp('a84041000181c5e1', t.toISOString(), { a: 5 })), { qos: 1 });
      // A reading on the farm's own topic, published after it, arrives: the old one would have come first.
      await pub.publishAsync('farm/testfarm/collar/C1/reading', JSON.stringify({ ts: t.toISOString(), intervalS: 900, activity: 10 }), { qos: 1 });
      await eventually(() => agent.pipeline.counters.readings === 1, 10_000, 'the native reading');
      expect(agent.pipeline.counters.messages).toBe(1);
      expect(agent.pipeline.counters.quarantined).toBe(0);
    } finally {
      await pub.endAsync();
      await agent.stop();
      await broker.close();
      tmp.cleanup();
    }
  });
});
