// Review (health probe, src/node/health/probe.ts). Fixed: the cap on a policy at the target's own
// rate is now what one checker expects for one target (DEFAULT_MAX_CHECK_POLICY_COST, 3 NKMS), so a
// kept policy is bought only from nodes whose five periods cost no more than that; a node at
// 20 NKMS/period is probed at the global minimum only. The finding as reported: the duty's probe of an assigned target still
// buys a "kept" check policy at the target's own fee rate, through period + keeperPeriods (4), never
// revoked, whenever it holds no live one for that target, and the only bound is
// maxCheckPolicyCost (100 NKMS by default) *per target*. The kept policy is useless to an assigned
// checker (probe capacity already bypasses the quota, the only case the kept policy was for), so it
// is a pure transfer from the checker to the target. A target (or a staker running many nodes) that
// sets its rate to maxCheckPolicyCost / 5 = 20 NKMS per period (well inside 0.001..1,000) collects
// 100 NKMS from every checker drawn to probe it, again every ~3 periods, while a checker's share of
// that target's slice is rewardPerRound / sampleSize / expectedCheckers = 1,000 / 32 / 10 = 3.1 NKMS
// by default (and a checker's whole expected reward for a round is ~100 NKMS over 32 targets). The
// cap was sized against one round's reward, but it applies per target, 32 targets a round. Honest
// probing then pays far worse than blind "unhealthy" voting (0 earned, 0 spent): the opposite of
// the design goal. Same setup as test/review/probe-price.test.ts (its third case, at the max rate,
// is fine only because the kept policy is then above the cap and skipped).
import { expect } from "chai";
import { ethers } from "hardhat";
import { DEFAULT_MAX_CHECK_POLICY_COST } from "../../src/node/health/probe";
import { summarize } from "../../src/node/health/duty";
import { HEALTH_DEFAULTS } from "../../deploy/health-defaults";
import { TOKEN } from "../node/helpers";
import { startProbeWorld, type ProbeWorld } from "./probe-world";

describe("review: a target prices the kept check policy that every assigned checker buys from it", function () {
  this.timeout(600_000);
  let w: ProbeWorld;

  before(async () => {
    w = await startProbeWorld([[1, 2]], [[3, 4]]);
  });
  after(async () => w?.stop());

  it("attack: the duty's probe of an assigned target at 20 NKMS/period costs the checker only the global minimum", async () => {
    const { net } = w;
    const target = net.wallets[1];
    const [globalMin] = (await net.policyManager.params()) as unknown as [bigint, bigint];
    // The attack's rate: 20 NKMS a period (a kept policy, periods p..p+4, would cost 100 NKMS).
    const rate = 20n * 10n ** 18n;
    expect(rate * 5n).to.be.greaterThan(DEFAULT_MAX_CHECK_POLICY_COST);
    await (await net.policyManager.connect(target).setMinFeeRate(rate)).wait();
    const checker = net.wallets[4]; // node 3's operator; its staker is wallets[3]
    await (await net.core.token.connect(net.core.deployer).transfer(checker.address, 1_000n * TOKEN)).wait();
    // The duty's prober (duty.ts builds it without keeperPeriods: the default 4, and the default cap).
    const prober = w.prober(checker);
    const targetFeesBefore = (await net.policyManager.nodeFees(target.address))[0] as bigint;
    const before = await net.core.token.balanceOf(checker.address);
    const r = await prober.probe(target.address, undefined, await w.assignment(net.wallets[3].address));
    const spent = before - (await net.core.token.balanceOf(checker.address));
    const share = HEALTH_DEFAULTS.rewardPerRound / BigInt(HEALTH_DEFAULTS.sampleSize) / BigInt(HEALTH_DEFAULTS.expectedCheckers);
    console.log(`      healthy=${r.healthy}, proof=${r.contact !== undefined}; the checker paid ${ethers.formatEther(spent)} NKMS for one assigned target; its default share of that target's slice: ${ethers.formatEther(share)} NKMS; ${summarize(r).slice(0, 240)}`);
    console.log(`      target fee balance moved by ${ethers.formatEther(((await net.policyManager.nodeFees(target.address))[0] as bigint) - targetFeesBefore)} NKMS so far (the kept policy pays it period by period)`);
    expect(r.healthy, summarize(r)).to.equal(true);
    expect(r.contact, "proof of contact").to.match(/^0x[0-9a-f]{130}$/);
    expect(spent, `an assigned probe of one target cost the checker ${ethers.formatEther(spent)} NKMS (share of the target's slice: ${ethers.formatEther(share)} NKMS)`).to.equal(globalMin);
  });
});
