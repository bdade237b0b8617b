import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../agent/config.js';
import { withLine } from '../agent/config-problems.js';
import { ConfigError } from '../agent/errors.js';
import { DEFAULT_RULES } from '../rules/index.js';
import { tempDir } from './helpers.js';

const minimal = { farm: { id: 'hillside' }, mqtt: { url: 'mqtt://broker.local:1883' } };

// Each test's files in a folder of its own, all removed when the file's tests are done.
const scratches: ReturnType<typeof tempDir>[] = [];
const scratch = () => scratches[scratches.push(tempDir()) - 1]!.dir;
afterAll(() => scratches.forEach((t) => t.cleanup()));

describe('config file', () => {
  it('fills defaults from a minimal file and derives a fixed client id', () => {
    const c = parseConfig(minimal, '/etc/cowbell');
    expect(c.mqtt).toMatchObject({ clientId: 'cowbell-hillside', protocolVersion: 4, keepaliveS: 30 });
    expect(c.store).toEqual({ path: '/etc/cowbell/cowbell.db', retentionDays: 60 });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(c.channels).toEqual({ webhooks: [] });
    expect(c.recipients).toEqual([expect.objectContaining({ name: 'console', channel: 'console', language: 'en', timezone: 'UTC' })]);
    expect(c.notify).toMatchObject({ groupWaitS: 30, maxPerHour: 4 });
    expect(c.rules).toEqual(DEFAULT_RULES);
  });

  it('lists every problem with its path, in one error with a stable code', () => {
    let error: unknown;
    try {
      parseConfig({ farm: { id: 'has space', timezone: 'Mars/Olympus' }, mqtt: { url: 'http://x' }, htp: {} });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.code).toBe('COWBELL_CONFIG_INVALID');
    expect(e.issues.some((i) => i.startsWith('farm.id:'))).toBe(true);
    expect(e.issues.some((i) => i.startsWith('farm.timezone:') && i.includes('IANA'))).toBe(true);
    expect(e.issues.some((i) => i.startsWith('mqtt.url:') && i.includes('mqtt://'))).toBe(true);
    expect(e.issues.some((i) => i.includes('htp'))).toBe(true);
  });

  // Found when tried as a new user would (issue 7): "mqtt://" with no host passed and connected to
  // localhost; a typo in a rule override was told only once every other mistake was fixed.
  it('a broker URL without a host, and a rule override typo, are listed with the other problems', () => {
    let error: unknown;
    try {
      parseConfig({ farm: { id: 'has space' }, mqtt: { url: 'mqtt://' }, http: { host: '0.0.0.0' }, rules: { heat: { windowHourz: 3 } } });
    } catch (err) {
      error = err;
    }
    const e = error as ConfigError;
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.issues.some((i) => i.startsWith('mqtt.url:') && i.includes('host'))).toBe(true);
    expect(e.issues.some((i) => i.startsWith('farm.id:'))).toBe(true);
    expect(e.issues.some((i) => i.includes('windowHourz'))).toBe(true);
    // Found by a newcomer's trial of the install guide: told only after the other mistakes were fixed.
    expect(e.issues.some((i) => i.startsWith('http.password: required when http.host is "0.0.0.0"'))).toBe(true);
  });

  // Found when tried as a new user would: a mistyped key was named but not the one meant, and a section left
  // out read "Invalid input: expected object, received undefined".
  it('names the key a typo meant, and a setting left out as missing', () => {
    const issues = (config: unknown) => {
      try {
        parseConfig(config);
      } catch (err) {
        return (err as ConfigError).issues;
      }
      return [];
    };
    expect(issues({ farm: { id: 'f', timezome: 'UTC' }, mqtt: minimal.mqtt })).toEqual(['farm: unknown key "timezome" (did you mean "timezone"?)']);
    expect(issues({ farm: { id: 'f' } })).toEqual(['mqtt: missing (expected object)']);
    expect(issues({ ...minimal, recipients: [{ name: 'anna', chanel: 'console', address: 'x' }] })).toEqual([
      'recipients.0.channel: missing (expected one of "console"|"whatsapp"|"telegram")',
      'recipients.0: unknown key "chanel" (did you mean "channel"?)',
    ]);
    expect(issues({ ...minimal, storee: {} })).toEqual(['(top level): unknown key "storee" (did you mean "store"?)']);
    expect(issues({ ...minimal, rules: { heat: { early: { minRatoi: 3 } } } })).toEqual(['rules.heat.early: unknown key "minRatoi" (did you mean "minRatio"?)']);
    // A section left empty in YAML ("mqtt:" and nothing after it) reads null: missing too.
    expect(issues({ farm: { id: 'f' }, mqtt: null })).toEqual(['mqtt: missing (expected object)']);
    // Through a union: a network server's kinds.
    const source = { type: 'chirpstack', applicationId: 'app', fields: { activity: 'object.act', rumnation: 'object.rum' }, intervall: 900 };
    expect(issues({ ...minimal, sources: [source] })).toEqual([
      'sources.0.fields: unknown key "rumnation" (did you mean "rumination"?)',
      'sources.0: unknown key "intervall" (did you mean "intervalS"?)',
    ]);
    // Said with the reason, not zod's bare "expected number to be >=18".
    expect(issues({ ...minimal, store: { retentionDays: 10 } })).toEqual(['store.retentionDays: 10 is shorter than the 14-day baseline needs (at least 18)']);
    // Nothing close enough: no guess.
    expect(issues({ ...minimal, colour: 'red' })).toEqual(['(top level): unknown key "colour"']);
  });

  it('merges rule overrides onto the defaults and rejects bad ones with the rule path', () => {
    const c = parseConfig({ ...minimal, rules: { heat: { minRatio: 2.5 } } });
    expect(c.rules.heat.minRatio).toBe(2.5);
    expect(c.rules.heat.windowHours).toBe(DEFAULT_RULES.heat.windowHours);
    expect(() => parseConfig({ ...minimal, rules: { heat: { minRatio: -1 } } })).toThrow(/rules\.heat\.minRatio/);
    expect(() => parseConfig({ ...minimal, rules: { heat: { resolveRatio: 9 } } })).toThrow(/hysteresis/);
    expect(() => parseConfig({ ...minimal, rules: { heat: { windowHourz: 3 } } })).toThrow(/windowHourz/);
  });

  it('reads a file, resolving paths relative to it, and says which file is broken', () => {
    const dir = scratch();
    const file = join(dir, 'cowbell.json');
    writeFileSync(file, JSON.stringify({ ...minimal, store: { path: 'data/farm.db' }, mqtt: { ...minimal.mqtt, tls: { caFile: 'ca.pem' } } }));
    // A TLS file that is not there is a config error, not a crash when the agent connects.
    expect(() => loadConfigFile(file)).toThrow(/mqtt\.tls\.caFile: cannot read .*ca\.pem: no such file/);
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n');
    const c = loadConfigFile(file);
    expect(c.store.path).toBe(join(dir, 'data/farm.db'));
    expect(c.mqtt.tls?.caFile).toBe(join(dir, 'ca.pem'));
    writeFileSync(file, '{ "farm": ');
    expect(() => loadConfigFile(file)).toThrow(new RegExp(`${file} is not valid JSON`));
    // Where, as an editor shows it (JSON.parse says "at position 60"): the brace after a trailing comma.
    const trailingComma = '{\n  "farm": { "id": "f" },\n  "mqtt": { "url": "mqtt://x" },\n}\n';
    writeFileSync(file, trailingComma);
    expect(() => loadConfigFile(file)).toThrow(/not valid JSON: .* at line 4, column 1$/);
    // Node 21 and later say where as well: once, not twice.
    expect(withLine('Expected double-quoted property name in JSON at position 60 (line 4 column 1)', trailingComma)).toBe('Expected double-quoted property name in JSON at line 4, column 1');
    expect(withLine('Expected double-quoted property name in JSON at position 60', trailingComma)).toBe('Expected double-quoted property name in JSON at line 4, column 1');
    expect(() => loadConfigFile(join(dir, 'missing.json'))).toThrow(/cannot read config file/);
  });

  // Issue 7: a technician's config wants comments; YAML has them, and is read against the same schema.
  it('reads YAML with comments against the same schema, and says where YAML is broken', () => {
    const dir = scratch();
    const file = join(dir, 'cowbell.yaml');
    writeFileSync(file, [
      '# Hillside gateway, installed 2026-11',
      'farm:',
      '  id: hillside   # as in the collars\' topics',
      '  timezone: Europe/Zurich',
      'mqtt:',
      '  url: mqtt://localhost:1883',
      'rules:',
      '  heat:',
      '    early:',
      '      hours: 4',
      '',
    ].join('\n'));
    const c = loadConfigFile(file);
    expect(c.farm).toMatchObject({ id: 'hillside', timezone: 'Europe/Zurich' });
    expect(c.rules.heat.early.hours).toBe(4);
    writeFileSync(file, 'farm:\n  id: hillside\n  id: again\nmqtt: [unclosed\n');
    expect(() => loadConfigFile(file)).toThrow(/is not valid YAML[\s\S]*line \d+/);
    // Each problem ends with where it is, not with the colon that introduced the excerpt left out.
    expect(() => loadConfigFile(file)).toThrow(expect.objectContaining({ issues: [expect.stringMatching(/^Map keys must be unique at line 3, column 3$/), expect.stringMatching(/column \d+$/)] }));
    writeFileSync(file, 'farm:\n  id: has space\nmqtt:\n  url: mqtt://\n');
    expect(() => loadConfigFile(file)).toThrow(/farm\.id:[\s\S]*mqtt\.url:/);
  });
});

describe('chat channels and recipients in the config', () => {
  const wa = { phoneNumberId: '123456789012345', token: { env: 'COWBELL_TEST_WA_TOKEN' } };

  it('lists every missing secret and bad recipient at once, naming the key', () => {
    delete process.env.COWBELL_TEST_WA_TOKEN;
    let error: ConfigError | undefined;
    try {
      parseConfig({
        ...minimal,
        channels: { whatsapp: { ...wa, appSecret: { file: 'nope/app-secret' } } },
        recipients: [
          { name: 'Anna', channel: 'whatsapp', address: '+41 79 123 45 67' },
          { name: 'Hans', channel: 'telegram', address: '42' },
        ],
        escalation: [{ afterMinutes: 30, to: ['Vet'] }],
      }, '/etc/cowbell');
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.code).toBe('COWBELL_CONFIG_INVALID');
    expect(error?.issues).toEqual(expect.arrayContaining([
      expect.stringMatching(/^channels\.whatsapp\.token: environment variable COWBELL_TEST_WA_TOKEN is not set \(set it where the agent runs/),
      expect.stringMatching(/^channels\.whatsapp\.appSecret: cannot read \/etc\/cowbell\/nope\/app-secret/),
      expect.stringMatching(/^recipients\.0\.address: a WhatsApp number in international format, digits only/),
      'recipients.1.channel: "telegram" needs channels.telegram to be configured',
      'escalation.0.to: no recipient is named "Vet"',
    ]));
  });

  it('reads secrets from the environment or a file, and they never print', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'app-secret'), 'very-secret-app\n');
    process.env.COWBELL_TEST_WA_TOKEN = 'EAAG-token-value';
    const c = parseConfig({
      ...minimal,
      channels: { whatsapp: { ...wa, appSecret: { file: 'app-secret' } } },
      recipients: [{ name: 'Anna', channel: 'whatsapp', address: '41791234567', language: 'de', quietHours: { start: '21:30', end: '05:30' } }],
    }, dir);
    expect(c.channels.whatsapp!.token.reveal()).toBe('EAAG-token-value');
    expect(c.channels.whatsapp!.appSecret!.reveal()).toBe('very-secret-app');
    const printed = [JSON.stringify(c), String(c.channels.whatsapp!.token), inspect(c, { depth: 10 })].join('\n');
    expect(printed).not.toContain('EAAG-token-value');
    expect(printed).not.toContain('very-secret-app');
    expect(c.recipients[0]).toMatchObject({ timezone: 'UTC', language: 'de', minSeverity: 'info' });
    delete process.env.COWBELL_TEST_WA_TOKEN;
  });

  it('the example config is valid once its secrets exist', () => {
    const dir = scratch();
    const example = JSON.parse(readFileSync(new URL('../cowbell.example.json', import.meta.url), 'utf8')) as Record<string, any>;
    for (const name of ['whatsapp-app-secret', 'telegram-bot-token', 'ca.pem']) writeFileSync(join(dir, name), `${name}-value`);
    example.channels.whatsapp.appSecret = { file: 'whatsapp-app-secret' };
    example.channels.telegram.botToken = { file: 'telegram-bot-token' };
    Object.assign(process.env, { WHATSAPP_TOKEN: 't', WHATSAPP_VERIFY_TOKEN: 'v', COWBELL_WEBHOOK_SECRET: 'whsec_c2VjcmV0' });
    const c = parseConfig(example, dir);
    expect(c.recipients.map((r) => r.name)).toEqual(['Anna', 'Hans', 'Dr Weber']);
    expect(c.escalation).toHaveLength(2);
    for (const k of ['WHATSAPP_TOKEN', 'WHATSAPP_VERIFY_TOKEN', 'COWBELL_WEBHOOK_SECRET']) delete process.env[k];
  });
});
