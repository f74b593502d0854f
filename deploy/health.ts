// Ignition module "NKMSHealth": the health-check voting contract on top of the NKMS core
// (token + staking escrow), with the escrow's REWARD_FORFEITER_ROLE granted to it.
// Deploy: `npx hardhat ignition deploy deploy/health.ts [--network localhost] [--parameters p.json]`
// (parameters under "NKMSHealth"; the core's under "NKMS"). The checker reward pool starts empty:
// fund it with `npx hardhat health:fund`. Node agents run the checker duty when given the address
// (NKMS_HEALTH_CHECK, `healthCheck` in the config file, or --deployment with this module's
// deployed_addresses.json); their operator key then needs a few NKMS to pay for check policies.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import NKMSModule from "./nkms";

const TOKEN = 10n ** 18n;
const HOUR = 3600;

const HealthModule = buildModule("NKMSHealth", (m) => {
  const { token, escrow } = m.useModule(NKMSModule);
  const config = {
    commitDuration: m.getParameter("commitDuration", 6 * HOUR),
    revealDuration: m.getParameter("revealDuration", 6 * HOUR),
    openWindow: m.getParameter("openWindow", 1 * HOUR),
    // Enrollment changes stop this long before each round starts, so that the layout a round
    // draws from is final ~75 beacon slots before its seed can be known.
    freezeWindow: m.getParameter("freezeWindow", 15 * 60),
    claimWindow: m.getParameter("claimWindow", 28 * 24 * HOUR),
    sampleSize: m.getParameter("sampleSize", 10),
    expectedCheckers: m.getParameter("expectedCheckers", 10),
    quorum: m.getParameter("quorum", 3),
    rewardPerRound: m.getParameter("rewardPerRound", 1_000n * TOKEN),
  };
  const health = m.contract("HealthCheck", [escrow, token, config]);
  m.call(escrow, "grantRole", [m.staticCall(escrow, "REWARD_FORFEITER_ROLE"), health], {
    id: "grantForfeiterRole",
    from: m.getAccount(0),
  });
  return { token, escrow, health };
});

export default HealthModule;
