// Ignition module "Policy": the PolicyManager wired to the NKMS core module's escrow and token.
// Deploy: `npx hardhat ignition deploy deploy/policy.ts [--network localhost] [--parameters p.json]`
// (parameters under "Policy": minFeeRate, maxFeeRate, quotaBase, quotaPerTotal).
// The deploying account (account 0) administers the PolicyManager: the Adjudicator module grants
// LEAK_ADJUDICATOR_ROLE with it, and the NKMSNetwork module then hands DEFAULT_ADMIN_ROLE and
// GOVERNOR_ROLE to the timelock and renounces them. (There is no `admin` parameter any more: an
// admin other than the deploying account made the Network module's wiring revert.)
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import NKMSModule from "./nkms";

const TOKEN = 10n ** 18n;

/** Defaults: fee rates between 0.001 and 1000 NKMS per node per period; a node may hold
 * 16 arrangements plus 10,000 × its share of the total locked stake. */
export const POLICY_DEFAULTS = {
  minFeeRate: TOKEN / 1000n,
  maxFeeRate: 1000n * TOKEN,
  quotaBase: 16,
  quotaPerTotal: 10_000n,
} as const;

const PolicyModule = buildModule("Policy", (m) => {
  const { token, escrow } = m.useModule(NKMSModule);
  const deployer = m.getAccount(0);
  const minFeeRate = m.getParameter("minFeeRate", POLICY_DEFAULTS.minFeeRate);
  const maxFeeRate = m.getParameter("maxFeeRate", POLICY_DEFAULTS.maxFeeRate);
  const quotaBase = m.getParameter("quotaBase", POLICY_DEFAULTS.quotaBase);
  const quotaPerTotal = m.getParameter("quotaPerTotal", POLICY_DEFAULTS.quotaPerTotal);
  const policyManager = m.contract("PolicyManager", [
    escrow,
    token,
    deployer,
    { minFeeRate, maxFeeRate, quotaBase, quotaPerTotal },
  ], { from: deployer });
  return { policyManager, token, escrow };
});

export default PolicyModule;
