import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import type { AgentConfig } from './config.js';

/**
 * What start-up would hit that the config's shape cannot show: hosts that do not resolve, a port already
 * taken, a database directory that is missing or not writable. `cowbell check` lists them all at once, each
 * with the config path it comes from, so a technician fixes them in one pass rather than one crash at a time.
 */
export async function preflight(c: AgentConfig): Promise<string[]> {
  const issues: string[] = [];
  const broker = new URL(c.mqtt.url).hostname.replace(/^\[|\]$/g, '');
  const checks: Promise<void>[] = [
    resolves(broker).then((why) => void (why && issues.push(`mqtt.url: the broker host "${broker}" ${why}`))),
    bindable(c.http.host, c.http.port).then(async (why) => {
      // Checking an edited config on a running gateway: the port is the running agent's own.
      if (why && !(await cowbellListens(c.http.host, c.http.port))) issues.push(`http: cannot listen on ${c.http.host}:${c.http.port}: ${why}`);
    }),
    writableDir(dirname(c.store.path)).then((why) => void (why && issues.push(`store.path: ${why}`))),
  ];
  await Promise.all(checks);
  return issues;
}

/** Where a client on this box reaches a server bound to `host`: a wildcard bind answers on loopback. */
export function localAddressOf(host: string): string {
  return ['0.0.0.0', '::', ''].includes(host) ? '127.0.0.1' : host;
}

/** Whether a Cowbell agent answers on that port (its /healthz has its shape). */
async function cowbellListens(host: string, port: number): Promise<boolean> {
  const h = localAddressOf(host);
  // A connection of its own, closed whatever happens: whatever holds the port must not be left with it.
  return new Promise((resolve) => {
    const req = httpGet({ host: h, port, path: '/healthz', agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d.length + body.length < 4096 ? d : ''));
      res.on('end', () => {
        try {
          const j = JSON.parse(body) as Record<string, unknown>;
          resolve(typeof j.broker === 'boolean' && typeof j.subscribed === 'boolean');
        } catch {
          resolve(false);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.on('close', () => resolve(false));
  });
}

async function resolves(host: string): Promise<string | null> {
  try {
    await lookup(host);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'does not resolve (a typo, or no DNS on this box?)' : `cannot be looked up (${code})`;
  }
}

/** Whether the agent could listen there: binds for a moment and lets go. */
export async function bindable(host: string, port: number): Promise<string | null> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return null;
  } catch (err) {
    return listenProblem(err as NodeJS.ErrnoException);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** A listen error in a technician's words. */
export function listenProblem(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'the port is in use (another agent, or another service)';
    case 'EADDRNOTAVAIL':
      return 'this box has no such address (http.host must be one of its own, or 0.0.0.0)';
    case 'EACCES':
      return 'not allowed (ports below 1024 need privileges: use 8080)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host does not resolve';
    default:
      return err.code ?? err.message;
  }
}

export async function writableDir(dir: string): Promise<string | null> {
  try {
    if (!(await stat(dir)).isDirectory()) return `${dir} is not a directory`;
    await access(dir, constants.W_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `the directory ${dir} does not exist (create it, owned by the agent's user)` : code === 'EACCES' ? `the directory ${dir} is not writable by this user` : `${dir}: ${code}`;
  }
}
