import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../agent/config.js';
import { DeliveryError } from '../agent/errors.js';
import type { ChatChannel, SendContext, SendResult } from '../agent/notify/chat.js';
import { quietHoursEnd } from '../agent/notify/compose.js';
import type { Recipient, RenderedMessage } from '../agent/notify/message.js';
import { Notifier } from '../agent/notify/notifier.js';
import { Store } from '../agent/store/store.js';
import { parseHerdCsv } from '../agent/herd/csv.js';
import { applyHerd, noteCalving } from '../agent/herd/register.js';
import { ReadingPipeline } from '../agent/pipeline.js';
import { collarTopic } from '../collar-sim/index.js';
import { DEFAULT_RULES } from '../rules/index.js';
import type { AlertEvent, AlertType, Severity } from '../rules/index.js';
import { memoryLogger, tempDir } from './helpers.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** A chat service in-process: records what each person received and when (on the injected clock). */
class RecordingChat implements ChatChannel {
  readonly name = 'console' as const;
  readonly timeoutMs = 5_000;
  paceMs = 0;
  readonly sent: { to: string; text: string; at: number; ctx: SendContext; template: string }[] = [];
  failures: (Error | null)[] = [];
  constructor(private readonly clock: () => number) {}
  async send(to: Recipient, m: RenderedMessage, ctx: SendContext): Promise<SendResult> {
    const f = this.failures.shift();
    if (f) throw f;
    this.sent.push({ to: to.name, text: m.text, at: this.clock(), ctx, template: m.template.name });
    return { providerId: `p${this.sent.length}` };
  }
  to(name: string) {
    return this.sent.filter((s) => s.to === name);
  }
}

let n = 0;
function alert(type: AlertType, cow: string, at: number, o: { severity?: Severity; since?: number; state?: 'firing' | 'resolved'; raisedAt?: number } = {}): AlertEvent {
  const raisedAt = o.raisedAt ?? at;
  return {
    id: `${type}:${cow}:${raisedAt}`, farmId: 'f', cowId: cow, collarId: cow, type, state: o.state ?? 'firing', severity: o.severity ?? 'warning',
    at, since: o.since ?? at - HOUR, raisedAt,
    evidence: type === 'health' ? { metric: 'activity', ratio: 0.5, window: { hours: 24 } } : { metric: 'activity', ratio: 2.4, window: { hours: 6 } },
  };
}

describe('notifier: what reaches the farmer, and when', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: Store;
  let now: number;
  let chat: RecordingChat;

  beforeEach(() => {
    tmp = tempDir();
    store = new Store(join(tmp.dir, 'n.db'));
    // Wednesday 25 Nov 2026, 10:00 UTC
    now = Date.parse('2026-11-25T10:00:00Z');
    chat = new RecordingChat(() => now);
    n++;
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  function notifier(cfg: Record<string, unknown> = {}) {
    const c = parseConfig({
      farm: { id: 'f', timezone: 'UTC' },
      mqtt: { url: 'mqtt://127.0.0.1:1' },
      recipients: [
        { name: 'Anna', channel: 'console' },
        { name: 'Vet', channel: 'console', types: ['health', 'down_cow'], minSeverity: 'urgent' },
      ],
      ...cfg,
    });
    return new Notifier({
      store, recipients: c.recipients, escalation: c.escalation, policy: c.notify, farmName: 'Hillside', channels: [chat],
      logger: memoryLogger().logger, feedsFor: () => [], clock: () => now, random: () => 0.5,
    });
  }

  function record(nf: Notifier, e: AlertEvent): void {
    store.transaction(() => {
      if (store.recordAlert(e, [], now)) nf.route(e, now);
    });
  }

  /** Lets the clock run in steps, draining every person's queue at each. */
  async function run(nf: Notifier, ms: number, step = 10_000): Promise<void> {
    const end = now + ms;
    while (now < end) {
      nf.tick();
      await nf.drain();
      now += step;
    }
  }

  it('three heats in ten minutes make one message listing the cows, after group_wait', async () => {
    const nf = notifier();
    record(nf, alert('heat', 'C1', now));
    await run(nf, 10_000);
    record(nf, alert('heat', 'C2', now));
    await run(nf, 10_000);
    record(nf, alert('heat', 'C3', now));
    await run(nf, 10 * MIN);
    const anna = chat.to('Anna');
    expect(anna).toHaveLength(1);
    expect(anna[0]!.text).toMatch(/3 cows probably in heat/);
    for (const cow of ['C1', 'C2', 'C3']) expect(anna[0]!.text).toContain(`Cow ${cow}`);
    // group_wait (30 s) from the first heat
    expect(anna[0]!.at - Date.parse('2026-11-25T10:00:00Z')).toBeGreaterThanOrEqual(30_000);
    expect(anna[0]!.ctx.actions).toBe(true);
    // Not for the vet: heats, and warnings.
    expect(chat.to('Vet')).toEqual([]);
  });

  it('group_interval: a later alert waits after the last message; an urgent one does not', async () => {
    const nf = notifier();
    record(nf, alert('heat', 'C1', now));
    await run(nf, MIN);
    expect(chat.to('Anna')).toHaveLength(1);
    const first = chat.to('Anna')[0]!.at;
    record(nf, alert('heat', 'C2', now));
    await run(nf, 2 * MIN);
    expect(chat.to('Anna')).toHaveLength(1);
    await run(nf, 4 * MIN);
    expect(chat.to('Anna')).toHaveLength(2);
    expect(chat.to('Anna')[1]!.at - first).toBeGreaterThanOrEqual(5 * MIN);

    record(nf, alert('health', 'C9', now, { severity: 'urgent' }));
    await run(nf, 10_000);
    expect(chat.to('Anna')).toHaveLength(3);
    expect(chat.to('Anna')[2]!.text).toMatch(/^URGENT: Cow C9 may be unwell/);
    expect(chat.to('Vet')).toHaveLength(1);
  });

  it('caps messages per hour and per day; what is held back goes as one digest', async () => {
    const nf = notifier({ notify: { groupWaitS: 0, groupIntervalMin: 0, maxPerHour: 2, maxPerDay: 3 } });
    for (let i = 0; i < 10; i++) {
      record(nf, alert('battery_low', `B${i}`, now, { severity: 'info' }));
      await run(nf, 5 * MIN, MIN);
    }
    // 50 minutes, 10 alerts: 2 messages in the first hour.
    expect(chat.to('Anna')).toHaveLength(2);
    await run(nf, 24 * HOUR, 5 * MIN);
    const anna = chat.to('Anna');
    // Two in the first hour, then the other eight as one digest when the hour is up; low batteries are not repeated.
    expect(anna).toHaveLength(3);
    expect(anna[2]!.at).toBe(Date.parse('2026-11-25T11:00:00Z'));
    expect(anna[2]!.text).toMatch(/held back/i);
    for (let i = 2; i < 10; i++) expect(anna[2]!.text).toContain(`Collar B${i}`);
    expect(store.notify.counts()).toEqual({ sent: 10 });
  });

  it('quiet hours hold warnings until they end; urgent messages go at once', async () => {
    const nf = notifier({ recipients: [{ name: 'Anna', channel: 'console', timezone: 'Europe/Zurich', quietHours: { start: '21:30', end: '05:30' } }] });
    // 23:00 in Zurich (UTC+1)
    now = Date.parse('2026-11-25T22:00:00Z');
    record(nf, alert('heat', 'C1', now));
    await run(nf, HOUR, MIN);
    expect(chat.to('Anna')).toEqual([]);
    record(nf, alert('health', 'C2', now, { severity: 'urgent' }));
    await run(nf, MIN, 10_000);
    expect(chat.to('Anna')).toHaveLength(1);
    expect(chat.to('Anna')[0]!.text).toMatch(/URGENT: Cow C2/);
    // The heat that came with it went along with the urgent message rather than waiting.
    await run(nf, 8 * HOUR, 5 * MIN);
    const texts = chat.to('Anna').map((m) => m.text).join('\n');
    expect(texts).toContain('Cow C1');
    expect(quietHoursEnd({ timezone: 'Europe/Zurich', quietHours: { start: '21:30', end: '05:30' } }, Date.parse('2026-11-25T22:00:00Z'))).toBe(Date.parse('2026-11-26T04:30:00Z'));
  });

  it('quiet hours: a warning alone waits for the morning, with a not-before time in the outbox', async () => {
    const nf = notifier({ recipients: [{ name: 'Anna', channel: 'console', timezone: 'Europe/Zurich', quietHours: { start: '21:30', end: '05:30' } }] });
    now = Date.parse('2026-11-25T22:00:00Z');
    record(nf, alert('heat', 'C1', now));
    await run(nf, 6 * HOUR, 5 * MIN);
    expect(chat.to('Anna')).toEqual([]);
    expect(store.notify.pending('Anna')[0]!.notBefore).toBe(Date.parse('2026-11-26T04:30:00Z'));
    await run(nf, HOUR, 5 * MIN);
    const anna = chat.to('Anna');
    expect(anna).toHaveLength(1);
    expect(anna[0]!.at).toBeGreaterThanOrEqual(Date.parse('2026-11-26T04:30:00Z'));
  });

  it('escalates an urgent alert nobody acknowledged to the next person, and says so; not once acknowledged', async () => {
    const nf = notifier({
      recipients: [{ name: 'Anna', channel: 'console' }, { name: 'Hans', channel: 'console', types: ['health'] }, { name: 'Vet', channel: 'console', types: [] }],
      escalation: [{ afterMinutes: 30, to: ['Hans'] }, { afterMinutes: 90, to: ['Vet'] }],
    });
    record(nf, alert('health', 'C7', now, { severity: 'urgent' }));
    await run(nf, 29 * MIN, MIN);
    // Hans wants health alerts and gets it directly; no escalation yet.
    expect(chat.to('Hans')).toHaveLength(1);
    expect(chat.to('Vet')).toEqual([]);
    await run(nf, 62 * MIN, MIN);
    const vet = chat.to('Vet');
    expect(vet).toHaveLength(1);
    expect(vet[0]!.text).toMatch(/Anna/);
    expect(vet[0]!.text).toMatch(/90 min/);
    expect(vet[0]!.text).toMatch(/Cow C7/);

    // A second urgent alert, acknowledged in time: nobody is escalated to.
    record(nf, alert('health', 'C8', now, { severity: 'urgent' }));
    await run(nf, MIN, 10_000);
    const msg = store.notify.latestSentTo('Anna')!;
    expect(nf.handleInbound({ type: 'button', channel: 'console', from: '', data: `ack:${msg.id}`, id: `x${n}`, at: now }).outcome).toBe('acknowledged');
    await run(nf, 3 * HOUR, 5 * MIN);
    expect(chat.to('Vet')).toHaveLength(1);
    expect(store.alert(`health:C8:${Date.parse('2026-11-25T11:32:00Z')}`)?.state ?? store.openAlerts().find((a) => a.cowId === 'C8')?.state).toBe('acknowledged');
  });

  // A fresh cow's dip is the calving's: the farmer who reads "may be unwell" and knows she just calved says so,
  // and the register (and so the rules) know it from then on.
  it('a reply "calved" notes the calving in the herd register, gives it to the rules, and acknowledges', async () => {
    const pipeline = new ReadingPipeline({ farmId: 'f', rules: DEFAULT_RULES, retentionDays: 60, store, logger: memoryLogger().logger, feedsFor: () => [], notify: () => {}, clock: () => now });
    applyHerd(store, pipeline, 'f', parseHerdCsv('cow,name,collar\n412,Bella,412\n'), now);
    pipeline.handleMessages([{ topic: collarTopic('f', '412'), payload: Buffer.from(JSON.stringify({ ts: new Date(now - MIN).toISOString(), intervalS: 900, activity: 40, rumination: 8 })) }]);
    const nf = new Notifier({
      store, recipients: parseConfig({ farm: { id: 'f', timezone: 'UTC' }, mqtt: { url: 'mqtt://127.0.0.1:1' }, recipients: [{ name: 'Anna', channel: 'console' }] }).recipients,
      escalation: [], policy: parseConfig({ farm: { id: 'f', timezone: 'UTC' }, mqtt: { url: 'mqtt://127.0.0.1:1' }, recipients: [{ name: 'Anna', channel: 'console' }] }).notify,
      farmName: 'Hillside', channels: [chat], logger: memoryLogger().logger, feedsFor: () => [], clock: () => now, random: () => 0.5,
      onCalved: (cowIds, t) => noteCalving(store, pipeline, cowIds, '2026-11-25', t),
    });
    record(nf, alert('health', '412', now));
    await run(nf, 2 * MIN);
    const msg = store.notify.latestSentTo('Anna')!;
    const answer = nf.handleInbound({ type: 'text', channel: 'console', from: '', text: 'Calved', id: `c${n}`, at: now });
    expect(answer.outcome).toBe('calved');
    expect(answer.reply).toMatch(/Cow 412 calved today, noted in the herd register/);
    expect(store.herd.list().find((c) => c.cow === '412')?.calved).toBe('2026-11-25');
    // The rules read the register once the reply's transaction has committed.
    await Promise.resolve();
    expect(pipeline.detector.cows.get('412')!.state.record).toEqual({ calvedAt: Date.parse('2026-11-25T00:00:00Z') });
    expect(store.openAlerts().find((a) => a.cowId === '412')?.state).toBe('acknowledged');
    // Said again the next day, it is the same calving; a week on, a new one.
    noteCalving(store, pipeline, ['412'], '2026-11-26', now);
    expect(store.herd.list().find((c) => c.cow === '412')?.calved).toBe('2026-11-25');
    noteCalving(store, pipeline, ['412'], '2026-12-02', now);
    expect(store.herd.list().find((c) => c.cow === '412')?.calved).toBe('2026-12-02');
    noteCalving(store, pipeline, ['412'], '2026-11-25', now);
    expect(store.notify.alertIdsOfMessage(msg.id)).toHaveLength(1);
    // A cow the register does not know cannot have a calving noted: the answer says how to add her.
    record(nf, alert('health', 'C9', now));
    await run(nf, 10 * MIN);
    expect(store.notify.alertIdsOfMessage(store.notify.latestSentTo('Anna')!.id)).toEqual([expect.stringMatching(/^health:C9:/)]);
    const stray = nf.handleInbound({ type: 'text', channel: 'console', from: '', text: 'calved', id: `d${n}`, at: now });
    expect(stray.outcome).toBe('nothing-to-do');
    expect(stray.reply).toMatch(/herd register/);
    expect(store.openAlerts().find((a) => a.cowId === 'C9')?.state).toBe('firing');
    // A question is not an answer; a message about two cows cannot say which calved.
    expect(nf.handleInbound({ type: 'text', channel: 'console', from: '', text: 'calved?', id: `q${n}`, at: now }).outcome).toBe('not-understood');
    store.transaction(() => {
      for (const cow of ['412', '413']) if (store.recordAlert(alert('heat', cow, now), [], now)) nf.route(alert('heat', cow, now), now);
    });
    await run(nf, 10 * MIN);
    expect(store.notify.alertIdsOfMessage(store.notify.latestSentTo('Anna')!.id)).toHaveLength(2);
    const two = nf.handleInbound({ type: 'text', channel: 'console', from: '', text: 'calved', id: `t${n}`, at: now });
    expect(two.outcome).toBe('nothing-to-do');
    expect(two.reply).toMatch(/Which cow calved/);
  });

  it('a snooze silences reminders and escalation for its hours, then reminds', async () => {
    const nf = notifier({ recipients: [{ name: 'Anna', channel: 'console' }], escalation: [{ afterMinutes: 30, to: ['Anna'] }], notify: { repeatIntervalHours: 24 } });
    record(nf, alert('health', 'C7', now, { severity: 'urgent' }));
    await run(nf, MIN, 10_000);
    const msg = store.notify.latestSentTo('Anna')!;
    expect(nf.handleInbound({ type: 'button', channel: 'console', from: '', data: `snooze:${msg.id}`, id: `s${n}`, at: now }).outcome).toBe('snoozed');
    await run(nf, 3 * HOUR, 5 * MIN);
    expect(chat.to('Anna')).toHaveLength(1);
    await run(nf, 2 * HOUR, 5 * MIN);
    const anna = chat.to('Anna');
    expect(anna.length).toBeGreaterThanOrEqual(2);
    expect(anna[1]!.text).toMatch(/Cow C7/);
    expect(anna[1]!.at - anna[0]!.at).toBeGreaterThanOrEqual(4 * HOUR);
  });

  it('30 collars silent at once: one message about the gateway, not thirty', async () => {
    const nf = notifier();
    for (let i = 0; i < 30; i++) record(nf, alert('collar_offline', `K${String(i).padStart(2, '0')}`, now, { severity: 'info', since: now - 6 * HOUR }));
    await run(nf, 10 * MIN);
    const anna = chat.to('Anna');
    expect(anna).toHaveLength(1);
    expect(anna[0]!.text).toMatch(/30 collars/);
    expect(anna[0]!.text).toMatch(/gateway/);
    // And when they come back: one message too.
    for (let i = 0; i < 30; i++) {
      const id = `K${String(i).padStart(2, '0')}`;
      record(nf, { ...alert('collar_offline', id, now + HOUR, { severity: 'info', since: now - 6 * HOUR, raisedAt: Date.parse('2026-11-25T10:00:00Z') }), state: 'resolved' });
    }
    await run(nf, 20 * MIN);
    expect(chat.to('Anna')).toHaveLength(2);
    expect(chat.to('Anna')[1]!.text).toMatch(/30 collars are sending again/);
  });

  it('back to normal only where the farmer would act: a recovered cow yes, an ended heat no', async () => {
    const nf = notifier({ notify: { groupWaitS: 0, groupIntervalMin: 0 } });
    const heat = alert('heat', 'C1', now);
    const sick = alert('health', 'C2', now);
    record(nf, heat);
    record(nf, sick);
    await run(nf, MIN);
    expect(chat.to('Anna')).toHaveLength(1);
    now += 6 * HOUR;
    record(nf, { ...heat, state: 'resolved', at: now });
    record(nf, { ...sick, state: 'resolved', at: now });
    await run(nf, 10 * MIN);
    const anna = chat.to('Anna');
    expect(anna).toHaveLength(2);
    expect(anna[1]!.text).toMatch(/Cow C2 is back to her normal/);
    expect(anna[1]!.text).not.toMatch(/C1/);
    expect(anna[1]!.ctx.actions).toBe(false);
  });

  it('reminders repeat an open, unacknowledged alert after repeat_interval; an acknowledged one is left alone', async () => {
    const nf = notifier({ notify: { repeatIntervalHours: 12 } });
    const sick = alert('health', 'C2', now);
    record(nf, sick);
    await run(nf, MIN);
    await run(nf, 13 * HOUR, 5 * MIN);
    const anna = chat.to('Anna');
    expect(anna).toHaveLength(2);
    expect(anna[1]!.text).toMatch(/Reminder/i);
    nf.acknowledge([sick.id], 'Anna');
    await run(nf, 30 * HOUR, 10 * MIN);
    expect(chat.to('Anna')).toHaveLength(2);
  });

  it('a reminder never wakes anyone: even about an urgent alert, it waits for the end of quiet hours', async () => {
    const nf = notifier({ recipients: [{ name: 'Anna', channel: 'console', timezone: 'Europe/Zurich', quietHours: { start: '21:30', end: '05:30' } }] });
    now = Date.parse('2026-11-25T02:00:00Z'); // 03:00 in Zurich
    record(nf, alert('health', 'C7', now, { severity: 'urgent' }));
    await run(nf, MIN, 10_000);
    expect(chat.to('Anna')).toHaveLength(1); // urgent and new: at once, at night
    await run(nf, 24 * HOUR, 5 * MIN);
    expect(chat.to('Anna')).toHaveLength(1); // 24 h later it is 03:00 again: the reminder waits
    await run(nf, 3 * HOUR, 5 * MIN);
    const anna = chat.to('Anna');
    expect(anna).toHaveLength(2);
    expect(anna[1]!.text).toMatch(/Reminder/i);
    expect(anna[1]!.at).toBeGreaterThanOrEqual(Date.parse('2026-11-26T04:30:00Z')); // 05:30 in Zurich
  });

  it('quiet hours are judged when a message goes: one held by the cap does not go out at night', async () => {
    const nf = notifier({
      recipients: [{ name: 'Anna', channel: 'console', timezone: 'UTC', quietHours: { start: '21:30', end: '05:30' } }],
      notify: { groupWaitS: 0, groupIntervalMin: 0, maxPerHour: 1 },
    });
    now = Date.parse('2026-11-25T21:00:00Z');
    record(nf, alert('heat', 'C1', now));
    await run(nf, MIN, 10_000);
    record(nf, alert('heat', 'C2', now));
    await run(nf, 10 * HOUR, 5 * MIN);
    const anna = chat.to('Anna');
    expect(anna).toHaveLength(2);
    expect(anna[1]!.at).toBeGreaterThanOrEqual(Date.parse('2026-11-26T05:30:00Z'));
  });

  it('"back to normal" after an urgent alert waits for the morning', async () => {
    const nf = notifier({ recipients: [{ name: 'Anna', channel: 'console', timezone: 'UTC', quietHours: { start: '21:30', end: '05:30' } }] });
    now = Date.parse('2026-11-25T20:00:00Z');
    const sick = alert('health', 'C7', now, { severity: 'urgent' });
    record(nf, sick);
    await run(nf, MIN, 10_000);
    now = Date.parse('2026-11-26T03:00:00Z');
    record(nf, { ...sick, state: 'resolved', at: now });
    await run(nf, 4 * HOUR, 5 * MIN);
    const anna = chat.to('Anna');
    expect(anna).toHaveLength(2);
    expect(anna[1]!.text).toMatch(/back to her normal/);
    expect(anna[1]!.at).toBeGreaterThanOrEqual(Date.parse('2026-11-26T05:30:00Z'));
  });

  it('a reminder held back does not swallow the "back to normal" that follows it', async () => {
    const nf = notifier({ notify: { groupWaitS: 0, groupIntervalMin: 0, repeatIntervalHours: 12 } });
    const sick = alert('health', 'C7', now);
    record(nf, sick);
    await run(nf, MIN, 10_000);
    // The chat is down when the reminder is due; the cow recovers meanwhile.
    chat.failures = Array.from({ length: 50 }, () => new DeliveryError('503', true));
    await run(nf, 13 * HOUR, 5 * MIN);
    record(nf, { ...sick, state: 'resolved', at: now });
    chat.failures = [];
    await run(nf, 2 * HOUR, 5 * MIN);
    const anna = chat.to('Anna');
    expect(anna.at(-1)!.text).toMatch(/Cow C7 is back to her normal/);
    expect(anna.map((m) => m.text).join('\n')).not.toMatch(/Reminder/);
  });

  it('after a snooze ends, escalation starts over instead of paging every step at once', async () => {
    const nf = notifier({
      recipients: [{ name: 'Anna', channel: 'console' }, { name: 'Hans', channel: 'console', types: [] }, { name: 'Vet', channel: 'console', types: [] }],
      escalation: [{ afterMinutes: 30, to: ['Hans'] }, { afterMinutes: 90, to: ['Vet'] }],
    });
    record(nf, alert('health', 'C7', now, { severity: 'urgent' }));
    await run(nf, MIN, 10_000);
    const msg = store.notify.latestSentTo('Anna')!;
    nf.handleInbound({ type: 'button', channel: 'console', from: '', data: `snooze:${msg.id}`, id: `sn${n}`, at: now });
    await run(nf, 4 * HOUR + 10 * MIN, MIN);
    expect(chat.to('Hans')).toEqual([]);
    await run(nf, 25 * MIN, MIN);
    expect(chat.to('Hans')).toHaveLength(1);
    expect(chat.to('Vet')).toEqual([]);
  });

  it("the buttons of a message sent twice (a crash, a timeout) still act on its alerts", async () => {
    const nf = notifier({ notify: { groupWaitS: 0, groupIntervalMin: 0 } });
    const sick = alert('health', 'C7', now);
    record(nf, sick);
    // The first try reached the phone but its outcome was lost (as after a timeout): the message goes again.
    const first = store.transaction(() => store.notify.startMessage({ recipient: 'Anna', channel: 'console', urgent: false, text: 'x' }, store.notify.pending('Anna').map((p) => p.id), [], now));
    store.transaction(() => store.notify.messageRetry(first, 'timeout'));
    await run(nf, MIN, 10_000);
    expect(chat.to('Anna')).toHaveLength(1);
    expect(nf.handleInbound({ type: 'button', channel: 'console', from: '', data: `ack:${first}`, id: `old${n}`, at: now }).outcome).toBe('acknowledged');
    expect(store.alert(sick.id)?.state).toBe('acknowledged');
  });

  it('retention forgets settled notifications, messages and resolved alerts, and keeps what still waits', async () => {
    const nf = notifier({ notify: { groupWaitS: 0, groupIntervalMin: 0 } });
    const heat = alert('heat', 'C1', now);
    record(nf, heat);
    await run(nf, MIN, 10_000);
    record(nf, { ...heat, state: 'resolved', at: now });
    chat.failures = Array.from({ length: 100 }, () => new DeliveryError('down', true));
    record(nf, alert('health', 'C2', now));
    await run(nf, MIN, 10_000);
    expect(() => store.pruneHistory(now + HOUR)).not.toThrow();
    expect(store.alert(heat.id)).toBeUndefined();
    expect(store.db.prepare(`SELECT count(*) FROM messages WHERE status = 'sent'`).pluck().get()).toBe(0);
    expect(store.notify.pending('Anna').map((p) => p.alertId)).toEqual([expect.stringMatching(/^health:C2/)]);
  });

  it('retries a failing chat with backoff, and regroups what arrived meanwhile into the next message', async () => {
    const nf = notifier({ notify: { groupWaitS: 0, groupIntervalMin: 0 } });
    chat.failures = [new DeliveryError('503', true), new DeliveryError('503', true)];
    record(nf, alert('heat', 'C1', now));
    await run(nf, 10_000, 1000);
    record(nf, alert('heat', 'C2', now));
    await run(nf, 2 * MIN, 1000);
    const anna = chat.to('Anna');
    expect(anna).toHaveLength(1);
    expect(anna[0]!.text).toMatch(/2 cows probably in heat/);
    expect(store.notify.recentMessages(10).map((m) => m.status).sort()).toEqual(['retry', 'retry', 'sent']);
  });

  it('a permanent refusal fails the message with its reason and does not loop', async () => {
    const nf = notifier({ notify: { groupWaitS: 0, groupIntervalMin: 0 } });
    chat.failures = [new DeliveryError('WhatsApp error 131026: message undeliverable', false)];
    record(nf, alert('heat', 'C1', now));
    await run(nf, HOUR, MIN);
    expect(chat.sent).toEqual([]);
    const [m] = store.notify.recentMessages(10);
    expect(m).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/131026/) });
    expect(store.notify.failedMessages(10)).toHaveLength(1);
  });

  it('STOP opts a person out and START back in', async () => {
    const nf = notifier({ notify: { groupWaitS: 0, groupIntervalMin: 0 }, recipients: [{ name: 'Anna', channel: 'console', address: '' }] });
    expect(nf.handleInbound({ type: 'text', channel: 'console', from: '', text: 'STOP', id: `stop${n}`, at: now }).outcome).toBe('stopped');
    record(nf, alert('heat', 'C1', now));
    await run(nf, HOUR, MIN);
    expect(chat.sent).toEqual([]);
    expect(nf.status().recipients[0]!.optedOut).toBe(true);
    expect(nf.handleInbound({ type: 'text', channel: 'console', from: '', text: 'start', id: `start${n}`, at: now }).outcome).toBe('started');
    record(nf, alert('heat', 'C2', now));
    await run(nf, HOUR, MIN);
    expect(chat.sent).toHaveLength(1);
    expect(chat.sent[0]!.text).toContain('C2');
  });

  it('a crash between the request and its commit costs at most one duplicate, never a missing message', async () => {
    const nf = notifier({ notify: { groupWaitS: 0, groupIntervalMin: 0 } });
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    // The service receives the message, but the agent dies before it records the answer.
    const dying: ChatChannel = {
      name: 'console', timeoutMs: 60 * 60_000, paceMs: 0,
      send: async (to, m, ctx) => {
        chat.sent.push({ to: to.name, text: m.text, at: now, ctx, template: m.template.name });
        await hung;
        throw new Error('never reached');
      },
    };
    const c = parseConfig({ farm: { id: 'f' }, mqtt: { url: 'mqtt://127.0.0.1:1' }, recipients: [{ name: 'Anna', channel: 'console' }], notify: { groupWaitS: 0, groupIntervalMin: 0 } });
    const before = new Notifier({ store, recipients: c.recipients, escalation: [], policy: c.notify, farmName: 'f', channels: [dying], logger: memoryLogger().logger, feedsFor: () => [], clock: () => now });
    record(before, alert('heat', 'C1', now));
    void before.drain();
    await new Promise((r) => setTimeout(r, 50));
    expect(chat.sent).toHaveLength(1);
    expect(store.notify.recentMessages(1)[0]!.status).toBe('inflight');

    // Restart: a new store on the same file, as after kill -9.
    const after = new Store(join(tmp.dir, 'n.db'));
    const nf2 = new Notifier({ store: after, recipients: c.recipients, escalation: [], policy: c.notify, farmName: 'f', channels: [chat], logger: memoryLogger().logger, feedsFor: () => [], clock: () => now });
    nf2.start();
    await nf2.drain();
    await nf2.stop();
    expect(chat.sent).toHaveLength(2);
    expect(chat.sent[1]!.text).toBe(chat.sent[0]!.text);
    expect(after.notify.counts()).toEqual({ sent: 1 });
    after.close();
    release();
    void nf;
  });

  it('a cow overdue for heat (info) never wakes anyone, is told once, and her next heat is the news, not "back to normal"', async () => {
    const nf = notifier({
      recipients: [
        { name: 'Anna', channel: 'console', timezone: 'Europe/Zurich', quietHours: { start: '21:30', end: '05:30' } },
        { name: 'Beat', channel: 'console', minSeverity: 'warning' },
      ],
      notify: { repeatIntervalHours: 12 },
    });
    now = Date.parse('2026-11-25T22:00:00Z'); // 23:00 in Zurich
    const lastHeat = now - 25 * 24 * HOUR;
    const missed: AlertEvent = {
      id: `missed_heat:C5:${now}`, farmId: 'f', cowId: 'C5', collarId: 'C5', type: 'missed_heat', state: 'firing', severity: 'info',
      at: now, since: lastHeat, raisedAt: now,
      evidence: {
        lastHeatSince: new Date(lastHeat).toISOString(), daysSinceLastHeat: 25,
        expectedFrom: new Date(lastHeat + 18 * 24 * HOUR).toISOString(), expectedTo: new Date(lastHeat + 24 * 24 * HOUR).toISOString(),
      },
    };
    record(nf, missed);
    const queued = store.notify.pending('Anna');
    expect(queued).toHaveLength(1);
    expect(queued[0]!.urgent).toBe(false);
    expect(queued[0]!.notBefore).toBe(Date.parse('2026-11-26T04:30:00Z'));
    await run(nf, 6 * HOUR, 5 * MIN);
    expect(chat.to('Anna')).toEqual([]);
    await run(nf, HOUR, 5 * MIN);
    const anna = chat.to('Anna');
    expect(anna).toHaveLength(1);
    expect(anna[0]!.at).toBeGreaterThanOrEqual(Date.parse('2026-11-26T04:30:00Z'));
    expect(anna[0]!.text).toMatch(/^Cow C5 is overdue for heat: her last one began on Sat 31 Oct, 25 days ago\./);
    expect(anna[0]!.template).toBe('cowbell_summary');
    expect(anna[0]!.ctx.actions).toBe(true);
    expect(store.notify.latestSentTo('Anna')!.urgent).toBe(false);
    // Someone who asked for warnings and up is not told.
    expect(chat.to('Beat')).toEqual([]);

    // No reminders: an info alert is told once, however long it stays open.
    await run(nf, 30 * HOUR, 10 * MIN);
    expect(chat.to('Anna')).toHaveLength(1);

    // Her next heat: the rules resolve the missed heat and raise the heat. The heat is the message.
    const heat = alert('heat', 'C5', now);
    record(nf, { ...missed, state: 'resolved', at: now, evidence: { heatSince: new Date(heat.since).toISOString() } });
    record(nf, heat);
    await run(nf, 10 * MIN);
    const after = chat.to('Anna');
    expect(after).toHaveLength(2);
    expect(after[1]!.text).toMatch(/^Cow C5 is probably in heat/);
    expect(after[1]!.text).not.toMatch(/overdue|in heat again/);
  });

  it('the queue per person is bounded: the oldest non-urgent are dropped, urgent never', async () => {
    const nf = notifier({ notify: { maxPendingPerRecipient: 10 } });
    chat.failures = Array.from({ length: 1000 }, () => new DeliveryError('down', true));
    for (let i = 0; i < 15; i++) record(nf, alert('battery_low', `B${i}`, now));
    for (let i = 0; i < 5; i++) record(nf, alert('health', `U${i}`, now, { severity: 'urgent' }));
    nf.tick();
    const pending = store.notify.pending('Anna');
    expect(pending.length).toBe(10);
    expect(pending.filter((p) => p.urgent)).toHaveLength(5);
    expect(nf.stats.dropped).toBe(10);
  });

  it('a message nobody could send for a week expires, with a counter, unless urgent', async () => {
    const nf = notifier({ notify: { expireAfterHours: 24 } });
    chat.failures = Array.from({ length: 10_000 }, () => new DeliveryError('down', true));
    record(nf, alert('battery_low', 'B1', now));
    record(nf, alert('health', 'U1', now, { severity: 'urgent' }));
    await run(nf, 25 * HOUR, 10 * MIN);
    expect(nf.stats.expired).toBe(1);
    expect(store.notify.pending('Anna').map((p) => p.alertId)).toEqual([expect.stringMatching(/^health:U1/)]);
  });
});

describe('notifier: the database disk full', () => {
  it('waits for space instead of stopping the agent, and delivers once there is room', async () => {
    const tmp = tempDir();
    const store = new Store(join(tmp.dir, 'full.db'));
    let now = Date.parse('2026-11-25T10:00:00Z');
    const chat = new RecordingChat(() => now);
    const fatal: Error[] = [];
    const c = parseConfig({ farm: { id: 'f', timezone: 'UTC' }, mqtt: { url: 'mqtt://127.0.0.1:1' }, recipients: [{ name: 'Anna', channel: 'console' }], notify: { groupWaitS: 0 } });
    const nf = new Notifier({
      store, recipients: c.recipients, escalation: c.escalation, policy: c.notify, farmName: 'Hillside', channels: [chat],
      logger: memoryLogger().logger, feedsFor: () => [], clock: () => now, random: () => 0.5, onFatal: (e) => fatal.push(e),
    });
    const step = async (n: number) => {
      for (let i = 0; i < n; i++) {
        now += 10_000;
        nf.tick();
        await nf.drain();
      }
    };
    try {
      const e = alert('heat', 'C1', now);
      store.transaction(() => {
        if (store.recordAlert(e, [], now)) nf.route(e, now);
      });
      // The disk fills: not one more page, and the message table's page is packed (someone else's old
      // messages), so the next message the notifier records needs a page there is no room for.
      store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
      const junk = store.db.prepare(`INSERT INTO messages (recipient, channel, status, urgent, items, text, created_at) VALUES ('old', 'console', 'sent', 0, 0, ?, 0)`);
      try {
        for (;;) junk.run('x'.repeat(200));
      } catch (err) {
        expect((err as { code?: string }).code).toBe('SQLITE_FULL');
      }
      await step(3);
      expect(fatal).toEqual([]);
      expect(chat.to('Anna')).toEqual([]);
      // Space again: the loop's next try (after its error delay) sends it.
      store.db.pragma('max_page_count = 1073741823');
      for (let i = 0; i < 10 && chat.to('Anna').length === 0; i++) await step(1);
      expect(chat.to('Anna')).toHaveLength(1);
      expect(chat.to('Anna')[0]!.text).toContain('Cow C1');
    } finally {
      store.close();
      tmp.cleanup();
    }
  });
});
