/**
 * Errors the technician may see, each with a stable code to search for (the undici convention): the
 * message says what is wrong and what to do, the code never changes wording.
 */
export class CowbellError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CowbellError';
  }
}

export class ConfigError extends CowbellError {
  constructor(
    message: string,
    readonly issues: string[] = [],
  ) {
    super('COWBELL_CONFIG_INVALID', issues.length ? `${message}\n  - ${issues.join('\n  - ')}` : message);
    this.name = 'ConfigError';
  }
}

/**
 * A channel could not deliver a message. `retryable`: try again later (network down, rate limited,
 * the service's own fault); not retryable: this message will never go (bad recipient, rejected content).
 * `pauseChannel`: nothing on this channel can go until the technician acts (a revoked token, an account
 * blocked for policy); `retryAfterMs`: the service said when to come back.
 */
export class DeliveryError extends CowbellError {
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly pauseChannel: boolean;

  constructor(
    message: string,
    retryable: boolean,
    options?: { cause?: unknown; code?: string; retryAfterMs?: number; pauseChannel?: boolean },
  ) {
    super(options?.code ?? (options?.pauseChannel ? 'COWBELL_CHANNEL_PAUSED' : retryable ? 'COWBELL_DELIVERY_RETRY' : 'COWBELL_DELIVERY_REJECTED'), message, options);
    this.name = 'DeliveryError';
    this.retryable = retryable || !!options?.pauseChannel;
    this.retryAfterMs = options?.retryAfterMs;
    this.pauseChannel = !!options?.pauseChannel;
  }
}

/** Anything thrown by a channel, as a DeliveryError: unknown failures (a bug, a socket reset) are retryable. */
export function asDeliveryError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const e = err as Error;
  return new DeliveryError(e?.message ?? String(err), true, { cause: err });
}
