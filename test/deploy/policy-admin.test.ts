import { expect } from "chai";
import hre from "hardhat";
import NetworkModule from "../../deploy/network";

describe("NKMSNetwork Ignition module: the Policy module's admin", () => {
  it("a Policy `admin` parameter other than the deploying account no longer breaks the wiring, and leaves no EOA admin", async () => {
    const [, other] = await hre.ethers.getSigners();
    const { policyManager, leakAdjudicator } = await hre.ignition.deploy(NetworkModule, {
      parameters: { Policy: { admin: other.address } },
    });
    expect(await policyManager.hasRole(await policyManager.LEAK_ADJUDICATOR_ROLE(), await leakAdjudicator.getAddress())).to.equal(true);
    // No externally owned account keeps any admin role on it.
    expect(await policyManager.hasRole(await policyManager.DEFAULT_ADMIN_ROLE(), other.address)).to.equal(false);
  });
});
