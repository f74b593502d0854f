import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import NKMSModule from "../../deploy/nkms";
import { advancePeriods, deployCoreFixture, stakeNode, DEFAULT_CORE_PARAMS } from "../shared/core-fixture";

describe("staking: core fixture and deployment module", () => {
  it("deployCore wires the escrow as the token's minter and the deployer as admin", async () => {
    const core = await loadFixture(deployCoreFixture);
    expect(await core.token.minter()).to.equal(core.escrowAddress);
    expect(await core.escrow.hasRole(await core.escrow.DEFAULT_ADMIN_ROLE(), core.deployer.address)).to.equal(true);
    expect(await core.token.balanceOf(core.deployer.address)).to.equal(DEFAULT_CORE_PARAMS.initialSupply);
    expect(await core.escrow.reserve()).to.equal(DEFAULT_CORE_PARAMS.cap - DEFAULT_CORE_PARAMS.initialSupply);
  });

  it("stakeNode stakes by permit, bonds and registers a node", async () => {
    const core = await loadFixture(deployCoreFixture);
    const [staker, operator] = core.accounts;
    const node = await stakeNode(core, staker, operator, { endpoint: "https://node.example:9151" });
    expect(await core.escrow.operatorOf(staker.address)).to.equal(operator.address);
    expect(await core.escrow.stakerOf(operator.address)).to.equal(staker.address);
    expect(await core.escrow.isRegistered(staker.address)).to.equal(true);
    const info = await core.escrow.nodeInfo(staker.address);
    expect(info.endpoint).to.equal("https://node.example:9151");
    expect(hre.ethers.getBytes(info.encryptingKey)).to.deep.equal(node.encryptingKey);
    expect(hre.ethers.getBytes(info.verifyingKey)).to.deep.equal(node.verifyingKey);
    const period = await core.escrow.currentPeriod();
    expect(await core.escrow.lockedThrough(staker.address, period + 51n)).to.equal(node.amount);
    expect(await core.escrow.totalLocked()).to.equal(node.amount);
    await advancePeriods(core, 2);
    expect(await core.escrow.pendingRewards(staker.address)).to.be.greaterThan(0n);
  });

  it("the Ignition module deploys and wires token and escrow", async () => {
    const { token, escrow } = await hre.ignition.deploy(NKMSModule, {
      parameters: { NKMS: { secondsPerPeriod: 3600, minLockPeriods: 2 } },
    });
    expect(await token.minter()).to.equal(await escrow.getAddress());
    expect(await escrow.secondsPerPeriod()).to.equal(3600n);
    expect(await escrow.minLockPeriods()).to.equal(2n);
    expect(await escrow.token()).to.equal(await token.getAddress());
  });
});
