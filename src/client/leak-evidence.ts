// Evidence of a leaked kfrag (issue #14): the kfrag bytes the policy's on-chain commitment binds to
// a node, the Merkle proof of that node's leaf, and the node's receipt for those bytes (what it
// signed with its stamp key when it accepted the upload, src/protocol/kfrag-receipt.ts). Without
// the receipt a revealed kfrag proves nothing against the node: the owner made every kfrag.
// The file is what `nkms:challenge-leak` reads; the salt of the commit–reveal (see
// contracts/adjudicator/LeakAdjudicator.sol) is made fresh by the challenger and never stored in
// the file, so a copy of the file does not let anyone reveal someone else's commitment.
import { keccak_256 } from "@noble/hashes/sha3.js";
import { AbiCoder } from "ethers";
import { lowSReceiptSignature } from "../protocol/kfrag-receipt-verify";

export const LEAK_EVIDENCE_FORMAT = "nkms.leak-evidence";
export const LEAK_EVIDENCE_VERSION = 2;
const KFRAG_LENGTH = 310;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export class LeakEvidenceError extends Error {
  constructor(
    readonly code: "BAD_JSON" | "BAD_FIELD",
    message: string,
  ) {
    super(message);
    this.name = "LeakEvidenceError";
  }
}

/** A node's receipt for a kfrag as the client stores it (src/protocol/kfrag-receipt.ts). */
export interface StoredKfragReceipt {
  /** The escrow period the receipt is dated with (uint32). */
  period: number;
  /** 0x-prefixed 64-byte r ‖ s by the node's stamp key over SHA-256 of the receipt message. */
  signature: string;
}

export interface LeakEvidence {
  /** The policy's creator (its on-chain owner), 0x-prefixed: (policyCreator, policyId) names the policy. */
  policyCreator: string;
  /** bytes16 policy id. */
  policyId: Uint8Array;
  /** The node (staker address, 0x-prefixed) whose kfrag leaked. */
  staker: string;
  /** KeyFrag.toBytes(), 310 bytes. */
  kfrag: Uint8Array;
  /** Sorted-pair Merkle proof of the node's leaf (src/client/kfrag-commitment.ts `kfragProof`). */
  proof: Uint8Array[];
  /** The node's receipt for exactly this kfrag. */
  receipt: StoredKfragReceipt;
}

/** LeakAdjudicator.LeakProof, ethers-ready. */
export interface LeakProofArgs {
  creator: string;
  policyId: string;
  staker: string;
  kfrag: string;
  proof: string[];
  receiptPeriod: number;
  receiptSignature: string;
  salt: string;
}

export function serializeLeakEvidence(e: LeakEvidence): string {
  validate(e);
  const json = {
    format: LEAK_EVIDENCE_FORMAT,
    version: LEAK_EVIDENCE_VERSION,
    policyCreator: e.policyCreator,
    policyId: hex(e.policyId),
    staker: e.staker,
    kfrag: hex(e.kfrag),
    proof: e.proof.map(hex),
    receipt: { period: e.receipt.period, signature: e.receipt.signature },
  };
  return JSON.stringify(json, null, 2) + "\n";
}

export function parseLeakEvidence(text: string): LeakEvidence {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new LeakEvidenceError("BAD_JSON", "leak evidence is not valid JSON");
  }
  if (typeof raw !== "object" || raw === null) throw new LeakEvidenceError("BAD_JSON", "leak evidence must be an object");
  const o = raw as Record<string, unknown>;
  if (o.format !== LEAK_EVIDENCE_FORMAT || o.version !== LEAK_EVIDENCE_VERSION) {
    throw new LeakEvidenceError("BAD_FIELD", `expected format ${LEAK_EVIDENCE_FORMAT} version ${LEAK_EVIDENCE_VERSION}`);
  }
  const bytes = (v: unknown, name: string): Uint8Array => {
    if (typeof v !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(v)) throw new LeakEvidenceError("BAD_FIELD", `${name} must be 0x-prefixed hex`);
    return new Uint8Array(Buffer.from(v.slice(2), "hex"));
  };
  if (!Array.isArray(o.proof)) throw new LeakEvidenceError("BAD_FIELD", "proof must be an array");
  const receipt = (typeof o.receipt === "object" && o.receipt !== null ? o.receipt : {}) as Record<string, unknown>;
  const evidence: LeakEvidence = {
    policyCreator: typeof o.policyCreator === "string" ? o.policyCreator : "",
    policyId: bytes(o.policyId, "policyId"),
    staker: typeof o.staker === "string" ? o.staker : "",
    kfrag: bytes(o.kfrag, "kfrag"),
    proof: o.proof.map((p, i) => bytes(p, `proof[${i}]`)),
    receipt: {
      period: typeof receipt.period === "number" ? receipt.period : -1,
      signature: typeof receipt.signature === "string" ? receipt.signature : "",
    },
  };
  validate(evidence);
  return evidence;
}

/** keccak256 of the kfrag bytes (the hash inside the node's commitment leaf and its receipt). */
export function leakKfragHash(e: Pick<LeakEvidence, "kfrag">): Uint8Array {
  return keccak_256(e.kfrag);
}

/** LeakAdjudicator.sealedLeak(challenger, keccak256(kfrag), salt): the hidden part of a commitment. */
export function sealedLeak(challenger: string, e: Pick<LeakEvidence, "kfrag">, salt: Uint8Array): string {
  if (salt.length !== 32) throw new LeakEvidenceError("BAD_FIELD", "salt must be 32 bytes");
  const encoded = AbiCoder.defaultAbiCoder().encode(["address", "bytes32", "bytes32"], [challenger, hex(leakKfragHash(e)), hex(salt)]);
  return hex(keccak_256(Buffer.from(encoded.slice(2), "hex")));
}

/** Arguments of LeakAdjudicator.commitLeak: the arrangement in clear, the rest sealed. */
export function commitArgs(challenger: string, e: LeakEvidence, salt: Uint8Array): [string, string, string, string] {
  return [e.policyCreator, hex(e.policyId), e.staker, sealedLeak(challenger, e, salt)];
}

/** LeakAdjudicator.commitmentKey(creator, policyId, staker, sealed): where the commitment is stored. */
export function leakCommitmentKey(challenger: string, e: LeakEvidence, salt: Uint8Array): string {
  const encoded = AbiCoder.defaultAbiCoder().encode(["address", "bytes16", "address", "bytes32"], commitArgs(challenger, e, salt));
  return hex(keccak_256(Buffer.from(encoded.slice(2), "hex")));
}

/** The LeakProof LeakAdjudicator.revealLeak takes. */
export function revealArgs(e: LeakEvidence, salt: Uint8Array): LeakProofArgs {
  if (salt.length !== 32) throw new LeakEvidenceError("BAD_FIELD", "salt must be 32 bytes");
  return {
    creator: e.policyCreator,
    policyId: hex(e.policyId),
    staker: e.staker,
    kfrag: hex(e.kfrag),
    proof: e.proof.map(hex),
    receiptPeriod: e.receipt.period,
    // Low-S, the only form the chain accepts (a receipt kept high-S by an older client still counts).
    receiptSignature: hex(lowSReceiptSignature(Buffer.from(e.receipt.signature.slice(2), "hex")) ?? Buffer.from(e.receipt.signature.slice(2), "hex")),
    salt: hex(salt),
  };
}

function validate(e: LeakEvidence): void {
  if (!ADDRESS.test(e.policyCreator)) throw new LeakEvidenceError("BAD_FIELD", "policyCreator must be an address");
  if (e.policyId.length !== 16) throw new LeakEvidenceError("BAD_FIELD", "policyId must be 16 bytes");
  if (!ADDRESS.test(e.staker)) throw new LeakEvidenceError("BAD_FIELD", "staker must be an address");
  if (e.kfrag.length !== KFRAG_LENGTH) throw new LeakEvidenceError("BAD_FIELD", `kfrag must be ${KFRAG_LENGTH} bytes`);
  for (const p of e.proof) if (p.length !== 32) throw new LeakEvidenceError("BAD_FIELD", "proof entries must be 32 bytes");
  const { period, signature } = e.receipt;
  if (!Number.isSafeInteger(period) || period < 0 || period > 0xffffffff) throw new LeakEvidenceError("BAD_FIELD", "receipt.period must be a uint32");
  if (!/^0x[0-9a-fA-F]{128}$/.test(signature)) throw new LeakEvidenceError("BAD_FIELD", "receipt.signature must be 64 bytes of 0x-prefixed hex");
}

function hex(b: Uint8Array): string {
  return "0x" + Buffer.from(b).toString("hex");
}
