// Review (health): only "healthy" votes need evidence (a proof of contact). A checker that
// never probes and votes every target "unhealthy" reveals without any proof, is never punishable,
// and is paid on every target the honest majority judges unhealthy: strictly positive pay for no
// work at all (no probe policy paid, no request sent), while an honest prober pays for a probe
// policy per target. Each such ballot also adds its weight against every honest target.
// Fixed: only proven (healthy) agreements are paid; an unhealthy vote counts in the tally, unpaid.
// Its remaining power, weight against honest targets, is bounded by its stake and outweighed by
// the honest checkers' proven votes.
import { expect } from "chai";
import { buildWorld, checkersOf, commitVote, openNextRound, randomSalt, revealVote, toReveal, toRevealEnd, type Vote } from "../health/fixture";

describe("review: blind 'unhealthy' voting", function () {
  this.timeout(300_000);

  it("attack: a checker voting every target unhealthy without probing earns nothing", async () => {
    const w = await buildWorld({ nodes: 7 });
    const { round, targets } = await openNextRound(w.health);
    expect(targets.length).to.equal(3);
    const [honestA, honestB, blind] = checkersOf(w, targets);
    // Target 0 really is down: the honest probers vote it unhealthy, targets 1 and 2 healthy.
    const votes: Vote[] = [
      { node: honestA, verdicts: 0b001n, salt: randomSalt() },
      { node: honestB, verdicts: 0b001n, salt: randomSalt() },
      { node: blind, verdicts: 0b111n, salt: randomSalt() },
    ];
    for (const v of votes) await commitVote(w, round, v);
    await toReveal(w.health, round);
    for (const v of votes) await revealVote(w, round, v); // the blind ballot needs no proof at all
    await toRevealEnd(w.health, round);
    await (await w.health.finalize(round)).wait();
    expect((await w.health.roundInfo(round)).unhealthyMask).to.equal(1n);
    const paid = await w.health.claimable(round, blind.staker.address);
    expect(paid, "paid to a checker that probed nothing").to.equal(0n);
    // The honest probers share the whole budget over their proven votes.
    const a = await w.health.claimable(round, honestA.staker.address);
    const b = await w.health.claimable(round, honestB.staker.address);
    expect(a + b).to.be.closeTo((await w.health.roundInfo(round)).budget, 2n);
  });
});
