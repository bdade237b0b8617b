import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { MessageContent, MessageItem, RenderContext } from '../agent/notify/message.js';
import {
  formatAlert,
  languages,
  loadCatalogue,
  parseReply,
  renderMessage,
  renderReceipt,
  whatsappTemplates,
} from '../agent/notify/render.js';
import type { AlertRow } from '../agent/store/store.js';
import { ALERT_TYPES } from '../rules/index.js';

const H = 3_600_000;
/** Tue 24 Nov 2026, 09:00 in Zurich. */
const T = Date.parse('2026-11-24T08:00:00Z');

function alert(o: Partial<AlertRow> = {}): AlertRow {
  const cowId = o.cowId ?? '412';
  return {
    id: `${o.type ?? 'heat'}:${cowId}:1`, farmId: 'f', cowId, collarId: o.collarId ?? cowId, type: 'heat', state: 'firing', severity: 'warning',
    since: T, at: T + 3 * H, raisedAt: T + 3 * H, evidence: { metric: 'activity', ratio: 2.43, window: { hours: 6 } }, ...o,
  };
}
const item = (o: Partial<AlertRow> = {}, kind: MessageItem['kind'] = 'new'): MessageItem => ({ kind, alert: alert(o) });
const content = (o: Partial<MessageContent>): MessageContent => ({ items: [], catchUp: [], storms: [], urgent: false, ...o });
const en: RenderContext = { language: 'en', timezone: 'Europe/Zurich', farmName: 'Sonnhalde' };
const de: RenderContext = { ...en, language: 'de' };
const sick = { metric: 'rumination', ratio: 0.42, window: { hours: 24 }, also: { metric: 'activity', ratio: 0.55 } };

describe('one alert, as the status page and console show it', () => {
  it('reads as before in English: resolved spans, collar names, battery', () => {
    expect(formatAlert(alert({ state: 'resolved', at: T + 20 * H }), { timezone: 'UTC' })).toBe(
      'Cow 412: heat activity is over (began Tue 24 Nov, 08:00, ended Wed 25 Nov, 04:00).',
    );
    expect(formatAlert(alert({ type: 'health', state: 'resolved', at: T + 5 * H }), { timezone: 'UTC' })).toBe(
      'Cow 412 is back to her normal (unwell since Tue 24 Nov, 08:00, recovered by 13:00).',
    );
    expect(formatAlert(alert({ type: 'battery_low', severity: 'info', evidence: { value: 12 } }), { timezone: 'UTC' })).toBe(
      'Collar 412 battery is low: 12%.\nCheck: replace or charge the battery in the next few days.',
    );
    expect(formatAlert(alert({ type: 'collar_offline', state: 'resolved', cowId: 'Bella', collarId: 'C7' }), { timezone: 'UTC' })).toBe(
      'Collar C7 on cow Bella is sending again as of Tue 24 Nov, 11:00.',
    );
  });

  it('names the day to inseminate, and both days when the window crosses midnight', () => {
    const text = formatAlert(alert(), { timezone: 'Europe/Zurich' });
    expect(text).toBe(
      [
        'Cow 412 is probably in heat, since about Tue 24 Nov, 09:00.',
        'Activity 2.4× her normal over the last 6 h.',
        'Check: watch for standing heat and mounting. If confirmed, inseminate about 12–18 h after onset (Tue 21:00 – Wed 03:00).',
      ].join('\n'),
    );
    expect(formatAlert(alert({ since: T - 4 * H }), { timezone: 'Europe/Zurich' })).toContain('inseminate on Tue 24 Nov, about 12–18 h after onset (17:00–23:00).');
  });

  it('speaks German to a German-speaking farmer', () => {
    const text = formatAlert(alert({ cowId: 'Bella', collarId: '17', since: T - 4 * H }), { timezone: 'Europe/Zurich', language: 'de' });
    expect(text).toBe(
      [
        'Kuh Bella (Halsband 17) ist wahrscheinlich brünstig, seit etwa Di., 24. Nov., 05:00.',
        'Aktivität 2,4-mal so hoch wie normal in den letzten 6 Stunden.',
        'Prüfen: auf Duldung (Stehreflex) und Aufspringen achten. Wenn bestätigt, am Di., 24. Nov. besamen, etwa 12–18 Std. nach Brunstbeginn (17:00–23:00).',
      ].join('\n'),
    );
    const ill = formatAlert(alert({ type: 'health', severity: 'urgent', evidence: sick }), { timezone: 'Europe/Zurich', language: 'de' });
    expect(ill.split('\n')[0]).toBe('DRINGEND: Kuh 412 ist möglicherweise krank, seit etwa Di., 24. Nov., 09:00.');
    // Intl keeps number and percent sign together with a no-break space.
    expect(ill).toContain('Wiederkäuen 42\u00a0% vom Normalwert, Aktivität 55\u00a0% vom Normalwert in den letzten 24 Stunden.');
    expect(ill).toContain('Tierarzt rufen');
  });

  it('names her lying time when it was the second witness to her drop of activity', () => {
    // Her lying is a whole day's, her activity's trend the last 12 hours: each is said with its own hours.
    const lame = { metric: 'activity', ratio: 0.84, window: { hours: 12 }, also: { metric: 'rumination', ratio: 0.99 }, lying: { metric: 'lying', ratio: 1.16, window: { hours: 24 } } };
    expect(formatAlert(alert({ type: 'health', evidence: lame }), { timezone: 'UTC' })).toContain(
      'Activity 84% of her normal, rumination 99% of her normal over the last 12 h; lying 116% of her normal over the last 24 h.',
    );
    expect(formatAlert(alert({ type: 'health', evidence: lame }), { timezone: 'UTC', language: 'de' })).toContain(
      'Wiederkäuen 99\u00a0% vom Normalwert in den letzten 12 Stunden; Liegezeit 116\u00a0% vom Normalwert in den letzten 24 Stunden.',
    );
    // Over the same hours as the rest, it is one list.
    const sameHours = { ...lame, lying: { ...lame.lying, window: { hours: 12 } } };
    expect(formatAlert(alert({ type: 'health', evidence: sameHours }), { timezone: 'UTC' })).toContain(
      'rumination 99% of her normal, lying 116% of her normal over the last 12 h.',
    );
  });

  it('tells an unwell cow due to calve as maybe calving, and a fresh cow with her days in milk', () => {
    // The register has her due: both signals down now are most often her calving, which the farmer can say.
    const due = { ...sick, dueToCalve: true, inseminatedOn: '2026-02-17T23:00:00.000Z', daysSinceInsemination: 280 };
    expect(formatAlert(alert({ type: 'health', evidence: due }), { timezone: 'Europe/Zurich' })).toContain(
      'She is due to calve (inseminated 280 days before, Wed 18 Feb): this may be her calving. If she has calved, answer "calved".',
    );
    expect(formatAlert(alert({ type: 'health', evidence: due }), { timezone: 'Europe/Zurich', language: 'de' })).toContain(
      'Sie steht zur Kalbung an (besamt 280 Tage davor, Mi., 18. Feb.): das kann ihre Kalbung sein. Hat sie gekalbt, mit „gekalbt“ antworten.',
    );
    const fresh = { ...sick, calvedOn: '2026-11-16T23:00:00.000Z', daysSinceCalving: 1 };
    expect(formatAlert(alert({ type: 'health', evidence: fresh }), { timezone: 'Europe/Zurich' })).toContain('She calved 1 day before (Tue 17 Nov).');
    // Without the register's word, nothing of it.
    expect(formatAlert(alert({ type: 'health', evidence: sick }), { timezone: 'UTC' })).not.toMatch(/calve/);
  });

  it('falls back to English for a language without a catalogue, and for a regional tag uses the language', () => {
    expect(formatAlert(alert(), { timezone: 'UTC', language: 'xx' })).toMatch(/^Cow 412 is probably in heat/);
    expect(formatAlert(alert(), { timezone: 'UTC', language: 'de-CH' })).toMatch(/^Kuh 412 ist wahrscheinlich brünstig/);
    expect(renderMessage(content({ items: [item()] }), { ...en, language: 'tlh' }).buttons).toEqual({ acknowledge: 'Acknowledge', snooze: 'Snooze 4 h' });
  });
});

describe('a message to one farmer', () => {
  it('one fresh heat: the single-alert text, the heat template and both buttons', () => {
    const m = renderMessage(content({ items: [item()] }), en);
    expect(m.text).toBe(formatAlert(alert(), { timezone: 'Europe/Zurich' }));
    expect(m.template).toEqual({ name: 'cowbell_heat', language: 'en', params: ['Cow 412', 'Tue 24 Nov, 09:00', 'Tue 21:00–Wed 03:00'] });
    expect(m.buttons).toEqual({ acknowledge: 'Acknowledge', snooze: 'Snooze 4 h' });
    expect(renderMessage(content({ items: [item()] }), de).buttons).toEqual({ acknowledge: 'Gesehen', snooze: 'Später (4 Std.)' });
  });

  it('chooses the template by what happened', () => {
    const pick = (o: Partial<AlertRow>, kind: MessageItem['kind'] = 'new') => renderMessage(content({ items: [item(o, kind)] }), en).template;
    expect(pick({ type: 'health', evidence: sick })).toEqual({
      name: 'cowbell_health', language: 'en', params: ['Cow 412', 'Tue 24 Nov, 09:00', 'rumination 42% of her normal, activity 55% of her normal'],
    });
    // Outside the 24-hour window the template's line is all she reads: a cow due to calve says so there too.
    expect(pick({ type: 'health', evidence: { ...sick, dueToCalve: true, inseminatedOn: '2026-02-17T23:00:00.000Z', daysSinceInsemination: 280 } })!.params[2]).toBe(
      'rumination 42% of her normal, activity 55% of her normal; due to calve, 280 days after insemination: maybe her calving',
    );
    expect(pick({ type: 'down_cow', severity: 'urgent' })).toEqual({ name: 'cowbell_down_cow', language: 'en', params: ['Cow 412', 'Tue 24 Nov, 09:00'] });
    expect(pick({ type: 'battery_low', evidence: { value: 9 } })).toEqual({ name: 'cowbell_collar', language: 'en', params: ['Collar 412', 'battery low (9%)'] });
    expect(pick({ type: 'collar_offline', cowId: 'Bella', collarId: 'C7' }).params).toEqual(['Collar C7 on cow Bella', 'nothing received since Tue 24 Nov, 09:00 (3 h)']);
    expect(pick({ type: 'collar_fault' }).name).toBe('cowbell_collar');
    expect(pick({}, 'reminder')).toMatchObject({ name: 'cowbell_summary', params: ['Reminder (not yet acknowledged): Cow 412 probably in heat since Tue 09:00; inseminate Tue 21:00–Wed 03:00'] });
    expect(pick({ state: 'resolved' }, 'resolved')).toMatchObject({ name: 'cowbell_summary', params: ['Cow 412: heat is over'] });
  });

  it('resolved items say the cow or collar is back to normal', () => {
    expect(renderMessage(content({ items: [item({ type: 'health', state: 'resolved', at: T + 30 * H }, 'resolved')] }), en).text).toBe(
      'Cow 412 is back to her normal (unwell since Tue 24 Nov, 09:00, recovered by Wed 25 Nov, 15:00).',
    );
    expect(renderMessage(content({ items: [item({ type: 'collar_offline', state: 'resolved' }, 'resolved')] }), de).text).toBe(
      'Halsband 412 sendet wieder, seit Di., 24. Nov., 12:00.',
    );
  });

  it('a reminder says it is one; an escalation says whose acknowledgement is missing, urgently', () => {
    expect(renderMessage(content({ items: [item({}, 'reminder')] }), en).text).toMatch(/^Reminder \(not yet acknowledged\): Cow 412 is probably in heat/);
    const esc: MessageItem = { kind: 'escalation', alert: alert({ type: 'down_cow', severity: 'urgent' }), escalation: { notAckedBy: ['Anna'], afterMinutes: 30 } };
    const m = renderMessage(content({ items: [esc], urgent: true }), en);
    expect(m.text.split('\n')[0]).toBe('URGENT: Not acknowledged by Anna for 30 min: Cow 412 may be down and unable to get up, since about Tue 24 Nov, 09:00.');
    expect(m.template.name).toBe('cowbell_summary');
    const both = renderMessage(content({ items: [{ ...esc, escalation: { notAckedBy: ['Anna', 'Beat'], afterMinutes: 45 } }], urgent: true }), de);
    expect(both.text).toMatch(/^DRINGEND: Von Anna und Beat seit 45 Min\. nicht bestätigt: Kuh 412 liegt möglicherweise fest/);
  });

  // One box serving several farms: a vet on two farms' lists must see which farm a message is about.
  it('names the farm first when one box serves several farms, and not otherwise', () => {
    const urgent = content({ items: [item({ type: 'down_cow', severity: 'urgent' })], urgent: true });
    // First the urgency, then the farm: what a locked phone shows.
    expect(renderMessage(urgent, { ...en, nameFarm: true }).text.split('\n')[0]).toBe(
      'URGENT: Farm Sonnhalde: Cow 412 may be down and unable to get up, since about Tue 24 Nov, 09:00.',
    );
    expect(renderMessage(urgent, { ...de, nameFarm: true }).text).toMatch(/^DRINGEND: Betrieb Sonnhalde: Kuh 412 /);
    expect(renderMessage(content({ items: [item()] }), { ...en, nameFarm: true }).text).toMatch(/^Farm Sonnhalde: Cow 412 is probably in heat/);
    expect(renderMessage(urgent, en).text).not.toContain('Sonnhalde');
  });

  it('several fresh alerts: one message, most urgent first, a window per cow in heat, and what to do', () => {
    const m = renderMessage(
      content({
        items: [
          item({ cowId: '412' }),
          item({ cowId: '17', since: T + 2 * H }),
          item({ cowId: '5', type: 'battery_low', severity: 'info', evidence: { value: 12 } }),
          item({ cowId: '33', since: T + 9 * H }),
          item({ cowId: '7', type: 'health', severity: 'urgent', evidence: sick }),
        ],
        urgent: true,
      }),
      en,
    );
    expect(m.text.split('\n')).toEqual([
      'URGENT: Cow 7 may be unwell since Tue 09:00 (rumination 42% of her normal, activity 55% of her normal)',
      '3 cows probably in heat:',
      '• Cow 412 since Tue 09:00; inseminate Tue 21:00–Wed 03:00',
      '• Cow 17 since Tue 11:00; inseminate Tue 23:00–Wed 05:00',
      '• Cow 33 since Tue 18:00; inseminate Wed 06:00–12:00',
      'Collar 5 battery low (12%)',
      'To do: check appetite, temperature, udder and feet of the unwell cows, and call the vet if one is off feed; '
        + 'watch for standing heat and mounting, and inseminate in the window shown; replace or charge the low batteries in the next few days.',
    ]);
    expect(m.template).toEqual({
      name: 'cowbell_summary', language: 'en',
      params: ['URGENT: Cow 7 may be unwell since Tue 09:00 (rumination 42% of her normal, activity 55% of her normal); 3 cows probably in heat; Collar 5 battery low (12%)'],
    });
  });

  it('in German, counted with the right plural', () => {
    const m = renderMessage(content({ items: [item({ cowId: '412' }), item({ cowId: '17' }), item({ cowId: '8', type: 'collar_offline', state: 'resolved' }, 'resolved')] }), de);
    expect(m.text).toContain('2 Kühe wahrscheinlich brünstig:\n• Kuh 412 seit Di 09:00; besamen Di 21:00–Mi 03:00');
    expect(m.text).toContain('Halsband 8 sendet wieder');
    expect(m.text).toContain('Zu tun: auf Duldung und Aufspringen achten und im angegebenen Zeitfenster besamen.');
  });

  it('a collar storm is about the gateway, not the cows, and lists ten collars then counts the rest', () => {
    const collars = Array.from({ length: 23 }, (_, i) => String(i + 1));
    const off = renderMessage(content({ storms: [{ kind: 'offline', collars, from: Date.parse('2026-11-24T13:05:00Z') }] }), en);
    expect(off.text).toBe(
      '23 collars stopped sending at about 14:05 on Tue, all at once. That points to the gateway (power, antenna, network), not the cows: check the gateway first.\n'
        + 'Collars: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 13 more.',
    );
    expect(off.template).toEqual({ name: 'cowbell_summary', language: 'en', params: ['23 collars stopped sending at Tue 14:05, all at once: check the gateway'] });
    const on = renderMessage(content({ storms: [{ kind: 'online', collars: ['1', '2', '3'], from: Date.parse('2026-11-24T15:40:00Z') }] }), de);
    expect(on.text).toBe('3 Halsbänder senden wieder, seit Di 16:40.\nHalsbänder: 1, 2 und 3.');
  });

  it('catch-up after an outage: past tense, one line each, counted when many, after the fresh alerts', () => {
    const m = renderMessage(
      content({
        items: [item({ cowId: '9', type: 'health', evidence: sick })],
        catchUp: [
          item({ cowId: '12', state: 'resolved', since: T - 24 * H, at: T - 7 * H }, 'resolved'),
          item({ cowId: '7', type: 'health', state: 'resolved', since: T - 23 * H, at: T - 2 * H }, 'resolved'),
          item({ cowId: '5', type: 'collar_offline', state: 'resolved', since: T - 23 * H, at: T - 19 * H }, 'resolved'),
        ],
        catchUpSince: T - 23 * H,
      }),
      en,
    );
    const [fresh, past] = m.text.split('\n\n');
    expect(fresh).toMatch(/^Cow 9 may be unwell, since about Tue 24 Nov, 09:00\./);
    expect(past!.split('\n')).toEqual([
      'Earlier, already over (since Mon 10:00):',
      '• Cow 7 was unwell from Mon 10:00 to Tue 07:00; back to normal',
      '• Cow 12 was in heat from Mon 09:00 to Tue 02:00 – over now',
      '• Collar 5 was silent Mon 10:00–14:00',
    ]);
    expect(m.template.params[0]).toBe('Cow 9 may be unwell since Tue 09:00 (rumination 42% of her normal, activity 55% of her normal); 3 earlier events, already over');

    const many = renderMessage(
      content({ catchUp: ['1', '2', '3', '4', '5'].map((c) => item({ cowId: c, type: 'collar_offline', state: 'resolved' }, 'resolved')) }),
      de,
    );
    expect(many.text).toBe('Früher, schon vorbei:\n• 5 Halsbänder waren ohne Empfang: 1, 2, 3, 4 und 5');
  });

  it('a digest says messages were held back, and stays within 1024 characters without cutting a word', () => {
    const items = Array.from({ length: 60 }, (_, i) => item({ cowId: `C${i}`, type: 'collar_offline', severity: 'info' }));
    const m = renderMessage(content({ items, overflow: { heldSince: T } }), en);
    expect(m.text.length).toBeLessThanOrEqual(1024);
    expect(m.text).toMatch(/^60 collars stopped sending:\n• Collar C0 since Tue 09:00 \(3 h\)\n/);
    expect(m.text).toMatch(/\n…and \d+ more\n\nSome messages since Tue 09:00 were held back so you do not get too many; they are summarised here\.$/);
    const shown = m.text.split('\n').filter((l) => l.startsWith('• ')).length;
    expect(m.text).toContain(`…and ${60 - shown} more`);
  });

  it('template parameters are one short plain line, and every template used is one Meta has', () => {
    const known = new Set(whatsappTemplates().map((t) => `${t.name}/${t.language}`));
    const cases: MessageContent[] = [
      content({ items: [item()] }),
      content({ items: [item({ type: 'health', evidence: sick })] }),
      content({ items: Array.from({ length: 40 }, (_, i) => item({ cowId: `cow   with\tlong\nname ${i}` })) }),
      content({ storms: [{ kind: 'offline', collars: ['1', '2'], from: T }], catchUp: [item({}, 'resolved')] }),
    ];
    for (const ctx of [en, de]) {
      for (const c of cases) {
        const { template } = renderMessage(c, ctx);
        expect(known.has(`${template.name}/${template.language}`)).toBe(true);
        const body = whatsappTemplates().find((t) => t.name === template.name && t.language === template.language)!.body;
        expect(template.params).toHaveLength(body.match(/\{\{\d+\}\}/g)!.length);
        for (const p of template.params) {
          expect(p).not.toMatch(/[\n\t]| {5}/);
          expect(p.length).toBeGreaterThan(0);
          expect(p.length).toBeLessThanOrEqual(200);
        }
      }
    }
  });
});

describe('the catalogue', () => {
  it('has a file per language and every template in each, ready for Meta', () => {
    expect(languages()).toEqual(expect.arrayContaining(['de', 'en']));
    const templates = whatsappTemplates();
    expect(templates.map((t) => t.name).sort()).toEqual(
      languages().flatMap(() => ['cowbell_collar', 'cowbell_down_cow', 'cowbell_heat', 'cowbell_health', 'cowbell_summary']).sort(),
    );
    for (const t of templates) {
      expect(t.category).toBe('UTILITY');
      expect(t.buttons).toHaveLength(2);
      for (const b of t.buttons) expect(b.length).toBeLessThanOrEqual(20);
      expect(t.body).not.toMatch(/^\{\{|\}\}\.?$/);
    }
  });

  it('docs/whatsapp.md lists every template exactly as submitted', () => {
    const doc = readFileSync(new URL('../docs/whatsapp.md', import.meta.url), 'utf8');
    for (const t of whatsappTemplates()) {
      expect(doc).toContain(t.body);
      expect(doc).toContain(t.name);
      for (const b of t.buttons) expect(doc).toContain(b);
    }
  });

  it('a broken language file fails loading with its name and the missing key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cowbell-i18n-'));
    try {
      const src = new URL('../agent/notify/i18n/', import.meta.url);
      cpSync(new URL('en.json', src), join(dir, 'en.json'));
      const fr = JSON.parse(readFileSync(new URL('de.json', src), 'utf8')) as { alert: { heat: Record<string, unknown> } };
      delete fr.alert.heat.check;
      writeFileSync(join(dir, 'fr.json'), JSON.stringify(fr));
      expect(() => loadCatalogue(pathToFileURL(`${dir}/`))).toThrow(/fr\.json[\s\S]*"alert\.heat\.check": missing/);

      fr.alert.heat.check = 'Vérifier {vache}';
      writeFileSync(join(dir, 'fr.json'), JSON.stringify(fr));
      expect(() => loadCatalogue(pathToFileURL(`${dir}/`))).toThrow(/fr\.json[\s\S]*unknown placeholder \{vache\}/);

      fr.alert.heat.check = 'Vérifier';
      writeFileSync(join(dir, 'fr.json'), JSON.stringify(fr));
      expect([...loadCatalogue(pathToFileURL(`${dir}/`)).keys()]).toEqual(['en', 'fr']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('farmers’ replies', () => {
  it('understands words and button labels, case and spaces aside; STOP and START also in English', () => {
    expect(parseReply(' OK ', 'en')).toBe('acknowledge');
    expect(parseReply('Acknowledge', 'en')).toBe('acknowledge');
    expect(parseReply('snooze', 'en')).toBe('snooze');
    expect(parseReply('Snooze 4 h', 'en')).toBe('snooze');
    expect(parseReply('STOP', 'en')).toBe('stop');
    expect(parseReply('start', 'en')).toBe('start');
    expect(parseReply('Erledigt!', 'de')).toBe('acknowledge');
    expect(parseReply('ok', 'de')).toBe('acknowledge');
    expect(parseReply('Gesehen', 'de')).toBe('acknowledge');
    expect(parseReply('SPÄTER', 'de')).toBe('snooze');
    expect(parseReply('Später (4 Std.)', 'de')).toBe('snooze');
    expect(parseReply('Stopp', 'de')).toBe('stop');
    expect(parseReply('STOP', 'de')).toBe('stop');
    expect(parseReply('START', 'de')).toBe('start');
    expect(parseReply('ok', 'xx')).toBe('acknowledge');
    expect(parseReply('where is cow 7?', 'en')).toBeNull();
    expect(parseReply('   ', 'de')).toBeNull();
  });

  it('answers in the farmer’s language with what changed', () => {
    const who = { language: 'de', timezone: 'Europe/Zurich' };
    expect(renderReceipt('acknowledged', [alert()], who)).toBe('Danke, bestätigt: Kuh 412.');
    expect(renderReceipt('snoozed', [alert(), alert({ cowId: '9', type: 'battery_low' })], { ...who, language: 'en' }, 4)).toBe(
      '2 alerts snoozed for 4 h: Cow 412 and Collar 9. You will be reminded if they are still open.',
    );
    expect(renderReceipt('stopped', [], who)).toMatch(/START/);
  });
});

describe('heat cycle', () => {
  it('a heat says when her previous one began, in her language', () => {
    const a = {
      id: 'heat:C7:1', farmId: 'f', cowId: 'C7', collarId: 'C7', type: 'heat' as const, state: 'firing' as const, severity: 'warning' as const,
      since: Date.parse('2026-11-24T09:00:00Z'), at: Date.parse('2026-11-24T15:00:00Z'), raisedAt: Date.parse('2026-11-24T15:00:00Z'),
      evidence: { metric: 'activity', ratio: 2.4, window: { hours: 6 }, daysSinceLastHeat: 21.2, lastHeatSince: '2026-11-03T04:00:00.000Z' },
    };
    expect(formatAlert(a, { timezone: 'Europe/Zurich' })).toContain('Her previous heat began 21 days earlier (Tue 3 Nov).');
    expect(formatAlert(a, { timezone: 'Europe/Zurich', language: 'de' })).toMatch(/Ihre letzte Brunst begann 21 Tage davor \(Di\.?,? 3\. Nov\.?\)\./);
  });

  // The herd register's insemination (the start of that day in Zurich: 23:00 UTC the evening before).
  it('a heat after an insemination says whether she came back (18–24 days) or needs a pregnancy check first', () => {
    const heat = (days: number, inseminatedOn: string) => ({
      id: 'heat:C7:1', farmId: 'f', cowId: 'C7', collarId: 'C7', type: 'heat' as const, state: 'firing' as const, severity: 'warning' as const,
      since: Date.parse('2026-11-24T09:00:00Z'), at: Date.parse('2026-11-24T15:00:00Z'), raisedAt: Date.parse('2026-11-24T15:00:00Z'),
      evidence: { metric: 'activity', ratio: 2.4, window: { hours: 6 }, inseminatedOn, daysSinceInsemination: days },
    });
    const zurich = { timezone: 'Europe/Zurich' };
    expect(formatAlert(heat(21, '2026-11-02T23:00:00.000Z'), zurich)).toContain('Inseminated 21 days before (Tue 3 Nov): she has come back into heat, so she most likely did not conceive.');
    expect(formatAlert(heat(40, '2026-10-14T22:00:00.000Z'), zurich)).toContain('Inseminated 40 days before (Thu 15 Oct), not the usual 18–24 days: if she may be in calf, have her checked before inseminating again.');
    expect(formatAlert(heat(21, '2026-11-02T23:00:00.000Z'), { ...zurich, language: 'de' })).toMatch(/Besamt 21 Tage davor \(Di\.?,? 3\. Nov\.?\): sie ist wieder brünstig/);
    // Days since calving, as a heat report gives them, before the insemination.
    const fresh = { ...heat(21, '2026-11-02T23:00:00.000Z'), evidence: { ...heat(21, '2026-11-02T23:00:00.000Z').evidence, calvedOn: '2026-09-19T22:00:00.000Z', daysSinceCalving: 65 } };
    expect(formatAlert(fresh, zurich)).toMatch(/She calved 65 days before \(Sun 20 Sept?\)\.\nInseminated 21 days before/);
  });
});


describe('missed heat (info): a cow overdue for heat', () => {
  const DAY = 24 * H;
  /** Her last heat began Tue 3 Nov 2026, 05:00 in Zurich; 25 days later nothing. */
  const last = Date.parse('2026-11-03T04:00:00Z');
  const missed = (o: Partial<AlertRow> = {}): AlertRow => alert({
    type: 'missed_heat', severity: 'info', since: last, at: last + 25 * DAY, raisedAt: last + 25 * DAY,
    evidence: {
      lastHeatSince: '2026-11-03T04:00:00.000Z', daysSinceLastHeat: 25,
      expectedFrom: '2026-11-21T04:00:00.000Z', expectedTo: '2026-11-27T04:00:00.000Z',
    },
    ...o,
  });
  const zurich = { timezone: 'Europe/Zurich' };

  it('says who, the day her last heat began and how long ago, when the next was due, why, and what to do', () => {
    expect(formatAlert(missed(), zurich)).toBe([
      'Cow 412 is overdue for heat: her last one began on Tue 3 Nov, 25 days ago.',
      'Her next heat was due between Sat 21 Nov and Fri 27 Nov. She may be in calf, may have had a heat nobody saw (a silent one, or a short one at night), or may have stopped cycling (a cyst, illness, poor condition).',
      'Check: watch her for heat. If she was inseminated, have her checked for pregnancy; if not, have the vet examine her.',
    ].join('\n'));
    const de = formatAlert(missed({ cowId: 'Bella', collarId: '17' }), { ...zurich, language: 'de' });
    expect(de.split('\n')[0]).toBe('Kuh Bella (Halsband 17): Brunst überfällig – die letzte begann am Di., 3. Nov., vor 25 Tagen.');
    expect(de).toContain('zwischen Sa., 21. Nov. und Fr., 27. Nov. fällig');
    expect(de).toMatch(/tragend[\s\S]*Tierarzt/);
    // Info: never marked urgent.
    expect(formatAlert(missed(), zurich)).not.toMatch(/URGENT/);
  });

  it('without its expected window or day count in the evidence, works them out from her last heat', () => {
    const text = formatAlert(missed({ evidence: {}, raisedAt: last + 26 * DAY }), zurich);
    expect(text).toContain('her last one began on Tue 3 Nov, 26 days ago.');
    expect(text).toContain('between Sat 21 Nov and Fri 27 Nov.');
  });

  it('alone in a message: her text, and the summary template (no template of its own) with her one line', () => {
    const one = content({ items: [item(missed())] });
    const m = renderMessage(one, en);
    expect(m.text).toBe(formatAlert(missed(), zurich));
    expect(m.template).toEqual({ name: 'cowbell_summary', language: 'en', params: ['Cow 412 overdue for heat; her last began Tue 3 Nov (25 days ago)'] });
    expect(renderMessage(one, de).template).toEqual({
      name: 'cowbell_summary', language: 'de', params: ['Kuh 412: Brunst überfällig, die letzte begann am Di., 3. Nov. (25 Tage her)'],
    });
    const known = new Set(whatsappTemplates().map((t) => `${t.name}/${t.language}`));
    expect(known.has('cowbell_summary/de')).toBe(true);
  });

  it('with others: after what is more pressing, counted when several, with its to-do', () => {
    const m = renderMessage(content({
      items: [
        item(missed({ cowId: '8' })),
        item({ cowId: '5', type: 'battery_low', severity: 'info', evidence: { value: 12 } }),
        item(missed({ cowId: '21', since: last - DAY, evidence: { lastHeatSince: '2026-11-02T04:00:00.000Z', daysSinceLastHeat: 26.2 } })),
        item({ cowId: '3' }),
      ],
    }), en);
    expect(m.text.split('\n')).toEqual([
      'Cow 3 probably in heat since Tue 09:00; inseminate Tue 21:00–Wed 03:00',
      'Collar 5 battery low (12%)',
      '2 cows overdue for heat:',
      '• Cow 8: last heat began Tue 3 Nov (25 days ago)',
      '• Cow 21: last heat began Mon 2 Nov (26 days ago)',
      'To do: watch for standing heat and mounting, and inseminate in the window shown; replace or charge the low batteries in the next few days; '
        + 'watch the overdue cows for heat, and have the vet check those that were not inseminated.',
    ]);
    const deText = renderMessage(content({ items: [item(missed({ cowId: '8' })), item(missed({ cowId: '9' }))] }), de).text;
    expect(deText).toContain('2 Kühe mit überfälliger Brunst:\n• Kuh 8: letzte Brunst am Di., 3. Nov. (25 Tage her)');
    expect(deText).toContain('Zu tun: die Kühe mit überfälliger Brunst beobachten und die nicht besamten vom Tierarzt untersuchen lassen.');
  });

  it('ended by her next heat: said when that heat began; in a catch-up, in the past tense', () => {
    const heatSince = Date.parse('2026-12-02T23:00:00Z');
    const over = missed({ state: 'resolved', at: heatSince + 6 * H, evidence: { heatSince: '2026-12-02T23:00:00.000Z' } });
    expect(formatAlert(over, zurich)).toBe('Cow 412 is in heat again, since about Thu 3 Dec, 00:00 (her previous heat began on Tue 3 Nov).');
    expect(formatAlert(over, { ...zurich, language: 'de' })).toBe('Kuh 412 ist wieder brünstig, seit etwa Do., 3. Dez., 00:00 (die Brunst davor begann am Di., 3. Nov.).');
    const m = renderMessage(content({ catchUp: [item(over)] }), en);
    expect(m.text).toBe('Earlier, already over:\n• Cow 412 was overdue for heat; in heat again by Thu 06:00');
  });

  it('every alert type has its words and lines in every language', () => {
    const cats = loadCatalogue(new URL('../agent/notify/i18n/', import.meta.url));
    expect([...cats.keys()]).toEqual(expect.arrayContaining(['de', 'en']));
    for (const [, c] of cats) {
      for (const type of ALERT_TYPES) {
        expect((c.alert as Record<string, unknown>)[type], type).toBeDefined();
        expect((c.lines as Record<string, unknown>)[type], type).toBeDefined();
      }
    }
  });

  it('a language file without the missed-heat words fails loading, naming the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cowbell-i18n-'));
    try {
      const src = new URL('../agent/notify/i18n/', import.meta.url);
      cpSync(new URL('en.json', src), join(dir, 'en.json'));
      const fr = JSON.parse(readFileSync(new URL('de.json', src), 'utf8')) as { lines: Record<string, unknown>; alert: { missed_heat: Record<string, unknown> } };
      delete fr.lines.missed_heat;
      writeFileSync(join(dir, 'fr.json'), JSON.stringify(fr));
      expect(() => loadCatalogue(pathToFileURL(`${dir}/`))).toThrow(/fr\.json[\s\S]*"lines\.missed_heat": missing/);
      fr.lines.missed_heat = JSON.parse(readFileSync(new URL('de.json', src), 'utf8')).lines.missed_heat;
      fr.alert.missed_heat.headline = { other: 'Vache {vache}' };
      writeFileSync(join(dir, 'fr.json'), JSON.stringify(fr));
      expect(() => loadCatalogue(pathToFileURL(`${dir}/`))).toThrow(/fr\.json[\s\S]*"alert\.missed_heat\.headline\.other": unknown placeholder \{vache\}/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
