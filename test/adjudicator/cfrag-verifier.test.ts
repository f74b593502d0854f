import { expect } from "chai";
import { ethers } from "hardhat";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import * as umbral from "@nucypher/umbral-pre";
import type { UmbralCFragHarness } from "../../typechain-types";
import {
  CFragEvidence,
  CFRAG_OFFSETS as O,
  CAPSULE_OFFSETS,
  cfragChallengeScalar,
  evaluationHints,
  kfragSignatureDigest,
  signStamp,
} from "../../src/client/evidence";
import {
  N,
  P,
  Point,
  Reencryption,
  craftedReencryption,
  offCurveEncoding,
  pointWithLargeX,
  randomPoint,
  referenceReencryption,
  referenceVerifies,
  scalarBytes,
  withField,
} from "./fixtures";

const stampKey = secp256k1.utils.randomSecretKey();

function asEvidence(r: Reencryption): CFragEvidence {
  const context = { ...r, staker: ethers.ZeroAddress, stampPeriod: 1, policyCreator: ethers.ZeroAddress, policyId: new Uint8Array(16) };
  return {
    ...context,
    nodeVerifyingKey: secp256k1.getPublicKey(stampKey, true),
    stampSignature: signStamp(stampKey, context, r.capsule, r.cfrag),
  };
}

describe("adjudicator: on-chain cfrag verifier (UmbralCFrag)", function () {
  let harness: UmbralCFragHarness;

  before(async function () {
    harness = await (await ethers.getContractFactory("UmbralCFragHarness")).deploy();
  });

  async function judge(r: Reencryption): Promise<boolean> {
    const hints = evaluationHints(asEvidence(r), { allowInvalidSignatures: true });
    return harness.isCorrect(r.capsule, r.cfrag, hints.products);
  }

  describe("genuine cfrags", function () {
    it("accepts reference cfrags and agrees with the reference on h, the products and the kfrag digest", async function () {
      for (let i = 0; i < 6; i++) {
        const r = referenceReencryption();
        expect(referenceVerifies(r)).to.equal(true);
        expect(await judge(r)).to.equal(true);
        expect(await harness.challengeScalar(r.capsule, r.cfrag)).to.equal(cfragChallengeScalar(r.capsule, r.cfrag));

        const ev = new umbral.ReencryptionEvidence(
          umbral.Capsule.fromBytes(r.capsule),
          umbral.CapsuleFrag.fromBytes(r.cfrag).skipVerification(),
          umbral.PublicKey.fromCompressedBytes(r.verifyingKey),
          umbral.PublicKey.fromCompressedBytes(r.delegatingKey),
          umbral.PublicKey.fromCompressedBytes(r.receivingKey),
        );
        const coords = (p: umbral.CurvePoint) => p.coordinates()!.map((c) => BigInt("0x" + Buffer.from(c).toString("hex")));
        const hints = evaluationHints(asEvidence(r));
        expect(hints.products.products).to.deep.equal([ev.ez, ev.e1h, ev.vz, ev.v1h, ev.uz, ev.u1h].map(coords));
        const digest = kfragSignatureDigest(r.cfrag, r.delegatingKey, r.receivingKey);
        expect(Buffer.from(digest).toString("hex")).to.equal(Buffer.from(ev.kfragValidityMessageHash).toString("hex"));
        expect(await harness.kfragSignatureDigest(r.cfrag, r.delegatingKey, r.receivingKey)).to.equal(
          "0x" + Buffer.from(digest).toString("hex"),
        );
        expect(hints.kfragSignatureParity).to.equal(ev.kfragSignatureV ? 1 : 0);
        ev.free();
      }
    });

    it("accepts crafted cfrags whose capsule points have x ≥ the group order (shifted ecrecover)", async function () {
      const e = pointWithLargeX();
      expect(e.toAffine().x >= N).to.equal(true);
      expect(await judge(craftedReencryption(e, randomPoint()))).to.equal(true);
      expect(await judge(craftedReencryption(randomPoint(), pointWithLargeX(1000n)))).to.equal(true);
      expect(await judge(craftedReencryption(randomPoint(), randomPoint()))).to.equal(true);
    });
  });

  describe("single-field tampering of the cfrag", function () {
    let r: Reencryption;
    before(function () {
      r = referenceReencryption();
    });

    const pointFields = ["e1", "v1", "e2", "v2", "u1", "u2"] as const;
    for (const field of pointFields) {
      it(`${field}: another point, its negation, an off-curve x, a bad prefix and x ≥ p are all incorrect`, async function () {
        const original = r.cfrag.subarray(O[field], O[field] + 33);
        const negated = new Uint8Array(original);
        negated[0] ^= 1;
        const badPrefix = new Uint8Array(original);
        badPrefix[0] = 4;
        const xTooBig = new Uint8Array(33).fill(0xff);
        xTooBig[0] = 2;
        const variants = [randomPoint().toBytes(true), negated, offCurveEncoding(), badPrefix, xTooBig, pointWithLargeX().toBytes(true)];
        for (const value of variants) {
          const tampered = { ...r, cfrag: withField(r.cfrag, O[field], value) };
          expect(referenceVerifies(tampered)).to.equal(false);
          expect(await judge(tampered), `${field} = ${Buffer.from(value).toString("hex")}`).to.equal(false);
        }
      });
    }

    it("z: z+1, z = 0, z = n and z = 2^256−1 are incorrect", async function () {
      const z = BigInt("0x" + Buffer.from(r.cfrag.subarray(O.z, O.z + 32)).toString("hex"));
      for (const value of [(z + 1n) % N, 0n, N, 2n ** 256n - 1n]) {
        const tampered = { ...r, cfrag: withField(r.cfrag, O.z, scalarBytes(value)) };
        expect(referenceVerifies(tampered)).to.equal(false);
        expect(await judge(tampered)).to.equal(false);
      }
    });

    it("id, precursor and kfrag signature do not enter the proof (the kfrag signature check catches them)", async function () {
      for (const [offset, length] of [
        [O.id, 32],
        [O.precursor, 33],
        [O.kfragSignature, 64],
      ] as const) {
        const tampered = { ...r, cfrag: withField(r.cfrag, offset, offset === O.precursor ? randomPoint().toBytes(true) : randomBytes(length)) };
        expect(referenceVerifies(tampered)).to.equal(false);
        expect(await judge(tampered)).to.equal(true);
      }
    });

    it("capsule E or V replaced by another valid point makes the cfrag incorrect", async function () {
      for (const offset of [CAPSULE_OFFSETS.e, CAPSULE_OFFSETS.v]) {
        const tampered = { ...r, capsule: withField(r.capsule, offset, randomPoint().toBytes(true)) };
        expect(await judge(tampered)).to.equal(false);
      }
    });

    it("an off-curve capsule point is rejected, not judged", async function () {
      const tampered = { ...r, capsule: withField(r.capsule, CAPSULE_OFFSETS.e, offCurveEncoding()) };
      const hints = placeholderHints();
      await expect(harness.isCorrect(tampered.capsule, tampered.cfrag, hints)).to.be.revertedWithCustomError(
        harness,
        "InvalidCapsulePoint",
      );
    });

    it("broken MessagePack framing is rejected", async function () {
      const hints = evaluationHints(asEvidence(r)).products;
      for (const offset of [0, 1, 2, 140, 315, 316]) {
        const bad = new Uint8Array(r.cfrag);
        bad[offset] ^= 0x10;
        await expect(harness.isCorrect(r.capsule, bad, hints)).to.be.revertedWithCustomError(harness, "MalformedEncoding");
      }
      await expect(harness.isCorrect(r.capsule, r.cfrag.subarray(0, 380), hints)).to.be.revertedWithCustomError(
        harness,
        "MalformedEncoding",
      );
      await expect(harness.isCorrect(r.capsule.subarray(1), r.cfrag, hints)).to.be.revertedWithCustomError(
        harness,
        "MalformedEncoding",
      );
    });
  });

  describe("wrong hints never change a verdict", function () {
    it("every wrong product or slope reverts or leaves the verdict as it is; on a correct cfrag it always reverts", async function () {
      const good = referenceReencryption();
      const bad = { ...good, cfrag: withField(good.cfrag, O.v2, randomPoint().toBytes(true)) };
      for (const [r, verdict] of [
        [good, true],
        [bad, false],
      ] as const) {
        const hints = evaluationHints(asEvidence(r)).products;
        const mutants: (typeof hints)[] = [];
        for (let i = 0; i < 6; i++) {
          const wrong = structuredClone(hints);
          const q = randomPoint().toAffine();
          wrong.products[i] = [q.x, q.y];
          mutants.push(wrong);
        }
        for (let i = 0; i < 3; i++) {
          const wrong = structuredClone(hints);
          wrong.lambdas[i] = (wrong.lambdas[i] + 1n) % P;
          mutants.push(wrong);
        }
        let reverted = 0;
        for (const wrong of mutants) {
          try {
            expect(await harness.isCorrect(r.capsule, r.cfrag, wrong)).to.equal(verdict);
          } catch (err) {
            expect(String(err)).to.match(/ProductHintMismatch|SlopeHintMismatch/);
            reverted++;
          }
        }
        // A correct verdict needs every hint; an incorrect one stops at the first failing equation.
        if (verdict) expect(reverted).to.equal(mutants.length);
        else expect(reverted).to.be.greaterThan(0);
      }
    });
  });

  describe("Secp256k1 primitives", function () {
    it("checkProduct: ecrecover trick for ordinary and large-x bases; invalid bases report false", async function () {
      for (const base of [randomPoint(), pointWithLargeX(), pointWithLargeX(77n)]) {
        const k = BigInt("0x" + Buffer.from(secp256k1.utils.randomSecretKey()).toString("hex")) % N;
        const { x, y } = base.toAffine();
        const q = base.multiply(k).toAffine();
        expect(await harness.checkProduct(x, y & 1n, k, q.x, q.y)).to.equal(true);
        await expect(harness.checkProduct(x, y & 1n, k, q.x, P - q.y)).to.be.revertedWithCustomError(harness, "ProductHintMismatch");
      }
      const off = BigInt("0x" + Buffer.from(offCurveEncoding().subarray(1)).toString("hex"));
      expect(await harness.checkProduct(off, 0, 5n, 1n, 2n)).to.equal(false);
      expect(await harness.checkProduct(0n, 0, 5n, 1n, 2n)).to.equal(false);
      expect(await harness.checkProduct(P, 0, 5n, 1n, 2n)).to.equal(false);
    });

    it("subtract: general, doubling (A = −B) and infinity (A = B) cases", async function () {
      const a = randomPoint();
      const b = randomPoint();
      const A = a.toAffine();
      const cases: [typeof a, typeof a][] = [
        [a, b],
        [a, a.negate()],
      ];
      for (const [x, y] of cases) {
        const hints = evaluationHintsForPoints(x, y);
        const [inf, rx, ry] = await harness.subtract(hints.ax, hints.ay, hints.bx, hints.by, hints.lambda);
        const expected = x.subtract(y).toAffine();
        expect([inf, rx, ry]).to.deep.equal([false, expected.x, expected.y]);
        await expect(harness.subtract(hints.ax, hints.ay, hints.bx, hints.by, hints.lambda + 1n)).to.be.revertedWithCustomError(
          harness,
          "SlopeHintMismatch",
        );
      }
      const [inf] = await harness.subtract(A.x, A.y, A.x, A.y, 0n);
      expect(inf).to.equal(true);
    });
  });
});

function randomBytes(n: number): Uint8Array {
  return new Uint8Array(Array.from({ length: n }, () => Math.floor(Math.random() * 256)));
}

/** Hints for a capsule whose point is invalid: products by E cannot be computed, use zeros. */
function placeholderHints() {
  const pair = (): [bigint, bigint] => [1n, 2n];
  return {
    products: [pair(), pair(), pair(), pair(), pair(), pair()] as [
      [bigint, bigint], [bigint, bigint], [bigint, bigint], [bigint, bigint], [bigint, bigint], [bigint, bigint],
    ],
    lambdas: [0n, 0n, 0n] as [bigint, bigint, bigint],
  };
}

function evaluationHintsForPoints(a: InstanceType<typeof Point>, b: InstanceType<typeof Point>) {
  const A = a.toAffine();
  const B = b.toAffine();
  const inv = (v: bigint) => {
    let [x, base, e] = [1n, ((v % P) + P) % P, P - 2n];
    while (e > 0n) {
      if (e & 1n) x = (x * base) % P;
      base = (base * base) % P;
      e >>= 1n;
    }
    return x;
  };
  const cy = (P - B.y) % P;
  const lambda =
    A.x !== B.x ? (((cy - A.y + P) % P) * inv(B.x - A.x + P)) % P : (3n * A.x * A.x % P) * inv(2n * A.y) % P;
  return { ax: A.x, ay: A.y, bx: B.x, by: B.y, lambda };
}

