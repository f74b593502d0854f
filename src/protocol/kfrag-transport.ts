// How a kfrag travels to its node: encrypted to the node's registered Umbral encrypting key
// (StakingEscrow nodeInfo `encryptingKey`) with the project's own Umbral encrypt (capsule + DEM
// ciphertext), opened by the node with decryptOriginal and its `encryptingSecret`. Pure (no key
// material is kept), shared by the client, the health checkers' probe and the agent.
//
// Why: an owner always knows every kfrag, so a revealed kfrag is only evidence of a leak if nobody
// else could have seen it. In clear JSON over plain http://, anyone on the path could "prove a leak"
// (issue #14); sealed, only the node's encrypting secret opens it.

import { Capsule, decryptOriginal, encrypt, type PublicKey, type SecretKey } from "../umbral";

/** A kfrag sealed to one node: the Umbral capsule and the DEM ciphertext (which authenticates the capsule too). */
export interface SealedKFrag {
  capsule: Uint8Array;
  ciphertext: Uint8Array;
}

export class KFragTransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KFragTransportError";
  }
}

/** Encrypts `kfrag` (its bytes) to the node's encrypting key. */
export function sealKFrag(nodeEncryptingKey: PublicKey, kfrag: Uint8Array): SealedKFrag {
  const [capsule, ciphertext] = encrypt(nodeEncryptingKey, kfrag);
  return { capsule: capsule.toBytes(), ciphertext };
}

/**
 * Opens a sealed kfrag with the node's encrypting secret. Throws KFragTransportError when the
 * capsule does not parse or the ciphertext does not authenticate under this key (sealed to another
 * key, or tampered with).
 */
export function openKFrag(nodeEncryptingSecret: SecretKey, sealed: SealedKFrag): Uint8Array {
  let capsule: Capsule;
  try {
    capsule = Capsule.fromBytes(sealed.capsule);
  } catch (e) {
    throw new KFragTransportError(`capsule does not parse: ${(e as Error).message}`);
  }
  try {
    return decryptOriginal(nodeEncryptingSecret, capsule, sealed.ciphertext);
  } catch {
    throw new KFragTransportError("the sealed kfrag does not open with this node's encrypting key (sealed to another key, or altered)");
  }
}
