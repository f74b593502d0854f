// Bounded concurrency for expensive work (Argon2id commitments, actor-document fetches): at most
// `concurrency` jobs run, at most `queue` wait, and anything beyond is refused at once with
// DirectoryError("overloaded") (HTTP 503 + Retry-After) instead of piling up memory.
import { DirectoryError } from "./errors";

export interface WorkLimiterOptions {
  concurrency: number;
  queue: number;
  /** Seconds a refused client is told to wait (Retry-After). */
  retryAfterSeconds?: number;
}

export class WorkLimiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly options: WorkLimiterOptions) {
    if (!(options.concurrency >= 1) || !(options.queue >= 0)) throw new RangeError("concurrency >= 1 and queue >= 0");
  }

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Throws `overloaded` now if a job would be refused: lets callers shed load before preparing a job. */
  assertCapacity(): void {
    if (this.active >= this.options.concurrency && this.waiting.length >= this.options.queue) {
      throw new DirectoryError("overloaded", "the directory is busy; retry later", this.options.retryAfterSeconds ?? 1);
    }
  }

  /** Runs `job` when a slot is free; throws `overloaded` without running it when the queue is full. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.active >= this.options.concurrency) {
      if (this.waiting.length >= this.options.queue) {
        throw new DirectoryError("overloaded", "the directory is busy; retry later", this.options.retryAfterSeconds ?? 1);
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await job();
    } finally {
      // Hand the slot straight to the next waiter so `active` never dips and lets a newcomer jump the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
