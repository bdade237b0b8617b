import { Agent, type AgentOptions } from './agent.js';
import type { AgentConfig } from './config.js';
import { ConfigError } from './errors.js';
import { createLogger, type Logger } from './log.js';

/**
 * Several farms in one process (a vendor's or a cooperative's box; docs/scaling.md): one Agent per farm,
 * each with its own database, MQTT session (`cowbell-<farmId>`), topics, people and farm page, so what one
 * farm does cannot reach another's data. They share the process, the event loop and the broker connection
 * limits, nothing else. A farm whose store fails stops all of them and the process exits non-zero, as a
 * single farm's would: the supervisor restarts the box, and every farm resumes from its own snapshot.
 */
export class FarmHost {
  readonly agents: Agent[];
  private stopping: Promise<void> | null = null;

  constructor(
    readonly configs: AgentConfig[],
    private readonly o: { logger?: Logger; agent?: (farmId: string) => AgentOptions; onFatal?: (err: Error) => void } = {},
  ) {
    checkFarms(configs);
    const root = o.logger ?? createLogger(configs[0]?.log.level ?? 'info');
    this.agents = configs.map(
      (config) =>
        new Agent(config, {
          ...o.agent?.(config.farm.id),
          // Every line says whose farm it is about.
          logger: root.child({ farm: config.farm.id }, { level: config.log.level }),
          onFatal: (err) => this.fatal(err),
          // A person may be on more than one farm's list: each message says which farm it is about.
          nameFarm: true,
        }),
    );
  }

  /** Starts the farms in order; if one cannot start (its port taken, its database locked), none is left running. */
  async start(): Promise<void> {
    const started: Agent[] = [];
    try {
      for (const a of this.agents) {
        await a.start();
        started.push(a);
      }
    } catch (err) {
      await Promise.allSettled(started.map((a) => a.stop()));
      throw err;
    }
  }

  /** Stops every farm, each finishing its own in-flight work; one farm's failure to stop cleanly does not hold the others. */
  stop(): Promise<void> {
    this.stopping ??= Promise.allSettled(this.agents.map((a) => a.stop())).then(() => undefined);
    return this.stopping;
  }

  private fatal(err: Error): void {
    if (this.o.onFatal) return this.o.onFatal(err);
    void this.stop().finally(() => process.exit(1));
  }
}

/**
 * What two farms in one process must not share, refused before anything starts: the farm id (its topics and
 * its alerts' ids), the database file, the MQTT client id (a broker drops the older of two sessions with one
 * id, and the farms would take turns being disconnected) and the farm page's port.
 */
export function checkFarms(configs: AgentConfig[]): void {
  if (configs.length === 0) throw new ConfigError('no farm to run: give at least one --config FILE');
  const issues: string[] = [];
  const clash = (what: string, key: (c: AgentConfig) => string | number | null) => {
    const seen = new Map<string | number, string>();
    for (const c of configs) {
      const k = key(c);
      if (k === null) continue;
      const other = seen.get(k);
      if (other !== undefined) issues.push(`farms "${other}" and "${c.farm.id}" have the same ${what} (${k}): each farm needs its own`);
      else seen.set(k, c.farm.id);
    }
  };
  clash('farm.id', (c) => c.farm.id);
  clash('store.path', (c) => (c.store.path === ':memory:' ? null : c.store.path));
  clash('mqtt.clientId', (c) => `${c.mqtt.url} ${c.mqtt.clientId}`);
  // Port 0 asks the system for a free one.
  clash('http.port', (c) => (c.http.port === 0 ? null : `${c.http.host}:${c.http.port}`));
  if (issues.length) throw new ConfigError('these farms cannot run in one process', issues);
}
