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
