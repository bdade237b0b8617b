import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CowDetail, CowSeries, CowSummary } from '../agent/http/farm.js';
import mqtt from 'mqtt';
import { collarTopic } from '../collar-sim/index.js';
import { startFarm, type Farm } from './farm-fixture.js';
import { eventually } from './helpers.js';

/** The farm page's JSON routes and pages, over real HTTP to an agent that has judged a simulated herd. */
describe('farm page routes', () => {
  let farm: Farm;
  beforeAll(async () => {
    farm = await startFarm();
  }, 90_000);
  afterAll(async () => {
    await farm?.stop();
  });
  const get = (path: string) => fetch(`${farm.url}${path}`);

  it('/api/cows lists every cow with her state, collar, last reading and open alerts', async () => {
    const res = await get('/api/cows');
    expect(res.status).toBe(200);
    const { cows } = (await res.json()) as { cows: CowSummary[] };
    expect(cows.map((c) => c.cowId).sort()).toEqual(farm.sim.cows.map((c) => c.cowId).sort());
    for (const c of cows) {
      expect(c).toMatchObject({ name: null, group: null, registered: false });
      expect(typeof c.collarId).toBe('string');
      expect(Date.parse(c.lastReadingAt!)).toBeGreaterThan(Date.now() - 3 * 3_600_000);
      expect(['down', 'sick', 'heat', 'watch', 'collar', 'learning', 'normal']).toContain(c.state);
    }
    // What the store holds open is what the cows carry, each on her own.
    const open = farm.agent.store.openAlerts();
    expect(open.length).toBeGreaterThan(0);
    expect(cows.flatMap((c) => c.openAlerts.map((a) => a.id)).sort()).toEqual(open.map((a) => a.id).sort());
    for (const a of open) expect(cows.find((c) => c.cowId === a.cowId)!.state).not.toBe('normal');
  });

  it('the gateway section names the cows whose readings came too late to be judged', async () => {
    const cow = farm.sim.cows[1]!;
    const before = farm.agent.pipeline.counters.lateUnjudged;
    // A month old: kept (within the 60-day retention), but older than anything her detector still holds.
    const ts = Math.floor((Date.now() - 30 * 86_400_000) / 900_000) * 900_000;
    const pub = await mqtt.connectAsync(farm.brokerUrl, { clientId: `late-${Math.random().toString(36).slice(2)}` });
    await pub.publishAsync(collarTopic('testfarm', cow.collarId), JSON.stringify({ ts: new Date(ts).toISOString(), intervalS: 60, activity: 3 }), { qos: 1 });
    await pub.endAsync();
    await eventually(() => farm.agent.pipeline.counters.lateUnjudged > before, 10_000, 'the late reading');
    const html = await (await get('/')).text();
    expect(html).toMatch(new RegExp(`too late to be judged \\(stored only\\), for <a href="/cow/${cow.cowId}">${cow.cowId}</a> \\(1\\)`));
  });

  it('/api/cows/<id>/series gives hourly activity and rumination with her baseline band and alert markers', async () => {
    const cowId = farm.sim.cows[0]!.cowId;
    const s = (await (await get(`/api/cows/${cowId}/series?days=7`)).json()) as CowSeries;
    expect(s).toMatchObject({ cowId, days: 7, timezone: 'Europe/Zurich' });
    expect(s.t).toHaveLength(7 * 24);
    for (const k of ['activity', 'rumination'] as const) {
      expect(s[k]).toHaveLength(s.t.length);
      expect(s.band[k].mid).toHaveLength(s.t.length);
    }
    expect(s.t.every((t, i) => i === 0 || t - s.t[i - 1]! === 3600)).toBe(true);
    // 16 days of history: the last week's hours have a band, and her readings mostly sit near it.
    const known = s.band.activity.mid.filter((v) => v !== null).length;
    expect(known).toBeGreaterThan(0.9 * s.t.length);
    for (let i = 0; i < s.t.length; i++) {
      const [lo, mid, hi] = [s.band.activity.lo[i], s.band.activity.mid[i], s.band.activity.hi[i]];
      if (mid === null) continue;
      expect(lo).toBeLessThanOrEqual(mid!);
      expect(hi).toBeGreaterThanOrEqual(mid!);
    }
    expect(s.activity.filter((v) => v !== null).length).toBeGreaterThan(0.9 * s.t.length);
    expect(s.rumination.filter((v) => v !== null).length).toBeGreaterThan(0.9 * s.t.length);
    // Her hourly activity agrees with the readings table.
    const hour = s.t.at(-2)!;
    const rows = farm.agent.store.db.prepare('SELECT activity, interval_s FROM readings WHERE collar_id = ? AND ts > ? AND ts <= ?').all(farm.sim.cows[0]!.collarId, hour * 1000, hour * 1000 + 3_600_000) as { activity: number; interval_s: number }[];
    const sum = rows.reduce((n, r) => n + r.activity, 0);
    const cov = rows.reduce((n, r) => n + r.interval_s, 0);
    expect(s.activity.at(-2)).toBeCloseTo((sum * 3600) / cov, 1);

    // An alert of hers in the window is marked on her chart.
    const withAlert = farm.agent.store.openAlerts()[0]!;
    const month = (await (await get(`/api/cows/${encodeURIComponent(withAlert.cowId)}/series?days=30`)).json()) as CowSeries;
    expect(month.t).toHaveLength(30 * 24);
    expect(month.alerts.map((a) => a.id)).toContain(withAlert.id);
    // 16 days of data in a 30-day window: the hours before her first reading are empty, not zero.
    expect(month.activity[0]).toBeNull();
  });

  it('/api/cows/<id> gives her alerts and heats; unknown cows and bad days are refused', async () => {
    const heat = farm.sim.truth.find((e) => e.type === 'heat')!;
    const detail = (await (await get(`/api/cows/${encodeURIComponent(heat.cowId)}`)).json()) as CowDetail & { alerts: { type: string }[] };
    expect(detail.cow.cowId).toBe(heat.cowId);
    expect(detail.alerts.some((a) => a.type === 'heat')).toBe(true);
    expect(detail.heats.length).toBeGreaterThan(0);
    expect(Date.parse(detail.nextHeat!) - Date.parse(detail.lastHeat!)).toBe(21 * 86_400_000);

    expect((await get('/api/cows/nobody/series?days=7')).status).toBe(404);
    expect((await get('/api/cows/nobody')).status).toBe(404);
    expect((await get('/cow/nobody')).status).toBe(404);
    for (const days of ['0', '61', '2.5', 'week']) expect((await get(`/api/cows/${heat.cowId}/series?days=${days}`)).status).toBe(400);
  });

  it('serves the pages and every asset they load from the agent itself', async () => {
    const overview = await (await get('/')).text();
    for (const c of farm.sim.cows) expect(overview).toContain(`href="/cow/${c.cowId}"`);
    const cowId = farm.sim.cows[0]!.cowId;
    const page = await get(`/cow/${cowId}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const assets = [...(overview + html).matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(new Set(assets)).toEqual(new Set(['/assets/farm.js', '/assets/uPlot.min.css', '/assets/uPlot.iife.min.js', '/assets/cow.js']));
    for (const a of assets) {
      const res = await get(a);
      expect(res.status, a).toBe(200);
      expect((await res.text()).length, a).toBeGreaterThan(100);
    }
    // Nothing from another host: the page works on a gateway without internet.
    expect(overview + html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
  });

  it('escapes what it shows, and a form sends the browser back only to a page of its own', async () => {
    const res = await get('/cow/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('<script>alert(1)');
    const open = farm.agent.store.openAlerts().find((a) => a.state === 'firing')!;
    const bounce = await fetch(`${farm.url}/api/alerts/${encodeURIComponent(open.id)}/snooze?back=//evil.example/`, { method: 'POST', headers: { accept: 'text/html', origin: farm.url }, redirect: 'manual' });
    expect(bounce.status).toBe(303);
    expect(bounce.headers.get('location')).toBe('/');
    const cross = await fetch(`${farm.url}/api/alerts/${encodeURIComponent(open.id)}/ack?back=/`, { method: 'POST', headers: { accept: 'text/html', origin: 'https://evil.example' }, redirect: 'manual' });
    expect(cross.status).toBe(403);
    const back = `/cow/${encodeURIComponent(open.cowId)}`;
    const ok = await fetch(`${farm.url}/api/alerts/${encodeURIComponent(open.id)}/ack?back=${encodeURIComponent(back)}`, { method: 'POST', headers: { accept: 'text/html', origin: farm.url }, redirect: 'manual' });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe(back);
    expect(farm.agent.store.alert(open.id)?.state).toBe('acknowledged');
  });
});
