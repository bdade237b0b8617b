import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { collarTopic } from '../collar-sim/index.js';
import { eventually, memoryLogger, memoryStream, tempDir, testConfig } from './helpers.js';

/**
 * The database's disk full, made real by SQLite's own limit (PRAGMA max_page_count: inserts then fail with
 * SQLITE_FULL, the error a full disk gives): the agent says so, acknowledges nothing it could not store,
 * keeps running, and takes everything once there is room again.
 */
describe('the database disk full', () => {
  it('withholds the acknowledgements, says so, and resumes with nothing lost when space returns', async () => {
    const aedes = await Aedes.createBroker();
    const server = createServer(aedes.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const tmp = tempDir();
    const log = memoryLogger();
    const clientId = `cowbell-full-${Math.random().toString(36).slice(2)}`;
    const agent = new Agent(testConfig(url, join(tmp.dir, 'full.db'), { mqtt: { url, clientId } }), { logger: log.logger, consoleOut: memoryStream().stream, storeRetryMs: 1000 });
    let acks = 0;
    aedes.on('ack', (_p, client) => {
      if (client?.id === clientId) acks++;
    });
    await agent.start();
    const pub = await mqtt.connectAsync(url, { clientId: `full-pub-${Math.random().toString(36).slice(2)}` });
    const t0 = Math.floor((Date.now() - 3 * 86_400_000) / 900_000) * 900_000;
    const send = (i: number) => pub.publishAsync(collarTopic('testfarm', `C${i % 5}`), JSON.stringify({ ts: new Date(t0 + Math.floor(i / 5) * 900_000).toISOString(), intervalS: 900, activity: 10 + (i % 13), rumination: 7 }), { qos: 1 });
    try {
      await eventually(() => agent.mqtt.subscribed, 5000, 'subscribed');
      for (let i = 0; i < 50; i++) await send(i);
      await eventually(() => agent.store.counts().readings === 50, 10_000, 'the first readings');
      // The disk fills: not one more page.
      const pages = agent.store.db.pragma('page_count', { simple: true }) as number;
      // Room for a few more pages: the first group that meets the limit fails part-way, after some of its
      // readings were already judged in memory.
      agent.store.db.pragma(`max_page_count = ${pages + 2}`);
      const total = 1500;
      // In bursts, so groups hold many messages and the one that meets the limit fails part-way.
      for (let i = 50; i < total; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => send(i + k)));
      await eventually(() => agent.mqtt.stalledSince !== null, 10_000, 'the stall');
      // The detector is back to what is committed at once (not a second later, at the retry), so a snapshot
      // that manages to be written during the stall saves nothing the store never took.
      for (const cow of agent.pipeline.detector.cows.values()) {
        const stored = agent.store.db.prepare('SELECT max(ts) AS t FROM readings WHERE collar_id = ?').get(cow.subject.collarId) as { t: number };
        expect(cow.newestTs).toBe(stored.t);
      }
      const stuckAt = agent.store.counts().readings;
      expect(stuckAt).toBeLessThan(total);
      const acksAtStall = acks;
      expect(log.text()).toContain('the database cannot take readings (disk full?)');
      const health = await fetch(`http://127.0.0.1:${agent.httpPort}/healthz`);
      expect(health.status).toBe(503);
      expect(((await (await fetch(`http://127.0.0.1:${agent.httpPort}/api/status`)).json()) as { broker: { lastError: string } }).broker.lastError).toMatch(/^database full since .*: readings wait at the broker/);
      // Retried several times meanwhile: still nothing more stored, nothing more acknowledged.
      await new Promise((r) => setTimeout(r, 2500));
      expect(agent.store.counts().readings).toBe(stuckAt);
      expect(acks).toBe(acksAtStall);
      expect(acks).toBeLessThanOrEqual(stuckAt);

      // Space again.
      agent.store.db.pragma('max_page_count = 1073741823');
      await eventually(() => agent.store.counts().readings === total, 20_000, `all ${total} readings`);
      await eventually(() => acks === total, 10_000, 'every acknowledgement');
      expect(agent.mqtt.stalledSince).toBeNull();
      expect((await fetch(`http://127.0.0.1:${agent.httpPort}/healthz`)).status).toBe(200);
      expect(log.text()).toContain('the database takes readings again; resuming');
      // Counted once each, though the stuck group was processed again on every retry.
      expect(agent.pipeline.counters.readings).toBe(total);
    } finally {
      await pub.endAsync();
      await agent.stop();
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
      tmp.cleanup();
    }
  }, 60_000);
});
