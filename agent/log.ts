import { pino, type Logger } from 'pino';

export type { Logger };

/** Anything that could carry a credential is redacted wherever it appears in a log object. */
const REDACT = ['password', '*.password', '*.*.password', 'token', '*.token', '*.*.token', 'headers.authorization'];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { app: 'cowbell' }, redact: { paths: REDACT, censor: '[redacted]' } },
    destination ?? pino.destination(2),
  );
}
