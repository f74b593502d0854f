// Evidence of a leaked kfrag: the kfrag bytes the policy's on-chain commitment binds to a node,
// with the Merkle proof of that node's leaf. The file is what `nkms:challenge-leak` reads; the
// salt of the commit–reveal (see contracts/adjudicator/LeakAdjudicator.sol) is made fresh by the
// challenger and never stored in the file, so a copy of the file does not let anyone reveal
// someone else's commitment.
import { keccak_256 } from "@noble/hashes/sha3.js";
import { AbiCoder } from "ethers";

export const LEAK_EVIDENCE_FORMAT = "nkms.leak-evidence";
export const LEAK_EVIDENCE_VERSION = 1;
const KFRAG_LENGTH = 310;

export class LeakEvidenceError extends Error {
  constructor(
    readonly code: "BAD_JSON" | "BAD_FIELD",
    message: string,
  ) {
    super(message);
    this.name = "LeakEvidenceError";
  }
}

export interface LeakEvidence {
  /** bytes16 policy id. */
  policyId: Uint8Array;
  /** The node (staker address, 0x-prefixed) whose kfrag leaked. */
  staker: string;
  /** KeyFrag.toBytes(), 310 bytes. */
  kfrag: Uint8Array;
  /** Sorted-pair Merkle proof of the node's leaf (src/client/kfrag-commitment.ts `kfragProof`). */
  proof: Uint8Array[];
}

export function serializeLeakEvidence(e: LeakEvidence): string {
  validate(e);
  const json = {
    format: LEAK_EVIDENCE_FORMAT,
    version: LEAK_EVIDENCE_VERSION,
    policyId: hex(e.policyId),
    staker: e.staker,
    kfrag: hex(e.kfrag),
    proof: e.proof.map(hex),
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
  const evidence: LeakEvidence = {
    policyId: bytes(o.policyId, "policyId"),
    staker: typeof o.staker === "string" ? o.staker : "",
    kfrag: bytes(o.kfrag, "kfrag"),
    proof: o.proof.map((p, i) => bytes(p, `proof[${i}]`)),
  };
  validate(evidence);
  return evidence;
}

/** keccak256 of the kfrag bytes (the hash inside the node's commitment leaf). */
export function leakKfragHash(e: Pick<LeakEvidence, "kfrag">): Uint8Array {
  return keccak_256(e.kfrag);
}

/** LeakAdjudicator.leakCommitment(challenger, policyId, staker, keccak256(kfrag), salt). */
export function leakCommitment(challenger: string, e: LeakEvidence, salt: Uint8Array): string {
  if (salt.length !== 32) throw new LeakEvidenceError("BAD_FIELD", "salt must be 32 bytes");
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["address", "bytes16", "address", "bytes32", "bytes32"],
    [challenger, hex(e.policyId), e.staker, hex(leakKfragHash(e)), hex(salt)],
  );
  return hex(keccak_256(Buffer.from(encoded.slice(2), "hex")));
}

/** Arguments of LeakAdjudicator.revealLeak, ethers-ready. */
export function revealArgs(e: LeakEvidence, salt: Uint8Array): [string, string, string, string[], string] {
  return [hex(e.policyId), e.staker, hex(e.kfrag), e.proof.map(hex), hex(salt)];
}

function validate(e: LeakEvidence): void {
  if (e.policyId.length !== 16) throw new LeakEvidenceError("BAD_FIELD", "policyId must be 16 bytes");
  if (!/^0x[0-9a-fA-F]{40}$/.test(e.staker)) throw new LeakEvidenceError("BAD_FIELD", "staker must be an address");
  if (e.kfrag.length !== KFRAG_LENGTH) throw new LeakEvidenceError("BAD_FIELD", `kfrag must be ${KFRAG_LENGTH} bytes`);
  for (const p of e.proof) if (p.length !== 32) throw new LeakEvidenceError("BAD_FIELD", "proof entries must be 32 bytes");
}

function hex(b: Uint8Array): string {
  return "0x" + Buffer.from(b).toString("hex");
}
