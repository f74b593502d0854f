// A fixed pool of worker threads for Argon2id commitments (one per core by default), so the
// server verifies commitments on every core and its event loop stays free for reads. Bounding the
// number of commitments waiting is the WorkLimiter's job; this pool only spreads them. The same
// workers sign with the directory's ML-DSA-44 key (log entries, tree heads: 3-16 ms each), so
// that signing does not hold the event loop either.
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { CommitmentInput } from "./attribute-encryption";

/** What a worker is asked to do (commitment-worker.ts). */
export type WorkerTask =
  | ({ kind: "commitment" } & CommitmentInput)
  | { kind: "sign"; message: Uint8Array; seed: Uint8Array; deterministic: boolean };

interface Pending {
  resolve: (result: Uint8Array) => void;
  reject: (e: Error) => void;
}

/** Starts a worker for the TypeScript source (dev, tests, tsx) or the compiled JavaScript. */
function spawn(): Worker {
  if (__filename.endsWith(".ts")) {
    const entry = join(__dirname, "commitment-worker.ts");
    return new Worker(`require("tsx/cjs/api").register(); require(${JSON.stringify(entry)});`, { eval: true });
  }
  return new Worker(join(__dirname, "commitment-worker.js"));
}

export class CommitmentPool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(readonly size: number = Math.max(1, availableParallelism())) {
    for (let i = 0; i < size; i++) {
      const w = spawn();
      // Idle workers must not keep a process alive (tests, CLI commands that open a directory).
      w.unref();
      w.on("message", (m: { id: number; ok: boolean; result?: Uint8Array; message?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        this.load[i]--;
        if (this.pending.size === 0) w.unref();
        if (m.ok) p.resolve(new Uint8Array(m.result!));
        else p.reject(new Error(m.message));
      });
      w.on("error", (err) => {
        for (const [id, p] of this.pending) {
          p.reject(err);
          this.pending.delete(id);
        }
      });
      this.workers.push(w);
      this.load.push(0);
    }
  }

  /** Q for `input`, computed on the least loaded worker. */
  compute(input: CommitmentInput): Promise<Uint8Array> {
    return this.run({ kind: "commitment", ...input });
  }

  /** ML-DSA-44 signature of `message` with the key of `seed` (deterministic: FIPS 204's variant), on the least loaded worker. */
  sign(message: Uint8Array, seed: Uint8Array, deterministic: boolean): Promise<Uint8Array> {
    return this.run({ kind: "sign", message, seed, deterministic });
  }

  private run(task: WorkerTask): Promise<Uint8Array> {
    let best = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.load[i] < this.load[best]) best = i;
    const id = this.nextId++;
    this.load[best]++;
    const w = this.workers[best];
    // A worker with work in flight keeps the process alive until it answers.
    w.ref();
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, ...task });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
