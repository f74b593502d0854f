// A PolicyManager and LeakAdjudicator on the real core, a node staked with a chosen stake, and a
// policy whose kfrag commitment is built from real kfrags (src/umbral); the node's receipts are
// signed with its real stamp key through the agent's Umbral Signer and src/protocol/kfrag-receipt.
import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { randomBytes } from "node:crypto";
import * as umbral from "../../src/umbral";
import { kfragHash, kfragProof, kfragRoot } from "../../src/client/kfrag-commitment";
import { commitArgs, revealArgs, type LeakEvidence, type StoredKfragReceipt } from "../../src/client/leak-evidence";
import { kfragReceiptDigest } from "../../src/protocol/kfrag-receipt";
import { orderForPolicy } from "../../src/client/node-selection";
import type { LeakAdjudicator, PolicyManager } from "../../typechain-types";
import { Core, StakedNode, deployCore, stakeNode } from "../shared/core-fixture";
import { NODE_RATE, TOKEN, deployPolicyManager } from "../policy/fixture";
import { policyKeyBytes } from "../../src/protocol/policy-key";

export const LEAK_PARAMS = {
  collateralBps: 10_000n,
  challengerShareBps: 5_000n,
  revealWindowBlocks: 7_200n,
};
export type LeakParams = typeof LEAK_PARAMS;

export interface LeakWorld {
  core: Core;
  pm: PolicyManager;
  leak: LeakAdjudicator;
  params: LeakParams;
  chainId: bigint;
  alice: HardhatEthersSigner;
  challenger: HardhatEthersSigner;
  stranger: HardhatEthersSigner;
}

export async function deployLeakWorld(params: LeakParams = LEAK_PARAMS): Promise<LeakWorld> {
  const core = await deployCore();
  const pm = await deployPolicyManager(core);
  const leak = (await ethers.deployContract("LeakAdjudicator", [
    core.escrowAddress,
    await pm.getAddress(),
    params.collateralBps,
    params.challengerShareBps,
    params.revealWindowBlocks,
  ])) as unknown as LeakAdjudicator;
  const leakAddress = await leak.getAddress();
  await (await core.escrow.grantRole(await core.escrow.LEAK_FORFEITER_ROLE(), leakAddress)).wait();
  await (await pm.grantRole(await pm.LEAK_ADJUDICATOR_ROLE(), leakAddress)).wait();
  const [alice, challenger, stranger] = [core.accounts[16], core.accounts[17], core.accounts[18]];
  await (await core.token.connect(core.deployer).transfer(alice.address, 10_000_000n * TOKEN)).wait();
  await (await core.token.connect(alice).approve(await pm.getAddress(), ethers.MaxUint256)).wait();
  const { chainId } = await ethers.provider.getNetwork();
  return { core, pm, leak, params, chainId, alice, challenger, stranger };
}

/** Stake, bond, register and enroll a node (accounts[2i] staker, accounts[2i+1] operator). */
export async function leakNode(w: LeakWorld, i: number, amount?: bigint): Promise<StakedNode> {
  const node = await stakeNode(w.core, w.core.accounts[2 * i], w.core.accounts[2 * i + 1], { amount });
  await (await w.pm.connect(node.staker).setMinFeeRate(NODE_RATE)).wait();
  return node;
}

/** The node's receipt for `kfrag` in policy (creator, policyId), signed by `stampSecretKey`
 * (the node's registered stamp key unless a test says otherwise) and dated `period` (now). */
export async function signReceipt(
  w: LeakWorld,
  stampSecretKey: Uint8Array,
  staker: string,
  creator: string,
  policyId: Uint8Array,
  kfrag: Uint8Array,
  period?: number,
): Promise<StoredKfragReceipt> {
  const at = period ?? Number(await w.core.escrow.currentPeriod());
  const digest = kfragReceiptDigest({
    chainId: w.chainId,
    policyManager: await w.pm.getAddress(),
    staker,
    period: at,
    policyCreator: creator,
    policyId,
    kfragHash: kfragHash(kfrag),
  });
  const signature = new umbral.Signer(umbral.SecretKey.fromBEBytes(stampSecretKey)).signDigest(digest).toBEBytes();
  return { period: at, signature: "0x" + Buffer.from(signature).toString("hex") };
}

export interface LeakPolicy {
  policyId: Uint8Array;
  creator: string;
  nodes: string[];
  kfrags: Uint8Array[];
  endPeriod: bigint;
  feeRate: bigint;
  /** The leak evidence for node i: its real kfrag, proof and the receipt given. */
  evidenceFor(i: number, receipt: StoredKfragReceipt): LeakEvidence;
}

/** `owner` (Alice by default) creates a policy over `stakers` whose commitment binds `kfrags`
 * (real Umbral kfrags by default; a framer passes random bytes). */
export async function leakPolicy(
  w: LeakWorld,
  stakers: string[],
  periods: number,
  feeRate = NODE_RATE,
  options: { owner?: HardhatEthersSigner; kfrags?: Uint8Array[] } = {},
): Promise<LeakPolicy> {
  const owner = options.owner ?? w.alice;
  const nodes = orderForPolicy(stakers);
  let kfrags = options.kfrags;
  if (!kfrags) {
    const alice = umbral.SecretKey.random();
    const bob = umbral.SecretKey.random();
    const signer = new umbral.Signer(umbral.SecretKey.random());
    kfrags = umbral.generateKFrags(alice, bob.publicKey(), signer, 1, nodes.length, true, true).map((k) => k.toBytes());
  }
  const id = new Uint8Array(randomBytes(16));
  const policyId = policyKeyBytes(owner.address, id);
  const entries = nodes.map((node, i) => ({ node, kfragHash: kfragHash(kfrags[i]) }));
  const endPeriod = (await w.pm.currentPeriod()) + BigInt(periods) - 1n;
  await (
    await w.pm.connect(owner).createPolicy(hex(id), owner.address, endPeriod, feeRate, nodes, hex(kfragRoot(policyId, entries)))
  ).wait();
  const k = kfrags;
  return {
    policyId,
    creator: owner.address,
    nodes,
    kfrags: k,
    endPeriod,
    feeRate,
    evidenceFor: (i, receipt) => ({
      policyCreator: owner.address,
      policyId,
      staker: nodes[i],
      kfrag: k[i],
      proof: kfragProof(policyId, entries, nodes[i]),
      receipt,
    }),
  };
}

/** Commit (one block) — the reveal must come in a later block. Returns the salt. */
export async function commit(w: LeakWorld, from: HardhatEthersSigner, evidence: LeakEvidence): Promise<Uint8Array> {
  const salt = new Uint8Array(randomBytes(32));
  await (await w.leak.connect(from).commitLeak(...commitArgs(from.address, evidence, salt))).wait();
  return salt;
}

export function reveal(w: LeakWorld, from: HardhatEthersSigner, evidence: LeakEvidence, salt: Uint8Array) {
  return w.leak.connect(from).revealLeak(revealArgs(evidence, salt));
}

export function hex(b: Uint8Array): string {
  return "0x" + Buffer.from(b).toString("hex");
}
