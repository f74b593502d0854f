import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { advancePeriods, deployCoreFixture, keyProof, randomCompressedKey } from "../shared/core-fixture";

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error, "expected the task to fail").to.be.instanceOf(Error);
  expect((error as Error).message).to.match(pattern);
}

describe("staking: operator tasks", () => {
  it("stake, bond, register, show, claim, unlock and withdraw with clear errors", async () => {
    const core = await loadFixture(deployCoreFixture);
    const [staker, operator] = core.accounts;
    const common = { escrow: core.escrowAddress, from: staker.address };
    const run = (name: string, args: Record<string, unknown>) => hre.run(name, args);

    await rejects(run("nkms:stake", { ...common, amount: "20000", lock: 8 }), /Insufficient balance/);
    await core.token.transfer(staker.address, hre.ethers.parseUnits("30000", 18));
    await rejects(run("nkms:stake", { ...common, amount: "100", lock: 8 }), /below the minimum/);
    await rejects(run("nkms:stake", { ...common, amount: "abc", lock: 8 }), /positive token amount/);
    await run("nkms:stake", { ...common, amount: "20000", lock: 8 });
    await run("nkms:increase", { ...common, amount: "5000" });
    await run("nkms:prolong", { ...common, periods: 2 });

    const stampSecret = secp256k1.utils.randomSecretKey();
    const reg = {
      escrow: core.escrowAddress,
      from: operator.address,
      staker: staker.address,
      endpoint: "http://127.0.0.1:9151",
      encryptingKey: hre.ethers.hexlify(randomCompressedKey()),
      verifyingKey: hre.ethers.hexlify(secp256k1.getPublicKey(stampSecret, true)),
      keyProof: hre.ethers.hexlify(await keyProof(core, stampSecret, staker.address, operator.address)),
    };
    await rejects(run("nkms:register", reg), /not bonded/);
    await run("nkms:bond", { ...common, operator: operator.address });
    expect(await core.escrow.operatorOf(staker.address)).to.equal(hre.ethers.ZeroAddress); // proposed only
    await rejects(run("nkms:register", { ...reg, keyProof: "0x" + "11".repeat(64) }), /InvalidKeyProof/);
    await rejects(run("nkms:register", { ...reg, keyProof: "0x11" }), /64-byte/);
    await run("nkms:register", reg);

    await rejects(run("nkms:claim", common), /No rewards/);
    await advancePeriods(core, 2);
    await run("nkms:claim", { ...common, restake: true });
    const info = await run("nkms:stake-info", common);
    expect(info.state).to.equal("rolling");
    expect(info.registered).to.equal(true);
    expect(info.operator).to.equal(operator.address);

    await rejects(run("nkms:withdraw", common), /locked \(rolling\)/);
    await run("nkms:unlock", common);
    await rejects(run("nkms:withdraw", common), /Lock not over/);
    await advancePeriods(core, 10); // the unlock period: still inside the slashing grace
    await rejects(run("nkms:withdraw", common), /Lock not over/);
    await advancePeriods(core, core.params.slashingGracePeriods);
    const before = await core.token.balanceOf(staker.address);
    const staked = (await core.escrow.stakeOf(staker.address)).amount;
    await run("nkms:withdraw", common);
    expect(await core.token.balanceOf(staker.address)).to.equal(before + staked);
  });

  it("reports a missing deployment", async () => {
    await loadFixture(deployCoreFixture);
    await rejects(hre.run("nkms:stake-info", {}), /No NKMS deployment|NKMS#StakingEscrow/);
  });
});
