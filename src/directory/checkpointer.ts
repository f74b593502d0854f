// Periodically publishes the directory's (tree size, root) to DirectoryCheckpoint, with the
// consistency proof from the previous on-chain checkpoint that the contract verifies.
import { CheckpointContract, readLatestCheckpoint } from "./checkpoint-contract";
import type { Directory } from "./directory";
import { bytesEqual } from "./merkle";

export interface CheckpointerOptions {
  directory: Directory;
  contract: CheckpointContract;
  /** Default one minute. */
  intervalMs?: number;
  onError?: (err: unknown) => void;
  onCheckpoint?: (checkpoint: { treeSize: number; root: Uint8Array }) => void;
}

export class CheckpointDivergenceError extends Error {
  constructor(readonly treeSize: number) {
    super(`the on-chain root at size ${treeSize} is not this directory's root at that size`);
    this.name = "CheckpointDivergenceError";
  }
}

export class Checkpointer {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(private readonly options: CheckpointerOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs ?? 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    try {
      await this.publish();
    } catch (err) {
      this.options.onError?.(err);
    }
  }

  /** Checkpoints the current tree if it grew; returns what was published, or null. Serialised. */
  async publish(): Promise<{ treeSize: number; root: Uint8Array } | null> {
    while (this.running) await this.running.catch(() => undefined);
    const run = this.publishOnce();
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = undefined;
    }
  }

  private async publishOnce(): Promise<{ treeSize: number; root: Uint8Array } | null> {
    const { directory, contract } = this.options;
    const onChain = await readLatestCheckpoint(contract);
    const size = await directory.log.size();
    if (size <= onChain.treeSize) return null;
    if (onChain.treeSize > 0 && !bytesEqual(await directory.log.rootAt(onChain.treeSize), onChain.root)) {
      throw new CheckpointDivergenceError(onChain.treeSize);
    }
    const root = await directory.log.rootAt(size);
    const proof = onChain.treeSize === 0 ? [] : await directory.log.consistencyProof(onChain.treeSize, size);
    const tx = await contract.checkpoint(size, root, proof);
    await tx.wait();
    const published = { treeSize: size, root };
    this.options.onCheckpoint?.(published);
    return published;
  }
}
