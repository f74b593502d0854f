// Bad input of every kind raises a typed UmbralError; nothing decrypts to a wrong plaintext.
import { expect } from "chai";
import * as ref from "@nucypher/umbral-pre";
import {
  Capsule,
  CapsuleFrag,
  KeyFrag,
  PublicKey,
  SecretKey,
  Signature,
  Signer,
  SecretKeyFactory,
  decryptOriginal,
  decryptReencrypted,
  encrypt,
  generateKFrags,
  reencrypt,
} from "../../src/umbral";
import { bigintToBytes32 } from "../../src/umbral/curve";
import { expectUmbralError, fromHex, hex, utf8 } from "./helpers";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn;

function setup(threshold = 3, shares = 5) {
  const alice = SecretKey.random();
  const bob = SecretKey.random();
  const signerSk = SecretKey.random();
  const signer = new Signer(signerSk);
  const message = utf8("attack at dawn");
  const [capsule, ciphertext] = encrypt(alice.publicKey(), message);
  const kfrags = generateKFrags(alice, bob.publicKey(), signer, threshold, shares, true, true);
  const cfrags = kfrags.map((k) => reencrypt(capsule, k));
  return { alice, bob, signer, verifyingPk: signerSk.publicKey(), message, capsule, ciphertext, kfrags, cfrags };
}

/** First x for which 02‖x is not on secp256k1. */
function offCurveCompressed(): Uint8Array {
  for (let x = 1n; ; x++) {
    const bytes = Uint8Array.of(2, ...bigintToBytes32(x));
    try {
      PublicKey.fromCompressedBytes(bytes);
    } catch {
      return bytes;
    }
  }
}

describe("umbral typed errors", function () {
  this.timeout(60_000);
  const s = setup();

  it("keys: wrong lengths, zero / out-of-range scalars, off-curve points", () => {
    expectUmbralError(() => SecretKey.fromBEBytes(new Uint8Array(31)), "INVALID_LENGTH");
    expectUmbralError(() => SecretKey.fromBEBytes(new Uint8Array(33)), "INVALID_LENGTH");
    expectUmbralError(() => SecretKey.fromBEBytes(new Uint8Array(32)), "INVALID_SCALAR");
    expectUmbralError(() => SecretKey.fromBEBytes(bigintToBytes32(N)), "INVALID_SCALAR");
    expectUmbralError(() => SecretKey.fromBEBytes("00" as unknown as Uint8Array), "INVALID_ARGUMENT");
    expect(SecretKey.fromBEBytes(bigintToBytes32(N - 1n)).toBEBytes()).to.have.length(32);

    const pk = s.alice.publicKey().toCompressedBytes();
    expectUmbralError(() => PublicKey.fromCompressedBytes(pk.subarray(1)), "INVALID_LENGTH");
    expectUmbralError(() => PublicKey.fromCompressedBytes(new Uint8Array(33)), "INVALID_POINT");
    expectUmbralError(() => PublicKey.fromCompressedBytes(Uint8Array.of(4, ...pk.subarray(1))), "INVALID_POINT");
    expectUmbralError(() => PublicKey.fromCompressedBytes(Uint8Array.of(2, ...bigintToBytes32(P))), "INVALID_POINT");
    const off = offCurveCompressed();
    expectUmbralError(() => PublicKey.fromCompressedBytes(off), "INVALID_POINT");
    expect(() => ref.PublicKey.fromCompressedBytes(off)).to.throw();
    expectUmbralError(() => SecretKeyFactory.fromSecureRandomness(new Uint8Array(31)), "INVALID_LENGTH");
  });

  it("signatures: wrong lengths, r or s out of range, bad DER", () => {
    const sig = s.signer.sign(utf8("m"));
    expectUmbralError(() => Signature.fromBEBytes(sig.toBEBytes().subarray(1)), "INVALID_LENGTH");
    expectUmbralError(() => Signature.fromBEBytes(new Uint8Array(64)), "INVALID_SIGNATURE");
    expectUmbralError(() => Signature.fromBEBytes(Uint8Array.of(...sig.toBEBytes().subarray(0, 32), ...bigintToBytes32(N))), "INVALID_SIGNATURE");
    expectUmbralError(() => Signature.fromDerBytes(Uint8Array.of(0x30, 0x02, 0x02, 0x00)), "INVALID_SIGNATURE");
    const der = sig.toDerBytes();
    expectUmbralError(() => Signature.fromDerBytes(Uint8Array.of(...der, 0)), "INVALID_SIGNATURE");
    expect(sig.verify(s.verifyingPk, utf8("m"))).to.equal(true);
    expect(sig.verify(s.alice.publicKey(), utf8("m"))).to.equal(false);
  });

  it("high-S signatures verify, as in the reference", () => {
    const sig = s.signer.sign(utf8("m")).toBEBytes();
    const sValue = BigInt("0x" + hex(sig.subarray(32)));
    const high = Signature.fromBEBytes(Uint8Array.of(...sig.subarray(0, 32), ...bigintToBytes32(N - sValue)));
    expect(high.verify(s.verifyingPk, utf8("m"))).to.equal(true);
    expect(ref.Signature.fromBEBytes(high.toBEBytes()).verify(ref.PublicKey.fromCompressedBytes(s.verifyingPk.toCompressedBytes()), utf8("m"))).to.equal(true);
  });

  it("capsules: length, encoding, points, scalar and self-check", () => {
    const bytes = s.capsule.toBytes();
    expectUmbralError(() => Capsule.fromBytes(bytes.subarray(0, 104)), "INVALID_LENGTH");
    expectUmbralError(() => Capsule.fromBytes(Uint8Array.of(...bytes, 0)), "INVALID_LENGTH");
    const badMarker = Uint8Array.from(bytes);
    badMarker[0] = 0x94;
    expectUmbralError(() => Capsule.fromBytes(badMarker), "INVALID_ENCODING");
    const offCurve = Uint8Array.from(bytes);
    offCurve.set(offCurveCompressed(), 3);
    expectUmbralError(() => Capsule.fromBytes(offCurve), "INVALID_POINT");
    const zeroS = Uint8Array.from(bytes);
    zeroS.fill(0, 73);
    expectUmbralError(() => Capsule.fromBytes(zeroS), "INVALID_SCALAR");
    const other = encrypt(s.alice.publicKey(), utf8("x"))[0].toBytes();
    const swappedS = Uint8Array.of(...bytes.subarray(0, 73), ...other.subarray(73));
    expectUmbralError(() => Capsule.fromBytes(swappedS), "CAPSULE_VERIFICATION_FAILED");
    expectUmbralError(() => Capsule.fromBytesSimple(s.capsule.toBytesSimple().subarray(1)), "INVALID_LENGTH");
    expect(Capsule.fromBytesSimple(s.capsule.toBytesSimple()).equals(s.capsule)).to.equal(true);
  });

  it("generateKFrags rejects threshold 0, threshold > shares and non-integers", () => {
    const args = [s.alice, s.bob.publicKey(), s.signer] as const;
    expectUmbralError(() => generateKFrags(...args, 0, 3, true, true), "INVALID_THRESHOLD");
    expectUmbralError(() => generateKFrags(...args, 4, 3, true, true), "INVALID_THRESHOLD");
    expectUmbralError(() => generateKFrags(...args, 0, 0, true, true), "INVALID_THRESHOLD");
    expectUmbralError(() => generateKFrags(...args, 1.5, 3, true, true), "INVALID_THRESHOLD");
    expectUmbralError(() => generateKFrags(...args, -1, 3, true, true), "INVALID_THRESHOLD");
    expect(generateKFrags(...args, 1, 1, false, false)).to.have.length(1);
  });

  it("kfrags: wrong verifying / delegating / receiving keys, missing keys, foreign U", () => {
    const kfrag = s.kfrags[0].unverify();
    expect(() => kfrag.verify(s.verifyingPk, s.alice.publicKey(), s.bob.publicKey())).not.to.throw();
    expectUmbralError(() => kfrag.verify(s.alice.publicKey(), s.alice.publicKey(), s.bob.publicKey()), "KFRAG_SIGNATURE_INVALID");
    expectUmbralError(() => kfrag.verify(s.verifyingPk, s.bob.publicKey(), s.bob.publicKey()), "KFRAG_SIGNATURE_INVALID");
    expectUmbralError(() => kfrag.verify(s.verifyingPk, s.alice.publicKey(), s.alice.publicKey()), "KFRAG_SIGNATURE_INVALID");
    expectUmbralError(() => kfrag.verify(s.verifyingPk, null, s.bob.publicKey()), "KFRAG_MISSING_DELEGATING_KEY");
    expectUmbralError(() => kfrag.verify(s.verifyingPk, s.alice.publicKey(), null), "KFRAG_MISSING_RECEIVING_KEY");
    const unsignedKeys = generateKFrags(s.alice, s.bob.publicKey(), s.signer, 1, 1, false, false)[0].unverify();
    expect(() => unsignedKeys.verify(s.verifyingPk)).not.to.throw();
    const foreignU = kfrag.toBytes();
    foreignU.set(s.alice.publicKey().toCompressedBytes(), 4);
    expectUmbralError(() => KeyFrag.fromBytes(foreignU), "INVALID_PARAMETERS");
    expectUmbralError(() => KeyFrag.fromBytes(foreignU.subarray(1)), "INVALID_LENGTH");
    // a kfrag whose key no longer matches its commitment
    const otherKey = s.kfrags[1].toBytes().subarray(73, 105);
    const swapped = kfrag.toBytes();
    swapped.set(otherKey, 73);
    expectUmbralError(() => KeyFrag.fromBytes(swapped).verify(s.verifyingPk, s.alice.publicKey(), s.bob.publicKey()), "KFRAG_COMMITMENT_MISMATCH");
  });

  it("reencrypt / decrypt take only verified objects of this module", () => {
    expectUmbralError(() => reencrypt(s.capsule, s.kfrags[0].unverify() as never), "INVALID_ARGUMENT");
    const refKfrag = ref.generateKFrags(ref.SecretKey.random(), ref.SecretKey.random().publicKey(), new ref.Signer(ref.SecretKey.random()), 1, 1, true, true)[0];
    expectUmbralError(() => reencrypt(s.capsule, refKfrag as never), "INVALID_ARGUMENT");
    expectUmbralError(() => decryptReencrypted(s.bob, s.alice.publicKey(), s.capsule, [s.cfrags[0].unverify() as never], s.ciphertext), "INVALID_ARGUMENT");
    expectUmbralError(() => decryptOriginal(s.alice, s.capsule.toBytes() as never, s.ciphertext), "INVALID_ARGUMENT");
  });

  it("cfrags: wrong capsule or keys fail verification", () => {
    const cfrag = s.cfrags[0].unverify();
    const [otherCapsule] = encrypt(s.alice.publicKey(), utf8("other"));
    expect(() => cfrag.verify(s.capsule, s.verifyingPk, s.alice.publicKey(), s.bob.publicKey())).not.to.throw();
    expectUmbralError(() => cfrag.verify(otherCapsule, s.verifyingPk, s.alice.publicKey(), s.bob.publicKey()), "CFRAG_PROOF_INVALID");
    expectUmbralError(() => cfrag.verify(s.capsule, s.alice.publicKey(), s.alice.publicKey(), s.bob.publicKey()), "CFRAG_SIGNATURE_INVALID");
    expectUmbralError(() => cfrag.verify(s.capsule, s.verifyingPk, s.bob.publicKey(), s.bob.publicKey()), "CFRAG_SIGNATURE_INVALID");
    expectUmbralError(() => cfrag.verify(s.capsule, s.verifyingPk, s.alice.publicKey(), s.alice.publicKey()), "CFRAG_SIGNATURE_INVALID");
    expectUmbralError(() => CapsuleFrag.fromBytes(cfrag.toBytes().subarray(2)), "INVALID_LENGTH");
    expect(CapsuleFrag.fromBytesSimple(cfrag.toBytesSimple()).equals(cfrag)).to.equal(true);
  });

  it("decryptReencrypted: none, too few, mixed sets, duplicates, wrong keys, wrong capsule", () => {
    const { bob, alice, capsule, ciphertext, cfrags, message } = s;
    expect(hex(decryptReencrypted(bob, alice.publicKey(), capsule, cfrags.slice(1, 4), ciphertext))).to.equal(hex(message));
    expect(hex(decryptReencrypted(bob, alice.publicKey(), capsule, cfrags, ciphertext))).to.equal(hex(message));
    expectUmbralError(() => decryptReencrypted(bob, alice.publicKey(), capsule, [], ciphertext), "NO_CFRAGS");
    expectUmbralError(() => decryptReencrypted(bob, alice.publicKey(), capsule, cfrags.slice(0, 2), ciphertext), "REENCRYPTION_VALIDATION_FAILED");
    expectUmbralError(() => decryptReencrypted(bob, alice.publicKey(), capsule, cfrags.slice(0, 1), ciphertext), "REENCRYPTION_VALIDATION_FAILED");
    expectUmbralError(() => decryptReencrypted(bob, alice.publicKey(), capsule, [cfrags[0], cfrags[1], cfrags[0]], ciphertext), "DUPLICATE_CFRAGS");
    const otherSet = generateKFrags(alice, bob.publicKey(), s.signer, 3, 5, true, true).map((k) => reencrypt(capsule, k));
    expectUmbralError(() => decryptReencrypted(bob, alice.publicKey(), capsule, [cfrags[0], cfrags[1], otherSet[2]], ciphertext), "MISMATCHED_CFRAGS");
    expectUmbralError(() => decryptReencrypted(SecretKey.random(), alice.publicKey(), capsule, cfrags.slice(0, 3), ciphertext), "REENCRYPTION_VALIDATION_FAILED");
    expectUmbralError(() => decryptReencrypted(bob, bob.publicKey(), capsule, cfrags.slice(0, 3), ciphertext), "REENCRYPTION_VALIDATION_FAILED");
    const [otherCapsule, otherCiphertext] = encrypt(alice.publicKey(), utf8("other"));
    expectUmbralError(() => decryptReencrypted(bob, alice.publicKey(), otherCapsule, cfrags.slice(0, 3), otherCiphertext), "REENCRYPTION_VALIDATION_FAILED");
    expectUmbralError(() => decryptReencrypted(bob, alice.publicKey(), capsule, cfrags.slice(0, 3), otherCiphertext), "DECRYPTION_FAILED");
  });

  it("decryptOriginal: wrong key, foreign or short ciphertext", () => {
    const { alice, capsule, ciphertext } = s;
    expectUmbralError(() => decryptOriginal(SecretKey.random(), capsule, ciphertext), "DECRYPTION_FAILED");
    expectUmbralError(() => decryptOriginal(alice, capsule, encrypt(alice.publicKey(), utf8("x"))[1]), "DECRYPTION_FAILED");
    expectUmbralError(() => decryptOriginal(alice, capsule, ciphertext.subarray(0, 39)), "INVALID_LENGTH");
    expectUmbralError(() => decryptOriginal(alice, capsule, fromHex("00".repeat(40))), "DECRYPTION_FAILED");
  });
});
