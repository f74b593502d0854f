// Issue #14, properties of leak challenges with a REAL kfrag the node acknowledged (a receipt signed
// by its stamp key): the owner made every kfrag, so she or anyone she hands it to can "prove a
// leak". What must hold whatever she does:
//  1. griefing factor ≤ 1: the node's loss ≤ what the attacker side (owner + her friend) paid net,
//     and the node never ends below zero on the arrangement (loss ≤ fees it was credited for it),
//     over fee rate, duration, collateralBps, challenge time, revocation timing (none, before the
//     commitment, in the commitment's block before or after it with automine off, between commit
//     and reveal) and challenger (owner, owner's friend, a third party she gave the kfrag to);
//  2. at every moment, challenging her own node never pays the owner more than revoking.
import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { randomBytes } from "node:crypto";
import { commitArgs, revealArgs } from "../../src/client/leak-evidence";
import type { LeakAdjudicator } from "../../typechain-types";
import { NODE_RATE, TOKEN } from "../policy/fixture";
import { LEAK_PARAMS, commit, deployLeakWorld, hex, leakNode, leakPolicy, reveal, signReceipt, type LeakWorld } from "./leak-setup";

type Revocation = "none" | "beforeCommit" | "sameBlockBefore" | "sameBlockAfter" | "betweenCommitAndReveal";
type Challenger = "owner" | "friend" | "thirdParty";

describe("adjudicator: leak-challenge properties (issue #14)", function () {
  this.timeout(600_000);

  async function base() {
    const w = await deployLeakWorld();
    const x = await leakNode(w, 0, 150_000n * TOKEN);
    return { w, x };
  }

  /** The same world with a LeakAdjudicator of the given collateralBps (immutable) wired in. */
  async function withCollateral(w: LeakWorld, collateralBps: bigint): Promise<LeakWorld> {
    const leak = (await ethers.deployContract("LeakAdjudicator", [
      w.core.escrowAddress,
      await w.pm.getAddress(),
      collateralBps,
      LEAK_PARAMS.challengerShareBps,
      LEAK_PARAMS.revealWindowBlocks,
    ])) as unknown as LeakAdjudicator;
    await (await w.core.escrow.grantRole(await w.core.escrow.LEAK_FORFEITER_ROLE(), await leak.getAddress())).wait();
    await (await w.pm.grantRole(await w.pm.LEAK_ADJUDICATOR_ROLE(), await leak.getAddress())).wait();
    return { ...w, leak, params: { ...LEAK_PARAMS, collateralBps } };
  }

  it("property: griefing factor ≤ 1 and an honest node never ends below zero on the arrangement", async function () {
    const period = BigInt((await loadFixture(base)).w.core.params.secondsPerPeriod);
    let maxRatio = 0;
    let proven = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }), // policy length in periods
        fc.bigInt({ min: NODE_RATE, max: 10_000n * TOKEN }), // fee rate
        fc.bigInt({ min: 1n, max: 10_000n }), // collateralBps
        fc.integer({ min: 0, max: 9 }), // whole periods before the challenge (may pass the end)
        fc.constantFrom<Revocation>("none", "beforeCommit", "sameBlockBefore", "sameBlockAfter", "betweenCommitAndReveal"),
        fc.constantFrom<Challenger>("owner", "friend", "thirdParty"),
        async (periods, feeRate, bps, elapsed, revocation, who) => {
          const { w: w0, x } = await loadFixture(base);
          const w = await withCollateral(w0, bps);
          const friend = w.core.accounts[14];
          const challenger = who === "owner" ? w.alice : who === "friend" ? friend : w.challenger;
          const attackerWealth = async () => (await w.core.token.balanceOf(w.alice.address)) + (await w.core.token.balanceOf(friend.address));
          const wealth0 = await attackerWealth();
          const fees0 = (await w.pm.nodeFees(x.staker.address)).feeBalance;
          const p = await leakPolicy(w, [x.staker.address], periods, feeRate);
          const pid = hex(p.policyId);
          // The node accepted the kfrag and returned its receipt on upload.
          const e = p.evidenceFor(0, await signReceipt(w, x.stampSecretKey, x.staker.address, p.creator, p.policyId, p.kfrags[0]));
          if (elapsed > 0) await time.increaseTo((BigInt(await time.latest()) / period + BigInt(elapsed)) * period + 1n);
          const revoke = (opts = {}) => w.pm.connect(w.alice).revokeArrangement(pid, x.staker.address, opts);
          const tryRevoke = () => revoke().then((t) => t.wait()).catch(() => null); // may have expired
          const salt = new Uint8Array(randomBytes(32));
          if (revocation === "beforeCommit") await tryRevoke();
          if (revocation === "sameBlockBefore" || revocation === "sameBlockAfter") {
            await network.provider.send("evm_setAutomine", [false]);
            try {
              const c = () => w.leak.connect(challenger).commitLeak(...commitArgs(challenger.address, e, salt), { gasLimit: 500_000 });
              const r = () => revoke({ gasLimit: 500_000 });
              if (revocation === "sameBlockBefore") {
                await r();
                await c();
              } else {
                await c();
                await r();
              }
              await network.provider.send("evm_mine", []);
            } finally {
              await network.provider.send("evm_setAutomine", [true]);
            }
          } else {
            await (await w.leak.connect(challenger).commitLeak(...commitArgs(challenger.address, e, salt))).wait();
          }
          if (revocation === "betweenCommitAndReveal") await tryRevoke();
          const ok = await w.leak
            .connect(challenger)
            .revealLeak(revealArgs(e, salt))
            .then((t) => t.wait())
            .then(
              () => true,
              () => false,
            );
          if (ok) proven++;
          // Whatever is still held goes back to the owner after the window.
          const hold = await w.pm.leakHold(pid, x.staker.address);
          if (hold.revokedBlock !== 0n) {
            await mine(Number(LEAK_PARAMS.revealWindowBlocks) + 1);
            await (await w.pm.releaseLeakHold(pid, x.staker.address)).wait();
          }
          await (await w.pm.settle(pid)).wait();
          const damage = x.amount - (await w.core.escrow.stakeOf(x.staker.address)).amount;
          const paidNet = wealth0 - (await attackerWealth());
          const credited = (await w.pm.nodeFees(x.staker.address)).feeBalance - fees0;
          expect(damage <= paidNet, `damage ${damage} > attacker's net payment ${paidNet}`).to.equal(true);
          expect(damage <= credited, `damage ${damage} > fees credited ${credited}`).to.equal(true);
          if (paidNet > 0n) maxRatio = Math.max(maxRatio, Number((damage * 1_000_000n) / paidNet) / 1_000_000);
        },
      ),
      { numRuns: 40, seed: 1414, endOnFailure: true },
    );
    console.log(`      ${proven}/40 runs proved a leak; max griefing ratio (node's loss / attacker's net payment) = ${maxRatio}`);
    expect(proven).to.be.greaterThan(0);
    expect(maxRatio).to.be.at.most(1);
  });

  it("property: at every moment t, for any fee rate and collateral, the owner's payoff from challenging her own node ≤ her payoff from revoking", async function () {
    const period = BigInt((await loadFixture(base)).w.core.params.secondsPerPeriod);
    let provenRuns = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 0, max: Number(period) - 60 }),
        fc.bigInt({ min: NODE_RATE, max: 100_000n * TOKEN }),
        fc.bigInt({ min: 1n, max: 10_000n }),
        fc.boolean(), // the owner challenges from a second address of hers
        async (periods, elapsed, offset, feeRate, bps, sybil) => {
          const { w: w0, x } = await loadFixture(base);
          const w = await withCollateral(w0, bps);
          const p = await leakPolicy(w, [x.staker.address], periods, feeRate);
          const e = p.evidenceFor(0, await signReceipt(w, x.stampSecretKey, x.staker.address, p.creator, p.policyId, p.kfrags[0]));
          const challenger = sybil ? w.core.accounts[14] : w.alice;
          const start = BigInt(await time.latest());
          const target = (start / period + BigInt(elapsed)) * period + BigInt(offset);
          await time.setNextBlockTimestamp(target > start ? target : start + 1n);
          const salt = await commit(w, challenger, e);
          const at = BigInt(await time.latest()) + 12n;
          const wealth = async () => (await w.core.token.balanceOf(w.alice.address)) + (sybil ? await w.core.token.balanceOf(challenger.address) : 0n);

          const snapshot = await network.provider.send("evm_snapshot", []);
          let before = await wealth();
          await time.setNextBlockTimestamp(at);
          await w.pm.connect(w.alice).revokeArrangement(hex(p.policyId), x.staker.address).then((tx) => tx.wait()).catch(() => null);
          // Her own open commitment held part of the refund back: it comes back after the window.
          if ((await w.pm.leakHold(hex(p.policyId), x.staker.address)).revokedBlock !== 0n) {
            await mine(Number(LEAK_PARAMS.revealWindowBlocks) + 1);
            await (await w.pm.releaseLeakHold(hex(p.policyId), x.staker.address)).wait();
          }
          const revokePayoff = (await wealth()) - before;
          await network.provider.send("evm_revert", [snapshot]);

          before = await wealth();
          await time.setNextBlockTimestamp(at);
          const ok = await reveal(w, challenger, e, salt).then((tx) => tx.wait()).then(() => true, () => false);
          const challengePayoff = (await wealth()) - before;
          expect(challengePayoff <= revokePayoff, `challenge ${challengePayoff} > revoke ${revokePayoff}`).to.equal(true);
          expect(challengePayoff).to.equal(revokePayoff); // the bounty is carved out of the same refund
          if (ok) {
            provenRuns++;
            expect((await w.core.escrow.stakeOf(x.staker.address)).amount).to.be.lessThan(x.amount);
          }
        },
      ),
      { numRuns: 25, seed: 1415, endOnFailure: true },
    );
    expect(provenRuns).to.be.greaterThan(0);
  });
});
