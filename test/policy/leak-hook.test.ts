// PolicyManager.revokeForLeak: the hook the LeakAdjudicator calls once it has proven a kfrag leak
// (the proof itself is tested in test/adjudicator/leak.test.ts). Here the role is granted to a
// plain account so the hook's accounting can be checked on its own.
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { advancePeriods } from "../shared/core-fixture";
import { NODE_RATE, PolicyWorld, createPolicy, deployPolicyWorld } from "./fixture";

describe("policy: revokeForLeak hook (leak adjudicator role)", function () {
  async function world(): Promise<PolicyWorld & { hook: PolicyWorld["alice"] }> {
    const w = await deployPolicyWorld(3);
    await advancePeriods(w.core, 1);
    const hook = w.core.accounts[13];
    await (await w.pm.grantRole(await w.pm.LEAK_ADJUDICATOR_ROLE(), hook.address)).wait();
    return { ...w, hook };
  }

  it("is role-gated and refuses a zero challenger", async function () {
    const w = await loadFixture(world);
    const { policyId, nodes } = await createPolicy(w, [w.nodes[0].staker.address]);
    await expect(w.pm.connect(w.alice).revokeForLeak(policyId, nodes[0], w.stranger.address, 1n))
      .to.be.revertedWithCustomError(w.pm, "AccessControlUnauthorizedAccount")
      .withArgs(w.alice.address, await w.pm.LEAK_ADJUDICATOR_ROLE());
    await expect(w.pm.connect(w.hook).revokeForLeak(policyId, nodes[0], "0x" + "00".repeat(20), 1n)).to.be.revertedWithCustomError(
      w.pm,
      "ZeroAddress",
    );
  });

  it("ends the arrangement like a revocation and splits the would-be refund: bounty ≤ maxBounty, the rest to the owner", async function () {
    const w = await loadFixture(world);
    const stakers = [w.nodes[0].staker.address, w.nodes[1].staker.address];
    const { policyId, nodes, endPeriod, feeRate } = await createPolicy(w, stakers, { periods: 6 });
    await advancePeriods(w.core, 2);
    const period = await w.pm.currentPeriod();
    const refundable = feeRate * (endPeriod - period);
    for (const [node, maxBounty] of [
      [nodes[0], refundable / 3n], // bounty capped by maxBounty
      [nodes[1], refundable * 10n], // bounty capped by the refund: the owner gets nothing
    ] as const) {
      const bounty = maxBounty < refundable ? maxBounty : refundable;
      const [alice0, stranger0] = await Promise.all([
        w.core.token.balanceOf(w.alice.address),
        w.core.token.balanceOf(w.stranger.address),
      ]);
      const fees0 = (await w.pm.nodeFees(node)).feeBalance;
      await expect(w.pm.connect(w.hook).revokeForLeak(policyId, node, w.stranger.address, maxBounty))
        .to.emit(w.pm, "ArrangementRevoked")
        .withArgs(policyId, node, refundable - bounty)
        .and.to.emit(w.pm, "ArrangementRevokedForLeak")
        .withArgs(policyId, node, w.stranger.address, bounty, refundable - bounty);
      expect(await w.core.token.balanceOf(w.stranger.address)).to.equal(stranger0 + bounty);
      expect(await w.core.token.balanceOf(w.alice.address)).to.equal(alice0 + refundable - bounty);
      // Credited through the current period (3 periods: creation, +1, +2), as revokeArrangement does.
      expect((await w.pm.nodeFees(node)).feeBalance).to.equal(fees0 + NODE_RATE * 3n);
      expect((await w.pm.nodeFees(node)).activeArrangements).to.equal(0n);
      expect(await w.pm.isActiveArrangement(policyId, node)).to.equal(false);
    }
    expect((await w.pm.getPolicy(policyId)).revoked).to.equal(true);
    await expect(w.pm.connect(w.hook).revokeForLeak(policyId, nodes[0], w.stranger.address, 1n))
      .to.be.revertedWithCustomError(w.pm, "ArrangementAlreadyRevoked")
      .withArgs(policyId, nodes[0]);
  });

  it("reverts like revokeArrangement for unknown policies, non-arrangements and expired policies", async function () {
    const w = await loadFixture(world);
    const { policyId, endPeriod } = await createPolicy(w, [w.nodes[0].staker.address], { periods: 1 });
    const unknown = "0x" + "ab".repeat(16);
    await expect(w.pm.connect(w.hook).revokeForLeak(unknown, w.nodes[0].staker.address, w.stranger.address, 1n)).to.be.revertedWithCustomError(
      w.pm,
      "PolicyNotFound",
    );
    await expect(w.pm.connect(w.hook).revokeForLeak(policyId, w.nodes[2].staker.address, w.stranger.address, 1n)).to.be.revertedWithCustomError(
      w.pm,
      "NotArrangement",
    );
    await advancePeriods(w.core, Number(endPeriod - (await w.pm.currentPeriod())) + 1);
    await expect(w.pm.connect(w.hook).revokeForLeak(policyId, w.nodes[0].staker.address, w.stranger.address, 1n)).to.be.revertedWithCustomError(
      w.pm,
      "PolicyExpired",
    );
  });
});
