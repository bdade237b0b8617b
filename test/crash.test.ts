import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collarTopic, readingToWire, simulateHerd } from '../collar-sim/index.js';
import type { Reading } from '../rules/index.js';
import { eventually, hasMosquitto, startBroker, tempDir, testPipeline, simEnd, type TestBroker } from './helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const FARM = 'crashfarm';
const CRASHES = 10;

/**
 * "Nothing lost" against the real thing: the agent is a separate process, killed with SIGKILL ten times
 * while a publisher streams a herd's readings into Mosquitto for its persistent session. After the last
 * restart every reading is stored exactly once, the alerts are exactly those of a run without crashes, and
 * each crash cost the farmer at most one repeated message.
 */
describe.skipIf(!hasMosquitto)('kill -9 while readings stream in (a real Mosquitto)', () => {
  let broker: TestBroker;
  let tmp: ReturnType<typeof tempDir>;
  let cli: string;

  beforeAll(async () => {
    tmp = tempDir();
    // The agent as a technician runs it: built, in a process of its own.
    const out = join(tmp.dir, 'build');
    const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', out], { encoding: 'utf8' });
    if (tsc.status !== 0) throw new Error(`build failed: ${tsc.stdout}${tsc.stderr}`);
    cpSync('agent/notify/i18n', join(out, 'agent/notify/i18n'), { recursive: true });
    cpSync('rules/default-rules.json', join(out, 'rules/default-rules.json'));
    cpSync('package.json', join(out, 'package.json'));
    symlinkSync(join(process.cwd(), 'node_modules'), join(out, 'node_modules'));
    cli = join(out, 'agent/cli.js');
    broker = await startBroker('mosquitto');
  }, 120_000);

  afterAll(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('loses nothing, stores nothing twice, raises the crash-free alerts, and repeats at most one message per crash', async () => {
    const end = simEnd();
    const sim = simulateHerd({ farmId: FARM, cows: 12, startMs: end - 10 * DAY, days: 10, seed: 4, episodes: 'default' });
    const readings: Reading[] = [...sim.readings()];
    const dir = join(tmp.dir, 'farm');
    mkdirSync(dir);
    const db = join(dir, 'crash.db');
    const config = join(dir, 'cowbell.json');
    writeFileSync(config, JSON.stringify({
      farm: { id: FARM, timezone: 'UTC' },
      mqtt: { url: broker.url, clientId: 'cowbell-crash' },
      store: { path: db },
      http: { port: 0 },
      notify: { groupWaitS: 0, groupIntervalMin: 0, maxPerHour: 1000, maxPerDay: 10_000, catchUpAfterHours: 720 },
      log: { level: 'info' },
    }));

    let stdout = '';
    const started = new Set<ChildProcess>();
    let child: ChildProcess | null = null;
    const start = () => {
      const c = spawn(process.execPath, [cli, 'agent', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      c.stderr!.on('data', (d: Buffer) => {
        if (d.toString().includes('"msg":"cowbell agent started"')) started.add(c);
      });
      return c;
    };
    const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode ? r(c.exitCode) : c.once('exit', (code) => r(code))));

    // The agent's session must exist before the stream starts, or the broker has nowhere to queue for it.
    child = start();
    const pub = await mqtt.connectAsync(broker.url, { clientId: `crash-pub-${Math.random().toString(36).slice(2)}` });
    try {
      const reader = () => new Database(db, { readonly: true, fileMustExist: true });
      const stored = () => {
        try {
          const r = reader();
          try {
            return (r.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
          } finally {
            r.close();
          }
        } catch {
          return 0;
        }
      };
      // Subscribed: the agent records its topics once the broker granted them (and so holds its session).
      await eventually(() => subscribed(db), 20_000, 'the first start');
      // Stream the herd at a pace that spans the crashes (10 days × 12 cows in about 10 s).
      const streaming = (async () => {
        for (let i = 0; i < readings.length; i += 120) {
          await Promise.all(readings.slice(i, i + 120).map((r) => pub.publishAsync(collarTopic(FARM, r.collarId), JSON.stringify(readingToWire(r)), { qos: 1 })));
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      for (let k = 0; k < CRASHES; k++) {
        // Between 0.3 and 1.5 s of life: some die while restoring, some while draining, some mid-group.
        await new Promise((r) => setTimeout(r, 300 + ((k * 397) % 1200)));
        child.kill('SIGKILL');
        await exited(child);
        child = start();
      }
      // A stop as systemd asks for it, in the middle of the stream: in-flight work finishes within 5 s.
      // Once it is running (a signal before Node has set up its handlers would just end the process).
      const running = child;
      await eventually(() => started.has(running), 20_000, 'the agent started');
      await new Promise((r) => setTimeout(r, 300));
      const asked = Date.now();
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
      const stopMs = Date.now() - asked;
      expect(stopMs).toBeLessThan(5000);
      child = start();
      await streaming;
      await eventually(() => stored() === readings.length, 60_000, `all ${readings.length} readings`).catch((err: Error) => {
        throw new Error(`${err.message}: ${stored()} stored`);
      });
      // Let the notifier finish what is due, then stop it as systemd would.
      await new Promise((r) => setTimeout(r, 1500));
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
      child = null;

      const r = reader();
      const rows = r.prepare('SELECT count(*) AS n, count(DISTINCT collar_id || \'/\' || ts) AS distinct_n FROM readings').get() as { n: number; distinct_n: number };
      expect(rows).toEqual({ n: readings.length, distinct_n: readings.length });
      const alerts = (r.prepare("SELECT id, CASE WHEN state = 'resolved' THEN 'resolved' ELSE 'open' END AS s FROM alerts ORDER BY id").all() as { id: string; s: string }[]).map((a) => `${a.id} ${a.s}`);
      r.close();

      // The same readings in the same order through the same pipeline, without a crash.
      const ref = testPipeline({ farmId: FARM, timezone: 'UTC' });
      for (const x of readings) ref.pipeline.handleMessage(collarTopic(FARM, x.collarId), Buffer.from(JSON.stringify(readingToWire(x))));
      const expected = (ref.store.db.prepare("SELECT id, CASE WHEN state = 'resolved' THEN 'resolved' ELSE 'open' END AS s FROM alerts ORDER BY id").all() as { id: string; s: string }[]).map((a) => `${a.id} ${a.s}`);
      ref.close();
      expect(expected.length).toBeGreaterThan(3);
      expect(alerts).toEqual(expected);

      // The farmer's messages (the console channel's blocks): a crash between a send and its record repeats
      // that one message at the next start, no more.
      const blocks = stdout.split(/\n(?=\S)/).map((b) => b.trim()).filter(Boolean);
      const seen = new Map<string, number>();
      for (const b of blocks) seen.set(b, (seen.get(b) ?? 0) + 1);
      const repeats = [...seen.values()].reduce((n, c) => n + c - 1, 0);
      console.log(`kill -9 ×${CRASHES} and one SIGTERM (stopped in ${stopMs} ms): ${readings.length} readings stored once each, ${alerts.length} alert states as without crashes, ${blocks.length} farmer messages of which ${repeats} repeated`);
      expect(blocks.length).toBeGreaterThan(0);
      expect(repeats).toBeLessThanOrEqual(CRASHES);
    } finally {
      if (child && child.exitCode === null) {
        child.kill('SIGKILL');
        await exited(child);
      }
      await pub.endAsync();
    }
  }, 180_000);
});

function subscribed(path: string): boolean {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return db.prepare("SELECT 1 FROM meta WHERE key = 'subscribedTopics'").get() !== undefined;
    } finally {
      db.close();
    }
  } catch {
    return false;
  }
}
