import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import AdjudicatorModule from "../../deploy/adjudicator";
import { CFRAG_OFFSETS, buildEvidence, serializeEvidence, signStamp } from "../../src/client/evidence";
import { deployCore, stakeNode } from "../shared/core-fixture";
import { randomPoint, referenceReencryption, withField } from "./fixtures";
import { serializeLeakEvidence } from "../../src/client/leak-evidence";
import type { LeakAdjudicator, NKMSToken, PolicyManager, StakingEscrow } from "../../typechain-types";
import { NODE_RATE } from "../policy/fixture";
import { leakPolicy, signReceipt, type LeakWorld } from "./leak-setup";

describe("adjudicator: Ignition module and the nkms:challenge-cfrag task", function () {
  it("deploys with the slasher role and files a challenge from an evidence file", async function () {
    const { adjudicator, escrow, token } = await hre.ignition.deploy(AdjudicatorModule);
    expect(await escrow.hasRole(await escrow.SLASHER_ROLE(), await adjudicator.getAddress())).to.equal(true);

    // Stake a node on the Ignition-deployed core, through the shared fixture's helper.
    const core = await deployCore();
    const stampSecretKey = secp256k1.utils.randomSecretKey();
    const wired = { ...core, escrow, token, escrowAddress: await escrow.getAddress(), tokenAddress: await token.getAddress() };
    const node = await stakeNode(wired as unknown as typeof core, core.accounts[10], core.accounts[11], {
      stampSecretKey,
    });

    const r = referenceReencryption();
    const cfrag = withField(r.cfrag, CFRAG_OFFSETS.v2, randomPoint().toBytes(true));
    const stampPeriod = Number(await escrow.currentPeriod());
    const context = { ...r, cfrag, staker: node.staker.address, stampPeriod, policyCreator: core.accounts[12].address, policyId: new Uint8Array(16).fill(7) };
    const evidence = buildEvidence({
      ...context,
      nodeVerifyingKey: node.verifyingKey,
      stampSignature: signStamp(stampSecretKey, context, r.capsule, cfrag),
    });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "nkms-adj-")), "evidence.json");
    fs.writeFileSync(file, serializeEvidence(evidence));

    const adjudicatorAddress = await adjudicator.getAddress();
    const dry = await hre.run("nkms:challenge-cfrag", { evidence: file, adjudicator: adjudicatorAddress, dryRun: true });
    expect(dry.correct).to.equal(false);
    const before = (await escrow.stakeOf(node.staker.address)).amount;
    const filed = await hre.run("nkms:challenge-cfrag", { evidence: file, adjudicator: adjudicatorAddress });
    expect(filed.txHash).to.be.a("string");
    expect((await escrow.stakeOf(node.staker.address)).amount).to.be.lessThan(before);

    // The investigator (the task's default sender) pulls the reward its evidence earned, once.
    const investigator = (await hre.ethers.getSigners())[0].address;
    expect(filed.reward).to.be.greaterThan(0n);
    await mine(Number(await adjudicator.CONTEST_BLOCKS()) + 1);
    const balance = await token.balanceOf(investigator);
    const paid = await hre.run("nkms:withdraw-reward", { evidenceHashes: filed.evidenceHash, adjudicator: adjudicatorAddress });
    expect(paid.amount).to.equal(filed.reward);
    expect(await token.balanceOf(investigator)).to.equal(balance + filed.reward);
    const again = await hre.run("nkms:withdraw-reward", { evidenceHashes: filed.evidenceHash, adjudicator: adjudicatorAddress }).then(
      () => null,
      (err: Error & { code?: string }) => err,
    );
    expect(again?.message).to.match(/RewardAlreadyWithdrawn/);

    fs.writeFileSync(file, "{ not json");
    const failure = await hre.run("nkms:challenge-cfrag", { evidence: file, adjudicator: adjudicatorAddress }).then(
      () => null,
      (err: Error) => err,
    );
    expect(failure?.message).to.match(/not valid JSON/);
  });

  it("deploys the LeakAdjudicator with both roles and files a leak challenge (commit, then reveal) from a file", async function () {
    const deployed = await hre.ignition.deploy(AdjudicatorModule);
    const escrow = deployed.escrow as unknown as StakingEscrow;
    const token = deployed.token as unknown as NKMSToken;
    const policyManager = deployed.policyManager as unknown as PolicyManager;
    const leakAdjudicator = deployed.leakAdjudicator as unknown as LeakAdjudicator;
    const leakAddress = await leakAdjudicator.getAddress();
    // The leak forfeiter role, and NOT the slasher role (leak forfeits count no violation).
    expect(await escrow.hasRole(await escrow.LEAK_FORFEITER_ROLE(), leakAddress)).to.equal(true);
    expect(await escrow.hasRole(await escrow.SLASHER_ROLE(), leakAddress)).to.equal(false);
    expect(await leakAdjudicator.collateralBps()).to.equal(10_000n);
    expect(await policyManager.hasRole(await policyManager.LEAK_ADJUDICATOR_ROLE(), leakAddress)).to.equal(true);

    const core = await deployCore();
    const wired = { ...core, escrow, token, escrowAddress: await escrow.getAddress(), tokenAddress: await token.getAddress() };
    const node = await stakeNode(wired as unknown as typeof core, core.accounts[12], core.accounts[13]);
    await (await policyManager.connect(node.staker).setMinFeeRate(NODE_RATE)).wait();
    const alice = core.accounts[16];
    await (await token.connect(core.deployer).transfer(alice.address, 10n ** 24n)).wait();
    await (await token.connect(alice).approve(await policyManager.getAddress(), hre.ethers.MaxUint256)).wait();
    const { chainId } = await hre.ethers.provider.getNetwork();
    const w = { core: wired, pm: policyManager, leak: leakAdjudicator, alice, chainId } as unknown as LeakWorld;
    const p = await leakPolicy(w, [node.staker.address], 5);
    await mine(1); // the node earned something: the forfeit is bounded by its fees on the arrangement
    const receipt = await signReceipt(w, node.stampSecretKey, node.staker.address, p.creator, p.policyId, p.kfrags[0]);

    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "nkms-leak-")), "leak.json");
    fs.writeFileSync(file, serializeLeakEvidence(p.evidenceFor(0, receipt)));
    const challenger = core.accounts[17];
    const dry = await hre.run("nkms:challenge-leak", { evidence: file, leakAdjudicator: leakAddress, dryRun: true });
    expect(dry.committed).to.equal(true);
    const before = await token.balanceOf(challenger.address);
    const filed = await hre.run("nkms:challenge-leak", { evidence: file, leakAdjudicator: leakAddress, from: challenger.address });
    expect(filed.bounty).to.be.greaterThan(0n);
    expect(await token.balanceOf(challenger.address)).to.equal(before + filed.bounty);
    expect(filed.forfeit).to.be.greaterThan(0n);
    expect((await escrow.stakeOf(node.staker.address)).amount).to.equal(node.amount - filed.forfeit);
    expect(await policyManager.isActiveArrangement(p.policyId, node.staker.address)).to.equal(false);

    fs.writeFileSync(file, serializeLeakEvidence({ ...p.evidenceFor(0, receipt), kfrag: new Uint8Array(310).fill(1) }));
    const failure = await hre.run("nkms:challenge-leak", { evidence: file, leakAdjudicator: leakAddress }).then(
      () => null,
      (err: Error) => err,
    );
    expect(failure?.message).to.match(/does not bind this kfrag/);

    // A receipt the node never signed: one line, the contract's reason.
    const q = await leakPolicy(w, [node.staker.address], 5);
    const forged = await signReceipt(w, secp256k1.utils.randomSecretKey(), node.staker.address, q.creator, q.policyId, q.kfrags[0]);
    fs.writeFileSync(file, serializeLeakEvidence(q.evidenceFor(0, forged)));
    const refused = await hre.run("nkms:challenge-leak", { evidence: file, leakAdjudicator: leakAddress, from: challenger.address }).then(
      () => null,
      (err: Error & { code?: string }) => err,
    );
    expect(refused?.message).to.match(/InvalidReceipt/);
  });
});
