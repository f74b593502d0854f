import { ethers } from "hardhat";
import { HDNodeWallet, Wallet, concat, getBytes, hexlify, keccak256, solidityPacked, type Provider, type Signer as EthSigner } from "ethers";
import { randomBytes } from "node:crypto";
import * as umbral from "../../src/umbral";
import { deriveNodeKeys, type NodeKeys } from "../../src/node/keys";
import { sealKFragUpload, type KFragUpload } from "../../src/node/protocol";
import { signKeyProof } from "../../src/node/registration";
import type { Condition } from "../../src/node/conditions";
import { deployCore, signPermit, type Core } from "../shared/core-fixture";
import type { PolicyManager } from "../../typechain-types";
import { policyKeyBytes } from "../../src/protocol/policy-key";

export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";

/** The private key of Hardhat's default account `i` (same for the in-process network and `hardhat node`). */
export function accountWallet(i: number): Wallet {
  return new Wallet(HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey);
}

export const TOKEN = 10n ** 18n;
export const FEE_RATE = TOKEN / 100n;

export interface Network {
  core: Core;
  policyManager: PolicyManager;
  policyManagerAddress: string;
}

export async function deployNetwork(): Promise<Network> {
  const core = await deployCore();
  const policyManager = (await ethers.deployContract("PolicyManager", [
    core.escrowAddress,
    core.tokenAddress,
    core.deployer.address,
    { minFeeRate: TOKEN / 1000n, maxFeeRate: 1000n * TOKEN, quotaBase: 16, quotaPerTotal: 10_000n },
  ])) as unknown as PolicyManager;
  return { core, policyManager, policyManagerAddress: await policyManager.getAddress() };
}

export interface TestNode {
  staker: EthSigner & { address: string };
  operator: Wallet;
  keys: NodeKeys;
}

/**
 * Stakes `staker`, bonds the operator with Hardhat account key `operatorIndex`, registers it with
 * the keys the agent derives from that key, and enrolls the staker in the PolicyManager.
 */
export async function setupNode(
  net: Network,
  staker: EthSigner & { address: string },
  operatorIndex: number,
  provider: Provider,
  endpoint = "http://127.0.0.1:1",
  /** false: the staker already holds the stake (lets callers set up many nodes in parallel). */
  fund = true,
): Promise<TestNode> {
  const { core } = net;
  const operator = accountWallet(operatorIndex).connect(provider);
  const keys = deriveNodeKeys(accountWallet(operatorIndex));
  const amount = core.params.minStake * 10n;
  if (fund) await (await core.token.connect(core.deployer).transfer(staker.address, amount)).wait();
  const permit = await signPermit(core.token, staker as never, core.escrowAddress, amount);
  await (await core.escrow.connect(staker).depositWithPermit(amount, 52, permit.deadline, permit.v, permit.r, permit.s)).wait();
  await (await core.escrow.connect(staker).bondOperator(operator.address)).wait();
  const keyProof = signKeyProof(keys.stampSecret, {
    chainId: (await provider.getNetwork()).chainId,
    escrow: core.escrowAddress,
    staker: staker.address,
    operator: operator.address,
  });
  await (
    await core.escrow
      .connect(operator)
      .registerNode(staker.address, endpoint, keys.encryptingKey.toCompressedBytes(), keys.stampKey.toCompressedBytes(), keyProof)
  ).wait();
  await (await net.policyManager.connect(staker).setMinFeeRate(FEE_RATE)).wait();
  return { staker, operator, keys };
}

// ---- kfrag commitment (OpenZeppelin MerkleProof: sorted-pair keccak) ----------------------

function hashPair(a: string, b: string): string {
  return BigInt(a) < BigInt(b) ? keccak256(concat([a, b])) : keccak256(concat([b, a]));
}

export function merkleTree(leaves: string[]): { root: string; proofs: string[][] } {
  const proofs: string[][] = leaves.map(() => []);
  let level = leaves.map((leaf, i) => ({ hash: leaf, members: [i] }));
  while (level.length > 1) {
    const next: typeof level = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i];
      const right = level[i + 1];
      if (!right) {
        next.push(left);
        continue;
      }
      for (const m of left.members) proofs[m].push(right.hash);
      for (const m of right.members) proofs[m].push(left.hash);
      next.push({ hash: hashPair(left.hash, right.hash), members: [...left.members, ...right.members] });
    }
    level = next;
  }
  return { root: level[0].hash, proofs };
}

export function kfragLeaf(policyId: string, node: string, kfrag: Uint8Array): string {
  return keccak256(solidityPacked(["bytes16", "address", "bytes32"], [policyId, node, keccak256(kfrag)]));
}

export interface TestPolicy {
  policyId: string;
  policyIdBytes: Uint8Array;
  owner: Wallet;
  alice: umbral.SecretKey;
  aliceSigner: umbral.Signer;
  bob: umbral.SecretKey;
  bobSigner: umbral.Signer;
  kfrags: umbral.VerifiedKeyFrag[];
  nodes: string[];
  proofs: string[][];
  /** Each node's registered encrypting key (0x-hex), read on-chain: uploads are sealed to it. */
  encryptingKeys: string[];
  endPeriod: number;
}

/** Alice makes threshold-of-n kfrags for `nodes` (stakers) and pays the policy on-chain. */
export async function createPolicy(
  net: Network,
  payer: EthSigner & { address: string },
  owner: Wallet,
  nodes: string[],
  opts: { threshold?: number; periods?: number } = {},
): Promise<TestPolicy> {
  const sorted = [...nodes].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  const alice = umbral.SecretKey.random();
  const aliceSigner = new umbral.Signer(umbral.SecretKey.random());
  const bob = umbral.SecretKey.random();
  const bobSigner = new umbral.Signer(umbral.SecretKey.random());
  const kfrags = umbral.generateKFrags(alice, bob.publicKey(), aliceSigner, opts.threshold ?? 1, sorted.length, true, true);
  // The payer creates the policy under its own random id; everything else names it by its key.
  const id = new Uint8Array(randomBytes(16));
  const policyIdBytes = policyKeyBytes(payer.address, id);
  const policyId = hexlify(policyIdBytes);
  const tree = merkleTree(sorted.map((n, i) => kfragLeaf(policyId, n, kfrags[i].toBytes())));
  const endPeriod = Number(await net.policyManager.currentPeriod()) + (opts.periods ?? 2);
  const cost = await net.policyManager.policyCost(sorted.length, FEE_RATE, endPeriod);
  await (await net.core.token.connect(net.core.deployer).transfer(payer.address, cost)).wait();
  await (await net.core.token.connect(payer).approve(net.policyManagerAddress, cost)).wait();
  await (await net.policyManager.connect(payer).createPolicy(id, owner.address, endPeriod, FEE_RATE, sorted, tree.root)).wait();
  const encryptingKeys = await Promise.all(sorted.map(async (n) => (await net.core.escrow.nodeInfo(n)).encryptingKey as string));
  return { policyId, policyIdBytes, owner, alice, aliceSigner, bob, bobSigner, kfrags, nodes: sorted, proofs: tree.proofs, encryptingKeys, endPeriod };
}

/** The owner-signed upload body for node `i` of the policy, its kfrag sealed to the node's registered key. */
export function uploadFor(
  p: TestPolicy,
  i: number,
  extra: { conditions?: Condition | null; reader?: KFragUpload["reader"] } = {},
): Promise<KFragUpload> {
  return sealKFragUpload(p.owner, p.policyIdBytes, p.nodes[i], p.encryptingKeys[i], {
    kfrag: hexlify(p.kfrags[i].toBytes()),
    publisherVerifyingKey: hexlify(p.aliceSigner.verifyingKey().toCompressedBytes()),
    delegatingKey: hexlify(p.alice.publicKey().toCompressedBytes()),
    receivingKey: hexlify(p.bob.publicKey().toCompressedBytes()),
    proof: p.proofs[i],
    conditions: extra.conditions ?? null,
    reader: extra.reader ?? null,
  });
}

export function capsulesFor(p: TestPolicy, n: number): { capsules: umbral.Capsule[]; ciphertexts: Uint8Array[]; plaintexts: Uint8Array[] } {
  const capsules: umbral.Capsule[] = [];
  const ciphertexts: Uint8Array[] = [];
  const plaintexts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const pt = new Uint8Array(randomBytes(32));
    const [capsule, ct] = umbral.encrypt(p.alice.publicKey(), pt);
    capsules.push(capsule);
    ciphertexts.push(ct);
    plaintexts.push(pt);
  }
  return { capsules, ciphertexts, plaintexts };
}

export { getBytes };
