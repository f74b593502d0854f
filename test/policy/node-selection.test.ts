import { expect } from "chai";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  NodeCandidate,
  NodeSelectionError,
  Sha256CounterStream,
  hammingDistance,
  orderForPolicy,
  policyIdHash,
  selectNodes,
} from "../../src/client/node-selection";

const enc = new TextEncoder();
const h = (s: string): Uint8Array => sha256(enc.encode(s));

function candidate(i: number, stake: bigint, extra: Partial<NodeCandidate> = {}): NodeCandidate {
  return {
    staker: "0x" + (i + 1).toString(16).padStart(40, "0"),
    stake,
    eligible: true,
    quotaLeft: 10,
    keyHash: h(`key-${i}`),
    ...extra,
  };
}

/** Pearson chi-square statistic of observed counts against expected probabilities. */
function chiSquare(observed: number[], expectedP: number[], trials: number): number {
  return observed.reduce((acc, o, i) => {
    const e = expectedP[i] * trials;
    return acc + ((o - e) * (o - e)) / e;
  }, 0);
}

// Upper critical values of chi-square at p = 0.001 (the seeds are fixed, so a pass is a pass).
const CHI2_999: Record<number, number> = { 3: 16.27, 4: 18.47, 5: 20.52 };

/** Inclusion probabilities of successive stake-weighted sampling without replacement (exact). */
function inclusionProbabilities(stakes: number[], k: number): number[] {
  const result = stakes.map(() => 0);
  const walk = (remaining: number[], prob: number, depth: number): void => {
    if (depth === k) return;
    const total = remaining.reduce((a, i) => a + stakes[i], 0);
    for (const i of remaining) {
      const p = (prob * stakes[i]) / total;
      result[i] += p;
      walk(
        remaining.filter((j) => j !== i),
        p,
        depth + 1,
      );
    }
  };
  walk(
    stakes.map((_, i) => i),
    1,
    0,
  );
  return result;
}

describe("policy: node selection", () => {
  it("is deterministic for a seed and changes with the seed", () => {
    const cs = Array.from({ length: 12 }, (_, i) => candidate(i, BigInt(1 + i) * 10n ** 21n));
    const opts = { count: 5, policyId: h("p").slice(0, 16), seed: h("seed-1") };
    const a = selectNodes(cs, opts);
    expect(selectNodes(cs, opts)).to.deep.equal(a);
    expect(new Set(a).size).to.equal(5);
    const b = selectNodes(cs, { ...opts, seed: h("seed-2") });
    expect(b).to.not.deep.equal(a);
  });

  it("picks nodes in proportion to stake (one node per policy, chi-square)", () => {
    const stakes = [1, 2, 3, 4, 10];
    const cs = stakes.map((s, i) => candidate(i, BigInt(s) * 10n ** 21n));
    const trials = 4000;
    const counts = stakes.map(() => 0);
    for (let t = 0; t < trials; t++) {
      const [chosen] = selectNodes(cs, { count: 1, policyId: h(`policy-${t}`).slice(0, 16), seed: h(`seed-${t}`) });
      counts[cs.findIndex((c) => c.staker === chosen)]++;
    }
    const total = stakes.reduce((a, b) => a + b, 0);
    const chi = chiSquare(counts, stakes.map((s) => s / total), trials);
    expect(chi, `counts ${counts}`).to.be.below(CHI2_999[4]);
  });

  it("matches successive weighted sampling without replacement for 3 of 6 nodes (chi-square)", () => {
    const stakes = [1, 1, 2, 3, 5, 8];
    const cs = stakes.map((s, i) => candidate(i, BigInt(s) * 10n ** 20n));
    const trials = 2500;
    const counts = stakes.map(() => 0);
    for (let t = 0; t < trials; t++) {
      const chosen = selectNodes(cs, { count: 3, policyId: h(`p3-${t}`).slice(0, 16), seed: h(`s3-${t}`) });
      for (const c of chosen) counts[cs.findIndex((x) => x.staker === c)]++;
    }
    const pi = inclusionProbabilities(stakes, 3);
    // Per-node inclusion counts: each is Binomial(trials, pi); sum of squared z-scores ~ chi-square(5).
    const chi = counts.reduce((acc, o, i) => {
      const e = pi[i] * trials;
      return acc + ((o - e) * (o - e)) / (e * (1 - pi[i]));
    }, 0);
    expect(chi, `counts ${counts} expected ${pi.map((p) => (p * trials).toFixed(0))}`).to.be.below(CHI2_999[5]);
  });

  it("prefers the candidate whose key hash is closest to the policy-id hash", () => {
    // Two equal stakes and many draws per slot: nearly always both are drawn, so the Hamming rule decides.
    const policyId = h("hamming").slice(0, 16);
    const cs = [candidate(0, 10n ** 21n), candidate(1, 10n ** 21n)];
    const target = policyIdHash(policyId, 0);
    const closer = hammingDistance(cs[0].keyHash, target) < hammingDistance(cs[1].keyHash, target) ? 0 : 1;
    let wins = 0;
    for (let t = 0; t < 50; t++) {
      const [chosen] = selectNodes(cs, { count: 1, policyId, seed: h(`hs-${t}`), candidatesPerSlot: 16 });
      if (chosen === cs[closer].staker) wins++;
    }
    expect(wins).to.equal(50);
  });

  it("never picks ineligible, zero-stake or quota-exhausted nodes", () => {
    const cs = [
      candidate(0, 10n ** 24n, { eligible: false }),
      candidate(1, 10n ** 24n, { quotaLeft: 0 }),
      candidate(2, 0n),
      candidate(3, 1n),
      candidate(4, 2n),
    ];
    for (let t = 0; t < 30; t++) {
      const chosen = selectNodes(cs, { count: 2, policyId: h(`e-${t}`).slice(0, 16), seed: h(`e-${t}`) });
      expect(orderForPolicy(chosen)).to.deep.equal([cs[3].staker, cs[4].staker]);
    }
  });

  it("fails with NOT_ENOUGH_NODES or INVALID_INPUT codes", () => {
    const cs = [candidate(0, 5n), candidate(1, 5n, { eligible: false })];
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).to.be.instanceOf(NodeSelectionError);
        return (e as NodeSelectionError).code;
      }
      return "no error";
    };
    const base = { policyId: new Uint8Array(16), seed: new Uint8Array(32) };
    expect(code(() => selectNodes(cs, { ...base, count: 2 }))).to.equal("NOT_ENOUGH_NODES");
    expect(code(() => selectNodes(cs, { ...base, count: 0 }))).to.equal("INVALID_INPUT");
    expect(code(() => selectNodes(cs, { ...base, count: 1, candidatesPerSlot: 0 }))).to.equal("INVALID_INPUT");
    expect(code(() => selectNodes([cs[0], cs[0]], { ...base, count: 1 }))).to.equal("INVALID_INPUT");
    expect(code(() => selectNodes([candidate(0, 1n, { keyHash: new Uint8Array(31) })], { ...base, count: 1 }))).to.equal(
      "INVALID_INPUT",
    );
  });

  it("draws uniform integers without bias and reproducibly", () => {
    const a = new Sha256CounterStream(h("u"));
    const b = new Sha256CounterStream(h("u"));
    const xs = Array.from({ length: 3000 }, () => Number(a.uniformBelow(3n)));
    expect(xs.slice(0, 20)).to.deep.equal(Array.from({ length: 20 }, () => Number(b.uniformBelow(3n))));
    const counts = [0, 1, 2].map((v) => xs.filter((x) => x === v).length);
    expect(chiSquare(counts, [1 / 3, 1 / 3, 1 / 3], 3000)).to.be.below(13.82); // df 2, p = 0.001
    expect(new Sha256CounterStream(h("u")).nextBytes(70)).to.have.length(70);
  });

  it("sorts stakers ascending for createPolicy", () => {
    expect(orderForPolicy(["0x00000000000000000000000000000000000000ff", "0x0000000000000000000000000000000000000010"])).to.deep.equal([
      "0x0000000000000000000000000000000000000010",
      "0x00000000000000000000000000000000000000ff",
    ]);
  });
});
