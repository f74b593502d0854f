import type { NodeStore } from "./store";

/**
 * Request nonces already used, kept durably so a signed request replayed after a restart is still
 * refused. A nonce is only needed while its request's timestamp is inside the accepted clock window
 * (`expires` = timestamp + max skew); past that, the request is refused as stale anyway.
 *
 * Claims are checked synchronously (this process's map, then the database for earlier runs);
 * writes are batched: every claim made in one turn of the event loop is committed in one
 * transaction, and a request's answer waits for `durable()` so no answer leaves before its nonce is
 * on disk — without an fsync per request.
 */
export class NonceLedger {
  private readonly recent = new Map<string, number>();
  private pending: { key: string; expires: number }[] = [];
  private batch?: Promise<void>;

  constructor(private readonly store: NodeStore) {}

  /** Records `key` as used until `expires`; false when it was already used (a replay). */
  claim(key: string, expires: number, now: number): boolean {
    const known = this.recent.get(key);
    if (known !== undefined && known >= now) return false;
    if (this.store.nonceUsed(key, now)) return false;
    this.recent.set(key, expires);
    this.pending.push({ key, expires });
    return true;
  }

  /** Resolves once every claim made so far is committed to the store. */
  durable(): Promise<void> {
    this.batch ??= new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        const entries = this.pending;
        this.pending = [];
        this.batch = undefined;
        try {
          this.store.addNonces(entries);
          resolve();
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      }),
    );
    return this.batch;
  }

  /** Forgets nonces whose window closed before `now`, in memory and on disk. */
  sweep(now: number): void {
    for (const [k, expiry] of this.recent) if (expiry < now) this.recent.delete(k);
    this.store.purgeNonces(now);
  }
}
