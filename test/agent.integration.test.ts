import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { publishHerd, collarTopic, readingToWire, simulateHerd, type HerdSimulation } from '../collar-sim/index.js';
import { FarmDetector, type Reading } from '../rules/index.js';
import { brokerKinds, eventually, memoryLogger, memoryStream, startBroker, tempDir, testConfig, simEnd, type TestBroker } from './helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const FARM = 'testfarm';

function herd(cows: number, days: number, seed: number): HerdSimulation {
  return simulateHerd({ farmId: FARM, cows, startMs: simEnd() - days * DAY, days, seed, episodes: 'default' });
}

const countReadings = (sim: HerdSimulation, filter: (r: Reading) => boolean = () => true) => {
  let n = 0;
  for (const r of sim.readings()) if (filter(r)) n++;
  return n;
};

async function publishRaw(url: string, messages: [topic: string, payload: string | Buffer][]): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId: `raw-${Math.random().toString(36).slice(2)}` });
  for (const [topic, payload] of messages) await client.publishAsync(topic, payload, { qos: 1 });
  await client.endAsync();
}

describe.each(brokerKinds)('agent against a real %s broker over TCP', (kind) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker(kind);
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('raises the injected episodes as alerts, prints them for the farmer and publishes them on MQTT', async () => {
    const tmp = tempDir();
    const sim = herd(8, 16, 3);
    const consoleOut = memoryStream();
    // The replay's alerts come within a second or two: a few seconds' wait gathers them, whatever alert comes
    // first (with none, the first went alone and the rest waited the 5-minute group interval, depending on
    // the time of day the test ran, as the herd's history is laid out back from now). On a busy machine the
    // replay may outlast the wait: then the rest go at once rather than after that interval.
    const agent = new Agent(testConfig(broker.url, join(tmp.dir, 'a.db'), { notify: { groupWaitS: 5, groupIntervalMin: 0 } }), { logger: memoryLogger().logger, consoleOut: consoleOut.stream });
    await agent.start();
    const watcher = await mqtt.connectAsync(broker.url, { clientId: `watch-${kind}` });
    const published: Record<string, unknown>[] = [];
    watcher.on('message', (topic, payload) => published.push({ topic, ...JSON.parse(String(payload)) }));
    await watcher.subscribeAsync(`farm/${FARM}/alert/#`, { qos: 1 });
    try {
      const total = countReadings(sim);
      await publishHerd({ url: broker.url, farmId: FARM, sim, speed: 1e12 });
      await eventually(() => agent.pipeline.counters.readings === total, 60_000, `${total} readings`);

      const alerts = agent.store.alertsSince(0, 1000);
      const expectType = { heat: 'heat', illness: 'health', collar_offline: 'collar_offline', battery_low: 'battery_low' } as const;
      for (const ep of sim.truth) {
        const match = alerts.find(
          (a) => a.cowId === ep.cowId && a.type === expectType[ep.type] && a.raisedAt >= ep.start && a.raisedAt <= ep.end + 12 * HOUR,
        );
        expect(match, `${ep.type} of ${ep.cowId} starting ${new Date(ep.start).toISOString()}`).toBeDefined();
      }
      // Cows with nothing injected are the negatives: no heat or health alert may touch them.
      const withEpisodes = new Set(sim.truth.map((e) => e.cowId));
      const falseAlarms = alerts.filter((a) => (a.type === 'heat' || a.type === 'health') && !withEpisodes.has(a.cowId));
      expect(falseAlarms).toEqual([]);

      await eventually(() => alerts.every((a) => published.some((p) => p.id === a.id && p.state === a.state)), 15_000, 'alerts on MQTT');
      const heat = published.find((p) => p.type === 'heat' && p.state === 'firing')!;
      expect(heat.topic).toBe(`farm/${FARM}/alert/heat`);
      expect(heat).toMatchObject({ farmId: FARM, severity: 'warning', evidence: { metric: 'activity' } });
      expect(typeof heat.at).toBe('string');
      expect(Date.parse(heat.since as string)).toBeLessThanOrEqual(Date.parse(heat.at as string));

      // The herd's history was replayed in seconds: heats already over reach the farmer as one catch-up
      // block, a sick cow (urgent) at once, grouped with what else is due — not one message per alert.
      // Whether her illness is still open when the replay ends, or over as its last hours come in, depends
      // on the time of day the test runs (the history is laid out back from now; at 09:35 UTC it was over).
      await eventually(() => /may be unwell|was unwell/.test(consoleOut.text()) && /came into heat|was in heat|probably in heat/.test(consoleOut.text()), 20_000, 'console message');
      expect(consoleOut.text()).toMatch(/has sent nothing since|was silent/);
      expect(agent.notifier.stats.messages).toBeLessThan(alerts.length);

      const res = await fetch(`http://127.0.0.1:${agent.httpPort}/api/alerts?since=${new Date(0).toISOString()}`);
      const body = (await res.json()) as { alerts: { id: string; state: string }[] };
      expect(body.alerts.map((a) => a.id).sort()).toEqual(alerts.map((a) => a.id).sort());
    } finally {
      await watcher.endAsync();
      await agent.stop();
      tmp.cleanup();
    }
  }, 60_000);

  it('quarantines bad payloads with a clear reason and keeps processing good ones', async () => {
    const tmp = tempDir();
    const log = memoryLogger();
    const agent = new Agent(testConfig(broker.url, join(tmp.dir, 'q.db')), { logger: log.logger, consoleOut: memoryStream().stream });
    await agent.start();
    try {
      await eventually(() => agent.mqtt.connected, 5000, 'connect');
      const ts = new Date(simEnd()).toISOString();
      const topic = collarTopic(FARM, 'C100');
      await publishRaw(broker.url, [
        [topic, '{"ts": "2026-11-25T10:00:00Z", "activity": 12'],
        [topic, JSON.stringify({ ts, activity: 'lots' })],
        [topic, `{"ts": "${ts}", "activity": NaN}`],
        [topic, JSON.stringify({ ts, activity: 5, collarId: 'C999' })],
        [topic, Buffer.alloc(1024 * 1024, 'x')],
        [topic, JSON.stringify({ ts: 1764064800, activity: 5 })],
        [topic, JSON.stringify({ readings: [{ ts, activity: 7 }, { ts, activity: -1 }] })],
        [topic, JSON.stringify({ ts: 1e16, activity: 5 })],
        [topic, JSON.stringify({ ts: new Date(simEnd() + 15 * 60_000).toISOString(), activity: 9, batteryPct: 80 })],
      ]);
      await eventually(() => agent.pipeline.counters.readings === 2, 10_000, 'the good readings');
      const reasons = agent.store.recentQuarantine(20).map((q) => q.reason).reverse();
      expect(reasons).toHaveLength(8);
      expect(reasons[0]).toMatch(/^invalid JSON/);
      expect(reasons[1]).toMatch(/^activity: /);
      expect(reasons[2]).toMatch(/^invalid JSON/);
      expect(reasons[3]).toMatch(/collarId "C999" does not match the topic's "C100"/);
      expect(reasons[4]).toMatch(/1048576 bytes is over the \d+-byte limit/);
      expect(reasons[5]).toMatch(/epoch seconds/);
      expect(reasons[6]).toMatch(/^readings\[1\] activity/);
      expect(reasons[7]).toMatch(/^ts: is after the year 2100/);
      const warns = log.lines().filter((l) => l.msg === 'payload quarantined');
      expect(warns).toHaveLength(8);
      expect(warns[0]).toMatchObject({ level: 40, topic, reason: reasons[0] });
      const row = agent.store.db.prepare('SELECT payload_head, payload_bytes FROM quarantine WHERE reason LIKE ?').get('%byte limit%') as { payload_head: string; payload_bytes: number };
      expect(row.payload_bytes).toBe(1024 * 1024);
      expect(row.payload_head.length).toBe(256);
    } finally {
      await agent.stop();
      tmp.cleanup();
    }
  });

  it('ignores duplicates and places late readings in event time', async () => {
    const tmp = tempDir();
    const agent = new Agent(testConfig(broker.url, join(tmp.dir, 'd.db')), { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
    await agent.start();
    try {
      await eventually(() => agent.mqtt.connected, 5000, 'connect');
      const t = simEnd() - 2 * HOUR;
      const topic = collarTopic(FARM, 'C200');
      const msg = (ts: number, activity: number) => [topic, JSON.stringify(readingToWire({ collarId: 'C200', ts, intervalS: 900, activity }))] as [string, string];
      // And a collar whose clock runs two days ahead: its reading is kept, but it cannot drag the farm's event time.
      const ahead = [collarTopic(FARM, 'C201'), JSON.stringify(readingToWire({ collarId: 'C201', ts: Date.now() + 2 * DAY, intervalS: 900, activity: 5 }))] as [string, string];
      await publishRaw(broker.url, [msg(t, 10), msg(t, 10), msg(t + HOUR, 30), msg(t + HOUR / 2, 20), msg(t + HOUR, 99), ahead]);
      await eventually(() => agent.pipeline.counters.duplicates === 2 && agent.pipeline.counters.readings === 4, 10_000, 'readings');
      expect(agent.pipeline.counters.aheadOfClock).toBe(1);
      // Two days ahead, with nothing before it: a clock gone wrong, shown to the technician, kept out of detection.
      expect(agent.pipeline.counters.futureUnjudged).toBe(1);
      const page = await (await fetch(`http://127.0.0.1:${agent.httpPort}/`)).text();
      expect(page).toMatch(/stamped in the future[^]*C201/);
      expect(agent.pipeline.detector.farm.watermark!).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
      expect(agent.store.openAlerts().filter((a) => a.type === 'collar_offline')).toEqual([]);
      const rows = agent.store.db.prepare('SELECT ts, activity FROM readings WHERE collar_id = ? ORDER BY ts').all('C200');
      expect(agent.store.db.prepare('SELECT count(*) AS n FROM readings WHERE collar_id = ?').get('C201')).toEqual({ n: 1 });
      expect(rows).toEqual([{ ts: t, activity: 10 }, { ts: t + HOUR / 2, activity: 20 }, { ts: t + HOUR, activity: 30 }]);
      // The late reading landed in its own hour of the cow's history, not in the newest one.
      const history = agent.pipeline.detector.cows.get('C200')!.history;
      expect(history.value('act', Math.floor((t + HOUR / 2 - 900_000) / HOUR))).toBeGreaterThanOrEqual(20 * 0.25);
    } finally {
      await agent.stop();
      tmp.cleanup();
    }
  });

  const restartCases = kind === 'mosquitto' ? ['graceful stop', 'crash', 'graceful stop on MQTT 5'] : ['graceful stop', 'crash'];
  it.each(restartCases)('after a %s, keeps every baseline and processes what was published while it was down', async (how) => {
    const tmp = tempDir();
    const sim = herd(4, 10, 11);
    const all = [...sim.readings()];
    const cut = simEnd() - 2 * DAY;
    const mqttCfg = { url: broker.url, clientId: `cowbell-restart-${kind}-${how.replace(/ /g, '-')}`, ...(how.endsWith('MQTT 5') && { protocolVersion: 5, sessionExpiryS: 600 }) };
    const config = testConfig(broker.url, join(tmp.dir, 'r.db'), { mqtt: mqttCfg });
    const before = all.filter((r) => r.ts < cut).length;

    const first = new Agent(config, { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
    await first.start();
    await publishHerd({ url: broker.url, farmId: FARM, sim: { ...sim, readings: () => all.filter((r) => r.ts < cut - DAY) }, speed: 1e12 });
    await eventually(() => first.pipeline.counters.readings === all.filter((r) => r.ts < cut - DAY).length, 30_000, 'first part');
    first.pipeline.snapshot();
    await publishHerd({ url: broker.url, farmId: FARM, sim: { ...sim, readings: () => all.filter((r) => r.ts >= cut - DAY && r.ts < cut) }, speed: 1e12 });
    await eventually(() => first.pipeline.counters.readings === before, 30_000, 'second part');
    if (how !== 'crash') {
      await first.stop();
    } else {
      // A crash: no final snapshot. The last day must come back by replaying stored readings.
      await first.mqtt.stop();
      await first.http.stop();
      await first.outbox.stop();
      first.store.close();
    }

    // While the agent is away the broker queues these for its persistent session.
    await publishHerd({ url: broker.url, farmId: FARM, sim: { ...sim, readings: () => all.filter((r) => r.ts >= cut) }, speed: 1e12 });

    const second = new Agent(config, { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
    await second.start();
    try {
      await eventually(() => second.pipeline.counters.readings === all.length - before, 30_000, 'readings queued while down');
      expect(second.store.counts().readings).toBe(all.length);
      // The restored detector must be exactly where a detector that never stopped would be.
      const reference = new FarmDetector(FARM, config.rules);
      for (const r of all) reference.observe(r, r.collarId, 0);
      for (const [cowId, cow] of reference.cows) {
        const got = second.pipeline.detector.cows.get(cowId)!.state;
        expect(second.pipeline.detector.cows.get(cowId)!.snapshot().history).toEqual(cow.snapshot().history);
        expect(got.lastTs).toBe(cow.state.lastTs);
        expect(Object.keys(got.alerts.open).sort()).toEqual(Object.keys(cow.state.alerts.open).sort());
        expect(got.alerts.resolvedAt).toEqual(cow.state.alerts.resolvedAt); // cooldowns survive too
      }
      expect(second.pipeline.detector.farm.watermark).toBe(reference.farm.watermark);
      // And no alert was recorded twice.
      const ids = second.store.alertsSince(0, 1000).map((a) => a.id);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      await second.stop();
      tmp.cleanup();
    }
  });
});
