/**
 * Health-check test world: the real NKMS core (token + escrow), a HealthCheck wired to it
 * (forfeiter role granted, reward pool funded), and real staked, registered, enrolled nodes.
 */
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { deployCore, stakeNode, type Core, type CoreParams, type StakedNode } from "../shared/core-fixture";
import type { HealthCheck } from "../../typechain-types";
import type { Wallet } from "ethers";
import pino from "pino";
import { startHealthDuty, type HealthDuty, type ProbeFn } from "../../src/node/health/duty";
import type { HealthResult } from "../../src/node/store";

export const TOKEN = 10n ** 18n;

export interface HealthConfig {
  commitDuration: number;
  revealDuration: number;
  openWindow: number;
  freezeWindow: number;
  claimWindow: number;
  sampleSize: number;
  expectedCheckers: number;
  quorum: number;
  rewardPerRound: bigint;
  /** 0: round 1 starts at deployment. */
  firstRoundStart: number;
}

/** Short windows; `expectedCheckers` above N so every non-target enrolled node is a checker. */
export const TEST_CONFIG: HealthConfig = {
  commitDuration: 3600,
  revealDuration: 3600,
  openWindow: 600,
  freezeWindow: 300,
  claimWindow: 86_400,
  sampleSize: 3,
  expectedCheckers: 1000,
  quorum: 2,
  rewardPerRound: 1_000n * TOKEN,
  firstRoundStart: 0,
};

export interface HealthWorld {
  core: Core;
  health: HealthCheck;
  healthAddress: string;
  nodes: StakedNode[];
  /** A signer that is neither staker nor operator. */
  outsider: HardhatEthersSigner;
  config: HealthConfig;
  funded: bigint;
}

export interface WorldOptions {
  nodes?: number; // at most 9 (two signers per node, one outsider)
  amounts?: bigint[]; // stake per node, tokens with decimals
  config?: Partial<HealthConfig>;
  core?: Partial<CoreParams>;
  fund?: bigint;
  enroll?: boolean;
  /** Lock of every stake in periods (default 52). */
  lockPeriods?: number;
  /** Periods to let rewards accrue after staking (default 1). */
  accruePeriods?: number;
}

/** Deploy a HealthCheck on `core`, grant it the forfeiter role and fund its pool. */
export async function deployHealth(core: Core, config: HealthConfig, fund: bigint): Promise<HealthCheck> {
  const health = await ethers.deployContract("HealthCheck", [core.escrowAddress, core.tokenAddress, config]);
  const address = await health.getAddress();
  await (await core.escrow.grantRole(await core.escrow.REWARD_FORFEITER_ROLE(), address)).wait();
  if (fund > 0n) {
    await (await core.token.approve(address, fund)).wait();
    await (await health.fund(fund)).wait();
  }
  return health;
}

export async function buildWorld(options: WorldOptions = {}): Promise<HealthWorld> {
  const count = options.nodes ?? 6;
  const core = await deployCore(options.core);
  const config = { ...TEST_CONFIG, ...options.config };
  const funded = options.fund ?? 100_000n * TOKEN;
  const nodes: StakedNode[] = [];
  for (let i = 0; i < count; i++) {
    const amount = options.amounts?.[i] ?? core.params.minStake * 10n;
    const lockPeriods = options.lockPeriods;
    nodes.push(await stakeNode(core, core.accounts[2 * i], core.accounts[2 * i + 1], { amount, lockPeriods }));
  }
  const health = await deployHealth(core, config, funded);
  if (options.enroll ?? true) {
    for (const node of nodes) await (await health.enroll(node.staker.address)).wait();
  }
  // Let mining rewards accrue so forfeiture has something to take.
  const periods = options.accruePeriods ?? 1;
  if (periods > 0) {
    const period = BigInt(await core.escrow.currentPeriod());
    await time.increaseTo((period + BigInt(periods)) * BigInt(core.params.secondsPerPeriod) + 1n);
  }
  return {
    core,
    health,
    healthAddress: await health.getAddress(),
    nodes,
    outsider: core.accounts[18],
    config,
    funded,
  };
}

export function nodeByStaker(world: HealthWorld, staker: string): StakedNode {
  const node = world.nodes.find((n) => n.staker.address === staker);
  if (!node) throw new Error(`no node with staker ${staker}`);
  return node;
}

/** Move to the start of the next round (plus `offset` seconds) and return its number. */
export async function toNextRound(health: HealthCheck, offset = 0): Promise<bigint> {
  const round = (await health.currentRound()) + 1n;
  const info = await health.roundInfo(round);
  await time.increaseTo(info.start + BigInt(offset));
  return round;
}

/** Move to the next round, open it and return its number and targets. */
export async function openNextRound(health: HealthCheck): Promise<{ round: bigint; targets: string[] }> {
  const round = await toNextRound(health);
  await (await health.openRound()).wait();
  const info = await health.roundInfo(round);
  return { round, targets: [...info.targets] };
}

/** If enrollment changes are frozen now (end of a round), move to the start of the next round. */
export async function toUnfrozen(health: HealthCheck): Promise<void> {
  const next = await health.roundInfo((await health.currentRound()) + 1n);
  const now = BigInt(await time.latest()) + 1n; // the next transaction's timestamp at least
  if (now + (await health.freezeWindow()) >= next.start) await time.increaseTo(next.start);
}

export async function toReveal(health: HealthCheck, round: bigint): Promise<void> {
  await time.increaseTo((await health.roundInfo(round)).commitEnd);
}

export async function toRevealEnd(health: HealthCheck, round: bigint): Promise<void> {
  await time.increaseTo((await health.roundInfo(round)).revealEnd);
}

export async function toClaimEnd(health: HealthCheck, round: bigint): Promise<void> {
  await time.increaseTo((await health.roundInfo(round)).claimEnd);
}

export function randomSalt(): string {
  return ethers.hexlify(ethers.randomBytes(32));
}

/** Off-chain computation of `commitmentOf` (must match the contract). */
export function commitmentOf(health: string, round: bigint, staker: string, verdicts: bigint, salt: string): string {
  return ethers.keccak256(
    ethers.AbiCoder.defaultAbiCoder().encode(
      ["address", "uint32", "address", "uint256", "bytes32"],
      [health, round, staker, verdicts, salt],
    ),
  );
}

/** The nodes of the world that are not targets of `targets`. */
export function checkersOf(world: HealthWorld, targets: string[]): StakedNode[] {
  return world.nodes.filter((n) => !targets.includes(n.staker.address));
}

export interface Vote {
  node: StakedNode;
  verdicts: bigint;
  salt: string;
}

export async function commitVote(world: HealthWorld, round: bigint, vote: Vote): Promise<void> {
  const c = commitmentOf(world.healthAddress, round, vote.node.staker.address, vote.verdicts, vote.salt);
  await (await world.health.connect(vote.node.operator).commit(round, c)).wait();
}

/** Opens the next round, every checker commits and reveals `verdicts`, and time moves to the end of
 * its reveal window (not finalized). */
export async function playRound(world: HealthWorld, verdicts: bigint): Promise<{ round: bigint; targets: string[] }> {
  const r = await openNextRound(world.health);
  const votes: Vote[] = checkersOf(world, r.targets).map((node) => ({ node, verdicts, salt: randomSalt() }));
  for (const v of votes) await commitVote(world, r.round, v);
  await toReveal(world.health, r.round);
  for (const v of votes) await revealVote(world, r.round, v);
  await toRevealEnd(world.health, r.round);
  return r;
}

/** Grants the escrow's GUARDIAN_ROLE (pauseSlashing) to a spare account and returns it. */
export async function guardianOf(world: HealthWorld): Promise<HardhatEthersSigner> {
  const guardian = world.core.accounts[17];
  await (await world.core.escrow.connect(world.core.deployer).grantRole(await world.core.escrow.GUARDIAN_ROLE(), guardian.address)).wait();
  return guardian;
}

/** What a finalize receipt's TargetJudged says `target` forfeited (0 when it was not judged unhealthy). */
export function forfeitedIn(world: HealthWorld, receipt: { logs: readonly unknown[] }, target: string): bigint {
  for (const l of receipt.logs) {
    const e = world.health.interface.parseLog(l as { topics: string[]; data: string });
    if (e?.name === "TargetJudged" && e.args[1] === target) return e.args[3] as bigint;
  }
  return 0n;
}

/**
 * The real health duty (src/node/health/duty.ts) for `node`, in-process on the hardhat network,
 * ticked by the test; only the probe is replaced (by default: every target unreachable, a verdict
 * that needs no proof).
 */
export function inProcessDuty(world: HealthWorld, node: StakedNode, probe?: ProbeFn): { duty: HealthDuty; settings: Map<string, string>; results: HealthResult[] } {
  const settings = new Map<string, string>();
  const results: HealthResult[] = [];
  const duty = startHealthDuty({
    provider: ethers.provider,
    // The duty only connects the operator key to the provider; the hardhat signer stands in.
    operator: { connect: () => node.operator } as unknown as Wallet,
    staker: node.staker.address,
    store: { getSetting: (k) => settings.get(k), setSetting: (k, v) => void settings.set(k, v), addHealthResult: (r) => void results.push(r) },
    log: pino({ level: "silent" }),
    healthCheck: world.healthAddress,
    policyManager: world.core.escrowAddress, // unused: the probe is replaced
    stakingEscrow: world.core.escrowAddress,
    pollMs: 3_600_000, // ticks are driven by the test
    probeTimeoutMs: 1000,
    probe: probe ?? (async (target) => ({ target, healthy: false, checks: [{ name: "reachability", ok: false, detail: "test: every target voted down" }] })),
  });
  return { duty, settings, results };
}

/** Reveal as an honest prober: a contact proof from every target voted healthy (see `contactsFor`),
 * unless `contacts` is given. */
export async function revealVote(world: HealthWorld, round: bigint, vote: Vote, contacts?: string): Promise<void> {
  const proofs = contacts ?? (await contactsFor(world, round, vote.node.staker.address, vote.verdicts));
  await (await world.health.connect(vote.node.operator).reveal(round, vote.verdicts, vote.salt, proofs)).wait();
}

/** Off-chain `HealthCheck.contactDigest`: what a target's stamp key signs for a checker's probe. */
export function contactDigest(chainId: bigint, health: string, round: bigint, checker: string, target: string): string {
  return ethers.keccak256(
    ethers.AbiCoder.defaultAbiCoder().encode(
      ["string", "uint256", "address", "uint32", "address", "address"],
      ["NKMS-HEALTH-CONTACT-V1", chainId, health, round, checker, target],
    ),
  );
}

/** The 65-byte (r ‖ s ‖ v, low-S) contact proof signed by `stampSecretKey` (what a target's agent
 * hands out with a served probe). */
export function signContact(stampSecretKey: Uint8Array, chainId: bigint, health: string, round: bigint, checker: string, target: string): string {
  return new ethers.SigningKey(stampSecretKey).sign(contactDigest(chainId, health, round, checker, target)).serialized;
}

/** Contact proofs, in target order, of every target of `round` that `verdicts` votes healthy,
 * signed by the targets' current stamp keys: what an honest prober collects when they serve. */
export async function contactsFor(world: HealthWorld, round: bigint, checker: string, verdicts: bigint): Promise<string> {
  const { chainId } = await ethers.provider.getNetwork();
  const targets = (await world.health.roundInfo(round)).targets;
  const proofs = targets
    .map((target, i) => ((verdicts >> BigInt(i)) & 1n ? undefined : nodeByStaker(world, target)))
    .filter((n): n is StakedNode => n !== undefined)
    .map((n) => signContact(n.stampSecretKey, chainId, world.healthAddress, round, checker, n.staker.address));
  return ethers.concat(proofs.length ? proofs : ["0x"]);
}

/** Vote weight the contract gives a stake: whole tokens. */
export function weightOf(amount: bigint): bigint {
  return amount / TOKEN;
}

/** Top 192 bits of keccak256(abi.encode(staker)): selection is per node, not per key (issue #16). */
export function keyHash192(staker: string): bigint {
  return BigInt(ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["address"], [staker]))) >> 64n;
}

export function popcount(x: bigint): number {
  let n = 0;
  for (let v = x; v > 0n; v >>= 1n) n += Number(v & 1n);
  return n;
}

/** Reference implementation of HammingSelection.threshold in exact integer arithmetic. */
export function expectedThreshold(candidates: bigint, expected: bigint): { t: number; fraction: number } {
  if (expected >= candidates) return { t: 192, fraction: 0xffff };
  const target = expected << 192n;
  let term = 1n;
  let below = 0n;
  for (let i = 0n; i <= 192n; i++) {
    const sum = below + term;
    if (candidates * sum >= target) {
      const num = target - candidates * below;
      const den = candidates * term;
      const f = (num * 65536n + den - 1n) / den;
      return { t: Number(i), fraction: Number(f - 1n) };
    }
    below = sum;
    term = (term * (192n - i)) / (i + 1n);
  }
  throw new Error("unreachable");
}

/** Expected number of selected candidates at (t, fraction), as a float. */
export function expectedCount(candidates: bigint, t: number, fraction: number): number {
  let below = 0n;
  let term = 1n;
  for (let i = 0n; i < BigInt(t); i++) {
    below += term;
    term = (term * (192n - i)) / (i + 1n);
  }
  const scaled = candidates * (below * 65536n + term * BigInt(fraction + 1));
  return Number((scaled * 1_000_000n) >> 208n) / 1_000_000;
}

/** Reference implementation of HammingSelection.isSelected. */
export function isSelectedRef(keyHash: bigint, seed: bigint, t: number, fraction: number): boolean {
  const mixed = keyHash ^ seed;
  const d = popcount(mixed);
  if (d !== t) return d < t;
  const coin = BigInt(ethers.keccak256(ethers.toBeHex(mixed, 32))) & 0xffffn;
  return coin <= BigInt(fraction);
}
