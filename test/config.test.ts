import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../agent/config.js';
import { ConfigError } from '../agent/errors.js';
import { DEFAULT_RULES } from '../rules/index.js';

const minimal = { farm: { id: 'hillside' }, mqtt: { url: 'mqtt://broker.local:1883' } };

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

  it('merges rule overrides onto the defaults and rejects bad ones with the rule path', () => {
    const c = parseConfig({ ...minimal, rules: { heat: { minRatio: 2.5 } } });
    expect(c.rules.heat.minRatio).toBe(2.5);
    expect(c.rules.heat.windowHours).toBe(DEFAULT_RULES.heat.windowHours);
    expect(() => parseConfig({ ...minimal, rules: { heat: { minRatio: -1 } } })).toThrow(/rules\.heat\.minRatio/);
    expect(() => parseConfig({ ...minimal, rules: { heat: { resolveRatio: 9 } } })).toThrow(/hysteresis/);
    expect(() => parseConfig({ ...minimal, rules: { heat: { windowHourz: 3 } } })).toThrow(/windowHourz/);
  });

  it('reads a file, resolving paths relative to it, and says which file is broken', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cowbell-cfg-'));
    const file = join(dir, 'cowbell.json');
    writeFileSync(file, JSON.stringify({ ...minimal, store: { path: 'data/farm.db' }, mqtt: { ...minimal.mqtt, tls: { caFile: 'ca.pem' } } }));
    const c = loadConfigFile(file);
    expect(c.store.path).toBe(join(dir, 'data/farm.db'));
    expect(c.mqtt.tls?.caFile).toBe(join(dir, 'ca.pem'));
    writeFileSync(file, '{ "farm": ');
    expect(() => loadConfigFile(file)).toThrow(new RegExp(`${file} is not valid JSON`));
    expect(() => loadConfigFile(join(dir, 'missing.json'))).toThrow(/cannot read config file/);
  });
});
