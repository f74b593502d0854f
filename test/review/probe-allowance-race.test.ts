// Review (health probe). Fixed: a prober pays one hire at a time (allowance check, top-up, hire,
// each mined in turn: TargetProber.payInTurn). The finding (src/node/health/probe.ts `ensureAllowance`): the duty probes all targets
// of a round concurrently (duty.ts, Promise.all) with one TargetProber, and each probe checks the
// PolicyManager allowance on its own (`current >= amount`, else approve 32 x amount) before its hire
// is queued. The check and the spend are not atomic: every probe reads the same leftover allowance
// before the first hire is mined, so when the leftover covers some but not all of the round's
// hires, nobody approves and the hires beyond the leftover revert. That hire failure is "could not
// pay the check policy" (inconclusive, the checker's own fault): the target is healthy without a
// proof of contact and the duty sits the WHOLE round out (no vote on any target, no reward).
// The leftover arises by itself: one approval covers 32 hires; with k targets a round (k = 10 in a
// 20-node network) the checker's rounds leave 22, 12, 2 hires' worth, and in its fourth round all
// k probes read "2 hires' worth is enough": 2 hires succeed, 8 revert. Shown here with two targets
// and a leftover of one hire.
import { expect } from "chai";
import { summarize } from "../../src/node/health/duty";
import { TOKEN } from "../node/helpers";
import { startProbeWorld, type ProbeWorld } from "./probe-world";

describe("review: concurrent probes of one round do not race on one allowance", function () {
  this.timeout(600_000);
  let w: ProbeWorld;

  before(async () => {
    w = await startProbeWorld([[1, 2], [5, 6]], [[3, 4]]);
  });
  after(async () => w?.stop());

  it("two assigned probes run as the duty runs them both get their proof of contact when the leftover allowance covers one hire", async () => {
    const { net } = w;
    const targets = [net.wallets[1], net.wallets[5]];
    const [globalMin, maxFeeRate] = (await net.policyManager.params()) as unknown as [bigint, bigint];
    // Targets at the maximum rate: no kept policy (above the cap), only the probe hires.
    for (const t of targets) await (await net.policyManager.connect(t).setMinFeeRate(maxFeeRate)).wait();
    const checker = net.wallets[4]; // node 3's operator; its staker is wallets[3]
    await (await net.core.token.connect(net.core.deployer).transfer(checker.address, 100n * TOKEN)).wait();
    const period = BigInt(await net.policyManager.currentPeriod());
    const hire = (await net.policyManager.policyCost(1, globalMin, period + 1n)) as bigint;
    // What is left of an earlier 32-hire approval: one hire's worth.
    await (await net.core.token.connect(checker).approve(net.policyManagerAddress, hire)).wait();
    const prober = w.prober(checker, 60_000);
    const assignment = await w.assignment(net.wallets[3].address);
    const reports = await Promise.all(targets.map((t) => prober.probe(t.address, undefined, assignment)));
    for (const r of reports) console.log(`      ${r.target.slice(0, 10)}: healthy=${r.healthy}, proof=${r.contact !== undefined}; ${summarize(r).slice(0, 260)}`);
    const unproven = reports.filter((r) => r.healthy && !r.contact);
    expect(unproven.length, `${unproven.length} healthy target(s) without a proof: the duty would sit the whole round out`).to.equal(0);
  });
});
