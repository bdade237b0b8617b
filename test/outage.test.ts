import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../agent/config.js';
import { Notifier } from '../agent/notify/notifier.js';
import { whatsappTemplates } from '../agent/notify/render.js';
import { WhatsAppChannel } from '../agent/notify/whatsapp.js';
import { Store } from '../agent/store/store.js';
import type { AlertEvent, AlertType, Severity } from '../rules/index.js';
import { memoryLogger, tempDir } from './helpers.js';
import { startWhatsAppStandIn, type WhatsAppStandIn } from './standins/whatsapp.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const ANNA = '41790000001';

function ev(type: AlertType, cow: string, raisedAt: number, severity: Severity = 'warning'): AlertEvent {
  return {
    id: `${type}:${cow}:${raisedAt}`, farmId: 'f', cowId: cow, collarId: cow, type, state: 'firing', severity,
    at: raisedAt, since: raisedAt - 2 * HOUR, raisedAt,
    evidence: type === 'health' ? { metric: 'rumination', ratio: 0.45, window: { hours: 24 }, also: { metric: 'activity', ratio: 0.6 } } : { metric: 'activity', ratio: 2.6, window: { hours: 6 } },
  };
}

/**
 * The chat API is down for 72 hours (the gateway's 4G, or Meta) while the herd goes on: heats come and
 * go, a cow falls sick and one recovers, the gateway's radio drops 20 collars for four hours. When the
 * API returns, the farmer gets a few messages that say what is still to do and summarise what is over —
 * every notification delivered or summarised, none twice. Real HTTP to the WhatsApp stand-in, injected clock.
 */
describe('a 72-hour outage of the chat API', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: Store;
  let wa: WhatsAppStandIn;
  let now: number;

  beforeEach(async () => {
    tmp = tempDir();
    store = new Store(join(tmp.dir, 'outage.db'));
    now = Date.parse('2026-11-20T06:00:00Z');
    wa = await startWhatsAppStandIn({ token: 'tok', phoneNumberId: '1234567', appSecret: 'app', clock: () => now, templates: whatsappTemplates() });
  });
  afterEach(async () => {
    await wa.close();
    store.close();
    tmp.cleanup();
  });

  it('ends with every message delivered or summarised, none twice, and only a few messages', async () => {
    const c = parseConfig({
      farm: { id: 'f', name: 'Hillside', timezone: 'Europe/Zurich' },
      mqtt: { url: 'mqtt://127.0.0.1:1' },
      channels: { whatsapp: { phoneNumberId: '1234567', token: 'tok', apiBaseUrl: wa.url } },
      recipients: [{ name: 'Anna', channel: 'whatsapp', address: ANNA, language: 'en' }],
    });
    const log = memoryLogger();
    const nf = new Notifier({
      store, recipients: c.recipients, escalation: [], policy: c.notify, farmName: 'Hillside',
      channels: [new WhatsAppChannel(c.channels.whatsapp!)], logger: log.logger, feedsFor: () => [], clock: () => now, random: () => 0.5,
    });
    const record = (e: AlertEvent) => store.transaction(() => store.recordAlert(e, [], now) && nf.route(e, now));
    const resolveAt = new Map<number, AlertEvent[]>();
    const raise = (e: AlertEvent, lastsH?: number) => {
      record(e);
      if (lastsH !== undefined) {
        const t = now + lastsH * HOUR;
        resolveAt.set(t, [...(resolveAt.get(t) ?? []), e]);
      }
    };

    const start = now;
    wa.failNext(...Array.from({ length: 2_000 }, () => ({ code: 131000, httpStatus: 500 })));
    const script: [hour: number, act: () => void][] = [
      [1, () => raise(ev('heat', 'C01', now), 14)],
      [5, () => raise(ev('heat', 'C02', now), 16)],
      [9, () => raise(ev('health', 'C03', now), 30)],
      [20, () => raise(ev('battery_low', 'C04', now, 'info'))],
      [26, () => raise(ev('heat', 'C05', now), 12)],
      [30, () => { for (let i = 0; i < 20; i++) raise(ev('collar_offline', `K${String(i).padStart(2, '0')}`, now, 'info'), 4); }],
      [40, () => raise(ev('health', 'C06', now, 'urgent'))],
      [50, () => raise(ev('heat', 'C07', now), 15)],
      [66, () => raise(ev('heat', 'C08', now))],
    ];
    let attempts = 0;
    while (now < start + 72 * HOUR) {
      for (const [h, act] of script) if (now === start + h * HOUR) act();
      for (const e of resolveAt.get(now) ?? []) record({ ...e, state: 'resolved', at: now });
      nf.tick();
      await nf.drain();
      attempts = wa.requests.length;
      now += 5 * MIN;
    }
    expect(wa.sent).toEqual([]);
    // Backoff capped at 15 min: it kept trying through the outage, without hammering.
    expect(attempts).toBeGreaterThan(72 * 2);
    expect(attempts).toBeLessThan(72 * 12);

    wa.clearFailures();
    const back = now;
    for (; now < back + 2 * HOUR; now += MIN) {
      nf.tick();
      await nf.drain();
    }

    const texts = wa.sent.map((m) => m.shown).join('\n---\n');
    if (process.env.SHOW) console.log(texts, store.notify.recentMessages(5).map((m) => m.text));
    // A handful of messages, not the 30-odd the alerts would have been one by one.
    expect(wa.sent.length).toBeGreaterThanOrEqual(1);
    expect(wa.sent.length).toBeLessThanOrEqual(3);
    // Outside the 24-h window: templates, with the buttons' payloads carrying the message id.
    expect(wa.sent.every((m) => m.type === 'template')).toBe(true);
    // Still to act on: the urgent sick cow and the latest heat.
    expect(texts).toMatch(/C06/);
    expect(texts).toMatch(/C08/);

    // Nothing left behind, nothing failed, nothing dropped, nothing expired.
    const counts = store.notify.counts();
    expect(Object.keys(counts).sort()).toEqual(expect.arrayContaining(['sent']));
    expect(counts.pending ?? 0).toBe(0);
    expect(counts.failed ?? 0).toBe(0);
    expect(counts.dropped ?? 0).toBe(0);
    expect(counts.expired ?? 0).toBe(0);
    // Each alert's first notification was carried by exactly one delivered message.
    const carried = store.db
      .prepare(`SELECT n.alert_id, count(DISTINCT m.id) AS messages FROM notifications n JOIN messages m ON m.id = n.message_id
                WHERE n.kind = 'new' AND m.status = 'sent' GROUP BY n.alert_id`)
      .all() as { alert_id: string; messages: number }[];
    expect(carried).toHaveLength(store.db.prepare(`SELECT count(*) AS n FROM alerts`).pluck().get() as number);
    expect(carried.every((r) => r.messages === 1)).toBe(true);
    // What the stand-in received is exactly what the store says was sent.
    expect(store.notify.recentMessages(1000).filter((m) => m.status === 'sent').map((m) => m.providerId).sort()).toEqual(wa.sent.map((m) => m.wamid).sort());
    expect(log.text()).not.toContain('tok"');
  });
});
