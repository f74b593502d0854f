// The per-round frozen enrollment layout against a model (property test on the real contract).
// The model is a plain array with append and swap-and-pop; the contract must show, for the
// current round, exactly the array as it stood when the round began, whatever enroll/evict
// happen during the round, and for later rounds the array after them — in the same order, since
// the draw maps `keccak(seed, d) % N` to an index of that array.
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, takeSnapshot } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { buildWorld, toNextRound, type HealthWorld } from "./fixture";
import { rebondNode } from "../shared/core-fixture";

const NODES = 8;
const world = async () => {
  const w = await buildWorld({ nodes: NODES, enroll: false, core: { minBondSeconds: 1 }, config: { expectedCheckers: 2 } });
  return w;
};

async function layoutOf(w: HealthWorld, round: bigint): Promise<string[]> {
  const n = await w.health.membersIn(round);
  const out: string[] = [];
  for (let i = 0n; i < n; i++) out.push(await w.health.memberAt(round, i));
  return out;
}

describe("health: frozen enrollment layout (property)", function () {
  this.timeout(240_000);

  it("each round keeps the layout it began with; changes apply from the next round in swap-and-pop order", async () => {
    const w = await loadFixture(world);
    const addr = w.nodes.map((n) => n.staker.address);
    const roundsArb = fc.array(fc.array(fc.integer({ min: 0, max: NODES - 1 }), { maxLength: 4 }), { minLength: 2, maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(roundsArb, async (rounds) => {
        const snapshot = await takeSnapshot();
        try {
          const model: string[] = []; // layout of the rounds after the current one
          const bonded = new Set(addr);
          for (const ops of rounds) {
            const round = await toNextRound(w.health);
            const frozen = [...model];
            expect(await layoutOf(w, round)).to.deep.equal(frozen);
            const leftThisRound = new Set<string>();
            for (const i of ops) {
              const node = w.nodes[i];
              const a = addr[i];
              const at = model.indexOf(a);
              if (at >= 0) {
                if (bonded.has(a)) {
                  await w.core.escrow.connect(node.staker).bondOperator(ethers.ZeroAddress);
                  bonded.delete(a);
                }
                await w.health.evict(a);
                model[at] = model[model.length - 1];
                model.pop();
                leftThisRound.add(a);
              } else {
                if (!bonded.has(a)) {
                  await rebondNode(w.core, node);
                  bonded.add(a);
                }
                if (leftThisRound.has(a)) {
                  await expect(w.health.enroll(a)).to.be.revertedWithCustomError(w.health, "StillLeaving");
                  continue;
                }
                await w.health.enroll(a);
                model.push(a);
              }
              expect(await layoutOf(w, round)).to.deep.equal(frozen);
              expect(await layoutOf(w, round + 1n)).to.deep.equal(model);
            }
            expect(await w.health.enrolledCount()).to.equal(BigInt(model.length));
            for (const [p, a] of model.entries()) expect((await w.health.membershipOf(a)).position).to.equal(BigInt(p));
            if (frozen.length <= 2) {
              // Below quorum + 1 members the round is void (quorum 2 in the fixture).
              await expect(w.health.openRound()).to.emit(w.health, "RoundVoid");
            } else {
              await w.health.openRound();
              const info = await w.health.roundInfo(round);
              for (const t of info.targets) expect(frozen).to.include(t);
              expect(info.candidates).to.equal(BigInt(frozen.length) - info.sampleSize);
            }
          }
        } finally {
          await snapshot.restore();
        }
      }),
      { numRuns: 8 },
    );
  });
});
