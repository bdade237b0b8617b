import { realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Agent, type AgentOptions } from './agent.js';
import type { AgentConfig } from './config.js';
import { ConfigError } from './errors.js';
import { uplinkTopic } from './ingest/lorawan.js';
import { createLogger, redactUrl, type Logger } from './log.js';

/**
 * Several farms in one process (a vendor's or a cooperative's box; docs/scaling.md): one Agent per farm,
 * each with its own database, MQTT session (`cowbell-<farmId>`), topics, people and farm page, so what one
 * farm does cannot reach another's data. They share the process, the event loop and the broker connection
 * limits, nothing else. A farm whose store fails stops all of them and the process exits non-zero, as a
 * single farm's would: the supervisor restarts the box, and every farm resumes from its own snapshot.
 */
export class FarmHost {
  readonly agents: Agent[];
  private readonly logger: Logger;
  private stopping: Promise<void> | null = null;

  constructor(
    readonly configs: AgentConfig[],
    private readonly o: {
      logger?: Logger;
      agent?: (farmId: string) => AgentOptions;
      onFatal?: (err: Error) => void;
      /** The config files the farms came from, to name them in a clash. */
      files?: readonly string[];
    } = {},
  ) {
    checkFarms(configs, o.files);
    this.logger = o.logger ?? createLogger(configs[0]?.log.level ?? 'info');
    this.agents = configs.map(
      (config) =>
        new Agent(config, {
          ...o.agent?.(config.farm.id),
          // Every line says whose farm it is about.
          logger: this.logger.child({ farm: config.farm.id }, { level: config.log.level }),
          onFatal: (err) => this.fatal(err),
          // A person may be on more than one farm's list: each message says which farm it is about.
          nameFarm: true,
        }),
    );
  }

  /**
   * Starts the farms in order. If one cannot start (its port taken, its database locked), it and those
   * already started are stopped again, and the error is thrown: none is left running. A stop() meanwhile
   * (a signal during start-up) starts no further farm.
   */
  async start(): Promise<void> {
    for (const a of this.agents) {
      if (this.stopping) return;
      try {
        await a.start();
      } catch (err) {
        await this.stop();
        throw err;
      }
    }
  }

  /**
   * Stops every farm, each finishing its own in-flight work, and closes the databases of those never
   * started (an Agent stopped before it restored its state does not save over the stored one). One farm
   * failing to stop cleanly does not hold the others, and is logged.
   */
  stop(): Promise<void> {
    this.stopping ??= Promise.allSettled(this.agents.map((a) => a.stop())).then((results) =>
      results.forEach((r, i) => {
        if (r.status === 'rejected') this.logger.error({ farm: this.agents[i]!.config.farm.id, err: (r.reason as Error).message }, 'farm did not stop cleanly');
      }),
    );
    return this.stopping;
  }

  private fatal(err: Error): void {
    if (this.o.onFatal) return this.o.onFatal(err);
    void this.stop().finally(() => process.exit(1));
  }
}

/**
 * What two farms in one process must not share, refused before anything starts:
 * - the farm id (its topics, its alerts' ids);
 * - the database file;
 * - an MQTT client id on one broker (the ingest session's or the alert publisher's, `<id>-alerts`): a
 *   broker drops the older of two connections with one id, and the alert publisher's clean connection
 *   would wipe the other's persistent session and the readings queued in it;
 * - a LoRaWAN application's uplinks on one broker (their topics carry no farm: each farm would take the
 *   other's collars);
 * - a Telegram bot or a WhatsApp number: a button pressed or a reply sent reaches one farm only, which
 *   would take it for one of its own messages (its message ids count from 1 like every farm's);
 * - the farm page's port.
 */
export function checkFarms(configs: AgentConfig[], files?: readonly string[]): void {
  if (configs.length === 0) throw new ConfigError('no farm to run: give at least one --config FILE');
  const issues: string[] = [];
  // Each farm by its config file where known: two files may well give the same farm id.
  const name = (i: number) => (files?.[i] !== undefined ? `${files[i]} (farm "${configs[i]!.farm.id}")` : `farm "${configs[i]!.farm.id}"`);
  const clash = (what: string, keys: (c: AgentConfig) => { key: string; shown: string }[]) => {
    const seen = new Map<string, number>();
    configs.forEach((c, i) => {
      for (const { key, shown } of keys(c)) {
        const other = seen.get(key);
        // A config's own keys (its session's and its alert publisher's client ids) never clash with each other.
        if (other !== undefined && other !== i) issues.push(`${name(other)} and ${name(i)} have the same ${what}${shown ? ` (${shown})` : ''}: each farm needs its own`);
        else seen.set(key, i);
      }
    });
  };
  const one = (key: string, shown = key) => [{ key, shown }];
  clash('farm.id', (c) => one(c.farm.id.toLowerCase(), c.farm.id));
  clash('store.path', (c) => (c.store.path === ':memory:' ? [] : one(realPath(c.store.path))));
  clash('MQTT client id on one broker', (c) =>
    [c.mqtt.clientId, `${c.mqtt.clientId}-alerts`].map((id) => ({ key: `${brokerKey(c.mqtt.url)} ${id}`, shown: `${id} at ${redactUrl(c.mqtt.url)}` })),
  );
  clash('LoRaWAN application on one broker', (c) => c.sources.map((s) => ({ key: `${brokerKey(c.mqtt.url)} ${uplinkTopic(s)}`, shown: uplinkTopic(s) })));
  // Secrets are compared, never shown.
  clash('Telegram bot (channels.telegram.botToken)', (c) => (c.channels.telegram ? one(`tg ${c.channels.telegram.botToken.reveal()}`, '') : []));
  clash('WhatsApp number (channels.whatsapp.phoneNumberId)', (c) => (c.channels.whatsapp ? one(c.channels.whatsapp.phoneNumberId) : []));
  // Port 0 asks the system for a free one; one port on two addresses is refused too (0.0.0.0 holds them all).
  clash('http.port', (c) => (c.http.port === 0 ? [] : one(String(c.http.port))));
  if (issues.length) throw new ConfigError('these farms cannot run in one process', issues);
}

/** A database's real path: two spellings of one file (a symlinked directory) are one file. */
function realPath(path: string): string {
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return path;
  }
}

/** One broker however its URL is written: scheme, host and port (1883 or 8883 when left out). */
function brokerKey(url: string): string {
  try {
    const u = new URL(url);
    const port = u.port || (u.protocol === 'mqtts:' || u.protocol === 'ssl:' || u.protocol === 'wss:' ? '8883' : '1883');
    return `${u.hostname === 'localhost' ? '127.0.0.1' : u.hostname}:${port}`;
  } catch {
    return url;
  }
}
