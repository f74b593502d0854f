// Review (health): an honest node winding down (its stake unlocking) is still enrolled and can
// still be drawn as a checker until it becomes evictable. HealthCheck.reveal caps the ballot's
// weight by the stake locked through the period in which the reveal window ends, and reverts
// NoStake when that is zero; so in the round that straddles the unlock period (commit window in
// the last locked period, reveal window ending in the unlock period) the agent's duty commits,
// cannot reveal, and anyone may then punishNonRevealer it: the honest node forfeits every reward
// it earned since its last check (taken from its stake for what it already claimed).
//
// The real duty (src/node/health/duty.ts) runs in-process on the hardhat network; only the probe
// is replaced (its verdicts do not matter here: "unhealthy" for every target needs no proof).
import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { buildWorld, checkersOf, inProcessDuty } from "../health/fixture";

describe("review: a winding-down checker is not punished for a reveal it cannot make", function () {
  this.timeout(300_000);

  it("the duty does not commit in a round whose reveal window ends after its stake unlocks (it could not reveal and would forfeit its rewards)", async () => {
    const w = await buildWorld({ nodes: 6, lockPeriods: 4, accruePeriods: 2 });
    const P = BigInt(w.core.params.secondsPerPeriod);
    // Every stake starts unlocking now: unlock period U = now + 4 (so no node can be evicted before U).
    for (const node of w.nodes) await (await w.core.escrow.connect(node.staker).startUnlock()).wait();
    const U = BigInt((await w.core.escrow.stakeOf(w.nodes[0].staker.address)).unlockPeriod);

    // The round whose commit window is in U - 1 and whose reveal window ends in U.
    let round = (await w.health.currentRound()) + 1n;
    for (;;) {
      const info = await w.health.roundInfo(round);
      if (info.start < U * P && (info.revealEnd - 1n) / P === U) break;
      round += 1n;
    }
    const info = await w.health.roundInfo(round);
    await time.increaseTo(info.start);
    await (await w.health.openRound()).wait();
    const targets = [...(await w.health.roundInfo(round)).targets];
    const [checker] = checkersOf(w, targets);
    expect((await w.health.isChecker(round, checker.staker.address))[0]).to.equal(true);
    // Still an eligible, enrolled node: nobody can evict it in this round.
    await expect(w.health.evict(checker.staker.address)).to.be.revertedWithCustomError(w.health, "StillEligible");

    const { duty } = inProcessDuty(w, checker);
    try {
      await duty.tick(); // commit window
      await time.increaseTo(info.commitEnd);
      await duty.tick(); // reveal window
      await time.increaseTo(info.revealEnd);
      await duty.tick();
    } finally {
      await duty.stop();
    }

    expect(await w.core.escrow.pendingRewards(checker.staker.address), "has accrued rewards to lose").to.be.greaterThan(0n);
    const ballot = await w.health.ballotOf(round, checker.staker.address);
    // Either it did not commit, or it revealed: never a punishable non-revealer.
    expect(ballot.committed && !ballot.revealed, "committed and could not reveal (NoStake): punishable").to.equal(false);
    if (ballot.committed) return;
    await expect(w.health.punishNonRevealer(round, checker.staker.address)).to.be.revertedWithCustomError(w.health, "NoCommitment");
  });
});
