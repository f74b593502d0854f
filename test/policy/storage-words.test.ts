// The hot paths write a policy's and a node's slots as whole packed words while the views read
// them field by field (Solidity's own packing): every field must read back exactly what the word
// writes put there, and each write must leave the other fields untouched.
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { advancePeriods } from "../shared/core-fixture";
import { NODE_RATE, createPolicy, policyWorldFixture } from "./fixture";

describe("policy: packed storage words agree with the views", () => {
  it("create, revoke one, extend, settle, release and withdraw keep every field exact", async () => {
    const w = await loadFixture(policyWorldFixture);
    const stakers = w.nodes.map((n) => n.staker.address); // ascending; 3 inline ids + 2 in an extra word
    const before = await Promise.all(stakers.map((s) => w.pm.nodeFees(s)));
    const rate = NODE_RATE * 3n + 7n;
    const period = await w.pm.currentPeriod();
    const { policyId, endPeriod } = await createPolicy(w, stakers, { payer: w.sponsor, owner: w.alice.address, periods: 4, feeRate: rate });

    let info = await w.pm.getPolicy(policyId);
    expect([info.owner, info.sponsor]).to.deep.equal([w.alice.address, w.sponsor.address]);
    expect([info.startPeriod, info.endPeriod, info.paidUntil]).to.deep.equal([period, endPeriod, period]);
    expect([info.feeRate, info.nodeCount, info.activeNodes, info.revoked, info.released]).to.deep.equal([rate, 5n, 5n, false, false]);
    expect(await w.pm.policyNodes(policyId)).to.deep.equal(stakers);
    for (let i = 0; i < stakers.length; i++) {
      const f = await w.pm.nodeFees(stakers[i]);
      expect([f.feeBalance, f.minFeeRate, f.activeArrangements, f.id]).to.deep.equal([
        before[i].feeBalance,
        before[i].minFeeRate,
        before[i].activeArrangements + 1n,
        before[i].id,
      ]);
      expect(await w.pm.isActiveArrangement(policyId, stakers[i])).to.equal(true);
    }

    // Revoke the node held in the extra word (index 3): only its mask bit and the active count move.
    await w.pm.connect(w.alice).revokeArrangement(policyId, stakers[3]);
    info = await w.pm.getPolicy(policyId);
    expect([info.activeNodes, info.nodeCount, info.feeRate, info.endPeriod, info.paidUntil]).to.deep.equal([4n, 5n, rate, endPeriod, period]);
    expect(await w.pm.isActiveArrangement(policyId, stakers[3])).to.equal(false);
    expect(await w.pm.isArrangement(policyId, stakers[3])).to.equal(true);
    for (const i of [0, 1, 2, 4]) expect(await w.pm.isActiveArrangement(policyId, stakers[i])).to.equal(true);
    const revoked = await w.pm.nodeFees(stakers[3]);
    expect([revoked.feeBalance, revoked.activeArrangements, revoked.id]).to.deep.equal([before[3].feeBalance + rate, before[3].activeArrangements, before[3].id]);

    // Extend: only the end moves.
    await w.pm.connect(w.sponsor).extendPolicy(policyId, endPeriod + 2n);
    info = await w.pm.getPolicy(policyId);
    expect([info.owner, info.startPeriod, info.endPeriod, info.paidUntil, info.activeNodes]).to.deep.equal([w.alice.address, period, endPeriod + 2n, period, 4n]);

    // Settle mid-way: only paidUntil moves; the active nodes are credited.
    await advancePeriods(w.core, 2);
    await w.pm.settle(policyId);
    info = await w.pm.getPolicy(policyId);
    expect([info.owner, info.startPeriod, info.endPeriod, info.paidUntil, info.released]).to.deep.equal([w.alice.address, period, endPeriod + 2n, period + 3n, false]);
    expect((await w.pm.nodeFees(stakers[0])).feeBalance).to.equal(before[0].feeBalance + rate * 3n);

    // After the end: the rest is credited, the quota released once, the flag set.
    await advancePeriods(w.core, 6);
    await w.pm.settle(policyId);
    info = await w.pm.getPolicy(policyId);
    expect([info.paidUntil, info.released, info.activeNodes, info.revoked]).to.deep.equal([endPeriod + 3n, true, 4n, false]);
    for (let i = 0; i < stakers.length; i++) {
      const f = await w.pm.nodeFees(stakers[i]);
      expect(f.activeArrangements).to.equal(before[i].activeArrangements);
      expect(f.feeBalance).to.equal(before[i].feeBalance + (i === 3 ? rate : rate * 6n));
    }

    // Withdraw clears the balance only.
    await w.pm.withdrawFees(stakers[4]);
    const after = await w.pm.nodeFees(stakers[4]);
    expect([after.feeBalance, after.minFeeRate, after.activeArrangements, after.id]).to.deep.equal([0n, before[4].minFeeRate, before[4].activeArrangements, before[4].id]);
  });

  it("a whole revocation sets exactly nodeCount mask bits and zero active nodes", async () => {
    const w = await loadFixture(policyWorldFixture);
    const stakers = w.nodes.map((n) => n.staker.address).slice(0, 4);
    const { policyId } = await createPolicy(w, stakers, { periods: 3 });
    await w.pm.connect(w.alice).revokeArrangement(policyId, stakers[1]);
    await w.pm.connect(w.alice).revokePolicy(policyId);
    const info = await w.pm.getPolicy(policyId);
    expect([info.nodeCount, info.activeNodes, info.revoked, info.feeRate]).to.deep.equal([4n, 0n, true, NODE_RATE]);
    for (const s of stakers) expect(await w.pm.isActiveArrangement(policyId, s)).to.equal(false);
    await expect(w.pm.connect(w.alice).revokeArrangement(policyId, stakers[0])).to.be.revertedWithCustomError(w.pm, "ArrangementAlreadyRevoked");
    // A later policy on the same nodes starts clean.
    const next = await createPolicy(w, stakers, { periods: 3 });
    expect((await w.pm.getPolicy(next.policyId)).activeNodes).to.equal(4n);
  });
});
