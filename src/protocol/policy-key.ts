/**
 * A policy's on-chain name. Policy ids are namespaced by their creator (the account that sends
 * PolicyManager.createPolicy): the policy created by `creator` under its `id` is known everywhere
 * else — contract calls, kfrag commitment leaves, kfrag uploads, stamps, receipts, evidence — by
 * `policyKey(creator, id)` = the first 16 bytes of keccak256(abi.encode(creator, id)), exactly as
 * PolicyManager.policyKey computes it. A front-runner copying a pending createPolicy gets its own key.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

function hexBytes(hex: string, length: number, what: string): Uint8Array {
  const body = hex.startsWith("0x") ? hex.slice(2) : hex;
  if (body.length !== length * 2 || !/^[0-9a-fA-F]*$/.test(body)) throw new Error(`${what} must be ${length} hex bytes`);
  return Uint8Array.from(Buffer.from(body, "hex"));
}

/** policyKey(creator, id) as bytes: abi.encode pads the address on the left, the bytes16 on the right. */
export function policyKeyBytes(creator: string, id: Uint8Array | string): Uint8Array {
  const idBytes = typeof id === "string" ? hexBytes(id, 16, "policy id") : id;
  if (idBytes.length !== 16) throw new Error("policy id must be 16 bytes");
  const encoded = new Uint8Array(64);
  encoded.set(hexBytes(creator, 20, "creator"), 12);
  encoded.set(idBytes, 32);
  return keccak_256(encoded).slice(0, 16);
}

/** policyKey(creator, id) as 0x-prefixed hex. */
export function policyKey(creator: string, id: Uint8Array | string): string {
  return "0x" + Buffer.from(policyKeyBytes(creator, id)).toString("hex");
}
