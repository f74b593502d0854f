/**
 * The deployment as deploy/network.ts makes it, read role by role: every admin is the
 * self-administered timelock, the guardian can only pause, the slashers are the adjudicators,
 * the forfeiter is the health check, the minter is the escrow, and nobody else holds anything.
 */
import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { BaseContract, Contract } from "ethers";
import NetworkModule from "../../deploy/network";
import { DEFAULT_MIN_DELAY } from "../../deploy/governance";
import type { NKMSToken, PolicyManager, StakingEscrow, TimelockController } from "../../typechain-types";

const ZERO = "0x0000000000000000000000000000000000000000000000000000000000000000";

/** Every `*_ROLE` constant of a contract's ABI, by name. */
async function roleConstants(c: Contract): Promise<Map<string, string>> {
  const roles = new Map<string, string>();
  for (const f of c.interface.fragments) {
    if (f.type === "function" && "name" in f && /_ROLE$/.test(String(f.name)) && (f as unknown as { inputs: readonly unknown[] }).inputs.length === 0) {
      const name = String(f.name);
      roles.set(name, await c.getFunction(name).staticCall());
    }
  }
  return roles;
}

/** Current holders of every role ever granted on `c`, replayed from RoleGranted / RoleRevoked. */
async function holders(c: Contract): Promise<Map<string, Set<string>>> {
  const events = [
    ...(await c.queryFilter(c.filters.RoleGranted(), 0)),
    ...(await c.queryFilter(c.filters.RoleRevoked(), 0)),
  ].sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
  const map = new Map<string, Set<string>>();
  for (const e of events) {
    const [role, account] = (e as unknown as { args: [string, string] }).args;
    const set = map.get(role) ?? new Set<string>();
    if ((e as unknown as { eventName: string }).eventName === "RoleGranted") set.add(account);
    else set.delete(account);
    map.set(role, set);
  }
  for (const [role, set] of map) if (set.size === 0) map.delete(role);
  return map;
}

function asContract(c: BaseContract): Contract {
  return c as unknown as Contract;
}

async function deployNetwork() {
  const [deployer, guardian, proposer, executor, stranger] = await hre.ethers.getSigners();
  const deployed = await hre.ignition.deploy(NetworkModule, {
    parameters: {
      NKMSNetwork: { guardian: guardian.address },
      NKMSGovernance: { proposer: proposer.address, executor: executor.address },
    },
  });
  return {
    ...deployed,
    escrow: deployed.escrow as unknown as StakingEscrow,
    policyManager: deployed.policyManager as unknown as PolicyManager,
    timelock: deployed.timelock as unknown as TimelockController,
    token: deployed.token as unknown as NKMSToken,
    deployer,
    guardian,
    proposer,
    executor,
    stranger,
  };
}

describe("NKMSNetwork Ignition module: who holds which power", () => {
  it("every role of every contract: admins = the self-administered timelock, and exactly the wiring", async () => {
    const d = await deployNetwork();
    const addr = async (c: BaseContract) => c.getAddress();
    const [timelock, escrow, manager, adjudicator, leak, health, token] = await Promise.all(
      [d.timelock, d.escrow, d.policyManager, d.adjudicator, d.leakAdjudicator, d.health, d.token].map(addr),
    );
    const expected: Record<string, { contract: Contract; roles: Record<string, string[]> }> = {
      StakingEscrow: {
        contract: asContract(d.escrow),
        roles: {
          DEFAULT_ADMIN_ROLE: [timelock],
          SLASHER_ROLE: [adjudicator],
          REWARD_FORFEITER_ROLE: [health],
          LEAK_FORFEITER_ROLE: [leak],
          GUARDIAN_ROLE: [d.guardian.address],
        },
      },
      PolicyManager: {
        contract: asContract(d.policyManager),
        roles: { DEFAULT_ADMIN_ROLE: [timelock], GOVERNOR_ROLE: [timelock], LEAK_ADJUDICATOR_ROLE: [leak] },
      },
      TimelockController: {
        contract: asContract(d.timelock),
        roles: {
          DEFAULT_ADMIN_ROLE: [timelock],
          PROPOSER_ROLE: [d.proposer.address],
          CANCELLER_ROLE: [d.proposer.address],
          EXECUTOR_ROLE: [d.executor.address],
        },
      },
    };
    for (const [name, { contract, roles }] of Object.entries(expected)) {
      const constants = await roleConstants(contract);
      expect([...constants.keys()].sort(), `${name} role constants`).to.deep.equal(Object.keys(roles).sort());
      const granted = await holders(contract);
      // No role outside the constants was ever left granted (e.g. an arbitrary bytes32).
      expect([...granted.keys()].sort(), `${name} roles held`).to.deep.equal([...constants.values()].sort());
      for (const [roleName, role] of constants) {
        expect([...(granted.get(role) ?? [])].sort(), `${name}.${roleName}`).to.deep.equal([...roles[roleName]].sort());
        for (const account of roles[roleName]) expect(await contract.hasRole(role, account)).to.equal(true);
        // Every role is administered by DEFAULT_ADMIN_ROLE, i.e. by the timelock alone.
        expect(await contract.getRoleAdmin(role), `${name}.${roleName} admin`).to.equal(ZERO);
      }
    }
    // Reserved probe capacity (issue #16): the PolicyManager reads this health check's assignments.
    expect(await d.policyManager.healthCheck()).to.equal(health);
    // Contracts without roles: nothing to grant, and the token's minter is set once, to the escrow.
    for (const c of [d.adjudicator, d.leakAdjudicator, d.health, d.token]) {
      expect(asContract(c).interface.getFunction("grantRole"), await c.getAddress()).to.equal(null);
    }
    expect(await d.token.minter()).to.equal(escrow);
    await expect(d.token.connect(d.deployer).setMinter(d.deployer.address)).to.be.revertedWithCustomError(d.token, "MinterAlreadySet");
    expect(token).to.not.equal(escrow);
    expect(await d.policyManager.escrow()).to.equal(escrow);
    expect(manager).to.be.properAddress;
    expect(await d.timelock.getMinDelay()).to.equal(BigInt(DEFAULT_MIN_DELAY));
    // The roles that take from stakers or owners were wired once and can never be granted again.
    expect(await d.escrow.slashingRolesSealed()).to.equal(true);
    expect(await d.policyManager.leakRoleSealed()).to.equal(true);
  });

  it("not even the timelock can add a slasher, a forfeiter or a leak adjudicator after the hand-over", async () => {
    const d = await deployNetwork();
    const calls: [BaseContract & { getAddress(): Promise<string> }, string, string][] = [
      [d.escrow, await d.escrow.SLASHER_ROLE(), "SlashingRoleIsSealed"],
      [d.escrow, await d.escrow.REWARD_FORFEITER_ROLE(), "SlashingRoleIsSealed"],
      [d.escrow, await d.escrow.LEAK_FORFEITER_ROLE(), "SlashingRoleIsSealed"],
      [d.policyManager, await d.policyManager.LEAK_ADJUDICATOR_ROLE(), "LeakRoleIsSealed"],
    ];
    for (const [i, [contract, role, error]] of calls.entries()) {
      const target = await contract.getAddress();
      const data = contract.interface.encodeFunctionData("grantRole", [role, d.stranger.address]);
      const salt = "0x" + (i + 7).toString(16).padStart(64, "0");
      await (await d.timelock.connect(d.proposer).schedule(target, 0, data, ZERO, salt, DEFAULT_MIN_DELAY)).wait();
      await time.increase(DEFAULT_MIN_DELAY);
      await expect(d.timelock.connect(d.executor).execute(target, 0, data, ZERO, salt)).to.be.revertedWithCustomError(contract, error);
    }
  });

  it("the guardian only pauses; the timelock, after its delay, removes a bad slasher and lifts the pause", async () => {
    const d = await deployNetwork();
    const { escrow, timelock } = d;
    const slasher = await escrow.SLASHER_ROLE();
    const bad = await d.adjudicator.getAddress(); // the slasher the timelock removes
    // Nobody but the timelock can grant anything: not the deployer, not the guardian.
    for (const who of [d.deployer, d.guardian, d.proposer]) {
      await expect(escrow.connect(who).grantRole(slasher, who.address)).to.be.revertedWithCustomError(escrow, "AccessControlUnauthorizedAccount");
      await expect(timelock.connect(who).grantRole(await timelock.PROPOSER_ROLE(), who.address)).to.be.revertedWithCustomError(
        timelock,
        "AccessControlUnauthorizedAccount",
      );
    }
    await expect(escrow.connect(d.guardian).pauseSlashing()).to.emit(escrow, "SlashingPaused");
    await expect(escrow.connect(d.guardian).liftPause()).to.be.revertedWithCustomError(escrow, "AccessControlUnauthorizedAccount");

    const schedule = async (data: string, salt: string) => {
      const target = await escrow.getAddress();
      await (await timelock.connect(d.proposer).schedule(target, 0, data, ZERO, salt, DEFAULT_MIN_DELAY)).wait();
      return () => timelock.connect(d.executor).execute(target, 0, data, ZERO, salt);
    };
    const revoke = await schedule(escrow.interface.encodeFunctionData("revokeRole", [slasher, bad]), ZERO);
    await expect(revoke()).to.be.revertedWithCustomError(timelock, "TimelockUnexpectedOperationState");
    const lift = await schedule(escrow.interface.encodeFunctionData("liftPause"), "0x" + "01".padStart(64, "0"));
    await time.increase(DEFAULT_MIN_DELAY);
    await expect(timelock.connect(d.stranger).execute(await escrow.getAddress(), 0, "0x", ZERO, ZERO)).to.be.reverted;
    await expect(revoke()).to.emit(escrow, "RoleRevoked").withArgs(slasher, bad, await timelock.getAddress());
    expect(await escrow.hasRole(slasher, bad)).to.equal(false);
    expect(await escrow.hasRole(await escrow.LEAK_FORFEITER_ROLE(), await d.leakAdjudicator.getAddress())).to.equal(true);
    await expect(lift()).to.emit(escrow, "SlashingPauseLifted");
    expect((await escrow.pauseState()).guardianArmed).to.equal(true);
  });
});
