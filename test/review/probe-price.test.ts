// Review (health). (1) The refund of the unserved period of a revoked check policy goes to its
// owner, a throwaway key the probe drops: one period of the target's fee lost for good per probe,
// by every checker. (2, open) The target sets the price of its own inspection. The probe hires at the
// target's own minimum fee rate, whatever it is up to the governor's maxFeeRate (1,000 NKMS per
// period by default): a probe policy through the next period (the node keeps the current one
// after the revocation) plus a kept check policy through period + 4, never revoked. A node with
// no customers can set the maximum rate and collect it from every checker drawn to probe it,
// while a checker's whole expected reward for a round is rewardPerRound / expectedCheckers
// (100 NKMS by default, deploy/health-defaults.ts). The agent pays without a bound (and approves
// 32 times the cost); an operator's only defence is turning its health duty off, which starves
// the quorum. Fixed on both sides: createProbePolicy (the duty's hire) pays from the global minimum
// fee rate up, whatever the node's rate; a check policy at the node's own rate (kept, or a probe
// without an assignment) is hired only up to the checker's cap (DEFAULT_MAX_CHECK_POLICY_COST,
// the default deployment's expected reward per checker per round), else the service is not judged.
import { expect } from "chai";
import { ethers } from "hardhat";
import type { Wallet } from "ethers";
import { summarize } from "../../src/node/health/duty";
import { HEALTH_DEFAULTS } from "../../deploy/health-defaults";
import { TOKEN } from "../node/helpers";
import { startProbeWorld, type ProbeWorld } from "./probe-world";

describe("review: what a probe costs the checker", function () {
  this.timeout(600_000);
  let w: ProbeWorld;
  let net: ProbeWorld["net"];

  before(async () => {
    w = await startProbeWorld([[1, 2]], [[3, 4]]);
    net = w.net;
  });
  after(async () => w?.stop());

  const proberFor = (checker: Wallet) => w.prober(checker);

  it("the unserved period refunded when the check policy is revoked comes back to the checker (it went to a throwaway owner key)", async () => {
    const target = net.wallets[1];
    const rate = TOKEN / 2n; // a kept policy (5 periods) within the default cap of 3 NKMS
    await (await net.policyManager.connect(target).setMinFeeRate(rate)).wait();
    const checker = net.wallets[4]; // node 3's operator
    await (await net.core.token.connect(net.core.deployer).transfer(checker.address, 100n * TOKEN)).wait();
    const prober = proberFor(checker);
    const before = await net.core.token.balanceOf(checker.address);
    const r = await prober.probe(target.address);
    expect(r.healthy, summarize(r)).to.equal(true);
    expect(r.checks.find((c) => c.name === "revoke")?.ok, summarize(r)).to.equal(true);
    const spent = before - (await net.core.token.balanceOf(checker.address));
    // Kept check policy: periods p..p+4 (5 rates); fresh policy: p..p+1 paid, p+1 refunded (1 rate).
    expect(spent, `paid ${ethers.formatEther(spent)} NKMS`).to.equal(6n * rate);
  });

  it("attack: a target at the maximum fee rate costs each checker that probes it at most a round's expected checker reward", async () => {
    const target = net.wallets[1];
    const [, maxFeeRate] = (await net.policyManager.params()) as unknown as [bigint, bigint];
    await (await net.policyManager.connect(target).setMinFeeRate(maxFeeRate)).wait();
    const checker = net.wallets[4]; // node 3's operator
    await (await net.core.token.connect(net.core.deployer).transfer(checker.address, 20_000n * TOKEN)).wait();
    const prober = proberFor(checker);
    const before = await net.core.token.balanceOf(checker.address);
    const r = await prober.probe(target.address);
    const spent = before - (await net.core.token.balanceOf(checker.address));
    console.log(`      healthy=${r.healthy}; the checker paid ${ethers.formatEther(spent)} NKMS; ${summarize(r).slice(0, 300)}`);
    const roundReward = HEALTH_DEFAULTS.rewardPerRound / BigInt(HEALTH_DEFAULTS.expectedCheckers);
    expect(spent, `paid ${ethers.formatEther(spent)} NKMS to probe one target`).to.be.at.most(roundReward);
    expect(r.checks.find((c) => c.name === "create")?.ok, summarize(r)).to.equal(null); // not judged, not failed
  });

  it("the duty's probe of that target (an assignment: probe capacity) pays the global minimum rate and still judges it", async () => {
    const target = net.wallets[1];
    const [globalMin, maxFeeRate] = (await net.policyManager.params()) as unknown as [bigint, bigint];
    await (await net.policyManager.connect(target).setMinFeeRate(maxFeeRate)).wait();
    const checker = net.wallets[4]; // node 3's operator; its staker is wallets[3]
    const prober = proberFor(checker);
    const before = await net.core.token.balanceOf(checker.address);
    const r = await prober.probe(target.address, undefined, await w.assignment(net.wallets[3].address));
    const spent = before - (await net.core.token.balanceOf(checker.address));
    console.log(`      healthy=${r.healthy}; the checker paid ${ethers.formatEther(spent)} NKMS; ${summarize(r).slice(0, 300)}`);
    expect(r.healthy, summarize(r)).to.equal(true);
    expect(r.checks.find((c) => c.name === "create")?.ok, summarize(r)).to.equal(true);
    expect(r.contact, "proof of contact").to.match(/^0x[0-9a-f]{130}$/);
    // Probe policy through the next period at the global minimum; the next period refunded on revocation.
    expect(spent, `paid ${ethers.formatEther(spent)} NKMS`).to.equal(globalMin);
  });
});
