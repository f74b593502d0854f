// Files cfrag evidence with the Adjudicator the way the client and the task do.
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionReceipt } from "ethers";
import type { Adjudicator } from "../../typechain-types";
import { evaluationHints, toContractEvidence, type CFragEvidence } from "../../src/client/evidence";

/** Evaluates `evidence` as `investigator`; returns the mined receipt. */
export async function fileEvidence(adjudicator: Adjudicator, investigator: HardhatEthersSigner, evidence: CFragEvidence): Promise<ContractTransactionReceipt | null> {
  return (await adjudicator.connect(investigator).evaluateCFrag(toContractEvidence(evidence), evaluationHints(evidence))).wait();
}
