import { join } from 'node:path';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { collarTopic } from '../collar-sim/index.js';
import { eventually, hasMosquitto, memoryLogger, memoryStream, startBroker, tempDir, testConfig } from './helpers.js';

/**
 * "Nothing lost" includes the broker. Mosquitto with its defaults keeps 1000 queued messages per client,
 * in memory: what is published beyond that while the agent is away is gone before the agent could take it.
 * The agent cannot bring those back, but collars that number their readings (`seq`) show the loss, per
 * collar, on the page and in /metrics.
 */
describe.skipIf(!hasMosquitto)('a Mosquitto with its default limits', () => {
  it('drops readings beyond its queue while the agent is away; the collars\' seq numbers show how many, per collar', async () => {
    const broker = await startBroker('mosquitto', { mosquittoDefaults: true });
    const tmp = tempDir();
    const clientId = `cowbell-limits-${Math.random().toString(36).slice(2)}`;
    const config = testConfig(broker.url, join(tmp.dir, 'l.db'), { mqtt: { url: broker.url, clientId } });
    let agent = new Agent(config, { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
    const pub = await mqtt.connectAsync(broker.url, { clientId: `limits-pub-${Math.random().toString(36).slice(2)}` });
    try {
      await agent.start();
      await eventually(() => agent.mqtt.subscribed, 10_000, 'subscribed');
      await agent.stop();
      // 3 collars × 1000 readings while the agent is away.
      const t0 = Math.floor((Date.now() - 12 * 86_400_000) / 900_000) * 900_000;
      const send = (c: string, i: number) =>
        pub.publishAsync(collarTopic('testfarm', c), JSON.stringify({ ts: new Date(t0 + i * 900_000).toISOString(), intervalS: 900, activity: 10, seq: 5000 + i }), { qos: 1 });
      for (let i = 0; i < 1000; i += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, k) => ['A', 'B', 'C'].map((c) => send(c, i + k))).flat());
      }
      agent = new Agent(config, { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
      await agent.start();
      // What the broker kept comes; then nothing more will.
      let last = -1;
      await eventually(() => {
        const n = agent.pipeline.counters.readings;
        const settled = n > 0 && n === last;
        last = n;
        return settled;
      }, 20_000, 'the queue drained');
      const received = agent.pipeline.counters.readings;
      expect(received).toBeLessThan(3000);
      expect(received).toBeGreaterThanOrEqual(1000);
      console.log(`Mosquitto with its defaults passed on ${received} of 3000 readings published while the agent was away`);
      // A queue that overflowed loses its newest messages: the gap shows with each collar's next reading.
      await Promise.all(['A', 'B', 'C'].map((c) => send(c, 1000)));
      await eventually(() => agent.pipeline.counters.readings === received + 3, 10_000, 'the next live readings');
      // Every reading that did not come is counted, against the collar it belongs to.
      const gaps = [...agent.pipeline.seqGaps].map(([c, g]) => [c, g.missing]);
      const missing = gaps.reduce((n, [, m]) => n + (m as number), 0);
      const lastSeqs = agent.store.db.prepare('SELECT collar_id, max(seq) AS max, count(*) AS n FROM readings GROUP BY collar_id').all() as { collar_id: string; max: number; n: number }[];
      // Missing = the numbers between her first and her newest seq that never came.
      const expected = lastSeqs.reduce((n, r) => n + (r.max - 5000 + 1 - r.n), 0);
      expect(missing).toBe(expected);
      expect(missing).toBe(3000 - received);
      expect(missing).toBeGreaterThan(0);
      expect(agent.pipeline.counters.seqMissing).toBe(missing);
      const page = await (await fetch(`http://127.0.0.1:${agent.httpPort}/`)).text();
      expect(page).toMatch(new RegExp(`Readings lost upstream</dt><dd class="bad">${missing} never arrived`));
      expect(await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text()).toContain(`cowbell_readings_missing ${missing}`);
    } finally {
      await pub.endAsync();
      await agent.stop();
      await broker.close();
      tmp.cleanup();
    }
  }, 90_000);
});
