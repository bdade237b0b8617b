import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

const binary = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => spawnSync(p, ['-h']).error === undefined);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A Mosquitto of the bench's own on a free loopback port, configured with `settings` (mosquitto.conf lines),
 * stopped by its own pid: never a broker the machine already runs.
 */
export async function startMosquitto(dir: string, settings: string): Promise<{ url: string; stop(): Promise<void> }> {
  if (!binary) throw new Error('no mosquitto here (apt-get install mosquitto)');
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\n${settings}`);
  const proc = spawn(binary, ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => r(!!s.end())).once('error', () => r(false));
    });
    if (up) break;
    if (i > 100) throw new Error('mosquitto did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `mqtt://127.0.0.1:${port}`, stop: () => new Promise<void>((r) => void proc.once('exit', () => r()).kill('SIGTERM')) };
}
