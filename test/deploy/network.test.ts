import { expect } from "chai";
import hre from "hardhat";
import NetworkModule from "../../deploy/network";

describe("NKMSNetwork Ignition module", () => {
  it("deploys and wires every contract, then leaves nobody able to grant escrow roles", async () => {
    const { escrow, adjudicator, leakAdjudicator, health, policyManager, token } = await hre.ignition.deploy(NetworkModule);
    const [deployer] = await hre.ethers.getSigners();
    const adminRole = await escrow.DEFAULT_ADMIN_ROLE();
    expect(await escrow.hasRole(await escrow.SLASHER_ROLE(), await adjudicator.getAddress())).to.equal(true);
    expect(await escrow.hasRole(await escrow.REWARD_FORFEITER_ROLE(), await health.getAddress())).to.equal(true);
    expect(await policyManager.hasRole(await policyManager.LEAK_ADJUDICATOR_ROLE(), await leakAdjudicator.getAddress())).to.equal(true);
    expect(await escrow.hasRole(adminRole, deployer.address)).to.equal(false);
    expect(await policyManager.escrow()).to.equal(await escrow.getAddress());
    expect(await policyManager.hasRole(await policyManager.DEFAULT_ADMIN_ROLE(), deployer.address)).to.equal(false);
    expect(await policyManager.hasRole(await policyManager.GOVERNOR_ROLE(), deployer.address)).to.equal(true);
    expect(await token.balanceOf(deployer.address)).to.be.greaterThan(0n);

    const slasherRole = await escrow.SLASHER_ROLE();
    await expect(escrow.grantRole(slasherRole, deployer.address))
      .to.be.revertedWithCustomError(escrow, "AccessControlUnauthorizedAccount")
      .withArgs(deployer.address, adminRole);
  });
});
