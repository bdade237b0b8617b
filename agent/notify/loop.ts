import type { Logger } from '../log.js';

/**
 * A worker of its own: runs `step` again after the delay it returns (or `idleMs` when it has nothing to
 * do), at once when nudged, and never two steps at a time. Each outbox lane and each person's queue runs
 * in one, so a channel that is slow, hung or failing holds up nothing but itself. A step that throws is
 * logged and retried after `errorMs`.
 */
export class Loop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;

  constructor(
    readonly name: string,
    private readonly step: () => Promise<number | null>,
    private readonly logger: Logger,
    private readonly o: { idleMs?: number; errorMs?: number } = {},
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  nudge(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Runs one step now (tests drive loops this way, with an injected clock); shares a step in progress. */
  runOnce(): Promise<void> {
    if (this.running) return this.running;
    this.again = false;
    let next: number | null = null;
    this.running = this.step()
      .then((ms) => {
        next = ms;
      })
      .catch((err: unknown) => {
        next = this.o.errorMs ?? 5_000;
        this.logger.error({ loop: this.name, err: (err as Error).message }, 'worker step failed; retrying');
      })
      .finally(() => {
        this.running = null;
        if (!this.stopped) this.schedule(this.again ? 0 : (next ?? this.o.idleMs ?? 30_000));
      });
    return this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    // setTimeout's limit is 2^31-1 ms; a lane waiting on a far not-before just wakes earlier and re-plans.
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runOnce();
    }, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}

/**
 * Runs `fn` with an AbortSignal that fires after `ms`, and gives up waiting at the same moment even if
 * `fn` ignores the signal: a hung request must not hold its lane.
 */
export async function withDeadline<T>(ms: number, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`${what}: no answer within ${ms} ms`);
      ac.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([fn(ac.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
