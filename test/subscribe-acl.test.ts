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
