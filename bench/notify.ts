/**
 * How many messages each person gets per day: a simulated herd replayed through the detector, every alert
 * change fed to a real Notifier (real Store on a temp SQLite file, recording chat, injected clock following
 * event time), compared with a naive notifier that sends one message per alert change. Prints figures;
 * asserts nothing.
 *
 *   npm run build && node dist/bench/notify.js [cows] [days] [seed] [--json] [--storm-hours 8] [--step-min 5]
 *
 *   cows, days, seed   simulated herd (default 200 cows × 60 days, seed 7)
 *   --json             print the figures as JSON instead of the table
 *   --storm-hours N    how long the 30 collars stay silent together (default 8: longer than the 6-h silence rule, so the storm is raised)
 *   --step-min N       clock step between notifier ticks, in minutes (default 5)
 *   --show-day DATE    also print the farmer's messages of this local day (YYYY-MM-DD); repeatable
 *
 * Scenario: the simulator's default episodes, plus a gateway radio failure: on one day 30 collars go
 * silent together (their readings in that span are dropped, never delivered) and then come back.
 * Two passes: nobody acknowledges anything (worst case for reminders); the farmer acknowledges every
 * message that has buttons 30 minutes after it arrives.
 *
 * Like bench/evaluate.ts, the replay calls FarmDetector.observe only (arrival = reading time) and never
 * checkSilence: silence is judged on event time, the farm's watermark. (A wall-clock check in the 2-day
 * tail, when the simulator has stopped, would report every collar silent: an artefact of the run's end.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../agent/config.js';
import { createLogger } from '../agent/log.js';
import type { ChatChannel, SendContext, SendResult } from '../agent/notify/chat.js';
import { quietHoursEnd } from '../agent/notify/compose.js';
import { SEVERITY_RANK, type Recipient, type RenderedMessage } from '../agent/notify/message.js';
import { Notifier, type NotifierStats } from '../agent/notify/notifier.js';
import { Store } from '../agent/store/store.js';
import { simulateHerd, type HerdSimulation } from '../collar-sim/index.js';
import { Rng, deriveSeed } from '../collar-sim/random.js';
import { ALERT_TYPES, FarmDetector, resolveRules, type AlertEvent, type Reading } from '../rules/index.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const SIM_START = Date.UTC(2026, 0, 5);
const TZ = 'Europe/Zurich';
const STORM_COLLARS = 30;
const ACK_AFTER_MS = 30 * MIN;
const TAIL_MS = 2 * DAY;

interface Options {
  cows: number;
  days: number;
  seed: number;
  json: boolean;
  stormHours: number;
  stepMs: number;
  /** Extra local days (YYYY-MM-DD) whose farmer messages are printed besides the storm day. */
  showDays: string[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = { cows: 200, days: 60, seed: 7, json: false, stormHours: 8, stepMs: 5 * MIN, showDays: [] };
  const positional: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || !Number.isFinite(Number(v))) throw new Error(`${a} needs a number`);
      return Number(v);
    };
    if (a === '--json') o.json = true;
    else if (a === '--show-day') {
      const d = argv[++i];
      if (d === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(d)) throw new Error('--show-day needs a local date YYYY-MM-DD');
      o.showDays.push(d);
    }
    else if (a === '--storm-hours') o.stormHours = value();
    else if (a === '--step-min') o.stepMs = value() * MIN;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else if (Number.isFinite(Number(a))) positional.push(Number(a));
    else throw new Error(`not a number: ${a}`);
  }
  if (positional[0] !== undefined) o.cows = positional[0];
  if (positional[1] !== undefined) o.days = positional[1];
  if (positional[2] !== undefined) o.seed = positional[2];
  if (!Number.isInteger(o.cows) || o.cows < STORM_COLLARS + 1) throw new Error(`cows must be an integer > ${STORM_COLLARS}`);
  if (!(o.days >= 10)) throw new Error('days must be at least 10 (the baseline needs a week before episodes)');
  if (!(o.stormHours > 0)) throw new Error('--storm-hours must be > 0');
  if (!(o.stepMs >= 10_000)) throw new Error('--step-min must be at least 1/6');
  return o;
}

const progress = (msg: string) => process.stderr.write(`[notify-bench ${(performance.now() / 1000).toFixed(1)} s] ${msg}\n`);

// ------------------------------------------------------------------------------------------ local days

const dayFmt = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' });
const timeFmt = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const localDay = (ms: number) => dayFmt.format(ms);
const localTime = (ms: number) => timeFmt.format(ms);

/** Every local date the clock passes through in [from, to]. */
function localDays(from: number, to: number): string[] {
  const out: string[] = [];
  for (let t = from; t <= to + DAY; t += HOUR) {
    const d = localDay(Math.min(t, to));
    if (out.at(-1) !== d) out.push(d);
    if (t >= to) break;
  }
  return out;
}

// ------------------------------------------------------------------------------------------ scenario

interface Storm {
  collars: string[];
  start: number;
  end: number;
}

interface Timed {
  t: number;
  e: AlertEvent;
}

/** 30 collars (none with a simulated outage of its own) silent together, from 09:00 local on the middle day. */
function placeStorm(sim: HerdSimulation, o: Options): Storm {
  const offline = new Set(sim.truth.filter((e) => e.type === 'collar_offline').map((e) => e.collarId));
  const candidates = sim.cows.map((c) => c.collarId).filter((id) => !offline.has(id));
  const collars = new Rng(deriveSeed(o.seed, 99)).shuffle(candidates).slice(0, STORM_COLLARS).sort();
  const day = Math.max(8, Math.floor(o.days / 2));
  const start = SIM_START + day * DAY + 8 * HOUR; // 09:00 in Zurich (winter time)
  return { collars, start, end: start + o.stormHours * HOUR };
}

/** Readings in event-time order, the storm's collars dropped while it lasts; every alert change with the time it was raised. */
function detect(sim: HerdSimulation, storm: Storm): { events: Timed[]; readings: number; dropped: number; ms: number } {
  const silent = new Set(storm.collars);
  const det = new FarmDetector(sim.farmId, resolveRules({}));
  const events: Timed[] = [];
  let readings = 0;
  let dropped = 0;
  let nextReport = sim.startMs + 10 * DAY;
  const t0 = performance.now();
  for (const r of sim.readings() as Iterable<Reading>) {
    if (r.ts >= storm.start && r.ts < storm.end && silent.has(r.collarId)) {
      dropped++;
      continue;
    }
    if (r.ts >= nextReport) {
      progress(`detector: day ${Math.round((r.ts - sim.startMs) / DAY)} of ${sim.days}, ${events.length} alert changes`);
      nextReport += 10 * DAY;
    }
    readings++;
    for (const e of det.observe(r, r.collarId, r.ts).events) events.push({ t: r.ts, e });
  }
  return { events, readings, dropped, ms: performance.now() - t0 };
}

// ------------------------------------------------------------------------------------------ notifier

interface Sent {
  to: string;
  at: number;
  messageId: number;
  actions: boolean;
}

/** A chat service in-process (as in test/notifier.test.ts): records what each person received and when. */
class RecordingChat implements ChatChannel {
  readonly name = 'console' as const;
  readonly timeoutMs = 5_000;
  readonly paceMs = 0;
  readonly sent: Sent[] = [];
  constructor(
    private readonly clock: () => number,
    private readonly onSend: (s: Sent) => void,
  ) {}
  async send(to: Recipient, _m: RenderedMessage, ctx: SendContext): Promise<SendResult> {
    const s: Sent = { to: to.name, at: this.clock(), messageId: ctx.messageId, actions: ctx.actions };
    this.sent.push(s);
    this.onSend(s);
    return { providerId: `p${this.sent.length}` };
  }
}

interface MessageOut {
  id: number;
  recipient: string;
  urgent: boolean;
  at: number;
  text: string;
  kinds: Record<string, number>;
}

interface PassResult {
  name: string;
  messages: MessageOut[];
  /** Per recipient: clock time from recording an urgent alert to the first message telling it. */
  urgentDelays: Record<string, number[]>;
  stats: NotifierStats;
  pendingAtEnd: Record<string, number>;
  notifications: Record<string, number>;
  acks: { sent: number; outcomes: Record<string, number> };
  ms: number;
}

const config = parseConfig({
  farm: { id: 'bench', name: 'Bench farm', timezone: TZ },
  mqtt: { url: 'mqtt://127.0.0.1:1' },
  recipients: [
    // First: an inbound button from ('console', '') is the farmer's.
    { name: 'farmer', channel: 'console', address: '', timezone: TZ, types: [...ALERT_TYPES], minSeverity: 'info', quietHours: { start: '21:30', end: '05:30' } },
    { name: 'vet', channel: 'console', address: '', timezone: TZ, types: ['health', 'down_cow'], minSeverity: 'urgent' },
  ],
});

const wants = (r: Recipient, e: AlertEvent) => r.types.includes(e.type) && SEVERITY_RANK[e.severity] >= SEVERITY_RANK[r.minSeverity];

async function runPass(name: string, events: Timed[], runStart: number, runEnd: number, o: Options, farmerAcks: boolean): Promise<PassResult> {
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'cowbell-notify-bench-'));
  const store = new Store(join(dir, 'notify.db'));
  try {
    let now = runStart;
    const policy = config.notify;
    /** Moments besides the regular step when a live lane would look again (group_wait, group_interval, an ack). */
    const wakes: number[] = [];
    const wakeAt = (t: number) => {
      let i = wakes.length;
      while (i > 0 && wakes[i - 1]! > t) i--;
      wakes.splice(i, 0, t);
    };
    const acks: { at: number; messageId: number }[] = [];
    const ackOutcomes: Record<string, number> = {};
    let acksSent = 0;
    const chat = new RecordingChat(() => now, (s) => {
      wakeAt(s.at + policy.groupIntervalMin * MIN + 1000);
      if (farmerAcks && s.to === 'farmer' && s.actions) {
        acks.push({ at: s.at + ACK_AFTER_MS, messageId: s.messageId });
        wakeAt(s.at + ACK_AFTER_MS);
      }
    });
    const nf = new Notifier({
      store, recipients: config.recipients, escalation: config.escalation, policy, farmName: config.farm.name ?? config.farm.id, channels: [chat],
      logger: createLogger('silent'), feedsFor: () => [], clock: () => now, random: () => 0.5,
    });

    /** What the live loops would do at `now`: answer due button presses, tick, and run each queue until it rests. */
    const step = async () => {
      while (acks.length && acks[0]!.at <= now) {
        const a = acks.shift()!;
        const res = nf.handleInbound({ type: 'button', channel: 'console', from: '', data: `ack:${a.messageId}`, id: `ack-${a.messageId}`, at: now });
        ackOutcomes[res.outcome] = (ackOutcomes[res.outcome] ?? 0) + 1;
        acksSent++;
      }
      nf.tick();
      for (let i = 0; i < 4; i++) {
        const before = chat.sent.length;
        await nf.drain();
        if (chat.sent.length === before) break;
      }
    };
    let grid = runStart + o.stepMs;
    const advanceTo = async (t: number) => {
      for (;;) {
        const next = Math.min(grid, wakes[0] ?? Infinity);
        if (next > t) break;
        now = Math.max(now, next);
        if (next === grid) grid += o.stepMs;
        while (wakes.length && wakes[0]! <= now) wakes.shift();
        await step();
      }
      now = Math.max(now, t);
    };

    let nextReport = runStart + 10 * DAY;
    for (let i = 0; i < events.length; ) {
      const t = events[i]!.t;
      await advanceTo(t);
      const batch: AlertEvent[] = [];
      while (i < events.length && events[i]!.t === t) batch.push(events[i++]!.e);
      store.transaction(() => {
        for (const e of batch) if (store.recordAlert(e, [], now)) nf.route(e, now);
      });
      wakeAt(now + policy.groupWaitS * 1000 + 1000);
      await step(); // the agent nudges the notifier after each batch
      if (now >= nextReport) {
        progress(`${name}: day ${Math.round((now - runStart) / DAY)}, ${chat.sent.length} messages so far`);
        nextReport += 10 * DAY;
      }
    }
    await advanceTo(runEnd);

    const kinds = new Map<number, Record<string, number>>();
    for (const row of store.db
      .prepare<[], { message_id: number; kind: string; n: number }>(
        `SELECT message_id, kind, count(*) AS n FROM notifications WHERE message_id IS NOT NULL GROUP BY message_id, kind`,
      )
      .all()) {
      const k = kinds.get(row.message_id) ?? {};
      k[row.kind] = row.n;
      kinds.set(row.message_id, k);
    }
    const messages: MessageOut[] = store.db
      .prepare<[], { id: number; recipient: string; urgent: number; sent_at: number; text: string }>(
        `SELECT id, recipient, urgent, sent_at, text FROM messages WHERE status = 'sent' ORDER BY sent_at, id`,
      )
      .all()
      .map((m) => ({ id: m.id, recipient: m.recipient, urgent: m.urgent === 1, at: m.sent_at, text: m.text, kinds: kinds.get(m.id) ?? {} }));
    const urgentDelays: Record<string, number[]> = {};
    for (const r of config.recipients) {
      urgentDelays[r.name] = store.db
        .prepare<[string], { d: number }>(
          `SELECT min(m.sent_at) - n.created_at AS d FROM notifications n JOIN messages m ON m.id = n.message_id
           WHERE n.recipient = ? AND n.kind = 'new' AND n.urgent = 1 AND m.status = 'sent' GROUP BY n.id`,
        )
        .all(r.name)
        .map((x) => x.d);
    }
    return {
      name,
      messages,
      urgentDelays,
      stats: { ...nf.stats },
      pendingAtEnd: Object.fromEntries(config.recipients.map((r) => [r.name, store.notify.pendingCount(r.name)])),
      notifications: store.notify.counts(),
      acks: { sent: acksSent, outcomes: ackOutcomes },
      ms: performance.now() - t0,
    };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------ figures

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface DayFigures {
  mean: number;
  max: number;
  maxDay: string | null;
  total: number;
  /** Local dates with more than 5 messages, and how many. */
  daysOver5: Record<string, number>;
}

function perDay(times: number[], days: string[]): DayFigures {
  const by = new Map<string, number>();
  for (const t of times) {
    const d = localDay(t);
    by.set(d, (by.get(d) ?? 0) + 1);
  }
  let max = 0;
  let maxDay: string | null = null;
  for (const [d, n] of by) {
    if (n > max) {
      max = n;
      maxDay = d;
    }
  }
  const daysOver5 = Object.fromEntries([...by].filter(([, n]) => n > 5).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { mean: times.length / days.length, max, maxDay, total: times.length, daysOver5 };
}

interface Row {
  recipient: string;
  pass: string;
  before: DayFigures;
  after: DayFigures & {
    urgent: number;
    urgentDelayMedianMin: number | null;
    urgentDelayMaxMin: number | null;
    carrying: { reminder: number; resolved: number; storm: number; catchUp: number; digest: number };
    /** Messages sent between 21:30 and 05:30 local (the farmer's quiet hours), and how many of them told nothing new (reminders only). */
    night: { messages: number; remindersOnly: number };
    /** Messages sent less than group_interval after the person's previous one (urgent ones may; the rest should not). */
    backToBack: number;
  };
}

function rowsFor(pass: PassResult, events: Timed[], days: string[]): Row[] {
  return config.recipients.map((r) => {
    const naive = events.filter((x) => wants(r, x.e)).map((x) => x.t);
    const mine = pass.messages.filter((m) => m.recipient === r.name);
    const delays = pass.urgentDelays[r.name] ?? [];
    const med = median(delays);
    return {
      recipient: r.name,
      pass: pass.name,
      before: perDay(naive, days),
      after: {
        ...perDay(mine.map((m) => m.at), days),
        urgent: mine.filter((m) => m.urgent).length,
        urgentDelayMedianMin: med === null ? null : med / MIN,
        urgentDelayMaxMin: delays.length ? Math.max(...delays) / MIN : null,
        carrying: {
          reminder: mine.filter((m) => (m.kinds.reminder ?? 0) > 0).length,
          resolved: mine.filter((m) => (m.kinds.resolved ?? 0) > 0).length,
          // Phrases of the English catalogue (agent/notify/i18n/en.json): storm.offline/online, message.catchUp, message.overflow.
          storm: mine.filter((m) => /collars? (stopped sending|(is|are) sending again)/.test(m.text)).length,
          catchUp: mine.filter((m) => /Earlier, already over/.test(m.text)).length,
          digest: mine.filter((m) => /were held back so you do not get too many/.test(m.text)).length,
        },
        backToBack: mine.filter((m, i) => i > 0 && m.at - mine[i - 1]!.at < config.notify.groupIntervalMin * MIN).length,
        night: {
          messages: mine.filter((m) => atNight(m.at)).length,
          remindersOnly: mine.filter((m) => atNight(m.at) && Object.keys(m.kinds).every((k) => k === 'reminder')).length,
        },
      },
    };
  });
}

const NIGHT = { timezone: TZ, quietHours: { start: '21:30', end: '05:30' } };
const atNight = (t: number) => quietHoursEnd(NIGHT, t) !== null;

function countBy<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const c: Record<string, number> = {};
  for (const x of xs) c[key(x)] = (c[key(x)] ?? 0) + 1;
  return c;
}

// ------------------------------------------------------------------------------------------ main

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const wall0 = performance.now();
  progress(`simulating ${o.cows} cows × ${o.days} days, seed ${o.seed}`);
  const sim = simulateHerd({ farmId: `sim-${o.seed}`, cows: o.cows, startMs: SIM_START, days: o.days, seed: o.seed, episodes: 'default' });
  const storm = placeStorm(sim, o);
  const det = detect(sim, storm);
  const events = det.events;
  progress(`detector: ${det.readings.toLocaleString('en')} readings in ${(det.ms / 1000).toFixed(1)} s, ${events.length} alert changes`);

  const runStart = sim.startMs;
  const simEnd = sim.startMs + Math.floor((o.days * DAY) / (sim.intervalS * 1000)) * sim.intervalS * 1000;
  const runEnd = simEnd + TAIL_MS;
  const days = localDays(runStart, runEnd);

  const passes: PassResult[] = [];
  passes.push(await runPass('no acks', events, runStart, runEnd, o, false));
  progress(`pass "no acks": ${passes[0]!.messages.length} messages in ${(passes[0]!.ms / 1000).toFixed(1)} s`);
  passes.push(await runPass('farmer acks at 30 min', events, runStart, runEnd, o, true));
  progress(`pass "farmer acks": ${passes[1]!.messages.length} messages in ${(passes[1]!.ms / 1000).toFixed(1)} s`);

  const rows = passes.flatMap((p) => rowsFor(p, events, days));
  const stormDay = localDay(storm.start);
  const stormAlerts = events.filter((x) => storm.collars.includes(x.e.collarId) && x.t >= storm.start && x.t < storm.end + 12 * HOUR);
  const elapsedS = (performance.now() - wall0) / 1000;

  const scenario = {
    cows: o.cows,
    days: o.days,
    seed: o.seed,
    start: new Date(runStart).toISOString(),
    readingIntervalS: sim.intervalS,
    clockRunsUntil: new Date(runEnd).toISOString(),
    localDays: days.length,
    episodes: countBy(sim.truth, (e) => e.type),
    storm: {
      collars: storm.collars.length,
      hours: o.stormHours,
      from: new Date(storm.start).toISOString(),
      to: new Date(storm.end).toISOString(),
      localDay: stormDay,
      readingsDropped: det.dropped,
      alertChangesOnStormCollars: stormAlerts.map((x) => ({ at: new Date(x.t).toISOString(), collarId: x.e.collarId, type: x.e.type, state: x.e.state })),
    },
    readings: det.readings,
    alertChanges: countBy(events, (x) => `${x.e.type} ${x.e.state}${x.e.state === 'firing' ? ` ${x.e.severity}` : ''}`),
    policy: config.notify,
    stepMinutes: o.stepMs / MIN,
  };

  if (o.json) {
    console.log(JSON.stringify({
      scenario,
      rows,
      passes: passes.map((p) => ({
        name: p.name, stats: p.stats, pendingAtEnd: p.pendingAtEnd, notifications: p.notifications, acks: p.acks, runMs: Math.round(p.ms),
        stormDayFarmerMessages: p.messages.filter((m) => m.recipient === 'farmer' && localDay(m.at) === stormDay)
          .map((m) => ({ at: new Date(m.at).toISOString(), local: localTime(m.at), urgent: m.urgent, kinds: m.kinds, text: m.text })),
      })),
      elapsedS: Number(elapsedS.toFixed(1)),
    }, null, 2));
    return;
  }

  const fix = (x: number, d = 1) => x.toFixed(d);
  console.log(`Scenario: ${o.cows} cows × ${o.days} days from ${scenario.start.slice(0, 10)}, seed ${o.seed}, a reading every ${sim.intervalS / 60} min (${det.readings.toLocaleString('en')} readings replayed)`);
  console.log(`  episodes: ${Object.entries(scenario.episodes).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`  storm: ${storm.collars.length} collars silent ${new Date(storm.start).toISOString().slice(0, 16)}Z–${new Date(storm.end).toISOString().slice(11, 16)}Z (${o.stormHours} h, local day ${stormDay}; ${det.dropped} readings dropped); ` +
    `alert changes on those collars during and up to 12 h after: ${stormAlerts.length}`);
  console.log(`  alert changes: ${Object.entries(scenario.alertChanges).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`  notify policy (parseConfig defaults): group_wait ${config.notify.groupWaitS} s, group_interval ${config.notify.groupIntervalMin} min, repeat ${config.notify.repeatIntervalHours} h, ` +
    `max ${config.notify.maxPerHour}/h ${config.notify.maxPerDay}/day, storm ≥ ${config.notify.stormMinCollars} collars, catch-up after ${config.notify.catchUpAfterHours} h`);
  console.log(`  farmer: all types, info and up, quiet 21:30–05:30 ${TZ}; vet: health + down_cow, urgent only; clock step ${o.stepMs / MIN} min, run to ${scenario.clockRunsUntil.slice(0, 16)}Z (${days.length} local days)`);
  console.log('  before = one message per alert change the person wants (firing + resolved); after = what Cowbell sent. Days are local (Europe/Zurich); mean over all days.');
  console.log('');

  const head = ['recipient', 'pass', '│', 'mean/d', 'max day', 'total', 'days>5', '│', 'mean/d', 'max day', 'total', 'days>5', 'urgent', 'urg. delay med/max'];
  const table: string[][] = [head];
  for (const r of rows) {
    const maxDay = (f: DayFigures) => (f.maxDay ? `${f.max} (${f.maxDay.slice(5)})` : '0');
    table.push([
      r.recipient, r.pass, '│',
      fix(r.before.mean, 2), maxDay(r.before), String(r.before.total), String(Object.keys(r.before.daysOver5).length), '│',
      fix(r.after.mean, 2), maxDay(r.after), String(r.after.total), String(Object.keys(r.after.daysOver5).length),
      String(r.after.urgent),
      r.after.urgentDelayMedianMin === null ? '-' : `${fix(r.after.urgentDelayMedianMin)} / ${fix(r.after.urgentDelayMaxMin ?? 0)} min`,
    ]);
  }
  const widths = head.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const w0 = widths[0]! + widths[1]! + 4;
  const wb = widths.slice(3, 7).reduce((a, b) => a + b + 2, 0) - 2;
  const wa = widths.slice(8).reduce((a, b) => a + b + 2, 0) - 2;
  console.log(`${''.padEnd(w0)}│  ${'before grouping (naive)'.padEnd(wb)}  │  after (Cowbell)`.padEnd(w0 + wb + wa));
  console.log(line(head));
  console.log('─'.repeat(w0 + wb + wa + 10));
  for (const row of table.slice(1)) console.log(line(row));
  console.log('');

  console.log('Days with more than 5 messages after grouping (local date: messages):');
  for (const r of rows) {
    const d = Object.entries(r.after.daysOver5);
    console.log(`  ${r.recipient} / ${r.pass}: ${d.length ? d.map(([k, v]) => `${k}: ${v}`).join(', ') : 'none'}`);
  }
  console.log('What the messages carried (messages with at least one):');
  for (const r of rows) {
    const c = r.after.carrying;
    console.log(`  ${r.recipient} / ${r.pass}: reminder ${c.reminder}, back-to-normal ${c.resolved}, collar storm ${c.storm}, catch-up ${c.catchUp}, cap digest ${c.digest}; ` +
      `sent 21:30–05:30 local ${r.after.night.messages} (reminders only: ${r.after.night.remindersOnly}); ` +
      `less than ${config.notify.groupIntervalMin} min after the previous message ${r.after.backToBack}`);
  }
  for (const p of passes) {
    const s = p.stats;
    console.log(`Notifier "${p.name}": messages ${s.messages}, items ${s.items}, acknowledged ${s.acknowledged}, expired ${s.expired}, dropped ${s.dropped}, failed ${s.failed}; ` +
      `pending at end ${Object.entries(p.pendingAtEnd).map(([k, v]) => `${k} ${v}`).join(', ')}; notifications ${Object.entries(p.notifications).map(([k, v]) => `${k} ${v}`).join(', ')}` +
      (p.acks.sent ? `; button presses ${p.acks.sent} (${Object.entries(p.acks.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''));
  }
  console.log('');

  for (const [day, what] of [[stormDay, 'the storm day'], ...o.showDays.map((d) => [d, 'day'])] as const) for (const p of passes) {
    const ms = p.messages.filter((m) => m.recipient === 'farmer' && localDay(m.at) === day);
    console.log(`Farmer's messages on ${what} ${day} (pass "${p.name}"): ${ms.length}`);
    for (const m of ms) {
      console.log(`  ── ${localTime(m.at)} local${m.urgent ? ' URGENT' : ''} [${Object.entries(m.kinds).map(([k, v]) => `${k} ${v}`).join(', ')}]`);
      console.log(m.text.split('\n').map((l) => `     ${l}`).join('\n'));
    }
    console.log('');
  }
  console.log(`Elapsed: ${fix(elapsedS)} s (detector ${fix(det.ms / 1000)} s, notifier passes ${passes.map((p) => fix(p.ms / 1000)).join(' + ')} s)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
