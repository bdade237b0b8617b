import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { CowbellError } from '../agent/errors.js';
import { preflight } from '../agent/preflight.js';
import { memoryLogger, memoryStream, tempDir, testConfig } from './helpers.js';

// Found when tried as a new user would (issue 7): `cowbell check` said "config OK" and the agent then died
// with a stack trace on a port in use or a host that is not this box's.
describe('what start-up would hit', () => {
  it('lists a broker host that does not resolve, a port in use and a missing database directory, all at once', async () => {
    // Another service on the port: it reads what comes and answers nothing.
    const busy = createServer((s) => s.resume());
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as AddressInfo).port;
    const tmp = tempDir();
    try {
      const c = testConfig('mqtt://no-such-broker.invalid:1883', join(tmp.dir, 'missing', 'cowbell.db'), { http: { host: '127.0.0.1', port } });
      const issues = await preflight(c);
      expect(issues).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^mqtt\.url: the broker host "no-such-broker\.invalid"/),
          expect.stringMatching(new RegExp(`^http: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`)),
          expect.stringMatching(/^store\.path: the directory .*missing does not exist/),
        ]),
      );
      mkdirSync(join(tmp.dir, 'missing'));
      await new Promise<void>((r) => busy.close(() => r()));
      expect(await preflight(testConfig('mqtt://127.0.0.1:1883', join(tmp.dir, 'missing', 'cowbell.db'), { http: { host: '127.0.0.1', port } }))).toEqual([]);
    } finally {
      if (busy.listening) await new Promise<void>((r) => busy.close(() => r()));
      tmp.cleanup();
    }
  });

  // Found by a newcomer's trial of the install guide: re-checking an edited config on a running gateway
  // failed on the agent's own port.
  it('a port held by the running agent itself is not a problem', async () => {
    const tmp = tempDir();
    const agent = new Agent(testConfig('mqtt://127.0.0.1:1', join(tmp.dir, 'a.db')), { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
    try {
      await agent.start();
      const again = testConfig('mqtt://127.0.0.1:1', join(tmp.dir, 'a.db'), { http: { host: '127.0.0.1', port: agent.httpPort } });
      expect(await preflight(again)).toEqual([]);
    } finally {
      await agent.stop();
      tmp.cleanup();
    }
  });

  it('the agent says a listen problem in the config\'s words, with a stable code, before connecting anything', async () => {
    const tmp = tempDir();
    const agent = new Agent(testConfig('mqtt://127.0.0.1:1', join(tmp.dir, 'a.db'), { http: { host: '203.0.113.7', port: 8080, password: 'a long farm password' } }), { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
    try {
      const err = await agent.start().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(CowbellError);
      expect(err).toMatchObject({ code: 'COWBELL_HTTP_LISTEN', message: expect.stringMatching(/http: cannot listen on 203\.0\.113\.7:8080: this box has no such address/) });
      expect(agent.mqtt.connected).toBe(false);
    } finally {
      await agent.stop().catch(() => {});
      tmp.cleanup();
    }
  });
});
