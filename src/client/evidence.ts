// Evidence that a node returned an incorrect cfrag, in the form the client saves when it
// discards a cfrag, and the curve values (hints) the on-chain Adjudicator checks instead of
// computing. Only public data is handled here except in `signStamp` (the node's side).
//
// The node's stamp is defined once in src/protocol/stamp.ts (the node agent signs exactly that):
// ECDSA/secp256k1 by the node's registered Umbral verifying key over the Merkle root of its
// batch's leaves, leaf = SHA-256(tag ‖ staker ‖ stampPeriod ‖ policyCreator ‖ policyId ‖ pk_A ‖
// pk_B ‖ publisher key ‖ capsule ‖ cfrag), 64-byte r‖s; the evidence carries the cfrag's proof
// from its leaf to that root. For a
// batch of one (empty proof) it equals `new Signer(stampSecretKey).sign(cfragStampMessage(...))`.
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { MAX_STAMP_PROOF_LENGTH, cfragStampMessage, stampBatch, stampRoot, type CFragStampContext } from "../protocol/stamp";
import { verifyCFragStamp } from "../protocol/stamp-verify";
import { canonicalPoint, signatureAcceptable } from "../protocol/acceptance";

export const CAPSULE_LENGTH = 105;
export const CFRAG_LENGTH = 381;
export const EVIDENCE_FORMAT = "nkms.cfrag-evidence";
/**
 * Version 4: the stamp message is "NKMS-CFRAG-STAMP-V2", dated (`stampPeriod`) and naming the
 * policy by `policyCreator` and id. Versions 2 and 3 carry V1 stamps, which the Adjudicator no
 * longer accepts (undated stamps are what a leaked key could replay forever), so they are
 * refused with an explicit error rather than read.
 */
export const EVIDENCE_VERSION = 4;
const READABLE_VERSIONS: readonly number[] = [4];
const UNDATED_VERSIONS: readonly number[] = [2, 3];

const P = secp256k1.Point.CURVE().p;
const N = secp256k1.Point.CURVE().n;
const Point = secp256k1.Point;
type CurvePoint = InstanceType<typeof secp256k1.Point>;

/** Why evidence could not be built, parsed or turned into a call. */
export type EvidenceErrorCode =
  | "BAD_JSON"
  | "BAD_FIELD"
  | "MALFORMED_CAPSULE"
  | "MALFORMED_CFRAG"
  | "INVALID_KEY"
  | "INVALID_STAMP_SIGNATURE"
  | "INVALID_CAPSULE_POINT";

export class EvidenceError extends Error {
  constructor(
    readonly code: EvidenceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "EvidenceError";
  }
}

/** Everything needed to prove on-chain that `staker`'s node returned `cfrag` for `capsule`. */
export interface CFragEvidence extends CFragStampContext {
  /** Capsule.toBytes(), 105 bytes. */
  capsule: Uint8Array;
  /** CapsuleFrag.toBytes(), 381 bytes, exactly as the node returned it. */
  cfrag: Uint8Array;
  /** The node's stamp key (its registered Umbral verifying key), compressed. */
  nodeVerifyingKey: Uint8Array;
  /** 64-byte r‖s stamp over the root that `stampProof` leads SHA-256(cfragStampMessage(this, capsule, cfrag)) to. */
  stampSignature: Uint8Array;
  /** The cfrag's proof in the node's stamp batch (32-byte siblings, leaf upwards); absent or empty for a batch of one. */
  stampProof?: Uint8Array[];
}

/** The JSON file form (all byte fields 0x-hex). */
export interface CFragEvidenceJson {
  format: typeof EVIDENCE_FORMAT;
  version: typeof EVIDENCE_VERSION;
  staker: string;
  stampPeriod: number;
  policyCreator: string;
  policyId: string;
  capsule: string;
  cfrag: string;
  delegatingKey: string;
  receivingKey: string;
  verifyingKey: string;
  nodeVerifyingKey: string;
  stampSignature: string;
  stampProof: string[];
}

/** The Adjudicator's `EvaluationHints` struct (bigint-valued, ready for ethers). */
export type AffinePair = [bigint, bigint];
/** z·E, h·E1, z·V, h·V1, z·U, h·U1 (affine; (0, 0) where a product is not needed). */
export type ProductHints = [AffinePair, AffinePair, AffinePair, AffinePair, AffinePair, AffinePair];

export interface EvaluationHints {
  products: { products: ProductHints; lambdas: [bigint, bigint, bigint] };
  verifyingKeyY: bigint;
  stampKeyY: bigint;
  kfragSignatureParity: number;
  stampSignatureParity: number;
  /** y of pk_A, pk_B and the cfrag's precursor (0 where the point is not valid: any value will do). */
  delegatingKeyY: bigint;
  receivingKeyY: bigint;
  precursorY: bigint;
}

/** The Adjudicator's `CFragEvidence` struct as ethers arguments. */
export interface ContractEvidence {
  capsule: string;
  cfrag: string;
  delegatingKey: string;
  receivingKey: string;
  verifyingKey: string;
  stampSignature: string;
  stampProof: string[];
  staker: string;
  policyId: string;
  policyCreator: string;
  stampPeriod: number;
}

/** Field offsets inside the MessagePack encodings (see contracts/adjudicator/UmbralCFrag.sol). */
export const CFRAG_OFFSETS = {
  e1: 3,
  v1: 38,
  id: 73,
  precursor: 107,
  e2: 143,
  v2: 178,
  u1: 213,
  u2: 248,
  z: 283,
  kfragSignature: 317,
} as const;
export const CAPSULE_OFFSETS = { e: 3, v: 38, s: 73 } as const;

const U_COMPRESSED = hexToBytes("03079390d0fbe220fc34aab8ecbf49098098036820fadb98c03143e55db8ec73cd");
const CFRAG_VERIFICATION = new TextEncoder().encode("CFRAG_VERIFICATION");

// ---------------------------------------------------------------------------------------------
// Building, signing and (de)serializing

/** The bytes the node's stamp signs for this evidence (src/protocol/stamp.ts). */
export function stampMessage(evidence: Pick<CFragEvidence, keyof CFragStampContext | "capsule" | "cfrag">): Uint8Array {
  try {
    return cfragStampMessage(evidence, evidence.capsule, evidence.cfrag);
  } catch (err) {
    throw new EvidenceError("BAD_FIELD", (err as Error).message);
  }
}

/** A stamp as a node signs it (the node agent uses Umbral's Signer; same bytes). Low-S, 64 bytes. */
export function signStamp(
  stampSecretKey: Uint8Array,
  context: CFragStampContext,
  capsule: Uint8Array,
  cfrag: Uint8Array,
): Uint8Array {
  return secp256k1.sign(stampMessage({ ...context, capsule, cfrag }), stampSecretKey, { prehash: true, lowS: true });
}

/**
 * A batch stamp as a node signs it (src/node/reencrypt-task.ts does the same with Umbral's
 * Signer): one low-S signature over the root of the items' leaves, and each item's proof.
 */
export function signStampBatch(
  stampSecretKey: Uint8Array,
  context: CFragStampContext,
  items: readonly { capsule: Uint8Array; cfrag: Uint8Array }[],
): { signature: Uint8Array; proofs: Uint8Array[][] } {
  const { root, proofs } = stampBatch(items.map((i) => sha256(stampMessage({ ...context, ...i }))));
  return { signature: secp256k1.sign(root, stampSecretKey, { prehash: false, lowS: true }), proofs };
}

/**
 * Whether `stampSignature` is the node's stamp over (context, capsule, cfrag) with `stampProof`
 * (src/protocol/stamp-verify.ts, the one stamp check). Accepts high-S like Umbral.
 */
export function verifyStamp(
  nodeVerifyingKey: Uint8Array,
  stampSignature: Uint8Array,
  context: CFragStampContext,
  capsule: Uint8Array,
  cfrag: Uint8Array,
  stampProof: readonly Uint8Array[] = [],
): boolean {
  return verifyCFragStamp(nodeVerifyingKey, context, { capsule, cfrag, signature: stampSignature, proof: stampProof });
}

/** The root the evidence's proof leads its leaf to: what its stamp signs (Adjudicator.stampRoot). */
export function evidenceStampRoot(evidence: CFragEvidence): Uint8Array {
  const root = stampRoot(sha256(stampMessage(evidence)), evidence.stampProof ?? []);
  if (!root) throw new EvidenceError("BAD_FIELD", "stampProof is malformed");
  return root;
}

/**
 * Assemble evidence from the objects' `toBytes()` forms; checks lengths, the capsule's framing
 * and the stamp. The cfrag is kept as the node's raw 381 bytes, whether or not it parses: a
 * stamped cfrag that does not parse is incorrect, and slashes, like one that fails its proof.
 */
export function buildEvidence(parts: CFragEvidence): CFragEvidence {
  const evidence = { ...parts, stampProof: [...(parts.stampProof ?? [])] };
  validateShape(evidence);
  if (!verifyStamp(evidence.nodeVerifyingKey, evidence.stampSignature, evidence, evidence.capsule, evidence.cfrag, evidence.stampProof)) {
    throw new EvidenceError("INVALID_STAMP_SIGNATURE", "the stamp signature is not the node's over this cfrag");
  }
  return evidence;
}

export function evidenceToJson(evidence: CFragEvidence): CFragEvidenceJson {
  return {
    format: EVIDENCE_FORMAT,
    version: EVIDENCE_VERSION,
    staker: evidence.staker,
    stampPeriod: evidence.stampPeriod,
    policyCreator: evidence.policyCreator,
    policyId: toHex(evidence.policyId),
    capsule: toHex(evidence.capsule),
    cfrag: toHex(evidence.cfrag),
    delegatingKey: toHex(evidence.delegatingKey),
    receivingKey: toHex(evidence.receivingKey),
    verifyingKey: toHex(evidence.verifyingKey),
    nodeVerifyingKey: toHex(evidence.nodeVerifyingKey),
    stampSignature: toHex(evidence.stampSignature),
    stampProof: (evidence.stampProof ?? []).map(toHex),
  };
}

export function serializeEvidence(evidence: CFragEvidence): string {
  return JSON.stringify(evidenceToJson(evidence), null, 2) + "\n";
}

/** Parse an evidence file's text; validates shapes (not the signatures). */
export function parseEvidence(text: string): CFragEvidence {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new EvidenceError("BAD_JSON", "evidence is not valid JSON");
  }
  return evidenceFromJson(raw);
}

export function evidenceFromJson(raw: unknown): CFragEvidence {
  if (typeof raw !== "object" || raw === null) throw new EvidenceError("BAD_JSON", "evidence must be an object");
  const obj = raw as Record<string, unknown>;
  if (obj.format === EVIDENCE_FORMAT && typeof obj.version === "number" && UNDATED_VERSIONS.includes(obj.version)) {
    throw new EvidenceError(
      "BAD_FIELD",
      `evidence version ${obj.version} carries an undated (NKMS-CFRAG-STAMP-V1) stamp, which the Adjudicator no longer accepts`,
    );
  }
  if (obj.format !== EVIDENCE_FORMAT || typeof obj.version !== "number" || !READABLE_VERSIONS.includes(obj.version)) {
    throw new EvidenceError("BAD_FIELD", `expected format ${EVIDENCE_FORMAT} version ${READABLE_VERSIONS.join(" or ")}`);
  }
  const bytesField = (name: string): Uint8Array => {
    const v = obj[name];
    if (typeof v !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(v)) {
      throw new EvidenceError("BAD_FIELD", `${name} must be 0x-prefixed hex`);
    }
    return hexToBytes(v.slice(2));
  };
  const proof = obj.stampProof;
  if (!Array.isArray(proof) || !proof.every((p): p is string => typeof p === "string" && /^0x[0-9a-fA-F]{64}$/.test(p))) {
    throw new EvidenceError("BAD_FIELD", "stampProof must be an array of 32-byte 0x-hex words");
  }
  const stampProof = proof.map((p) => hexToBytes(p.slice(2)));
  const addressField = (name: string): string => {
    const v = obj[name];
    if (typeof v !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(v)) throw new EvidenceError("BAD_FIELD", `${name} must be an address`);
    return v;
  };
  const evidence: CFragEvidence = {
    staker: addressField("staker"),
    stampPeriod: obj.stampPeriod as number,
    policyCreator: addressField("policyCreator"),
    policyId: bytesField("policyId"),
    capsule: bytesField("capsule"),
    cfrag: bytesField("cfrag"),
    delegatingKey: bytesField("delegatingKey"),
    receivingKey: bytesField("receivingKey"),
    verifyingKey: bytesField("verifyingKey"),
    nodeVerifyingKey: bytesField("nodeVerifyingKey"),
    stampSignature: bytesField("stampSignature"),
    stampProof,
  };
  validateShape(evidence);
  return evidence;
}

/** SHA-256 of the stamp message (the stamp's leaf; names this evidence, e.g. in file names and `CFragJudgedCorrect`). */
export function evidenceHash(evidence: Pick<CFragEvidence, keyof CFragStampContext | "capsule" | "cfrag">): string {
  return toHex(sha256(stampMessage(evidence)));
}

export function toContractEvidence(evidence: CFragEvidence): ContractEvidence {
  return {
    capsule: toHex(evidence.capsule),
    cfrag: toHex(evidence.cfrag),
    delegatingKey: toHex(evidence.delegatingKey),
    receivingKey: toHex(evidence.receivingKey),
    verifyingKey: toHex(evidence.verifyingKey),
    stampSignature: toHex(evidence.stampSignature),
    stampProof: (evidence.stampProof ?? []).map(toHex),
    staker: evidence.staker,
    policyId: toHex(evidence.policyId),
    policyCreator: evidence.policyCreator,
    stampPeriod: evidence.stampPeriod,
  };
}

// ---------------------------------------------------------------------------------------------
// Hints

export interface HintOptions {
  /**
   * Produce hints even when the stamp does not verify (parity 0 is used), so that the
   * contract's own rejection can be exercised. Default false: such evidence throws. (A kfrag
   * signature that does not verify never throws: it makes the cfrag incorrect.)
   */
  allowInvalidSignatures?: boolean;
}

/** The challenge scalar h = hash_to_scalar(CFRAG_VERIFICATION; E, E1, E2, V, V1, V2, U, U1, U2). */
export function cfragChallengeScalar(capsule: Uint8Array, cfrag: Uint8Array): bigint {
  const o = CFRAG_OFFSETS;
  const c = CAPSULE_OFFSETS;
  const len = new Uint8Array([0, 0, 0, CFRAG_VERIFICATION.length]);
  const digest = sha256(
    concat(
      len,
      CFRAG_VERIFICATION,
      slice(capsule, c.e, 33),
      slice(cfrag, o.e1, 33),
      slice(cfrag, o.e2, 33),
      slice(capsule, c.v, 33),
      slice(cfrag, o.v1, 33),
      slice(cfrag, o.v2, 33),
      U_COMPRESSED,
      slice(cfrag, o.u1, 33),
      slice(cfrag, o.u2, 33),
    ),
  );
  return (bytesToBigInt(digest) % (N - 1n)) + 1n;
}

/** SHA-256 of the kfrag's signature_for_receiver message (id ‖ U1 ‖ precursor ‖ 01 ‖ pk_A ‖ 01 ‖ pk_B). */
export function kfragSignatureDigest(cfrag: Uint8Array, delegatingKey: Uint8Array, receivingKey: Uint8Array): Uint8Array {
  const o = CFRAG_OFFSETS;
  return sha256(
    concat(
      slice(cfrag, o.id, 32),
      slice(cfrag, o.u1, 33),
      slice(cfrag, o.precursor, 33),
      new Uint8Array([1]),
      delegatingKey,
      new Uint8Array([1]),
      receivingKey,
    ),
  );
}

/**
 * Compute every value the Adjudicator checks instead of computing: the six products
 * z·E, h·E1, z·V, h·V1, z·U, h·U1, the three slopes, the keys' y coordinates and the
 * signatures' recovery parities. Public data only, so plain (variable-time) arithmetic is fine.
 */
export function evaluationHints(evidence: CFragEvidence, options: HintOptions = {}): EvaluationHints {
  validateShape(evidence);
  const { capsule, cfrag } = evidence;
  const o = CFRAG_OFFSETS;
  const z = bytesToBigInt(slice(cfrag, o.z, 32));
  const h = cfragChallengeScalar(capsule, cfrag);
  const bases: [Uint8Array, number][] = [
    [slice(capsule, CAPSULE_OFFSETS.e, 33), o.e1],
    [slice(capsule, CAPSULE_OFFSETS.v, 33), o.v1],
    [U_COMPRESSED, o.u1],
  ];
  const products: AffinePair[] = [];
  const lambdas: bigint[] = [];
  for (const [baseBytes, x1Offset] of bases) {
    const base = decodePoint(baseBytes);
    if (!base) throw new EvidenceError("INVALID_CAPSULE_POINT", "a capsule point is not on the curve");
    // z ≥ N makes the cfrag incorrect before any product is looked at.
    const zX = z > 0n && z < N ? base.multiplyUnsafe(z) : null;
    const x1 = decodePoint(slice(cfrag, x1Offset, 33));
    const hX1 = x1 ? x1.multiplyUnsafe(h) : null;
    products.push(affine(zX), affine(hX1));
    lambdas.push(zX && hX1 ? differenceSlope(zX, hX1) : 0n);
  }
  const kfragDigest = kfragSignatureDigest(cfrag, evidence.delegatingKey, evidence.receivingKey);
  const kfragSig = slice(cfrag, o.kfragSignature, 64);
  const stampDigest = evidenceStampRoot(evidence);
  return {
    products: { products: products as ProductHints, lambdas: lambdas as [bigint, bigint, bigint] },
    verifyingKeyY: keyY(evidence.verifyingKey),
    stampKeyY: keyY(evidence.nodeVerifyingKey),
    delegatingKeyY: keyY(evidence.delegatingKey),
    receivingKeyY: keyY(evidence.receivingKey),
    precursorY: keyY(slice(cfrag, o.precursor, 33)),
    // An invalid kfrag signature is a verdict (incorrect), not an error: any parity will do.
    kfragSignatureParity: recoveryParity(kfragSig, kfragDigest, evidence.verifyingKey) ?? 0,
    stampSignatureParity: stampParity(evidence, stampDigest, options),
  };
}

/** Slope λ such that the contract forms A − B from A = z·X and B = h·X1 (see Secp256k1.subtract). */
function differenceSlope(a: CurvePoint, b: CurvePoint): bigint {
  const A = a.toAffine();
  const B = b.toAffine();
  const cy = mod(-B.y);
  if (A.x !== B.x) return mod((cy - A.y) * invert(B.x - A.x));
  if (A.y === cy) return mod(3n * A.x * A.x * invert(2n * A.y)); // A = −B: doubling
  return 0n; // A = B: the difference is infinity, no slope needed
}

/**
 * Whether the kfrag's signature_for_receiver is valid for the evidence's keys under the one
 * acceptance rule (src/protocol/acceptance.ts; the Adjudicator's `_kfragSignatureValid`): low-S,
 * verifiable by ecrecover, and every point it covers canonical.
 */
export function kfragSignatureValid(evidence: Pick<CFragEvidence, "cfrag" | "delegatingKey" | "receivingKey" | "verifyingKey">): boolean {
  const digest = kfragSignatureDigest(evidence.cfrag, evidence.delegatingKey, evidence.receivingKey);
  return (
    [evidence.delegatingKey, evidence.receivingKey, slice(evidence.cfrag, CFRAG_OFFSETS.precursor, 33)].every((p) => canonicalPoint(p) !== null) &&
    signatureAcceptable(slice(evidence.cfrag, CFRAG_OFFSETS.kfragSignature, 64), digest, evidence.verifyingKey)
  );
}

function stampParity(evidence: CFragEvidence, digest: Uint8Array, options: HintOptions): number {
  const parity = recoveryParity(evidence.stampSignature, digest, evidence.nodeVerifyingKey);
  if (parity !== null) return parity;
  if (options.allowInvalidSignatures) return 0;
  throw new EvidenceError("INVALID_STAMP_SIGNATURE", "the stamp signature does not verify");
}

/** The recovery bit that yields `key` from (signature, digest), or null when none does. */
function recoveryParity(signature: Uint8Array, digest: Uint8Array, key: Uint8Array): number | null {
  const expected = decodePoint(key);
  for (const bit of [0, 1]) {
    try {
      const sig = secp256k1.Signature.fromBytes(signature, "compact").addRecoveryBit(bit);
      if (expected && sig.recoverPublicKey(digest).equals(expected)) return bit;
    } catch {
      // an out-of-range r or s recovers nothing
    }
  }
  return null;
}

/** y of a compressed point; 0 for an invalid one (the Adjudicator then judges, needing no y). */
function keyY(key: Uint8Array): bigint {
  const point = canonicalPoint(key);
  return point ? point.toAffine().y : 0n;
}

// ---------------------------------------------------------------------------------------------
// Shape checks and byte helpers

function validateShape(e: CFragEvidence): void {
  if (e.capsule.length !== CAPSULE_LENGTH || !capsuleFramed(e.capsule)) {
    throw new EvidenceError("MALFORMED_CAPSULE", `capsule must be the ${CAPSULE_LENGTH}-byte MessagePack encoding`);
  }
  // Only the length: a stamped cfrag with broken framing is judged (incorrect), not refused.
  if (e.cfrag.length !== CFRAG_LENGTH) {
    throw new EvidenceError("MALFORMED_CFRAG", `cfrag must be ${CFRAG_LENGTH} bytes`);
  }
  for (const [name, key] of [
    ["delegatingKey", e.delegatingKey],
    ["receivingKey", e.receivingKey],
    ["verifyingKey", e.verifyingKey],
    ["nodeVerifyingKey", e.nodeVerifyingKey],
  ] as const) {
    if (key.length !== 33) throw new EvidenceError("INVALID_KEY", `${name} must be a 33-byte compressed key`);
  }
  if (e.stampSignature.length !== 64) throw new EvidenceError("BAD_FIELD", "stampSignature must be 64 bytes");
  const proof = e.stampProof ?? [];
  if (proof.length > MAX_STAMP_PROOF_LENGTH || proof.some((p) => p.length !== 32)) {
    throw new EvidenceError("BAD_FIELD", `stampProof must be at most ${MAX_STAMP_PROOF_LENGTH} 32-byte words`);
  }
  if (e.policyId.length !== 16) throw new EvidenceError("BAD_FIELD", "policyId must be 16 bytes");
  if (!/^0x[0-9a-fA-F]{40}$/.test(e.staker)) throw new EvidenceError("BAD_FIELD", "staker must be an address");
  if (!/^0x[0-9a-fA-F]{40}$/.test(e.policyCreator)) throw new EvidenceError("BAD_FIELD", "policyCreator must be an address");
  if (!Number.isSafeInteger(e.stampPeriod) || e.stampPeriod < 0 || e.stampPeriod > 0xffffffff) {
    throw new EvidenceError("BAD_FIELD", "stampPeriod must be a uint32");
  }
}

function bin8(data: Uint8Array, offset: number, length: number): boolean {
  return data[offset] === 0xc4 && data[offset + 1] === length;
}

function capsuleFramed(c: Uint8Array): boolean {
  return c[0] === 0x93 && bin8(c, 1, 33) && bin8(c, 36, 33) && bin8(c, 71, 32);
}

/** Whether a 381-byte cfrag has the MessagePack framing (the Adjudicator's `cfragFramed`). */
export function cfragFramed(f: Uint8Array): boolean {
  return (
    f[0] === 0x95 &&
    bin8(f, 1, 33) &&
    bin8(f, 36, 33) &&
    bin8(f, 71, 32) &&
    bin8(f, 105, 33) &&
    f[140] === 0x96 &&
    bin8(f, 141, 33) &&
    bin8(f, 176, 33) &&
    bin8(f, 211, 33) &&
    bin8(f, 246, 33) &&
    bin8(f, 281, 32) &&
    bin8(f, 315, 64)
  );
}

function decodePoint(bytes: Uint8Array): CurvePoint | null {
  return canonicalPoint(bytes);
}

function affine(point: CurvePoint | null): [bigint, bigint] {
  if (!point || point.is0()) return [0n, 0n];
  const { x, y } = point.toAffine();
  return [x, y];
}

function mod(a: bigint): bigint {
  const r = a % P;
  return r >= 0n ? r : r + P;
}

function invert(a: bigint): bigint {
  let [x, base, e] = [1n, mod(a), P - 2n];
  while (e > 0n) {
    if (e & 1n) x = (x * base) % P;
    base = (base * base) % P;
    e >>= 1n;
  }
  return x;
}

function slice(data: Uint8Array, offset: number, length: number): Uint8Array {
  return data.subarray(offset, offset + length);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt("0x" + Buffer.from(bytes).toString("hex"));
}

function toHex(bytes: Uint8Array): string {
  return "0x" + Buffer.from(bytes).toString("hex");
}

function hexToBytes(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}
