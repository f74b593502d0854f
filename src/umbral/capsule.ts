// Capsule = (E, V, s): the KEM part of Umbral encryption, self-checking (sG == V + h(E,V)·E).
import { UmbralError } from "./errors";
import {
  POINT_SIZE,
  Point,
  SCALAR_SIZE,
  Scalar,
  bytesEqual,
  concatBytes,
  hashToScalar,
  isMulGAddPublic,
  scalarFromBytes,
  scalarNeg,
  toHex,
  utf8,
} from "./curve";
import { MsgpackReader, expectLength, packArray, packBin } from "./msgpack";

const CAPSULE_BYTES = 105;
export const CAPSULE_SIMPLE_BYTES = 2 * POINT_SIZE + SCALAR_SIZE;
const DST_CAPSULE_POINTS = utf8("CAPSULE_POINTS");

/** The byte fields of a capsule, as carried on the wire (for evidence and debugging). */
export interface CapsuleFields {
  /** E = r·G, 33 bytes compressed */
  readonly pointE: Uint8Array;
  /** V = u·G, 33 bytes compressed */
  readonly pointV: Uint8Array;
  /** s = u + r·h(E, V), 32 bytes big-endian */
  readonly signature: Uint8Array;
}

export function capsuleHash(e: Point, v: Point): Scalar {
  return hashToScalar(DST_CAPSULE_POINTS, [e.compressed, v.compressed]);
}

export class Capsule {
  /** @internal */
  constructor(
    readonly e: Point,
    readonly v: Point,
    readonly s: Scalar,
  ) {}

  /** @internal Builds a capsule and enforces its self-check (used for every untrusted capsule). */
  static checked(e: Point, v: Point, s: Scalar): Capsule {
    // sG == V + hE  ⇔  s·G + (−h)·E == V; all public, so the variable-time check is fine here.
    if (!isMulGAddPublic(s, scalarNeg(capsuleHash(e, v)), e, v)) throw new UmbralError("CAPSULE_VERIFICATION_FAILED", "capsule self-check sG == V + hE failed");
    return new Capsule(e, v, s);
  }

  static fromBytes(data: Uint8Array): Capsule {
    expectLength(data, CAPSULE_BYTES, "capsule");
    const r = new MsgpackReader(data, "capsule");
    r.array(3);
    const e = r.bin(POINT_SIZE);
    const v = r.bin(POINT_SIZE);
    const s = r.bin(SCALAR_SIZE);
    r.end();
    return Capsule.checked(
      Point.fromCompressed(e, "capsule point E"),
      Point.fromCompressed(v, "capsule point V"),
      scalarFromBytes(s, "capsule signature s"),
    );
  }

  /** Parses the 98-byte simple form E‖V‖s (an addition; the reference only writes it). */
  static fromBytesSimple(data: Uint8Array): Capsule {
    expectLength(data, CAPSULE_SIMPLE_BYTES, "capsule");
    return Capsule.checked(
      Point.fromCompressed(data.subarray(0, 33), "capsule point E"),
      Point.fromCompressed(data.subarray(33, 66), "capsule point V"),
      scalarFromBytes(data.subarray(66, 98), "capsule signature s"),
    );
  }

  toBytes(): Uint8Array {
    return packArray([packBin(this.e.compressed), packBin(this.v.compressed), packBin(this.s)]);
  }

  toBytesSimple(): Uint8Array {
    return concatBytes(this.e.compressed, this.v.compressed, this.s);
  }

  /** Addition: the wire fields as bytes (E, V, s). */
  toFields(): CapsuleFields {
    return { pointE: Uint8Array.from(this.e.compressed), pointV: Uint8Array.from(this.v.compressed), signature: Uint8Array.from(this.s) };
  }

  equals(other: Capsule): boolean {
    return other instanceof Capsule && bytesEqual(this.toBytesSimple(), other.toBytesSimple());
  }

  toString(): string {
    return `Capsule:${toHex(this.s.subarray(0, 8))}`;
  }

  __getClassname(): string {
    return "Capsule";
  }

  free(): void {}
}

export function requireCapsule(value: unknown): Capsule {
  if (!(value instanceof Capsule)) throw new UmbralError("INVALID_ARGUMENT", "expected a Capsule");
  return value;
}
