import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { CowbellError } from '../agent/errors.js';
import { formatHerdCsv, parseHerdCsv } from '../agent/herd/csv.js';
import { exportHerd, importHerd } from '../agent/herd/import.js';
import { applyHerd } from '../agent/herd/register.js';
import { cowPage } from '../agent/http/cow-page.js';
import { farmViews } from '../agent/http/farm.js';
import { times } from '../agent/http/html.js';
import { DEFAULT_RULES } from '../rules/index.js';
import { publishHerd, collarTopic, simulateHerd } from '../collar-sim/index.js';
import { eventually, freePort, memoryStream, startBroker, tempDir, testConfig, testPipeline, simEnd, type TestBroker } from './helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('herd file (CSV)', () => {
  it('reads what farm software and spreadsheets write: aliases, semicolons, a BOM, German dates, DevEUIs in any case', () => {
    const rows = parseHerdCsv('\uFEFFKuh Nr;Name;DevEUI;Pen;Calving date\n412;Bella;70b3d57ed0001a2b;dry;14.3.2026\n413;;;;\n');
    // No "inseminated" or "notes" column: those fields are absent, so the register keeps what it has.
    expect(rows).toEqual([
      { cow: '412', name: 'Bella', collar: '70B3D57ED0001A2B', group: 'dry', calved: '2026-03-14' },
      { cow: '413', name: null, collar: null, group: null, calved: null },
    ]);
    expect(parseHerdCsv(formatHerdCsv(rows))).toEqual(rows.map((r) => ({ ...r, inseminated: null, notes: null })));
  });

  it('lists every problem with its line and imports nothing', () => {
    const text = 'cow,name,colar,calved\n412,Bella,,2026-02-30\n,Nameless,,\n412,Again,,\n';
    let err: unknown;
    try {
      parseHerdCsv(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CowbellError);
    const msg = (err as Error).message;
    expect(msg).toContain('line 1: unknown column "colar"');
    expect(msg).toContain('line 2: calved "2026-02-30" is not a date');
    expect(msg).toContain('line 3: no cow number');
    expect(msg).toContain('line 4: cow 412 is listed twice (also line 2)');
  });

  it('refuses one collar on two cows', () => {
    expect(() => parseHerdCsv('cow,collar\n1,C-1\n2,C-1\n')).toThrow(/line 3: collar C-1 is on two cows \(also line 2\)/);
  });
});

async function postHerd(agent: Agent, csv: string) {
  const res = await fetch(`http://127.0.0.1:${agent.httpPort}/api/herd`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('herd register in a running agent (real broker, real HTTP, real SQLite)', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker('aedes');
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('names cows as the farmer knows them, keeps what an unassigned collar learned, and forgets a cow whose collar moved', async () => {
    const tmp = tempDir();
    const db = join(tmp.dir, 'herd.db');
    const end = simEnd();
    const sim = simulateHerd({ farmId: 'testfarm', cows: 3, startMs: end - 6 * DAY, days: 6, seed: 5, episodes: 'none' });
    const [a, b, c] = sim.cows.map((x) => x.collarId) as [string, string, string];
    const consoleOut = memoryStream();
    const config = testConfig(broker.url, db, { notify: { groupWaitS: 0 } });
    let agent = new Agent(config, { consoleOut: consoleOut.stream, notifier: { baseDelayMs: 10 } });
    await agent.start();
    const client = await mqtt.connectAsync(broker.url, { clientId: `herd-pub-${Math.random().toString(36).slice(2)}` });
    try {
      await publishHerd({ url: broker.url, farmId: 'testfarm', sim, speed: 1e12 });
      await eventually(() => agent.pipeline.counters.readings >= 3 * 6 * 96, 60_000, 'the herd readings');
      const learned = agent.pipeline.detector.cows.get(a)!.historyDays();
      expect(learned).toBeGreaterThanOrEqual(5);

      // The register is filled in after the collars went on: nothing they learned is lost.
      const first = await postHerd(agent, `cow,name,collar,group\n412,Bella,${a},dry\n413,Clara,${b},\n`);
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ cows: 2, updated: 2, retired: [] });
      expect(agent.pipeline.detector.cows.has(a)).toBe(false);
      expect(agent.pipeline.detector.cows.get('412')!.historyDays()).toBe(learned);
      expect(agent.pipeline.detector.cows.get('412')!.subject).toMatchObject({ cowId: '412', collarId: a });

      // An alert after the import names her; a collar alert names the collar and her.
      await client.publishAsync(collarTopic('testfarm', a), JSON.stringify({ ts: new Date(end + 15 * 60_000).toISOString(), intervalS: 900, activity: 20, rumination: 8, batteryPct: 5 }), { qos: 1 });
      const battery = await eventually(() => agent.store.openAlerts().find((x) => x.type === 'battery_low' && x.cowId === '412'), 10_000, 'battery alert');
      expect(battery.cowName).toBe('Bella');
      await eventually(() => consoleOut.text().includes(`${a} on cow 412 Bella`), 10_000, 'the farmer\'s message naming Bella');
      const api = (await (await fetch(`http://127.0.0.1:${agent.httpPort}/api/alerts`)).json()) as { alerts: { cowId: string; cowName?: string }[] };
      expect(api.alerts.find((x) => x.cowId === '412')?.cowName).toBe('Bella');

      // Collar a moves to cow 413, whose collar b comes off: both cows start afresh; Bella is forgotten.
      const moved = await postHerd(agent, `cow,collar\n412,\n413,${a}\n`);
      expect(moved.status).toBe(200);
      expect(agent.pipeline.detector.cows.has('412')).toBe(false);
      expect(agent.pipeline.detector.cows.has('413')).toBe(false); // nothing heard from a on her yet
      expect(agent.store.alert(battery.id)).toMatchObject({ state: 'resolved', evidence: { closedBy: `collar ${a} taken off` } });
      expect(agent.store.herd.collar(b)).toMatchObject({ key: b, assigned: false });
      await client.publishAsync(collarTopic('testfarm', a), JSON.stringify({ ts: new Date(end + 30 * 60_000).toISOString(), intervalS: 900, activity: 20, rumination: 8, batteryPct: 90 }), { qos: 1 });
      await eventually(() => agent.pipeline.detector.cows.get('413'), 10_000, 'cow 413 heard through collar a');
      expect(agent.pipeline.detector.cows.get('413')!.historyDays()).toBeLessThan(1);

      // A restart finds the register and every cow's state agreeing; so does a rebuild from readings alone.
      await agent.stop();
      agent = new Agent(config, { consoleOut: consoleOut.stream });
      await agent.start();
      expect(agent.pipeline.detector.cows.has('412')).toBe(false);
      expect(agent.pipeline.detector.cows.get('413')!.subject.collarId).toBe(a);
      await agent.stop();
      agent.store.close();
      const { Store } = await import('../agent/store/store.js');
      const raw = new Store(db);
      raw.clearSnapshots();
      raw.close();
      agent = new Agent(config, { consoleOut: consoleOut.stream });
      await agent.start();
      expect(agent.pipeline.detector.cows.get('413')!.historyDays()).toBeLessThan(1);
      expect(agent.pipeline.detector.cows.get(c)!.historyDays()).toBeGreaterThanOrEqual(5);

      // Export and import again changes nothing.
      const csv = await (await fetch(`http://127.0.0.1:${agent.httpPort}/api/herd.csv`)).text();
      expect(parseHerdCsv(csv)).toEqual([
        { cow: '412', name: 'Bella', collar: null, group: 'dry', calved: null, inseminated: null, notes: null },
        { cow: '413', name: 'Clara', collar: a, group: null, calved: null, inseminated: null, notes: null },
      ]);
      const again = await postHerd(agent, csv);
      expect(again.body).toMatchObject({ updated: 0, collarChanges: [], retired: [] });

      // A bad file is refused over HTTP with its problems, and changes nothing.
      const bad = await postHerd(agent, 'cow,collar\n414,has space\n');
      expect(bad.status).toBe(400);
      expect(bad.body.error).toContain('line 2: collar "has space" is not a collar id');
    } finally {
      await client.endAsync();
      await agent.stop();
      tmp.cleanup();
    }
  }, 120_000);

  it('cowbell herd import goes through the running agent, or into the database when none answers', async () => {
    const tmp = tempDir();
    const db = join(tmp.dir, 'cli.db');
    const port = await freePort(); // free now, and so closed: no agent answers there
    const config = testConfig(broker.url, db, { http: { port } });
    const offline = await importHerd(config, 'cow,name,collar\n7,Dora,C-7\n');
    expect(offline.via).toBe('database');
    expect(offline.result.collarChanges).toEqual(['collar C-7 put on cow 7 (not heard yet)']);
    expect(exportHerd(config)).toBe('cow,name,collar,group,calved,inseminated,notes\n7,Dora,C-7,,,,\n');

    const agent = new Agent(config);
    await agent.start();
    try {
      const online = await importHerd(config, 'cow,name,collar\n7,Dora,C-8\n');
      expect(online.via).toBe('agent');
      expect(online.result.collarChanges).toEqual(['collar C-7 taken off cow 7', 'collar C-8 put on cow 7 (not heard yet)']);
      expect(agent.store.herd.collarOfCow('7')).toBe('C-8');
    } finally {
      await agent.stop();
      tmp.cleanup();
    }
  }, 60_000);

  it("with unassignedCollars: 'page', a stray collar's alert is kept and shown but not sent to people", async () => {
    const tmp = tempDir();
    const consoleOut = memoryStream();
    const agent = new Agent(testConfig(broker.url, join(tmp.dir, 'stray.db'), { herd: { unassignedCollars: 'page' }, notify: { groupWaitS: 0 } }), { consoleOut: consoleOut.stream });
    await agent.start();
    const client = await mqtt.connectAsync(broker.url, { clientId: `stray-${Math.random().toString(36).slice(2)}` });
    try {
      const ts = new Date(simEnd()).toISOString();
      await agent.importHerd('cow,name,collar\n1,Anna,REG-1\n');
      for (const collar of ['STRAY-1', 'REG-1']) {
        await client.publishAsync(collarTopic('testfarm', collar), JSON.stringify({ ts, intervalS: 900, activity: 20, batteryPct: 4 }), { qos: 1 });
      }
      await eventually(() => agent.store.openAlerts().filter((x) => x.type === 'battery_low').length === 2, 10_000, 'both battery alerts');
      await eventually(() => consoleOut.text().includes('REG-1 on cow 1 Anna'), 10_000, 'the registered cow\'s message');
      expect(consoleOut.text()).not.toContain('STRAY-1');
    } finally {
      await client.endAsync();
      await agent.stop();
      tmp.cleanup();
    }
  }, 60_000);
});

describe('collars outside the herd register are bounded', () => {
  it('refuses new ones beyond herd.maxUnassignedCollars (quarantined, counted), never a registered one, and forgets silent ones', async () => {
    let now = Date.parse('2026-11-20T08:00:00Z');
    const t = testPipeline({ clock: () => now, maxUnassignedCollars: 3 });
    const { store, pipeline } = t;
    const send = (collar: string, i = 0) =>
      pipeline.handleMessages([{ topic: collarTopic('testfarm', collar), payload: Buffer.from(JSON.stringify({ ts: new Date(now - 3_600_000 + i * 60_000).toISOString(), intervalS: 900, activity: 9 })) }]);
    try {
      store.transaction(() => store.herd.setCollar('testfarm', 'REG', '7', 0, now));
      pipeline.reloadHerd();
      for (const c of ['A', 'B', 'C', 'D', 'E']) send(c);
      send('REG');
      expect([...pipeline.detector.cows.keys()].sort()).toEqual(['7', 'A', 'B', 'C']);
      expect(pipeline.counters.unassignedRefused).toBe(2);
      expect(store.recentQuarantine(1)[0]!.reason).toMatch(/3 collars outside the herd register are known already \(herd\.maxUnassignedCollars\)/);
      // Known ones go on being taken.
      send('A', 1);
      expect(pipeline.counters.readings).toBe(5);
      // Two weeks later only C was heard: A and B are forgotten (REG, in the register, never is), and D gets in.
      now += 15 * 86_400_000;
      send('C', 2);
      // They went silent by event time: their collar_offline alerts are open, and closed as they are forgotten.
      expect(store.openAlerts().filter((a) => a.type === 'collar_offline').map((a) => a.cowId).sort()).toEqual(['7', 'A', 'B']);
      expect(pipeline.forgetSilentCollars(now - 14 * 86_400_000).sort()).toEqual(['A', 'B']);
      expect(pipeline.detector.cows.has('A')).toBe(false);
      expect(store.openAlerts().map((a) => a.cowId)).toEqual(['7']);
      expect(store.herd.collar('REG')).toBeDefined();
      send('D', 3);
      expect(pipeline.detector.cows.has('D')).toBe(true);
      expect(pipeline.counters.unassignedForgotten).toBe(2);
    } finally {
      t.close();
    }
  });
});

describe('herd register edge cases (from a second read of the change)', () => {
  const setup = () => {
    const now = Date.parse('2026-11-20T08:00:00Z');
    const { store, pipeline, close } = testPipeline({ clock: () => now });
    // Three days of quarter-hours for each collar, so each has a history of its own.
    const feed = (collar: string, activity: number, days = 3) => {
      const group = [];
      for (let i = 0; i < days * 96; i++) group.push({ topic: collarTopic('testfarm', collar), payload: Buffer.from(JSON.stringify({ ts: new Date(now - days * DAY + i * 900_000).toISOString(), intervalS: 900, activity: activity + (i % 7) * 3 + (i % 96 < 48 ? 10 : 0) })) });
      pipeline.handleMessages(group);
    };
    const imp = (csv: string) => applyHerd(store, pipeline, 'testfarm', parseHerdCsv(csv), now);
    return { store, pipeline, feed, imp, done: close };
  };

  it('a collar registered to the cow of the same number keeps what it learned', async () => {
    const t = setup();
    try {
      t.feed('412', 30);
      const before = JSON.stringify(t.pipeline.detector.cows.get('412')!.snapshot().history);
      expect(t.imp('cow,name,collar\n412,Bella,412\n').retired).toEqual([]);
      expect(JSON.stringify(t.pipeline.detector.cows.get('412')!.snapshot().history)).toBe(before);
    } finally {
      t.done();
    }
  });

  it("the register's calving and insemination days reach the rules, on the farm's clock, and go when the register drops them", async () => {
    const t = setup();
    try {
      t.feed('412', 30);
      t.imp('cow,name,collar,calved,inseminated\n412,Bella,412,2026-11-18,03.11.2026\n');
      // testPipeline's farm runs on UTC: each day starts at UTC midnight.
      expect(t.pipeline.detector.cows.get('412')!.state.record).toEqual({ calvedAt: Date.parse('2026-11-18T00:00:00Z'), inseminatedAt: Date.parse('2026-11-03T00:00:00Z') });
      // A detector rebuilt from what is committed (as after a failed group, or at a start) has them too.
      t.pipeline.reset();
      expect(t.pipeline.detector.cows.get('412')!.state.record?.calvedAt).toBe(Date.parse('2026-11-18T00:00:00Z'));
      t.imp('cow,name,collar,calved,inseminated\n412,Bella,412,,\n');
      expect(t.pipeline.detector.cows.get('412')!.state.record).toBeUndefined();
    } finally {
      t.done();
    }
  });

  it("her page shows the register's calving and service, and a cow due to calve has no heat expected", async () => {
    const t = setup();
    try {
      t.feed('412', 30);
      const views = farmViews({ store: t.store, pipeline: t.pipeline, config: { store: { path: ':memory:' }, farm: { timezone: 'UTC' }, rules: DEFAULT_RULES }, clock: () => Date.now(), startedAt: () => 0 });
      const served = (daysBefore: number) => new Date(Date.parse('2026-11-20T00:00:00Z') - daysBefore * DAY).toISOString().slice(0, 10);
      t.imp(`cow,name,collar,calved,inseminated\n412,Bella,412,2026-02-01,${served(280)}\n`);
      const due = views.cow('412')!;
      expect(due.register).toEqual({ calved: '2026-02-01', inseminated: served(280), daysSinceInsemination: 280, dueToCalve: true });
      const page = cowPage(due, times('UTC', Date.parse('2026-11-20T08:00:00Z')), { farm: 'testfarm', actions: false });
      expect(page).toContain(`inseminated ${served(280)} (280 days ago)`);
      expect(page).toContain('due to calve: no heat is told for her');
      expect(page).toContain('<dt>Next expected</dt><dd>— (due to calve)</dd>');
      // In the herd's list too.
      expect(views.cows().find((c) => c.cowId === '412')!.dueToCalve).toBe(true);
      // 200 days after her service she is not due: nothing said of it.
      t.imp(`cow,name,collar,calved,inseminated\n412,Bella,412,2026-02-01,${served(200)}\n`);
      expect(views.cow('412')!.register.dueToCalve).toBe(false);
      expect(cowPage(views.cow('412')!, times('UTC', Date.parse('2026-11-20T08:00:00Z')), { farm: 'testfarm', actions: false })).not.toContain('due to calve');
    } finally {
      t.done();
    }
  });

  it('adoptions do not depend on the order of the rows, even when a cow number is another collar\'s id', async () => {
    for (const csv of ['cow,collar\n412,C99\n500,412\n', 'cow,collar\n500,412\n412,C99\n']) {
      const t = setup();
      try {
        t.feed('412', 40, 5);
        t.feed('C99', 20, 3);
        const history = (key: string) => JSON.stringify(t.pipeline.detector.cows.get(key)!.snapshot().history);
        const of412 = history('412');
        const ofC99 = history('C99');
        expect(of412).not.toBe(ofC99);
        t.imp(csv);
        expect(t.pipeline.detector.cows.get('412')!.subject.collarId).toBe('C99');
        expect(t.pipeline.detector.cows.get('500')!.subject.collarId).toBe('412');
        // Each cow has what her own collar learned.
        expect(history('412')).toBe(ofC99);
        expect(history('500')).toBe(of412);
      } finally {
        t.done();
      }
    }
  });

  it('a new collar whose id is a registered cow\'s number is refused with a reason, not fed into her detector', async () => {
    const t = setup();
    try {
      t.imp('cow,name,collar\n412,Bella,C99\n');
      t.feed('C99', 20);
      t.feed('412', 50);
      expect(t.pipeline.detector.cows.get('412')!.subject.collarId).toBe('C99');
      expect(t.store.recentQuarantine(1)[0]!.reason).toMatch(/a new collar "412", but that is the number of a cow in the herd register/);
      expect(t.store.herd.collar('412')).toBeUndefined();
    } finally {
      t.done();
    }
  });
});
