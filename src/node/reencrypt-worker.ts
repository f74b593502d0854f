import { parentPort, workerData } from "node:worker_threads";
import { KeyFrag, SecretKey, Signer, VerifiedKeyFrag } from "../umbral";
import { reencryptAndStamp } from "./reencrypt-task";
import type { WorkerInit, WorkerResult, WorkerTask } from "./worker-pool";

// Runs in a worker thread: parses capsules, re-encrypts them under a kfrag the node verified at
// upload time, and stamps every cfrag. Keeping all elliptic-curve work here leaves the event
// loop free for HTTP, SQLite and chain checks.

const init = workerData as WorkerInit;
const stamp = new Signer(SecretKey.fromBEBytes(init.stampSecret));

// Parsed kfrags by policy: decompressing the kfrag's points costs more than a cache lookup.
const kfragCache = new Map<string, { bytes: Uint8Array; kfrag: VerifiedKeyFrag }>();
const KFRAG_CACHE_SIZE = 256;

function verifiedKFrag(policyKey: string, bytes: Uint8Array): VerifiedKeyFrag {
  const hit = kfragCache.get(policyKey);
  if (hit && Buffer.compare(hit.bytes, bytes) === 0) return hit.kfrag;
  // Verified against the publisher's key and the on-chain commitment before it was stored.
  const kfrag = KeyFrag.fromBytes(bytes).skipVerification();
  if (kfragCache.size >= KFRAG_CACHE_SIZE) kfragCache.delete(kfragCache.keys().next().value as string);
  kfragCache.set(policyKey, { bytes, kfrag });
  return kfrag;
}

function run(task: WorkerTask): WorkerResult {
  const kfrag = verifiedKFrag(task.policyKey, task.kfrag);
  const context = { ...task.stampKeys, policyId: task.policyId };
  return { id: task.id, ...reencryptAndStamp(kfrag, stamp, context, task.capsules, task.offset) };
}

parentPort!.on("message", (task: WorkerTask) => {
  let result: WorkerResult;
  try {
    result = run(task);
  } catch (e) {
    result = { id: task.id, ok: false, code: "REENCRYPT_FAILED", message: (e as Error).message };
  }
  parentPort!.postMessage(result);
});
