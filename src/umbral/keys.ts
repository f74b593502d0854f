// Keys, signatures and the key factory, mirroring @nucypher/umbral-pre 0.10's classes.
import { hkdfSync, randomBytes } from "node:crypto";
import secp from "secp256k1";
import { UmbralError } from "./errors";
import {
  Point,
  Scalar,
  bytesEqual,
  concatBytes,
  hashToScalar,
  isValidScalar,
  mulG,
  randomScalar,
  scalarFromBytes,
  sha256,
  toHex,
  utf8,
} from "./curve";

const SIGNATURE_SIZE = 64;

export class PublicKey {
  /** @internal */
  constructor(readonly point: Point) {}

  static fromCompressedBytes(data: Uint8Array): PublicKey {
    return new PublicKey(Point.fromCompressed(data, "public key"));
  }

  toCompressedBytes(): Uint8Array {
    return Uint8Array.from(this.point.compressed);
  }

  equals(other: PublicKey): boolean {
    return other instanceof PublicKey && this.point.equals(other.point);
  }

  toString(): string {
    return `PublicKey:${toHex(this.point.compressed.subarray(0, 8))}`;
  }

  __getClassname(): string {
    return "PublicKey";
  }

  /** The key that produced `signature` over a 32-byte prehash (ECDSA public key recovery). */
  static recoverFromPrehash(prehash: Uint8Array, signature: RecoverableSignature): PublicKey {
    if (!(prehash instanceof Uint8Array) || prehash.length !== 32) throw new UmbralError("INVALID_LENGTH", "prehash must be 32 bytes");
    if (!(signature instanceof RecoverableSignature)) throw new UmbralError("INVALID_ARGUMENT", "expected a RecoverableSignature");
    const bytes = signature.toBEBytes();
    try {
      const raw = secp.ecdsaRecover(bytes.subarray(0, 64), bytes[64], prehash, false);
      return new PublicKey(Point.fromTrustedRaw(raw));
    } catch {
      throw new UmbralError("INVALID_SIGNATURE", "no public key can be recovered from this signature");
    }
  }

  /** No-op: kept so code written for the WASM reference (which needs manual freeing) runs unchanged. */
  free(): void {}
}

export class SecretKey {
  private cachedPublicKey: PublicKey | undefined;

  /** @internal */
  constructor(readonly scalar: Scalar) {}

  static random(): SecretKey {
    return new SecretKey(randomScalar());
  }

  static fromBEBytes(data: Uint8Array): SecretKey {
    return new SecretKey(scalarFromBytes(data, "secret key"));
  }

  toBEBytes(): Uint8Array {
    return Uint8Array.from(this.scalar);
  }

  publicKey(): PublicKey {
    this.cachedPublicKey ??= new PublicKey(mulG(this.scalar));
    return this.cachedPublicKey;
  }

  equals(other: SecretKey): boolean {
    return other instanceof SecretKey && bytesEqual(this.scalar, other.scalar);
  }

  toString(): string {
    return "SecretKey:...";
  }

  free(): void {}
}

/** ECDSA signature (r‖s, 64 bytes big-endian). High-S values are accepted, as by the reference. */
export class Signature {
  private constructor(private readonly rs: Uint8Array) {}

  /** @internal */
  static fromTrusted(rs: Uint8Array): Signature {
    return new Signature(rs);
  }

  static fromBEBytes(data: Uint8Array): Signature {
    if (!(data instanceof Uint8Array)) throw new UmbralError("INVALID_ARGUMENT", "signature must be a Uint8Array");
    if (data.length !== SIGNATURE_SIZE) {
      throw new UmbralError("INVALID_LENGTH", `signature must be ${SIGNATURE_SIZE} bytes, got ${data.length}`);
    }
    if (!isValidScalar(data.subarray(0, 32)) || !isValidScalar(data.subarray(32))) {
      throw new UmbralError("INVALID_SIGNATURE", "signature r or s is zero or not below the group order");
    }
    return new Signature(Uint8Array.from(data));
  }

  /** Strict DER: the input must be exactly the canonical encoding of a valid (r, s). */
  static fromDerBytes(data: Uint8Array): Signature {
    if (!(data instanceof Uint8Array)) throw new UmbralError("INVALID_ARGUMENT", "signature must be a Uint8Array");
    let compact: Uint8Array;
    try {
      compact = secp.signatureImport(data);
    } catch {
      throw new UmbralError("INVALID_SIGNATURE", "malformed DER signature");
    }
    const sig = Signature.fromBEBytes(compact);
    if (!bytesEqual(sig.toDerBytes(), data)) throw new UmbralError("INVALID_SIGNATURE", "non-canonical DER signature");
    return sig;
  }

  toBEBytes(): Uint8Array {
    return Uint8Array.from(this.rs);
  }

  toDerBytes(): Uint8Array {
    return new Uint8Array(secp.signatureExport(this.rs));
  }

  /** Verifies over SHA-256(message). */
  verify(verifyingPk: PublicKey, message: Uint8Array): boolean {
    return verifyDigest(this.rs, sha256(message), verifyingPk);
  }

  /**
   * Addition: the recovery byte v (0 or 1) with which the low-S form of this signature over `digest`
   * recovers `verifyingPk`, or undefined if it does not verify.
   */
  recoveryByte(verifyingPk: PublicKey, digest: Uint8Array): number | undefined {
    const normalized = secp.signatureNormalize(Uint8Array.from(this.rs));
    for (const v of [0, 1]) {
      try {
        const raw = secp.ecdsaRecover(normalized, v, digest, false);
        if (bytesEqual(raw, verifyingPk.point.raw)) return v;
      } catch {
        /* try the other parity */
      }
    }
    return undefined;
  }

  /** @internal Verifies over a precomputed SHA-256 digest. */
  verifyDigest(verifyingPk: PublicKey, digest: Uint8Array): boolean {
    return verifyDigest(this.rs, digest, verifyingPk);
  }

  equals(other: Signature): boolean {
    return other instanceof Signature && bytesEqual(this.rs, other.rs);
  }

  toString(): string {
    return `Signature:${toHex(this.rs.subarray(0, 8))}`;
  }

  free(): void {}
}

function verifyDigest(rs: Uint8Array, digest: Uint8Array, pk: PublicKey): boolean {
  if (!(pk instanceof PublicKey)) throw new UmbralError("INVALID_ARGUMENT", "verifying key must be a PublicKey");
  // libsecp256k1 rejects high-S; the reference accepts it, so verify the normalized (r, n-s) instead.
  const normalized = secp.signatureNormalize(Uint8Array.from(rs));
  return secp.ecdsaVerify(normalized, digest, pk.point.raw);
}

/** ECDSA signature with recovery byte: r‖s‖v, 65 bytes, v in 0..3 (Ethereum's ecrecover takes v + 27). */
export class RecoverableSignature {
  private constructor(private readonly bytes: Uint8Array) {}

  static fromBEBytes(data: Uint8Array): RecoverableSignature {
    if (!(data instanceof Uint8Array)) throw new UmbralError("INVALID_ARGUMENT", "signature must be a Uint8Array");
    if (data.length !== 65) throw new UmbralError("INVALID_LENGTH", `recoverable signature must be 65 bytes, got ${data.length}`);
    Signature.fromBEBytes(data.subarray(0, 64));
    if (data[64] > 3) throw new UmbralError("INVALID_SIGNATURE", "recovery byte must be 0..3");
    return new RecoverableSignature(Uint8Array.from(data));
  }

  toBEBytes(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }

  equals(other: RecoverableSignature): boolean {
    return other instanceof RecoverableSignature && bytesEqual(this.bytes, other.bytes);
  }

  toString(): string {
    return `RecoverableSignature:${toHex(this.bytes.subarray(0, 8))}`;
  }

  free(): void {}
}

export class Signer {
  private readonly secretKey: SecretKey;

  constructor(secretKey: SecretKey) {
    if (!(secretKey instanceof SecretKey)) throw new UmbralError("INVALID_ARGUMENT", "Signer needs a SecretKey");
    this.secretKey = secretKey;
  }

  /** ECDSA over SHA-256(message); libsecp256k1 (RFC 6979 nonce, low-S, constant-time). */
  sign(message: Uint8Array): Signature {
    return this.signDigest(sha256(message));
  }

  /** @internal */
  signDigest(digest: Uint8Array): Signature {
    return Signature.fromTrusted(new Uint8Array(secp.ecdsaSign(digest, this.secretKey.scalar).signature));
  }

  verifyingKey(): PublicKey {
    return this.secretKey.publicKey();
  }

  toString(): string {
    return "Signer:...";
  }

  free(): void {}
}

const SEED_SIZE = 32;
const EMPTY = new Uint8Array(0);

function hkdf(seed: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", seed, EMPTY, info, length));
}

function labelBytes(label: Uint8Array): Uint8Array {
  if (!(label instanceof Uint8Array)) throw new UmbralError("INVALID_ARGUMENT", "label must be a Uint8Array");
  return label;
}

/** Deterministic derivation of keys, secrets and sub-factories from a 32-byte seed (HKDF-SHA256). */
export class SecretKeyFactory {
  private constructor(private readonly seed: Uint8Array) {}

  static random(): SecretKeyFactory {
    return new SecretKeyFactory(new Uint8Array(randomBytes(SEED_SIZE)));
  }

  static seedSize(): number {
    return SEED_SIZE;
  }

  static fromSecureRandomness(seed: Uint8Array): SecretKeyFactory {
    if (!(seed instanceof Uint8Array)) throw new UmbralError("INVALID_ARGUMENT", "seed must be a Uint8Array");
    if (seed.length !== SEED_SIZE) {
      throw new UmbralError("INVALID_LENGTH", `seed must be ${SEED_SIZE} bytes, got ${seed.length}`);
    }
    return new SecretKeyFactory(Uint8Array.from(seed));
  }

  makeSecret(label: Uint8Array): Uint8Array {
    return hkdf(this.seed, concatBytes(utf8("SECRET_DERIVATION/"), labelBytes(label)), 64);
  }

  makeKey(label: Uint8Array): SecretKey {
    const info = concatBytes(utf8("KEY_DERIVATION/"), labelBytes(label));
    return new SecretKey(hashToScalar(info, [hkdf(this.seed, info, 64)]));
  }

  makeFactory(label: Uint8Array): SecretKeyFactory {
    return new SecretKeyFactory(hkdf(this.seed, concatBytes(utf8("FACTORY_DERIVATION/"), labelBytes(label)), SEED_SIZE));
  }

  toString(): string {
    return "SecretKeyFactory:...";
  }

  free(): void {}
}

/** Helpers shared by the kfrag/cfrag modules. */
export function requirePublicKey(value: unknown, what: string): PublicKey {
  if (!(value instanceof PublicKey)) throw new UmbralError("INVALID_ARGUMENT", `${what} must be a PublicKey`);
  return value;
}

export function requireSecretKey(value: unknown, what: string): SecretKey {
  if (!(value instanceof SecretKey)) throw new UmbralError("INVALID_ARGUMENT", `${what} must be a SecretKey`);
  return value;
}
