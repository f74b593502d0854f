// A batch of genuine re-encryptions under one policy (one kfrag, many capsules), as one node
// request produces them; used by the stamp tests and the Adjudicator gas bench.
import * as umbral from "../../src/umbral";
import type { CFragStampContext } from "../../src/protocol/stamp";

export interface PolicyBatch {
  /** The policy's keys (delegating, receiving, publisher); staker and policy id are the caller's. */
  keys: Pick<CFragStampContext, "delegatingKey" | "receivingKey" | "verifyingKey">;
  kfrag: umbral.VerifiedKeyFrag;
  capsules: Uint8Array[];
  /** Correct cfrags of `capsules`, made with `kfrag`. */
  cfrags: Uint8Array[];
}

export function policyBatch(n: number): PolicyBatch {
  const alice = umbral.SecretKey.random();
  const bob = umbral.SecretKey.random();
  const publisher = new umbral.Signer(umbral.SecretKey.random());
  const [kfrag] = umbral.generateKFrags(alice, bob.publicKey(), publisher, 1, 1, true, true);
  const capsules: Uint8Array[] = [];
  const cfrags: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const [capsule] = umbral.encrypt(alice.publicKey(), new TextEncoder().encode(`capsule ${i}`));
    capsules.push(capsule.toBytes());
    cfrags.push(umbral.reencrypt(capsule, kfrag).toBytes());
  }
  return {
    keys: {
      delegatingKey: alice.publicKey().toCompressedBytes(),
      receivingKey: bob.publicKey().toCompressedBytes(),
      verifyingKey: publisher.verifyingKey().toCompressedBytes(),
    },
    kfrag,
    capsules,
    cfrags,
  };
}

/** `proof` with one sibling's byte flipped, one sibling dropped, or a random one added. */
export function tamperedProofs(proof: readonly Uint8Array[]): [string, Uint8Array[]][] {
  const changed = proof.map((p) => Uint8Array.from(p));
  changed[changed.length - 1][7] ^= 0x01;
  const extra = [...proof, Uint8Array.from({ length: 32 }, (_, i) => i + 1)];
  return [
    ["changed sibling", changed],
    ["dropped sibling", proof.slice(0, -1)],
    ["extra sibling", extra],
  ];
}
