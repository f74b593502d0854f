// Review (health): "nobody gains by calling a node unhealthy" (HealthCheck "Consequences")
// did not hold. Fixed: each target has a fixed slice of the round's reward, paid to the checkers
// that proved it healthy by weight; flipping a target forfeits the liar's part of that slice and
// raises nothing else it is paid (measured here: the lie pays A 238 NKMS against 589 honestly). The budget is shared over targets judged healthy, pro rata to the weight voting
// healthy on each: a checker's share is budget * w * a / Σ_T W_T. Turning a target T unhealthy
// removes W_T from the denominator and one agreement from the numerator, so it pays whenever
// a * W_T > Σ: a checker holding the majority of a round's revealed weight (one staker running
// several nodes) that votes "unhealthy" on the targets every honest checker proved (the heaviest
// W_T), and "healthy" only where some honest checker failed to reach the target (the lightest),
// takes a larger share, paid by the honest checkers, and the honest targets it flips forfeit
// their rewards. The lie costs nothing: an unhealthy vote needs no evidence and is never punished.
// (The same pivot paid under the old rule too; the new rule's claim is what is wrong.)
import { expect } from "chai";
import { takeSnapshot } from "@nomicfoundation/hardhat-network-helpers";
import { buildWorld, commitVote, openNextRound, randomSalt, revealVote, toReveal, toRevealEnd, type Vote } from "../health/fixture";

describe("review: a majority checker is not paid more for calling proven-healthy targets unhealthy", function () {
  this.timeout(300_000);

  it("voting the well-reached targets unhealthy raises the liar's share", async () => {
    const base = 15_000n * 10n ** 18n; // minStake
    // Targets 0..2 (the first sweep), checkers A (10), B (5), C (4) in minStake units.
    const w = await buildWorld({ nodes: 6, amounts: [10n * base, 10n * base, 10n * base, 10n * base, 5n * base, 4n * base] });
    const r = await openNextRound(w.health);
    expect(r.targets).to.deep.equal(w.nodes.slice(0, 3).map((n) => n.staker.address));
    const [A, B, C] = w.nodes.slice(3);

    // Every target serves; B's probe of target 0 fails on B's side (network): B honestly votes it
    // unhealthy. A and C prove all three.
    const play = async (aVerdicts: bigint) => {
      const votes: Vote[] = [
        { node: A, verdicts: aVerdicts, salt: randomSalt() },
        { node: B, verdicts: 1n, salt: randomSalt() },
        { node: C, verdicts: 0n, salt: randomSalt() },
      ];
      for (const v of votes) await commitVote(w, r.round, v);
      await toReveal(w.health, r.round);
      for (const v of votes) await revealVote(w, r.round, v);
      await toRevealEnd(w.health, r.round);
      const receipt = (await (await w.health.finalize(r.round)).wait())!;
      let forfeited = 0n;
      for (const l of receipt.logs) {
        const e = w.health.interface.parseLog(l);
        if (e?.name === "TargetJudged" && !e.args[2]) forfeited += e.args[3] as bigint;
      }
      const info = await w.health.roundInfo(r.round);
      return {
        unhealthyMask: info.unhealthyMask,
        a: await w.health.claimable(r.round, A.staker.address),
        b: await w.health.claimable(r.round, B.staker.address),
        c: await w.health.claimable(r.round, C.staker.address),
        forfeited,
      };
    };

    const snap = await takeSnapshot();
    const honest = await play(0n);
    await snap.restore();
    // A holds proofs of all three but votes targets 1 and 2 (proven by everyone) unhealthy.
    const lie = await play(0b110n);

    const fmt = (x: bigint) => (Number(x / 10n ** 15n) / 1000).toFixed(3);
    console.log(`      honest A: mask ${honest.unhealthyMask}, A ${fmt(honest.a)} B ${fmt(honest.b)} C ${fmt(honest.c)} NKMS`);
    console.log(`      lying  A: mask ${lie.unhealthyMask}, A ${fmt(lie.a)} B ${fmt(lie.b)} C ${fmt(lie.c)} NKMS; honest targets forfeited ${fmt(lie.forfeited)} NKMS`);
    expect(honest.unhealthyMask).to.equal(0n);
    expect(lie.unhealthyMask).to.equal(6n); // two honest, proven targets judged unhealthy
    expect(lie.a, "calling proven-healthy targets unhealthy paid the liar more").to.be.at.most(honest.a);
  });
});
