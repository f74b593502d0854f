// Write requests take turns on the event loop, one per loop iteration, so reads are not stuck
// behind a burst of them.
//
// Why (measured on issue #17's burst of 500 validly signed submissions): libuv hands the server
// hundreds of ready sockets in one poll phase, and Node ran each request's synchronous work (body
// JSON, the instance's Ed25519 signature, parsing, answering 503) inside that phase, then each
// one's continuation in the next check phase: the event loop was blocked 200-500 ms in one turn,
// with hash-wasm and with native Argon2id alike, and a tree-head read arriving meanwhile waited
// for all of it. Argon2id ran on worker threads either way; the native hash only made the burst
// shorter, so fewer fast reads were left to push that stalled read out of the p99.
//
// A TurnQueue releases its waiters one per `setImmediate`, i.e. one per loop iteration: between
// two writes the loop goes back to its poll phase and serves the reads that arrived. Work already
// admitted (`"continue"`: after the instance's key is known, after Argon2id) goes before new
// submissions (`"start"`). At most `maxWaiting` new submissions wait; beyond that they are
// refused with 503 + Retry-After (`full`, `assertRoom`), by the server before their body is read.
import { DirectoryError } from "./errors";

export type TurnKind = "start" | "continue";

export interface TurnQueueOptions {
  /**
   * New submissions allowed to wait for a turn; beyond, `overloaded` (503). Default 64: several
   * times the commitment stage's 2 + 16, which is what actually bounds the expensive work.
   */
  maxWaiting?: number;
  /** Seconds a refused client is told to wait (Retry-After). Default 1. */
  retryAfterSeconds?: number;
}

export class TurnQueue {
  private readonly starts: Array<() => void> = [];
  private readonly continues: Array<() => void> = [];
  private scheduled = false;
  private readonly maxWaiting: number;
  private readonly retryAfterSeconds: number;

  constructor(options: TurnQueueOptions = {}) {
    this.maxWaiting = options.maxWaiting ?? 64;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
    if (!(this.maxWaiting >= 1)) throw new RangeError("maxWaiting >= 1");
  }

  /** Waiters of both kinds. */
  get waiting(): number {
    return this.starts.length + this.continues.length;
  }

  /** Whether a new submission would be refused now. */
  get full(): boolean {
    return this.starts.length >= this.maxWaiting;
  }

  /** Seconds a refused client is told to wait. */
  get retryAfter(): number {
    return this.retryAfterSeconds;
  }

  /** Throws `overloaded` if a new submission would be refused: lets the HTTP layer shed it before reading its body. */
  assertRoom(): void {
    if (this.full) throw new DirectoryError("overloaded", "the directory is busy; retry later", this.retryAfterSeconds);
  }

  /**
   * Resolves in a loop iteration of its own (never in the caller's). A `"start"` throws
   * `overloaded` when `maxWaiting` already wait; a `"continue"` always waits (it was admitted, and
   * may have paid for Argon2id already).
   */
  turn(kind: TurnKind = "start"): Promise<void> {
    if (kind === "start") this.assertRoom();
    return new Promise<void>((resolve) => {
      (kind === "continue" ? this.continues : this.starts).push(resolve);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.release);
  }

  private readonly release = (): void => {
    this.scheduled = false;
    const next = this.continues.shift() ?? this.starts.shift();
    // The waiter's continuation runs in this callback's microtask drain, up to its next real
    // asynchronous step (a worker thread, the database, the network); the next waiter gets the
    // next loop iteration.
    next?.();
    if (this.waiting > 0) this.schedule();
  };
}
