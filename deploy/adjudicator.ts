// Ignition module "Adjudicator": deploys the Adjudicator (incorrect re-encryption) and the
// LeakAdjudicator (key-leak challenges) on top of the NKMS core and Policy modules, and grants
// the Adjudicator the escrow's SLASHER_ROLE, the LeakAdjudicator the escrow's LEAK_FORFEITER_ROLE
// (leak forfeits count no violation and use no slash rate) and the PolicyManager's
// LEAK_ADJUDICATOR_ROLE, from the deploying account (account 0), which holds both contracts' admin
// role until NKMSNetwork hands it over.
// `npx hardhat ignition deploy deploy/adjudicator.ts [--network localhost] [--parameters p.json]`
// Penalty = min(basePenalty + penaltyHistoryCoefficient · priorViolations, stake · maxPenaltyBps / 10⁴);
// the investigator receives investigatorShareBps / 10⁴ of it, the rest returns to the reserve.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import NKMSModule from "./nkms";
import PolicyModule from "./policy";

const TOKEN = 10n ** 18n;

const AdjudicatorModule = buildModule("Adjudicator", (m) => {
  const deployer = m.getAccount(0);
  const { token, escrow } = m.useModule(NKMSModule);
  const basePenalty = m.getParameter("basePenalty", 1_000n * TOKEN);
  const penaltyHistoryCoefficient = m.getParameter("penaltyHistoryCoefficient", 500n * TOKEN);
  const maxPenaltyBps = m.getParameter("maxPenaltyBps", 1_000n);
  const investigatorShareBps = m.getParameter("investigatorShareBps", 2_500n);

  const adjudicator = m.contract("Adjudicator", [
    escrow,
    basePenalty,
    penaltyHistoryCoefficient,
    maxPenaltyBps,
    investigatorShareBps,
  ]);
  const slasherRole = m.staticCall(escrow, "SLASHER_ROLE");
  m.call(escrow, "grantRole", [slasherRole, adjudicator], { id: "grantSlasherToAdjudicator", from: deployer });

  // Key-leak challenges (issue #14): forfeit = min(C, earned, stake) with C = F · leakCollateralBps / 10⁴
  // of what was paid for the arrangement; the challenger's bounty (≤ leakChallengerShareBps of the
  // forfeit) is carved out of the owner's refund; a commitment is revealable for
  // leakRevealWindowBlocks (a revocation meanwhile holds the bounty back that long at most).
  const { policyManager } = m.useModule(PolicyModule);
  const leakAdjudicator = m.contract("LeakAdjudicator", [
    escrow,
    policyManager,
    m.getParameter("leakCollateralBps", 10_000n),
    m.getParameter("leakChallengerShareBps", 5_000n),
    m.getParameter("leakRevealWindowBlocks", 7_200n),
  ]);
  const leakForfeiterRole = m.staticCall(escrow, "LEAK_FORFEITER_ROLE");
  m.call(escrow, "grantRole", [leakForfeiterRole, leakAdjudicator], { id: "grantLeakForfeiterToLeakAdjudicator", from: deployer });
  const leakRole = m.staticCall(policyManager, "LEAK_ADJUDICATOR_ROLE");
  m.call(policyManager, "grantRole", [leakRole, leakAdjudicator], { id: "grantLeakRole", from: deployer });
  return { token, escrow, adjudicator, policyManager, leakAdjudicator };
});

export default AdjudicatorModule;
