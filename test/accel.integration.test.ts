import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { brokerKinds, eventually, memoryLogger, memoryStream, startBroker, tempDir, testConfig, type TestBroker } from './helpers.js';

const FARM = 'testfarm';
const QUARTER = 15 * 60_000;

describe.each(brokerKinds)('raw accelerometer captures through a real %s broker', (kind) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker(kind);
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('stores a capture as activity readings, quarantines a bad one and moves the status counters', async () => {
    const tmp = tempDir();
    const agent = new Agent(testConfig(broker.url, join(tmp.dir, 'accel.db')), { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
    await agent.start();
    const pub = await mqtt.connectAsync(broker.url, { clientId: `accel-pub-${kind}` });
    try {
      await eventually(() => agent.mqtt.subscribed, 10_000, 'subscribed');
      // Two minutes at 10 Hz, starting a minute before a quarter hour an hour ago: one reading each side of it.
      const quarter = Math.floor((Date.now() - 3_600_000) / QUARTER) * QUARTER;
      const hz = 10;
      const samples = Array.from({ length: 120 * hz }, (_, i) => [0, 0.2 * Math.sin((2 * Math.PI * 1.5 * i) / hz), 1]);
      const topic = `farm/${FARM}/collar/C300/accel`;
      await pub.publishAsync(topic, JSON.stringify({ ts: quarter - 60_000, hz, samples }), { qos: 1 });
      await pub.publishAsync(topic, JSON.stringify({ ts: quarter, hz, samples: [[0, 0, 1], [0, 0, 99]] }), { qos: 1 });
      await eventually(() => agent.pipeline.counters.messages === 2, 10_000, 'both messages');

      const rows = agent.store.db.prepare('SELECT ts, interval_s, activity FROM readings WHERE collar_id = ? ORDER BY ts').all('C300') as { ts: number; interval_s: number; activity: number }[];
      expect(rows.map((r) => [r.ts, r.interval_s])).toEqual([[quarter, 60], [quarter + 60_000, 60]]);
      // Mean VeDBA of a 0.2 g sine is 2·0.2/π g, over 60 s per reading (a little less near the capture's edges).
      for (const r of rows) expect(r.activity).toBeGreaterThan(0.9 * 60 * ((2 * 0.2) / Math.PI));
      for (const r of rows) expect(r.activity).toBeLessThan(1.05 * 60 * ((2 * 0.2) / Math.PI));

      const status = (await (await fetch(`http://127.0.0.1:${agent.httpPort}/api/status`)).json()) as {
        ingest: { messages: number; readings: number; quarantined: number };
        store: { readings: number };
        recentQuarantine: { topic: string; reason: string }[];
      };
      expect(status.ingest).toMatchObject({ messages: 2, readings: 2, quarantined: 1 });
      expect(status.store.readings).toBe(2);
      expect(status.recentQuarantine).toEqual([expect.objectContaining({ topic, reason: 'samples[1][2]: 99 g is outside ±16 g' })]);

      // A redelivered capture maps to the same readings: stored once.
      await pub.publishAsync(topic, JSON.stringify({ ts: quarter - 60_000, hz, samples }), { qos: 1 });
      await eventually(() => agent.pipeline.counters.duplicates === 2, 10_000, 'duplicates');
      expect(agent.pipeline.counters.readings).toBe(2);
    } finally {
      await pub.endAsync();
      await agent.stop();
      tmp.cleanup();
    }
  });
});
