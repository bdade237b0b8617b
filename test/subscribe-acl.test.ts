import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { eventually, memoryLogger, memoryStream, tempDir, testConfig } from './helpers.js';

/**
 * A farm's broker ACL written before raw-accelerometer collars existed grants …/reading but refuses
 * …/accel in its SUBACK (as EMQX or HiveMQ do; Mosquitto 2.0 grants and filters at delivery instead).
 * After an upgrade the agent must keep working on counted readings — healthy, saying once what is
 * refused — rather than reporting itself deaf.
 */
describe('a broker that grants readings but refuses raw captures', () => {
  it('stays subscribed and healthy, and says which topic is refused', async () => {
    const aedes = await Aedes.createBroker({
      authorizeSubscribe: (_client, sub, done) => done(null, sub.topic.endsWith('/accel') ? null : sub),
    });
    const server = createServer(aedes.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const tmp = tempDir();
    const log = memoryLogger();
    const agent = new Agent(testConfig(url, join(tmp.dir, 'acl.db')), { logger: log.logger, consoleOut: memoryStream().stream });
    try {
      await agent.start();
      await eventually(() => agent.mqtt.lastError?.includes('accel'), 10_000, 'the refusal');
      expect(agent.mqtt.subscribed).toBe(true);
      expect((await fetch(`http://127.0.0.1:${agent.httpPort}/healthz`)).status).toBe(200);
      expect(log.lines().filter((l) => String(l.msg).startsWith('raw accelerometer topic refused'))).toHaveLength(1);
    } finally {
      await agent.stop();
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
      tmp.cleanup();
    }
  });
});

// Found in a second read: a network server's uplink topic refused by the broker left the agent "healthy"
// with none of that herd arriving; and the uplink topics were only asked for once the farm's own topic was
// granted, so an ACL that allows only them got nothing.
describe("a broker that refuses a network server's uplink topic", () => {
  it('is unhealthy and says which topic, while an ACL that allows only the uplinks still delivers them', async () => {
    const sources = [{ type: 'chirpstack', applicationId: 'herd', fields: { activity: 'act' } }];
    for (const allowOnly of [false, true]) {
      const aedes = await Aedes.createBroker({
        authorizeSubscribe: (_client, sub, done) => done(null, (allowOnly ? !sub.topic.startsWith('application/') : sub.topic.startsWith('application/')) ? null : sub),
      });
      const server = createServer(aedes.handle);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const tmp = tempDir();
      const agent = new Agent(testConfig(url, join(tmp.dir, 'acl.db'), { sources }), { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
      try {
        await agent.start();
        await eventually(() => agent.mqtt.lastError?.includes('subscribe refused'), 10_000, 'the refusal');
        expect(agent.mqtt.subscribed).toBe(false);
        expect(agent.mqtt.lastError).toContain(allowOnly ? 'farm/testfarm/collar/+/reading' : 'application/herd/device/+/event/up');
        expect((await fetch(`http://127.0.0.1:${agent.httpPort}/healthz`)).status).toBe(503);
        if (allowOnly) {
          const ts = new Date(Math.floor((Date.now() - 3_600_000) / 900_000) * 900_000).toISOString();
          const up = { time: ts, deviceInfo: { devEui: 'a84041000181c5e1' }, object: { act: 5 } };
          aedes.publish({ cmd: 'publish', topic: 'application/herd/device/a84041000181c5e1/event/up', payload: Buffer.from(JSON.stringify(up)), qos: 1, retain: false, dup: false }, () => {});
          await eventually(() => agent.pipeline.counters.readings === 1, 10_000, 'the uplink');
        }
      } finally {
        await agent.stop();
        await new Promise<void>((r) => aedes.close(() => r()));
        await new Promise<void>((r) => server.close(() => r()));
        tmp.cleanup();
      }
    }
  });
});
