// Worker thread of the CommitmentPool: computes Argon2id plaintext commitments off the event loop,
// synchronously on this thread (native, ~11 ms a call): as many run at once as the pool has
// workers, at this thread's lowered priority, and libuv's shared thread pool is not used.
import fs from "node:fs";
import os from "node:os";
import { parentPort } from "node:worker_threads";
import { argon2CommitmentSync } from "./attribute-encryption";

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

interface Task {
  id: number;
  root: Uint8Array;
  name: Uint8Array;
  plaintext: Uint8Array;
  salt: Uint8Array;
}

parentPort!.on("message", (task: Task) => {
  try {
    const q = argon2CommitmentSync(task.root, task.name, task.plaintext, task.salt);
    parentPort!.postMessage({ id: task.id, ok: true, q });
  } catch (err) {
    parentPort!.postMessage({ id: task.id, ok: false, message: String(err) });
  }
});
