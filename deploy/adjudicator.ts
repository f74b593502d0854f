// Ignition module "Adjudicator": deploys the Adjudicator (incorrect re-encryption) and the
// LeakAdjudicator (key-leak challenges) on top of the NKMS core and Policy modules, and grants
// them the escrow's SLASHER_ROLE and the PolicyManager's LEAK_ADJUDICATOR_ROLE from the deploying
// account (account 0), which holds both contracts' admin role until NKMSNetwork hands it over.
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

  // Key-leak challenges: forfeit = same formula with the leak parameters; the challenger's bounty
  // (≤ leakChallengerShareBps of it) is carved out of the owner's refund (see LeakAdjudicator.sol).
  const { policyManager } = m.useModule(PolicyModule);
  const leakAdjudicator = m.contract("LeakAdjudicator", [
    escrow,
    policyManager,
    m.getParameter("leakBasePenalty", 1_000n * TOKEN),
    m.getParameter("leakPenaltyHistoryCoefficient", 500n * TOKEN),
    m.getParameter("leakMaxPenaltyBps", 1_000n),
    m.getParameter("leakChallengerShareBps", 5_000n),
  ]);
  m.call(escrow, "grantRole", [slasherRole, leakAdjudicator], { id: "grantSlasherToLeakAdjudicator", from: deployer });
  const leakRole = m.staticCall(policyManager, "LEAK_ADJUDICATOR_ROLE");
  m.call(policyManager, "grantRole", [leakRole, leakAdjudicator], { id: "grantLeakRole", from: deployer });
  return { token, escrow, adjudicator, policyManager, leakAdjudicator };
});

export default AdjudicatorModule;
