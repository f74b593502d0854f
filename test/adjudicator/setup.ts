// Deploys the real core (token + staking escrow) and the Adjudicator, and stakes a node whose
// stamp key the test controls, so tests can play an honest or a malicious node.
import { ethers } from "hardhat";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { hexlify, randomBytes, type ContractTransactionResponse, type Signer } from "ethers";
import { evidenceCommitment } from "../../src/client/challenge";
import type { ContractEvidence, EvaluationHints } from "../../src/client/evidence";
import type { Adjudicator } from "../../typechain-types";
import { Core, StakedNode, advancePeriods, deployCore, stakeNode } from "../shared/core-fixture";
import { CFragEvidence, buildEvidence, signStamp } from "../../src/client/evidence";
import type { Reencryption } from "./fixtures";

const TOKEN = 10n ** 18n;

export const ADJUDICATOR_PARAMS = {
  basePenalty: 1_000n * TOKEN,
  penaltyHistoryCoefficient: 500n * TOKEN,
  maxPenaltyBps: 1_000n, // 10 % of the locked stake
  investigatorShareBps: 2_500n, // a quarter of the penalty
};

export interface AdjudicatorSetup {
  core: Core;
  adjudicator: Adjudicator;
  node: StakedNode;
  stampSecretKey: Uint8Array;
  investigator: HardhatEthersSigner;
  /** The escrow period when the setup was made (the last of `stampPeriods`). */
  stampPeriod: number;
  /**
   * Periods a stamp may be dated with right after the setup (the node's key valid in all, all in
   * the slashing window). `stamped` dates each new evidence with the next one, cyclically, so
   * stamps in a test are dated across the window.
   */
  stampPeriods: number[];
  nextStampPeriod: number;
}

export interface SetupOptions {
  /** How many distinct stamp periods to make usable (default 1): the chain moves on that many
   * periods minus one after the node registers, with G raised to match. */
  stampPeriods?: number;
  /** G, the slashing window in periods (default: enough for `stampPeriods`, at least 2). */
  slashingGracePeriods?: number;
}

/** An Adjudicator on `core`'s escrow, allowed to slash. */
export async function deployAdjudicatorFor(core: Pick<Core, "escrow" | "escrowAddress">, params = ADJUDICATOR_PARAMS): Promise<Adjudicator> {
  const adjudicator = (await ethers.deployContract("Adjudicator", [
    core.escrowAddress,
    params.basePenalty,
    params.penaltyHistoryCoefficient,
    params.maxPenaltyBps,
    params.investigatorShareBps,
  ])) as unknown as Adjudicator;
  await (await core.escrow.grantRole(await core.escrow.SLASHER_ROLE(), await adjudicator.getAddress())).wait();
  return adjudicator;
}

export async function deployAdjudicatorSetup(params = ADJUDICATOR_PARAMS, options: SetupOptions = {}): Promise<AdjudicatorSetup> {
  const periods = options.stampPeriods ?? 1;
  const grace = options.slashingGracePeriods ?? (periods > 1 ? Math.max(periods - 1, 2) : undefined);
  const core = await deployCore(grace !== undefined ? { slashingGracePeriods: grace } : {});
  const adjudicator = await deployAdjudicatorFor(core, params);
  const stampSecretKey = secp256k1.utils.randomSecretKey();
  const node = await stakeNode(core, core.accounts[0], core.accounts[1], {
    stampSecretKey,
  });
  if (periods > 1) {
    await advancePeriods(core, periods - 1);
    // Someone else's deposit pays the periods' issuance checkpoint, so the tests' own
    // transactions see the reserve as they would within one period.
    const bystander = core.accounts[10];
    await (await core.token.connect(core.deployer).transfer(bystander.address, core.params.minStake)).wait();
    await (await core.token.connect(bystander).approve(core.escrowAddress, core.params.minStake)).wait();
    await (await core.escrow.connect(bystander).deposit(core.params.minStake, core.params.minLockPeriods)).wait();
  }
  const stampPeriod = Number(await core.escrow.currentPeriod());
  const stampPeriods = Array.from({ length: periods }, (_, i) => stampPeriod - periods + 1 + i);
  return { core, adjudicator, node, stampSecretKey, investigator: core.accounts[5], stampPeriod, stampPeriods, nextStampPeriod: 0 };
}

/** A fixed policy id for evidence that does not care which policy it came from. */
export const TEST_POLICY_ID = new Uint8Array(16).fill(0x5a);
/** A fixed policy creator, with TEST_POLICY_ID the policy's name. */
export const TEST_POLICY_CREATOR = "0x00000000000000000000000000000000000C0FFE";

/** The next of the setup's usable stamp periods (cyclically). */
export function nextStampPeriod(setup: AdjudicatorSetup): number {
  return setup.stampPeriods[setup.nextStampPeriod++ % setup.stampPeriods.length];
}

/**
 * Evidence for `r` as the node would stamp it (a malicious node stamps a tampered cfrag too),
 * dated `stampPeriod` (default: the setup's next usable period, see `stampPeriods`).
 */
export function stamped(
  setup: AdjudicatorSetup,
  r: Reencryption,
  policyId: Uint8Array = TEST_POLICY_ID,
  stampPeriod: number = nextStampPeriod(setup),
): CFragEvidence {
  const context = { ...r, staker: setup.node.staker.address, stampPeriod, policyCreator: TEST_POLICY_CREATOR, policyId };
  return buildEvidence({
    ...context,
    nodeVerifyingKey: setup.node.verifyingKey,
    stampSignature: signStamp(setup.stampSecretKey, context, r.capsule, r.cfrag),
  });
}

/**
 * Files evidence as `investigator` the way the client does: commits to it (when its lengths let
 * the stamp digest be computed), then sends the reveal in the next block. Returns the reveal.
 */
export async function evaluateWithCommit(
  adjudicator: Adjudicator,
  investigator: Signer,
  args: ContractEvidence,
  hints: EvaluationHints,
  salt: string = hexlify(randomBytes(32)),
): Promise<ContractTransactionResponse> {
  const as = adjudicator.connect(investigator);
  const hash = await adjudicator.stampDigest(args).catch(() => undefined);
  if (hash) await (await as.commitEvidence(evidenceCommitment(hash, await investigator.getAddress(), salt))).wait();
  return as.evaluateCFrag(args, hints, salt);
}
