import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import PolicyModule from "./policy";
import AdjudicatorModule from "./adjudicator";
import HealthModule from "./health";

/**
 * The whole network: token, escrow, policy manager, adjudicator and health check, wired.
 * Once the adjudicator and the health check hold their escrow roles, the deployer renounces
 * the escrow's admin role: nobody can then grant itself the power to slash stakes or forfeit
 * rewards. (The policy manager's GOVERNOR_ROLE, which only bounds fee rates and quotas, stays.)
 */
const NetworkModule = buildModule("NKMSNetwork", (m) => {
  const policy = m.useModule(PolicyModule);
  const adjudicator = m.useModule(AdjudicatorModule);
  const health = m.useModule(HealthModule);
  const { escrow, token } = policy;

  const adminRole = m.staticCall(escrow, "DEFAULT_ADMIN_ROLE", [], 0, { id: "escrowAdminRole" });
  m.call(escrow, "renounceRole", [adminRole, m.getAccount(0)], {
    id: "renounceEscrowAdmin",
    after: [AdjudicatorModule, HealthModule, PolicyModule],
  });
  return {
    token,
    escrow,
    policyManager: policy.policyManager,
    adjudicator: adjudicator.adjudicator,
    health: health.health,
  };
});

export default NetworkModule;
