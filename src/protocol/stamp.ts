// The node's stamp over a cfrag: the ONE definition shared by the node agent (which signs it,
// src/node/reencrypt-worker.ts), the client (which checks it and saves it as evidence,
// src/client/evidence.ts) and the on-chain Adjudicator (contracts/Adjudicator.sol, which rebuilds
// the same bytes from calldata). Dependency-free so every side imports it as is.
//
// Stamp = ECDSA/secp256k1 by the node's registered Umbral verifying key (StakingEscrow
// registerNode `verifyingKey`), over SHA-256 of this fixed 640-byte message:
//
//   offset  len  field
//        0   19  "NKMS-CFRAG-STAMP-V1"          domain tag (the stamp key signs nothing else in this form)
//       19   20  staker address                 the node's identity in policies and in the escrow
//       39   16  policyId                       bytes16, as in PolicyManager
//       55   33  delegatingKey (pk_A)           \
//       88   33  receivingKey  (pk_B)            } the keys the node verified the kfrag with at upload
//      121   33  verifyingKey  (publisher's)    /
//      154  105  Capsule.toBytes()              MessagePack form
//      259  381  CapsuleFrag.toBytes()          MessagePack form, exactly as returned
//
// Because the keys are stamped, the node answers for the kfrag signature its cfrag carries: a
// cfrag whose `signature_for_receiver` does not verify under the stamped keys is as incorrect
// (and as slashable) as one whose re-encryption proof fails. 64-byte r‖s; high-S is accepted on
// every side (Umbral and ecrecover both accept it).

export const CFRAG_STAMP_DOMAIN = new TextEncoder().encode("NKMS-CFRAG-STAMP-V1");
export const CFRAG_STAMP_MESSAGE_LENGTH = 640;
export const STAMP_CAPSULE_LENGTH = 105;
export const STAMP_CFRAG_LENGTH = 381;

/** Everything a stamp binds besides the capsule and the cfrag. */
export interface CFragStampContext {
  /** The node's staker address, 0x-prefixed. */
  staker: string;
  /** The policy id, 16 bytes. */
  policyId: Uint8Array;
  /** Compressed (33-byte) keys the kfrag was verified with: pk_A, pk_B and the kfrag signer's key. */
  delegatingKey: Uint8Array;
  receivingKey: Uint8Array;
  verifyingKey: Uint8Array;
}

export class StampFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StampFormatError";
  }
}

/** The exact bytes whose SHA-256 the node's stamp signs (see the table above). */
export function cfragStampMessage(ctx: CFragStampContext, capsule: Uint8Array, cfrag: Uint8Array): Uint8Array {
  if (!/^0x[0-9a-fA-F]{40}$/.test(ctx.staker)) throw new StampFormatError("staker must be a 0x-prefixed address");
  const fields: [string, Uint8Array, number][] = [
    ["policyId", ctx.policyId, 16],
    ["delegatingKey", ctx.delegatingKey, 33],
    ["receivingKey", ctx.receivingKey, 33],
    ["verifyingKey", ctx.verifyingKey, 33],
    ["capsule", capsule, STAMP_CAPSULE_LENGTH],
    ["cfrag", cfrag, STAMP_CFRAG_LENGTH],
  ];
  for (const [name, value, length] of fields) {
    if (value.length !== length) throw new StampFormatError(`${name} must be ${length} bytes, got ${value.length}`);
  }
  const out = new Uint8Array(CFRAG_STAMP_MESSAGE_LENGTH);
  out.set(CFRAG_STAMP_DOMAIN, 0);
  out.set(Buffer.from(ctx.staker.slice(2), "hex"), 19);
  let at = 39;
  for (const [, value] of fields) {
    out.set(value, at);
    at += value.length;
  }
  return out;
}
