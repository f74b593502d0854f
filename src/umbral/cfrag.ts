// Capsule fragments: re-encryption by a proxy, with a proof of correctness that anyone can check.
import { UmbralError } from "./errors";
import {
  POINT_SIZE,
  Point,
  SCALAR_SIZE,
  Scalar,
  addPoints,
  bytesEqual,
  concatBytes,
  hashToScalar,
  mulPublic,
  mulSecret,
  parameterU,
  randomScalar,
  scalarAdd,
  scalarFromBytes,
  scalarMul,
  toHex,
  utf8,
} from "./curve";
import { Capsule, requireCapsule } from "./capsule";
import { KFRAG_ID_SIZE, kfragValidityMessage, requireVerifiedKeyFrag, VerifiedKeyFrag } from "./kfrag";
import { PublicKey, Signature, requirePublicKey } from "./keys";
import { MsgpackReader, expectLength, packArray, packBin } from "./msgpack";

const CFRAG_BYTES = 381;
export const CFRAG_SIMPLE_BYTES = 359;
const DST_CFRAG_VERIFICATION = utf8("CFRAG_VERIFICATION");

/** The byte fields of a cfrag and its proof (rust-umbral names, camelCased). */
export interface CapsuleFragFields {
  /** E1 = rk·E */
  readonly pointE1: Uint8Array;
  /** V1 = rk·V */
  readonly pointV1: Uint8Array;
  readonly kfragId: Uint8Array;
  /** precursor X of the kfrag set */
  readonly precursor: Uint8Array;
  readonly proof: {
    /** E2 = t·E */
    readonly pointE2: Uint8Array;
    /** V2 = t·V */
    readonly pointV2: Uint8Array;
    /** U1 = rk·U, the kfrag commitment */
    readonly kfragCommitment: Uint8Array;
    /** U2 = t·U */
    readonly kfragPok: Uint8Array;
    /** z = t + h·rk */
    readonly signature: Uint8Array;
    /** the kfrag's signature_for_receiver, 64 bytes r‖s */
    readonly kfragSignature: Uint8Array;
  };
}

/** @internal Decoded proof of correct re-encryption. */
export interface CapsuleFragProof {
  readonly e2: Point;
  readonly v2: Point;
  readonly u1: Point;
  readonly u2: Point;
  readonly z: Scalar;
  readonly kfragSignature: Signature;
}

export function cfragChallenge(capsule: Capsule, e1: Point, v1: Point, proof: Omit<CapsuleFragProof, "z" | "kfragSignature">): Scalar {
  return hashToScalar(DST_CFRAG_VERIFICATION, [
    capsule.e.compressed,
    e1.compressed,
    proof.e2.compressed,
    capsule.v.compressed,
    v1.compressed,
    proof.v2.compressed,
    parameterU().compressed,
    proof.u1.compressed,
    proof.u2.compressed,
  ]);
}

export class CapsuleFrag {
  /** @internal */
  constructor(
    readonly e1: Point,
    readonly v1: Point,
    readonly kfragId: Uint8Array,
    readonly precursor: Point,
    readonly proof: CapsuleFragProof,
  ) {}

  static fromBytes(data: Uint8Array): CapsuleFrag {
    expectLength(data, CFRAG_BYTES, "cfrag");
    const r = new MsgpackReader(data, "cfrag");
    r.array(5);
    const e1 = r.bin(POINT_SIZE);
    const v1 = r.bin(POINT_SIZE);
    const id = r.bin(KFRAG_ID_SIZE);
    const precursor = r.bin(POINT_SIZE);
    r.array(6);
    const e2 = r.bin(POINT_SIZE);
    const v2 = r.bin(POINT_SIZE);
    const u1 = r.bin(POINT_SIZE);
    const u2 = r.bin(POINT_SIZE);
    const z = r.bin(SCALAR_SIZE);
    const sig = r.bin(64);
    r.end();
    return CapsuleFrag.fromParts(e1, v1, id, precursor, e2, v2, u1, u2, z, sig);
  }

  /** Parses the 359-byte simple form (an addition; the reference only writes it). */
  static fromBytesSimple(data: Uint8Array): CapsuleFrag {
    expectLength(data, CFRAG_SIMPLE_BYTES, "cfrag");
    const parts: Uint8Array[] = [];
    let off = 0;
    for (const len of [33, 33, 32, 33, 33, 33, 33, 33, 32, 64]) {
      parts.push(data.slice(off, off + len));
      off += len;
    }
    const [e1, v1, id, precursor, e2, v2, u1, u2, z, sig] = parts;
    return CapsuleFrag.fromParts(e1, v1, id, precursor, e2, v2, u1, u2, z, sig);
  }

  private static fromParts(
    e1: Uint8Array,
    v1: Uint8Array,
    id: Uint8Array,
    precursor: Uint8Array,
    e2: Uint8Array,
    v2: Uint8Array,
    u1: Uint8Array,
    u2: Uint8Array,
    z: Uint8Array,
    sig: Uint8Array,
  ): CapsuleFrag {
    return new CapsuleFrag(Point.fromCompressed(e1, "cfrag E1"), Point.fromCompressed(v1, "cfrag V1"), Uint8Array.from(id), Point.fromCompressed(precursor, "cfrag precursor"), {
      e2: Point.fromCompressed(e2, "cfrag proof E2"),
      v2: Point.fromCompressed(v2, "cfrag proof V2"),
      u1: Point.fromCompressed(u1, "cfrag proof U1"),
      u2: Point.fromCompressed(u2, "cfrag proof U2"),
      z: scalarFromBytes(z, "cfrag proof z"),
      kfragSignature: Signature.fromBEBytes(sig),
    });
  }

  /**
   * Checks the kfrag signature (both keys), then the proof: z·E == E2 + h·E1, z·V == V2 + h·V1,
   * z·U == U2 + h·U1. Does not consume this object (unlike the reference's WASM binding).
   */
  verify(capsule: Capsule, verifyingPk: PublicKey, delegatingPk: PublicKey, receivingPk: PublicKey): VerifiedCapsuleFrag {
    requireCapsule(capsule);
    requirePublicKey(verifyingPk, "verifying key");
    requirePublicKey(delegatingPk, "delegating key");
    requirePublicKey(receivingPk, "receiving key");
    const message = kfragValidityMessage(this.kfragId, this.proof.u1, this.precursor, delegatingPk, receivingPk);
    if (!this.proof.kfragSignature.verify(verifyingPk, message)) {
      throw new UmbralError("CFRAG_SIGNATURE_INVALID", "the kfrag signature carried by the cfrag is invalid for these keys");
    }
    // Every value in these equations is public (cfrag, capsule, U), so variable-time arithmetic is fine.
    const { e2, v2, u1, u2, z } = this.proof;
    const h = cfragChallenge(capsule, this.e1, this.v1, this.proof);
    const ok =
      mulPublic(capsule.e, z).equals(addPoints(e2, mulPublic(this.e1, h))) &&
      mulPublic(capsule.v, z).equals(addPoints(v2, mulPublic(this.v1, h))) &&
      mulPublic(parameterU(), z).equals(addPoints(u2, mulPublic(u1, h)));
    if (!ok) throw new UmbralError("CFRAG_PROOF_INVALID", "cfrag proof of correct re-encryption does not hold for this capsule");
    return new VerifiedCapsuleFrag(this);
  }

  skipVerification(): VerifiedCapsuleFrag {
    return new VerifiedCapsuleFrag(this);
  }

  toBytes(): Uint8Array {
    const p = this.proof;
    return packArray([
      packBin(this.e1.compressed),
      packBin(this.v1.compressed),
      packBin(this.kfragId),
      packBin(this.precursor.compressed),
      packArray([
        packBin(p.e2.compressed),
        packBin(p.v2.compressed),
        packBin(p.u1.compressed),
        packBin(p.u2.compressed),
        packBin(p.z),
        packBin(p.kfragSignature.toBEBytes()),
      ]),
    ]);
  }

  toBytesSimple(): Uint8Array {
    const p = this.proof;
    return concatBytes(
      this.e1.compressed,
      this.v1.compressed,
      this.kfragId,
      this.precursor.compressed,
      p.e2.compressed,
      p.v2.compressed,
      p.u1.compressed,
      p.u2.compressed,
      p.z,
      p.kfragSignature.toBEBytes(),
    );
  }

  /** Addition: the wire fields as bytes (what an adjudicator needs as evidence). */
  toFields(): CapsuleFragFields {
    const p = this.proof;
    return {
      pointE1: Uint8Array.from(this.e1.compressed),
      pointV1: Uint8Array.from(this.v1.compressed),
      kfragId: Uint8Array.from(this.kfragId),
      precursor: Uint8Array.from(this.precursor.compressed),
      proof: {
        pointE2: Uint8Array.from(p.e2.compressed),
        pointV2: Uint8Array.from(p.v2.compressed),
        kfragCommitment: Uint8Array.from(p.u1.compressed),
        kfragPok: Uint8Array.from(p.u2.compressed),
        signature: Uint8Array.from(p.z),
        kfragSignature: p.kfragSignature.toBEBytes(),
      },
    };
  }

  equals(other: CapsuleFrag): boolean {
    return other instanceof CapsuleFrag && bytesEqual(this.toBytesSimple(), other.toBytesSimple());
  }

  toString(): string {
    return `CapsuleFrag:${toHex(this.kfragId.subarray(0, 8))}`;
  }

  free(): void {}
}

export class VerifiedCapsuleFrag {
  /** @internal */
  constructor(readonly cfrag: CapsuleFrag) {}

  unverify(): CapsuleFrag {
    return this.cfrag;
  }

  toBytes(): Uint8Array {
    return this.cfrag.toBytes();
  }

  toBytesSimple(): Uint8Array {
    return this.cfrag.toBytesSimple();
  }

  toFields(): CapsuleFragFields {
    return this.cfrag.toFields();
  }

  equals(other: VerifiedCapsuleFrag): boolean {
    return other instanceof VerifiedCapsuleFrag && this.cfrag.equals(other.cfrag);
  }

  toString(): string {
    return `VerifiedCapsuleFrag:${toHex(this.cfrag.kfragId.subarray(0, 8))}`;
  }

  __getClassname(): string {
    return "VerifiedCapsuleFrag";
  }

  free(): void {}
}

/** Proxy side: transforms the capsule with one kfrag and proves it did so correctly. */
export function reencrypt(capsule: Capsule, kfrag: VerifiedKeyFrag): VerifiedCapsuleFrag {
  requireCapsule(capsule);
  const kf = requireVerifiedKeyFrag(kfrag).kfrag;
  const rk = kf.key;
  // rk and t are secret (z = t + h·rk would leak rk from t): constant-time multiplications only.
  const e1 = mulSecret(capsule.e, rk);
  const v1 = mulSecret(capsule.v, rk);
  const t = randomScalar();
  const e2 = mulSecret(capsule.e, t);
  const v2 = mulSecret(capsule.v, t);
  const u2 = mulSecret(parameterU(), t);
  const partial = { e2, v2, u1: kf.commitment, u2 };
  const h = cfragChallenge(capsule, e1, v1, partial);
  const z = scalarAdd(t, scalarMul(h, rk));
  return new VerifiedCapsuleFrag(
    new CapsuleFrag(e1, v1, Uint8Array.from(kf.id), kf.precursor, { ...partial, z, kfragSignature: kf.signatureForReceiver }),
  );
}

export function requireVerifiedCapsuleFrag(value: unknown): VerifiedCapsuleFrag {
  if (!(value instanceof VerifiedCapsuleFrag)) {
    throw new UmbralError("INVALID_ARGUMENT", "expected a VerifiedCapsuleFrag (call CapsuleFrag.verify first)");
  }
  return value;
}
