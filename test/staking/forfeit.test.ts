// The health check's reach into the escrow: a failed check takes back what the node earned since
// its last check even when it already claimed or restaked it (from the stake), and a passed check
// (markChecked) protects what was earned before it.
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { advancePeriods, deployCoreFixture, stakeNode } from "../shared/core-fixture";
import { TOKEN } from "./helpers";

const MIN = 15_000n * TOKEN;

async function tracked() {
  const core = await deployCoreFixture();
  const [a, op, health, b, opB] = core.accounts;
  await core.escrow.grantRole(await core.escrow.REWARD_FORFEITER_ROLE(), health.address);
  await stakeNode(core, a, op, { amount: 2n * MIN, lockPeriods: 52 });
  await stakeNode(core, b, opB, { amount: 2n * MIN, lockPeriods: 52 });
  await core.escrow.connect(health).markChecked(a.address); // what enrollment does
  return { core, a, b, health };
}

describe("staking: forfeiture since the last health check", () => {
  it("markChecked is role-gated, starts tracking at the current earnings and emits", async () => {
    const { core, a, b, health } = await loadFixture(tracked);
    const { escrow } = core;
    await expect(escrow.connect(a).markChecked(a.address)).to.be.revertedWithCustomError(escrow, "AccessControlUnauthorizedAccount");
    expect(await escrow.checkStateOf(b.address)).to.deep.equal([false, 0n, 0n]);
    await advancePeriods(core, 2);
    const pending = await escrow.pendingRewards(b.address);
    await expect(escrow.connect(health).markChecked(b.address)).to.emit(escrow, "HealthCheckpoint").withArgs(b.address, pending);
    expect(await escrow.checkStateOf(b.address)).to.deep.equal([true, 0n, pending]);
    // Nothing earned since the checkpoint: nothing to forfeit, the unclaimed rewards stay.
    expect(await escrow.connect(health).forfeitRewards.staticCall(b.address)).to.equal(0n);
  });

  it("takes a claimed reward back out of the stake (the exploit: claim before finalize)", async () => {
    const { core, a, health } = await loadFixture(tracked);
    const { escrow, token, params } = core;
    await advancePeriods(core, 3);
    const balance0 = await token.balanceOf(a.address);
    await escrow.connect(a).claimRewards(false);
    const claimed = (await token.balanceOf(a.address)) - balance0;
    expect(claimed).to.be.greaterThan(0n);
    expect((await escrow.checkStateOf(a.address)).claimed).to.equal(claimed);
    const stake0 = (await escrow.stakeOf(a.address)).amount;
    const reserve0 = await escrow.reserve();
    // Test issuance is generous (rewards dwarf the stake): the clawback is capped by the stake.
    const taken = claimed < stake0 ? claimed : stake0;
    await expect(escrow.connect(health).forfeitRewards(a.address))
      .to.emit(escrow, "RewardsForfeited").withArgs(a.address, taken)
      .and.to.emit(escrow, "ForfeitedFromStake").withArgs(a.address, taken);
    const info = await escrow.stakeOf(a.address);
    expect(info.amount).to.equal(stake0 - taken);
    expect(await escrow.totalLocked()).to.equal(stake0 - taken + 2n * MIN);
    expect(await escrow.totalWeight()).to.equal(info.weight + (await escrow.stakeOf(core.accounts[3].address)).weight);
    expect(await escrow.reserve()).to.equal(reserve0 + taken);
    expect((await token.totalSupply()) + (await escrow.reserve())).to.equal(params.cap);
    // Checkpoint reset: a second failure right away takes nothing more.
    expect(await escrow.connect(health).forfeitRewards.staticCall(a.address)).to.equal(0n);
  });

  it("takes restaked rewards and unclaimed ones together, unclaimed first", async () => {
    const { core, a, health } = await loadFixture(tracked);
    const { escrow } = core;
    await advancePeriods(core, 2);
    await escrow.connect(a).claimRewards(true);
    const restaked = (await escrow.checkStateOf(a.address)).claimed;
    await advancePeriods(core, 2);
    const pending = await escrow.pendingRewards(a.address);
    const stake0 = (await escrow.stakeOf(a.address)).amount;
    expect(stake0).to.equal(2n * MIN + restaked);
    await expect(escrow.connect(health).forfeitRewards(a.address))
      .to.emit(escrow, "RewardsForfeited").withArgs(a.address, restaked + pending)
      .and.to.emit(escrow, "ForfeitedFromStake").withArgs(a.address, restaked);
    expect(await escrow.pendingRewards(a.address)).to.equal(0n);
    expect((await escrow.stakeOf(a.address)).amount).to.equal(2n * MIN);
  });

  it("a passed check protects what was earned before it, even when claimed later", async () => {
    const { core, a, health } = await loadFixture(tracked);
    const { escrow } = core;
    await advancePeriods(core, 2);
    const before = await escrow.pendingRewards(a.address);
    await escrow.connect(health).markChecked(a.address);
    await escrow.connect(a).claimRewards(false);
    await advancePeriods(core, 1);
    const since = await escrow.pendingRewards(a.address); // earned after the check, unclaimed
    const stake0 = (await escrow.stakeOf(a.address)).amount;
    await expect(escrow.connect(health).forfeitRewards(a.address))
      .to.emit(escrow, "RewardsForfeited").withArgs(a.address, since)
      .and.not.to.emit(escrow, "ForfeitedFromStake");
    expect((await escrow.stakeOf(a.address)).amount).to.equal(stake0);
    expect(before).to.be.greaterThan(0n);
  });

  it("never takes more than the stake, and an untracked staker loses only unclaimed rewards", async () => {
    const { core, a, b, health } = await loadFixture(tracked);
    const { escrow } = core;
    await advancePeriods(core, 2);
    // b is untracked: claiming first leaves nothing to forfeit (tracking begins at enrollment).
    await escrow.connect(b).claimRewards(false);
    expect(await escrow.connect(health).forfeitRewards.staticCall(b.address)).to.equal(0n);
    // a: rewards restaked, then the stake unlocks and is mostly withdrawn; the clawback is capped.
    await escrow.connect(a).claimRewards(true);
    await escrow.connect(a).startUnlock();
    await advancePeriods(core, 53 + core.params.slashingGracePeriods);
    const staked = (await escrow.stakeOf(a.address)).amount;
    await escrow.connect(a).withdraw(staked - 1n);
    await expect(escrow.connect(health).forfeitRewards(a.address))
      .to.emit(escrow, "ForfeitedFromStake").withArgs(a.address, 1n);
    expect((await escrow.stakeOf(a.address)).amount).to.equal(0n);
  });
});
