import { expect } from "chai";
import { advancePeriods } from "../shared/core-fixture";
import { ethers, network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { leakCommitment, parseLeakEvidence, revealArgs, serializeLeakEvidence } from "../../src/client/leak-evidence";
import { NODE_RATE, TOKEN } from "../policy/fixture";
import { LEAK_PARAMS, LeakWorld, commit, deployLeakWorld, hex, leakNode, leakPolicy, reveal } from "./leak-setup";

const { basePenalty, maxPenaltyBps, challengerShareBps } = LEAK_PARAMS;
const min = (a: bigint, b: bigint) => (a < b ? a : b);

describe("adjudicator: key-leak challenge (LeakAdjudicator + PolicyManager.revokeForLeak)", function () {
  async function fixture() {
    const w = await deployLeakWorld();
    const x = await leakNode(w, 0);
    const y = await leakNode(w, 1);
    return { w, x, y };
  }

  async function balance(w: LeakWorld, who: HardhatEthersSigner): Promise<bigint> {
    return w.core.token.balanceOf(who.address);
  }

  it("a third party proves a leak: the node forfeits its penalty to the reserve, the bounty comes out of the owner's refund", async function () {
    const { w, x, y } = await loadFixture(fixture);
    const p = await leakPolicy(w, [x.staker.address, y.staker.address], 6);
    const i = p.nodes.indexOf(x.staker.address);
    const evidence = p.evidenceFor(i);
    const salt = await commit(w, w.challenger, evidence);

    const penalty = min(basePenalty, (x.amount * maxPenaltyBps) / 10_000n);
    expect(await w.leak.penaltyFor(x.staker.address)).to.equal(penalty);
    const period = await w.pm.currentPeriod();
    const refundable = p.feeRate * (p.endPeriod - period);
    const bounty = min((penalty * challengerShareBps) / 10_000n, refundable);
    const [aliceBefore, challengerBefore] = [await balance(w, w.alice), await balance(w, w.challenger)];
    const reserveBefore = await w.core.escrow.reserve();

    await expect(reveal(w, w.challenger, evidence, salt))
      .to.emit(w.leak, "LeakProven")
      .withArgs(hex(p.policyId), x.staker.address, w.challenger.address, penalty, penalty, bounty, refundable - bounty, 1n)
      .and.to.emit(w.pm, "ArrangementRevoked") // what node agents watch to purge the kfrag
      .withArgs(hex(p.policyId), x.staker.address, refundable - bounty)
      .and.to.emit(w.pm, "ArrangementRevokedForLeak")
      .withArgs(hex(p.policyId), x.staker.address, w.challenger.address, bounty, refundable - bounty)
      .and.to.emit(w.core.escrow, "Slashed")
      .withArgs(x.staker.address, penalty, 0n, 1n);

    expect(await balance(w, w.challenger)).to.equal(challengerBefore + bounty);
    expect(await balance(w, w.alice)).to.equal(aliceBefore + refundable - bounty);
    expect((await w.core.escrow.stakeOf(x.staker.address)).amount).to.equal(x.amount - penalty);
    expect(await w.core.escrow.reserve()).to.equal(reserveBefore + penalty);
    expect(await w.pm.isActiveArrangement(hex(p.policyId), x.staker.address)).to.equal(false);
    expect(await w.pm.isActiveArrangement(hex(p.policyId), y.staker.address)).to.equal(true);
    expect((await w.core.escrow.slashingStateOf(x.staker.address)).violations).to.equal(1n);

    // The same leak cannot be punished twice.
    const again = await commit(w, w.challenger, evidence);
    await expect(reveal(w, w.challenger, evidence, again)).to.be.revertedWithCustomError(w.leak, "LeakAlreadyPunished");
  });

  it("is front-running resistant: a copied reveal, a same-block commit+reveal and a reused salt all fail", async function () {
    const { w, x } = await loadFixture(fixture);
    const p = await leakPolicy(w, [x.staker.address], 4);
    const evidence = p.evidenceFor(0);
    const salt = await commit(w, w.challenger, evidence);

    // A watcher copies the pending reveal's arguments: its address is not the committed one.
    const copied = leakCommitment(w.stranger.address, evidence, salt);
    await expect(reveal(w, w.stranger, evidence, salt)).to.be.revertedWithCustomError(w.leak, "UnknownCommitment").withArgs(copied);

    // The watcher commits and reveals in the same block as the victim's reveal: too early.
    await network.provider.send("evm_setAutomine", [false]);
    try {
      const theirSalt = new Uint8Array(32).fill(9);
      const c = await w.leak.connect(w.stranger).commitLeak(leakCommitment(w.stranger.address, evidence, theirSalt), { gasLimit: 200_000 });
      const r = await w.leak.connect(w.stranger).revealLeak(...revealArgs(evidence, theirSalt), { gasLimit: 1_000_000 });
      await network.provider.send("evm_mine", []);
      expect((await c.wait())!.status).to.equal(1);
      await r.wait().then(
        () => expect.fail("same-block reveal succeeded"),
        () => undefined,
      );
    } finally {
      await network.provider.send("evm_setAutomine", [true]);
    }
    // The honest challenger, committed earlier, reveals and wins; the watcher's own commitment
    // (now a block old) is worthless: the leak is already punished.
    await expect(reveal(w, w.challenger, evidence, salt)).to.emit(w.leak, "LeakProven");
    const theirSalt = new Uint8Array(32).fill(9);
    await expect(reveal(w, w.stranger, evidence, theirSalt)).to.be.revertedWithCustomError(w.leak, "LeakAlreadyPunished");
    // A used commitment is gone.
    await expect(reveal(w, w.challenger, evidence, salt)).to.be.revertedWithCustomError(w.leak, "UnknownCommitment");
    await expect(w.leak.connect(w.challenger).commitLeak(leakCommitment(w.challenger.address, evidence, theirSalt)))
      .to.emit(w.leak, "LeakCommitted");
    await expect(w.leak.connect(w.challenger).commitLeak(leakCommitment(w.challenger.address, evidence, theirSalt)))
      .to.be.revertedWithCustomError(w.leak, "CommitmentExists");
  });

  it("rejects a kfrag the commitment does not bind to the node, and wrong proofs or nodes", async function () {
    const { w, x, y } = await loadFixture(fixture);
    const p = await leakPolicy(w, [x.staker.address, y.staker.address], 3);
    const ix = p.nodes.indexOf(x.staker.address);
    const iy = 1 - ix;
    const cases = [
      { name: "the other node's kfrag", evidence: { ...p.evidenceFor(ix), kfrag: p.kfrags[iy] } },
      { name: "a tampered kfrag", evidence: { ...p.evidenceFor(ix), kfrag: Uint8Array.from(p.kfrags[ix], (b, k) => (k === 100 ? b ^ 1 : b)) } },
      { name: "the right kfrag, wrong proof", evidence: { ...p.evidenceFor(ix), proof: p.evidenceFor(iy).proof } },
      { name: "a node outside the policy", evidence: { ...p.evidenceFor(ix), staker: w.stranger.address } },
    ];
    for (const { name, evidence } of cases) {
      const salt = await commit(w, w.challenger, evidence);
      await expect(reveal(w, w.challenger, evidence, salt), name).to.be.revertedWithCustomError(w.leak, "KfragNotCommitted");
    }
    expect((await w.core.escrow.stakeOf(x.staker.address)).amount).to.equal(x.amount);
  });

  it("a leak stays punishable after the arrangement ended (revoked or expired): the node forfeits, nobody is paid", async function () {
    const { w, x, y } = await loadFixture(fixture);
    const revoked = await leakPolicy(w, [x.staker.address, y.staker.address], 4);
    const expired = await leakPolicy(w, [x.staker.address, y.staker.address], 1);
    await (await w.pm.connect(w.alice).revokeArrangement(hex(revoked.policyId), x.staker.address)).wait();
    await time.increaseTo((expired.endPeriod + 1n) * BigInt(w.core.params.secondsPerPeriod));
    expect(await w.pm.isActiveArrangement(hex(expired.policyId), x.staker.address)).to.equal(false);

    let stake = x.amount;
    for (const [n, p] of [revoked, expired].entries()) {
      const evidence = p.evidenceFor(p.nodes.indexOf(x.staker.address));
      const salt = await commit(w, w.challenger, evidence);
      const charged = min(basePenalty + LEAK_PARAMS.penaltyHistoryCoefficient * BigInt(n), (stake * maxPenaltyBps) / 10_000n);
      const [aliceBefore, challengerBefore] = [await balance(w, w.alice), await balance(w, w.challenger)];
      await expect(reveal(w, w.challenger, evidence, salt))
        .to.emit(w.leak, "LeakProven")
        .withArgs(hex(p.policyId), x.staker.address, w.challenger.address, charged, charged, 0n, 0n, BigInt(n + 1))
        .and.not.to.emit(w.pm, "ArrangementRevokedForLeak");
      stake -= charged;
      expect((await w.core.escrow.stakeOf(x.staker.address)).amount).to.equal(stake);
      expect(await balance(w, w.alice)).to.equal(aliceBefore);
      expect(await balance(w, w.challenger)).to.equal(challengerBefore);
      const again = await commit(w, w.challenger, evidence);
      await expect(reveal(w, w.challenger, evidence, again)).to.be.revertedWithCustomError(w.leak, "LeakAlreadyPunished");
    }
  });

  it("repeat leaks cost base + history · violations, capped at maxPenaltyBps of the stake", async function () {
    const { w, x, y } = await loadFixture(fixture);
    let stake = x.amount;
    for (let n = 0n; n < 3n; n++) {
      // The escrow slashes a staker at most MAX_SLASHES_PER_PERIOD times per period.
      if (n === 2n) await advancePeriods(w.core, 1);
      const p = await leakPolicy(w, [x.staker.address, y.staker.address], 4);
      const evidence = p.evidenceFor(p.nodes.indexOf(x.staker.address));
      const salt = await commit(w, w.challenger, evidence);
      const expected = min(basePenalty + LEAK_PARAMS.penaltyHistoryCoefficient * n, (stake * maxPenaltyBps) / 10_000n);
      expect(await w.leak.penaltyFor(x.staker.address)).to.equal(expected);
      await (await reveal(w, w.challenger, evidence, salt)).wait();
      stake -= expected;
      expect((await w.core.escrow.stakeOf(x.staker.address)).amount).to.equal(stake);
    }
    expect((await w.core.escrow.slashingStateOf(x.staker.address)).violations).to.equal(3n);
  });

  it("leak evidence files round-trip and malformed ones are refused", async function () {
    const { w, x } = await loadFixture(fixture);
    const p = await leakPolicy(w, [x.staker.address], 2);
    const evidence = p.evidenceFor(0);
    expect(parseLeakEvidence(serializeLeakEvidence(evidence))).to.deep.equal(evidence);
    expect(() => parseLeakEvidence("nope")).to.throw(/not valid JSON/);
    expect(() => parseLeakEvidence(serializeLeakEvidence(evidence).replace(/"kfrag": "0x../, '"kfrag": "0x'))).to.throw(/310 bytes/);
    expect(await w.leak.leakCommitment(w.challenger.address, hex(p.policyId), x.staker.address, ethers.keccak256(evidence.kfrag), hex(new Uint8Array(32))))
      .to.equal(leakCommitment(w.challenger.address, evidence, new Uint8Array(32)));
  });

  it("constructor validates wiring and parameters", async function () {
    const { w } = await loadFixture(fixture);
    const F = await ethers.getContractFactory("LeakAdjudicator");
    const pm = await w.pm.getAddress();
    await expect(F.deploy(ethers.ZeroAddress, pm, 1, 1, 1, 1)).to.be.revertedWithCustomError(F, "ZeroAddress");
    await expect(F.deploy(w.core.escrowAddress, ethers.ZeroAddress, 1, 1, 1, 1)).to.be.revertedWithCustomError(F, "ZeroAddress");
    await expect(F.deploy(w.core.escrowAddress, pm, 1, 1, 0, 1)).to.be.revertedWithCustomError(F, "InvalidParameters");
    await expect(F.deploy(w.core.escrowAddress, pm, 1, 1, 1, 10_001)).to.be.revertedWithCustomError(F, "InvalidParameters");
  });

  it("property: at every moment t, for any fee rate and collateral, the owner's payoff from challenging her own node ≤ her payoff from revoking", async function () {
    this.timeout(240_000);
    const base = async () => deployLeakWorld();
    const period = BigInt((await loadFixture(base)).core.params.secondsPerPeriod);
    let provenRuns = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }), // policy length in periods
        fc.integer({ min: 0, max: 9 }), // whole periods elapsed before the challenge (may pass the end)
        fc.integer({ min: 0, max: Number(period) - 60 }), // seconds into that period
        fc.bigInt({ min: NODE_RATE, max: 100_000n * TOKEN }), // fee rate
        fc.bigInt({ min: 1n, max: 400n }), // collateral: stake = k · minStake
        fc.boolean(), // the owner challenges from a second address of hers
        async (periods, elapsed, offset, feeRate, k, sybil) => {
          const w = await loadFixture(base);
          const x = await leakNode(w, 0, w.core.params.minStake * k);
          const p = await leakPolicy(w, [x.staker.address], periods, feeRate);
          const evidence = p.evidenceFor(0);
          const challenger = sybil ? w.core.accounts[14] : w.alice;
          const start = BigInt(await time.latest());
          const target = (start / period + BigInt(elapsed)) * period + BigInt(offset);
          await time.setNextBlockTimestamp(target > start ? target : start + 1n);
          const salt = await commit(w, challenger, evidence);
          const at = BigInt(await time.latest()) + 12n; // the same moment in both branches
          const wealth = async () => (await balance(w, w.alice)) + (sybil ? await balance(w, challenger) : 0n);

          const snapshot = await network.provider.send("evm_snapshot", []);
          let before = await wealth();
          await time.setNextBlockTimestamp(at);
          await w.pm.connect(w.alice).revokeArrangement(hex(p.policyId), x.staker.address).then((tx) => tx.wait()).catch(() => null);
          const revokePayoff = (await wealth()) - before;
          await network.provider.send("evm_revert", [snapshot]);

          before = await wealth();
          await time.setNextBlockTimestamp(at);
          const proven = await reveal(w, challenger, evidence, salt).then((tx) => tx.wait()).then(() => true, () => false);
          const challengePayoff = (await wealth()) - before;

          expect(challengePayoff <= revokePayoff, `challenge ${challengePayoff} > revoke ${revokePayoff}`).to.equal(true);
          // Gas aside, the two are equal: the bounty is carved out of the same refund.
          expect(challengePayoff).to.equal(revokePayoff);
          if (proven) {
            provenRuns++;
            expect((await w.core.escrow.stakeOf(x.staker.address)).amount).to.be.lessThan(x.amount);
          }
        },
      ),
      { numRuns: 30 },
    );
    expect(provenRuns).to.be.greaterThan(0);
  });
});
