/**
 * The agent's own work per message, without MQTT: what the drain bench's single-reading ratio turns on.
 *   npm run build && node dist/bench/pipeline.js [cows=50] [days=14] [group=900]
 * The drain bench's herd as single-reading messages (topic and JSON payload, as a collar sends them), handed
 * to the reading pipeline in groups of `group` (as group commit hands them: one transaction, one fsync with
 * `synchronous=FULL`, into a real SQLite file), beside the reference a bare subscriber does per message
 * (JSON.parse of the payload) in the same run. mqtt.js's own cost per message is in neither: the drain bench
 * has it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ReadingPipeline } from '../agent/pipeline.js';
import { Store } from '../agent/store/store.js';
import { collarTopic, readingToWire } from '../agent/wire.js';
import { simulateHerd } from '../collar-sim/index.js';
import { DEFAULT_RULES } from '../rules/index.js';

const cows = Number(process.argv[2] ?? 50);
const days = Number(process.argv[3] ?? 14);
const group = Number(process.argv[4] ?? 900);
const DAY = 86_400_000;
const start = Date.UTC(2026, 0, 5);

const sim = simulateHerd({ farmId: 'bench', cows, startMs: start, days, seed: 1 });
const messages: { topic: string; payload: Buffer }[] = [];
for (const r of sim.readings()) messages.push({ topic: collarTopic('bench', r.collarId), payload: Buffer.from(JSON.stringify(readingToWire(r))) });

function bare(): number {
  const t0 = performance.now();
  let n = 0;
  for (const m of messages) {
    const j = JSON.parse(String(m.payload)) as { readings?: unknown[] };
    n += j.readings ? j.readings.length : 1;
  }
  if (n !== messages.length) throw new Error('lost a message');
  return performance.now() - t0;
}

function pipeline(): number {
  const dir = mkdtempSync(join(tmpdir(), 'cowbell-pipeline-'));
  const store = new Store(join(dir, 'bench.db'));
  try {
    const now = start + days * DAY;
    const p = new ReadingPipeline({
      farmId: 'bench', rules: DEFAULT_RULES, retentionDays: 60, store, logger: pino({ level: 'silent' }),
      feedsFor: () => [], notify: () => {}, clock: () => now,
    });
    const t0 = performance.now();
    for (let i = 0; i < messages.length; i += group) p.handleMessages(messages.slice(i, i + group));
    const dt = performance.now() - t0;
    if (p.counters.readings !== messages.length) throw new Error(`stored ${p.counters.readings} of ${messages.length} readings`);
    return dt;
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const us = (ms: number) => ((1000 * ms) / messages.length).toFixed(2);
console.log(`${cows} cows × ${days} days = ${messages.length} single-reading messages, groups of ${group}; best of 3`);
let b = Infinity;
let a = Infinity;
for (let i = 0; i < 3; i++) {
  b = Math.min(b, bare());
  a = Math.min(a, pipeline());
}
console.log(`  JSON.parse alone (a bare subscriber's work)   ${us(b).padStart(6)} µs a message`);
console.log(`  the pipeline (parse, check, store, detect)    ${us(a).padStart(6)} µs a message (${Math.round((messages.length / a) * 1000).toLocaleString('en')} messages/s)`);
