// REVIEW (finding: the timelock's delay protected no staker). Every role admin is the timelock
// (deploy/governance.ts: minDelay 2 days), and a slash is capped only at `slashableStake`. A
// governor could schedule grantRole(SLASHER_ROLE, eoa); 2 days later the EOA slashed every stake
// in full and minted it to itself with payInvestigator, while an exit takes lockPeriods + G
// periods (≥ 6 weeks with the deploy defaults). Fixed: once the escrow is handed on, the roles
// that take from stakers (SLASHER_ROLE, LEAK_FORFEITER_ROLE, REWARD_FORFEITER_ROLE; the PolicyManager's
// LEAK_ADJUDICATOR_ROLE, which moves owners' refunds) can be revoked but never granted again.
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { deployCore, stakeNode } from "../shared/core-fixture";
import type { TimelockController } from "../../typechain-types";

const TWO_DAYS = 2 * 24 * 3600;

async function governedCore() {
  const core = await deployCore({ minLockPeriods: 4 });
  const [proposer] = core.accounts.slice(15);
  const timelock = (await ethers.deployContract("TimelockController", [TWO_DAYS, [proposer.address], [proposer.address], ethers.ZeroAddress])) as unknown as TimelockController;
  const admin = await core.escrow.DEFAULT_ADMIN_ROLE();
  // Wiring before the hand-over, as deploy/network.ts does for the adjudicators.
  const wiredSlasher = core.accounts[17];
  await (await core.escrow.grantRole(await core.escrow.SLASHER_ROLE(), wiredSlasher.address)).wait();
  await (await core.escrow.grantRole(admin, await timelock.getAddress())).wait();
  const node = await stakeNode(core, core.accounts[0], core.accounts[1], { lockPeriods: 4 });
  await (await core.escrow.renounceRole(admin, core.deployer.address)).wait();
  return { core, timelock, proposer, node, wiredSlasher };
}

async function viaTimelock(timelock: TimelockController, proposer: Awaited<ReturnType<typeof governedCore>>["proposer"], target: string, data: string) {
  const salt = ethers.hexlify(ethers.randomBytes(32));
  await (await timelock.connect(proposer).schedule(target, 0, data, ethers.ZeroHash, salt, TWO_DAYS)).wait();
  await time.increase(TWO_DAYS);
  return timelock.connect(proposer).execute(target, 0, data, ethers.ZeroHash, salt);
}

describe("review: governance cannot take stakes faster than a staker can leave", function () {
  it("after the hand-over, not even the timelock can grant SLASHER_ROLE, LEAK_FORFEITER_ROLE or REWARD_FORFEITER_ROLE; the stake stays whole", async function () {
    const { core, timelock, proposer, node } = await loadFixture(governedCore);
    expect(await core.escrow.slashingRolesSealed()).to.equal(true);
    const thief = core.accounts[16];
    for (const role of [await core.escrow.SLASHER_ROLE(), await core.escrow.LEAK_FORFEITER_ROLE(), await core.escrow.REWARD_FORFEITER_ROLE()]) {
      const call = core.escrow.interface.encodeFunctionData("grantRole", [role, thief.address]);
      await expect(viaTimelock(timelock, proposer, core.escrowAddress, call))
        .to.be.revertedWithCustomError(core.escrow, "SlashingRoleIsSealed")
        .withArgs(role);
    }
    await expect(core.escrow.connect(thief).slash(node.staker.address, 1n, 0n)).to.be.revertedWithCustomError(
      core.escrow,
      "AccessControlUnauthorizedAccount",
    );
    expect((await core.escrow.stakeOf(node.staker.address)).amount).to.equal(node.amount);
  });

  it("the timelock can still revoke a bad slasher, and other roles stay grantable", async function () {
    const { core, timelock, proposer, wiredSlasher } = await loadFixture(governedCore);
    const slasher = await core.escrow.SLASHER_ROLE();
    const adjudicator = core.accounts[18];
    const holder = wiredSlasher.address;
    expect(await core.escrow.hasRole(slasher, holder)).to.equal(true);
    const revoke = core.escrow.interface.encodeFunctionData("revokeRole", [slasher, holder]);
    await viaTimelock(timelock, proposer, core.escrowAddress, revoke);
    expect(await core.escrow.hasRole(slasher, holder)).to.equal(false);
    const guardian = core.escrow.interface.encodeFunctionData("grantRole", [await core.escrow.GUARDIAN_ROLE(), adjudicator.address]);
    await viaTimelock(timelock, proposer, core.escrowAddress, guardian);
    expect(await core.escrow.hasRole(await core.escrow.GUARDIAN_ROLE(), adjudicator.address)).to.equal(true);
  });

  it("the deployer's own admin role does not seal: wiring before the hand-over works", async function () {
    const core = await deployCore();
    expect(await core.escrow.slashingRolesSealed()).to.equal(false);
    const someone = core.accounts[18].address;
    await expect(core.escrow.grantRole(await core.escrow.SLASHER_ROLE(), someone)).to.emit(core.escrow, "RoleGranted");
    await expect(core.escrow.grantRole(await core.escrow.DEFAULT_ADMIN_ROLE(), someone)).to.emit(core.escrow, "SlashingRolesSealed");
    await expect(core.escrow.grantRole(await core.escrow.SLASHER_ROLE(), core.accounts[14].address))
      .to.be.revertedWithCustomError(core.escrow, "SlashingRoleIsSealed");
  });
});
