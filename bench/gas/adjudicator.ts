// Gas of the Adjudicator, measured on the embedded Hardhat network (cancun), gas used per
// transaction including the 21k base and calldata. Evidence: real cfrags from the reference
// (@nucypher/umbral-pre); the "incorrect" one is a node's cfrag with a wrong E2, stamped by it.
// Steady state: the investigator already holds a reward balance in the escrow, and the node
// has been slashed once before; `.first` is the first-ever slash (fresh storage slots).
import type { ContractTransactionResponse } from "ethers";
import { evaluationHints, toContractEvidence, type CFragEvidence } from "../../src/client/evidence";
import { randomPoint, referenceReencryption, withField } from "../../test/adjudicator/fixtures";
import { deployAdjudicatorSetup, stamped, type AdjudicatorSetup } from "../../test/adjudicator/setup";
import { CFRAG_OFFSETS } from "../../src/client/evidence";
import type { GasMeasurements, GasScenario } from "./types";

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("no receipt");
  return receipt.gasUsed;
}

function evaluate(s: AdjudicatorSetup, evidence: CFragEvidence): Promise<ContractTransactionResponse> {
  return s.adjudicator.connect(s.investigator).evaluateCFrag(toContractEvidence(evidence), evaluationHints(evidence));
}

function incorrect(s: AdjudicatorSetup): CFragEvidence {
  const r = referenceReencryption();
  return stamped(s, { ...r, cfrag: withField(r.cfrag, CFRAG_OFFSETS.e2, randomPoint().toBytes(true)) });
}

async function measure(): Promise<GasMeasurements> {
  const s = await deployAdjudicatorSetup();
  const out: GasMeasurements = {};
  // The node's first-ever slash, by an investigator without a reward balance: fresh slots.
  out["adjudicator.evaluate.incorrectAndSlash.first"] = await gasOf(evaluate(s, incorrect(s)));
  const correct: bigint[] = [];
  const slash: bigint[] = [];
  for (let i = 0; i < 5; i++) {
    correct.push(await gasOf(evaluate(s, stamped(s, referenceReencryption()))));
    slash.push(await gasOf(evaluate(s, incorrect(s))));
  }
  // Gas varies by a few hundred with the calldata's zero bytes; report the worst case seen.
  out["adjudicator.evaluate.correct"] = correct.reduce((a, b) => (a > b ? a : b));
  out["adjudicator.evaluate.incorrectAndSlash"] = slash.reduce((a, b) => (a > b ? a : b));
  return out;
}

export const scenario: GasScenario = {
  name: "adjudicator",
  anchors: {
    "adjudicator.evaluate.correct": { anchor: 179_000, goal: 120_000 },
    "adjudicator.evaluate.incorrectAndSlash": { anchor: 329_000, goal: 180_000 },
    "adjudicator.evaluate.incorrectAndSlash.first": { anchor: 329_000, goal: 180_000 },
  },
  measure,
};
