import { timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';

/**
 * A credential read from the config (inline, an environment variable or a file). It prints as
 * "[secret]" everywhere — JSON (pino, /api/status), util.inspect, string templates — so a careless log
 * line or error message cannot carry it; only `reveal()` gives the value, at the point of use.
 */
export class Secret {
  readonly #value: string;
  /** Where it came from, for messages to the technician: "env WHATSAPP_TOKEN", "file /etc/…", "inline". */
  readonly source: string;

  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
  }

  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return '[secret]';
  }

  toString(): string {
    return '[secret]';
  }

  [inspect.custom](): string {
    return `[secret from ${this.source}]`;
  }
}

/** Two secrets (or digests) compared in constant time: the time taken says nothing about where they differ. */
export function sameSecret(a: string | Buffer, b: string | Buffer): boolean {
  const x = typeof a === 'string' ? Buffer.from(a) : a;
  const y = typeof b === 'string' ? Buffer.from(b) : b;
  return x.length === y.length && timingSafeEqual(x, y);
}
