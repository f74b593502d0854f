/**
 * Issue #16, items 4 and 5: the policy market's edges as an adversary uses them. Each test
 * reproduces an attack that worked on the PolicyManager before the fix (quota griefing with
 * one-period policies, extensions at stale terms, a permit priced one period early, a governor
 * pricing a node below its own minimum, an unlocking node's quota jump, fees accruing to a node
 * that left) and then tries the attacker's next move.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { advancePeriods, signPermit } from "../shared/core-fixture";
import { NODE_RATE, PolicyWorld, TOKEN, createPolicy, deployPolicyWorld, newPolicyId, policyKey, rootFor } from "./fixture";
import { NODE_STATUS as Status, orderForPolicy } from "../../src/client/node-selection";

async function world(): Promise<PolicyWorld> {
  const w = await deployPolicyWorld(5);
  await advancePeriods(w.core, 1);
  return w;
}

describe("policy: market attacks (issue #16)", () => {
  describe("policy ids namespaced by creator", () => {
    it("a front-runner copying Alice's pending creation gets its own policy, not Alice's id", async () => {
      const w = await loadFixture(world);
      const nodes = [w.nodes[0].staker.address];
      const attacker = w.sponsor;
      const id = newPolicyId();
      const end = (await w.pm.currentPeriod()) + 3n;
      const alicesKey = policyKey(w.alice.address, id);
      const root = rootFor(alicesKey, nodes);
      // The squatter sends Alice's exact arguments first (owner Alice included), for one cheap period.
      await w.pm.connect(attacker).createPolicy(id, w.alice.address, await w.pm.currentPeriod(), NODE_RATE, nodes, root);
      await w.pm.connect(attacker).createPolicy(newPolicyId(), attacker.address, await w.pm.currentPeriod(), NODE_RATE, nodes, root);
      // Alice's transaction still lands, under her own name, with her commitment.
      await expect(w.pm.connect(w.alice).createPolicy(id, w.alice.address, end, NODE_RATE, nodes, root))
        .to.emit(w.pm, "PolicyCreated")
        .withArgs(alicesKey, w.alice.address, w.alice.address, end - 3n, end, NODE_RATE, nodes, root, NODE_RATE * 4n);
      expect(await w.pm.policyKey(w.alice.address, id)).to.equal(alicesKey);
      const squatted = await w.pm.getPolicy(policyKey(attacker.address, id));
      expect([squatted.owner, squatted.sponsor]).to.deep.equal([w.alice.address, attacker.address]);
      expect((await w.pm.getPolicy(alicesKey)).endPeriod).to.equal(end);
      // Alice creating the same id twice is still refused, under her name.
      await expect(w.pm.connect(w.alice).createPolicy(id, w.alice.address, end, NODE_RATE, nodes, root))
        .to.be.revertedWithCustomError(w.pm, "PolicyAlreadyExists")
        .withArgs(alicesKey);
    });
  });

  describe("quota griefing with short policies", () => {
    it("one-period policies stop counting once their period passed, with no settle", async () => {
      const w = await loadFixture(world);
      const n0 = w.nodes[0].staker.address;
      const attacker = w.sponsor;
      await w.pm.setQuotaParams(3, 0); // quota 3 whatever the stake
      const squat: string[] = [];
      for (let i = 0; i < 3; i++) squat.push((await createPolicy(w, [n0], { payer: attacker, periods: 1 })).policyId);
      await expect(createPolicy(w, [n0])).to.be.revertedWithCustomError(w.pm, "NodeIneligible").withArgs(n0, Status.OverQuota);
      await advancePeriods(w.core, 1);
      // Nobody settled anything: the expired arrangements no longer count.
      expect((await w.pm.nodeFees(n0)).activeArrangements).to.equal(0n);
      expect((await w.pm.checkNode(n0, await w.pm.currentPeriod(), NODE_RATE)).status).to.equal(BigInt(Status.Eligible));
      const policy = createPolicy(w, [n0]);
      await expect(policy).to.not.be.reverted;
      // The fees of the squatting policies are still there to settle.
      for (const id of squat) await w.pm.settle(id);
      expect((await w.pm.nodeFees(n0)).feeBalance).to.equal(NODE_RATE * 3n);
    });

    it("spreading the squatting policies over many end periods costs the next hire one bounded sweep", async () => {
      const w = await loadFixture(world);
      const n0 = w.nodes[0].staker.address;
      await w.pm.setQuotaParams(6, 0);
      // Ends spread over six different expiry words (16 periods each; the stake is locked 52).
      for (let i = 0; i < 6; i++) await createPolicy(w, [n0], { payer: w.sponsor, periods: 1 + 16 * i > 50 ? 50 : 1 + 16 * i });
      await expect(createPolicy(w, [n0])).to.be.revertedWithCustomError(w.pm, "NodeIneligible");
      await advancePeriods(w.core, 51);
      const period = await w.pm.currentPeriod();
      const id = newPolicyId();
      const tx = await w.pm.connect(w.alice).createPolicy(id, w.alice.address, period, NODE_RATE, [n0], rootFor(policyKey(w.alice.address, id), [n0]));
      const receipt = (await tx.wait())!;
      await expect(tx).to.emit(w.pm, "ArrangementsExpired").withArgs(n0, 6n, period);
      // At most four words read once, whatever the number of policies in them (measured, never timed).
      expect(receipt.gasUsed).to.be.lessThan(250_000n);
      expect((await w.pm.nodeFees(n0)).activeArrangements).to.equal(1n);
    });

    it("a node idle for longer than one sweep reaches is caught up by later hires or releaseExpired", async () => {
      const w = await loadFixture(world);
      const n0 = w.nodes[0].staker.address;
      await w.pm.setQuotaParams(2, 0);
      await createPolicy(w, [n0], { payer: w.sponsor, periods: 2 });
      // The node is idle (no sweep) while time passes; then a policy ending far from its cursor.
      await advancePeriods(w.core, 100);
      await createPolicy(w, [n0], { payer: w.sponsor, periods: 50 });
      await advancePeriods(w.core, 60);
      expect(Number(await w.pm.MAX_SWEEP_WORDS()) * 16).to.be.lessThan(150);
      // One call reads at most MAX_SWEEP_WORDS words: the first policy's end is within reach.
      expect((await w.pm.nodeFees(n0)).activeArrangements).to.equal(1n);
      await expect(w.pm.connect(w.stranger).releaseExpired(n0)).to.emit(w.pm, "ArrangementsExpired");
      await expect(w.pm.connect(w.stranger).releaseExpired(n0)).to.emit(w.pm, "ArrangementsExpired");
      expect((await w.pm.nodeFees(n0)).activeArrangements).to.equal(0n);
      await createPolicy(w, [n0]);
      await createPolicy(w, [n0]);
      await expect(createPolicy(w, [n0])).to.be.revertedWithCustomError(w.pm, "NodeIneligible");
    });

    it("revoked and extended arrangements leave the expiry counts exact", async () => {
      const w = await loadFixture(world);
      const [n0, n1] = orderForPolicy([w.nodes[0].staker.address, w.nodes[1].staker.address]);
      await w.pm.setQuotaParams(2, 0);
      const a = await createPolicy(w, [n0, n1], { periods: 2 });
      const b = await createPolicy(w, [n0], { periods: 2 });
      await w.pm.connect(w.alice).revokeArrangement(a.policyId, n0);
      await w.pm.connect(w.alice).extendPolicy(b.policyId, b.endPeriod + 10n);
      await advancePeriods(w.core, 3);
      // a's n1 arrangement expired; b (extended) is live; a's n0 was revoked.
      expect((await w.pm.nodeFees(n0)).activeArrangements).to.equal(1n);
      expect((await w.pm.nodeFees(n1)).activeArrangements).to.equal(0n);
      await createPolicy(w, [n0]);
      await expect(createPolicy(w, [n0])).to.be.revertedWithCustomError(w.pm, "NodeIneligible");
    });
  });

  describe("extensions on current terms", () => {
    it("an extension at the old rate fails once the node raised its minimum fee", async () => {
      const w = await loadFixture(world);
      const node = w.nodes[2];
      const { policyId, endPeriod } = await createPolicy(w, [node.staker.address]);
      await w.pm.connect(node.staker).setMinFeeRate(NODE_RATE * 2n);
      await expect(w.pm.connect(w.alice).extendPolicy(policyId, endPeriod + 5n))
        .to.be.revertedWithCustomError(w.pm, "NodeIneligible")
        .withArgs(node.staker.address, Status.FeeRateTooLow);
      // Extending to the current end or earlier is no way around it.
      await expect(w.pm.connect(w.alice).extendPolicy(policyId, endPeriod)).to.be.revertedWithCustomError(w.pm, "InvalidEndPeriod");
    });

    it("an extension fails for a node over its current quota, and counts the arrangement once", async () => {
      const w = await loadFixture(world);
      const n0 = w.nodes[0].staker.address;
      await w.pm.setQuotaParams(2, 0);
      const a = await createPolicy(w, [n0]);
      // At quota 2 with two arrangements, extending one of them is still fine (it is held already).
      const b = await createPolicy(w, [n0]);
      await w.pm.connect(w.alice).extendPolicy(b.policyId, b.endPeriod + 2n);
      // The quota shrank below what the node holds: no re-hire beyond it.
      await w.pm.setQuotaParams(1, 0);
      await expect(w.pm.connect(w.alice).extendPolicy(a.policyId, a.endPeriod + 2n))
        .to.be.revertedWithCustomError(w.pm, "NodeIneligible")
        .withArgs(n0, Status.OverQuota);
      // Once the other one is revoked, the extension fits.
      await w.pm.connect(w.alice).revokePolicy(b.policyId);
      await w.pm.connect(w.alice).extendPolicy(a.policyId, a.endPeriod + 2n);
    });
  });

  describe("permits across a period boundary", () => {
    async function pricedPermit(w: PolicyWorld, nodes: string[], end: bigint) {
      const payer = w.stranger;
      await w.core.token.connect(w.core.deployer).transfer(payer.address, 100n * TOKEN);
      const cost = await w.pm.policyCost(nodes.length, NODE_RATE, end);
      return { payer, cost, permit: await signPermit(w.core.token, payer, w.pmAddress, cost) };
    }

    it("a policy priced in one period lands in the next and pays only its cost", async () => {
      const w = await loadFixture(world);
      const nodes = orderForPolicy([w.nodes[1].staker.address, w.nodes[3].staker.address]);
      const end = (await w.pm.currentPeriod()) + 5n;
      const { payer, cost, permit } = await pricedPermit(w, nodes, end);
      await advancePeriods(w.core, 1);
      const now = await w.pm.policyCost(nodes.length, NODE_RATE, end);
      expect(now).to.equal(cost - NODE_RATE * 2n);
      const id = newPolicyId();
      await expect(
        w.pm.connect(payer).createPolicyWithPermit(id, payer.address, end, NODE_RATE, nodes, rootFor(id, nodes), cost, permit.deadline, permit.v, permit.r, permit.s),
      ).to.changeTokenBalances(w.core.token, [payer, w.pm], [-now, now]);
      // The one period's difference was never taken: it is a plain allowance the payer can reset.
      expect(await w.core.token.allowance(payer.address, w.pmAddress)).to.equal(NODE_RATE * 2n);
    });

    it("a permit two periods stale, or for less than the cost, is refused", async () => {
      const w = await loadFixture(world);
      const nodes = [w.nodes[1].staker.address];
      const end = (await w.pm.currentPeriod()) + 5n;
      const { payer, cost, permit } = await pricedPermit(w, nodes, end);
      await advancePeriods(w.core, 2);
      const id = newPolicyId();
      const now = await w.pm.policyCost(1, NODE_RATE, end);
      await expect(
        w.pm.connect(payer).createPolicyWithPermit(id, payer.address, end, NODE_RATE, nodes, rootFor(id, nodes), cost, permit.deadline, permit.v, permit.r, permit.s),
      ).to.be.revertedWithCustomError(w.pm, "PermitValueOutOfBounds").withArgs(cost, now);
      await expect(
        w.pm.connect(payer).createPolicyWithPermit(id, payer.address, end, NODE_RATE, nodes, rootFor(id, nodes), now - 1n, permit.deadline, permit.v, permit.r, permit.s),
      ).to.be.revertedWithCustomError(w.pm, "PermitValueOutOfBounds").withArgs(now - 1n, now);
    });
  });

  describe("governor and node prices", () => {
    it("no fee-rate range lets a policy pay a node less than its own minimum", async () => {
      const w = await loadFixture(world);
      const node = w.nodes[0].staker.address;
      await w.pm.setFeeRateRange(0, 0);
      expect((await w.pm.nodeFees(node)).effectiveMinFeeRate).to.equal(NODE_RATE);
      await expect(createPolicy(w, [node], { feeRate: 0n }))
        .to.be.revertedWithCustomError(w.pm, "NodeIneligible")
        .withArgs(node, Status.FeeRateTooLow);
      await w.pm.setFeeRateRange(1, NODE_RATE / 2n);
      await expect(createPolicy(w, [node], { feeRate: NODE_RATE / 2n })).to.be.revertedWithCustomError(w.pm, "NodeIneligible");
      await createPolicy(w, [node], { feeRate: NODE_RATE });
      // Raising the floor still raises every node's price.
      await w.pm.setFeeRateRange(NODE_RATE * 3n, NODE_RATE * 4n);
      expect((await w.pm.nodeFees(node)).effectiveMinFeeRate).to.equal(NODE_RATE * 3n);
    });
  });

  describe("stakes that leave", () => {
    it("an unlocking node keeps its quota share instead of jumping", async () => {
      const w = await loadFixture(world);
      const node = w.nodes[0];
      await w.pm.setQuotaParams(1, 60);
      const end = await w.pm.currentPeriod();
      const before = await w.pm.checkNode(node.staker.address, end, NODE_RATE);
      const total = await w.core.escrow.totalLocked();
      expect(before.quota).to.equal(1n + (before.stake * 60n) / total);
      await w.core.escrow.connect(node.staker).startUnlock();
      expect(await w.core.escrow.totalLocked()).to.equal(total - node.amount);
      const after = await w.pm.checkNode(node.staker.address, end, NODE_RATE);
      expect(after.stake).to.equal(before.stake);
      expect(after.quota).to.equal(before.quota);
      // Admission agrees with the view: exactly `quota` arrangements, then none.
      for (let i = 0n; i < after.quota; i++) await createPolicy(w, [node.staker.address], { periods: 1 });
      await expect(createPolicy(w, [node.staker.address], { periods: 1 }))
        .to.be.revertedWithCustomError(w.pm, "NodeIneligible")
        .withArgs(node.staker.address, Status.OverQuota);
    });

    it("anyone ends a node's arrangement once it unbonded: the owner gets the rest back", async () => {
      const w = await loadFixture(world);
      const node = w.nodes[1];
      const other = w.nodes[3].staker.address;
      const nodes = orderForPolicy([node.staker.address, other]);
      const { policyId, endPeriod } = await createPolicy(w, nodes, { periods: 6 });
      await expect(w.pm.connect(w.stranger).revokeUnregistered(policyId, node.staker.address))
        .to.be.revertedWithCustomError(w.pm, "NodeStillRegistered")
        .withArgs(node.staker.address);
      await advancePeriods(w.core, 1);
      await w.core.escrow.connect(node.staker).bondOperator(ethers.ZeroAddress);
      const refund = NODE_RATE * (endPeriod - (await w.pm.currentPeriod()));
      await expect(w.pm.connect(w.stranger).revokeUnregistered(policyId, node.staker.address))
        .to.emit(w.pm, "ArrangementRevoked")
        .withArgs(policyId, node.staker.address, refund);
      // Through the current period only; later periods accrue to the node still serving.
      await advancePeriods(w.core, 3);
      await w.pm.settle(policyId);
      expect((await w.pm.nodeFees(node.staker.address)).feeBalance).to.equal(NODE_RATE * 2n);
      expect((await w.pm.nodeFees(other)).feeBalance).to.equal(NODE_RATE * 5n);
      await expect(w.pm.connect(w.stranger).revokeUnregistered(policyId, other)).to.be.revertedWithCustomError(w.pm, "NodeStillRegistered");
    });
  });
});
