import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { NodeError } from "./errors";
import type { CFragStampContext } from "../protocol/stamp";

/** What a stamp binds besides the policy id, capsule and cfrag (see src/protocol/stamp.ts). */
export type StampKeys = Omit<CFragStampContext, "policyId">;

export interface WorkerInit {
  stampSecret: Uint8Array;
}

export interface WorkerTask {
  id: number;
  policyKey: string;
  policyId: Uint8Array;
  kfrag: Uint8Array;
  stampKeys: StampKeys;
  capsules: Uint8Array[];
  /** Index of capsules[0] within the request, for error messages. */
  offset: number;
}

export type WorkerResult =
  | { id: number; ok: true; cfrags: Uint8Array[]; signature: Uint8Array; proofs: Uint8Array[][] }
  | { id: number; ok: false; code: string; message: string };

export interface ReencryptJob {
  policyId: Uint8Array;
  kfrag: Uint8Array;
  /** The staker and the keys the kfrag was verified with at upload; every stamp covers them. */
  stampKeys: StampKeys;
  capsules: Uint8Array[];
}

/** A job's answer, per capsule in request order. */
export interface StampedBatch {
  cfrags: Uint8Array[];
  /** The stamp over the root of the sub-batch cfrags[i] was stamped in. */
  signatures: Uint8Array[];
  /** cfrags[i]'s stamp proof up to that root. */
  proofs: Uint8Array[][];
}

export interface PoolOptions {
  size?: number;
  /** Capsules waiting (not yet running) beyond which new jobs are refused with 503. */
  maxQueuedCapsules?: number;
}

interface Pending {
  resolve: (r: WorkerResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  /** Tasks posted to the worker, oldest first; a worker answers its messages in order. */
  pending: Pending[];
}

/**
 * Tasks kept posted per worker. With one, a worker that finishes idles until the event loop gets
 * round to its answer and posts the next task — under load that is often behind HTTP parsing; a
 * second task already waiting in the worker's message port keeps it busy meanwhile.
 */
const TASKS_PER_WORKER = 2;

interface Queued {
  task: WorkerTask;
  resolve: (r: WorkerResult) => void;
  reject: (e: Error) => void;
}

/** Starts a worker for the TypeScript source (dev, tests, tsx) or the compiled JavaScript. */
function spawn(init: WorkerInit): Worker {
  if (__filename.endsWith(".ts")) {
    const entry = join(__dirname, "reencrypt-worker.ts");
    const bootstrap = `require("tsx/cjs/api").register(); require(${JSON.stringify(entry)});`;
    return new Worker(bootstrap, { eval: true, workerData: init });
  }
  return new Worker(join(__dirname, "reencrypt-worker.js"), { workerData: init });
}

/**
 * A fixed pool of re-encryption workers (one per core by default) with a bounded queue. A job's
 * capsules are split across idle workers so a single large batch still uses every core.
 */
export class ReencryptPool {
  readonly size: number;
  private readonly maxQueuedCapsules: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Queued[] = [];
  private queuedCapsules = 0;
  private nextId = 1;
  private closed = false;
  completed = 0;

  constructor(init: WorkerInit, options: PoolOptions = {}) {
    this.size = Math.max(1, options.size ?? availableParallelism());
    this.maxQueuedCapsules = options.maxQueuedCapsules ?? 2048;
    for (let i = 0; i < this.size; i++) this.slots.push(this.startSlot(init));
  }

  private startSlot(init: WorkerInit): Slot {
    const slot: Slot = { worker: spawn(init), pending: [] };
    slot.worker.on("message", (result: WorkerResult) => {
      slot.pending.shift()?.resolve(result);
      this.pump();
    });
    slot.worker.on("error", (err) => {
      for (const pending of slot.pending.splice(0)) pending.reject(err);
      if (!this.closed) {
        // Replace a crashed worker so the pool keeps its size.
        const fresh = this.startSlot(init);
        this.slots[this.slots.indexOf(slot)] = fresh;
        this.pump();
      }
    });
    slot.worker.unref();
    return slot;
  }

  get queueDepth(): number {
    return this.queuedCapsules;
  }

  private pump(): void {
    // Fill every worker's first place before any second one, so work spreads over all cores.
    for (let depth = 1; depth <= TASKS_PER_WORKER; depth++) {
      for (const slot of this.slots) {
        if (slot.pending.length >= depth) continue;
        const next = this.queue.shift();
        if (!next) break;
        this.queuedCapsules -= next.task.capsules.length;
        slot.pending.push({ resolve: next.resolve, reject: next.reject });
        slot.worker.ref();
        slot.worker.postMessage(next.task);
      }
    }
    if (this.slots.every((s) => s.pending.length === 0)) for (const s of this.slots) s.worker.unref();
  }

  /**
   * Re-encrypts every capsule; resolves to cfrag bytes, stamp signatures and stamp proofs in
   * request order. Each worker task stamps its own sub-batch (one signature over its root), so
   * signatures[i] is shared by the cfrags of one sub-batch.
   */
  async run(job: ReencryptJob): Promise<StampedBatch> {
    if (this.closed) throw new NodeError(503, "SHUTTING_DOWN", "node is shutting down", 1);
    if (this.queuedCapsules + job.capsules.length > this.maxQueuedCapsules) {
      throw new NodeError(503, "OVERLOADED", "re-encryption queue is full", 1);
    }
    const idle = this.slots.filter((s) => s.pending.length === 0).length;
    const parts = Math.max(1, Math.min(job.capsules.length, idle));
    const chunk = Math.ceil(job.capsules.length / parts);
    const policyKey = Buffer.from(job.policyId).toString("hex");
    const promises: Promise<WorkerResult>[] = [];
    for (let offset = 0; offset < job.capsules.length; offset += chunk) {
      const task: WorkerTask = {
        id: this.nextId++,
        policyKey,
        policyId: job.policyId,
        kfrag: job.kfrag,
        stampKeys: job.stampKeys,
        capsules: job.capsules.slice(offset, offset + chunk),
        offset,
      };
      promises.push(
        new Promise<WorkerResult>((resolve, reject) => {
          this.queue.push({ task, resolve, reject });
          this.queuedCapsules += task.capsules.length;
        }),
      );
    }
    this.pump();
    const results = await Promise.all(promises);
    const batch: StampedBatch = { cfrags: [], signatures: [], proofs: [] };
    for (const r of results) {
      if (!r.ok) throw new NodeError(r.code === "BAD_CAPSULE" ? 400 : 500, r.code, r.message);
      batch.cfrags.push(...r.cfrags);
      for (const _ of r.cfrags) batch.signatures.push(r.signature);
      batch.proofs.push(...r.proofs);
    }
    this.completed += batch.cfrags.length;
    return batch;
  }

  /**
   * Drops every queued (not yet running) task of the policy, rejecting its job with `error`; a
   * task already in a worker finishes, and the caller must not send its answer. Returns the
   * number of tasks dropped.
   */
  cancel(policyId: Uint8Array, error: Error): number {
    const key = Buffer.from(policyId).toString("hex");
    let dropped = 0;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const q = this.queue[i];
      if (q.task.policyKey !== key) continue;
      this.queue.splice(i, 1);
      this.queuedCapsules -= q.task.capsules.length;
      q.reject(error);
      dropped++;
    }
    return dropped;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.splice(0)) q.reject(new NodeError(503, "SHUTTING_DOWN", "node is shutting down", 1));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
