import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { collarTopic } from '../collar-sim/index.js';
import { eventually, freePort, hasMosquitto, memoryLogger, memoryStream, runMosquitto, tempDir, testConfig } from './helpers.js';

/**
 * The broker restarted while readings stream in (a gateway's Mosquitto upgraded, or killed by the OOM
 * killer), with persistence on as deploy/mosquitto-cowbell.conf sets it: the agent reconnects to its
 * session and every reading the publisher had acknowledged is stored, once.
 */
describe.skipIf(!hasMosquitto)('the broker restarted under load', () => {
  it('loses no acknowledged reading', async () => {
    const tmp = tempDir();
    const port = await freePort();
    const conf = join(tmp.dir, 'mosquitto.conf');
    writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${tmp.dir}/\nautosave_interval 1\nmax_queued_messages 100000\n${process.getuid?.() === 0 ? 'user root\n' : ''}`);
    // (Run as root, Mosquitto would drop to the mosquitto user, which cannot write this test's directory.)
    let broker = await runMosquitto(conf, port);
    const url = `mqtt://127.0.0.1:${port}`;
    const log = memoryLogger();
    const agent = new Agent(testConfig(url, join(tmp.dir, 'r.db'), { mqtt: { url, clientId: 'cowbell-restart' } }), { logger: log.logger, consoleOut: memoryStream().stream });
    await agent.start();
    // mqtt.js keeps what it could not send and sends it again after reconnecting.
    const pub = await mqtt.connectAsync(url, { clientId: 'restart-pub', clean: false, reconnectPeriod: 200 });
    pub.on('error', () => {});
    try {
      await eventually(() => agent.mqtt.subscribed, 10_000, 'subscribed');
      const t0 = Math.floor((Date.now() - 20 * 86_400_000) / 900_000) * 900_000;
      const total = 2000;
      const sent: Promise<unknown>[] = [];
      for (let i = 0; i < total; i++) {
        sent.push(pub.publishAsync(collarTopic('testfarm', `C${i % 4}`), JSON.stringify({ ts: new Date(t0 + Math.floor(i / 4) * 900_000).toISOString(), intervalS: 900, activity: 12 }), { qos: 1 }));
        if (i === 1000) {
          await broker.stop();
          broker = await runMosquitto(conf, port);
        }
        if (i % 100 === 0) await new Promise((r) => setTimeout(r, 10));
      }
      await Promise.all(sent);
      await eventually(() => agent.store.counts().readings === total, 60_000, `all ${total} readings`).catch((err: Error) => {
        throw new Error(`${err.message}: ${agent.store.counts().readings} stored\n${log.text().slice(-2000)}`);
      });
      expect(agent.mqtt.connected).toBe(true);
      // It came back to its own session, kept on disk across the restart.
      expect(log.lines().filter((l) => l.msg === 'connected to broker').map((l) => l.sessionPresent)).toEqual([false, true]);
      expect(agent.pipeline.counters.readings).toBe(total);
    } finally {
      await pub.endAsync();
      await agent.stop();
      await broker.stop();
      tmp.cleanup();
    }
  }, 90_000);
});
