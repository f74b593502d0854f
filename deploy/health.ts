// Ignition module "NKMSHealth": the health-check voting contract on top of the NKMS core
// (token + staking escrow), with the escrow's REWARD_FORFEITER_ROLE granted to it.
// Deploy: `npx hardhat ignition deploy deploy/health.ts [--network localhost] [--parameters p.json]`
// (parameters under "NKMSHealth"; the core's under "NKMS"). The checker reward pool starts empty:
// fund it with `npx hardhat health:fund`. Node agents run the checker duty when given the address
// (NKMS_HEALTH_CHECK, `healthCheck` in the config file, or --deployment with this module's
// deployed_addresses.json); their operator key then needs a few NKMS to pay for check policies.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import NKMSModule from "./nkms";
import { HEALTH_DEFAULTS } from "./health-defaults";

const HealthModule = buildModule("NKMSHealth", (m) => {
  const { token, escrow } = m.useModule(NKMSModule);
  const d = HEALTH_DEFAULTS;
  const config = {
    commitDuration: m.getParameter("commitDuration", d.commitDuration),
    revealDuration: m.getParameter("revealDuration", d.revealDuration),
    openWindow: m.getParameter("openWindow", d.openWindow),
    freezeWindow: m.getParameter("freezeWindow", d.freezeWindow),
    claimWindow: m.getParameter("claimWindow", d.claimWindow),
    sampleSize: m.getParameter("sampleSize", d.sampleSize),
    expectedCheckers: m.getParameter("expectedCheckers", d.expectedCheckers),
    quorum: m.getParameter("quorum", d.quorum),
    rewardPerRound: m.getParameter("rewardPerRound", d.rewardPerRound),
    firstRoundStart: m.getParameter("firstRoundStart", d.firstRoundStart),
  };
  const health = m.contract("HealthCheck", [escrow, token, config]);
  m.call(escrow, "grantRole", [m.staticCall(escrow, "REWARD_FORFEITER_ROLE"), health], {
    id: "grantForfeiterRole",
    from: m.getAccount(0),
  });
  return { token, escrow, health };
});

export default HealthModule;
