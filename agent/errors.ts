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

/** A channel refused or failed a message; `retryable` tells the outbox whether to try again later. */
export class DeliveryError extends CowbellError {
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown; code?: string },
  ) {
    super(options?.code ?? (retryable ? 'COWBELL_DELIVERY_RETRY' : 'COWBELL_DELIVERY_REJECTED'), message, options);
    this.name = 'DeliveryError';
  }
}
