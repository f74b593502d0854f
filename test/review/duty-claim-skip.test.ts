// Review (health duty). Fixed: a claim or punishment that fails is retried on later passes while
// its claim window is open. The finding (src/node/health/duty.ts `settle` / `settlePending`): the duty claims a
// round's checker reward exactly once, when its persisted cursor passes the round. `settle` calls
// `attempt("claim ...")`, ignores whether the claim was sent, and returns true, so `settlePending`
// stores the round as settled. A single failed claim transaction (an RPC error, a nonce clash, a
// gas-price spike, an operator key briefly out of ETH) is never retried, although `claimReward`
// stays open for the whole claim window (28 days by default): the honest checker's earned reward
// is swept back to the pool. Nobody has to attack; nothing in the contract is wrong.
import { expect } from "chai";
import { ethers } from "hardhat";
import { time, setBalance } from "@nomicfoundation/hardhat-network-helpers";
import type { ProbeFn } from "../../src/node/health/duty";
import {
  buildWorld,
  checkersOf,
  commitVote,
  inProcessDuty,
  nodeByStaker,
  openNextRound,
  randomSalt,
  revealVote,
  signContact,
  toClaimEnd,
  toReveal,
  toRevealEnd,
  type Vote,
} from "../health/fixture";

describe("review: the duty does not give up a checker reward after one failed claim", function () {
  this.timeout(300_000);

  it("a claim that fails once is retried while the claim window is open", async () => {
    const w = await buildWorld({ nodes: 6 });
    const { chainId } = await ethers.provider.getNetwork();
    const r = await openNextRound(w.health);
    const [me, ...others] = checkersOf(w, r.targets);
    // An honest prober: every target serves and hands out its proof of contact.
    const probe: ProbeFn = async (target, _deadline, a) => ({
      target,
      healthy: true,
      checks: [{ name: "reachability", ok: true, detail: "test: served" }],
      contact: signContact(nodeByStaker(w, target).stampSecretKey, chainId, w.healthAddress, a.round, a.checker, target),
    });
    const { duty } = inProcessDuty(w, me, probe);
    try {
      await duty.tick(); // commit window: probe, commit
      expect((await w.health.ballotOf(r.round, me.staker.address)).committed, "duty committed").to.equal(true);
      const votes: Vote[] = others.map((node) => ({ node, verdicts: 0n, salt: randomSalt() }));
      for (const v of votes) await commitVote(w, r.round, v);
      await toReveal(w.health, r.round);
      await duty.tick(); // reveal
      expect((await w.health.ballotOf(r.round, me.staker.address)).revealed, "duty revealed").to.equal(true);
      for (const v of votes) await revealVote(w, r.round, v);
      await toRevealEnd(w.health, r.round);

      // Another agent finalizes first (they race; any of them may).
      await (await w.health.connect(w.outsider).finalize(r.round)).wait();
      const due = await w.health.claimable(r.round, me.staker.address);
      expect(due, "reward earned").to.be.greaterThan(0n);

      // One transient failure at the moment the duty claims: here, the operator key is out of ETH
      // for one pass (the same path as an RPC error or a dropped transaction).
      const balance = await ethers.provider.getBalance(me.operator.address);
      await setBalance(me.operator.address, 0n);
      await duty.tick();
      await setBalance(me.operator.address, balance);

      // The agent keeps running for the rest of the claim window: later rounds go by unopened
      // (past their open window, so the duty has nothing else to do), passes run every round.
      const roundLength = BigInt(w.config.commitDuration + w.config.revealDuration);
      const claimEnd = (await w.health.roundInfo(r.round)).claimEnd;
      for (let t = BigInt(await time.latest()) + BigInt(w.config.openWindow) + 1n; t < claimEnd - 60n; t += roundLength) {
        await time.increaseTo(t);
        await duty.tick();
      }
      await time.increaseTo(claimEnd - 30n);
      await duty.tick();
      const ballot = await w.health.ballotOf(r.round, me.staker.address);
      const left = await w.health.claimable(r.round, me.staker.address);
      await toClaimEnd(w.health, r.round);
      console.log(`      earned ${ethers.formatEther(due)} NKMS; claimed by the duty: ${ballot.claimed}; still claimable 30 s before the window closed: ${ethers.formatEther(left)} NKMS (lost to sweep)`);
      expect(ballot.claimed, `the duty never retried its claim of ${ethers.formatEther(due)} NKMS in round ${r.round}`).to.equal(true);
    } finally {
      await duty.stop();
    }
  });
});
