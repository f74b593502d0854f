/**
 * Issue #13, attack 5 and the "on the way" bugs of the escrow: the escrow enforces its own
 * slashing window, each slasher pays only the investigator rewards its own slashes withheld,
 * and issuance over a multi-period gap never exceeds the exact geometric schedule.
 */
import { expect } from "chai";
import fc from "fast-check";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { deployCoreFixture, deployCore, advancePeriods, type Core } from "../shared/core-fixture";
import { openStake, TOKEN, WAD } from "./helpers";

async function withSlashers(): Promise<Core & { slasherA: Core["deployer"]; slasherB: Core["deployer"] }> {
  const core = await deployCoreFixture();
  const [slasherA, slasherB] = core.accounts.slice(15, 17);
  const role = await core.escrow.SLASHER_ROLE();
  await (await core.escrow.grantRole(role, slasherA.address)).wait();
  await (await core.escrow.grantRole(role, slasherB.address)).wait();
  return { ...core, slasherA, slasherB };
}

describe("staking: the escrow trusts its slashers for evidence, not for its own rules", () => {
  it("a slasher cannot take an unlocking stake once its slashing window (unlock + G) is over", async () => {
    const core = await loadFixture(withSlashers);
    const staker = core.accounts[0];
    const amount = 20_000n * TOKEN;
    await openStake(core, staker, amount, 4);
    await (await core.escrow.connect(staker).startUnlock()).wait();
    const { unlockPeriod } = await core.escrow.stakeOf(staker.address);
    const G = Number(await core.escrow.slashingGracePeriods());
    // Last period of the window: still slashable.
    await time.increaseTo(BigInt(Number(unlockPeriod) + G) * BigInt(core.params.secondsPerPeriod) - 10n);
    expect(await core.escrow.slashableStake(staker.address)).to.equal(amount);
    await time.increaseTo(BigInt(Number(unlockPeriod) + G) * BigInt(core.params.secondsPerPeriod));
    expect(await core.escrow.slashableStake(staker.address)).to.equal(0n);
    const [slashed] = await core.escrow.connect(core.slasherA).slash.staticCall(staker.address, 1_000n * TOKEN, 0n);
    expect(slashed).to.equal(0n);
    await expect(core.escrow.connect(core.slasherA).slash(staker.address, 1_000n * TOKEN, 0n)).not.to.emit(core.escrow, "Slashed");
    expect((await core.escrow.stakeOf(staker.address)).amount).to.equal(amount);
    await expect(core.escrow.connect(staker).withdraw(amount)).to.emit(core.escrow, "Withdrawn");
  });

  it("each slasher pays out only the rewards its own slashes withheld", async () => {
    const core = await loadFixture(withSlashers);
    const [staker, investigator, thief] = core.accounts;
    await openStake(core, staker, 20_000n * TOKEN, 4);
    const reward = 250n * TOKEN;
    await expect(core.escrow.connect(core.slasherA).slash(staker.address, 1_000n * TOKEN, reward))
      .to.emit(core.escrow, "Slashed")
      .withArgs(staker.address, 1_000n * TOKEN, reward, 1n);
    expect(await core.escrow.owedInvestigatorRewards()).to.equal(reward);
    expect(await core.escrow.owedBy(core.slasherA.address)).to.equal(reward);
    expect(await core.escrow.owedBy(core.slasherB.address)).to.equal(0n);
    // Slasher B (e.g. the LeakAdjudicator) cannot pay what A's investigators are owed.
    await expect(core.escrow.connect(core.slasherB).payInvestigator(thief.address, reward))
      .to.be.revertedWithCustomError(core.escrow, "RewardNotOwed")
      .withArgs(reward, 0n);
    await expect(core.escrow.connect(core.slasherA).payInvestigator(investigator.address, reward + 1n))
      .to.be.revertedWithCustomError(core.escrow, "RewardNotOwed")
      .withArgs(reward + 1n, reward);
    await expect(core.escrow.connect(core.slasherA).payInvestigator(investigator.address, reward))
      .to.emit(core.escrow, "InvestigatorPaid")
      .withArgs(investigator.address, reward);
    expect(await core.token.balanceOf(investigator.address)).to.equal(reward);
    expect(await core.escrow.owedBy(core.slasherA.address)).to.equal(0n);
    // cap = supply + reserve + owed, always.
    expect(await core.token.cap()).to.equal(
      (await core.token.totalSupply()) + (await core.escrow.reserve()) + (await core.escrow.owedInvestigatorRewards()),
    );
  });
});

async function hourlyUnlocking(): Promise<Core> {
  const core = await deployCore({ secondsPerPeriod: 3600 });
  await openStake(core, core.accounts[0], 20_000n * TOKEN, 52);
  await (await core.escrow.connect(core.accounts[0]).startUnlock()).wait();
  return core;
}

/** R·(1 − q^k) ≥ issued, with q = 1 − r, exactly in rationals: issued ≤ floor(R − R·q^k). */
function exactIssuance(reserve: bigint, rate: bigint, k: bigint): bigint {
  const den = WAD ** k;
  const remainder = (reserve * (WAD - rate) ** k + den - 1n) / den; // ceil(R·q^k)
  return reserve - remainder;
}

describe("staking: issuance never exceeds the exact schedule", () => {
  it("an idle multi-period gap issues at most R·(1 − (1 − r)^k) and within 1e-15 of it", async () => {
    const core = await loadFixture(deployCoreFixture);
    await openStake(core, core.accounts[0], 20_000n * TOKEN, 52);
    for (const [i, k] of [5n, 7n, 37n].entries()) {
      const reserve = await core.escrow.reserve();
      const last = await core.escrow.lastRewardPeriod();
      await advancePeriods(core, Number(k));
      // The deposit (first transaction of the period) brings the issuance of the k periods in.
      await openStake(core, core.accounts[i + 1], 15_000n * TOKEN, 4);
      const issued = reserve - (await core.escrow.reserve());
      expect(BigInt(await core.escrow.lastRewardPeriod()) - BigInt(last)).to.equal(k);
      const exact = exactIssuance(reserve, core.params.issuanceRate, k);
      expect(issued, `k = ${k}`).to.be.at.most(exact);
      expect(exact - issued, `k = ${k}`).to.be.at.most(reserve / 10n ** 15n);
    }
  });

  it("property: over any history of active and idle gaps, total issuance stays at or below the exact schedule", async () => {
    // Each step: leave `gap` periods untouched, then a transaction that toggles the weight
    // (relock / startUnlock) or restakes; idle gaps (no rolling stake) issue nothing.
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ gap: fc.integer({ min: 1, max: 40 }), toggle: fc.boolean() }), { minLength: 1, maxLength: 12 }), async (steps) => {
        const core = await loadFixture(hourlyUnlocking);
        const [staker] = core.accounts;
        const start = await core.escrow.reserve();
        let active = 0n;
        let weighted = false;
        for (const { gap, toggle } of steps) {
          await advancePeriods(core, gap);
          if (weighted) active += BigInt(gap);
          if (toggle || !weighted) {
            await (await (weighted ? core.escrow.connect(staker).startUnlock() : core.escrow.connect(staker).relock())).wait();
            weighted = !weighted;
          } else {
            await (await core.escrow.connect(staker).claimRewards(false)).wait();
          }
          const issued = start - (await core.escrow.reserve());
          expect(issued).to.be.at.most(exactIssuance(start, core.params.issuanceRate, active));
        }
      }),
      { numRuns: 8 },
    );
  });
});

describe("staking: a guardian can only pause slashing and forfeiture, and a pause never speeds a withdrawal", () => {
  async function guarded() {
    const core = await withSlashers();
    const guardian = core.accounts[17];
    const forfeiter = core.accounts[18];
    await (await core.escrow.grantRole(await core.escrow.GUARDIAN_ROLE(), guardian.address)).wait();
    await (await core.escrow.grantRole(await core.escrow.REWARD_FORFEITER_ROLE(), forfeiter.address)).wait();
    return { ...core, guardian, forfeiter };
  }

  it("pauses slash and forfeitRewards for at most G periods, once; cannot lift, slash or extend", async () => {
    const core = await loadFixture(guarded);
    const { escrow, guardian, slasherA, forfeiter } = core;
    const staker = core.accounts[0];
    await openStake(core, staker, 20_000n * TOKEN, 4);
    const grace = BigInt(core.params.slashingGracePeriods * core.params.secondsPerPeriod);
    const tx = await escrow.connect(guardian).pauseSlashing();
    const now = BigInt((await tx.getBlock())!.timestamp);
    await expect(tx).to.emit(escrow, "SlashingPaused").withArgs(guardian.address, now, now + grace);
    await expect(escrow.connect(slasherA).slash(staker.address, TOKEN, 0n))
      .to.be.revertedWithCustomError(escrow, "SlashingIsPaused")
      .withArgs(now + grace);
    await expect(escrow.connect(forfeiter).forfeitRewards(staker.address)).to.be.revertedWithCustomError(escrow, "SlashingIsPaused");
    // No more than that: it cannot renew or extend its pause, lift it, slash or grant roles.
    await expect(escrow.connect(guardian).pauseSlashing()).to.be.revertedWithCustomError(escrow, "PauseUnavailable");
    const admin = await escrow.DEFAULT_ADMIN_ROLE();
    await expect(escrow.connect(guardian).liftPause())
      .to.be.revertedWithCustomError(escrow, "AccessControlUnauthorizedAccount")
      .withArgs(guardian.address, admin);
    await expect(escrow.connect(guardian).slash(staker.address, TOKEN, 0n)).to.be.revertedWithCustomError(
      escrow,
      "AccessControlUnauthorizedAccount",
    );
    await expect(escrow.connect(guardian).grantRole(await escrow.SLASHER_ROLE(), guardian.address)).to.be.revertedWithCustomError(
      escrow,
      "AccessControlUnauthorizedAccount",
    );
    // It ends by itself.
    await time.increaseTo(now + grace);
    await expect(escrow.connect(slasherA).slash(staker.address, TOKEN, 0n)).to.emit(escrow, "Slashed");
    expect((await escrow.pauseState()).guardianArmed).to.equal(false);
  });

  it("the admin replaces a bad slasher while paused, lifts the pause and re-arms the guardian", async () => {
    const core = await loadFixture(guarded);
    const { escrow, guardian, slasherA, slasherB } = core;
    const staker = core.accounts[0];
    await openStake(core, staker, 20_000n * TOKEN, 4);
    await (await escrow.connect(guardian).pauseSlashing()).wait();
    await expect(escrow.revokeRole(await escrow.SLASHER_ROLE(), slasherB.address)).to.emit(escrow, "RoleRevoked");
    await expect(escrow.connect(guardian).liftPause()).to.be.reverted;
    await expect(escrow.liftPause()).to.emit(escrow, "SlashingPauseLifted");
    await expect(escrow.connect(slasherB).slash(staker.address, TOKEN, 0n)).to.be.revertedWithCustomError(
      escrow,
      "AccessControlUnauthorizedAccount",
    );
    await expect(escrow.connect(slasherA).slash(staker.address, TOKEN, 0n)).to.emit(escrow, "Slashed");
    expect((await escrow.pauseState()).guardianArmed).to.equal(true);
    await expect(escrow.connect(guardian).pauseSlashing()).to.emit(escrow, "SlashingPaused");
  });

  it("a stake whose slashing window meets a pause stays slashable and locked the pause's length longer", async () => {
    const core = await loadFixture(guarded);
    const { escrow, guardian, slasherA } = core;
    const staker = core.accounts[0];
    const amount = 20_000n * TOKEN;
    await openStake(core, staker, amount, 4);
    await (await escrow.connect(staker).startUnlock()).wait();
    const { unlockPeriod } = await escrow.stakeOf(staker.address);
    const spp = BigInt(core.params.secondsPerPeriod);
    const windowEnd = (BigInt(unlockPeriod) + BigInt(core.params.slashingGracePeriods)) * spp;
    // The guardian pauses one hour before the window would end: without the compensation the
    // stake would walk out while nobody can slash it.
    await time.increaseTo(windowEnd - 3600n);
    const tx = await escrow.connect(guardian).pauseSlashing();
    const start = BigInt((await tx.getBlock())!.timestamp);
    const grace = BigInt(core.params.slashingGracePeriods) * spp;
    await time.increaseTo(windowEnd);
    await expect(escrow.connect(staker).withdraw(amount))
      .to.be.revertedWithCustomError(escrow, "WithdrawalDelayedByPause")
      .withArgs(windowEnd + grace);
    // The admin lifts the pause after a day: the window is extended by the day actually paused.
    await time.increaseTo(start + 86_400n - 1n);
    await (await escrow.liftPause()).wait();
    const until = windowEnd + 86_400n;
    expect(await escrow.slashingDeadline(unlockPeriod)).to.equal(until);
    // Evidence dated two periods earlier had its whole window before the pause: not extended.
    expect(await escrow.slashingDeadline(Number(unlockPeriod) - 2)).to.equal(windowEnd - 2n * spp);
    expect(await escrow.slashableStake(staker.address)).to.equal(amount);
    await expect(escrow.connect(slasherA).slash(staker.address, 1_000n * TOKEN, 0n)).to.emit(escrow, "Slashed");
    await time.increaseTo(until - 2n);
    await expect(escrow.connect(staker).withdraw(1n)).to.be.revertedWithCustomError(escrow, "WithdrawalDelayedByPause").withArgs(until);
    await time.increaseTo(until);
    expect(await escrow.slashableStake(staker.address)).to.equal(0n);
    await expect(escrow.connect(staker).withdraw(amount - 1_000n * TOKEN)).to.emit(escrow, "Withdrawn");
  });

  it("a second pause while the first one's compensation runs keeps it (the pauses merge)", async () => {
    const core = await loadFixture(guarded);
    const { escrow, guardian } = core;
    const staker = core.accounts[0];
    await openStake(core, staker, 20_000n * TOKEN, 4);
    await (await escrow.connect(staker).startUnlock()).wait();
    const { unlockPeriod } = await escrow.stakeOf(staker.address);
    const spp = BigInt(core.params.secondsPerPeriod);
    const grace = BigInt(core.params.slashingGracePeriods) * spp;
    const windowEnd = (BigInt(unlockPeriod) + BigInt(core.params.slashingGracePeriods)) * spp;
    await time.increaseTo(windowEnd - 3600n);
    const first = await escrow.connect(guardian).pauseSlashing();
    const start = BigInt((await first.getBlock())!.timestamp);
    await time.increaseTo(start + 86_399n);
    await (await escrow.liftPause()).wait(); // at start + 1 day: the window now ends windowEnd + 1 day
    const second = await escrow.connect(guardian).pauseSlashing();
    const now = BigInt((await second.getBlock())!.timestamp);
    await expect(second).to.emit(escrow, "SlashingPaused").withArgs(guardian.address, start, now + grace);
    // Without the merge the stake (window end < second pause's start) would walk out now.
    await expect(escrow.connect(staker).withdraw(1n))
      .to.be.revertedWithCustomError(escrow, "WithdrawalDelayedByPause")
      .withArgs(windowEnd + now + grace - start);
  });

  it("a stake whose window ended before the pause is not held back by it", async () => {
    const core = await loadFixture(guarded);
    const { escrow, guardian } = core;
    const staker = core.accounts[0];
    await openStake(core, staker, 20_000n * TOKEN, 4);
    await (await escrow.connect(staker).startUnlock()).wait();
    const { unlockPeriod } = await escrow.stakeOf(staker.address);
    await time.increaseTo((BigInt(unlockPeriod) + BigInt(core.params.slashingGracePeriods)) * BigInt(core.params.secondsPerPeriod));
    await (await escrow.connect(guardian).pauseSlashing()).wait();
    await expect(escrow.connect(staker).withdraw(20_000n * TOKEN)).to.emit(escrow, "Withdrawn");
  });
});
