// Evidence of (in)correct re-encryption for on-chain adjudication, mirroring the reference's
// ReencryptionEvidence, Parameters and CurvePoint. Every point is also given with both affine
// coordinates so a contract need not decompress; see the field docs for what each point is.
import { UmbralError } from "./errors";
import { POINT_SIZE, Point, mulPublic, parameterU, sha256, toHex } from "./curve";
import { Capsule, requireCapsule } from "./capsule";
import { VerifiedCapsuleFrag, cfragChallenge, requireVerifiedCapsuleFrag } from "./cfrag";
import { kfragValidityMessage } from "./kfrag";
import { PublicKey, requirePublicKey } from "./keys";
import { MsgpackReader, expectLength, packBin, packBool } from "./msgpack";

/** A point of secp256k1 (read-only view). */
export class CurvePoint {
  /** @internal */
  constructor(readonly point: Point) {}

  /** Affine [x, y], 32 bytes each, big-endian. (Never undefined: the identity is not representable.) */
  coordinates(): [Uint8Array, Uint8Array] | undefined {
    return [this.point.raw.slice(1, 33), this.point.raw.slice(33, 65)];
  }

  /** Addition: 33-byte compressed SEC1 encoding. */
  toCompressedBytes(): Uint8Array {
    return Uint8Array.from(this.point.compressed);
  }

  /** Addition: parses a 33-byte compressed point. */
  static fromCompressedBytes(data: Uint8Array): CurvePoint {
    return new CurvePoint(Point.fromCompressed(data, "curve point"));
  }

  equals(other: CurvePoint): boolean {
    return other instanceof CurvePoint && this.point.equals(other.point);
  }

  toString(): string {
    return `CurvePoint:${toHex(this.point.compressed)}`;
  }

  free(): void {}
}

/** The scheme parameters (only U). */
export class Parameters {
  readonly u: CurvePoint = new CurvePoint(parameterU());

  free(): void {}
}

const POINT_FIELDS = ["e", "ez", "e1", "e1h", "e2", "v", "vz", "v1", "v1h", "v2", "uz", "u1", "u1h", "u2"] as const;
type PointField = (typeof POINT_FIELDS)[number];
const EVIDENCE_BYTES = 3 + POINT_FIELDS.length * (2 + POINT_SIZE) + 34 + 1;

/**
 * Data to check a cfrag on chain: with z = cfrag signature and h = the CFRAG_VERIFICATION challenge,
 * ez = z·E, e1h = h·E1 (so ez == e1h + e2), likewise for V and U; and the SHA-256 of the kfrag
 * validity message with the recovery byte v so ecrecover(hash, v + 27, r, s) yields the signer's
 * address (r, s = the cfrag's kfrag signature in low-S form).
 */
export class ReencryptionEvidence {
  readonly e!: CurvePoint;
  readonly ez!: CurvePoint;
  readonly e1!: CurvePoint;
  readonly e1h!: CurvePoint;
  readonly e2!: CurvePoint;
  readonly v!: CurvePoint;
  readonly vz!: CurvePoint;
  readonly v1!: CurvePoint;
  readonly v1h!: CurvePoint;
  readonly v2!: CurvePoint;
  readonly uz!: CurvePoint;
  readonly u1!: CurvePoint;
  readonly u1h!: CurvePoint;
  readonly u2!: CurvePoint;
  readonly kfragValidityMessageHash: Uint8Array;
  readonly kfragSignatureV: boolean;

  constructor(capsule: Capsule, vcfrag: VerifiedCapsuleFrag, verifyingPk: PublicKey, delegatingPk: PublicKey, receivingPk: PublicKey);
  /** @internal */
  constructor(fields: Record<PointField, Point>, hash: Uint8Array, v: boolean);
  constructor(...args: unknown[]) {
    let points: Record<PointField, Point>;
    if (args.length === 3) {
      points = args[0] as Record<PointField, Point>;
      this.kfragValidityMessageHash = args[1] as Uint8Array;
      this.kfragSignatureV = args[2] as boolean;
    } else {
      const [capsule, vcfrag, verifyingPk, delegatingPk, receivingPk] = args;
      const c = requireCapsule(capsule);
      const cf = requireVerifiedCapsuleFrag(vcfrag).cfrag;
      const verifying = requirePublicKey(verifyingPk, "verifying key");
      const message = kfragValidityMessage(
        cf.kfragId,
        cf.proof.u1,
        cf.precursor,
        requirePublicKey(delegatingPk, "delegating key"),
        requirePublicKey(receivingPk, "receiving key"),
      );
      this.kfragValidityMessageHash = sha256(message);
      const v = cf.proof.kfragSignature.recoveryByte(verifying, this.kfragValidityMessageHash);
      if (v === undefined) throw new UmbralError("CFRAG_SIGNATURE_INVALID", "the cfrag's kfrag signature does not verify for these keys");
      this.kfragSignatureV = v === 1;
      // all public values: variable-time multiplication is fine
      const h = cfragChallenge(c, cf.e1, cf.v1, cf.proof);
      const z = cf.proof.z;
      points = {
        e: c.e,
        ez: mulPublic(c.e, z),
        e1: cf.e1,
        e1h: mulPublic(cf.e1, h),
        e2: cf.proof.e2,
        v: c.v,
        vz: mulPublic(c.v, z),
        v1: cf.v1,
        v1h: mulPublic(cf.v1, h),
        v2: cf.proof.v2,
        uz: mulPublic(parameterU(), z),
        u1: cf.proof.u1,
        u1h: mulPublic(cf.proof.u1, h),
        u2: cf.proof.u2,
      };
    }
    for (const name of POINT_FIELDS) (this as Record<PointField, CurvePoint>)[name] = new CurvePoint(points[name]);
  }

  /** MessagePack [14 points, hash, v] as the reference writes it (528 bytes). */
  toBytes(): Uint8Array {
    const out = new Uint8Array(EVIDENCE_BYTES);
    out.set([0xdc, 0x00, POINT_FIELDS.length + 2], 0);
    let off = 3;
    for (const name of POINT_FIELDS) {
      out.set(packBin(this[name].point.compressed), off);
      off += 2 + POINT_SIZE;
    }
    out.set(packBin(this.kfragValidityMessageHash), off);
    out.set(packBool(this.kfragSignatureV), off + 34);
    return out;
  }

  static fromBytes(data: Uint8Array): ReencryptionEvidence {
    expectLength(data, EVIDENCE_BYTES, "reencryption evidence");
    if (data[0] !== 0xdc || data[1] !== 0 || data[2] !== POINT_FIELDS.length + 2) {
      throw new UmbralError("INVALID_ENCODING", "reencryption evidence: expected an array of 16");
    }
    const r = new MsgpackReader(data.subarray(3), "reencryption evidence");
    const points = {} as Record<PointField, Point>;
    for (const name of POINT_FIELDS) points[name] = Point.fromCompressed(r.bin(POINT_SIZE), `evidence ${name}`);
    const hash = r.bin(32);
    const v = r.bool();
    r.end();
    return new ReencryptionEvidence(points, hash, v);
  }

  free(): void {}
}
