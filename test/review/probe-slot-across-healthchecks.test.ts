// Review (health): PolicyManager remembers a used probe slot by (round, checker, target) only, not by
// the HealthCheck that assigned it. HealthCheck rounds are numbered from each contract's own
// genesis, so after the governor points the PolicyManager at a new HealthCheck (a redeploy, e.g.
// to announce a first round with Config.firstRoundStart), every (round, checker, target) the old
// contract already hired is refused as ProbeAlreadyHired in the new one. The agent counts a hire
// it cannot pay for as its own failure: it then has no proof of contact for that target and sits
// the whole round out (duty.ts), so a migration silently removes checkers from the new rounds.
import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { buildWorld, checkersOf, deployHealth, TEST_CONFIG } from "../health/fixture";
import { deployPolicyManager, NODE_RATE, TOKEN } from "../policy/fixture";

let counter = 0;
const newId = () => ethers.zeroPadValue(ethers.toBeHex(++counter), 16);
const ROOT = ethers.keccak256("0x01");

describe("review: probe slots are per HealthCheck", function () {
  this.timeout(300_000);

  it("a checker assigned (round, target) by a new HealthCheck can hire its probe although the previous HealthCheck assigned the same triple", async () => {
    const w = await buildWorld({ nodes: 6 });
    const pm = await deployPolicyManager(w.core);
    const pmAddress = await pm.getAddress();
    for (const node of w.nodes) {
      await (await pm.connect(node.staker).setMinFeeRate(NODE_RATE)).wait();
      await (await w.core.token.transfer(node.operator.address, 1_000n * TOKEN)).wait();
      await (await w.core.token.connect(node.operator).approve(pmAddress, ethers.MaxUint256)).wait();
    }
    await (await pm.setHealthCheck(w.healthAddress)).wait();

    // Old HealthCheck: round r, checker a hires target t.
    const old = w.health;
    const r = (await old.currentRound()) + 1n;
    await time.increaseTo((await old.roundInfo(r)).start);
    await (await old.openRound()).wait();
    const targets = [...(await old.roundInfo(r)).targets];
    const [a] = checkersOf(w, targets);
    await (await pm.connect(a.operator).createProbePolicy(r, newId(), a.operator.address, NODE_RATE, [targets[0]], ROOT)).wait();

    // A new HealthCheck, same enrollment order, rounds numbered from its own genesis; the
    // governor points the PolicyManager at it.
    const fresh = await deployHealth(w.core, { ...TEST_CONFIG }, 0n);
    for (const node of w.nodes) await (await fresh.enroll(node.staker.address)).wait();
    await (await pm.setHealthCheck(await fresh.getAddress())).wait();
    expect(await fresh.currentRound()).to.be.lessThan(r);
    await time.increaseTo((await fresh.roundInfo(r)).start);
    await (await fresh.openRound()).wait();
    // Its first opened round sweeps the same layout positions: the same targets, the same checkers.
    expect([...(await fresh.roundInfo(r)).targets]).to.deep.equal(targets);
    expect(await fresh.isProbeAssignment(r, a.staker.address, targets[0])).to.equal(true);

    // The assignment is the new contract's, and unused there: the hire must go through.
    await expect(pm.connect(a.operator).createProbePolicy(r, newId(), a.operator.address, NODE_RATE, [targets[0]], ROOT)).to.emit(pm, "ProbeHired");
  });
});
