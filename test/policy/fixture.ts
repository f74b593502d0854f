/**
 * Policy-area fixture: the real token + escrow (test/shared/core-fixture.ts), a PolicyManager wired
 * to them, staked/registered/enrolled nodes and a funded Alice. Shared by the policy tests and the
 * gas bench.
 */
import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { Core, deployCore, stakeNode, StakedNode } from "../shared/core-fixture";
import type { PolicyGasFloor, PolicyManager } from "../../typechain-types";
import { kfragRoot, toHex } from "../../src/client/kfrag-commitment";
import { orderForPolicy } from "../../src/client/node-selection";
import { policyKey } from "../../src/protocol/policy-key";

export { policyKey };

export const TOKEN = 10n ** 18n;
export const MIN_RATE = TOKEN / 1000n;
export const MAX_RATE = 1000n * TOKEN;
export const NODE_RATE = TOKEN / 100n; // what every fixture node asks for
export const QUOTA_BASE = 16;
export const QUOTA_PER_TOTAL = 10_000n;

export interface PolicyWorld {
  core: Core;
  pm: PolicyManager;
  pmAddress: string;
  governor: HardhatEthersSigner;
  alice: HardhatEthersSigner;
  sponsor: HardhatEthersSigner;
  stranger: HardhatEthersSigner;
  /** Staked, bonded, registered and enrolled (min fee rate NODE_RATE), ascending by staker. */
  nodes: StakedNode[];
}

export async function deployPolicyManager(core: Core, overrides: Partial<{ admin: string }> = {}): Promise<PolicyManager> {
  return ethers.deployContract("PolicyManager", [
    core.escrowAddress,
    core.tokenAddress,
    overrides.admin ?? core.deployer.address,
    { minFeeRate: MIN_RATE, maxFeeRate: MAX_RATE, quotaBase: QUOTA_BASE, quotaPerTotal: QUOTA_PER_TOTAL },
  ]);
}

/** Accounts: 0..nodeCount-1 stakers, 8..8+nodeCount-1 operators, 16 alice, 17 sponsor, 18 stranger. */
export async function deployPolicyWorld(nodeCount = 5): Promise<PolicyWorld> {
  if (nodeCount > 8) throw new Error("the fixture has 8 staker slots");
  const core = await deployCore();
  const pm = await deployPolicyManager(core);
  const pmAddress = await pm.getAddress();
  const a = core.accounts;
  const nodes: StakedNode[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const node = await stakeNode(core, a[i], a[8 + i], { amount: core.params.minStake * BigInt(10 + i) });
    await (await pm.connect(node.staker).setMinFeeRate(NODE_RATE)).wait();
    nodes.push(node);
  }
  nodes.sort((x, y) => (BigInt(x.staker.address) < BigInt(y.staker.address) ? -1 : 1));
  const [alice, sponsor, stranger] = [a[16], a[17], a[18]];
  for (const payer of [alice, sponsor]) {
    await (await core.token.connect(core.deployer).transfer(payer.address, 1_000_000n * TOKEN)).wait();
    await (await core.token.connect(payer).approve(pmAddress, ethers.MaxUint256)).wait();
  }
  return { core, pm, pmAddress, governor: core.deployer, alice, sponsor, stranger, nodes };
}

export async function policyWorldFixture(): Promise<PolicyWorld> {
  return deployPolicyWorld(5);
}

let policyCounter = 0;
/** A fresh 16-byte policy id (hex). */
export function newPolicyId(): string {
  policyCounter += 1;
  return toHex(keccak_256(new TextEncoder().encode(`policy-${policyCounter}`)).slice(0, 16));
}

/** Stand-in kfrag hash for node i of a policy (tests that need real kfrags build them with Umbral). */
export function fakeKfragHash(policyId: string, node: string): Uint8Array {
  return keccak_256(new TextEncoder().encode(`kfrag/${policyId}/${node.toLowerCase()}`));
}

/** The commitment root createPolicy expects for `stakers` with fakeKfragHash kfrags. */
export function rootFor(policyId: string, stakers: readonly string[]): string {
  const id = Uint8Array.from(Buffer.from(policyId.slice(2), "hex"));
  return toHex(kfragRoot(id, stakers.map((node) => ({ node, kfragHash: fakeKfragHash(policyId, node) }))));
}

export interface CreateOptions {
  payer?: HardhatEthersSigner;
  owner?: string;
  /** Last period = current + periods - 1 (default 4 periods). */
  periods?: number;
  feeRate?: bigint;
  /** The creator's own id (default: fresh); the policy is named policyKey(payer, id). */
  policyId?: string;
}

/** Create a policy over `stakers` (sorted for the contract); returns its name (`policyId`, the
 * on-chain key policyKey(payer, id)), the creator's `id` and parameters. */
export async function createPolicy(
  w: PolicyWorld,
  stakers: readonly string[],
  options: CreateOptions = {},
): Promise<{ policyId: string; id: string; endPeriod: bigint; feeRate: bigint; nodes: string[]; paid: bigint }> {
  const payer = options.payer ?? w.alice;
  const id = options.policyId ?? newPolicyId();
  const policyId = policyKey(payer.address, id);
  const feeRate = options.feeRate ?? NODE_RATE;
  const period = await w.pm.currentPeriod();
  const endPeriod = period + BigInt(options.periods ?? 4) - 1n;
  const nodes = orderForPolicy(stakers);
  const paid = await w.pm.policyCost(nodes.length, feeRate, endPeriod);
  await (
    await w.pm
      .connect(payer)
      .createPolicy(id, options.owner ?? payer.address, endPeriod, feeRate, nodes, rootFor(policyId, nodes))
  ).wait();
  return { policyId, id, endPeriod, feeRate, nodes, paid };
}

/** The gas-floor instrument (contracts/bench/PolicyGasFloor.sol) on `w`'s token and escrow; Alice
 * approves it for any amount. */
export async function deployFloor(w: PolicyWorld, quotaBase: number = QUOTA_BASE, quotaPerTotal: bigint = QUOTA_PER_TOTAL): Promise<PolicyGasFloor> {
  const floor = (await ethers.deployContract("PolicyGasFloor", [
    w.core.tokenAddress,
    w.core.escrowAddress,
    quotaBase,
    quotaPerTotal,
  ])) as unknown as PolicyGasFloor;
  await (await w.core.token.connect(w.alice).approve(await floor.getAddress(), ethers.MaxUint256)).wait();
  return floor;
}
