import { existsSync } from 'node:fs';
import type { AgentConfig } from '../config.js';
import { CowbellError } from '../errors.js';
import { createLogger } from '../log.js';
import { ReadingPipeline } from '../pipeline.js';
import { localAddressOf } from '../preflight.js';
import { Store } from '../store/store.js';
import { formatHerdCsv, parseHerdCsv } from './csv.js';
import { applyHerd, type HerdImportResult } from './register.js';

/** Where `cowbell herd` finds the agent's page on this box. */
function agentUrl(config: AgentConfig, path: string): string {
  const host = localAddressOf(config.http.host);
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}${path}`;
}

/**
 * `cowbell herd import`: through the running agent when it answers (its detector must follow the register,
 * and only one process may write the database), else straight into the database, with the detector state
 * restored, changed and saved exactly as the agent would.
 */
export async function importHerd(config: AgentConfig, csv: string): Promise<{ via: 'agent' | 'database'; result: HerdImportResult }> {
  parseHerdCsv(csv); // the file's own problems, said before anything is contacted
  let res: Response | null = null;
  try {
    const headers: Record<string, string> = { 'content-type': 'text/csv' };
    if (config.http.password) headers.authorization = `Bearer ${config.http.password.reveal()}`;
    res = await fetch(agentUrl(config, '/api/herd'), { method: 'POST', headers, body: csv, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code !== 'ECONNREFUSED') throw new CowbellError('COWBELL_HERD_AGENT', `the agent at ${agentUrl(config, '/')} did not answer (${code ?? (err as Error).message}); is it hung? Nothing imported`);
  }
  if (res) {
    const body = (await res.json().catch(() => ({}))) as HerdImportResult & { error?: string };
    if (res.ok) return { via: 'agent', result: body };
    throw new CowbellError('COWBELL_HERD_AGENT', `the agent at ${agentUrl(config, '/')} refused the herd file (HTTP ${res.status}): ${body.error ?? 'no reason given'}`);
  }
  const store = new Store(config.store.path);
  try {
    const pipeline = new ReadingPipeline({
      farmId: config.farm.id, sources: config.sources, timezone: config.farm.timezone, rules: config.rules,
      retentionDays: config.store.retentionDays, store, logger: createLogger('warn'),
      // Restoring and re-registering raise no alerts: nothing is sent from here.
      feedsFor: () => [], notify: () => {},
    });
    pipeline.restore();
    return { via: 'database', result: applyHerd(store, pipeline, config.farm.id, parseHerdCsv(csv), Date.now()) };
  } finally {
    store.close();
  }
}

/** `cowbell herd export`: read straight from the database (a reader never disturbs the agent). */
export function exportHerd(config: AgentConfig): string {
  if (!existsSync(config.store.path)) throw new CowbellError('COWBELL_HERD_NO_STORE', `no database at ${config.store.path} yet: nothing to export`);
  const store = new Store(config.store.path);
  try {
    return formatHerdCsv(store.herd.list());
  } finally {
    store.close();
  }
}
