// Tampering: every single-bit flip of a capsule, kfrag or cfrag is rejected with an UmbralError
// (exhaustively), and random multi-byte tampering anywhere in the flow (fast-check) never yields a
// plaintext other than the original.
import { expect } from "chai";
import fc from "fast-check";
import {
  Capsule,
  CapsuleFrag,
  KeyFrag,
  SecretKey,
  Signer,
  UmbralError,
  decryptOriginal,
  decryptReencrypted,
  encrypt,
  generateKFrags,
  reencrypt,
} from "../../src/umbral";
import { expectUmbralError, flipBit, hex, utf8 } from "./helpers";

describe("umbral tampering", function () {
  this.timeout(120_000);
  const alice = SecretKey.random();
  const bob = SecretKey.random();
  const signerSk = SecretKey.random();
  const verifyingPk = signerSk.publicKey();
  const message = utf8("the quick brown fox");
  const [capsule, ciphertext] = encrypt(alice.publicKey(), message);
  const kfrags = generateKFrags(alice, bob.publicKey(), new Signer(signerSk), 2, 3, true, false);
  const cfrags = kfrags.map((k) => reencrypt(capsule, k));
  const capsuleBytes = capsule.toBytes();
  const kfragBytes = kfrags[0].toBytes();
  const cfragBytes = cfrags[0].toBytes();

  const openCapsule = (b: Uint8Array) => Capsule.fromBytes(b);
  const openKfrag = (b: Uint8Array) => KeyFrag.fromBytes(b).verify(verifyingPk, alice.publicKey(), bob.publicKey());
  // with only the keys the signature flags require (the receiver signature is then checked on the cfrag)
  const openKfragMinimal = (b: Uint8Array) => KeyFrag.fromBytes(b).verify(verifyingPk, alice.publicKey(), null);
  const openCfrag = (b: Uint8Array) => CapsuleFrag.fromBytes(b).verify(capsule, verifyingPk, alice.publicKey(), bob.publicKey());

  it("untampered objects open", () => {
    openCapsule(capsuleBytes);
    openKfrag(kfragBytes);
    openCfrag(cfragBytes);
  });

  it("every single-bit flip of a capsule is rejected", () => {
    for (let bit = 0; bit < capsuleBytes.length * 8; bit++) expectUmbralError(() => openCapsule(flipBit(capsuleBytes, bit)));
  });

  it("every single-bit flip of a kfrag is rejected by fromBytes+verify", () => {
    for (let bit = 0; bit < kfragBytes.length * 8; bit++) expectUmbralError(() => openKfrag(flipBit(kfragBytes, bit)));
  });

  it("a kfrag flip that minimal verification misses is caught when its cfrag is verified", () => {
    for (let bit = 0; bit < kfragBytes.length * 8; bit++) {
      const tampered = flipBit(kfragBytes, bit);
      let vkfrag;
      try {
        vkfrag = openKfragMinimal(tampered);
      } catch (err) {
        expect(err).to.be.instanceOf(UmbralError);
        continue;
      }
      // only the receiver signature is outside the proxy's minimal check
      expect(bit >> 3, `bit ${bit}`).to.be.within(244, 307);
      expectUmbralError(() => openCfrag(reencrypt(capsule, vkfrag).toBytes()), "CFRAG_SIGNATURE_INVALID");
    }
  });

  it("every single-bit flip of a cfrag is rejected by fromBytes+verify", () => {
    for (let bit = 0; bit < cfragBytes.length * 8; bit++) expectUmbralError(() => openCfrag(flipBit(cfragBytes, bit)));
  });

  it("random tampering anywhere never yields a wrong plaintext", () => {
    const target = fc.constantFrom("capsule", "kfrag", "cfrag", "ciphertext");
    const edit = fc.record({
      target,
      positions: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
      values: fc.array(fc.integer({ min: 1, max: 255 }), { minLength: 4, maxLength: 4 }),
      truncate: fc.boolean(),
    });
    fc.assert(
      fc.property(edit, ({ target, positions, values, truncate }) => {
        const original = { capsule: capsuleBytes, kfrag: kfragBytes, cfrag: cfragBytes, ciphertext }[target];
        let bytes = Uint8Array.from(original);
        positions.forEach((p, i) => (bytes[p % bytes.length] ^= values[i]));
        if (truncate) bytes = bytes.subarray(0, positions[0] % bytes.length);
        fc.pre(hex(bytes) !== hex(original));
        try {
          const cap = target === "capsule" ? Capsule.fromBytes(bytes) : capsule;
          const ct = target === "ciphertext" ? bytes : ciphertext;
          const kfrag1 = target === "kfrag" ? openKfrag(bytes) : kfrags[0];
          const cfrag1 = target === "cfrag" ? openCfrag(bytes) : openCfrag(reencrypt(cap, kfrag1).toBytes());
          const viaProxy = decryptReencrypted(bob, alice.publicKey(), cap, [cfrag1, cfrags[1]], ct);
          const direct = decryptOriginal(alice, cap, ct);
          expect.fail(`tampered ${target} decrypted to ${hex(viaProxy)} / ${hex(direct)}`);
        } catch (err) {
          expect(err, String(err)).to.be.instanceOf(UmbralError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
