// Signed tree heads: the directory's ML-DSA-44 statement "my log had `tree-size` leaves and this root".
import { decodeMerkleRoot, decodePublicKey, encodePublicKey, fromB64url, toB64url } from "./encoding";
import { MlDsaKeyPair, mlDsaSign, mlDsaVerify } from "./mldsa";
import { pae } from "./pae";

export interface SignedTreeHead {
  directory: string;
  "tree-size": number;
  root: string;
  time: string;
  "public-key": string;
  signature: string;
}

function treeHeadPayload(directory: string, size: number, root: string, time: string): Uint8Array {
  return pae(["FediPKD1-TreeHead", directory, String(size), root, time]);
}

/** `key` is the directory's ML-DSA-44 key pair (log-entry.ts directoryKeyPair). About 3 ms: callers cache. */
export function signTreeHead(directory: string, size: number, root: string, key: MlDsaKeyPair): SignedTreeHead {
  const time = new Date().toISOString();
  return treeHeadOf(directory, size, root, time, key.publicKey, mlDsaSign(treeHeadPayload(directory, size, root, time), key));
}

/** signTreeHead with the signing done by `sign` (e.g. on a worker thread). */
export async function signTreeHeadWith(
  directory: string,
  size: number,
  root: string,
  publicKey: Uint8Array,
  sign: (payload: Uint8Array) => Promise<Uint8Array>,
): Promise<SignedTreeHead> {
  const time = new Date().toISOString();
  return treeHeadOf(directory, size, root, time, publicKey, await sign(treeHeadPayload(directory, size, root, time)));
}

function treeHeadOf(directory: string, size: number, root: string, time: string, publicKey: Uint8Array, signature: Uint8Array): SignedTreeHead {
  return {
    directory,
    "tree-size": size,
    root,
    time,
    "public-key": encodePublicKey(publicKey),
    signature: toB64url(signature),
  };
}

/** True when `head` is well formed and signed by `publicKey` (not by whatever key it names). */
export function verifyTreeHead(head: SignedTreeHead, publicKey: Uint8Array): boolean {
  if (!Number.isSafeInteger(head["tree-size"]) || head["tree-size"] < 0) return false;
  if (!decodeMerkleRoot(head.root)) return false;
  const named = decodePublicKey(head["public-key"]);
  const sig = fromB64url(head.signature);
  if (!named || !sig) return false;
  if (Buffer.compare(Buffer.from(named), Buffer.from(publicKey)) !== 0) return false;
  return mlDsaVerify(sig, treeHeadPayload(head.directory, head["tree-size"], head.root, head.time), publicKey);
}
