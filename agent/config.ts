import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { LorawanSourceSchema } from './ingest/lorawan.js';
import { ALERT_TYPES, DEFAULT_RULES, resolveRules, RuleSetError, type RuleSet } from '../rules/index.js';
import { ConfigError } from './errors.js';
import type { Recipient } from './notify/message.js';
import { Secret } from './secret.js';
import { describeIssue, keysOfSchema, keysOfValue, valueAt, withLine } from './config-problems.js';

/**
 * The one config file a technician writes. Everything is validated here, once, with every problem listed;
 * the rest of the agent receives a normalised `AgentConfig` and never checks options again.
 */
const idPattern = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * A credential: `{"env": "NAME"}` or `{"file": "/path"}` (relative to the config file), or inline as a
 * plain string for a quick test. It becomes a `Secret`, which never prints.
 */
const SecretSchema = z.union([
  z.string().min(1),
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }),
  z.strictObject({ file: z.string().min(1) }),
]);
type SecretInput = z.infer<typeof SecretSchema>;

const httpsUrl = (what: string) => z.url({ protocol: /^https?$/, error: `expected the ${what} base URL, e.g. https://…` });

const WhatsAppSchema = z.strictObject({
  /** The phone number id from Meta's WhatsApp manager (not the phone number itself). */
  phoneNumberId: z.string().regex(/^\d{5,20}$/, 'the phone number id from the WhatsApp manager: 5 to 20 digits'),
  apiVersion: z.string().regex(/^v\d+\.\d+$/, 'a Graph API version such as "v21.0"').default('v21.0'),
  token: SecretSchema,
  /** Needed for inbound (button presses, replies, delivery statuses): verifies X-Hub-Signature-256. */
  appSecret: SecretSchema.optional(),
  /** The verify token you type into Meta's webhook settings; answers the GET handshake. */
  verifyToken: SecretSchema.optional(),
  apiBaseUrl: httpsUrl('Graph API').default('https://graph.facebook.com'),
  timeoutMs: z.int().min(1000).max(120_000).default(15_000),
  /** Meta's pair rate limit is about one message per 6 s to one person. */
  paceMs: z.int().min(0).max(600_000).default(6_000),
});

const TelegramSchema = z.strictObject({
  botToken: SecretSchema,
  /** polling: getUpdates (works behind NAT, no public address needed); webhook: Telegram POSTs to /webhooks/telegram. */
  mode: z.enum(['polling', 'webhook', 'send-only']).default('polling'),
  webhookSecret: SecretSchema.optional(),
  /** Webhook mode: the public https URL of this agent's /webhooks/telegram (via a tunnel or reverse proxy); registered with setWebhook at start. */
  webhookUrl: httpsUrl('public webhook').optional(),
  apiBaseUrl: httpsUrl('Bot API').default('https://api.telegram.org'),
  timeoutMs: z.int().min(1000).max(120_000).default(15_000),
  pollTimeoutS: z.int().min(0).max(50).default(30),
  paceMs: z.int().min(0).max(600_000).default(1_000),
});

const WebhookSchema = z.strictObject({
  name: z.string().regex(idPattern, 'letters, digits, . _ - (1-64 characters)'),
  url: httpsUrl('receiver'),
  /** Standard Webhooks signing secret: "whsec_" + base64 (as Svix and others issue them), or any other string used as is. */
  secret: SecretSchema,
  types: z.array(z.enum(ALERT_TYPES)).optional(),
  timeoutMs: z.int().min(1000).max(120_000).default(10_000),
});

const ChannelsSchema = z
  .strictObject({
    whatsapp: WhatsAppSchema.optional(),
    telegram: TelegramSchema.optional(),
    webhooks: z.array(WebhookSchema).default([]),
  })
  .prefault({});

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time "HH:MM"');

const RecipientSchema = z.strictObject({
  name: z.string().min(1).max(64),
  channel: z.enum(['console', 'whatsapp', 'telegram']),
  /** WhatsApp: the phone number in international format, digits only (41791234567); Telegram: the chat id. */
  address: z.string().default(''),
  language: z.string().regex(/^[a-z]{2,3}$/, 'a language code such as "en" or "de"').default('en'),
  /** Defaults to the farm's. */
  timezone: z.string().refine(isTimeZone, 'not an IANA time zone (e.g. "Europe/Zurich")').optional(),
  types: z.array(z.enum(ALERT_TYPES)).default([...ALERT_TYPES]),
  minSeverity: z.enum(['info', 'warning', 'urgent']).default('info'),
  quietHours: z.strictObject({ start: hhmm, end: hhmm }).optional(),
});

/**
 * How the notifier keeps the farmer's phone quiet. Grouping follows Alertmanager: the first alert waits
 * `groupWaitS` for others to join, later messages to the same person wait `groupIntervalMin` after the
 * last, and an open, unacknowledged alert is repeated after `repeatIntervalHours`.
 */
const NotifySchema = z
  .strictObject({
    groupWaitS: z.int().min(0).max(3600).default(30),
    groupIntervalMin: z.number().min(0).max(24 * 60).default(5),
    repeatIntervalHours: z.number().min(0).max(24 * 14).default(24),
    maxPerHour: z.int().min(1).max(1000).default(4),
    maxPerDay: z.int().min(1).max(10_000).default(20),
    /** This many collars going silent (or coming back) in one message become one message about the cause. */
    stormMinCollars: z.int().min(2).max(10_000).default(5),
    /** A "back to normal" that waited longer than this goes into the catch-up summary. */
    catchUpAfterHours: z.number().min(0).max(24 * 30).default(6),
    /** A message still undelivered after this is dropped (counted and logged), except urgent ones. */
    expireAfterHours: z.number().min(1).max(24 * 60).default(7 * 24),
    /** Pending messages per person; beyond it the oldest non-urgent are dropped (counted and logged). */
    maxPendingPerRecipient: z.int().min(10).max(1_000_000).default(2000),
    snoozeHours: z.number().min(0.25).max(24 * 7).default(4),
  })
  .prefault({});

const EscalationSchema = z.strictObject({
  /** Minutes after an urgent alert was raised without anyone acknowledging it. */
  afterMinutes: z.int().min(1).max(7 * 24 * 60),
  /** Recipient names. */
  to: z.array(z.string().min(1)).min(1),
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const ConfigSchema = z.strictObject({
  farm: z.strictObject({
    id: z.string().regex(idPattern, 'letters, digits, . _ - (1-64 characters)'),
    name: z.string().min(1).optional(),
    /** IANA time zone for times in messages to the farmer, e.g. "Europe/Zurich". */
    timezone: z.string().default('UTC').refine(isTimeZone, 'not an IANA time zone (e.g. "Europe/Zurich")'),
  }),
  mqtt: z.strictObject({
    url: z
      .url({ protocol: /^(mqtts?|wss?|tcp|ssl)$/, error: 'expected a broker URL such as mqtt://host:1883' })
      // mqtt.js reads "mqtt://" with no host as localhost: a gateway would quietly wait on a broker that is not there.
      .refine((u) => URL.canParse(u) && new URL(u).hostname !== '', 'names no broker host (e.g. mqtt://localhost:1883)'),
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
  /**
   * Real collars through a LoRaWAN network server's MQTT integration (agent/ingest/lorawan.ts): ChirpStack
   * v4 or The Things Stack v3 on the same broker, with a field map from the device codec's output.
   */
  sources: z.array(LorawanSourceSchema).default([]),
  /** The herd register (`cowbell herd import`): what a collar it does not place on a cow may do. */
  herd: z
    .strictObject({
      // 'alert': its alerts reach people like any cow's ("Collar 70B3…"); 'page': shown on the farm page only,
      // for a farm whose register is complete and where a stray collar is someone else's business.
      unassignedCollars: z.enum(['alert', 'page']).default('alert'),
      // Any id on the farm's topic would otherwise be enrolled and kept for ever (a typo, a neighbour's
      // collar, a misbehaving publisher): at most this many collars outside the register at once, and one
      // silent for this many days (with no open alert) is forgotten.
      maxUnassignedCollars: z.int().min(1).max(1_000_000).default(5000),
      forgetUnassignedAfterDays: z.number().min(1).max(3650).default(14),
    })
    .prefault({}),
  store: z
    .strictObject({
      path: z.string().min(1).default('cowbell.db'),
      // The detector looks back its baseline's days plus its windows; a rebuild from stored readings needs them
      // all. How many that is depends on the rules, so it is checked (and explained) once they are known.
      retentionDays: z.int().min(1).max(3650).default(60),
    })
    .prefault({}),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.int().min(0).max(65535).default(8080),
      /**
       * The farm page's password (a secret: env or file). Required when `host` is not loopback; with it the
       * page asks for it once per browser (a 30-day cookie), and API clients send it as a bearer token.
       */
      password: SecretSchema.optional(),
    })
    .prefault({}),
  /** Chat services and webhooks. Alerts are always published on MQTT too. */
  channels: ChannelsSchema,
  /** Who is told what. Without any, the farmer's messages are printed on the console. */
  recipients: z.array(RecipientSchema).prefault([{ name: 'console', channel: 'console' }]),
  escalation: z.array(EscalationSchema).default([]),
  notify: NotifySchema,
  /** Overrides of the default rule set (rules/default-rules.json): name only what changes, at any depth (`heat: { early: { hours: 2 } }`). */
  rules: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  log: z
    .strictObject({ level: z.enum(LOG_LEVELS).default('info') })
    .prefault({}),
});

type ParsedConfig = z.infer<typeof ConfigSchema>;
type Secrets<T> = T extends SecretInput ? Secret : T extends object ? { [K in keyof T]: Secrets<T[K]> } : T;
export type WhatsAppConfig = Omit<z.infer<typeof WhatsAppSchema>, 'token' | 'appSecret' | 'verifyToken'> & {
  token: Secret; appSecret?: Secret | undefined; verifyToken?: Secret | undefined;
};
export type TelegramConfig = Omit<z.infer<typeof TelegramSchema>, 'botToken' | 'webhookSecret'> & { botToken: Secret; webhookSecret?: Secret | undefined };
export type WebhookConfig = Omit<z.infer<typeof WebhookSchema>, 'secret'> & { secret: Secret };
export type NotifyConfig = z.infer<typeof NotifySchema>;
export type EscalationStep = z.infer<typeof EscalationSchema>;
export interface AgentConfig extends Omit<ParsedConfig, 'rules' | 'channels' | 'recipients' | 'http'> {
  rules: RuleSet;
  http: Omit<ParsedConfig['http'], 'password'> & { password?: Secret | undefined };
  mqtt: ParsedConfig['mqtt'] & { clientId: string };
  channels: { whatsapp?: WhatsAppConfig | undefined; telegram?: TelegramConfig | undefined; webhooks: WebhookConfig[] };
  recipients: Recipient[];
}
export type { Secrets };

/** The rule set the overrides make, or their problems. */
function ruleOverrides(overrides: unknown): { rules: RuleSet; issues: [] } | { rules: null; issues: string[] } {
  try {
    return { rules: resolveRules(overrides), issues: [] };
  } catch (err) {
    if (err instanceof RuleSetError) {
      const issues = err.details.flatMap((i) => describeIssue(i, 'rules', undefined, (path) => keysOfValue(valueAt(DEFAULT_RULES, path))));
      return { rules: null, issues: issues.length ? issues : err.issues };
    }
    throw err;
  }
}

export function parseConfig(input: unknown, baseDir = process.cwd()): AgentConfig {
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((i) => describeIssue(i, '', input, (path) => keysOfSchema(ConfigSchema, path)));
    // The rule overrides' own problems too, in the same list: a technician fixes everything in one pass.
    const overrides = (input as { rules?: unknown } | null)?.rules;
    if (overrides && typeof overrides === 'object' && !issues.some((i) => i.startsWith('rules'))) issues.push(...ruleOverrides(overrides).issues);
    // And the cross-field rule a technician is most likely to trip over at the same time.
    const http = (input as { http?: { host?: unknown; password?: unknown } } | null)?.http;
    if (typeof http?.host === 'string' && !isLoopback(http.host) && http.password === undefined && !issues.some((i) => i.startsWith('http'))) issues.push(passwordNeeded(http.host));
    throw new ConfigError('the config file has problems', issues);
  }
  const c = parsed.data;
  const resolved = ruleOverrides(c.rules);
  if (!resolved.rules) throw new ConfigError('the rule overrides have problems', resolved.issues);
  const rules = resolved.rules;
  const neededDays = rules.baseline.days + 4;
  if (c.store.retentionDays < neededDays) {
    throw new ConfigError('the config file has problems', [
      `store.retentionDays: ${c.store.retentionDays} is shorter than the ${rules.baseline.days}-day baseline needs (at least ${neededDays})`,
    ]);
  }
  const issues: string[] = [];
  const secret = (input: SecretInput | undefined, path: string): Secret | undefined => {
    if (input === undefined) return undefined;
    try {
      return readSecret(input, baseDir);
    } catch (err) {
      issues.push(`${path}: ${(err as Error).message}`);
      return new Secret('', 'missing');
    }
  };
  const wa = c.channels.whatsapp;
  const tg = c.channels.telegram;
  const channels: AgentConfig['channels'] = {
    whatsapp: wa && {
      ...wa,
      token: secret(wa.token, 'channels.whatsapp.token')!,
      appSecret: secret(wa.appSecret, 'channels.whatsapp.appSecret'),
      verifyToken: secret(wa.verifyToken, 'channels.whatsapp.verifyToken'),
    },
    telegram: tg && {
      ...tg,
      botToken: secret(tg.botToken, 'channels.telegram.botToken')!,
      webhookSecret: secret(tg.webhookSecret, 'channels.telegram.webhookSecret'),
    },
    webhooks: c.channels.webhooks.map((w, i) => ({ ...w, secret: secret(w.secret, `channels.webhooks.${i}.secret`)! })),
  };
  if (tg?.mode === 'webhook' && !tg.webhookSecret) issues.push('channels.telegram.webhookSecret: required when mode is "webhook"');
  const httpPassword = secret(c.http.password, 'http.password');
  if (!isLoopback(c.http.host) && !c.http.password) issues.push(passwordNeeded(c.http.host));
  if (httpPassword && httpPassword.source !== 'missing' && httpPassword.reveal().length < 10) issues.push('http.password: at least 10 characters');
  if (new Set(c.channels.webhooks.map((w) => w.name)).size !== c.channels.webhooks.length) issues.push('channels.webhooks: names must be unique');
  const names = new Set<string>();
  c.recipients.forEach((r, i) => {
    const at = `recipients.${i}`;
    if (names.has(r.name)) issues.push(`${at}.name: "${r.name}" is used twice`);
    names.add(r.name);
    if (r.channel !== 'console' && !c.channels[r.channel]) issues.push(`${at}.channel: "${r.channel}" needs channels.${r.channel} to be configured`);
    if (r.channel === 'whatsapp' && !/^[1-9]\d{6,14}$/.test(r.address)) {
      issues.push(`${at}.address: a WhatsApp number in international format, digits only, e.g. 41791234567 (no +, no spaces)`);
    }
    if (r.channel === 'telegram' && !/^-?\d{1,20}$/.test(r.address)) issues.push(`${at}.address: a Telegram chat id (a number; the bot logs it when someone writes to it)`);
  });
  c.escalation.forEach((step, i) => {
    for (const name of step.to) if (!names.has(name)) issues.push(`escalation.${i}.to: no recipient is named "${name}"`);
    if (i > 0 && step.afterMinutes <= c.escalation[i - 1]!.afterMinutes) issues.push(`escalation.${i}.afterMinutes: must be later than the step before`);
  });
  for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
    const file = c.mqtt.tls?.[key];
    if (!file) continue;
    try {
      readFileSync(resolve(baseDir, file));
    } catch (err) {
      issues.push(`mqtt.tls.${key}: cannot read ${resolve(baseDir, file)}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  }
  if (issues.length) throw new ConfigError('the config file has problems', issues);
  const recipients: Recipient[] = c.recipients.map((r) => ({ ...r, timezone: r.timezone ?? c.farm.timezone }));

  const tls = c.mqtt.tls && {
    ...c.mqtt.tls,
    caFile: c.mqtt.tls.caFile && resolve(baseDir, c.mqtt.tls.caFile),
    certFile: c.mqtt.tls.certFile && resolve(baseDir, c.mqtt.tls.certFile),
    keyFile: c.mqtt.tls.keyFile && resolve(baseDir, c.mqtt.tls.keyFile),
  };
  return {
    ...c,
    rules,
    channels,
    recipients,
    mqtt: { ...c.mqtt, tls, clientId: c.mqtt.clientId ?? `cowbell-${c.farm.id}` },
    store: { ...c.store, path: c.store.path === ':memory:' ? c.store.path : resolve(baseDir, c.store.path) },
    http: { ...c.http, password: httpPassword },
  };
}

const passwordNeeded = (host: string) =>
  `http.password: required when http.host is "${host}": the farm page (alerts, acknowledging them, the herd register) would be open to everyone on the network; set it from a file or an environment variable, e.g. { "file": "/etc/cowbell/http-password" }`;

/** Whether a bind address is reachable from this box only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function readSecret(input: SecretInput, baseDir: string): Secret {
  if (typeof input === 'string') return new Secret(input, 'inline');
  if ('env' in input) {
    const value = process.env[input.env]?.trim();
    if (!value) throw new Error(`environment variable ${input.env} is not set (set it where the agent runs, e.g. systemd Environment= or EnvironmentFile=)`);
    return new Secret(value, `env ${input.env}`);
  }
  const path = resolve(baseDir, input.file);
  let value: string;
  try {
    value = readFileSync(path, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied (the agent must be able to read it)' : (code ?? (err as Error).message);
    throw new Error(`cannot read ${path}: ${why} (write the secret there, readable by the agent's user only: e.g. chown root:cowbell and chmod 640)`);
  }
  if (!value) throw new Error(`${path} is empty`);
  return new Secret(value, `file ${path}`);
}

/** Paths in the file are relative to the file, so a config works whatever directory the agent starts in. */
export function loadConfigFile(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  // YAML for a technician's comments, JSON as before: one schema either way.
  const yaml = /\.ya?ml$/i.test(path);
  let data: unknown;
  if (yaml) {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length) {
      // The first line of each, without the colon that introduced the excerpt prettyErrors puts after it.
      throw new ConfigError(`config file ${path} is not valid YAML`, doc.errors.map((e) => e.message.split('\n')[0]!.replace(/:$/, '')));
    }
    data = doc.toJS();
  } else {
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config file ${path} is not valid JSON: ${withLine((err as Error).message, text)}`);
    }
  }
  return parseConfig(data, dirname(resolve(path)));
}
