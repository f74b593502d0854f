// Bench worker: signs leaf hashes with ML-DSA-44 (@noble/post-quantum), one request at a time.
import { parentPort, workerData } from "node:worker_threads";
import { ml_dsa44 } from "@noble/post-quantum/ml-dsa.js";

const secretKey = new Uint8Array(workerData.secretKey as Uint8Array);
parentPort!.on("message", (m: { id: number; msg: Uint8Array }) => {
  parentPort!.postMessage({ id: m.id, sig: ml_dsa44.sign(new Uint8Array(m.msg), secretKey) });
});
