import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { startDemo } from '../agent/demo.js';
import { eventually, memoryStream } from './helpers.js';

/**
 * The "done when": a simulated herd in the demo reaches the local WhatsApp and Telegram stand-ins
 * as messages a farmer would understand, and a button press acknowledges the alert end to end — in the
 * store, on /api/alerts and on MQTT — with an answer to the farmer.
 */
describe('demo, end to end', () => {
  it('the herd reaches WhatsApp and Telegram, and Anna acknowledges from her phone', async () => {
    const out = memoryStream();
    const demo = await startDemo({ cows: 10, days: 12, speed: 1e9, seed: 3, port: 0, out: out.stream, input: null });
    const watcher = await mqtt.connectAsync(demo.agent.config.mqtt.url, { clientId: 'e2e-watch' });
    const published: { id: string; state: string; ack?: { by: string } }[] = [];
    watcher.on('message', (_t, p) => published.push(JSON.parse(String(p)) as (typeof published)[number]));
    await watcher.subscribeAsync('farm/demo/alert/#', { qos: 1 });
    try {
      const wa = await eventually(() => demo.whatsapp.sent.find((m) => m.type === 'template'), 40_000, 'a WhatsApp message');
      // What her phone shows: an approved template, about a cow by name or, when several come at once, how
      // many (the rest a reply away), with both buttons. Which comes first depends on the time of day the
      // test runs: the herd's history is laid out back from now.
      expect(wa.shown).toMatch(/Cow C\d+|\d+ cows/);
      expect(wa.buttons).toEqual(['Acknowledge', 'Snooze 4 h']);
      const tg = await eventually(() => demo.telegram.sent[0], 40_000, 'a Telegram message');
      expect(tg.text).toMatch(/Kuh|Halsband/);
      expect(tg.buttons.map((b) => b.text)).toEqual(['Gesehen', 'Später (4 Std.)']);
      expect(out.text()).toMatch(/📱 Anna \(WhatsApp template\)/);
      expect(out.text()).toMatch(/📱 Hans \(Telegram\)/);
      // The console says when the history is in and the herd runs in real time.
      await eventually(() => /caught up: 12 days of history are in; the herd now runs in real time/.test(out.text()), 40_000, 'caught up');

      const messageId = Number(JSON.stringify(wa.body).match(/"ack:(\d+)"/)![1]);
      const alertIds = demo.agent.store.notify.alertIdsOfMessage(messageId);
      const open = alertIds.filter((id) => demo.agent.store.alert(id)?.state === 'firing');
      expect(open.length).toBeGreaterThan(0);

      expect(await demo.whatsapp.press('ack')).toBe(200);
      for (const id of open) expect(demo.agent.store.alert(id)).toMatchObject({ state: 'acknowledged', ack: { by: 'Anna' } });
      const api = (await (await fetch(`http://127.0.0.1:${demo.agent.httpPort}/api/alerts`)).json()) as { alerts: { id: string; state: string }[] };
      for (const id of open) expect(api.alerts.find((a) => a.id === id)?.state).toBe('acknowledged');
      await eventually(() => open.every((id) => published.some((p) => p.id === id && p.state === 'acknowledged' && p.ack?.by === 'Anna')), 10_000, 'acknowledged on MQTT');
      // She is told what she acknowledged, in the chat she pressed it in.
      await eventually(() => demo.whatsapp.sent.find((m) => m.type === 'text' && /acknowledged/.test(m.shown)), 10_000, 'the answer to Anna');
    } finally {
      await watcher.endAsync();
      await demo.stop();
    }
  }, 90_000);
});
