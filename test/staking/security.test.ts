// Security review findings on the escrow's rewards and bonding, each shown closed:
//  - reward sniping: weight added late in a period must not earn that period;
//  - bonding griefing: nobody is bonded as an operator without consenting.
// (Slashing escapes are in test/adjudicator/escape.test.ts, the key proof in escrow.test.ts.)
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { advancePeriods, deployCoreFixture, registerNode, type Core } from "../shared/core-fixture";
import { openStake, TOKEN } from "./helpers";

const MIN = 15_000n * TOKEN;

/** Timestamp of the first / last second of period `p`. */
function periodStart(core: Core, p: bigint): number {
  return Number(p) * core.params.secondsPerPeriod;
}

describe("staking: reward sniping and bonding griefing are closed", () => {
  it("weight added at the last second of a period earns nothing of it, and no more than weight added at its start", async () => {
    const core = await loadFixture(deployCoreFixture);
    const { escrow } = core;
    const [incumbent, early, sniper, toppedUp, relocker] = core.accounts;
    await openStake(core, incumbent, 10n * MIN, 52);
    await openStake(core, toppedUp, 10n * MIN, 52);
    await openStake(core, relocker, 10n * MIN, 52);
    await escrow.connect(relocker).startUnlock();
    await advancePeriods(core, 1);
    const P = await escrow.currentPeriod();

    // The first transaction of P credits P's issuance to the weight present at P's start.
    const reserveBefore = await escrow.reserve();
    await escrow.connect(incumbent).claimRewards(false);
    const issuedForP = reserveBefore - (await escrow.reserve());
    expect(issuedForP).to.be.greaterThan(0n);

    // An early deposit right after that, and at the very last second of P: a deposit, a top-up
    // doubling a stake, and a relock of an unlocking stake (the three ways to add weight).
    await openStake(core, early, 10n * MIN, 52);
    await core.token.transfer(sniper.address, 10n * MIN);
    await core.token.connect(sniper).approve(core.escrowAddress, 10n * MIN);
    await core.token.transfer(toppedUp.address, 10n * MIN);
    await core.token.connect(toppedUp).approve(core.escrowAddress, 10n * MIN);
    const lastSecond = periodStart(core, P + 1n) - 1;
    await ethers.provider.send("evm_setAutomine", [false]);
    await escrow.connect(sniper).deposit(10n * MIN, 52);
    await escrow.connect(toppedUp).increase(10n * MIN);
    await escrow.connect(relocker).relock();
    await time.setNextBlockTimestamp(lastSecond);
    await ethers.provider.send("evm_mine", []);
    await ethers.provider.send("evm_setAutomine", [true]);
    expect(await escrow.currentPeriod()).to.equal(P);

    // Nothing of P's issuance reached the weight added during P, early or late.
    expect(await escrow.lastRewardPeriod()).to.equal(P);
    const toppedUpBefore = await escrow.pendingRewards(toppedUp.address);
    const relockerBefore = await escrow.pendingRewards(relocker.address);
    expect(await escrow.pendingRewards(early.address)).to.equal(0n);
    expect(await escrow.pendingRewards(sniper.address)).to.equal(0n);

    // From the next boundary on all of them earn by weight: the last-second sniper exactly as
    // much as the early staker, the doubled stake twice the incumbent's share.
    await advancePeriods(core, 1);
    await escrow.connect(incumbent).claimRewards(false);
    const share = await escrow.pendingRewards(early.address);
    expect(share).to.be.greaterThan(0n);
    expect(await escrow.pendingRewards(sniper.address)).to.equal(share);
    expect((await escrow.pendingRewards(toppedUp.address)) - toppedUpBefore).to.be.closeTo(2n * share, 2n);
    expect((await escrow.pendingRewards(relocker.address)) - relockerBefore).to.be.closeTo(share, 2n);

    // What the sniper was paid (the issuance of P + 1, credited at its start) binds its stake for
    // all of P + 1 and beyond: unlocking now frees it only after the lock and the slashing grace.
    await escrow.connect(sniper).startUnlock();
    const unlockPeriod = (await escrow.stakeOf(sniper.address)).unlockPeriod;
    expect(unlockPeriod).to.equal(P + 1n + 52n);
    await expect(escrow.connect(sniper).withdraw(1n)).to.be.revertedWithCustomError(escrow, "LockNotOver");
  });

  it("the issuance of a period goes to the weight present at its start, even when its first transaction is a deposit", async () => {
    const core = await loadFixture(deployCoreFixture);
    const { escrow } = core;
    const [incumbent, sniper] = core.accounts;
    await openStake(core, incumbent, 10n * MIN, 52);
    await advancePeriods(core, 3); // three periods with no transaction at all
    const reserveBefore = await escrow.reserve();
    await openStake(core, sniper, 100n * MIN, 52); // the first transaction in ages
    const issued = reserveBefore - (await escrow.reserve());
    expect(issued).to.be.greaterThan(0n);
    // Everything issued for the elapsed periods is the incumbent's; the sniper's huge weight got none.
    expect(await escrow.pendingRewards(sniper.address)).to.equal(0n);
    const incumbentRewards = await escrow.pendingRewards(incumbent.address);
    expect(incumbentRewards).to.be.at.most(issued);
    expect(issued - incumbentRewards).to.be.lessThan(10n ** 6n); // accumulator rounding only
  });

  it("proposing a victim's wallet as operator bonds nothing and does not stop the victim staking", async () => {
    const core = await loadFixture(deployCoreFixture);
    const { escrow } = core;
    const [attacker, victim] = core.accounts;
    await openStake(core, attacker, MIN, 4);
    await escrow.connect(attacker).bondOperator(victim.address);
    expect(await escrow.stakerOf(victim.address)).to.equal(ethers.ZeroAddress);
    // Before the fix this deposit reverted with OperatorCannotStake.
    await openStake(core, victim, MIN, 4);
    expect((await escrow.stakeOf(victim.address)).amount).to.equal(MIN);
    // And the victim, now a staker, can never be made the attacker's operator.
    await expect(registerNode(core, attacker.address, victim)).to.be.revertedWithCustomError(escrow, "OperatorIsStaker");
  });

  it("front-running a victim's choice of operator gains nothing: the operator picks whom it serves", async () => {
    const core = await loadFixture(deployCoreFixture);
    const { escrow } = core;
    const [attacker, victim, operator] = core.accounts;
    await openStake(core, attacker, MIN, 4);
    await openStake(core, victim, MIN, 4);
    await escrow.connect(attacker).bondOperator(operator.address); // front-run
    await escrow.connect(victim).bondOperator(operator.address); // not blocked
    await registerNode(core, victim.address, operator); // the operator accepts the victim
    expect(await escrow.stakerOf(operator.address)).to.equal(victim.address);
    expect(await escrow.operatorOf(victim.address)).to.equal(operator.address);
    expect(await escrow.operatorOf(attacker.address)).to.equal(ethers.ZeroAddress);
    // The attacker's stale proposal cannot take the operator over.
    await expect(registerNode(core, attacker.address, operator))
      .to.be.revertedWithCustomError(escrow, "OperatorAlreadyBonded")
      .withArgs(operator.address, victim.address);
  });
});
