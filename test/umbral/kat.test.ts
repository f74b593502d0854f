// Known-answer tests: parameter U, hash-to-scalar, SecretKeyFactory, plus the scalar/DEM building blocks
// checked against independent implementations (bigint arithmetic, @noble/ciphers XChaCha20-Poly1305).
import { expect } from "chai";
import { createHash, hkdfSync, randomBytes } from "node:crypto";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import * as ref from "@nucypher/umbral-pre";
import { SecretKeyFactory } from "../../src/umbral";
import {
  bigintToBytes32,
  hashToScalar,
  parameterU,
  randomScalar,
  reduceDigest,
  scalarAdd,
  scalarInvert,
  scalarMul,
  scalarNeg,
} from "../../src/umbral/curve";
import { demDecrypt, demEncrypt, demKey } from "../../src/umbral/dem";
import { fromHex, hex, utf8 } from "./helpers";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const toBig = (b: Uint8Array): bigint => BigInt("0x" + (hex(b) || "0"));

/** Independent, variable-time restatement of rust-umbral's hash-to-scalar. */
function hashToScalarSpec(dst: string, parts: Uint8Array[]): bigint {
  const h = createHash("sha256");
  const len = Buffer.alloc(4);
  len.writeUInt32BE(Buffer.byteLength(dst));
  h.update(len).update(dst);
  for (const p of parts) h.update(p);
  return (toBig(h.digest()) % (N - 1n)) + 1n;
}

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

describe("umbral known answers", () => {
  it("parameter U = hash_to_curve(\"POINT_U\", DST \"PARAMETERS\")", () => {
    const u = parameterU().compressed;
    expect(hex(u)).to.equal("03079390d0fbe220fc34aab8ecbf49098098036820fadb98c03143e55db8ec73cd");
    const [x] = new ref.Parameters().u.coordinates()!;
    expect(hex(x)).to.equal(hex(u.subarray(1)));
  });

  it("hash-to-scalar vectors", () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
    const vectors: Array<[string, Uint8Array[], string]> = [
      ["POLYNOMIAL_ARG", [parameterU().compressed, seed], "b696f42680e38910748715c2b2861a3c6c5a00495bc92ee1ec0c36ff1ac9d5b1"],
      ["SHARED_SECRET", [], "4ad0acdc5ddc730d9f1f6c9e72e13720d81e0bf05d97de611127dfc496a71bcf"],
      ["CFRAG_VERIFICATION", [utf8("abc")], "d20bce9d152035b87cf924216194fa9e5683e3b36dbc9e6c2cedfaba5d209157"],
    ];
    for (const [dst, parts, expected] of vectors) {
      expect(hex(hashToScalar(utf8(dst), parts))).to.equal(expected);
      expect(hashToScalarSpec(dst, parts)).to.equal(BigInt("0x" + expected));
    }
    for (let i = 0; i < 50; i++) {
      const parts = [new Uint8Array(randomBytes(i)), new Uint8Array(randomBytes(33))];
      expect(toBig(hashToScalar(utf8("CAPSULE_POINTS"), parts))).to.equal(hashToScalarSpec("CAPSULE_POINTS", parts));
    }
  });

  it("branch-free reduction (x mod (n-1)) + 1 at the edges", () => {
    const edges = [0n, 1n, N - 3n, N - 2n, N - 1n, N, N + 1n, 2n ** 256n - 1n, 2n ** 255n];
    for (const x of edges) {
      expect(toBig(reduceDigest(bigintToBytes32(x))), x.toString(16)).to.equal((x % (N - 1n)) + 1n);
    }
  });

  it("SecretKeyFactory vectors (seed 0x00..0x1f)", () => {
    const f = SecretKeyFactory.fromSecureRandomness(Uint8Array.from({ length: 32 }, (_, i) => i));
    expect(hex(f.makeKey(utf8("foo")).toBEBytes())).to.equal("00a702f986353cc7889c869ef8dd9dc5d7c21e993516c46b3bb263a42a820209");
    expect(hex(f.makeKey(new Uint8Array(0)).toBEBytes())).to.equal("663d6ef68b23df76f5818f211fe9cdebabca5c1b7d36cd35257dc938e7df3783");
    expect(hex(f.makeSecret(utf8("foo")))).to.equal(
      "382de7c33afbb396a4a644e0756a45b3e4bc25442a7e46c0af6a557f3e35e5c33b29a7f845977743ecd10fe3bcd0d518e458ef86f9be2978bfd6a49d6d02eea3",
    );
    expect(hex(f.makeFactory(utf8("foo")).makeKey(utf8("bar")).toBEBytes())).to.equal(
      "ed53ea6e95cf49dce196249fff36254577a956c07136f16cc3b455b8f6c4db14",
    );
    expect(SecretKeyFactory.seedSize()).to.equal(32);
  });

  it("constant-time scalar ops agree with bigint arithmetic; Fermat inversion", () => {
    for (let i = 0; i < 30; i++) {
      const a = randomScalar();
      const b = randomScalar();
      expect(toBig(scalarMul(a, b))).to.equal((toBig(a) * toBig(b)) % N);
      expect(toBig(scalarAdd(a, b))).to.equal((toBig(a) + toBig(b)) % N);
      expect(toBig(scalarNeg(a))).to.equal(N - toBig(a));
      expect(toBig(scalarInvert(a))).to.equal(modPow(toBig(a), N - 2n, N));
    }
    expect(toBig(scalarInvert(bigintToBytes32(1n)))).to.equal(1n);
    expect(toBig(scalarInvert(bigintToBytes32(N - 1n)))).to.equal(N - 1n);
  });

  it("DEM key is HKDF-SHA256(seed, no salt, empty info, 32 bytes)", () => {
    for (let i = 0; i < 20; i++) {
      const seed = new Uint8Array(randomBytes(33));
      const expected = new Uint8Array(hkdfSync("sha256", seed, new Uint8Array(0), new Uint8Array(0), 32));
      expect(hex(demKey(seed))).to.equal(hex(expected));
    }
  });

  it("DEM is XChaCha20-Poly1305 (matches @noble/ciphers both ways)", () => {
    const key = demKey(fromHex("02" + "11".repeat(32)));
    const aad = new Uint8Array(randomBytes(98));
    for (const size of [0, 1, 63, 64, 65, 1000]) {
      const msg = new Uint8Array(randomBytes(size));
      const ours = demEncrypt(key, aad, msg);
      const nonce = ours.subarray(0, 24);
      expect(hex(xchacha20poly1305(key, nonce, aad).decrypt(ours.subarray(24)))).to.equal(hex(msg));
      const nobleNonce = new Uint8Array(randomBytes(24));
      const noble = xchacha20poly1305(key, nobleNonce, aad).encrypt(msg);
      expect(hex(demDecrypt(key, aad, Uint8Array.of(...nobleNonce, ...noble)))).to.equal(hex(msg));
    }
  });
});
