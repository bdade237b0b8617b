import { join } from 'node:path';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { eventually, memoryLogger, memoryStream, startBroker, tempDir, testConfig, testPipeline, type TestBroker } from './helpers.js';

const FARM = 'testfarm';
const NOW = Date.parse('2026-11-20T12:00:00Z');

/** What a broken collar, a confused gateway or a hostile publisher can put on the farm's topics. */
const collarId = fc.oneof(
  fc.constantFrom('C1', 'C-2', 'a.b', '+', '#', '..', '', ' ', 'x'.repeat(65), 'kuh/1', 'Kühe', '🐄', '\u0000', 'constructor', '__proto__'),
  fc.string({ maxLength: 70 }),
);
const topic = fc.oneof(
  collarId.map((id) => `farm/${FARM}/collar/${id}/reading`),
  collarId.map((id) => `farm/${FARM}/collar/${id}/accel`),
  fc.constantFrom(`farm/${FARM}/collar/C1`, `farm/other/collar/C1/reading`, `farm//collar//reading`, '', '#', `farm/${FARM}/collar/C1/reading/extra`),
);
const number = fc.oneof(
  fc.double(), fc.integer(), fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e308, -1, 2 ** 53 + 1),
  fc.constantFrom('12', 'NaN', 'Infinity', '1e999', '0x10', ''),
);
const ts = fc.oneof(
  fc.integer({ min: -8.64e15, max: 8.64e15 }).map((t) => new Date(t).toISOString()),
  fc.integer({ min: NOW - 100 * 86_400_000, max: NOW + 100 * 86_400_000 }).map((t) => new Date(t).toISOString()),
  fc.constantFrom('2030-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '+275760-09-13T00:00:00.000Z', 'yesterday', '', '2026-13-45T99:99:99Z'),
  number,
);
const reading = fc.record(
  { ts, intervalS: number, activity: number, rumination: number, lying: number, batteryPct: number, seq: number, temperature: number },
  { requiredKeys: [] },
);
const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.json().map((s) => Buffer.from(s)),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  reading.map((r) => Buffer.from(JSON.stringify(r))),
  fc.array(reading, { maxLength: 50 }).map((rs) => Buffer.from(JSON.stringify({ readings: rs }))),
  fc.record({ ts, hz: number, samples: fc.array(fc.array(number, { maxLength: 4 }), { maxLength: 30 }) }).map((a) => Buffer.from(JSON.stringify(a))),
  fc.constantFrom(
    Buffer.from(deep(100_000)),
    Buffer.from(`{"readings":[${'{"ts":"2026-11-20T11:00:00Z","activity":1},'.repeat(20_000)}{}]}`),
    Buffer.alloc(600 * 1024, 0x20),
    Buffer.from('{"ts":"2026-11-20T11:00:00Z","activity":1,"__proto__":{"polluted":true}}'),
    Buffer.from('\uFEFF{"ts":"2026-11-20T11:00:00Z","activity":1}'),
  ),
);

describe('fuzz: malformed input at ingest (fast-check)', () => {
  it('never throws, quarantines what it cannot use with a reason, and never stalls a valid collar beside it', () => {
    let clock = NOW;
    const t = testPipeline({ farmId: FARM, feedsFor: () => ['mqtt'], clock: () => clock });
    const { store, pipeline } = t;
    let good = 0;
    const heap0 = process.memoryUsage().heapUsed;
    try {
      fc.assert(
        fc.property(fc.array(fc.tuple(topic, payload), { minLength: 1, maxLength: 8 }), (messages) => {
          const before = { ...pipeline.counters };
          const quarantinedRows = store.counts().quarantined;
          // A valid reading of a good collar travels in the same group as the garbage.
          clock += 60_000;
          const valid = { topic: `farm/${FARM}/collar/GOOD/reading`, payload: Buffer.from(JSON.stringify({ ts: new Date(NOW - 86_400_000 + good * 900_000).toISOString(), intervalS: 900, activity: 20 })) };
          pipeline.handleMessages([...messages.map(([t, p]) => ({ topic: t, payload: p })), valid]);
          good++;
          const c = pipeline.counters;
          expect(c.messages - before.messages).toBe(messages.length + 1);
          expect(store.db.prepare("SELECT count(*) AS n FROM readings WHERE collar_id = 'GOOD'").get()).toEqual({ n: good });
          // Each message was used, counted as a duplicate, or quarantined with a reason.
          const accounted = c.readings - before.readings + c.duplicates - before.duplicates + c.quarantined - before.quarantined + c.futureUnjudged - before.futureUnjudged;
          expect(accounted).toBeGreaterThanOrEqual(messages.length + 1 - (c.statusEvents - before.statusEvents));
          const rows = store.db.prepare('SELECT reason FROM quarantine WHERE id > (SELECT coalesce(max(id), 0) FROM quarantine) - ?').all(store.counts().quarantined - quarantinedRows) as { reason: string }[];
          for (const r of rows) expect(r.reason.length).toBeGreaterThan(5);
        }),
        { numRuns: 300, seed: 20261127 },
      );
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      // Garbage leaves no garbage behind: the heap after 300 rounds (up to 2,400 bad messages) stays small.
      global.gc?.();
      expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(200 * 1024 * 1024);
    } finally {
      t.close();
    }
  }, 120_000);
});

describe('fuzz through a real broker', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker('aedes');
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('a burst of garbage on the farm topics does not stop the agent or the valid readings published among it', async () => {
    const tmp = tempDir();
    const agent = new Agent(testConfig(broker.url, join(tmp.dir, 'fb.db')), { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
    await agent.start();
    const pub = await mqtt.connectAsync(broker.url, { clientId: `fuzz-pub-${Math.random().toString(36).slice(2)}` });
    try {
      await eventually(() => agent.mqtt.subscribed, 5000, 'subscribed');
      const garbage = fc.sample(fc.tuple(topic, payload), { numRuns: 300, seed: 7 }).filter(([t]) => t.startsWith(`farm/${FARM}/`) && !/[+#\u0000]/.test(t));
      const base = Math.floor((Date.now() - 86_400_000) / 900_000) * 900_000;
      let valid = 0;
      for (const [i, [t, p]] of garbage.entries()) {
        await pub.publishAsync(t, p, { qos: 1 });
        if (i % 10 === 0) {
          await pub.publishAsync(`farm/${FARM}/collar/OK/reading`, JSON.stringify({ ts: new Date(base + valid * 900_000).toISOString(), intervalS: 900, activity: 15 }), { qos: 1 });
          valid++;
        }
      }
      await eventually(() => agent.store.db.prepare("SELECT count(*) AS n FROM readings WHERE collar_id = 'OK'").get() as { n: number }, 20_000, 'the valid readings');
      await eventually(() => (agent.store.db.prepare("SELECT count(*) AS n FROM readings WHERE collar_id = 'OK'").get() as { n: number }).n === valid, 20_000, `all ${valid} valid readings`);
      expect(agent.mqtt.connected && agent.mqtt.subscribed).toBe(true);
      expect(agent.pipeline.counters.quarantined).toBeGreaterThan(garbage.length / 3);
      expect((await fetch(`http://127.0.0.1:${agent.httpPort}/healthz`)).status).toBe(200);
    } finally {
      await pub.endAsync();
      await agent.stop();
      tmp.cleanup();
    }
  }, 60_000);
});
