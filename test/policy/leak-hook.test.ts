// PolicyManager's leak hooks (issue #14): openLeakChallenge, revokeForLeak, releaseLeakHold and the
// leakExposure view the LeakAdjudicator sizes forfeits with (the proof itself is tested in
// test/adjudicator/leak.test.ts). Here the role is granted to a plain account so the accounting
// can be checked on its own.
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { advancePeriods } from "../shared/core-fixture";
import { NODE_RATE, PolicyWorld, createPolicy, deployPolicyWorld } from "./fixture";

describe("policy: leak hooks (leak adjudicator role)", function () {
  async function world(): Promise<PolicyWorld & { hook: PolicyWorld["alice"] }> {
    const w = await deployPolicyWorld(3);
    await advancePeriods(w.core, 1);
    const hook = w.core.accounts[13];
    await (await w.pm.grantRole(await w.pm.LEAK_ADJUDICATOR_ROLE(), hook.address)).wait();
    return { ...w, hook };
  }
  const block = async () => BigInt(await ethers.provider.getBlockNumber());

  it("is role-gated and refuses a zero challenger", async function () {
    const w = await loadFixture(world);
    const { policyId, nodes } = await createPolicy(w, [w.nodes[0].staker.address]);
    const role = await w.pm.LEAK_ADJUDICATOR_ROLE();
    await expect(w.pm.connect(w.alice).revokeForLeak(policyId, nodes[0], w.stranger.address, 1n, 0n))
      .to.be.revertedWithCustomError(w.pm, "AccessControlUnauthorizedAccount")
      .withArgs(w.alice.address, role);
    await expect(w.pm.connect(w.alice).openLeakChallenge(policyId, nodes[0], 1n, 10n ** 9n))
      .to.be.revertedWithCustomError(w.pm, "AccessControlUnauthorizedAccount")
      .withArgs(w.alice.address, role);
    await expect(w.pm.connect(w.hook).revokeForLeak(policyId, nodes[0], ethers.ZeroAddress, 1n, 0n)).to.be.revertedWithCustomError(w.pm, "ZeroAddress");
    await expect(w.pm.connect(w.hook).revokeForLeak("0x" + "ab".repeat(16), nodes[0], w.stranger.address, 1n, 0n)).to.be.revertedWithCustomError(
      w.pm,
      "PolicyNotFound",
    );
  });

  it("a live arrangement ends like a revocation and its refund is split: bounty ≤ maxBounty, the rest to the owner", async function () {
    const w = await loadFixture(world);
    const stakers = [w.nodes[0].staker.address, w.nodes[1].staker.address];
    const { policyId, nodes, endPeriod, feeRate } = await createPolicy(w, stakers, { periods: 6 });
    await advancePeriods(w.core, 2);
    const period = await w.pm.currentPeriod();
    const refundable = feeRate * (endPeriod - period);
    for (const [node, maxBounty] of [
      [nodes[0], refundable / 3n],
      [nodes[1], refundable * 10n],
    ] as const) {
      const bounty = maxBounty < refundable ? maxBounty : refundable;
      const [alice0, stranger0] = await Promise.all([w.core.token.balanceOf(w.alice.address), w.core.token.balanceOf(w.stranger.address)]);
      const fees0 = (await w.pm.nodeFees(node)).feeBalance;
      const exposure = await w.pm.leakExposure(policyId, node);
      expect([exposure.hired, exposure.live, exposure.paid, exposure.earned]).to.deep.equal([true, true, feeRate * 6n, feeRate * 3n]);
      await expect(w.pm.connect(w.hook).revokeForLeak(policyId, node, w.stranger.address, maxBounty, await block()))
        .to.emit(w.pm, "ArrangementRevoked")
        .withArgs(policyId, node, refundable - bounty)
        .and.to.emit(w.pm, "ArrangementRevokedForLeak")
        .withArgs(policyId, node, w.stranger.address, bounty, refundable - bounty);
      expect(await w.core.token.balanceOf(w.stranger.address)).to.equal(stranger0 + bounty);
      expect(await w.core.token.balanceOf(w.alice.address)).to.equal(alice0 + refundable - bounty);
      expect((await w.pm.nodeFees(node)).feeBalance).to.equal(fees0 + NODE_RATE * 3n);
      expect(await w.pm.isActiveArrangement(policyId, node)).to.equal(false);
      // Revoked: what it earned is known from the policy's first revocation (3 periods).
      const after = await w.pm.leakExposure(policyId, node);
      expect([after.live, after.earned]).to.deep.equal([false, feeRate * 3n]);
    }
    expect((await w.pm.getPolicy(policyId)).revoked).to.equal(true);
    // Ended without a hold: nothing left to pay.
    await expect(w.pm.connect(w.hook).revokeForLeak(policyId, nodes[0], w.stranger.address, 1n, await block())).to.not.emit(w.pm, "LeakHoldSettled");
  });

  it("an open challenge makes a revocation hold back min(cap, refund) until its window ends; only a commitment no later than the revocation can claim it, a later one cannot end it early", async function () {
    const w = await loadFixture(world);
    const stakers = [w.nodes[0].staker.address, w.nodes[1].staker.address];
    const { policyId, nodes, endPeriod, feeRate } = await createPolicy(w, stakers, { periods: 6 });
    const cap = feeRate * 2n;
    const until = (await block()) + 50n;
    await expect(w.pm.connect(w.hook).openLeakChallenge(policyId, nodes[0], cap, until)).to.emit(w.pm, "LeakChallengeOpened").withArgs(policyId, nodes[0], cap, until);
    const committedAt = await block();
    const alice0 = await w.core.token.balanceOf(w.alice.address);
    const refundable = feeRate * (endPeriod - (await w.pm.currentPeriod()));
    await expect(w.pm.connect(w.alice).revokePolicy(policyId)).to.emit(w.pm, "LeakHoldCreated").withArgs(policyId, nodes[0], cap, until);
    const revokedAt = await block();
    expect(await w.core.token.balanceOf(w.alice.address)).to.equal(alice0 + 2n * refundable - cap);
    expect(await w.pm.connect(w.hook).openLeakChallenge.staticCall(policyId, nodes[0], cap, until + 100n)).to.equal(false);
    // A commitment made after the revocation cannot end the hold while earlier committed
    // challengers may still reveal (it would shut them out: the leak is punished once).
    await expect(w.pm.connect(w.hook).revokeForLeak(policyId, nodes[0], w.stranger.address, cap, revokedAt + 1n))
      .to.be.revertedWithCustomError(w.pm, "LeakHoldReserved")
      .withArgs(policyId, nodes[0], until);
    // The committed challenger: bounty from the hold, the rest to the owner at once.
    await expect(w.pm.connect(w.hook).revokeForLeak(policyId, nodes[0], w.stranger.address, cap / 2n, committedAt))
      .to.emit(w.pm, "LeakHoldSettled")
      .withArgs(policyId, nodes[0], w.stranger.address, cap / 2n, cap - cap / 2n);
    expect(await w.core.token.balanceOf(w.alice.address)).to.equal(alice0 + 2n * refundable - cap / 2n);
    await expect(w.pm.releaseLeakHold(policyId, nodes[0])).to.be.revertedWithCustomError(w.pm, "HoldNotReleasable");
  });

  it("without a reveal the owner gets the held part after the window (anyone may trigger it), never before", async function () {
    const w = await loadFixture(world);
    const { policyId, nodes, endPeriod, feeRate } = await createPolicy(w, [w.nodes[0].staker.address], { periods: 4 });
    const until = (await block()) + 20n;
    await (await w.pm.connect(w.hook).openLeakChallenge(policyId, nodes[0], feeRate * 100n, until)).wait();
    const alice0 = await w.core.token.balanceOf(w.alice.address);
    const refundable = feeRate * (endPeriod - (await w.pm.currentPeriod()));
    await (await w.pm.connect(w.alice).revokeArrangement(policyId, nodes[0])).wait();
    expect(await w.core.token.balanceOf(w.alice.address)).to.equal(alice0); // all of it held (cap > refund)
    await mine(Number(until - (await block())) - 1);
    await expect(w.pm.connect(w.stranger).releaseLeakHold(policyId, nodes[0])).to.be.revertedWithCustomError(w.pm, "HoldNotReleasable");
    await expect(w.pm.connect(w.stranger).releaseLeakHold(policyId, nodes[0])).to.emit(w.pm, "LeakHoldSettled").withArgs(policyId, nodes[0], ethers.ZeroAddress, 0n, refundable);
    expect(await w.core.token.balanceOf(w.alice.address)).to.equal(alice0 + refundable);
    await expect(w.pm.releaseLeakHold(policyId, nodes[0])).to.be.revertedWithCustomError(w.pm, "HoldNotReleasable");
  });

  it("an expired window holds nothing; an expired arrangement cannot be opened; leakExposure of strangers and expired policies", async function () {
    const w = await loadFixture(world);
    const { policyId, nodes, endPeriod, feeRate } = await createPolicy(w, [w.nodes[0].staker.address], { periods: 2 });
    await (await w.pm.connect(w.hook).openLeakChallenge(policyId, nodes[0], feeRate, (await block()) + 1n)).wait();
    await mine(2);
    const alice0 = await w.core.token.balanceOf(w.alice.address);
    const refundable = feeRate * (endPeriod - (await w.pm.currentPeriod()));
    await expect(w.pm.connect(w.alice).revokeArrangement(policyId, nodes[0])).to.not.emit(w.pm, "LeakHoldCreated");
    expect(await w.core.token.balanceOf(w.alice.address)).to.equal(alice0 + refundable);

    const q = await createPolicy(w, [w.nodes[1].staker.address], { periods: 2 });
    expect((await w.pm.leakExposure(q.policyId, w.nodes[2].staker.address)).hired).to.equal(false);
    await advancePeriods(w.core, 3);
    expect(await w.pm.connect(w.hook).openLeakChallenge.staticCall(q.policyId, q.nodes[0], 1n, 10n ** 9n)).to.equal(false);
    const e = await w.pm.leakExposure(q.policyId, q.nodes[0]);
    expect([e.live, e.paid, e.earned]).to.deep.equal([false, q.feeRate * 2n, q.feeRate * 2n]);
  });
});
