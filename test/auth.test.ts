import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { parseConfig } from '../agent/config.js';
import { ConfigError } from '../agent/errors.js';
import { importHerd } from '../agent/herd/import.js';
import { memoryLogger, memoryStream, startBroker, tempDir, testConfig, type TestBroker } from './helpers.js';

const PASSWORD = 'correct horse battery';

describe('the farm page beyond loopback needs a password', () => {
  const base = { farm: { id: 'f' }, mqtt: { url: 'mqtt://127.0.0.1:1883' } };

  it('refuses a config that opens the page to the network without one, or with a short one', () => {
    const problems = (http: Record<string, unknown>) => {
      try {
        parseConfig({ ...base, http });
        return [];
      } catch (err) {
        return (err as ConfigError).issues;
      }
    };
    expect(problems({ host: '0.0.0.0' })).toEqual([expect.stringMatching(/^http\.password: required when http\.host is "0\.0\.0\.0"/)]);
    expect(problems({ host: '0.0.0.0', password: 'short' })).toEqual(['http.password: at least 10 characters']);
    expect(problems({ host: '0.0.0.0', password: PASSWORD })).toEqual([]);
    expect(problems({ host: '127.0.0.1' })).toEqual([]);
    // A variable holding only blanks is not a password (an empty one would let an empty login in).
    process.env.COWBELL_TEST_BLANK = '   ';
    expect(problems({ host: '0.0.0.0', password: { env: 'COWBELL_TEST_BLANK' } })).toEqual([expect.stringMatching(/^http\.password: environment variable COWBELL_TEST_BLANK is not set/)]);
    expect(problems({ host: '0.0.0.0', password: '' })).toEqual([expect.stringMatching(/^http\.password: /)]);
    expect(problems({ host: 'localhost' })).toEqual([]);
  });
});

describe('login (real HTTP to a running agent with http.password)', () => {
  let broker: TestBroker;
  let tmp: ReturnType<typeof tempDir>;
  let agent: Agent;
  let now = Date.parse('2026-11-20T08:00:00Z');
  let url: string;
  const config = () => testConfig(broker.url, join(tmp.dir, 'auth.db'), { http: { port: 0, password: PASSWORD } });

  beforeAll(async () => {
    broker = await startBroker('aedes');
    tmp = tempDir();
    agent = new Agent(config(), { logger: memoryLogger().logger, consoleOut: memoryStream().stream, clock: () => now });
    await agent.start();
    url = `http://127.0.0.1:${agent.httpPort}`;
  });
  afterAll(async () => {
    await agent?.stop();
    await broker?.close();
    tmp?.cleanup();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${url}${path}`, { headers, redirect: 'manual' });
  const login = (password: string, extra: Record<string, string> = {}, next = '/cow/C1') =>
    fetch(`${url}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url, ...extra },
      body: new URLSearchParams({ password, next }).toString(),
    });

  it('sends a browser to the login page, and tells a tool to bring the password', async () => {
    const page = await get('/', { accept: 'text/html' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login?next=%2F');
    const api = await get('/api/status');
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toBe('Bearer realm="cowbell"');
    expect((await get('/metrics')).status).toBe(401);
    expect((await fetch(`${url}/api/herd`, { method: 'POST', body: 'cow\n1\n' })).status).toBe(401);
    expect(agent.store.herd.hasCow('1')).toBe(false);
    // Open without a login: a supervisor's health check, the assets, the login form itself.
    expect([200, 503]).toContain((await get('/healthz')).status);
    expect((await get('/assets/farm.js')).status).toBe(200);
    expect(await (await get('/login')).text()).toContain('type="password"');
  });

  it('a tool with the password as a bearer token is let in; a wrong one is not', async () => {
    expect((await get('/api/status', { authorization: `Bearer ${PASSWORD}` })).status).toBe(200);
    expect((await get('/api/status', { authorization: 'Bearer guess' })).status).toBe(401);
  });

  it('the right password gives a 30-day cookie that opens the page; a forged or expired one does not', async () => {
    const ok = await login(PASSWORD);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/cow/C1');
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^cowbell_session=v1\.\d+\.[\w-]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=2592000$/);
    const session = cookie.split(';')[0]!;
    const page = await get('/', { cookie: session, accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post" action="/logout"');
    expect((await get('/api/status', { cookie: session })).status).toBe(200);
    const forged = session.replace(/\.(\d+)\./, (_m, exp: string) => `.${Number(exp) + 1e12}.`);
    expect((await get('/api/status', { cookie: forged })).status).toBe(401);
    now += 31 * 86_400_000;
    expect((await get('/api/status', { cookie: session })).status).toBe(401);
    // Logging out clears the cookie.
    const out = await fetch(`${url}/logout`, { method: 'POST', redirect: 'manual', headers: { origin: url } });
    expect(out.headers.get('set-cookie')).toMatch(/cowbell_session=; .*Max-Age=0/);
  });

  it('refuses a login posted from another site, and never sends the browser to another site after it', async () => {
    expect((await login(PASSWORD, { origin: 'http://evil.example' })).status).toBe(403);
    // Browsers drop a tab in a Location and read a backslash as a slash: both would lead off the farm.
    for (const next of ['//evil.example/x', '/\t/evil.example', '/\\evil.example', 'http://evil.example']) {
      expect((await login(PASSWORD, {}, next)).headers.get('location')).toBe('/');
    }
    expect((await login(PASSWORD, {}, '/cow/C1?days=7')).headers.get('location')).toBe('/cow/C1?days=7');
  });

  it('guesses sent as a bearer token count against the same limit as the login form', async () => {
    now += 3_600_000;
    for (let i = 0; i < 5; i++) expect((await get('/api/status', { authorization: 'Bearer guess' })).status).toBe(401);
    expect((await get('/api/status', { authorization: `Bearer ${PASSWORD}` })).status).toBe(401);
    now += 61_000;
    expect((await get('/api/status', { authorization: `Bearer ${PASSWORD}` })).status).toBe(200);
  });

  it('after five wrong passwords in a minute, even the right one waits', async () => {
    now += 3_600_000;
    for (let i = 0; i < 5; i++) expect((await login('wrong password')).status).toBe(401);
    expect((await login(PASSWORD)).status).toBe(429);
    now += 61_000;
    expect((await login(PASSWORD)).status).toBe(303);
  });

  it('cowbell herd import brings the password along', async () => {
    const cfg = { ...config(), http: { ...config().http, port: agent.httpPort! } };
    const r = await importHerd(cfg, 'cow,name\n9,Ida\n');
    expect(r.via).toBe('agent');
    expect(agent.store.herd.hasCow('9')).toBe(true);
  });
});
