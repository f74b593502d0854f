import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployCoreFixture } from "../shared/core-fixture";
import { TOKEN } from "./helpers";

describe("staking: NKMSToken", () => {
  it("has 18 decimals, name/symbol, and the initial supply at the deployer", async () => {
    const { token, deployer, params } = await loadFixture(deployCoreFixture);
    expect(await token.decimals()).to.equal(18n);
    expect(await token.symbol()).to.equal("NKMS");
    expect(await token.totalSupply()).to.equal(params.initialSupply);
    expect(await token.balanceOf(deployer.address)).to.equal(params.initialSupply);
    expect(await token.cap()).to.equal(params.cap);
  });

  it("rejects a cap above 2^96-1, a zero cap, or an initial supply above the cap", async () => {
    const factory = await ethers.getContractFactory("NKMSToken");
    await expect(factory.deploy(1n, 2n ** 96n)).to.be.revertedWithCustomError(factory, "InvalidSupply");
    await expect(factory.deploy(0n, 0n)).to.be.revertedWithCustomError(factory, "InvalidSupply");
    await expect(factory.deploy(11n * TOKEN, 10n * TOKEN)).to.be.revertedWithCustomError(factory, "InvalidSupply");
  });

  it("lets only the deployer set the minter, once, to a non-zero address", async () => {
    const [deployer, other] = await ethers.getSigners();
    const token = await ethers.deployContract("NKMSToken", [TOKEN, 10n * TOKEN]);
    await expect(token.connect(other).setMinter(other.address))
      .to.be.revertedWithCustomError(token, "NotDeployer").withArgs(other.address);
    await expect(token.setMinter(ethers.ZeroAddress)).to.be.revertedWithCustomError(token, "ZeroMinter");
    await expect(token.setMinter(other.address)).to.emit(token, "MinterSet").withArgs(other.address);
    await expect(token.setMinter(deployer.address))
      .to.be.revertedWithCustomError(token, "MinterAlreadySet").withArgs(other.address);
  });

  it("mints and burns only for the minter and never beyond the cap", async () => {
    const [, minter, other] = await ethers.getSigners();
    const token = await ethers.deployContract("NKMSToken", [TOKEN, 10n * TOKEN]);
    await token.setMinter(minter.address);
    await expect(token.connect(other).mint(other.address, 1n)).to.be.revertedWithCustomError(token, "NotMinter");
    await expect(token.connect(other).burn(1n)).to.be.revertedWithCustomError(token, "NotMinter");
    await token.connect(minter).mint(minter.address, 9n * TOKEN);
    expect(await token.totalSupply()).to.equal(10n * TOKEN);
    await expect(token.connect(minter).mint(minter.address, 1n))
      .to.be.revertedWithCustomError(token, "CapExceeded").withArgs(10n * TOKEN + 1n, 10n * TOKEN);
    await token.connect(minter).burn(TOKEN);
    expect(await token.totalSupply()).to.equal(9n * TOKEN);
  });
});
