// The ways a node could make itself unslashable, each closed (security review, hardening phase):
//  (a) re-registering a new stamp key to void stamps made with the old one,
//  (b) registering a stamp key it does not hold (tested in test/staking/escrow.test.ts: the key
//      proof), and unbonding its operator to hide its key,
//  (c) starting to unlock and withdrawing before the evidence lands.
// Real cfrags from the reference implementation, the real escrow and Adjudicator.
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { CFRAG_OFFSETS as O, evaluationHints, toContractEvidence, type CFragEvidence } from "../../src/client/evidence";
import { advancePeriods, registerNode } from "../shared/core-fixture";
import { randomPoint, referenceReencryption, withField } from "./fixtures";
import { deployAdjudicatorSetup, evaluateWithCommit, stamped, type AdjudicatorSetup } from "./setup";

describe("adjudicator: a node cannot escape slashing", function () {
  function evaluate(s: AdjudicatorSetup, evidence: CFragEvidence) {
    return evaluateWithCommit(s.adjudicator, s.investigator, toContractEvidence(evidence), evaluationHints(evidence));
  }

  /** An incorrect cfrag stamped by the node's key `stampSecretKey`. */
  function incorrect(s: AdjudicatorSetup, stampSecretKey = s.stampSecretKey): CFragEvidence {
    const r = referenceReencryption();
    const node = { ...s.node, verifyingKey: secp256k1.getPublicKey(stampSecretKey, true) };
    return stamped({ ...s, node, stampSecretKey }, { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) });
  }

  /** The node's operator registers a fresh stamp key (allowed once per grace). */
  async function rotateKey(s: AdjudicatorSetup): Promise<Uint8Array> {
    const secret = secp256k1.utils.randomSecretKey();
    await registerNode(s.core, s.node.staker.address, s.node.operator, { endpoint: s.node.endpoint, stampSecretKey: secret });
    return secret;
  }

  it("(a) a stamp made before a key change still slashes; the key changes at most once per grace", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const { escrow } = s.core;
    const grace = s.core.params.slashingGracePeriods;
    const oldStamp = incorrect(s); // made with the registered key
    // Right after registration the key cannot change: the old one would leave the window too early.
    const since = await escrow.currentPeriod();
    await expect(rotateKey(s)).to.be.revertedWithCustomError(escrow, "KeyRotationTooSoon").withArgs(since + BigInt(grace));
    await advancePeriods(s.core, grace);
    const newSecret = await rotateKey(s);
    const oldSigner = ethers.computeAddress(ethers.hexlify(s.node.verifyingKey));
    const newSigner = ethers.computeAddress(ethers.hexlify(secp256k1.getPublicKey(newSecret, true)));
    expect(await escrow.stampKeysOf(s.node.staker.address)).to.deep.equal([newSigner, oldSigner]);
    // nodeInfo publishes only the new key, but the old stamp still slashes…
    expect((await escrow.nodeInfo(s.node.staker.address)).verifyingKey).to.not.equal(ethers.hexlify(s.node.verifyingKey));
    await expect(evaluate(s, oldStamp)).to.emit(s.adjudicator, "IncorrectCFragSlashed");
    // …and so do stamps by the new key.
    await expect(evaluate(s, incorrect(s, newSecret))).to.emit(s.adjudicator, "IncorrectCFragSlashed");
    // A second change inside the window is refused, which keeps the old key provable.
    await advancePeriods(s.core, grace - 1);
    await expect(rotateKey(s)).to.be.revertedWithCustomError(escrow, "KeyRotationTooSoon");
    await expect(evaluate(s, incorrect(s))).to.emit(s.adjudicator, "IncorrectCFragSlashed");
  });

  it("(a) a replaced key stops counting after its window, so a leaked retired key cannot frame the node", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const grace = s.core.params.slashingGracePeriods;
    await advancePeriods(s.core, grace);
    const newSecret = await rotateKey(s);
    await advancePeriods(s.core, grace);
    const [, previous] = await s.core.escrow.stampKeysOf(s.node.staker.address);
    expect(previous).to.equal(ethers.ZeroAddress);
    await expect(evaluate(s, incorrect(s))).to.be.revertedWithCustomError(s.adjudicator, "InvalidStampSignature");
    await expect(evaluate(s, incorrect(s, newSecret))).to.emit(s.adjudicator, "IncorrectCFragSlashed");
  });

  it("(b) unbonding the operator does not hide the stamp key", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const evidence = incorrect(s);
    await time.increase(s.core.params.minBondSeconds);
    await s.core.escrow.connect(s.node.staker).bondOperator(ethers.ZeroAddress);
    expect(await s.core.escrow.isRegistered(s.node.staker.address)).to.equal(false);
    await expect(evaluate(s, evidence)).to.emit(s.adjudicator, "IncorrectCFragSlashed");
  });

  it("(c) an unlocking stake stays slashable and cannot be withdrawn through the grace periods", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const { escrow } = s.core;
    const staker = s.node.staker;
    const evidence = incorrect(s);
    await escrow.connect(staker).startUnlock();
    const unlockPeriod = (await escrow.stakeOf(staker.address)).unlockPeriod;
    await advancePeriods(s.core, s.node.lockPeriods); // the unlock period has begun
    expect(await escrow.currentPeriod()).to.equal(unlockPeriod);
    expect(await escrow.lockedThrough(staker.address, Number(unlockPeriod))).to.equal(0n);
    // The race is lost by the staker: withdraw reverts, the evidence slashes.
    const grace = BigInt(s.core.params.slashingGracePeriods);
    await expect(escrow.connect(staker).withdraw(1n))
      .to.be.revertedWithCustomError(escrow, "LockNotOver")
      .withArgs(unlockPeriod + grace, unlockPeriod);
    const penalty = await s.adjudicator.penaltyFor(staker.address);
    expect(penalty).to.be.greaterThan(0n);
    await expect(evaluate(s, evidence))
      .to.emit(s.adjudicator, "IncorrectCFragSlashed")
      .and.to.emit(escrow, "Slashed");
    // The reward is charged on top of the penalty.
    const reward = (penalty * (await s.adjudicator.investigatorShareBps())) / 10_000n;
    expect((await escrow.stakeOf(staker.address)).amount).to.equal(s.node.amount - penalty - reward);
    // In the last grace period still slashable; once it is over, the stake is free.
    await advancePeriods(s.core, Number(grace) - 1);
    await expect(evaluate(s, incorrect(s))).to.emit(s.adjudicator, "IncorrectCFragSlashed");
    await advancePeriods(s.core, 1);
    expect(await s.adjudicator.penaltyFor(staker.address)).to.equal(0n);
    const left = (await escrow.stakeOf(staker.address)).amount;
    await expect(escrow.connect(staker).withdraw(left)).to.emit(escrow, "Withdrawn");
  });
});
