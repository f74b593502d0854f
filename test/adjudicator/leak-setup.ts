// A PolicyManager and LeakAdjudicator on the real core, a node staked with a chosen collateral,
// and a policy whose kfrag commitment is built from real kfrags (src/umbral).
import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { randomBytes } from "node:crypto";
import * as umbral from "../../src/umbral";
import { kfragHash, kfragProof, kfragRoot } from "../../src/client/kfrag-commitment";
import { leakCommitment, revealArgs, type LeakEvidence } from "../../src/client/leak-evidence";
import { orderForPolicy } from "../../src/client/node-selection";
import type { LeakAdjudicator, PolicyManager } from "../../typechain-types";
import { Core, StakedNode, deployCore, stakeNode } from "../shared/core-fixture";
import { NODE_RATE, TOKEN, deployPolicyManager } from "../policy/fixture";

export const LEAK_PARAMS = {
  basePenalty: 1_000n * TOKEN,
  penaltyHistoryCoefficient: 500n * TOKEN,
  maxPenaltyBps: 1_000n,
  challengerShareBps: 5_000n,
};

export interface LeakWorld {
  core: Core;
  pm: PolicyManager;
  leak: LeakAdjudicator;
  alice: HardhatEthersSigner;
  challenger: HardhatEthersSigner;
  stranger: HardhatEthersSigner;
}

export async function deployLeakWorld(params = LEAK_PARAMS): Promise<LeakWorld> {
  const core = await deployCore();
  const pm = await deployPolicyManager(core);
  const leak = (await ethers.deployContract("LeakAdjudicator", [
    core.escrowAddress,
    await pm.getAddress(),
    params.basePenalty,
    params.penaltyHistoryCoefficient,
    params.maxPenaltyBps,
    params.challengerShareBps,
  ])) as unknown as LeakAdjudicator;
  const leakAddress = await leak.getAddress();
  await (await core.escrow.grantRole(await core.escrow.SLASHER_ROLE(), leakAddress)).wait();
  await (await pm.grantRole(await pm.LEAK_ADJUDICATOR_ROLE(), leakAddress)).wait();
  const [alice, challenger, stranger] = [core.accounts[16], core.accounts[17], core.accounts[18]];
  await (await core.token.connect(core.deployer).transfer(alice.address, 10_000_000n * TOKEN)).wait();
  await (await core.token.connect(alice).approve(await pm.getAddress(), ethers.MaxUint256)).wait();
  return { core, pm, leak, alice, challenger, stranger };
}

/** Stake, bond, register and enroll a node (accounts[2i] staker, accounts[2i+1] operator). */
export async function leakNode(w: LeakWorld, i: number, amount?: bigint): Promise<StakedNode> {
  const node = await stakeNode(w.core, w.core.accounts[2 * i], w.core.accounts[2 * i + 1], { amount });
  await (await w.pm.connect(node.staker).setMinFeeRate(NODE_RATE)).wait();
  return node;
}

export interface LeakPolicy {
  policyId: Uint8Array;
  nodes: string[];
  kfrags: Uint8Array[];
  endPeriod: bigint;
  feeRate: bigint;
  /** The leak evidence for node i (its real kfrag and proof). */
  evidenceFor(i: number): LeakEvidence;
}

/** Alice creates a policy over `stakers` with real Umbral kfrags committed on-chain. */
export async function leakPolicy(w: LeakWorld, stakers: string[], periods: number, feeRate = NODE_RATE): Promise<LeakPolicy> {
  const nodes = orderForPolicy(stakers);
  const alice = umbral.SecretKey.random();
  const bob = umbral.SecretKey.random();
  const signer = new umbral.Signer(umbral.SecretKey.random());
  const kfrags = umbral.generateKFrags(alice, bob.publicKey(), signer, 1, nodes.length, true, true).map((k) => k.toBytes());
  const policyId = new Uint8Array(randomBytes(16));
  const entries = nodes.map((node, i) => ({ node, kfragHash: kfragHash(kfrags[i]) }));
  const endPeriod = (await w.pm.currentPeriod()) + BigInt(periods) - 1n;
  await (
    await w.pm.connect(w.alice).createPolicy(hex(policyId), w.alice.address, endPeriod, feeRate, nodes, hex(kfragRoot(policyId, entries)))
  ).wait();
  return {
    policyId,
    nodes,
    kfrags,
    endPeriod,
    feeRate,
    evidenceFor: (i) => ({ policyId, staker: nodes[i], kfrag: kfrags[i], proof: kfragProof(policyId, entries, nodes[i]) }),
  };
}

/** Commit (one block) — the reveal must come in a later block. Returns the salt. */
export async function commit(w: LeakWorld, from: HardhatEthersSigner, evidence: LeakEvidence): Promise<Uint8Array> {
  const salt = new Uint8Array(randomBytes(32));
  await (await w.leak.connect(from).commitLeak(leakCommitment(from.address, evidence, salt))).wait();
  return salt;
}

export function reveal(w: LeakWorld, from: HardhatEthersSigner, evidence: LeakEvidence, salt: Uint8Array) {
  return w.leak.connect(from).revealLeak(...revealArgs(evidence, salt));
}

export function hex(b: Uint8Array): string {
  return "0x" + Buffer.from(b).toString("hex");
}
