// Ignition module "NKMSGovernance": OpenZeppelin's TimelockController, administering itself
// (constructor admin = zero address: its DEFAULT_ADMIN_ROLE is held by the timelock alone, so
// changing its proposers, executors or delay is itself a delayed proposal). The NKMSNetwork
// module makes it the admin of every role of every NKMS contract.
// Parameters under "NKMSGovernance":
//   minDelay   seconds between scheduling and executing any operation (default 2 days; it must
//              stay below the guardian's pause, G periods of the escrow, so a bad slasher can be
//              removed before a pause ends);
//   proposer   the account that may schedule (and cancel) operations (default: the deploying
//              account; a multisig in production);
//   executor   the account that may execute ready operations (default: the deploying account;
//              the zero address lets anyone execute a ready operation).
// More proposers or executors are added (or these removed) later by timelock operations on the
// timelock's own roles. (A single address each, because Ignition cannot default a list parameter
// to the deploying account.) The guardian is a parameter of the NKMSNetwork module.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";
export const DEFAULT_MIN_DELAY = 2 * 24 * 3600;

const GovernanceModule = buildModule("NKMSGovernance", (m) => {
  const deployer = m.getAccount(0);
  const minDelay = m.getParameter("minDelay", DEFAULT_MIN_DELAY);
  const proposer = m.getParameter("proposer", deployer);
  const executor = m.getParameter("executor", deployer);
  const timelock = m.contract("TimelockController", [minDelay, [proposer], [executor], ZERO_ADDRESS], { from: deployer });
  return { timelock };
});

export default GovernanceModule;
