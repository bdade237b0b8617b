import { pino, type Logger } from 'pino';

export type { Logger };

/** Anything that could carry a credential, wherever it appears in a log object. URLs keep all but their password. */
const SECRET = ['password', 'token', 'key', 'authorization'];
const URL_KEYS = ['url'];
const paths = (keys: string[]) => keys.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { app: 'cowbell' },
      redact: {
        paths: [...paths(SECRET), ...paths(URL_KEYS), 'headers.authorization'],
        censor: (value, path) => (URL_KEYS.includes(path.at(-1) ?? '') && typeof value === 'string' ? redactUrl(value) : '[redacted]'),
      },
    },
    destination ?? pino.destination(2),
  );
}

/** Broker URLs may carry credentials (mqtt://user:pass@host); the password never leaves this function. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
