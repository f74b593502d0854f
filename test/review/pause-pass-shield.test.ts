// Review (health). Fixed: a pass finalized more than one round length after its reveal window does
// not move the checkpoint (HealthCheck CheckpointSkipped). The finding: ordered finalization still lets a guardian's pause forgive failures, in the
// other direction. Judgments act on the escrow at finalization: a pass moves the node's checkpoint
// to everything it has earned *at finalization* (escrow.markChecked). During a pause nothing after
// the first round judging someone unhealthy can be finalized; after it, the backlog is finalized in
// order within minutes. A node that passed one check early in the pause and was down for the rest
// of it (failing every later check) gets its pass applied first, at the pause's end: the checkpoint
// swallows everything it earned while down, and its failures, finalized right after, forfeit
// nothing. Without the pause each failure forfeits what the node earned since its last pass.
// The contract's own claim ("in order, a pause delays every later judgment with it: a delay, not an
// amnesty") does not hold: the pause is an amnesty for whatever a node earned, while failing, after
// its last pass. The sweep is deterministic (a node knows the round of its next check), so a node
// can pass once after a pause starts and then stop serving until the pause is over.
import { expect } from "chai";
import { ethers } from "hardhat";
import { time, takeSnapshot } from "@nomicfoundation/hardhat-network-helpers";
import { buildWorld, forfeitedIn, guardianOf, playRound } from "../health/fixture";

describe("review: a pass finalized late (after a pause) does not shield what the node earned while failing", function () {
  this.timeout(300_000);

  it("a node that passes once in a pause and then fails forfeits what it earned since that pass, as without the pause", async () => {
    const w = await buildWorld({ nodes: 6 });
    const guardian = await guardianOf(w);
    const period = BigInt(w.core.params.secondsPerPeriod);

    /** r0: some node fails; r1: node X passes; a period's issuance; r2: others; r3: X is down. */
    async function scenario(pause: boolean): Promise<{ x: string; forfeited: bigint }> {
      const r0 = await playRound(w, 1n);
      if (pause) await (await w.core.escrow.connect(guardian).pauseSlashing()).wait();
      else await (await w.health.finalize(r0.round)).wait();
      const r1 = await playRound(w, 0n);
      const x = r1.targets[0];
      if (!pause) await (await w.health.finalize(r1.round)).wait();
      // X earns its share of a period's issuance after passing r1.
      await time.increaseTo((BigInt(await time.latest()) / period + 1n) * period + 1n);
      const r2 = await playRound(w, 0n);
      if (!pause) await (await w.health.finalize(r2.round)).wait();
      const r3 = await playRound(w, 1n); // X stopped serving
      expect(r3.targets[0], "the sweep is back at X").to.equal(x);
      if (pause) {
        await expect(w.health.finalize(r1.round)).to.be.revertedWithCustomError(w.health, "PreviousRoundNotFinalized");
        const [, pauseEnd] = await w.core.escrow.pauseState();
        await time.increaseTo(pauseEnd);
        for (const r of [r0, r1, r2]) await (await w.health.finalize(r.round)).wait();
      }
      const receipt = (await (await w.health.finalize(r3.round)).wait())!;
      return { x, forfeited: forfeitedIn(w, receipt, x) };
    }

    const snap = await takeSnapshot();
    const control = await scenario(false);
    await snap.restore();
    const paused = await scenario(true);
    expect(paused.x).to.equal(control.x);
    console.log(`      X's failure in r3 forfeits ${ethers.formatEther(control.forfeited)} NKMS without a pause, ${ethers.formatEther(paused.forfeited)} NKMS when the rounds were finalized after a pause`);
    expect(control.forfeited, "without a pause the failure forfeits the issuance earned since the pass").to.be.greaterThan(0n);
    expect(paused.forfeited, `after the pause X forfeits ${paused.forfeited} of ${control.forfeited} wei`).to.be.at.least(control.forfeited);
  });
});
