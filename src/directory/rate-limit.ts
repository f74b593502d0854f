// The specification's "Rate-Limiting Bad Requests": a table of misbehaving clients (by IP address
// and by instance) with exponential back-off. Each rejected request doubles the time the client
// must leave between requests, starting at `basePenaltyMs`; after twice the penalty passes without
// a new failure the counter drops by one, and at zero the entry is forgotten. A request inside its
// penalty is refused with 429 and Retry-After before its body is even read.
import { DirectoryError } from "./errors";

export interface RateLimitOptions {
  /** First penalty (ms); the spec's default is 100. 0 disables rate limiting. */
  basePenaltyMs?: number;
  /** Longest penalty (ms); the spec allows but does not require a maximum. Default 10 minutes. */
  maxPenaltyMs?: number;
  /** Entries kept at most; the oldest is dropped beyond (bounded memory under address floods). */
  maxEntries?: number;
}

interface Entry {
  count: number;
  last: number;
}

export class BadRequestTable {
  private readonly entries = new Map<string, Entry>();
  private readonly base: number;
  private readonly max: number;
  private readonly maxEntries: number;

  constructor(options: RateLimitOptions = {}) {
    this.base = options.basePenaltyMs ?? 100;
    this.max = options.maxPenaltyMs ?? 600_000;
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  get enabled(): boolean {
    return this.base > 0;
  }

  private penalty(count: number): number {
    // 2^(count-1) · base, without overflowing for large counts.
    return Math.min(this.max, this.base * 2 ** Math.min(count - 1, 40));
  }

  /** The entry after its decay: one count less per two penalties elapsed since the last failure. */
  private current(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    while (e.count > 0 && now - e.last >= 2 * this.penalty(e.count)) {
      e.last += 2 * this.penalty(e.count);
      e.count--;
    }
    if (e.count === 0) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** Throws `rate_limited` (429, Retry-After) if any of `keys` is still inside its penalty. */
  check(keys: readonly string[], now: number = Date.now()): void {
    if (!this.enabled) return;
    for (const key of keys) {
      const e = this.current(key, now);
      if (!e) continue;
      const until = e.last + this.penalty(e.count);
      if (now < until) {
        throw new DirectoryError("rate_limited", "too many rejected requests; slow down", Math.ceil((until - now) / 1000));
      }
    }
  }

  /** Records one rejected request for each key. */
  penalize(keys: readonly string[], now: number = Date.now()): void {
    if (!this.enabled) return;
    for (const key of keys) {
      const e = this.current(key, now);
      if (e) {
        e.count++;
        e.last = now;
        // Re-insert so Map order stays oldest-first for eviction.
        this.entries.delete(key);
        this.entries.set(key, e);
      } else {
        if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
        this.entries.set(key, { count: 1, last: now });
      }
    }
  }

  /** Unix time (s) at which `key` may send again, for X-RateLimit-Reset; 0 when not limited. */
  resetAt(key: string, now: number = Date.now()): number {
    const e = this.current(key, now);
    return e ? Math.ceil((e.last + this.penalty(e.count)) / 1000) : 0;
  }
}
