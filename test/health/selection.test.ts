import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { expectedCount, expectedThreshold, isSelectedRef, popcount } from "./fixture";

async function harnessFixture() {
  return ethers.deployContract("HammingSelectionHarness");
}

const MASK192 = (1n << 192n) - 1n;

describe("health: HammingSelection", () => {
  it("popcount192 counts the low 192 bits only", async () => {
    const h = await loadFixture(harnessFixture);
    expect(await h.popcount192(0n)).to.equal(0n);
    expect(await h.popcount192(MASK192)).to.equal(192n);
    expect(await h.popcount192(ethers.MaxUint256)).to.equal(192n);
    expect(await h.popcount192(1n << 191n)).to.equal(1n);
    expect(await h.popcount192(1n << 192n)).to.equal(0n);
  });

  it("popcount192 matches a reference on random words (property)", async () => {
    const h = await loadFixture(harnessFixture);
    await fc.assert(
      fc.asyncProperty(fc.bigInt({ min: 0n, max: ethers.MaxUint256 }), async (x) => {
        expect(await h.popcount192(x)).to.equal(BigInt(popcount(x & MASK192)));
      }),
      { numRuns: 60 },
    );
  });

  it("threshold selects everyone when at least as many checkers as candidates are wanted", async () => {
    const h = await loadFixture(harnessFixture);
    for (const [n, c] of [[0n, 1n], [10n, 10n], [10n, 11n]]) {
      const [t, fraction] = await h.threshold(n, c);
      expect([t, fraction]).to.deep.equal([192n, 0xffffn]);
    }
  });

  it("threshold and fraction match the exact reference (property)", async () => {
    const h = await loadFixture(harnessFixture);
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 1n, max: 2n ** 32n - 1n }),
        fc.bigInt({ min: 1n, max: 1000n }),
        async (n, c) => {
          const [t, fraction] = await h.threshold(n, c);
          const ref = expectedThreshold(n, c);
          expect({ t: Number(t), fraction: Number(fraction) }).to.deep.equal(ref);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("expected checker count is c, overshooting by less than a hundredth of a node", async () => {
    const h = await loadFixture(harnessFixture);
    for (const n of [11n, 30n, 100n, 1_000n, 10_000n, 1_000_000n]) {
      for (const c of [1n, 5n, 10n]) {
        const [t, fraction] = await h.threshold(n, c);
        const expected = expectedCount(n, Number(t), Number(fraction));
        expect(expected).to.be.gte(Number(c) - 1e-6);
        expect(expected).to.be.lt(Number(c) + 0.01);
      }
    }
  });

  it("isSelected: below t always, above t never, at t by the keccak coin (property)", async () => {
    const h = await loadFixture(harnessFixture);
    const word = fc.bigInt({ min: 0n, max: MASK192 });
    await fc.assert(
      fc.asyncProperty(word, word, fc.integer({ min: 0, max: 192 }), fc.integer({ min: 0, max: 0xffff }), async (k, s, t, f) => {
        const [selected, distance] = await h.isSelected(k, s, t, f);
        expect(Number(distance)).to.equal(popcount(k ^ s));
        expect(selected).to.equal(isSelectedRef(k, s, t, f));
      }),
      { numRuns: 40 },
    );
    // Force the tie branch: key = seed ^ (t low bits set) has distance exactly t.
    for (const f of [0, 0x7fff, 0xffff]) {
      const seed = 0x1234n;
      const key = seed ^ ((1n << 50n) - 1n);
      const [selected, distance] = await h.isSelected(key, seed, 50, f);
      expect(distance).to.equal(50n);
      expect(selected).to.equal(isSelectedRef(key, seed, 50, f));
    }
    const [all] = await h.isSelected(5n, 6n, 2, 0xffff);
    expect(all).to.equal(true);
  });
});
