/**
 * Shared fixture for every area's chain tests: the NKMS token and staking escrow, deployed and
 * wired (the escrow is the token's minter), plus helpers to stake nodes and move time.
 *
 *   const core = await loadFixture(deployCoreFixture);          // default parameters
 *   const node = await stakeNode(core, core.accounts[0], core.accounts[1]);
 *   await core.escrow.grantRole(await core.escrow.SLASHER_ROLE(), adjudicatorAddress);
 *
 * `core.deployer` holds the initial supply and DEFAULT_ADMIN_ROLE; `core.accounts` are the other
 * Hardhat signers (19 of them), free for tests to use as stakers, operators, Alice, Bob, ...
 */
import { signPermit as signTokenPermit } from "../../src/client/permit";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import type { NKMSToken, StakingEscrow } from "../../typechain-types";
import { SecretKey } from "../../src/umbral";
import { signKeyProof } from "../../src/node/registration";

const TOKEN = 10n ** 18n;

export interface CoreParams {
  initialSupply: bigint;
  cap: bigint;
  secondsPerPeriod: number;
  minStake: bigint;
  maxStake: bigint;
  minLockPeriods: number;
  minBondSeconds: number;
  /** Fraction of the remaining reserve issued per period, 18 decimals. */
  issuanceRate: bigint;
  /** Periods evidence stays usable: slashable after the unlock period, stamp key validity. */
  slashingGracePeriods: number;
}

/** The defaults of the Ignition module deploy/nkms.ts. */
export const DEFAULT_CORE_PARAMS: CoreParams = {
  initialSupply: 1_000_000_000n * TOKEN,
  cap: 3_800_000_000n * TOKEN,
  secondsPerPeriod: 7 * 24 * 3600,
  minStake: 15_000n * TOKEN,
  maxStake: 30_000_000n * TOKEN,
  minLockPeriods: 4,
  minBondSeconds: 2 * 7 * 24 * 3600,
  issuanceRate: 25n * 10n ** 14n, // 0.25 % of the remaining reserve per period
  slashingGracePeriods: 2,
};

export interface Core {
  token: NKMSToken;
  escrow: StakingEscrow;
  tokenAddress: string;
  escrowAddress: string;
  deployer: HardhatEthersSigner;
  /** Every Hardhat signer except the deployer. */
  accounts: HardhatEthersSigner[];
  params: CoreParams;
}

/** Deploy token + escrow with `overrides` on top of DEFAULT_CORE_PARAMS and wire the minter. */
export async function deployCore(overrides: Partial<CoreParams> = {}): Promise<Core> {
  const params: CoreParams = { ...DEFAULT_CORE_PARAMS, ...overrides };
  const [deployer, ...accounts] = await ethers.getSigners();
  const token = await ethers.deployContract("NKMSToken", [params.initialSupply, params.cap], deployer);
  const tokenAddress = await token.getAddress();
  const escrow = await ethers.deployContract(
    "StakingEscrow",
    [
      tokenAddress,
      params.secondsPerPeriod,
      params.minStake,
      params.maxStake,
      params.minLockPeriods,
      params.minBondSeconds,
      params.issuanceRate,
      params.slashingGracePeriods,
    ],
    deployer,
  );
  const escrowAddress = await escrow.getAddress();
  await (await token.setMinter(escrowAddress)).wait();
  return { token, escrow, tokenAddress, escrowAddress, deployer, accounts, params };
}

/** loadFixture-friendly: `await loadFixture(deployCoreFixture)`. */
export async function deployCoreFixture(): Promise<Core> {
  return deployCore();
}

export interface StakeNodeOptions {
  /** Tokens to stake (default: 10 × minStake). Sent from the deployer to the staker first. */
  amount?: bigint;
  /** Lock in periods (default: 52). */
  lockPeriods?: number;
  /** Default: `http://127.0.0.1:<9150 + index>` style placeholder derived from the operator. */
  endpoint?: string;
  /** 33-byte compressed secp256k1 key; a random valid key by default. */
  encryptingKey?: Uint8Array;
  /** 32-byte secret of the verifying (stamp) key, which signs the registration's key proof;
   * random by default. */
  stampSecretKey?: Uint8Array;
}

export interface StakedNode {
  staker: HardhatEthersSigner;
  operator: HardhatEthersSigner;
  amount: bigint;
  lockPeriods: number;
  endpoint: string;
  encryptingKey: Uint8Array;
  verifyingKey: Uint8Array;
  stampSecretKey: Uint8Array;
}

/** A random, valid 33-byte compressed secp256k1 public key. */
export function randomCompressedKey(): Uint8Array {
  return secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true);
}

/** EIP-2612 signature by `owner` allowing `spender` to take `value` tokens. */
export async function signPermit(
  token: NKMSToken,
  owner: HardhatEthersSigner,
  spender: string,
  value: bigint,
  deadline: bigint = 2n ** 255n,
): Promise<{ deadline: bigint; v: number; r: string; s: string }> {
  return signTokenPermit(token, owner, spender, value, deadline);
}

/** The 64-byte proof that the holder of `stampSecretKey` registers for `staker` via `operator`. */
export async function keyProof(
  core: Core,
  stampSecretKey: Uint8Array,
  staker: string,
  operator: string,
): Promise<Uint8Array> {
  const { chainId } = await ethers.provider.getNetwork();
  return signKeyProof(SecretKey.fromBEBytes(stampSecretKey), { chainId, escrow: core.escrowAddress, staker, operator });
}

export interface Registration {
  endpoint?: string;
  encryptingKey?: Uint8Array;
  /** Secret of the verifying key (random by default). */
  stampSecretKey?: Uint8Array;
}

/**
 * `operator` registers `staker`'s node (which also accepts a pending bond proposal), with a
 * valid key proof. Returns the keys used.
 */
export async function registerNode(
  core: Core,
  staker: string,
  operator: HardhatEthersSigner,
  reg: Registration = {},
): Promise<{ endpoint: string; encryptingKey: Uint8Array; verifyingKey: Uint8Array; stampSecretKey: Uint8Array }> {
  const endpoint = reg.endpoint ?? `http://127.0.0.1:9151/${operator.address.slice(2, 10).toLowerCase()}`;
  const encryptingKey = reg.encryptingKey ?? randomCompressedKey();
  const stampSecretKey = reg.stampSecretKey ?? secp256k1.utils.randomSecretKey();
  const verifyingKey = secp256k1.getPublicKey(stampSecretKey, true);
  const proof = await keyProof(core, stampSecretKey, staker, operator.address);
  await (await core.escrow.connect(operator).registerNode(staker, endpoint, encryptingKey, verifyingKey, proof)).wait();
  return { endpoint, encryptingKey, verifyingKey, stampSecretKey };
}

/**
 * Fund `staker` from the deployer, stake (one transaction, via permit), propose `operator` and
 * let it accept by registering the node. Returns what was registered.
 */
export async function stakeNode(
  core: Core,
  staker: HardhatEthersSigner,
  operator: HardhatEthersSigner,
  options: StakeNodeOptions = {},
): Promise<StakedNode> {
  const amount = options.amount ?? core.params.minStake * 10n;
  const lockPeriods = options.lockPeriods ?? 52;

  await (await core.token.connect(core.deployer).transfer(staker.address, amount)).wait();
  const permit = await signPermit(core.token, staker, core.escrowAddress, amount);
  await (
    await core.escrow
      .connect(staker)
      .depositWithPermit(amount, lockPeriods, permit.deadline, permit.v, permit.r, permit.s)
  ).wait();
  await (await core.escrow.connect(staker).bondOperator(operator.address)).wait();
  const registered = await registerNode(core, staker.address, operator, options);
  return { staker, operator, amount, lockPeriods, ...registered };
}

/** Move the chain to the start of the period `n` periods after the current one. */
export async function advancePeriods(core: Core, n = 1): Promise<void> {
  const period = BigInt(await core.escrow.currentPeriod());
  await time.increaseTo((period + BigInt(n)) * BigInt(core.params.secondsPerPeriod));
}

/** Bond `node`'s operator again after an unbond: the staker proposes it, the operator accepts by
 * registering the node's same endpoint and encrypting key with a fresh stamp key (unbonding
 * retired the old one for good); `node` is updated to the new stamp key. */
export async function rebondNode(core: Core, node: StakedNode): Promise<void> {
  await (await core.escrow.connect(node.staker).bondOperator(node.operator.address)).wait();
  const registered = await registerNode(core, node.staker.address, node.operator, {
    endpoint: node.endpoint,
    encryptingKey: node.encryptingKey,
  });
  node.stampSecretKey = registered.stampSecretKey;
  node.verifyingKey = registered.verifyingKey;
}
