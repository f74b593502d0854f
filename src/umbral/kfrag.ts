// Key fragments: generation (threshold split of a·d^-1) and verification by proxies.
import { randomBytes } from "node:crypto";
import { UmbralError } from "./errors";
import {
  POINT_SIZE,
  Point,
  SCALAR_SIZE,
  Scalar,
  bytesEqual,
  concatBytes,
  hashToScalar,
  mulG,
  mulSecret,
  parameterU,
  randomScalar,
  scalarAdd,
  scalarFromBytes,
  scalarInvert,
  scalarMul,
  sha256,
  toHex,
  utf8,
} from "./curve";
import { PublicKey, SecretKey, Signature, Signer, requirePublicKey, requireSecretKey } from "./keys";
import { MsgpackReader, expectLength, packArray, packBin, packBool } from "./msgpack";

const KFRAG_BYTES = 310;
export const KFRAG_ID_SIZE = 32;
export const DST_POLYNOMIAL_ARG = utf8("POLYNOMIAL_ARG");
export const DST_SHARED_SECRET = utf8("SHARED_SECRET");

/** The byte fields of a kfrag (rust-umbral names, camelCased). `key` is the proxy's secret share. */
export interface KeyFragFields {
  readonly id: Uint8Array;
  readonly key: Uint8Array;
  readonly precursor: Uint8Array;
  readonly commitment: Uint8Array;
  readonly signatureForProxy: Uint8Array;
  readonly signatureForReceiver: Uint8Array;
  readonly delegatingKeySigned: boolean;
  readonly receivingKeySigned: boolean;
}

function optionalKey(pk: PublicKey | null): Uint8Array {
  return pk === null ? Uint8Array.of(0) : concatBytes(Uint8Array.of(1), pk.point.compressed);
}

/** id ‖ commitment ‖ precursor ‖ (0x01‖pk_A | 0x00) ‖ (0x01‖pk_B | 0x00): what both kfrag signatures cover. */
export function kfragValidityMessage(
  id: Uint8Array,
  commitment: Point,
  precursor: Point,
  delegatingPk: PublicKey | null,
  receivingPk: PublicKey | null,
): Uint8Array {
  return concatBytes(id, commitment.compressed, precursor.compressed, optionalKey(delegatingPk), optionalKey(receivingPk));
}

function optionalPublicKey(value: PublicKey | null | undefined, what: string): PublicKey | null {
  return value === null || value === undefined ? null : requirePublicKey(value, what);
}

export class KeyFrag {
  /** @internal */
  constructor(
    readonly id: Uint8Array,
    readonly key: Scalar,
    readonly precursor: Point,
    readonly commitment: Point,
    readonly signatureForProxy: Signature,
    readonly signatureForReceiver: Signature,
    readonly delegatingKeySigned: boolean,
    readonly receivingKeySigned: boolean,
  ) {}

  static fromBytes(data: Uint8Array): KeyFrag {
    expectLength(data, KFRAG_BYTES, "kfrag");
    const r = new MsgpackReader(data, "kfrag");
    r.array(5);
    r.array(1);
    const u = r.bin(POINT_SIZE);
    const id = r.bin(KFRAG_ID_SIZE);
    const key = r.bin(SCALAR_SIZE);
    const precursor = r.bin(POINT_SIZE);
    r.array(5);
    const commitment = r.bin(POINT_SIZE);
    const sigProxy = r.bin(64);
    const sigReceiver = r.bin(64);
    const delegatingKeySigned = r.bool();
    const receivingKeySigned = r.bool();
    r.end();
    if (!bytesEqual(u, parameterU().compressed)) throw new UmbralError("INVALID_PARAMETERS", "kfrag parameter U differs from the standard one");
    return new KeyFrag(
      id,
      scalarFromBytes(key, "kfrag key"),
      Point.fromCompressed(precursor, "kfrag precursor"),
      Point.fromCompressed(commitment, "kfrag commitment"),
      Signature.fromBEBytes(sigProxy),
      Signature.fromBEBytes(sigReceiver),
      delegatingKeySigned,
      receivingKeySigned,
    );
  }

  /**
   * Checks the commitment (rk·U), that the keys the signer vouched for are supplied, and the proxy
   * signature. Stricter than the reference: when both keys are supplied the receiver signature (later
   * carried by every cfrag) is checked too, so a corrupted kfrag is caught before it produces cfrags.
   */
  verify(verifyingPk: PublicKey, delegatingPk?: PublicKey | null, receivingPk?: PublicKey | null): VerifiedKeyFrag {
    requirePublicKey(verifyingPk, "verifying key");
    const delegating = optionalPublicKey(delegatingPk, "delegating key");
    const receiving = optionalPublicKey(receivingPk, "receiving key");
    // rk is the proxy's secret share: constant-time multiplication.
    if (!mulSecret(parameterU(), this.key).equals(this.commitment)) {
      throw new UmbralError("KFRAG_COMMITMENT_MISMATCH", "kfrag commitment does not match its key");
    }
    if (this.delegatingKeySigned && delegating === null) {
      throw new UmbralError("KFRAG_MISSING_DELEGATING_KEY", "kfrag signature covers the delegating key, which was not supplied");
    }
    if (this.receivingKeySigned && receiving === null) {
      throw new UmbralError("KFRAG_MISSING_RECEIVING_KEY", "kfrag signature covers the receiving key, which was not supplied");
    }
    const proxyMessage = kfragValidityMessage(
      this.id,
      this.commitment,
      this.precursor,
      this.delegatingKeySigned ? delegating : null,
      this.receivingKeySigned ? receiving : null,
    );
    if (!this.signatureForProxy.verify(verifyingPk, proxyMessage)) {
      throw new UmbralError("KFRAG_SIGNATURE_INVALID", "kfrag signature for the proxy is invalid");
    }
    const sameSignature = this.delegatingKeySigned && this.receivingKeySigned && this.signatureForProxy.equals(this.signatureForReceiver);
    if (delegating !== null && receiving !== null && !sameSignature) {
      const receiverMessage = kfragValidityMessage(this.id, this.commitment, this.precursor, delegating, receiving);
      if (!this.signatureForReceiver.verify(verifyingPk, receiverMessage)) {
        throw new UmbralError("KFRAG_SIGNATURE_INVALID", "kfrag signature for the receiver is invalid");
      }
    }
    return new VerifiedKeyFrag(this);
  }

  /** Trusts the kfrag without checks (only for kfrags from trusted storage). */
  skipVerification(): VerifiedKeyFrag {
    return new VerifiedKeyFrag(this);
  }

  toBytes(): Uint8Array {
    return packArray([
      packArray([packBin(parameterU().compressed)]),
      packBin(this.id),
      packBin(this.key),
      packBin(this.precursor.compressed),
      packArray([
        packBin(this.commitment.compressed),
        packBin(this.signatureForProxy.toBEBytes()),
        packBin(this.signatureForReceiver.toBEBytes()),
        packBool(this.delegatingKeySigned),
        packBool(this.receivingKeySigned),
      ]),
    ]);
  }

  /** Addition: the wire fields as bytes. */
  toFields(): KeyFragFields {
    return {
      id: Uint8Array.from(this.id),
      key: Uint8Array.from(this.key),
      precursor: Uint8Array.from(this.precursor.compressed),
      commitment: Uint8Array.from(this.commitment.compressed),
      signatureForProxy: this.signatureForProxy.toBEBytes(),
      signatureForReceiver: this.signatureForReceiver.toBEBytes(),
      delegatingKeySigned: this.delegatingKeySigned,
      receivingKeySigned: this.receivingKeySigned,
    };
  }

  equals(other: KeyFrag): boolean {
    return other instanceof KeyFrag && bytesEqual(this.toBytes(), other.toBytes());
  }

  toString(): string {
    return `KeyFrag:${toHex(this.id.subarray(0, 8))}`;
  }

  free(): void {}
}

/** A kfrag that passed `verify` (or was trusted via skipVerification); the only kind `reencrypt` takes. */
export class VerifiedKeyFrag {
  /** @internal */
  constructor(readonly kfrag: KeyFrag) {}

  toBytes(): Uint8Array {
    return this.kfrag.toBytes();
  }

  /** Addition: back to an unverified KeyFrag. */
  unverify(): KeyFrag {
    return this.kfrag;
  }

  toFields(): KeyFragFields {
    return this.kfrag.toFields();
  }

  equals(other: VerifiedKeyFrag): boolean {
    return other instanceof VerifiedKeyFrag && this.kfrag.equals(other.kfrag);
  }

  toString(): string {
    return `VerifiedKeyFrag:${toHex(this.kfrag.id.subarray(0, 8))}`;
  }

  __getClassname(): string {
    return "VerifiedKeyFrag";
  }

  free(): void {}
}

/** Horner evaluation of a secret polynomial at a secret point, constant-time scalar ops. */
function evaluatePolynomial(coefficients: readonly Scalar[], x: Scalar): Scalar {
  let acc = coefficients[coefficients.length - 1];
  for (let i = coefficients.length - 2; i >= 0; i--) acc = scalarAdd(scalarMul(acc, x), coefficients[i]);
  return acc;
}

function checkThreshold(threshold: number, shares: number): void {
  if (!Number.isSafeInteger(threshold) || !Number.isSafeInteger(shares)) {
    throw new UmbralError("INVALID_THRESHOLD", "threshold and shares must be integers");
  }
  if (threshold < 1) throw new UmbralError("INVALID_THRESHOLD", `threshold must be at least 1, got ${threshold}`);
  if (threshold > shares) throw new UmbralError("INVALID_THRESHOLD", `threshold ${threshold} exceeds shares ${shares}`);
}

/**
 * Splits the re-encryption key from delegatingSk to receivingPk into `shares` kfrags, any `threshold`
 * of which re-encrypt. Unlike the reference, threshold 0 and threshold > shares are rejected.
 */
export function generateKFrags(
  delegatingSk: SecretKey,
  receivingPk: PublicKey,
  signer: Signer,
  threshold: number,
  shares: number,
  signDelegatingKey: boolean,
  signReceivingKey: boolean,
): VerifiedKeyFrag[] {
  requireSecretKey(delegatingSk, "delegating secret key");
  requirePublicKey(receivingPk, "receiving key");
  if (!(signer instanceof Signer)) throw new UmbralError("INVALID_ARGUMENT", "signer must be a Signer");
  checkThreshold(threshold, shares);
  const delegatingPk = delegatingSk.publicKey();

  const x = randomScalar();
  const precursor = mulG(x);
  const dh = mulSecret(receivingPk.point, x);
  const d = hashToScalar(DST_SHARED_SECRET, [precursor.compressed, receivingPk.point.compressed, dh.compressed]);
  const coefficients: Scalar[] = [scalarMul(delegatingSk.scalar, scalarInvert(d))];
  for (let i = 1; i < threshold; i++) coefficients.push(randomScalar());

  const u = parameterU();
  const kfrags: VerifiedKeyFrag[] = [];
  for (let i = 0; i < shares; i++) {
    const id = new Uint8Array(randomBytes(KFRAG_ID_SIZE));
    const index = hashToScalar(DST_POLYNOMIAL_ARG, [precursor.compressed, receivingPk.point.compressed, dh.compressed, id]);
    const rk = evaluatePolynomial(coefficients, index);
    const commitment = mulSecret(u, rk);
    const receiverMessage = kfragValidityMessage(id, commitment, precursor, delegatingPk, receivingPk);
    const signatureForReceiver = signer.signDigest(sha256(receiverMessage));
    const signatureForProxy =
      signDelegatingKey && signReceivingKey
        ? signatureForReceiver
        : signer.signDigest(
            sha256(
              kfragValidityMessage(id, commitment, precursor, signDelegatingKey ? delegatingPk : null, signReceivingKey ? receivingPk : null),
            ),
          );
    kfrags.push(
      new VerifiedKeyFrag(
        new KeyFrag(id, rk, precursor, commitment, signatureForProxy, signatureForReceiver, signDelegatingKey, signReceivingKey),
      ),
    );
  }
  return kfrags;
}

export function requireVerifiedKeyFrag(value: unknown): VerifiedKeyFrag {
  if (!(value instanceof VerifiedKeyFrag)) throw new UmbralError("INVALID_ARGUMENT", "expected a VerifiedKeyFrag (call KeyFrag.verify first)");
  return value;
}
