// Worker thread of the CommitmentPool: computes Argon2id plaintext commitments off the event loop,
// synchronously on this thread (native, ~11 ms a call): as many run at once as the pool has
// workers, at this thread's lowered priority, and libuv's shared thread pool is not used. It also
// signs with the directory's ML-DSA-44 key (noble, 3-16 ms a signature).
import fs from "node:fs";
import os from "node:os";
import { parentPort } from "node:worker_threads";
import { argon2CommitmentSync } from "./attribute-encryption";
import type { WorkerTask } from "./commitment-pool";
import { MlDsaKeyPair, mlDsaKeyPair, mlDsaSign, warmUpJit } from "./mldsa";

/**
 * Lowers this thread's scheduling priority (Linux: setpriority on a thread id affects that thread
 * only), so when the cores are contended the event loop serving reads wins over Argon2id, while
 * idle cores still go to commitments. Elsewhere this is a no-op.
 */
function deprioritizeThisThread(): void {
  try {
    const tid = Number(fs.readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, 10);
  } catch {
    // not Linux, or not permitted: run at normal priority
  }
}
deprioritizeThisThread();

// Optimized signing code from the first signature on (see warmUpJit).
warmUpJit();

/** The key pair of the one seed the directory signs with, derived once (keygen is ~1 ms). */
let key: { seed: string; pair: MlDsaKeyPair } | undefined;
function keyPair(seed: Uint8Array): MlDsaKeyPair {
  const hex = Buffer.from(seed).toString("hex");
  if (key?.seed !== hex) key = { seed: hex, pair: mlDsaKeyPair(seed) };
  return key.pair;
}

parentPort!.on("message", (task: WorkerTask & { id: number }) => {
  try {
    const result =
      task.kind === "sign"
        ? mlDsaSign(task.message, keyPair(task.seed), task.deterministic)
        : argon2CommitmentSync(task.root, task.name, task.plaintext, task.salt);
    parentPort!.postMessage({ id: task.id, ok: true, result });
  } catch (err) {
    parentPort!.postMessage({ id: task.id, ok: false, message: String(err) });
  }
});
