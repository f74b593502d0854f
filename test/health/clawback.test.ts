// The exploit the first phase left open: a node drawn as a target sees the round open and claims
// (or restakes) its rewards before finalize, so the forfeit found nothing. Now the escrow takes
// back what it earned since its last check even when claimed, out of its stake if need be.
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { advancePeriods, type Core } from "../shared/core-fixture";
import { buildWorld, checkersOf, commitVote, nodeByStaker, openNextRound, randomSalt, revealVote, toReveal, toRevealEnd, type HealthWorld, type Vote } from "./fixture";

const world6 = () => buildWorld({ nodes: 6 });

/** What forfeitRewards would take now: earned since the checkpoint, capped by rewards + stake. */
async function forfeitable(core: Core, staker: string): Promise<bigint> {
  const [tracked, claimed, checkpoint] = await core.escrow.checkStateOf(staker);
  const pending = await core.escrow.pendingRewards(staker);
  const since = tracked ? (claimed + pending > checkpoint ? claimed + pending - checkpoint : 0n) : pending;
  const cap = pending + (await core.escrow.stakeOf(staker)).amount;
  return since < cap ? since : cap;
}

async function voteRound(w: HealthWorld, verdicts: bigint, meanwhile: (targets: string[]) => Promise<void>) {
  const { round, targets } = await openNextRound(w.health);
  const votes: Vote[] = checkersOf(w, targets).map((node) => ({ node, verdicts, salt: randomSalt() }));
  for (const v of votes) await commitVote(w, round, v);
  await meanwhile(targets);
  await toReveal(w.health, round);
  for (const v of votes) await revealVote(w, round, v);
  await toRevealEnd(w.health, round);
  return { round, targets };
}

describe("health: claiming before finalize saves nothing", () => {
  it("enrollment starts tracking; claimed and restaked rewards are taken back from the stake", async () => {
    const w = await loadFixture(world6);
    for (const n of w.nodes) expect((await w.core.escrow.checkStateOf(n.staker.address)).tracked).to.equal(true);
    const stakes = new Map<string, bigint>();
    const { round, targets } = await voteRound(w, 0b011n, async (targets) => {
      // The exploit: targets 0 and 1 see they were drawn and cash out before the verdict.
      await (await w.core.escrow.connect(nodeByStaker(w, targets[0]).staker).claimRewards(false)).wait();
      await (await w.core.escrow.connect(nodeByStaker(w, targets[1]).staker).claimRewards(true)).wait();
      for (const t of targets) stakes.set(t, (await w.core.escrow.stakeOf(t)).amount);
    });
    expect(await w.core.escrow.pendingRewards(targets[0])).to.equal(0n);
    const due = await Promise.all(targets.map((t) => forfeitable(w.core, t)));
    expect(due[0]).to.be.greaterThan(0n);
    expect(due[1]).to.be.greaterThan(0n);
    const earned2 = (await w.core.escrow.checkStateOf(targets[2])).claimed + (await w.core.escrow.pendingRewards(targets[2]));
    await expect(w.health.finalize(round))
      .to.emit(w.health, "TargetJudged").withArgs(round, targets[0], false, due[0])
      .and.to.emit(w.health, "TargetJudged").withArgs(round, targets[1], false, due[1])
      .and.to.emit(w.core.escrow, "ForfeitedFromStake").withArgs(targets[0], due[0])
      .and.to.emit(w.core.escrow, "HealthCheckpoint").withArgs(targets[2], earned2);
    // The claimed amount left the stake; a healthy target kept everything.
    expect((await w.core.escrow.stakeOf(targets[0])).amount).to.equal(stakes.get(targets[0])! - due[0]);
    expect((await w.core.escrow.stakeOf(targets[1])).amount).to.be.lessThan(stakes.get(targets[1])!);
    expect((await w.core.escrow.stakeOf(targets[2])).amount).to.equal(stakes.get(targets[2])!);
    expect(await w.core.escrow.pendingRewards(targets[2])).to.be.greaterThan(0n);
  });

  it("a passed check shields earlier earnings from a later failure", async () => {
    const w = await loadFixture(world6);
    const first = await voteRound(w, 0n, async () => undefined);
    await w.health.finalize(first.round);
    const target = first.targets[0];
    const [, claimed, checkpoint] = await w.core.escrow.checkStateOf(target);
    expect(checkpoint).to.equal(claimed + (await w.core.escrow.pendingRewards(target)));
    expect(checkpoint).to.be.greaterThan(0n);
    // The node fails a later check after earning more: only the newer earnings go.
    let judged = false;
    for (let i = 0; i < 20 && !judged; i++) {
      await advancePeriods(w.core, 1);
      const { round, targets } = await voteRound(w, 0b111n, async () => undefined);
      if (!targets.includes(target)) {
        await w.health.finalize(round);
        continue;
      }
      judged = true;
      const earned = claimed + (await w.core.escrow.pendingRewards(target));
      expect(earned).to.be.greaterThan(checkpoint);
      await expect(w.health.finalize(round))
        .to.emit(w.core.escrow, "RewardsForfeited").withArgs(target, earned - checkpoint);
      expect(await w.core.escrow.pendingRewards(target)).to.equal(checkpoint - claimed);
    }
    expect(judged).to.equal(true);
  });
});
