// Ignition module "Adjudicator": deploys the Adjudicator on top of the NKMS core module and
// grants it the escrow's SLASHER_ROLE (the deployer must hold the escrow's admin role).
// `npx hardhat ignition deploy deploy/adjudicator.ts [--network localhost] [--parameters p.json]`
// Penalty = min(basePenalty + penaltyHistoryCoefficient · priorViolations, stake · maxPenaltyBps / 10⁴);
// the investigator receives investigatorShareBps / 10⁴ of it, the rest returns to the reserve.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import NKMSModule from "./nkms";

const TOKEN = 10n ** 18n;

const AdjudicatorModule = buildModule("Adjudicator", (m) => {
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
  m.call(escrow, "grantRole", [slasherRole, adjudicator]);
  return { token, escrow, adjudicator };
});

export default AdjudicatorModule;
