import { expect } from "chai";
import hre, { ethers, ignition } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import HealthModule from "../../deploy/health";
import type { HealthCheck, NKMSToken, StakingEscrow } from "../../typechain-types";
import { TaskError } from "../../tasks/lib";
import { TOKEN } from "./fixture";
import { HEALTH_DEFAULTS } from "../../deploy/health-defaults";

async function deployed() {
  const { token, escrow, health } = await ignition.deploy(HealthModule, {
    parameters: { NKMSHealth: { sampleSize: 4, quorum: 2 } },
  });
  return {
    token: token as unknown as NKMSToken,
    escrow: escrow as unknown as StakingEscrow,
    health: health as unknown as HealthCheck,
  };
}

/** Capture what a task prints. */
async function runTask(name: string, args: Record<string, unknown>): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => lines.push(parts.join(" "));
  try {
    await hre.run(name, args);
  } finally {
    console.log = log;
  }
  return lines.join("\n");
}

describe("health: Ignition module and tasks", () => {
  it("deploys HealthCheck on the NKMS core with the forfeiter role and the given parameters", async () => {
    const { token, escrow, health } = await loadFixture(deployed);
    expect(await health.escrow()).to.equal(await escrow.getAddress());
    expect(await health.token()).to.equal(await token.getAddress());
    expect(await escrow.hasRole(await escrow.REWARD_FORFEITER_ROLE(), await health.getAddress())).to.equal(true);
    expect(await health.sampleSize()).to.equal(4n);
    expect(await health.quorum()).to.equal(2n);
    expect(await health.commitDuration()).to.equal(BigInt(HEALTH_DEFAULTS.commitDuration));
    expect(await health.expectedCheckers()).to.equal(10n);
  });

  it("tasks fund the pool, report status and turn reverts into named errors", async () => {
    const { health } = await loadFixture(deployed);
    const address = await health.getAddress();
    expect(await runTask("health:fund", { health: address, amount: "250" })).to.include("fund 250 NKMS: ok");
    expect(await health.pool()).to.equal(250n * TOKEN);
    const status = JSON.parse(await runTask("health:status", { health: address }));
    expect(status.round).to.equal("1");
    expect(status.pool).to.equal("250.0");
    expect(status.enrolled).to.equal(0);
    expect(status.opened).to.equal(false);

    const reject = async (name: string, args: Record<string, unknown>, code: string) => {
      const err = await runTask(name, { health: address, ...args }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(TaskError);
      expect((err as TaskError).code).to.equal(code);
    };
    // No node enrolled: the round is void, said so by the status, and cannot be opened again.
    expect(await runTask("health:open", { health: address })).to.include(": ok");
    expect(JSON.parse(await runTask("health:status", { health: address })).voided).to.equal(true);
    await reject("health:open", {}, "RoundAlreadyOpen");
    const [, stranger] = await ethers.getSigners();
    await reject("health:enroll", { staker: stranger.address }, "NotEligible");
    await reject("health:enroll", { staker: "nope" }, "BAD_ADDRESS");
    await reject("health:finalize", { round: 1 }, "RoundNotOpen");
    await reject("health:punish", { round: 1, staker: stranger.address }, "RevealNotOver");
    const [self] = await ethers.getSigners();
    await reject("health:refresh-weight", { staker: stranger.address }, "NotAnOperator");
    await reject("health:refresh-weight", { staker: self.address }, "NotEnrolled");
    await reject("health:fund", { amount: "-1" }, "BAD_AMOUNT");
    await reject("health:fund", { amount: "1", from: stranger.address }, "INSUFFICIENT_BALANCE");
    await reject("health:status", { health: stranger.address }, "NO_CONTRACT");
  });
});
