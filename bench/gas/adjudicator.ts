// Gas of the Adjudicator, measured on the embedded Hardhat network (cancun), gas used per
// transaction including the 21k base and calldata. Evidence: real cfrags from the reference
// (@nucypher/umbral-pre); the "incorrect" one is a node's cfrag with a wrong E2, stamped by it.
// Every slash writes one fresh slot, the record of its stamped message (replay guard + the reward
// owed to the investigator); the node's violation count and slash-rate counter share a slot the
// stamp check (escrow.isStampKey, current key) already read. The escrow slashes a staker at most
// twice per period: each measured slash is the second of its period, after an unmeasured one that
// paid the new period's issuance checkpoint.
// An incorrect cfrag is filed commit–reveal: `.incorrectAndSlash*` is the reveal (the evaluating
// transaction, the one the 180k goal applies to) and `adjudicator.evaluate.commit` the commitment
// sent in an earlier block; a correct cfrag needs no commitment.
// Steady state: the node has been slashed before; `.first` is its first-ever slash, by an
// investigator who never slashed before (which no longer costs anything extra: no
// per-investigator balance is written). `withdrawReward` pulls one record's reward.
// Those keys use a single-cfrag stamp (empty proof); `.batch16` is the steady-state slash with
// evidence from a 16-cfrag stamp batch (the node signed the batch root once; 4-sibling proof).
import { ZeroHash, hexlify, randomBytes, type ContractTransactionResponse } from "ethers";
import { evidenceCommitment } from "../../src/client/challenge";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { takeSnapshot } from "@nomicfoundation/hardhat-network-helpers";
import { advancePeriods, registerNode } from "../../test/shared/core-fixture";
import { buildEvidence, evaluationHints, evidenceHash, signStampBatch, toContractEvidence, type CFragEvidence } from "../../src/client/evidence";
import { randomPoint, referenceReencryption, withField } from "../../test/adjudicator/fixtures";
import { TEST_POLICY_CREATOR, TEST_POLICY_ID, deployAdjudicatorSetup, stamped, type AdjudicatorSetup } from "../../test/adjudicator/setup";
import { policyBatch } from "../../test/stamp/fixtures";
import { CFRAG_OFFSETS } from "../../src/client/evidence";
import type { GasMeasurements, GasScenario } from "./types";
import { gasOf } from "./gas-of";
import { deployLeakWorld, leakNode, leakPolicy, reveal, signReceipt } from "../../test/adjudicator/leak-setup";
import { commitArgs } from "../../src/client/leak-evidence";

/** A correct cfrag: judged without any commitment. */
function evaluate(s: AdjudicatorSetup, evidence: CFragEvidence): Promise<ContractTransactionResponse> {
  return s.adjudicator.connect(s.investigator).evaluateCFrag(toContractEvidence(evidence), evaluationHints(evidence), ZeroHash);
}

const commitGas: bigint[] = [];

/** An incorrect cfrag: commit (its gas kept in `commitGas`), then the measured reveal. */
async function revealCFrag(s: AdjudicatorSetup, evidence: CFragEvidence): Promise<ContractTransactionResponse> {
  const salt = hexlify(randomBytes(32));
  const as = s.adjudicator.connect(s.investigator);
  commitGas.push(await gasOf(as.commitEvidence(evidenceCommitment(evidenceHash(evidence), s.investigator.address, salt))));
  return as.evaluateCFrag(toContractEvidence(evidence), evaluationHints(evidence), salt);
}

function incorrect(s: AdjudicatorSetup, stampPeriod = s.stampPeriod): CFragEvidence {
  const r = referenceReencryption();
  return stamped(s, { ...r, cfrag: withField(r.cfrag, CFRAG_OFFSETS.e2, randomPoint().toBytes(true)) }, TEST_POLICY_ID, stampPeriod);
}

/** Moves the chain to the next period and pays its issuance checkpoint with an unmeasured
 * slash; the escrow's slash rate (MAX_SLASHES_PER_PERIOD = 2) leaves one measured slash in it. */
async function freshPeriod(s: AdjudicatorSetup): Promise<number> {
  await advancePeriods(s.core, 1);
  const now = Number(await s.core.escrow.currentPeriod());
  await gasOf(revealCFrag(s, incorrect(s, now)));
  return now;
}

/** Evidence for cfrag 5 of a 16-cfrag batch the node stamped at once, that cfrag made incorrect. */
function incorrectInBatch(s: AdjudicatorSetup, stampPeriod: number): CFragEvidence {
  const batch = policyBatch(16);
  const bad = 5;
  batch.cfrags[bad] = withField(batch.cfrags[bad], CFRAG_OFFSETS.e2, randomPoint().toBytes(true));
  const context = { ...batch.keys, staker: s.node.staker.address, stampPeriod, policyCreator: TEST_POLICY_CREATOR, policyId: TEST_POLICY_ID };
  const items = batch.capsules.map((capsule, i) => ({ capsule, cfrag: batch.cfrags[i] }));
  const { signature, proofs } = signStampBatch(s.stampSecretKey, context, items);
  if (proofs[bad].length !== 4) throw new Error("a 16-leaf batch proves each cfrag with 4 siblings");
  return buildEvidence({ ...context, ...items[bad], nodeVerifyingKey: s.node.verifyingKey, stampSignature: signature, stampProof: proofs[bad] });
}

async function measure(): Promise<GasMeasurements> {
  const s = await deployAdjudicatorSetup();
  const out: GasMeasurements = {};
  // The node's first-ever slash, by an investigator without a reward balance: fresh slots.
  out["adjudicator.evaluate.incorrectAndSlash.first"] = await gasOf(revealCFrag(s, incorrect(s)));
  const correct: bigint[] = [];
  const slash: bigint[] = [];
  while (slash.length < 5) {
    const period = await freshPeriod(s);
    correct.push(await gasOf(evaluate(s, stamped(s, referenceReencryption(), TEST_POLICY_ID, period))));
    slash.push(await gasOf(revealCFrag(s, incorrect(s, period))));
  }
  // Gas varies by a few hundred with the calldata's zero bytes; report the worst case seen.
  out["adjudicator.evaluate.correct"] = correct.reduce((a, b) => (a > b ? a : b));
  out["adjudicator.evaluate.incorrectAndSlash"] = slash.reduce((a, b) => (a > b ? a : b));
  // In a snapshot that is rolled back: later scenarios (health selection follows block numbers)
  // must see the same chain whether or not this is measured.
  const snapshot = await takeSnapshot();
  const evidence = incorrect(s, await freshPeriod(s));
  await gasOf(revealCFrag(s, evidence));
  await mine(Number(await s.adjudicator.CONTEST_BLOCKS()) + 1);
  out["adjudicator.withdrawReward"] = await gasOf(s.adjudicator.connect(s.investigator).withdrawReward([evidenceHash(evidence)]));
  const batchSlash: bigint[] = [];
  while (batchSlash.length < 3) batchSlash.push(await gasOf(revealCFrag(s, incorrectInBatch(s, await freshPeriod(s)))));
  out["adjudicator.evaluate.incorrectAndSlash.batch16"] = batchSlash.reduce((a, b) => (a > b ? a : b));
  // A stamp by a retired key (dated its retirement period): the one extra storage read of the
  // key's window (the current key is in the node's slot, which the slash reads anyway).
  const oldStamp = incorrect(s, await freshPeriod(s));
  await registerNode(s.core, s.node.staker.address, s.node.operator, { endpoint: s.node.endpoint });
  out["adjudicator.evaluate.incorrectAndSlash.retiredKey"] = await gasOf(revealCFrag(s, oldStamp));
  // The commitment before a reveal (a fresh slot): reported beside the reveal it enables.
  out["adjudicator.evaluate.commit"] = commitGas.reduce((a, b) => (a > b ? a : b));
  await snapshot.restore();
  Object.assign(out, await measureLeak());
  return out;
}

/** Key-leak challenge on a 3-node policy with real kfrags and the node's real receipt (issue #14):
 * the commit on a live arrangement (which opens a revocation hold) and the reveal (receipt check,
 * forfeit to the reserve, bounty and owner refund both paid); also a revocation while a challenge
 * is open (the held-back path) beside the plain one. */
async function measureLeak(): Promise<GasMeasurements> {
  const w = await deployLeakWorld();
  const nodes = [await leakNode(w, 0), await leakNode(w, 1), await leakNode(w, 2)];
  const p = await leakPolicy(w, nodes.map((n) => n.staker.address), 6);
  const i = 1;
  const node = nodes.find((n) => n.staker.address === p.nodes[i])!;
  const receipt = await signReceipt(w, node.stampSecretKey, node.staker.address, p.creator, p.policyId, p.kfrags[i]);
  const evidence = p.evidenceFor(i, receipt);
  const salt = new Uint8Array(32).fill(3);
  const commitGas = await gasOf(w.leak.connect(w.challenger).commitLeak(...commitArgs(w.challenger.address, evidence, salt)));
  const revealGas = await gasOf(reveal(w, w.challenger, evidence, salt));
  // A revocation that finds a challenge open on its arrangement holds the bounty cap back.
  const q = await leakPolicy(w, nodes.map((n) => n.staker.address), 6);
  await gasOf(w.leak.connect(w.stranger).commitLeak(q.creator, "0x" + Buffer.from(q.policyId).toString("hex"), q.nodes[0], "0x" + "11".repeat(32)));
  const heldRevoke = await gasOf(w.pm.connect(w.alice).revokeArrangement("0x" + Buffer.from(q.policyId).toString("hex"), q.nodes[0]));
  return { "adjudicator.leak.commit": commitGas, "adjudicator.leak": revealGas, "adjudicator.leak.revokeWithHold": heldRevoke };
}

export const scenario: GasScenario = {
  name: "adjudicator",
  anchors: {
    "adjudicator.evaluate.correct": { anchor: 179_000, goal: 120_000 },
    "adjudicator.evaluate.incorrectAndSlash": { anchor: 329_000, goal: 180_000 },
    "adjudicator.evaluate.incorrectAndSlash.first": { anchor: 329_000, goal: 180_000 },
    "adjudicator.evaluate.incorrectAndSlash.batch16": { anchor: 329_000, goal: 180_000 },
    "adjudicator.evaluate.incorrectAndSlash.retiredKey": { anchor: 329_000, goal: 180_000 },
  },
  measure,
};
