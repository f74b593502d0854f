// Ignition module "NKMS": the token and the staking escrow, wired (escrow = token minter).
// Other modules `m.useModule(NKMSModule)` and then grant their roles on the escrow, e.g.
//   m.call(escrow, "grantRole", [m.staticCall(escrow, "SLASHER_ROLE"), adjudicator]).
// Deploy: `npx hardhat ignition deploy ignition/modules/NKMS.ts [--network localhost] [--parameters p.json]`
// (Ignition only loads modules under ignition/modules; that file re-exports this one).
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

const TOKEN = 10n ** 18n;
const WEEK = 7 * 24 * 3600;

const NKMSModule = buildModule("NKMS", (m) => {
  // Every transaction of the NKMS modules comes from this one account (explicit, so a custom
  // default sender cannot split who holds the wiring roles from who uses them).
  const deployer = m.getAccount(0);
  const initialSupply = m.getParameter("initialSupply", 1_000_000_000n * TOKEN);
  const cap = m.getParameter("cap", 3_800_000_000n * TOKEN);
  const secondsPerPeriod = m.getParameter("secondsPerPeriod", WEEK);
  const minStake = m.getParameter("minStake", 15_000n * TOKEN);
  const maxStake = m.getParameter("maxStake", 30_000_000n * TOKEN);
  const minLockPeriods = m.getParameter("minLockPeriods", 4);
  const minBondSeconds = m.getParameter("minBondSeconds", 2 * WEEK);
  const issuanceRate = m.getParameter("issuanceRate", 25n * 10n ** 14n);
  // Periods a stake stays slashable after unlocking (and a replaced stamp key stays valid).
  const slashingGracePeriods = m.getParameter("slashingGracePeriods", 2);

  const token = m.contract("NKMSToken", [initialSupply, cap], { from: deployer });
  const escrow = m.contract("StakingEscrow", [
    token,
    secondsPerPeriod,
    minStake,
    maxStake,
    minLockPeriods,
    minBondSeconds,
    issuanceRate,
    slashingGracePeriods,
  ], { from: deployer });
  m.call(token, "setMinter", [escrow], { from: deployer });
  return { token, escrow };
});

export default NKMSModule;
