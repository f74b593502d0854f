// Review (health): a guardian's pause turned a failed check into a free pass. Fixed: rounds
// finalize strictly in the order they were opened, so during the pause every later round waits
// behind the failing one (a delay, not an amnesty), and the duty finalizes every pending round,
// oldest first, once it can.
//
// escrow.forfeitRewards reverts `SlashingIsPaused` for the whole pause (G periods: 2 weeks by
// default, 84 rounds of 4 h), so every round that judged some target unhealthy cannot be finalized
// meanwhile, while rounds in which every target passed finalize normally (markChecked does not
// check the pause). With the new stale-judgment rule, the failing node's next pass (the sweep draws
// every node every ceil(N / 28) rounds, 6 days at N = 1,000) is applied first and moves its
// checkpoint; when the failing round is finally finalized after the pause, its judgment is stale
// (`StaleJudgment`) and nothing is forfeited: the node keeps everything it earned up to the failed
// check. Before the change the late forfeit at least took what it earned after the later pass; now
// it takes nothing. Nobody needs to reorder anything: the order is forced by the pause. (And the
// agent, duty.ts `settle`, only ever finalizes round - 1, so once the pause outlasts the next round
// the failing round is abandoned by every honest agent; whoever finalizes it later picks the order.)
import { expect } from "chai";
import { time, takeSnapshot } from "@nomicfoundation/hardhat-network-helpers";
import { buildWorld, forfeitedIn, guardianOf, inProcessDuty, playRound } from "../health/fixture";

describe("review: a guardian pause cannot let a failed node's later pass overtake its failure", function () {
  this.timeout(300_000);

  it("a node that failed round r before a pause still forfeits (at least) what was due, once the pause is over", async () => {
    const w = await buildWorld({ nodes: 6 });
    const guardian = await guardianOf(w);

    // Round r: target 0 is down; every checker votes it unhealthy (the others pass).
    const r = await playRound(w, 1n);
    const target = r.targets[0];

    // Baseline: what finalize(r) forfeits when nothing is paused.
    const snap = await takeSnapshot();
    const baseline = forfeitedIn(w, (await (await w.health.finalize(r.round)).wait())!, target);
    await snap.restore();
    expect(baseline, "forfeiture due for the failed check").to.be.greaterThan(0n);

    // The guardian pauses (for any reason: say, a bad adjudicator) before anyone finalizes r.
    await (await w.core.escrow.connect(guardian).pauseSlashing()).wait();
    await expect(w.health.finalize(r.round)).to.be.revertedWithCustomError(w.core.escrow, "SlashingIsPaused");

    // Rounds go on during the pause: r + 1 (other positions) and r + 2 (the node, recovered, passes).
    const r1 = await playRound(w, 0n);
    await expect(w.health.finalize(r1.round)).to.be.revertedWithCustomError(w.health, "PreviousRoundNotFinalized").withArgs(r1.round, r.round);
    const r2 = await playRound(w, 0n);
    expect(r2.targets[0]).to.equal(target);
    await expect(w.health.finalize(r2.round)).to.be.revertedWithCustomError(w.health, "PreviousRoundNotFinalized").withArgs(r2.round, r1.round);

    // After the pause the rounds are finalized in order: the failure first.
    const [, pauseEnd] = await w.core.escrow.pauseState();
    await time.increaseTo(pauseEnd);
    const receipt = (await (await w.health.finalize(r.round)).wait())!;
    const forfeited = forfeitedIn(w, receipt, target);
    console.log(`      forfeiture due for round ${r.round}: ${baseline} wei; forfeited after the pause: ${forfeited} wei`);
    expect(forfeited, `the failed check of round ${r.round} forfeited ${forfeited} of ${baseline} wei`).to.be.at.least(baseline);
    await (await w.health.finalize(r1.round)).wait();
    await expect(w.health.finalize(r2.round)).to.emit(w.health, "TargetJudged").withArgs(r2.round, target, true, 0n);
  });

  it("after the pause, an agent that starts behind walks back to the oldest unfinalized round and finalizes them all in order", async () => {
    const w = await buildWorld({ nodes: 6 });
    const guardian = await guardianOf(w);
    const r = await playRound(w, 1n);
    await (await w.core.escrow.connect(guardian).pauseSlashing()).wait();
    const r1 = await playRound(w, 0n);
    const r2 = await playRound(w, 0n);
    const [, pauseEnd] = await w.core.escrow.pauseState();
    await time.increaseTo(pauseEnd);

    const { duty } = inProcessDuty(w, w.nodes[5]);
    try {
      await duty.tick();
    } finally {
      await duty.stop();
    }
    for (const x of [r, r1, r2]) expect((await w.health.roundInfo(x.round)).finalized, `round ${x.round} finalized`).to.equal(true);
    const [judged] = await w.health.queryFilter(w.health.filters.TargetJudged(r.round, r.targets[0]));
    expect(judged.args.healthy).to.equal(false);
    expect(judged.args.forfeited).to.be.greaterThan(0n);
  });
});
