import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { resolveRules, RuleSetError, type RuleSet } from '../rules/index.js';
import { ConfigError } from './errors.js';

/**
 * The one config file a technician writes. Everything is validated here, once, with every problem listed;
 * the rest of the agent receives a normalised `AgentConfig` and never checks options again.
 */
const idPattern = /^[A-Za-z0-9._-]{1,64}$/;

const ChannelSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('console'),
    /** Also tell the farmer when an alert resolves ("Cow 12 is back to normal"). */
    notifyResolved: z.boolean().default(true),
  }),
]);

export const ConfigSchema = z.strictObject({
  farm: z.strictObject({
    id: z.string().regex(idPattern, 'letters, digits, . _ - (1-64 characters)'),
    name: z.string().min(1).optional(),
    /** IANA time zone for times in messages to the farmer, e.g. "Europe/Zurich". */
    timezone: z
      .string()
      .default('UTC')
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'not an IANA time zone (e.g. "Europe/Zurich")'),
  }),
  mqtt: z.strictObject({
    url: z.url({ protocol: /^(mqtts?|wss?|tcp|ssl)$/, error: 'expected a broker URL such as mqtt://host:1883' }),
    username: z.string().optional(),
    password: z.string().optional(),
    /** Fixed, so the broker keeps our persistent session (and the readings queued in it) across restarts. */
    clientId: z.string().min(1).max(128).optional(),
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
    /** MQTT 5 only: how long the broker keeps the session while the agent is away. */
    sessionExpiryS: z.int().min(60).default(7 * 24 * 3600),
    keepaliveS: z.int().min(5).max(3600).default(30),
    tls: z
      .strictObject({
        caFile: z.string().optional(),
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
        rejectUnauthorized: z.boolean().default(true),
      })
      .optional(),
  }),
  store: z
    .strictObject({
      path: z.string().min(1).default('cowbell.db'),
      // The detector looks back 14 days plus its windows; a rebuild from stored readings needs them all.
      retentionDays: z.int().min(18).max(3650).default(60),
    })
    .prefault({}),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.int().min(0).max(65535).default(8080),
    })
    .prefault({}),
  channels: z.array(ChannelSchema).default([{ type: 'console', notifyResolved: true }]),
  /** Overrides of the default rule set (rules/default-rules.json), section by section. */
  rules: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
});

export type ChannelConfig = z.infer<typeof ChannelSchema>;
type ParsedConfig = z.infer<typeof ConfigSchema>;
export interface AgentConfig extends Omit<ParsedConfig, 'rules'> {
  rules: RuleSet;
  mqtt: ParsedConfig['mqtt'] & { clientId: string };
}

export function parseConfig(input: unknown, baseDir = process.cwd()): AgentConfig {
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      'the config file has problems',
      parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`),
    );
  }
  const c = parsed.data;
  let rules: RuleSet;
  try {
    rules = resolveRules(c.rules);
  } catch (err) {
    if (err instanceof RuleSetError) throw new ConfigError('the rule overrides have problems', err.issues);
    throw err;
  }
  const neededDays = rules.baseline.days + 4;
  if (c.store.retentionDays < neededDays) {
    throw new ConfigError('the config file has problems', [
      `store.retentionDays: ${c.store.retentionDays} is shorter than the ${rules.baseline.days}-day baseline needs (at least ${neededDays})`,
    ]);
  }
  const tls = c.mqtt.tls && {
    ...c.mqtt.tls,
    caFile: c.mqtt.tls.caFile && resolve(baseDir, c.mqtt.tls.caFile),
    certFile: c.mqtt.tls.certFile && resolve(baseDir, c.mqtt.tls.certFile),
    keyFile: c.mqtt.tls.keyFile && resolve(baseDir, c.mqtt.tls.keyFile),
  };
  return {
    ...c,
    rules,
    mqtt: { ...c.mqtt, tls, clientId: c.mqtt.clientId ?? `cowbell-${c.farm.id}` },
    store: { ...c.store, path: c.store.path === ':memory:' ? c.store.path : resolve(baseDir, c.store.path) },
  };
}

/** Paths in the file are relative to the file, so a config works whatever directory the agent starts in. */
export function loadConfigFile(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(json, dirname(resolve(path)));
}
