// A budget for the costly unauthenticated reads (history pages, key listings with their proofs,
// entry bundles): each costs the event loop milliseconds where a tree head costs tens of
// microseconds, and reads need no signature, so a flood of them would hold up every other read.
// Costs are in rough milliseconds of event-loop work (measured at 2,048 leaves: a `since` page
// 21-22 ms, `api/history` 12 ms, an uncached entry bundle 13-24 ms, a 16-key listing 3 ms). Each
// client (by address) refills `perClient` a second and all clients together `global`; past
// either, the read is refused with 429 (this client) or 503 (everyone) and Retry-After.
import { DirectoryError } from "./errors";

export interface ReadBudgetOptions {
  /** Cost units (≈ ms) one client may spend a second; twice that as a burst. Default 150. */
  perClient?: number;
  /** Cost units all clients together may spend a second; twice that as a burst. Default 400. */
  global?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class ReadBudget {
  private readonly perClient: number;
  private readonly global: number;
  private readonly clients = new Map<string, Bucket>();
  private readonly all: Bucket;

  constructor(options: ReadBudgetOptions = {}) {
    this.perClient = options.perClient ?? 150;
    this.global = options.global ?? 400;
    this.all = { tokens: 2 * this.global, at: 0 };
  }

  /** Charges `cost` to `client` and to everyone, or throws rate_limited / overloaded (nothing charged). */
  take(client: string, cost: number, now: number = performance.now()): void {
    let mine = this.clients.get(client);
    if (!mine) {
      // Bounded memory under a spray of addresses: forget the oldest (a full bucket anyway, soon).
      if (this.clients.size >= 10_000) this.clients.delete(this.clients.keys().next().value as string);
      mine = { tokens: 2 * this.perClient, at: now };
      this.clients.set(client, mine);
    }
    refill(mine, this.perClient, now);
    refill(this.all, this.global, now);
    if (mine.tokens < cost) {
      throw new DirectoryError("rate_limited", "too many costly reads from this client; slow down", Math.ceil((cost - mine.tokens) / this.perClient));
    }
    if (this.all.tokens < cost) throw new DirectoryError("overloaded", "the directory is busy with costly reads; retry later", 1);
    mine.tokens -= cost;
    this.all.tokens -= cost;
  }
}

// Monotonic time (performance.now): a wall clock set back must not drain the buckets.
function refill(bucket: Bucket, perSecond: number, now: number): void {
  if (now <= bucket.at) return;
  bucket.tokens = Math.min(2 * perSecond, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
  bucket.at = now;
}
