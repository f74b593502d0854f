/**
 * Coalesces concurrent look-ups of the same key into one call, with a freshness guarantee: a
 * caller only shares a call that was issued after it asked. So a request that arrives after an
 * on-chain revocation is never answered from a look-up made before it — while 64 concurrent
 * requests for one policy still cost about two RPC round trips instead of 64.
 */
export class FreshCoalescer<T> {
  private readonly inFlight = new Map<string, Promise<T>>();
  private readonly next = new Map<string, Promise<T>>();

  constructor(private readonly fetch: (key: string) => Promise<T>) {}

  get(key: string): Promise<T> {
    const waiting = this.next.get(key);
    if (waiting) return waiting;
    const running = this.inFlight.get(key);
    if (!running) return this.start(key);
    // A call is already on the wire and may predate us: queue for the one after it.
    const after = running.then(
      () => this.startQueued(key),
      () => this.startQueued(key),
    );
    this.next.set(key, after);
    return after;
  }

  private startQueued(key: string): Promise<T> {
    this.next.delete(key);
    return this.start(key);
  }

  private start(key: string): Promise<T> {
    const p = this.fetch(key).finally(() => {
      if (this.inFlight.get(key) === p) this.inFlight.delete(key);
    });
    this.inFlight.set(key, p);
    return p;
  }
}
