// Review (health): `finalize` has no deadline, and forfeiting (escrow.forfeitRewards) or moving a
// target's checkpoint (escrow.markChecked) acts on the escrow *at finalization*. Finalized out of
// order, a failure of round r finalized after round r + 2 passed the node took what it earned
// after that pass, and a pass of round r withheld until after a failure of round r + 2 shielded
// what it earned since failing. A first fix (a stale-judgment rule) was itself turned into a free
// pass by a guardian's pause (test/review/pause-stale-dodge.test.ts). Fixed: rounds finalize
// strictly in the order they were opened; void and unopened rounds do not count.
import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { buildWorld, playRound } from "../health/fixture";

describe("review: rounds finalize in the order they were opened", function () {
  this.timeout(300_000);

  it("finalize(r + 2) cannot overtake a failure of round r; in order, the failure reaches back only to checks applied before it", async () => {
    const w = await buildWorld({ nodes: 6 });
    const r = await playRound(w, 1n); // target 0 fails; nobody finalizes r yet
    const target = r.targets[0];
    const r1 = await playRound(w, 0n);
    const r2 = await playRound(w, 0n);
    expect(r2.targets[0]).to.equal(target); // the sweep is back at the same positions
    // The attack: finalize the later pass first.
    await expect(w.health.finalize(r2.round)).to.be.revertedWithCustomError(w.health, "PreviousRoundNotFinalized").withArgs(r2.round, r1.round);
    await expect(w.health.finalize(r1.round)).to.be.revertedWithCustomError(w.health, "PreviousRoundNotFinalized").withArgs(r1.round, r.round);
    // In order: r forfeits, then r + 2's pass moves the checkpoint.
    await expect(w.health.finalize(r.round)).to.emit(w.health, "TargetJudged").withArgs(r.round, target, false, (x: bigint) => x > 0n);
    await (await w.health.finalize(r1.round)).wait();
    await expect(w.health.finalize(r2.round)).to.emit(w.core.escrow, "HealthCheckpoint");
  });

  it("a withheld pass of round r cannot be applied after a failure of round r + 2 to shield what the node earned since failing", async () => {
    const w = await buildWorld({ nodes: 6 });
    const r = await playRound(w, 0n); // target 0 passes; its friend withholds finalize(r)
    const target = r.targets[0];
    const r1 = await playRound(w, 0n);
    const r2 = await playRound(w, 1n); // it fails
    expect(r2.targets[0]).to.equal(target);
    await expect(w.health.finalize(r2.round)).to.be.revertedWithCustomError(w.health, "PreviousRoundNotFinalized");
    // Honest agents finalize in order; the failure reaches back to round r's pass, no further.
    await (await w.health.finalize(r.round)).wait();
    await (await w.health.finalize(r1.round)).wait();
    const period = BigInt(await w.core.escrow.currentPeriod());
    await time.increaseTo((period + 1n) * BigInt(w.core.params.secondsPerPeriod) + 1n);
    await expect(w.health.finalize(r2.round)).to.emit(w.health, "TargetJudged").withArgs(r2.round, target, false, (x: bigint) => x > 0n);
  });

  it("unopened and void rounds do not hold the order up", async () => {
    const w = await buildWorld({ nodes: 6 });
    const r = await playRound(w, 0n);
    await (await w.health.finalize(r.round)).wait();
    // Round r + 1 is never opened (nobody calls openRound in its window).
    const skipped = (await w.health.roundInfo(r.round + 1n)).start + (await w.health.openWindow());
    await time.increaseTo(skipped);
    const r2 = await playRound(w, 0n);
    expect(r2.round).to.equal(r.round + 2n);
    expect(await w.health.lastOpenedRound()).to.equal(r2.round);
    await expect(w.health.finalize(r2.round)).to.emit(w.health, "RoundFinalized");
  });
});
