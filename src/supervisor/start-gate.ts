// A counting gate: at most `limit` sandbox starts run at once, the rest wait in order (no timers).

/** Bounded concurrency for `start()`: `run(fn)` waits for a free slot, runs `fn`, frees the slot. */
export class StartGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!(Number.isInteger(limit) && limit >= 1)) {
      throw new RangeError(`Expected the start concurrency to be an integer ≥ 1, got \`${limit}\``);
    }
  }

  /** Starts waiting for a slot right now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Starts in flight right now. */
  get active(): number {
    return this.running;
  }

  /** Runs `fn` once a slot is free; the slot is released when `fn` settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
