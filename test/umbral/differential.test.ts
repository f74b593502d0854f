// Differential tests against the reference (@nucypher/umbral-pre 0.10.0, rust-umbral compiled to WASM):
// every object made by one side is parsed, verified and decrypted by the other.
import { expect } from "chai";
import fc from "fast-check";
import * as ref from "@nucypher/umbral-pre";
import * as ours from "../../src/umbral";
import { hex } from "./helpers";

const config = fc.record({
  threshold: fc.integer({ min: 1, max: 5 }),
  extra: fc.integer({ min: 0, max: 5 }),
  message: fc.uint8Array({ minLength: 0, maxLength: 300 }),
  signDelegating: fc.boolean(),
  signReceiving: fc.boolean(),
  seed: fc.integer(),
});
type Config = { threshold: number; extra: number; message: Uint8Array; signDelegating: boolean; signReceiving: boolean; seed: number };
const RUNS = 20;

function pickSubset<T>(items: T[], count: number, seed: number): T[] {
  const pool = [...items];
  const out: T[] = [];
  let state = seed >>> 0;
  while (out.length < count) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out.push(pool.splice(state % pool.length, 1)[0]);
  }
  return out;
}

function keysBoth() {
  const mk = () => {
    const o = ours.SecretKey.random();
    return { o, r: ref.SecretKey.fromBEBytes(o.toBEBytes()) };
  };
  return { alice: mk(), bob: mk(), signer: mk() };
}

describe("umbral differential vs @nucypher/umbral-pre", function () {
  this.timeout(120_000);

  it("keys, public keys and signatures interoperate", () => {
    for (let i = 0; i < 10; i++) {
      const { alice } = keysBoth();
      const pk = alice.o.publicKey().toCompressedBytes();
      expect(hex(alice.r.publicKey().toCompressedBytes())).to.equal(hex(pk));
      expect(String(alice.o.publicKey())).to.equal(String(alice.r.publicKey()));
      const msg = new Uint8Array(i * 7).fill(i);
      const ourSig = new ours.Signer(alice.o).sign(msg);
      const refSig = new ref.Signer(alice.r).sign(msg);
      expect(ref.Signature.fromBEBytes(ourSig.toBEBytes()).verify(alice.r.publicKey(), msg)).to.equal(true);
      expect(ref.Signature.fromDerBytes(ourSig.toDerBytes()).verify(alice.r.publicKey(), msg)).to.equal(true);
      expect(ours.Signature.fromBEBytes(refSig.toBEBytes()).verify(alice.o.publicKey(), msg)).to.equal(true);
      expect(hex(ours.Signature.fromDerBytes(refSig.toDerBytes()).toBEBytes())).to.equal(hex(refSig.toBEBytes()));
      expect(ours.Signature.fromBEBytes(refSig.toBEBytes()).verify(alice.o.publicKey(), Uint8Array.of(1, ...msg))).to.equal(false);
      refSig.free();
    }
  });

  it("ours → reference: capsules, kfrags and cfrags are accepted and decrypt", () => {
    fc.assert(
      fc.property(config, (c: Config) => {
        const shares = Math.min(10, c.threshold + c.extra);
        const { alice, bob, signer } = keysBoth();
        const [capsule, ciphertext] = ours.encrypt(alice.o.publicKey(), c.message);
        const refCapsule = ref.Capsule.fromBytes(capsule.toBytes());
        expect(hex(refCapsule.toBytes())).to.equal(hex(capsule.toBytes()));
        expect(hex(refCapsule.toBytesSimple())).to.equal(hex(capsule.toBytesSimple()));
        expect(String(refCapsule)).to.equal(String(capsule));
        expect(hex(ref.decryptOriginal(alice.r, refCapsule, ciphertext))).to.equal(hex(c.message));

        const kfrags = ours.generateKFrags(alice.o, bob.o.publicKey(), new ours.Signer(signer.o), c.threshold, shares, c.signDelegating, c.signReceiving);
        expect(kfrags).to.have.length(shares);
        const refVerified = kfrags.map((k) => {
          const bytes = k.toBytes();
          const refKfrag = ref.KeyFrag.fromBytes(bytes);
          expect(hex(refKfrag.toBytes())).to.equal(hex(bytes));
          return refKfrag.verify(signer.r.publicKey(), c.signDelegating ? alice.r.publicKey() : null, c.signReceiving ? bob.r.publicKey() : null);
        });

        // our cfrags, verified and used by the reference
        const ourCfrags = pickSubset(kfrags, c.threshold, c.seed).map((k) => ours.reencrypt(capsule, k));
        const refFromOurs = ourCfrags.map((cf) => {
          const parsed = ref.CapsuleFrag.fromBytes(cf.toBytes());
          expect(hex(parsed.toBytesSimple())).to.equal(hex(cf.toBytesSimple()));
          return parsed.verify(refCapsule, signer.r.publicKey(), alice.r.publicKey(), bob.r.publicKey());
        });
        expect(hex(ref.decryptReencrypted(bob.r, alice.r.publicKey(), refCapsule, refFromOurs, ciphertext))).to.equal(hex(c.message));

        // reference cfrags from our kfrags
        const refCfrags = pickSubset(refVerified, c.threshold, c.seed + 1).map((k) => ref.reencrypt(refCapsule, k));
        expect(hex(ref.decryptReencrypted(bob.r, alice.r.publicKey(), refCapsule, refCfrags, ciphertext))).to.equal(hex(c.message));
        for (const x of [...refVerified, ...refFromOurs, ...refCfrags, refCapsule]) x.free();
      }),
      { numRuns: RUNS },
    );
  });

  it("reference → ours: capsules, kfrags and cfrags are accepted and decrypt", () => {
    fc.assert(
      fc.property(config, (c: Config) => {
        const shares = Math.min(10, c.threshold + c.extra);
        const { alice, bob, signer } = keysBoth();
        const [refCapsule, ciphertext] = ref.encrypt(alice.r.publicKey(), c.message);
        const capsule = ours.Capsule.fromBytes(refCapsule.toBytes());
        expect(hex(capsule.toBytesSimple())).to.equal(hex(refCapsule.toBytesSimple()));
        expect(hex(ours.decryptOriginal(alice.o, capsule, ciphertext))).to.equal(hex(c.message));

        const refKfrags = ref.generateKFrags(alice.r, bob.r.publicKey(), new ref.Signer(signer.r), c.threshold, shares, c.signDelegating, c.signReceiving);
        const kfrags = refKfrags.map((k) => {
          const parsed = ours.KeyFrag.fromBytes(k.toBytes());
          expect(hex(parsed.toBytes())).to.equal(hex(k.toBytes()));
          return parsed.verify(signer.o.publicKey(), c.signDelegating ? alice.o.publicKey() : null, c.signReceiving ? bob.o.publicKey() : null);
        });
        // also with both keys always supplied (our stricter check of the receiver signature)
        for (const k of refKfrags) ours.KeyFrag.fromBytes(k.toBytes()).verify(signer.o.publicKey(), alice.o.publicKey(), bob.o.publicKey());

        // reference cfrags verified and decrypted by us
        const chosen = pickSubset(refKfrags, c.threshold, c.seed);
        const refCfrags = chosen.map((k) => ref.reencrypt(refCapsule, k));
        const verified = refCfrags.map((cf) => {
          const parsed = ours.CapsuleFrag.fromBytes(cf.toBytes());
          expect(hex(parsed.toBytesSimple())).to.equal(hex(cf.toBytesSimple()));
          return parsed.verify(capsule, signer.o.publicKey(), alice.o.publicKey(), bob.o.publicKey());
        });
        expect(hex(ours.decryptReencrypted(bob.o, alice.o.publicKey(), capsule, verified, ciphertext))).to.equal(hex(c.message));

        // our cfrags from reference kfrags, mixed with reference cfrags when threshold > 1
        const ourCfrags = pickSubset(kfrags, c.threshold, c.seed + 7).map((k) => ours.reencrypt(capsule, k));
        expect(hex(ours.decryptReencrypted(bob.o, alice.o.publicKey(), capsule, ourCfrags, ciphertext))).to.equal(hex(c.message));
        if (c.threshold > 1) {
          const ids = new Set(ourCfrags.slice(1).map((cf) => hex(cf.toFields().kfragId)));
          const fromRef = verified.find((v) => !ids.has(hex(v.toFields().kfragId)));
          if (fromRef !== undefined) {
            const mixed = [fromRef, ...ourCfrags.slice(1)];
            expect(hex(ours.decryptReencrypted(bob.o, alice.o.publicKey(), capsule, mixed, ciphertext))).to.equal(hex(c.message));
          }
        }
        for (const x of [...refKfrags, ...refCfrags, refCapsule]) x.free();
      }),
      { numRuns: RUNS },
    );
  });

  it("SecretKeyFactory derivations match the reference", () => {
    for (let i = 0; i < 5; i++) {
      const seed = new Uint8Array(32).map((_, j) => (j * 13 + i * 101) & 0xff);
      const label = new TextEncoder().encode(`label-${i}`.repeat(i));
      const o = ours.SecretKeyFactory.fromSecureRandomness(seed);
      const r = ref.SecretKeyFactory.fromSecureRandomness(seed);
      expect(hex(o.makeKey(label).toBEBytes())).to.equal(hex(r.makeKey(label).toBEBytes()));
      expect(hex(o.makeSecret(label))).to.equal(hex(r.makeSecret(label)));
      expect(hex(o.makeFactory(label).makeKey(label).toBEBytes())).to.equal(hex(r.makeFactory(label).makeKey(label).toBEBytes()));
      r.free();
    }
  });
});
