import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { collarTopic, readingToWire, simulateHerd } from '../collar-sim/index.js';
import type { AlertEvent } from '../rules/index.js';
import { brokerKinds, eventually, memoryLogger, memoryStream, startBroker, tempDir, testConfig, simEnd, type TestBroker } from './helpers.js';

const HOUR = 3_600_000;
const FARM = 'testfarm';

/**
 * Found when the agent drained a queued backlog of ~870k readings: the MQTT alert channel published on
 * the ingest connection, whose PUBACK waited behind the backlog that mqtt.js hands over one packet at a
 * time — publishes timed out and the channel backed off for minutes. Alerts now have a connection of
 * their own: an alert raised mid-backlog reaches a subscriber while the backlog is still draining.
 */
describe.each(brokerKinds)('alerts on MQTT while a backlog drains (%s)', (kind) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker(kind);
  });
  afterAll(async () => {
    await broker?.close();
  });

  // The backlog must outlast the alert: since a group waits for the next socket reads while they keep
  // coming, a backlog of 57,600 readings was at times committed in full before the alert went out.
  it('publishes an alert while a queued backlog of 172,800 readings are still being committed, within seconds', async () => {
    const tmp = tempDir();
    const config = testConfig(broker.url, join(tmp.dir, 'backlog.db'), { mqtt: { url: broker.url, clientId: `backlog-${kind}` } });
    const quiet = { logger: memoryLogger().logger, consoleOut: memoryStream().stream };
    // A first run creates the persistent session; then the agent is away while the herd's readings queue up.
    let agent = new Agent(config, quiet);
    await agent.start();
    await eventually(() => agent.mqtt.subscribed, 10_000, 'subscribed');
    await agent.stop();

    // As a collar uploads after a gap: a day of 15-minute readings per message.
    const end = simEnd();
    const sim = simulateHerd({ farmId: FARM, cows: 60, startMs: end - 30 * 24 * HOUR, days: 30, seed: 11, episodes: 'none' });
    const byCollar = new Map<string, Record<string, unknown>[]>();
    for (const r of sim.readings()) byCollar.set(r.collarId, [...(byCollar.get(r.collarId) ?? []), readingToWire(r)]);
    const publisher = await mqtt.connectAsync(broker.url, { clientId: `pub-${kind}` });
    let total = 0;
    for (const [collarId, readings] of byCollar) {
      const inFlight: Promise<unknown>[] = [];
      for (let i = 0; i < readings.length; i += 96) {
        const batch = readings.slice(i, i + 96);
        total += batch.length;
        inFlight.push(publisher.publishAsync(collarTopic(FARM, collarId), JSON.stringify({ readings: batch }), { qos: 1 }));
      }
      await Promise.all(inFlight);
    }
    await publisher.endAsync();

    const watcher = await mqtt.connectAsync(broker.url, { clientId: `watch-backlog-${kind}` });
    const seen = new Map<string, number>();
    watcher.on('message', (_t, payload) => seen.set((JSON.parse(String(payload)) as { id: string }).id, Date.now()));
    await watcher.subscribeAsync(`farm/${FARM}/alert/#`, { qos: 1 });

    agent = new Agent(config, quiet);
    try {
      await agent.start();
      await eventually(() => agent.pipeline.counters.readings > 5_000, 30_000, 'the backlog to start draining');
      const e: AlertEvent = {
        id: 'health:X1:1', farmId: FARM, cowId: 'X1', collarId: 'X1', type: 'health', state: 'firing', severity: 'urgent',
        at: end, since: end - HOUR, raisedAt: end, evidence: { metric: 'activity', ratio: 0.3 },
      };
      const raisedAt = Date.now();
      agent.store.transaction(() => agent.store.recordAlert(e, ['mqtt'], raisedAt));
      agent.outbox.nudge();
      await eventually(() => seen.has(e.id), 5_000, 'the alert on MQTT');
      const latency = seen.get(e.id)! - raisedAt;
      const drainedWhenSeen = agent.pipeline.counters.readings;
      // What matters here is that the alert does not wait for the backlog (it goes out while readings are
      // still being committed); the latency itself is a figure for the benchmark. The bound is loose because
      // this machine is shared: 2 s was missed by 40 ms once under another job's load.
      expect(drainedWhenSeen).toBeLessThan(total);
      expect(latency).toBeLessThan(5_000);
      expect(agent.outbox.stats.retried).toBe(0);
      await eventually(() => agent.pipeline.counters.readings + agent.pipeline.counters.duplicates >= total, 120_000, 'the backlog');
    } finally {
      await watcher.endAsync();
      await agent.stop();
      tmp.cleanup();
    }
  });
});
