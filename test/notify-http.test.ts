import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { formatAlert } from '../agent/notify/render.js';
import type { AlertRow } from '../agent/store/store.js';
import { eventually, memoryLogger, memoryStream, tempDir, testConfig } from './helpers.js';

const base: AlertRow = {
  id: 'heat:C7:1', farmId: 'f', cowId: 'C7', collarId: 'C7', type: 'heat', state: 'firing', severity: 'warning',
  since: Date.parse('2026-11-24T23:30:00Z'), at: Date.parse('2026-11-25T03:00:00Z'), raisedAt: Date.parse('2026-11-25T03:00:00Z'),
  evidence: { metric: 'activity', ratio: 2.43, window: { hours: 6 } },
};

describe('messages the farmer reads', () => {
  it('heat: who, since when in the farm time zone, how strong, and when to inseminate', () => {
    const text = formatAlert(base, { timezone: 'Europe/Zurich' });
    expect(text).toContain('Cow C7 is probably in heat, since about Wed 25 Nov, 00:30');
    expect(text).toContain('Activity 2.4× her normal over the last 6 h');
    expect(text).toContain('(12:30–18:30)');
  });

  it('health: both metrics in plain percentages, and urgency up front', () => {
    const text = formatAlert(
      { ...base, type: 'health', severity: 'urgent', evidence: { metric: 'rumination', ratio: 0.42, window: { hours: 12 }, also: { metric: 'activity', ratio: 0.55 } } },
      { timezone: 'UTC' },
    );
    expect(text.split('\n')[0]).toBe('URGENT: Cow C7 may be unwell, since about Tue 24 Nov, 23:30.');
    expect(text).toContain('Rumination 42% of her normal, activity 55% of her normal over the last 12 h.');
    expect(text).toMatch(/call the vet/);
  });

  it('collar offline names the collar, and the cow when she has her own name; resolved says when', () => {
    const offline = formatAlert({ ...base, type: 'collar_offline', cowId: 'Bella', collarId: 'C7', severity: 'info', evidence: {} }, { timezone: 'UTC' });
    expect(offline).toContain('Collar C7 on cow Bella has sent nothing since Tue 24 Nov, 23:30 (4 h).');
    const resolved = formatAlert({ ...base, state: 'resolved' }, { timezone: 'UTC' });
    expect(resolved).toBe('Cow C7: heat activity is over (began Tue 24 Nov, 23:30, ended Wed 25 Nov, 03:00).');
  });

  it('missed heat: the day her last heat began in the farm time zone, and how many days since', () => {
    const missed: AlertRow = {
      ...base, id: 'missed_heat:C7:1', type: 'missed_heat', severity: 'info', since: Date.parse('2026-10-30T23:30:00Z'),
      evidence: { lastHeatSince: '2026-10-30T23:30:00.000Z', daysSinceLastHeat: 25.1, expectedFrom: '2026-11-17T23:30:00.000Z', expectedTo: '2026-11-23T23:30:00.000Z' },
    };
    // 23:30 UTC is already the next day in Zurich.
    expect(formatAlert(missed, { timezone: 'Europe/Zurich' }).split('\n')[0]).toBe('Cow C7 is overdue for heat: her last one began on Sat 31 Oct, 25 days ago.');
    expect(formatAlert(missed, { timezone: 'UTC' })).toContain('between Tue 17 Nov and Mon 23 Nov');
  });
});

describe('secrets', () => {
  it('never reach the log, even when the broker refuses the connection', async () => {
    const tmp = tempDir();
    const log = memoryLogger();
    const config = testConfig('mqtt://farmhand:hunter2-secret@127.0.0.1:1', join(tmp.dir, 's.db'), {
      mqtt: { url: 'mqtt://farmhand:hunter2-secret@127.0.0.1:1', username: 'farmhand', password: 'hunter2-secret' },
    });
    const agent = new Agent(config, { logger: log.logger, consoleOut: memoryStream().stream });
    await agent.start();
    try {
      await eventually(() => log.lines().some((l) => l.msg === 'broker connection error'), 5000, 'a refused connection');
      log.logger.info({ config: config.mqtt }, 'even a careless log of the whole mqtt config');
      expect(log.text()).toContain('farmhand:***@127.0.0.1');
      expect(log.text()).not.toContain('hunter2');
      const status = await (await fetch(`http://127.0.0.1:${agent.httpPort}/api/status`)).text();
      expect(status).not.toContain('hunter2');
    } finally {
      await agent.stop();
      tmp.cleanup();
    }
  });
});

describe('HTTP', () => {
  it('serves health, alerts changed since a time (a polling cursor), status and the status page', async () => {
    const tmp = tempDir();
    // Nothing listens on port 1: the agent must report the broker as down, not crash.
    const agent = new Agent(testConfig('mqtt://127.0.0.1:1', join(tmp.dir, 'h.db')), { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
    await agent.start();
    try {
      agent.store.transaction(() => {
        agent.store.recordAlert({ ...base, state: 'firing' }, [], Date.parse('2026-11-20T00:00:00Z'));
        // Raised from a late reading: its event time is earlier than C7's, but it was recorded later.
        agent.store.recordAlert({ ...base, state: 'firing', id: 'heat:C8:1', cowId: 'C8', collarId: 'C8', since: Date.parse('2026-11-18T20:00:00Z'), at: Date.parse('2026-11-19T00:00:00Z') }, [], Date.parse('2026-11-25T03:00:05Z'));
      });
      const url = `http://127.0.0.1:${agent.httpPort}`;
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ ok: false, broker: false });

      const since = await (await fetch(`${url}/api/alerts?since=2026-11-24T00:00:00Z`)).json();
      expect(since).toEqual({
        alerts: [{
          id: 'heat:C8:1', farmId: 'f', cowId: 'C8', collarId: 'C8', type: 'heat', state: 'firing', severity: 'warning',
          at: '2026-11-19T00:00:00.000Z', since: '2026-11-18T20:00:00.000Z', evidence: base.evidence,
          recordedAt: '2026-11-25T03:00:05.000Z',
        }],
      });
      expect((await fetch(`${url}/api/alerts?since=yesterday`)).status).toBe(400);
      expect(((await (await fetch(`${url}/api/alerts`)).json()) as { alerts: unknown[] }).alerts).toHaveLength(2);

      const status = (await (await fetch(`${url}/api/status`)).json()) as { broker: { connected: boolean }; store: { openAlerts: number } };
      expect(status.broker.connected).toBe(false);
      expect(status.store.openAlerts).toBe(2);

      const page = await (await fetch(`${url}/`)).text();
      expect(page).toContain('Open alerts (2)');
      expect(page).toContain('Cow C8 is probably in heat');
      // A cow overdue for heat shows in the farmer's words, like every other type.
      agent.store.transaction(() => {
        agent.store.recordAlert({
          ...base, state: 'firing', id: 'missed_heat:C9:1', cowId: 'C9', collarId: 'C9', type: 'missed_heat', severity: 'info',
          since: Date.parse('2026-10-30T23:00:00Z'), evidence: { lastHeatSince: '2026-10-30T23:00:00.000Z', daysSinceLastHeat: 25.2 },
        }, [], Date.parse('2026-11-25T03:00:06Z'));
      });
      const withMissed = await (await fetch(`${url}/`)).text();
      expect(withMissed).toContain('Open alerts (3)');
      expect(withMissed).toContain('Cow C9 is overdue for heat: her last one began on Fri 30 Oct, 25 days ago.');
      expect((await fetch(`${url}/nope`)).status).toBe(404);

      // Acknowledge from the status page; a form posted from another site is refused (CSRF).
      const cross = await fetch(`${url}/api/alerts/heat:C8:1/ack`, { method: 'POST', headers: { origin: 'https://evil.example' } });
      expect(cross.status).toBe(403);
      expect(agent.store.alert('heat:C8:1')?.state).toBe('firing');
      const same = await fetch(`${url}/api/alerts/heat:C8:1/ack`, { method: 'POST', headers: { origin: url } });
      expect(same.status).toBe(200);
      expect(agent.store.alert('heat:C8:1')).toMatchObject({ state: 'acknowledged', ack: { by: 'status page' } });
    } finally {
      await agent.stop();
      tmp.cleanup();
    }
  });
});
