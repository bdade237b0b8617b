import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { collarTopic, readingToWire } from '../collar-sim/index.js';
import { brokerKinds, eventually, memoryLogger, memoryStream, startBroker, tempDir, testConfig, type TestBroker } from './helpers.js';

describe.each(brokerKinds)('acknowledge after commit (%s)', (kind) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker(kind);
  });
  afterAll(async () => broker?.close());

  it('a reading the store could not commit is not acknowledged, and arrives again after the restart', async () => {
    const tmp = tempDir();
    const config = testConfig(broker.url, join(tmp.dir, 'f.db'), { mqtt: { url: broker.url, clientId: `cowbell-ack-${kind}` } });
    const fatal: Error[] = [];
    const first = new Agent(config, { logger: memoryLogger().logger, consoleOut: memoryStream().stream, onFatal: (e) => fatal.push(e) });
    await first.start();
    await eventually(() => first.mqtt.subscribed, 5000, 'subscribed');
    // The disk fails: every insert into readings aborts.
    first.store.db.exec(`CREATE TRIGGER disk_full BEFORE INSERT ON readings BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`);
    const ts = Math.floor((Date.now() - 3_600_000) / 900_000) * 900_000;
    const pub = await mqtt.connectAsync(broker.url, { clientId: `ack-pub-${kind}` });
    await pub.publishAsync(collarTopic('testfarm', 'C1'), JSON.stringify(readingToWire({ collarId: 'C1', ts, intervalS: 900, activity: 10 })), { qos: 1 });
    await pub.endAsync();
    await eventually(() => fatal.length > 0, 5000, 'the fatal store error');
    expect(fatal[0]!.message).toMatch(/disk I\/O error/);
    await first.stop();

    // Nothing was committed and no snapshot claims otherwise.
    const second = new Agent(config, { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
    second.store.db.exec('DROP TRIGGER disk_full');
    expect(second.store.counts().readings).toBe(0);
    expect(second.store.loadSnapshots().cows).toEqual([]);
    await second.start();
    try {
      await eventually(() => second.store.counts().readings === 1, 10_000, 'redelivery of the unacknowledged reading');
      expect(second.pipeline.detector.cows.get('C1')!.newestTs).toBe(ts);
    } finally {
      await second.stop();
      tmp.cleanup();
    }
  });
});
