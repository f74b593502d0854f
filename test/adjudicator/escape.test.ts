// The ways a node could make itself unslashable, each closed (security review, hardening phase):
//  (a) re-registering a new stamp key to void stamps made with the old one (keys rotate at any
//      time now; stamps carry their period and a retired key counts through its retirement
//      period; see test/adjudicator/key-compromise.test.ts),
//  (b) registering a stamp key it does not hold (tested in test/staking/escrow.test.ts: the key
//      proof), and unbonding its operator to hide its key,
//  (c) starting to unlock and withdrawing before the evidence lands.
// Real cfrags from the reference implementation, the real escrow and Adjudicator.
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { CFRAG_OFFSETS as O, evaluationHints, toContractEvidence, type CFragEvidence } from "../../src/client/evidence";
import { advancePeriods, registerNode } from "../shared/core-fixture";
import { randomPoint, referenceReencryption, withField } from "./fixtures";
import { TEST_POLICY_ID, deployAdjudicatorSetup, evaluateWithCommit, stamped, type AdjudicatorSetup } from "./setup";

describe("adjudicator: a node cannot escape slashing", function () {
  function evaluate(s: AdjudicatorSetup, evidence: CFragEvidence) {
    return evaluateWithCommit(s.adjudicator, s.investigator, toContractEvidence(evidence), evaluationHints(evidence));
  }

  /** An incorrect cfrag stamped by the node's key `stampSecretKey`, dated `period` (default: the setup's). */
  function incorrect(s: AdjudicatorSetup, stampSecretKey = s.stampSecretKey, period = s.stampPeriod): CFragEvidence {
    const r = referenceReencryption();
    const node = { ...s.node, verifyingKey: secp256k1.getPublicKey(stampSecretKey, true) };
    return stamped({ ...s, node, stampSecretKey }, { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) }, TEST_POLICY_ID, period);
  }

  /** The node's operator registers a fresh stamp key (allowed at any time). */
  async function rotateKey(s: AdjudicatorSetup): Promise<Uint8Array> {
    const secret = secp256k1.utils.randomSecretKey();
    await registerNode(s.core, s.node.staker.address, s.node.operator, { endpoint: s.node.endpoint, stampSecretKey: secret });
    return secret;
  }

  const now = async (s: AdjudicatorSetup) => Number(await s.core.escrow.currentPeriod());

  it("(a) a stamp made before a key change still slashes, whenever the key changes", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const { escrow } = s.core;
    const oldStamp = incorrect(s); // made with the registered key, dated this period
    const newSecret = await rotateKey(s); // right away
    // nodeInfo publishes only the new key, but the old stamp still slashes…
    expect((await escrow.nodeInfo(s.node.staker.address)).verifyingKey).to.not.equal(ethers.hexlify(s.node.verifyingKey));
    await advancePeriods(s.core, 1);
    await expect(evaluate(s, oldStamp)).to.emit(s.adjudicator, "IncorrectCFragSlashed");
    // …and so do stamps by the new key.
    await expect(evaluate(s, incorrect(s, newSecret, await now(s)))).to.emit(s.adjudicator, "IncorrectCFragSlashed");
  });

  it("(a) a replaced key stops counting after its retirement period, so a leaked retired key cannot frame the node", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const newSecret = await rotateKey(s);
    await advancePeriods(s.core, 1);
    await expect(evaluate(s, incorrect(s, s.stampSecretKey, await now(s)))).to.be.revertedWithCustomError(s.adjudicator, "InvalidStampSignature");
    await expect(evaluate(s, incorrect(s, newSecret, await now(s)))).to.emit(s.adjudicator, "IncorrectCFragSlashed");
    // Its stamps from before, once older than the slashing window, stop counting too.
    await advancePeriods(s.core, s.core.params.slashingGracePeriods);
    await expect(evaluate(s, incorrect(s))).to.be.revertedWithCustomError(s.adjudicator, "InvalidStampSignature");
  });

  it("(b) unbonding the operator does not hide the stamp key", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const evidence = incorrect(s);
    await s.core.escrow.connect(s.node.staker).bondOperator(ethers.ZeroAddress); // at once
    expect(await s.core.escrow.isRegistered(s.node.staker.address)).to.equal(false);
    await expect(evaluate(s, evidence)).to.emit(s.adjudicator, "IncorrectCFragSlashed");
  });

  it("(c) an unlocking stake stays slashable and cannot be withdrawn through the grace periods", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const { escrow } = s.core;
    const staker = s.node.staker;
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
    const evidence = incorrect(s, s.stampSecretKey, await now(s)); // a lie told in the unlock period
    await expect(evaluate(s, evidence))
      .to.emit(s.adjudicator, "IncorrectCFragSlashed")
      .and.to.emit(escrow, "Slashed");
    // The reward is charged on top of the penalty.
    const reward = (penalty * (await s.adjudicator.investigatorShareBps())) / 10_000n;
    expect((await escrow.stakeOf(staker.address)).amount).to.equal(s.node.amount - penalty - reward);
    // In the last grace period still slashable; once it is over, the stake is free.
    await advancePeriods(s.core, Number(grace) - 1);
    await expect(evaluate(s, incorrect(s, s.stampSecretKey, await now(s)))).to.emit(s.adjudicator, "IncorrectCFragSlashed");
    await advancePeriods(s.core, 1);
    expect(await s.adjudicator.penaltyFor(staker.address)).to.equal(0n);
    const left = (await escrow.stakeOf(staker.address)).amount;
    await expect(escrow.connect(staker).withdraw(left)).to.emit(escrow, "Withdrawn");
  });
});
