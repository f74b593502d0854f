// The ONE acceptance rule for kfrag signatures and the points they cover (issue #13), shared by
// the node agent (kfrag intake, src/node/service.ts) and the client (judging a stamped cfrag and
// deciding to keep evidence, src/client/retrieval.ts and src/client/evidence.ts). The on-chain
// Adjudicator (contracts/Adjudicator.sol `_judge`) reaches the same verdict on every input.
//
// A signature (64-byte r‖s over a 32-byte SHA-256 digest z, by a 33-byte compressed key Q) is
// ACCEPTABLE iff
//   - r, s ∈ [1, n−1] and s ≤ n/2 (low-S: honest Umbral signers, libsecp256k1 and RustCrypto,
//     only ever produce low-S);
//   - the nonce point R = s⁻¹(z·G + r·Q) is not infinity and its x equals r EXACTLY.
// The second condition is ecrecover's semantics (it lifts the point whose x is r). ECDSA as
// libsecp256k1 and rust-umbral verify it compares R.x mod n with r instead, so it also accepts
// R.x = r + n (R.x ≥ n): an owner can pick such an R and any s, solve Q = r⁻¹(s·R − z·G), and
// upload a kfrag whose every correct cfrag the Adjudicator would judge incorrect (the attack of
// test/acceptance/crafted-kfrag.test.ts). We chose to REFUSE AT INTAKE what ecrecover cannot
// verify, rather than to verify R.x ≥ n or high-S on-chain (the 180k gas cap on a slash): the
// agent never takes such a kfrag, so it never serves one of its cfrags, and the client treats a
// stamped cfrag carrying such a signature as incorrect and keeps the evidence, which slashes.
// A POINT is acceptable iff it is canonical compressed SEC1: exactly 33 bytes, tag 0x02 or 0x03,
// x < p, on the curve (no 0x04/0x05 tags, no trailing bytes).
// Everything here is public data: plain variable-time arithmetic (@noble/curves) is fine.
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { Capsule, CapsuleFrag, KeyFrag, PublicKey, type VerifiedCapsuleFrag, type VerifiedKeyFrag } from "../umbral";
import { kfragValidityMessage } from "../umbral/kfrag";

const Point = secp256k1.Point;
const Fn = Point.Fn;
type CurvePoint = InstanceType<typeof secp256k1.Point>;
export const CURVE_ORDER = Point.CURVE().n;
export const FIELD_PRIME = Point.CURVE().p;
/** The largest low-S value, ⌊n/2⌋ (the Adjudicator's HALF_N). */
export const HALF_ORDER = CURVE_ORDER >> 1n;

/** The keys a kfrag is verified with (33-byte compressed encodings, as uploaded and stamped). */
export interface KFragKeys {
  verifyingKey: Uint8Array;
  delegatingKey: Uint8Array;
  receivingKey: Uint8Array;
}

export type Acceptance<T> = { ok: true; value: T } | { ok: false; reason: string };

function bigintOf(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt("0x" + Buffer.from(bytes).toString("hex"));
}

/** The point if `bytes` is a canonical compressed curve point (see the module comment), else null. */
export function canonicalPoint(bytes: Uint8Array): CurvePoint | null {
  if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) return null;
  if (bigintOf(bytes.subarray(1)) >= FIELD_PRIME) return null;
  try {
    return Point.fromBytes(bytes);
  } catch {
    return null;
  }
}

/** Whether `signature` (64-byte r‖s) by `key` over the 32-byte `digest` is acceptable (module comment). */
export function signatureAcceptable(signature: Uint8Array, digest: Uint8Array, key: Uint8Array): boolean {
  if (signature.length !== 64 || digest.length !== 32) return false;
  const q = canonicalPoint(key);
  if (!q) return false;
  const r = bigintOf(signature.subarray(0, 32));
  const s = bigintOf(signature.subarray(32));
  if (r === 0n || r >= CURVE_ORDER || s === 0n || s > HALF_ORDER) return false;
  const w = Fn.inv(s);
  const u1 = Fn.mul(bigintOf(digest) % CURVE_ORDER, w);
  const u2 = Fn.mul(r, w);
  const nonce = (u1 === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(u1)).add(q.multiplyUnsafe(u2));
  // Exactly r, not r mod n: what ecrecover can verify.
  return !nonce.is0() && nonce.toAffine().x === r;
}

/**
 * The node agent's intake rule: the kfrag parses strictly (src/umbral: exact length, canonical
 * points, scalars in range), the keys are canonical points, Umbral's checks pass (commitment,
 * signed-key flags, signatures), and BOTH kfrag signatures are acceptable. The receiver
 * signature (the one every cfrag carries) always covers pk_A and pk_B.
 */
export function kfragAcceptable(kfragBytes: Uint8Array, keys: KFragKeys): Acceptance<VerifiedKeyFrag> {
  const points = [keys.verifyingKey, keys.delegatingKey, keys.receivingKey];
  if (!points.every((k) => canonicalPoint(k))) return { ok: false, reason: "a key is not a canonical compressed point" };
  let kfrag: KeyFrag;
  let verified: VerifiedKeyFrag;
  const [verifying, delegating, receiving] = points.map((k) => PublicKey.fromCompressedBytes(k));
  try {
    kfrag = KeyFrag.fromBytes(kfragBytes);
    verified = kfrag.verify(verifying, delegating, receiving);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const receiverDigest = sha256(kfragValidityMessage(kfrag.id, kfrag.commitment, kfrag.precursor, delegating, receiving));
  const proxyDigest = sha256(
    kfragValidityMessage(
      kfrag.id,
      kfrag.commitment,
      kfrag.precursor,
      kfrag.delegatingKeySigned ? delegating : null,
      kfrag.receivingKeySigned ? receiving : null,
    ),
  );
  if (!signatureAcceptable(kfrag.signatureForReceiver.toBEBytes(), receiverDigest, keys.verifyingKey)) {
    return { ok: false, reason: "kfrag signature for the receiver is not acceptable (high-S, or not verifiable by ecrecover)" };
  }
  if (!signatureAcceptable(kfrag.signatureForProxy.toBEBytes(), proxyDigest, keys.verifyingKey)) {
    return { ok: false, reason: "kfrag signature for the proxy is not acceptable (high-S, or not verifiable by ecrecover)" };
  }
  return { ok: true, value: verified };
}

/**
 * The client's rule for a cfrag (the exact bytes a node returned): it parses strictly, the keys
 * are canonical points, the kfrag signature it carries is acceptable under them, and its proof
 * of re-encryption holds for the capsule. A correctly stamped cfrag that fails is evidence.
 */
export function cfragAcceptable(capsule: Capsule, cfragBytes: Uint8Array, keys: KFragKeys): Acceptance<VerifiedCapsuleFrag> {
  const points = [keys.verifyingKey, keys.delegatingKey, keys.receivingKey];
  if (!points.every((k) => canonicalPoint(k))) return { ok: false, reason: "a key is not a canonical compressed point" };
  const [verifying, delegating, receiving] = points.map((k) => PublicKey.fromCompressedBytes(k));
  let cfrag: CapsuleFrag;
  try {
    cfrag = CapsuleFrag.fromBytes(cfragBytes);
  } catch (e) {
    return { ok: false, reason: `cfrag does not parse: ${(e as Error).message}` };
  }
  const digest = sha256(kfragValidityMessage(cfrag.kfragId, cfrag.proof.u1, cfrag.precursor, delegating, receiving));
  if (!signatureAcceptable(cfrag.proof.kfragSignature.toBEBytes(), digest, keys.verifyingKey)) {
    return { ok: false, reason: "the kfrag signature it carries is not acceptable" };
  }
  try {
    return { ok: true, value: cfrag.verify(capsule, verifying, delegating, receiving) };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}
