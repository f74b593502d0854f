// Gas of the health-check round: commit, reveal of 10 verdicts (and of 32 healthy ones, each with
// its proof of contact), and finalize at N = 10, 100 and
// 1000 enrolled nodes; open/reveal/finalize at the deployment's sample size 32 at N = 1000 (finalize must not grow with N). Finalize includes the escrow's
// forfeitRewards for unhealthy targets and markChecked for healthy ones.
//
// Population: every node is really staked (deposit, bond operator, register keys) and enrolled,
// through the same escrow and HealthCheck calls as production. To avoid signing 6000
// transactions, stakers and operators are impersonated accounts (hardhat_impersonateAccount),
// which changes who signs, not what runs. No storage is written by hand.
//
// Two HealthCheck instances share the population: A (sampleSize 5) measures finalize at each N
// with the same scenario (5 targets, 2 judged unhealthy and forfeiting, 3 healthy) — a sample of
// 10 cannot be used at N = 10 because targets cannot check themselves; B (sampleSize 10)
// measures commit, the reveal of 10 verdicts (worst case: all 10 marked unhealthy, first reveal
// of the round) and finalize of 10 targets at N = 1000, and punishNonRevealer of a checker that
// committed and withheld its reveal (it forfeits its accrued rewards through the escrow).
import { ethers, network } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { deployCore, registerNode, type Core } from "../../test/shared/core-fixture";
import type { HealthCheck } from "../../typechain-types";
import type { GasMeasurements, GasScenario } from "./types";
import { gasOf } from "./gas-of";

const TOKEN = 10n ** 18n;
const FREEZE = 900; // the Ignition default

interface BenchNode {
  staker: string;
  operator: HardhatEthersSigner;
  stampSecretKey: Uint8Array;
}

/** The target's proofs of contact (issue #16) for every target `verdicts` votes healthy, in order. */
async function contactsOf(health: HealthCheck, round: bigint, checker: string, verdicts: bigint, targets: string[], byStaker: Map<string, BenchNode>): Promise<string> {
  const { chainId } = await ethers.provider.getNetwork();
  const address = await health.getAddress();
  const proofs: string[] = ["0x"];
  targets.forEach((target, i) => {
    if ((verdicts >> BigInt(i)) & 1n) return;
    const digest = ethers.keccak256(
      ethers.AbiCoder.defaultAbiCoder().encode(
        ["string", "uint256", "address", "uint32", "address", "address"],
        ["NKMS-HEALTH-CONTACT-V1", chainId, address, round, checker, target],
      ),
    );
    proofs.push(new ethers.SigningKey(byStaker.get(target)!.stampSecretKey).sign(digest).serialized);
  });
  return ethers.concat(proofs);
}

async function impersonate(address: string): Promise<HardhatEthersSigner> {
  await network.provider.send("hardhat_setBalance", [address, "0x56BC75E2D63100000"]);
  return ethers.getImpersonatedSigner(address);
}

/** Enrollment is frozen shortly before each round: wait for the next round when in that window. */
async function leaveFreeze(health: HealthCheck): Promise<void> {
  const next = (await health.roundInfo((await health.currentRound()) + 1n)).start;
  if (BigInt(await time.latest()) + 10n + BigInt(FREEZE) >= next) await time.increaseTo(next);
}

async function stakeNodes(core: Core, count: number, instances: HealthCheck[]): Promise<BenchNode[]> {
  const amount = core.params.minStake * 10n;
  const nodes: BenchNode[] = [];
  for (let i = 0; i < count; i++) {
    const staker = await impersonate(ethers.Wallet.createRandom().address);
    const operator = await impersonate(ethers.Wallet.createRandom().address);
    await core.token.transfer(staker.address, amount);
    await core.token.connect(staker).approve(core.escrowAddress, amount);
    await core.escrow.connect(staker).deposit(amount, 52);
    await core.escrow.connect(staker).bondOperator(operator.address);
    const { stampSecretKey } = await registerNode(core, staker.address, operator, { endpoint: `http://127.0.0.1:9151/n${i}` });
    for (const health of instances) {
      await leaveFreeze(health);
      await health.enroll(staker.address);
    }
    nodes.push({ staker: staker.address, operator, stampSecretKey });
  }
  return nodes;
}

/** Let rewards accrue for a period, then make one escrow transaction so that the period's
 * issuance is already distributed before the measured finalize (as it would be in practice). */
async function nextPeriod(core: Core): Promise<void> {
  const period = BigInt(await core.escrow.currentPeriod());
  await time.increaseTo((period + 1n) * BigInt(core.params.secondsPerPeriod) + 1n);
  const poker = await impersonate(ethers.Wallet.createRandom().address);
  await core.token.transfer(poker.address, core.params.minStake);
  await core.token.connect(poker).approve(core.escrowAddress, core.params.minStake);
  await core.escrow.connect(poker).deposit(core.params.minStake, 4);
}

interface RoundGas {
  open: bigint;
  commit: bigint;
  reveal: bigint;
  finalize: bigint;
  claim: bigint;
  punish: bigint;
}

/** One full round on `health`: checkers mark `unhealthyMask` targets unhealthy. */
async function runRound(
  health: HealthCheck,
  nodes: BenchNode[],
  unhealthy: (k: number) => bigint,
  withhold = false,
): Promise<RoundGas> {
  for (;;) {
    const round = (await health.currentRound()) + 1n;
    const start = (await health.roundInfo(round)).start;
    await time.increaseTo(start);
    const open = await gasOf(health.openRound());
    const info = await health.roundInfo(round);
    const checkers: BenchNode[] = [];
    for (const node of nodes) {
      if ((await health.isChecker(round, node.staker)).selected) checkers.push(node);
    }
    if (checkers.length < (withhold ? 3 : 2)) continue; // below quorum (2) + a withholder (rare): next round
    const verdicts = unhealthy(Number(info.sampleSize));
    const salts = checkers.map(() => ethers.hexlify(ethers.randomBytes(32)));
    let commit = 0n;
    for (const [i, node] of checkers.entries()) {
      const c = await health.commitmentOf(round, node.staker, verdicts, salts[i]);
      const gas = await gasOf(health.connect(node.operator).commit(round, c));
      if (i === 0) commit = gas;
    }
    await time.increaseTo(info.commitEnd);
    let reveal = 0n;
    // With `withhold`, the last checker never reveals and is punished after the reveal window.
    const revealing = withhold ? checkers.slice(0, -1) : checkers;
    const byStaker = new Map(nodes.map((n) => [n.staker, n]));
    for (const [i, node] of revealing.entries()) {
      const contacts = await contactsOf(health, round, node.staker, verdicts, [...info.targets], byStaker);
      const gas = await gasOf(health.connect(node.operator).reveal(round, verdicts, salts[i], contacts));
      if (i === 0) reveal = gas;
    }
    await time.increaseTo(info.revealEnd);
    const finalize = await gasOf(health.finalize(round));
    // Only proven (healthy) agreements are paid: a round judging every target unhealthy pays nobody.
    const claim = (await health.claimable(round, checkers[0].staker)) > 0n ? await gasOf(health.claimReward(round, checkers[0].staker)) : 0n;
    const punish = withhold ? await gasOf(health.punishNonRevealer(round, checkers[checkers.length - 1].staker)) : 0n;
    return { open, commit, reveal, finalize, claim, punish };
  }
}

async function deployInstance(core: Core, sampleSize: number): Promise<HealthCheck> {
  const config = {
    commitDuration: 3600,
    revealDuration: 3600,
    openWindow: 600,
    freezeWindow: FREEZE,
    claimWindow: 86_400,
    sampleSize,
    expectedCheckers: 10,
    quorum: 2, // the least the contract accepts (issue #16)
    rewardPerRound: 1_000n * TOKEN,
    firstRoundStart: 0,
  };
  const health = await ethers.deployContract("HealthCheck", [core.escrowAddress, core.tokenAddress, config]);
  const address = await health.getAddress();
  await core.escrow.grantRole(await core.escrow.REWARD_FORFEITER_ROLE(), address);
  await core.token.approve(address, 1_000_000n * TOKEN);
  await health.fund(1_000_000n * TOKEN);
  return health;
}

async function measure(): Promise<GasMeasurements> {
  const core = await deployCore();
  const a = await deployInstance(core, 5);
  const b = await deployInstance(core, 10);
  // The deployment's sample size (deploy/health-defaults.ts): the round's cost at N = 1000.
  const c = await deployInstance(core, 32);
  const twoUnhealthy = () => 0b11n; // targets 0 and 1 unhealthy, the rest healthy
  const out: GasMeasurements = {};
  const nodes: BenchNode[] = [];
  const rows: Array<Record<string, string | number>> = [];
  let baseline = 0n;
  for (const n of [10, 100, 1000]) {
    nodes.push(...(await stakeNodes(core, n - nodes.length, [a, b, c])));
    await nextPeriod(core);
    const gas = await runRound(a, nodes, twoUnhealthy);
    out[`health.finalize.N${n}`] = gas.finalize;
    if (n === 10) baseline = gas.finalize;
    rows.push({
      operation: `health.finalize.N${n}`,
      gas: Number(gas.finalize),
      "vs N10": (Number(gas.finalize) / Number(baseline)).toFixed(3),
      goal: "≤ 1.10 × N10",
    });
    out[`health.open.N${n}`] = gas.open;
  }
  const big = await runRound(b, nodes, (k) => (1n << BigInt(k)) - 1n, true);
  out["health.commit"] = big.commit;
  out["health.reveal"] = big.reveal;
  out["health.finalize.k10.N1000"] = big.finalize;
  out["health.open.k10.N1000"] = big.open;
  out["health.punishNonRevealer"] = big.punish;
  // Sample 32 (28 swept + 4 random), every target unhealthy in the reveal (worst case).
  const k32 = await runRound(c, nodes, (k) => (1n << BigInt(k)) - 1n);
  out["health.open.k32.N1000"] = k32.open;
  out["health.reveal.k32"] = k32.reveal;
  out["health.finalize.k32.N1000"] = k32.finalize;
  // Sample 32, every target healthy: 32 proofs of contact checked (ecrecover + wasStampKey each).
  const k32healthy = await runRound(c, nodes, () => 0n);
  out["health.reveal.k32.healthy"] = k32healthy.reveal;
  out["health.claim"] = k32healthy.claim;
  // A reward claim by an enrolled staker: the escrow also records the claim so a failed check can
  // take it back (one warm slot update); the escrow's claim goal applies.
  await nextPeriod(core);
  const claimer = await impersonate(nodes[1].staker);
  out["health.escrow.claim.tracked"] = await gasOf(core.escrow.connect(claimer).claimRewards(false));
  rows.push({ operation: "health.escrow.claim.tracked", gas: Number(out["health.escrow.claim.tracked"]), "vs N10": "-", goal: "≤ 91000" });
  rows.push({ operation: "health.commit", gas: Number(big.commit), "vs N10": "-", goal: "≤ 60000" });
  rows.push({ operation: "health.reveal (10 verdicts)", gas: Number(big.reveal), "vs N10": "-", goal: "≤ 120000" });
  console.table(rows);
  return out;
}

export const scenario: GasScenario = {
  name: "health",
  // NuCypher never built health checks: no anchor exists. Goals are checked in the table above.
  anchors: {},
  measure,
};
