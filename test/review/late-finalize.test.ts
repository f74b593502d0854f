// Review (health): `finalize` has no deadline and forfeits what the target earned since its last
// check *at the time of finalization*, not as of the round. A round r that judged a node unhealthy
// but was finalized late (nobody called it; a guardian pause made it revert meanwhile) reaches
// forward past checks the node passed afterwards: here the node fails round r, recovers, passes
// round r + 2 (finalized: checkpoint moved), earns a period's rewards, and then the late
// finalize(r) takes those too. The contract notice promises the opposite direction only ("a later
// failure cannot reach back past a check it passed"); an earlier failure should not reach forward
// past one either.
import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { buildWorld, checkersOf, commitVote, openNextRound, randomSalt, revealVote, toReveal, toRevealEnd, type Vote } from "../health/fixture";

describe("review: a late finalize does not reach past a check the target passed since", function () {
  this.timeout(300_000);

  it("finalize(r) after finalize(r + 2) judged the target healthy forfeits nothing earned after that check", async () => {
    const w = await buildWorld({ nodes: 6 });
    // Round r: every checker votes target 0 unhealthy; nobody finalizes r.
    const r = await openNextRound(w.health);
    const target = r.targets[0];
    const votesR: Vote[] = checkersOf(w, r.targets).map((node) => ({ node, verdicts: 1n, salt: randomSalt() }));
    for (const v of votesR) await commitVote(w, r.round, v);
    await toReveal(w.health, r.round);
    for (const v of votesR) await revealVote(w, r.round, v);
    await toRevealEnd(w.health, r.round);

    // Round r + 1 (the sweep moves on), then r + 2 checks the same positions again: healthy.
    await openNextRound(w.health);
    const r2 = await openNextRound(w.health);
    expect(r2.targets[0]).to.equal(target);
    const votes2: Vote[] = checkersOf(w, r2.targets).map((node) => ({ node, verdicts: 0n, salt: randomSalt() }));
    for (const v of votes2) await commitVote(w, r2.round, v);
    await toReveal(w.health, r2.round);
    for (const v of votes2) await revealVote(w, r2.round, v);
    await toRevealEnd(w.health, r2.round);
    await expect(w.health.finalize(r2.round)).to.emit(w.health, "TargetJudged").withArgs(r2.round, target, true, 0n);

    // A period of rewards earned after the passed check.
    const before = await w.core.escrow.pendingRewards(target);
    const period = BigInt(await w.core.escrow.currentPeriod());
    await time.increaseTo((period + 1n) * BigInt(w.core.params.secondsPerPeriod) + 1n);
    const earned = (await w.core.escrow.pendingRewards(target)) - before;
    expect(earned, "rewards earned since the passed check").to.be.greaterThan(0n);

    // The stale failure of round r is finalized only now.
    const tx = await w.health.finalize(r.round);
    const receipt = await tx.wait();
    const judged = receipt!.logs
      .map((l) => w.health.interface.parseLog(l))
      .find((e) => e?.name === "TargetJudged" && e.args[1] === target);
    const forfeited = judged ? (judged.args[3] as bigint) : 0n;
    expect(forfeited, `forfeited ${forfeited} wei earned after round ${r2.round}'s passed check`).to.equal(0n);
  });

  it("finalize(r) judging the target healthy, after finalize(r + 2) judged it unhealthy, shields nothing earned since", async () => {
    const w = await buildWorld({ nodes: 6 });
    // Round r: the target passes; its friend withholds finalize(r).
    const r = await openNextRound(w.health);
    const target = r.targets[0];
    const votesR: Vote[] = checkersOf(w, r.targets).map((node) => ({ node, verdicts: 0n, salt: randomSalt() }));
    for (const v of votesR) await commitVote(w, r.round, v);
    await toReveal(w.health, r.round);
    for (const v of votesR) await revealVote(w, r.round, v);
    await toRevealEnd(w.health, r.round);

    // Round r + 2 judges it unhealthy and is finalized at once.
    await openNextRound(w.health);
    const r2 = await openNextRound(w.health);
    expect(r2.targets[0]).to.equal(target);
    const votes2: Vote[] = checkersOf(w, r2.targets).map((node) => ({ node, verdicts: 1n, salt: randomSalt() }));
    for (const v of votes2) await commitVote(w, r2.round, v);
    await toReveal(w.health, r2.round);
    for (const v of votes2) await revealVote(w, r2.round, v);
    await toRevealEnd(w.health, r2.round);
    await (await w.health.finalize(r2.round)).wait();
    expect(await w.health.lastJudgedRound(target)).to.equal(r2.round);

    // The node earns a period's rewards after failing, then the withheld pass is finalized.
    const period = BigInt(await w.core.escrow.currentPeriod());
    await time.increaseTo((period + 1n) * BigInt(w.core.params.secondsPerPeriod) + 1n);
    const earned = await w.core.escrow.pendingRewards(target);
    expect(earned).to.be.greaterThan(0n);
    await expect(w.health.finalize(r.round))
      .to.emit(w.health, "StaleJudgment")
      .withArgs(r.round, target, r2.round)
      .and.not.to.emit(w.core.escrow, "HealthCheckpoint");
    expect(await w.health.lastJudgedRound(target)).to.equal(r2.round);
  });
});
