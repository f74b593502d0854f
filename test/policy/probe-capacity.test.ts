// Issue #16, "unhireable passes": a node can fill its own quota with 1-period self-hires, so that
// nobody, health checkers included, can hire it. PolicyManager.createProbePolicy reserves probe
// capacity: the checkers HealthCheck assigned to a target in the current round hire it once per
// (round, checker, target) outside the quota, on its other terms; the arrangement is not counted.
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { buildWorld, checkersOf, nodeByStaker, openNextRound, type HealthWorld } from "../health/fixture";
import { deployPolicyManager, NODE_RATE, TOKEN } from "./fixture";
import type { PolicyManager } from "../../typechain-types";

interface ProbeWorld {
  w: HealthWorld;
  pm: PolicyManager;
  pmAddress: string;
}

async function probeWorld(): Promise<ProbeWorld> {
  const w = await buildWorld({ nodes: 6 });
  const pm = await deployPolicyManager(w.core);
  const pmAddress = await pm.getAddress();
  await (await pm.setQuotaParams(2, 0)).wait(); // every quota: 2 arrangements
  for (const node of w.nodes) {
    await (await pm.connect(node.staker).setMinFeeRate(NODE_RATE)).wait();
    // Operators and stakers pay for policies in these tests.
    for (const payer of [node.operator, node.staker]) {
      await (await w.core.token.transfer(payer.address, 1_000n * TOKEN)).wait();
      await (await w.core.token.connect(payer).approve(pmAddress, ethers.MaxUint256)).wait();
    }
  }
  await expect(pm.setHealthCheck(w.healthAddress)).to.emit(pm, "HealthCheckSet").withArgs(w.healthAddress);
  return { w, pm, pmAddress };
}

let counter = 0;
const newId = () => ethers.zeroPadValue(ethers.toBeHex(++counter), 16);
const ROOT = ethers.keccak256("0x01");

/** The target fills its own quota with 1-period self-hires (net cost zero once it withdraws its fees). */
async function selfFill(pm: PolicyManager, target: HealthWorld["nodes"][number]): Promise<void> {
  const end = Number(await pm.currentPeriod());
  for (;;) {
    const [status] = await pm.checkNode(target.staker.address, end, NODE_RATE);
    if (Number(status) !== 0) break;
    await (await pm.connect(target.staker).createPolicy(newId(), target.staker.address, end, NODE_RATE, [target.staker.address], ROOT)).wait();
  }
}

describe("policy: reserved probe capacity (issue #16, unhireable)", function () {
  this.timeout(300_000);

  it("attack: a node that filled its own quota cannot be hired by its checker, except through the reserved probe capacity", async () => {
    const { w, pm } = await loadFixture(probeWorld);
    const { round, targets } = await openNextRound(w.health);
    const target = nodeByStaker(w, targets[0]);
    const [checker] = checkersOf(w, targets);
    await selfFill(pm, target);
    const end = Number(await pm.currentPeriod()) + 1;
    // As a customer, the checker is refused.
    await expect(pm.connect(checker.operator).createPolicy(newId(), checker.operator.address, end, NODE_RATE, [target.staker.address], ROOT))
      .to.be.revertedWithCustomError(pm, "NodeIneligible")
      .withArgs(target.staker.address, 5);
    const before = (await pm.nodeFees(target.staker.address)).activeArrangements;
    const id = newId();
    const policyId = await pm.policyKey(checker.operator.address, id);
    await expect(pm.connect(checker.operator).createProbePolicy(round, id, checker.operator.address, NODE_RATE, [target.staker.address], ROOT))
      .to.emit(pm, "ProbeHired")
      .withArgs(round, checker.staker.address, target.staker.address, policyId);
    expect(await pm.isActiveArrangement(policyId, target.staker.address)).to.equal(true);
    expect((await pm.getPolicy(policyId)).endPeriod).to.equal(end);
    // Not counted: the quota neither grows nor shrinks, and customers are still refused.
    expect((await pm.nodeFees(target.staker.address)).activeArrangements).to.equal(before);
    expect((await pm.checkNode(target.staker.address, end, NODE_RATE))[0]).to.equal(5n);
  });

  it("only for (round, checker, target) the HealthCheck assigned now, once per pair, one node, at the global minimum fee rate", async () => {
    const { w, pm } = await loadFixture(probeWorld);
    const { round, targets } = await openNextRound(w.health);
    const [a, b] = checkersOf(w, targets);
    const target = targets[0];
    const hire = (op: typeof a.operator, r: bigint, nodes: string[], rate = NODE_RATE) =>
      pm.connect(op).createProbePolicy(r, newId(), op.address, rate, nodes, ROOT);
    // Not an operator, a target (not a checker), another round, a node that is not a target.
    await expect(hire(w.outsider, round, [target])).to.be.revertedWithCustomError(pm, "NotProbeAssignment");
    const other = nodeByStaker(w, targets[1]);
    await expect(hire(other.operator, round, [target]))
      .to.be.revertedWithCustomError(pm, "NotProbeAssignment")
      .withArgs(round, other.staker.address, target);
    await expect(hire(a.operator, round + 1n, [target])).to.be.revertedWithCustomError(pm, "NotProbeAssignment");
    await expect(hire(a.operator, round, [b.staker.address])).to.be.revertedWithCustomError(pm, "NotProbeAssignment");
    await expect(hire(a.operator, round, [target, targets[1]].sort())).to.be.revertedWithCustomError(pm, "InvalidNodeCount");
    // The node does not price its own inspection: a probe pays from the global minimum up,
    // whatever the node's rate (it was the node's rate, up to maxFeeRate, from every checker).
    const [globalMin] = await pm.params();
    expect(globalMin).to.be.lessThan(NODE_RATE);
    await expect(hire(a.operator, round, [target], globalMin - 1n))
      .to.be.revertedWithCustomError(pm, "NodeIneligible")
      .withArgs(target, 2n); // NodeStatus.FeeRateTooLow
    const paying = await w.core.token.balanceOf(a.operator.address);
    await hire(a.operator, round, [target], globalMin);
    expect(paying - (await w.core.token.balanceOf(a.operator.address))).to.equal(2n * globalMin); // this period and the next
    await expect(hire(a.operator, round, [target]))
      .to.be.revertedWithCustomError(pm, "ProbeAlreadyHired")
      .withArgs(round, a.staker.address, target);
    await hire(b.operator, round, [target]); // another checker has its own slot
    // After the commit window the assignment is over.
    await time.increaseTo((await w.health.roundInfo(round)).commitEnd);
    await expect(hire(a.operator, round, [targets[1]])).to.be.revertedWithCustomError(pm, "NotProbeAssignment");
  });

  it("without a health check set nobody can hire outside the quota; only the governor sets it", async () => {
    const { w, pm } = await loadFixture(probeWorld);
    await expect(pm.connect(w.outsider).setHealthCheck(w.outsider.address)).to.be.revertedWithCustomError(pm, "AccessControlUnauthorizedAccount");
    await pm.setHealthCheck(ethers.ZeroAddress);
    const { round, targets } = await openNextRound(w.health);
    const [a] = checkersOf(w, targets);
    await expect(pm.connect(a.operator).createProbePolicy(round, newId(), a.operator.address, NODE_RATE, [targets[0]], ROOT))
      .to.be.revertedWithCustomError(pm, "NotProbeAssignment");
  });

  it("a probe arrangement frees no quota when revoked or expired, and cannot be extended", async () => {
    const { w, pm } = await loadFixture(probeWorld);
    const { round, targets } = await openNextRound(w.health);
    const [a, b] = checkersOf(w, targets);
    const target = nodeByStaker(w, targets[0]);
    // One real customer arrangement, then two probes.
    const end = Number(await pm.currentPeriod()) + 3;
    await pm.connect(a.staker).createPolicy(newId(), a.staker.address, end, NODE_RATE, [target.staker.address], ROOT);
    const ids = [newId(), newId()];
    await pm.connect(a.operator).createProbePolicy(round, ids[0], a.operator.address, NODE_RATE, [target.staker.address], ROOT);
    await pm.connect(b.operator).createProbePolicy(round, ids[1], b.operator.address, NODE_RATE, [target.staker.address], ROOT);
    const count = async () => (await pm.nodeFees(target.staker.address)).activeArrangements;
    expect(await count()).to.equal(1n);
    const p0 = await pm.policyKey(a.operator.address, ids[0]);
    const p1 = await pm.policyKey(b.operator.address, ids[1]);
    await expect(pm.connect(a.operator).extendPolicy(p0, end + 5)).to.be.revertedWithCustomError(pm, "ProbePolicy").withArgs(p0);
    await expect(pm.connect(a.operator).revokePolicy(p0)).to.emit(pm, "PolicyRevoked");
    await expect(pm.connect(b.operator).revokeArrangement(p1, target.staker.address)).to.emit(pm, "ArrangementRevoked");
    expect(await count()).to.equal(1n);
    // Still exactly one slot free for customers (quota 2), and it is taken normally.
    await pm.connect(b.staker).createPolicy(newId(), b.staker.address, end, NODE_RATE, [target.staker.address], ROOT);
    expect(await count()).to.equal(2n);
    // Past every end: the expiry sweep subtracts only the counted ones.
    await time.increase(BigInt(w.core.params.secondsPerPeriod) * BigInt(end + 2 - Number(await pm.currentPeriod())));
    await pm.releaseExpired(target.staker.address);
    expect(await count()).to.equal(0n);
  });
});
