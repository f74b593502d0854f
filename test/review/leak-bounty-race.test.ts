// Review of issue #14, finding "first valid reveal takes the bounty": LeakCommitted names the
// arrangement in clear, and the node itself holds both its kfrag and its own receipt. Watching the
// mempool, a leaking node commits in the same block as a third-party challenger and reveals first
// (a higher priority fee): the leak is punished once (LeakAlreadyPunished for the challenger),
// and the bounty — paid out of the OWNER's refund — goes to the node. So
//  - the committed third party gets nothing (its bounty was taken, not by a revocation but by the
//    culprit), and
//  - a node that really leaked pays forfeit − bounty, i.e. half its forfeit with the deployed
//    challengerShareBps = 5,000 (all of it back with 10,000, which the constructor allows).
// The owner can do the same (documented in docs/threat-model.md as "an owner who keeps
// commitments of her own open"). This first case stays open (skipped; remove `.skip` to see it
// fail): it needs a design choice (e.g. the bounty belongs to the earliest commitment, contestable
// for a window as in the cfrag Adjudicator, and/or a bounty paid to the accused staker forfeited
// on top). The second case is fixed: after a revocation, a commitment made LATER than the
// revocation used to end the hold (paid to the owner at once) and shut out every earlier
// committed challenger; it now reverts LeakHoldReserved until the hold's window is over.
import { expect } from "chai";
import { network } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { randomBytes } from "node:crypto";
import { commitArgs, revealArgs, type LeakEvidence } from "../../src/client/leak-evidence";
import { advancePeriods } from "../shared/core-fixture";
import { deployLeakWorld, hex, leakNode, leakPolicy, signReceipt, commit, reveal, type LeakWorld } from "../adjudicator/leak-setup";

describe("review #14: a committed third party's leak bounty cannot be taken by the node or the owner", function () {
  async function fixture() {
    const w = await deployLeakWorld();
    const x = await leakNode(w, 0);
    const p = await leakPolicy(w, [x.staker.address], 6);
    await advancePeriods(w.core, 2);
    const receipt = await signReceipt(w, x.stampSecretKey, x.staker.address, p.creator, p.policyId, p.kfrags[0]);
    return { w, x, p, e: p.evidenceFor(0, receipt) };
  }
  const balance = (w: LeakWorld, a: string) => w.core.token.balanceOf(a);

  /** Both commit in one block; in the next, `first` reveals ahead of `second` (higher priority fee). */
  async function race(w: LeakWorld, e: LeakEvidence, first: typeof w.challenger, second: typeof w.challenger) {
    const [s1, s2] = [new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32))];
    await network.provider.send("evm_setAutomine", [false]);
    try {
      await w.leak.connect(second).commitLeak(...commitArgs(second.address, e, s2), { gasLimit: 400_000 });
      await w.leak.connect(first).commitLeak(...commitArgs(first.address, e, s1), { gasLimit: 400_000 });
      await network.provider.send("evm_mine", []);
      const fast = await w.leak.connect(first).revealLeak(revealArgs(e, s1), { gasLimit: 1_500_000, maxPriorityFeePerGas: 10n ** 10n, maxFeePerGas: 10n ** 11n });
      const slow = await w.leak.connect(second).revealLeak(revealArgs(e, s2), { gasLimit: 1_500_000, maxPriorityFeePerGas: 1n, maxFeePerGas: 10n ** 11n });
      await network.provider.send("evm_mine", []);
      const ok = async (t: typeof fast) => t.wait().then((r) => r!.status === 1, () => false);
      return { firstOk: await ok(fast), secondOk: await ok(slow) };
    } finally {
      await network.provider.send("evm_setAutomine", [true]);
    }
  }

  it.skip("the leaking node racing the challenger's reveal neither takes the bounty nor pays less than the forfeit", async function () {
    const { w, x, p, e } = await loadFixture(fixture);
    const forfeit = await w.leak.forfeitFor(p.creator, hex(p.policyId), x.staker.address);
    const [nodeTokens, challengerTokens, stakeBefore] = [await balance(w, x.staker.address), await balance(w, w.challenger.address), (await w.core.escrow.stakeOf(x.staker.address)).amount];
    const r = await race(w, e, x.staker, w.challenger);
    const nodeGain = (await balance(w, x.staker.address)) - nodeTokens;
    const lost = stakeBefore - (await w.core.escrow.stakeOf(x.staker.address)).amount;
    // On main: the node's reveal wins (r.firstOk), the challenger's fails LeakAlreadyPunished,
    // nodeGain = forfeit / 2 and the challenger gets 0.
    expect(lost - nodeGain, `node paid ${lost - nodeGain} net for a proven leak, forfeit ${forfeit} (race ${JSON.stringify(r)})`).to.equal(forfeit);
    expect((await balance(w, w.challenger.address)) > challengerTokens, "the committed challenger got no bounty").to.equal(true);
  });

  it("after a revocation, a commitment made after it cannot end the hold and shut out an earlier committed challenger", async function () {
    const { w, x, p, e } = await loadFixture(fixture);
    const salt = await commit(w, w.challenger, e); // a third party commits on the live arrangement
    await (await w.pm.connect(w.alice).revokeArrangement(hex(p.policyId), x.staker.address)).wait(); // bounty held back
    const held = (await w.pm.leakHold(hex(p.policyId), x.staker.address)).amount;
    expect(held > 0n).to.equal(true);
    // The owner (any address that knows the kfrag) commits only now and reveals before the challenger.
    const late = await commit(w, w.stranger, e);
    await expect(reveal(w, w.stranger, e, late)).to.be.revertedWithCustomError(w.pm, "LeakHoldReserved");
    const before = await balance(w, w.challenger.address);
    // Before the fix the late reveal paid the whole hold to the owner and this reverted LeakAlreadyPunished.
    await (await reveal(w, w.challenger, e, salt)).wait();
    expect((await balance(w, w.challenger.address)) - before).to.be.greaterThan(0n);
  });
});
