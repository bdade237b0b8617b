import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startEmbeddedBroker } from '../agent/broker.js';
import { parseConfig, type AgentConfig } from '../agent/config.js';
import { createLogger, type Logger } from '../agent/log.js';
import { ReadingPipeline, type PipelineOptions } from '../agent/pipeline.js';
import { Store } from '../agent/store/store.js';
import { DEFAULT_RULES } from '../rules/index.js';

export interface TestBroker {
  name: string;
  url: string;
  close(): Promise<void>;
}

const mosquittoPath = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find(
  (p) => spawnSync(p, ['-h']).error === undefined,
);
export const hasMosquitto = mosquittoPath !== undefined;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1', () => {
        sock.end();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A real Mosquitto on a loopback port, anonymous, sessions in memory (they survive client restarts). With
 * `defaults`, nothing else is set: its own limits (1000 queued messages per client) apply.
 */
async function startMosquitto(defaults = false): Promise<TestBroker> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cowbell-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\n${defaults ? '' : 'persistence false\nmax_queued_messages 100000\n'}`);
  const broker = await runMosquitto(conf, port);
  return {
    name: 'mosquitto',
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Mosquitto from the caller's config, listening on `port` once this resolves; stopped by its own pid. */
export async function runMosquitto(conf: string, port: number): Promise<{ stop(): Promise<void> }> {
  const proc: ChildProcess = spawn(mosquittoPath!, ['-c', conf], { stdio: 'ignore' });
  await waitForPort(port);
  return {
    stop: async () => {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

export async function startBroker(kind: 'aedes' | 'mosquitto', o: { mosquittoDefaults?: boolean } = {}): Promise<TestBroker> {
  if (kind === 'mosquitto') return startMosquitto(o.mosquittoDefaults);
  const b = await startEmbeddedBroker();
  return { name: 'aedes', url: b.url, close: b.close };
}

export const brokerKinds = (['aedes', 'mosquitto'] as const).filter((k) => k === 'aedes' || hasMosquitto);

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'cowbell-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A logger that keeps its lines in memory, so tests can assert what a technician would see. */
export function memoryLogger(): { logger: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger('debug', stream);
  return {
    logger,
    lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => chunks.join(''),
  };
}

export function memoryStream(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/**
 * The last quarter-hour at least an hour before now: where a simulated history laid out back from now ends,
 * so no reading trips the agent's "stamped in the future" guard.
 */
export const simEnd = (): number => Math.floor((Date.now() - 3_600_000) / 900_000) * 900_000;

export function testConfig(brokerUrl: string, dbPath: string, overrides: Record<string, unknown> = {}): AgentConfig {
  return parseConfig({
    farm: { id: 'testfarm', timezone: 'UTC' },
    mqtt: { url: brokerUrl, clientId: `cowbell-test-${Math.random().toString(36).slice(2)}` },
    store: { path: dbPath },
    http: { port: 0 },
    log: { level: 'silent' },
    ...overrides,
  });
}

/** Polls until `check` returns truthy (for work that crosses the network: a broker round trip). */
export async function eventually<T>(check: () => T | undefined | null | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The reading pipeline alone (no broker, no channels) over a real SQLite file in a temp directory: for tests
 * that drive ingest message by message. `close()` closes the store and removes the directory.
 */
export function testPipeline(o: Partial<PipelineOptions> = {}): { store: Store; pipeline: ReadingPipeline; close(): void } {
  const tmp = tempDir();
  const store = new Store(join(tmp.dir, 'pipeline.db'));
  const pipeline = new ReadingPipeline({
    farmId: 'testfarm', rules: DEFAULT_RULES, retentionDays: 60, store, logger: createLogger('silent'),
    feedsFor: () => [], notify: () => {}, ...o,
  });
  return {
    store,
    pipeline,
    close: () => {
      store.close();
      tmp.cleanup();
    },
  };
}
