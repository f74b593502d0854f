// Deploys the real core (token + staking escrow) and the Adjudicator, and stakes a node whose
// stamp key the test controls, so tests can play an honest or a malicious node.
import { ethers } from "hardhat";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Adjudicator } from "../../typechain-types";
import { Core, StakedNode, deployCore, stakeNode } from "../shared/core-fixture";
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
  /** The escrow period when the setup was made: the date `stamped` gives stamps by default. */
  stampPeriod: number;
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

export async function deployAdjudicatorSetup(params = ADJUDICATOR_PARAMS): Promise<AdjudicatorSetup> {
  const core = await deployCore();
  const adjudicator = await deployAdjudicatorFor(core, params);
  const stampSecretKey = secp256k1.utils.randomSecretKey();
  const node = await stakeNode(core, core.accounts[0], core.accounts[1], {
    stampSecretKey,
  });
  const stampPeriod = Number(await core.escrow.currentPeriod());
  return { core, adjudicator, node, stampSecretKey, investigator: core.accounts[5], stampPeriod };
}

/** A fixed policy id for evidence that does not care which policy it came from. */
export const TEST_POLICY_ID = new Uint8Array(16).fill(0x5a);
/** A fixed policy creator, with TEST_POLICY_ID the policy's name. */
export const TEST_POLICY_CREATOR = "0x00000000000000000000000000000000000C0FFE";

/**
 * Evidence for `r` as the node would stamp it (a malicious node stamps a tampered cfrag too),
 * dated `stampPeriod` (default: the setup's period, valid as long as the chain stays in it).
 */
export function stamped(
  setup: AdjudicatorSetup,
  r: Reencryption,
  policyId: Uint8Array = TEST_POLICY_ID,
  stampPeriod: number = setup.stampPeriod,
): CFragEvidence {
  const context = { ...r, staker: setup.node.staker.address, stampPeriod, policyCreator: TEST_POLICY_CREATOR, policyId };
  return buildEvidence({
    ...context,
    nodeVerifyingKey: setup.node.verifyingKey,
    stampSignature: signStamp(setup.stampSecretKey, context, r.capsule, r.cfrag),
  });
}
