// Signed tree heads: the directory's Ed25519 statement "my log had `tree-size` leaves and this root".
import { ed25519 } from "@noble/curves/ed25519.js";
import { decodeMerkleRoot, decodePublicKey, encodePublicKey, fromB64url, toB64url } from "./encoding";
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

export function signTreeHead(directory: string, size: number, root: string, secretKey: Uint8Array): SignedTreeHead {
  const time = new Date().toISOString();
  const signature = ed25519.sign(treeHeadPayload(directory, size, root, time), secretKey);
  return {
    directory,
    "tree-size": size,
    root,
    time,
    "public-key": encodePublicKey(ed25519.getPublicKey(secretKey)),
    signature: toB64url(signature),
  };
}

/** True when `head` is well formed and signed by `publicKey` (not by whatever key it names). */
export function verifyTreeHead(head: SignedTreeHead, publicKey: Uint8Array): boolean {
  if (!Number.isSafeInteger(head["tree-size"]) || head["tree-size"] < 0) return false;
  if (!decodeMerkleRoot(head.root)) return false;
  const named = decodePublicKey(head["public-key"]);
  const sig = fromB64url(head.signature);
  if (!named || !sig || sig.length !== 64) return false;
  if (Buffer.compare(Buffer.from(named), Buffer.from(publicKey)) !== 0) return false;
  try {
    return ed25519.verify(sig, treeHeadPayload(head.directory, head["tree-size"], head.root, head.time), publicKey);
  } catch {
    return false;
  }
}
