import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { collarTopic, readingToWire } from '../collar-sim/index.js';
import { eventually, memoryLogger, memoryStream, startBroker, tempDir, testConfig, type TestBroker } from './helpers.js';

const HOUR = 3_600_000;

describe('a collar gone silent, judged by the wall clock (injected)', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker('aedes');
  });
  afterAll(async () => broker?.close());

  it('alerts once the link has been up for the silence period, and not in a flood after a restart', async () => {
    const tmp = tempDir();
    const t0 = Math.floor(Date.now() / 900_000) * 900_000;
    let now = t0;
    const config = testConfig(broker.url, join(tmp.dir, 's.db'), { mqtt: { url: broker.url, clientId: 'cowbell-silence' } });
    const make = () => new Agent(config, { logger: memoryLogger().logger, consoleOut: memoryStream().stream, clock: () => now });

    const first = make();
    await first.start();
    await eventually(() => first.mqtt.connected, 5000, 'connect');
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'silence-pub' });
    for (const collarId of ['C1', 'C2']) {
      await pub.publishAsync(collarTopic('testfarm', collarId), JSON.stringify(readingToWire({ collarId, ts: t0, intervalS: 900, activity: 10 })), { qos: 1 });
    }
    await eventually(() => first.pipeline.counters.readings === 2, 5000, 'readings');

    now = t0 + 5 * HOUR;
    first.checkSilence();
    expect(first.store.openAlerts()).toEqual([]);

    // C2 keeps talking; C1 says nothing more.
    await pub.publishAsync(collarTopic('testfarm', 'C2'), JSON.stringify(readingToWire({ collarId: 'C2', ts: now, intervalS: 900, activity: 10 })), { qos: 1 });
    await eventually(() => first.pipeline.counters.readings === 3, 5000, 'C2 again');
    now = t0 + 6 * HOUR + 60_000;
    first.checkSilence();
    const open = first.store.openAlerts();
    expect(open.map((a) => [a.type, a.collarId])).toEqual([['collar_offline', 'C1']]);
    expect(open[0]!.evidence).toMatchObject({ judgedBy: 'wall_clock', lastReadingAt: new Date(t0).toISOString() });
    await first.stop();

    // The agent was away for 10 hours; C2 has not sent since it came back. It must not be paged right away…
    now += 10 * HOUR;
    const second = make();
    await second.start();
    try {
      await eventually(() => second.mqtt.connected, 5000, 'reconnect');
      now += 60_000;
      second.checkSilence();
      expect(second.store.openAlerts().map((a) => a.collarId)).toEqual(['C1']);
      // …but once the link has been up for 6 hours with still nothing from it, it is.
      now += 6 * HOUR;
      second.checkSilence();
      expect(second.store.openAlerts().map((a) => a.collarId).sort()).toEqual(['C1', 'C2']);
      // And a reading from C1 resolves its alert.
      await pub.publishAsync(collarTopic('testfarm', 'C1'), JSON.stringify(readingToWire({ collarId: 'C1', ts: now, intervalS: 900, activity: 10 })), { qos: 1 });
      await eventually(() => !second.store.openAlerts().some((a) => a.collarId === 'C1'), 5000, 'C1 resolved');
    } finally {
      await pub.endAsync();
      await second.stop();
      tmp.cleanup();
    }
  });
});
