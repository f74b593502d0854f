import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import PolicyModule from "./policy";
import AdjudicatorModule from "./adjudicator";
import HealthModule from "./health";
import GovernanceModule from "./governance";

/**
 * The whole network: token, escrow, policy manager, adjudicators and health check, wired, and
 * governed by a self-administered OpenZeppelin TimelockController (deploy/governance.ts).
 *
 * Roles after deployment (test/deploy/roles.test.ts reads every one of them):
 * - every admin role of every contract (StakingEscrow and PolicyManager DEFAULT_ADMIN_ROLE, the
 *   PolicyManager's GOVERNOR_ROLE, the timelock's own DEFAULT_ADMIN_ROLE) is the timelock alone:
 *   any change of who may slash, forfeit, govern fees or pause waits the timelock's delay, and
 *   a bad slasher can be removed (revokeRole) that way — no power is irrevocable, none immediate;
 * - SLASHER_ROLE: the Adjudicator; LEAK_FORFEITER_ROLE: the LeakAdjudicator (leak forfeits,
 *   bounded per arrangement, count no violation); REWARD_FORFEITER_ROLE: the health check;
 *   LEAK_ADJUDICATOR_ROLE (PolicyManager): the LeakAdjudicator; the token's minter: the escrow (set once);
 * - the PolicyManager's `healthCheck` (reserved probe capacity, issue #16): the health check;
 * - GUARDIAN_ROLE (parameter `guardian`, default the deploying account): may only pause slashing
 *   and forfeiture for G periods, once until the timelock re-arms it (StakingEscrow.pauseSlashing);
 * - the deploying account keeps no role: it wires everything, grants the timelock its admin
 *   roles, then renounces its own.
 */
const NetworkModule = buildModule("NKMSNetwork", (m) => {
  const deployer = m.getAccount(0);
  const policy = m.useModule(PolicyModule);
  const adjudicator = m.useModule(AdjudicatorModule);
  const health = m.useModule(HealthModule);
  const { timelock } = m.useModule(GovernanceModule);
  const { escrow, token, policyManager } = policy;
  const guardian = m.getParameter("guardian", deployer);

  const from = deployer;
  // Reserved probe capacity (issue #16): the health check's assigned checkers may hire their
  // targets outside the quota (PolicyManager.createProbePolicy).
  const probeCapacity = m.call(policyManager, "setHealthCheck", [health.health], { id: "setHealthCheck", from });
  const wired = [AdjudicatorModule, HealthModule, PolicyModule, probeCapacity];
  const adminRole = m.staticCall(escrow, "DEFAULT_ADMIN_ROLE", [], 0, { id: "adminRole" });
  const guardianRole = m.staticCall(escrow, "GUARDIAN_ROLE", [], 0, { id: "guardianRole" });
  const governorRole = m.staticCall(policyManager, "GOVERNOR_ROLE", [], 0, { id: "governorRole" });

  // Hand over: the timelock first, so that no moment leaves a contract without an admin.
  const grants = [
    m.call(escrow, "grantRole", [guardianRole, guardian], { id: "grantGuardian", from, after: wired }),
    m.call(escrow, "grantRole", [adminRole, timelock], { id: "grantEscrowAdminToTimelock", from, after: wired }),
    m.call(policyManager, "grantRole", [adminRole, timelock], { id: "grantManagerAdminToTimelock", from, after: wired }),
    m.call(policyManager, "grantRole", [governorRole, timelock], { id: "grantGovernorToTimelock", from, after: wired }),
  ];
  m.call(policyManager, "renounceRole", [governorRole, deployer], { id: "renounceGovernor", from, after: grants });
  m.call(escrow, "renounceRole", [adminRole, deployer], { id: "renounceEscrowAdmin", from, after: grants });
  m.call(policyManager, "renounceRole", [adminRole, deployer], { id: "renounceManagerAdmin", from, after: grants });
  return {
    token,
    escrow,
    policyManager,
    adjudicator: adjudicator.adjudicator,
    leakAdjudicator: adjudicator.leakAdjudicator,
    health: health.health,
    timelock,
  };
});

export default NetworkModule;
