import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import PolicyModule from "./policy";
import AdjudicatorModule from "./adjudicator";
import HealthModule from "./health";

/**
 * The whole network: token, escrow, policy manager, adjudicator and health check, wired.
 * Once the adjudicator and the health check hold their escrow roles, the deployer renounces
 * the escrow's and the policy manager's admin roles: nobody can then grant itself the power to
 * slash stakes, forfeit rewards or divert policy refunds. (The policy manager's GOVERNOR_ROLE,
 * which only bounds fee rates and quotas, stays with the deployer.)
 */
const NetworkModule = buildModule("NKMSNetwork", (m) => {
  const policy = m.useModule(PolicyModule);
  const adjudicator = m.useModule(AdjudicatorModule);
  const health = m.useModule(HealthModule);
  const { escrow, token } = policy;

  const wired = [AdjudicatorModule, HealthModule, PolicyModule];
  const escrowAdmin = m.staticCall(escrow, "DEFAULT_ADMIN_ROLE", [], 0, { id: "escrowAdminRole" });
  m.call(escrow, "renounceRole", [escrowAdmin, m.getAccount(0)], { id: "renounceEscrowAdmin", after: wired });
  const managerAdmin = m.staticCall(policy.policyManager, "DEFAULT_ADMIN_ROLE", [], 0, { id: "managerAdminRole" });
  m.call(policy.policyManager, "renounceRole", [managerAdmin, m.getAccount(0)], {
    id: "renounceManagerAdmin",
    after: wired,
  });
  return {
    token,
    escrow,
    policyManager: policy.policyManager,
    adjudicator: adjudicator.adjudicator,
    leakAdjudicator: adjudicator.leakAdjudicator,
    health: health.health,
  };
});

export default NetworkModule;
