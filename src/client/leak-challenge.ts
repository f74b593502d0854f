/**
 * Filing a key-leak challenge with the LeakAdjudicator, commit then reveal (issue #14):
 *  1. `commitLeak(creator, policyId, node, sealed)` names the arrangement in clear and seals
 *     (challenger, keccak256(kfrag), salt) with a fresh secret salt. On a live arrangement this
 *     makes a later revocation hold back the bounty for us until the reveal window ends;
 *  2. once that is mined, in a later block, `revealLeak(proof)` reveals the kfrag, its commitment
 *     proof and the node's receipt (the stored `{ period, signature }` it returned on upload).
 * A copier of the reveal committed nothing for its own address, so the bounty stays ours.
 */
import { hexlify, randomBytes, type ContractTransactionReceipt } from "ethers";
import type { LeakAdjudicator } from "../../typechain-types";
import { commitArgs, leakCommitmentKey, revealArgs, type LeakEvidence, type StoredKfragReceipt } from "./leak-evidence";

export interface FiledLeak {
  /** The commitment's salt (keep it to retry a failed reveal within the window). */
  salt: string;
  commitmentKey: string;
  commitReceipt: ContractTransactionReceipt | null;
  revealReceipt: ContractTransactionReceipt | null;
}

/**
 * Commits to a leak of `evidence`'s kfrag, then reveals it with the node's `receipt` in a later
 * block (`leak` connected to the challenger's signer, who receives the bounty). Pass `salt` to
 * reveal an earlier commitment again (the commit is skipped when it is already on-chain).
 */
export async function fileLeakChallenge(
  leak: LeakAdjudicator,
  evidence: Omit<LeakEvidence, "receipt">,
  receipt: StoredKfragReceipt,
  options: { salt?: string } = {},
): Promise<FiledLeak> {
  const runner = leak.runner;
  const challenger = runner && "getAddress" in runner ? await (runner as { getAddress(): Promise<string> }).getAddress() : undefined;
  if (!challenger) throw new Error("the LeakAdjudicator must be connected to the challenger's signer");
  const full: LeakEvidence = { ...evidence, receipt };
  const salt = options.salt ?? hexlify(randomBytes(32));
  const saltBytes = new Uint8Array(Buffer.from(salt.slice(2), "hex"));
  const key = leakCommitmentKey(challenger, full, saltBytes);
  let commitReceipt: ContractTransactionReceipt | null = null;
  if ((await leak.commitments(key)) === 0n) {
    commitReceipt = await (await leak.commitLeak(...commitArgs(challenger, full, saltBytes))).wait();
  }
  // The commitment is mined: a transaction sent now lands in a later block, as the reveal must.
  const revealReceipt = await (await leak.revealLeak(revealArgs(full, saltBytes))).wait();
  return { salt, commitmentKey: key, commitReceipt, revealReceipt };
}
