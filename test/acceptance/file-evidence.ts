// Files cfrag evidence with the Adjudicator the way the client and the task do (commit, then reveal).
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Adjudicator } from "../../typechain-types";
import { fileCFragEvidence, type FiledEvidence } from "../../src/client/challenge";
import type { CFragEvidence } from "../../src/client/evidence";

/** Judges `evidence` as `investigator` and, if incorrect, commits and reveals it. */
export function fileEvidence(adjudicator: Adjudicator, investigator: HardhatEthersSigner, evidence: CFragEvidence): Promise<FiledEvidence> {
  return fileCFragEvidence(adjudicator.connect(investigator), evidence);
}
