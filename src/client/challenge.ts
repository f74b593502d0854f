/**
 * Filing cfrag evidence with the Adjudicator, commit then reveal (issue #13, front-running):
 *  1. `commitEvidence(keccak256(abi.encode(evidenceHash, investigator, salt)))` with a fresh
 *     secret salt: the commitment hides the evidence and binds the investigator;
 *  2. once that is mined, in a later block, `evaluateCFrag(evidence, hints, salt)` reveals it.
 * Someone copying the reveal from the mempool cannot have committed earlier, so the reward stays
 * with the investigator (the Adjudicator pays the earliest revealed commitment). A correct cfrag
 * needs no commitment: `judge` gives the verdict, nothing is sent.
 */
import { AbiCoder, keccak256, randomBytes, hexlify, type ContractTransactionReceipt } from "ethers";
import type { Adjudicator } from "../../typechain-types";
import { evaluationHints, evidenceHash, toContractEvidence, type CFragEvidence } from "./evidence";

/** The commitment `Adjudicator.evidenceCommitment(evidenceHash, investigator, salt)` computes. */
export function evidenceCommitment(hash: string, investigator: string, salt: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "address", "bytes32"], [hash, investigator, salt]));
}

export interface FiledEvidence {
  /** The on-chain verdict; a correct cfrag is never filed. */
  correct: boolean;
  evidenceHash: string;
  /** The commitment's salt (keep it to retry a failed reveal). */
  salt?: string;
  commitReceipt?: ContractTransactionReceipt | null;
  revealReceipt?: ContractTransactionReceipt | null;
}

/**
 * Judges `evidence` with the Adjudicator (`adjudicator` connected to the investigator's signer)
 * and, if the cfrag is incorrect, commits to it and reveals it in a later block. Pass `salt` to
 * reveal an earlier commitment again (the commit is skipped when it is already on-chain).
 */
export async function fileCFragEvidence(
  adjudicator: Adjudicator,
  evidence: CFragEvidence,
  options: { salt?: string } = {},
): Promise<FiledEvidence> {
  const hints = evaluationHints(evidence);
  const args = toContractEvidence(evidence);
  const hash = evidenceHash(evidence);
  if (await adjudicator.judge(args, hints)) return { correct: true, evidenceHash: hash };
  const runner = adjudicator.runner;
  const investigator = runner && "getAddress" in runner ? await (runner as { getAddress(): Promise<string> }).getAddress() : undefined;
  if (!investigator) throw new Error("the Adjudicator must be connected to the investigator's signer");
  const salt = options.salt ?? hexlify(randomBytes(32));
  const commitment = evidenceCommitment(hash, investigator, salt);
  let commitReceipt: ContractTransactionReceipt | null = null;
  if ((await adjudicator.commitments(commitment)) === 0n) {
    try {
      commitReceipt = await (await adjudicator.commitEvidence(commitment)).wait();
    } catch (err) {
      // Someone copied the commitment from the mempool and got it mined first: it is still
      // ours (it binds our address), so go on to the reveal; anything else is a real failure.
      if ((await adjudicator.commitments(commitment)) === 0n) throw err;
    }
  }
  // The commitment is mined (its receipt awaited, or found on-chain): a transaction sent now
  // lands in a later block, as the reveal must.
  const revealReceipt = await (await adjudicator.evaluateCFrag(args, hints, salt)).wait();
  return { correct: false, evidenceHash: hash, salt, commitReceipt, revealReceipt };
}
