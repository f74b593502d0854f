// Attack 2 of issue #13: evidence copied from the mempool. With commit–reveal the reward goes to
// the investigator of the earliest revealed commitment; a copier who commits after seeing the
// reveal gets nothing even when its own reveal is mined first (automine off, higher tip), and a
// node reporting itself still loses the full penalty (the reward is charged on top).
import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, randomBytes } from "ethers";
import { CFRAG_OFFSETS as O, evaluationHints, evidenceHash, toContractEvidence, type CFragEvidence } from "../../src/client/evidence";
import { evidenceCommitment } from "../../src/client/challenge";
import { randomPoint, referenceReencryption, withField } from "../adjudicator/fixtures";
import { deployAdjudicatorSetup, stamped, type AdjudicatorSetup } from "../adjudicator/setup";

describe("acceptance: evidence cannot be stolen (commit–reveal, attack 2)", function () {
  function incorrect(s: AdjudicatorSetup): CFragEvidence {
    const r = referenceReencryption();
    return stamped(s, { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) });
  }

  async function withoutAutomine<T>(f: () => Promise<T>): Promise<T> {
    await network.provider.send("evm_setAutomine", [false]);
    try {
      return await f();
    } finally {
      await network.provider.send("evm_setAutomine", [true]);
    }
  }

  const tip = (gwei: bigint) => ({ maxPriorityFeePerGas: gwei * 10n ** 9n, maxFeePerGas: 500n * 10n ** 9n, gasLimit: 2_000_000n });

  it("copying the reveal's calldata with a higher tip fails; committing after seeing it and revealing first earns nothing", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const [investigator, copier] = [s.investigator, s.core.accounts[6]];
    const evidence = incorrect(s);
    const hash = evidenceHash(evidence);
    const key = evidenceHash(evidence); // the slash record: one per (staker, stamp period)
    const args = toContractEvidence(evidence);
    const hints = evaluationHints(evidence);
    const salt = hexlify(randomBytes(32));
    await (await s.adjudicator.connect(investigator).commitEvidence(evidenceCommitment(hash, investigator.address, salt))).wait();

    await withoutAutomine(async () => {
      // The investigator's reveal is pending with a low tip; the copier replays its calldata with a higher one.
      const honest = await s.adjudicator.connect(investigator).evaluateCFrag(args, hints, salt, tip(1n));
      const replay = await copier.sendTransaction({ to: await s.adjudicator.getAddress(), data: honest.data, ...tip(50n) });
      // ...and, as the better copier, commits to the evidence for itself in the same block.
      const copierSalt = hexlify(randomBytes(32));
      const copierCommit = await s.adjudicator.connect(copier).commitEvidence(evidenceCommitment(hash, copier.address, copierSalt), tip(50n));
      // The honest reveal is held back (e.g. by a builder) while the copier's reveal lands first in the next block.
      await network.provider.send("hardhat_dropTransaction", [honest.hash]);
      await mine(1);
      expect((await ethers.provider.getTransactionReceipt(replay.hash))!.status).to.equal(0); // no commitment of the copier's
      expect((await ethers.provider.getTransactionReceipt(copierCommit.hash))!.status).to.equal(1);
      const copierReveal = await s.adjudicator.connect(copier).evaluateCFrag(args, hints, copierSalt, tip(50n));
      const honestAgain = await s.adjudicator.connect(investigator).evaluateCFrag(args, hints, salt, tip(1n));
      await mine(1);
      const copierReceipt = (await ethers.provider.getTransactionReceipt(copierReveal.hash))!;
      const honestReceipt = (await ethers.provider.getTransactionReceipt(honestAgain.hash))!;
      expect(copierReceipt.status).to.equal(1);
      expect(honestReceipt.status).to.equal(1);
      expect(copierReceipt.index).to.be.lessThan(honestReceipt.index); // the copier's reveal slashed first
      const reassigned = honestReceipt.logs.map((l) => s.adjudicator.interface.parseLog(l)).find((l) => l?.name === "RewardReassigned");
      expect(reassigned?.args.slice(0, 3)).to.deep.equal([key, copier.address, investigator.address]);
    });
    // One slash; the reward belongs to the earliest commitment, and only it can withdraw.
    expect(await s.adjudicator.violations(s.node.staker.address)).to.equal(1n);
    const [owner, reward] = await s.adjudicator.records(key);
    expect(owner).to.equal(investigator.address);
    await mine(Number(await s.adjudicator.CONTEST_BLOCKS()) + 1);
    await expect(s.adjudicator.connect(copier).withdrawReward([key])).to.be.revertedWithCustomError(s.adjudicator, "NotInvestigator");
    await expect(s.adjudicator.connect(investigator).withdrawReward([key])).to.changeTokenBalance(s.core.token, investigator, reward);
    // A later commitment, even revealed now, takes nothing.
    const lateSalt = hexlify(randomBytes(32));
    await (await s.adjudicator.connect(copier).commitEvidence(evidenceCommitment(hash, copier.address, lateSalt))).wait();
    await expect(s.adjudicator.connect(copier).evaluateCFrag(args, hints, lateSalt))
      .to.be.revertedWithCustomError(s.adjudicator, "EvidenceAlreadyUsed")
      .withArgs(key);
  });

  it("a reveal needs its own commitment from an earlier block", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const evidence = incorrect(s);
    const hash = evidenceHash(evidence);
    const salt = hexlify(randomBytes(32));
    const commitment = evidenceCommitment(hash, s.investigator.address, salt);
    expect(await s.adjudicator.evidenceCommitment(hash, s.investigator.address, salt)).to.equal(commitment);
    await expect(s.adjudicator.connect(s.investigator).evaluateCFrag(toContractEvidence(evidence), evaluationHints(evidence), salt))
      .to.be.revertedWithCustomError(s.adjudicator, "UnknownCommitment")
      .withArgs(commitment);
    await withoutAutomine(async () => {
      await s.adjudicator.connect(s.investigator).commitEvidence(commitment, tip(10n));
      const early = await s.adjudicator.connect(s.investigator).evaluateCFrag(toContractEvidence(evidence), evaluationHints(evidence), salt, tip(1n));
      await mine(1);
      expect((await ethers.provider.getTransactionReceipt(early.hash))!.status).to.equal(0); // RevealTooEarly
    });
    await expect(s.adjudicator.connect(s.investigator).commitEvidence(commitment)).to.be.revertedWithCustomError(s.adjudicator, "CommitmentExists");
    await expect(s.adjudicator.connect(s.investigator).evaluateCFrag(toContractEvidence(evidence), evaluationHints(evidence), salt)).to.emit(
      s.adjudicator,
      "IncorrectCFragSlashed",
    );
  });

  it("a node reporting itself (or through a friend) loses at least the full penalty", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const staker = s.node.staker;
    const evidence = incorrect(s);
    const hash = evidenceHash(evidence);
    const penalty = await s.adjudicator.penaltyFor(staker.address);
    const before = (await s.core.escrow.stakeOf(staker.address)).amount + (await s.core.token.balanceOf(staker.address));
    const salt = hexlify(randomBytes(32));
    await (await s.adjudicator.connect(staker).commitEvidence(evidenceCommitment(hash, staker.address, salt))).wait();
    await (await s.adjudicator.connect(staker).evaluateCFrag(toContractEvidence(evidence), evaluationHints(evidence), salt)).wait();
    await mine(Number(await s.adjudicator.CONTEST_BLOCKS()) + 1);
    await (await s.adjudicator.connect(staker).withdrawReward([evidenceHash(evidence)])).wait();
    const after = (await s.core.escrow.stakeOf(staker.address)).amount + (await s.core.token.balanceOf(staker.address));
    expect(before - after).to.equal(penalty); // penalty + reward slashed, the reward paid back: the penalty is lost
  });
});
