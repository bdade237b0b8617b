import { describe, expect, it } from 'vitest';
import { createLogger } from '../agent/log.js';
import { memoryStream } from './helpers.js';

// Issue 7: "secrets redacted (tested)". A log line is read by whoever runs the gateway, and shipped to
// whatever collects logs: no password, token or key may reach it, whatever the object it sits in.
describe('logs', () => {
  it('never carry a password, token, key or authorization header, and keep a broker URL without its password', () => {
    const out = memoryStream();
    const log = createLogger('info', out.stream);
    log.info({ password: 'hunter2', token: 'EAAG-secret', channel: { botToken: 'x', token: '123:ABC-secret' }, headers: { authorization: 'Bearer sk-secret' }, url: 'mqtts://cowbell:s3cret@broker.farm:8883' }, 'connecting');
    log.error({ err: { key: 'private-key-secret' }, cfg: { mqtt: { password: 'deep-secret' } } }, 'failed');
    const text = out.text();
    for (const secret of ['hunter2', 'EAAG-secret', '123:ABC-secret', 'sk-secret', 's3cret', 'private-key-secret', 'deep-secret']) expect(text).not.toContain(secret);
    expect(text).toContain('mqtts://cowbell:***@broker.farm:8883');
    expect(text).toContain('"msg":"connecting"');
  });

  it('honour the level', () => {
    const out = memoryStream();
    const log = createLogger('warn', out.stream);
    log.info('chatty');
    log.warn('worth saying');
    expect(out.text()).not.toContain('chatty');
    expect(out.text()).toContain('worth saying');
  });
});
