/**
 * Staker operations for the CLI and the demo (the same contract calls the `nkms:*` Hardhat tasks
 * make, over a plain ethers signer): stake with a permit, bond an operator, set the minimum fee
 * rate (which enrolls the node for policies), and read a stake's state.
 */
import type { Signer } from "ethers";
import { ZeroAddress } from "ethers";
import { send, permitDeadline, signPermit, type Contracts } from "./chain";
import { ClientError } from "./errors";

export interface StakeInfo {
  staker: string;
  stake: bigint;
  lockedNow: bigint;
  operator: string;
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
  if (balance < amount) throw new ClientError("CHAIN", `${address} holds ${balance} token units, needs ${amount}`);
  const escrowAddress = await contracts.escrow.getAddress();
  const permit = await signPermit(contracts.token.connect(staker), staker, escrowAddress, amount, await permitDeadline(staker.provider!));
  return send("deposit", () =>
    contracts.escrow.connect(staker).depositWithPermit(amount, lockPeriods, permit.deadline, permit.v, permit.r, permit.s),
  );
}

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
  const [stakeAmount, lockedNow, operator, node, registered, fees] = await Promise.all([
    escrow.stakeOf(staker),
    escrow.lockedThrough(staker, period),
    escrow.operatorOf(staker),
    escrow.nodeInfo(staker),
    escrow.isRegistered(staker),
    policyManager.nodeFees(staker),
  ]);
  return {
    staker,
    stake: stakeAmount.amount,
    lockedNow,
    operator: operator === ZeroAddress ? "" : operator,
    endpoint: node[0],
    registered,
    minFeeRate: fees.minFeeRate,
    enrolled: fees.id !== 0n,
    feeBalance: fees.feeBalance,
  };
}
