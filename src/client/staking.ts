/**
 * Staker operations for the CLI and the demo (the same contract calls the `nkms:*` Hardhat tasks
 * make, over a plain ethers signer): stake with a permit, propose an operator, set the minimum fee
 * rate (which enrolls the node for policies), and read a stake's state.
 */
import type { Signer } from "ethers";
import { ZeroAddress } from "ethers";
import { formatNkms, send, permitDeadline, signPermit, type Contracts } from "./chain";
import { ClientError } from "./errors";

export interface StakeInfo {
  staker: string;
  stake: bigint;
  lockedNow: bigint;
  operator: string;
  /** Operator proposed by the staker that has not accepted yet (its node bonds by registering). */
  pendingOperator: string;
  endpoint: string;
  registered: boolean;
  minFeeRate: bigint;
  enrolled: boolean;
  feeBalance: bigint;
}

/** Deposits `amount` locked for `lockPeriods` in one transaction (EIP-2612 permit). */
export async function stake(contracts: Contracts, staker: Signer, amount: bigint, lockPeriods: number): Promise<string> {
  const address = await staker.getAddress();
  const balance = await contracts.token.balanceOf(address);
  if (balance < amount) throw new ClientError("FUNDS", `${address} holds ${formatNkms(balance)}, needs ${formatNkms(amount)} (\`npx hardhat nkms:transfer --to ${address} --amount …\` sends it)`);
  const escrowAddress = await contracts.escrow.getAddress();
  const permit = await signPermit(contracts.token.connect(staker), staker, escrowAddress, amount, await permitDeadline(staker.provider!));
  return send("deposit", () =>
    contracts.escrow.connect(staker).depositWithPermit(amount, lockPeriods, permit.deadline, permit.v, permit.r, permit.s),
  );
}

/**
 * Proposes `operator` as the staker's node key. The bond takes effect when the operator's node
 * agent registers for this staker (it does so at startup), so no address is bonded without its
 * consent; until then a previous bond stays in force.
 */
export async function bondOperator(contracts: Contracts, staker: Signer, operator: string): Promise<string> {
  return send("bondOperator", () => contracts.escrow.connect(staker).bondOperator(operator));
}

/** Sets the staker's minimum fee rate per period; the first call enrolls the node in the PolicyManager. */
export async function setMinFeeRate(contracts: Contracts, staker: Signer, rate: bigint): Promise<string> {
  return send("setMinFeeRate", () => contracts.policyManager.connect(staker).setMinFeeRate(rate));
}

export async function withdrawFees(contracts: Contracts, sender: Signer, node: string): Promise<string> {
  return send("withdrawFees", () => contracts.policyManager.connect(sender).withdrawFees(node));
}

export async function stakeInfo(contracts: Contracts, staker: string): Promise<StakeInfo> {
  const { escrow, policyManager } = contracts;
  const period = await escrow.currentPeriod();
  const [stakeAmount, lockedNow, operator, pendingOperator, node, registered, fees] = await Promise.all([
    escrow.stakeOf(staker),
    escrow.lockedThrough(staker, period),
    escrow.operatorOf(staker),
    escrow.pendingOperatorOf(staker),
    escrow.nodeInfo(staker),
    escrow.isRegistered(staker),
    policyManager.nodeFees(staker),
  ]);
  return {
    staker,
    stake: stakeAmount.amount,
    lockedNow,
    operator: operator === ZeroAddress ? "" : operator,
    pendingOperator: pendingOperator === ZeroAddress ? "" : pendingOperator,
    endpoint: node[0],
    registered,
    minFeeRate: fees.minFeeRate,
    enrolled: fees.id !== 0n,
    feeBalance: fees.feeBalance,
  };
}
