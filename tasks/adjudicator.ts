// File an incorrect-re-encryption challenge from the evidence JSON the client saves when it
// discards an invalid cfrag (format: src/client/evidence.ts):
//   npx hardhat nkms:challenge-cfrag --evidence bad-cfrag.json [--adjudicator 0x…] [--from 0x…] [--salt 0x…] [--dry-run]
// Commit–reveal: commits keccak256(evidenceHash, investigator, salt), then reveals in a later
// block (src/client/challenge.ts). The reward is withdrawable CONTEST_BLOCKS after the commitment.
// The Adjudicator address comes from the Ignition deployment of module "Adjudicator" unless given.
// The investigator's reward stays in the evidence's record until pulled:
//   npx hardhat nkms:withdraw-reward --evidence-hashes 0x…[,0x…] [--adjudicator 0x…] [--from 0x…]
import fs from "node:fs";
import { types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { randomBytes } from "node:crypto";
import { TaskError, contractAddress, decodeRevert, operatorTask, revertData } from "./lib";
import { fileCFragEvidence } from "../src/client/challenge";
import type { Adjudicator } from "../typechain-types";
import { LeakEvidenceError, leakKfragHash, parseLeakEvidence, revealArgs, type LeakEvidence } from "../src/client/leak-evidence";
import { fileLeakChallenge } from "../src/client/leak-challenge";
import type { LeakAdjudicator } from "../typechain-types";
import {
  EvidenceError,
  evaluationHints,
  evidenceHash,
  parseEvidence,
  toContractEvidence,
  type CFragEvidence,
  type EvaluationHints,
} from "../src/client/evidence";

const adjudicatorAddress = (hre: HardhatRuntimeEnvironment, flag: string | undefined, future = "Adjudicator#Adjudicator") =>
  contractAddress(hre, future, flag, "Deploy with `npx hardhat ignition deploy ignition/modules/Network.ts --network <network>` or pass its address.");

operatorTask("nkms:challenge-cfrag", "Prove on-chain that a node returned an incorrect cfrag, and slash it")
  .addParam("evidence", "Path of the evidence JSON file", undefined, types.string)
  .addOptionalParam("adjudicator", "Adjudicator address", undefined, types.string)
  .addOptionalParam("from", "Investigator account (default: first signer)", undefined, types.string)
  .addOptionalParam("salt", "32-byte hex salt of an earlier commitment to reveal", undefined, types.string)
  .addFlag("dryRun", "Only report the verdict (eth_call), send nothing")
  .setAction(async (args: { evidence: string; adjudicator?: string; from?: string; salt?: string; dryRun: boolean }, hre) => {
    let text: string;
    try {
      text = fs.readFileSync(args.evidence, "utf8");
    } catch {
      throw new TaskError("NO_FILE", `cannot read ${args.evidence}`);
    }
    let evidence: CFragEvidence;
    let hints: EvaluationHints;
    try {
      evidence = parseEvidence(text);
      hints = evaluationHints(evidence);
    } catch (err) {
      if (err instanceof EvidenceError) throw new TaskError(err.code, err.message, "usage");
      throw err;
    }
    const signer = args.from ? await hre.ethers.getSigner(args.from) : (await hre.ethers.getSigners())[0];
    const adjudicator = (await hre.ethers.getContractAt("Adjudicator", await adjudicatorAddress(hre, args.adjudicator))).connect(
      signer,
    );
    const hash = evidenceHash(evidence);
    const correct = await adjudicator.judge(toContractEvidence(evidence), hints);
    console.log(`evidence ${hash} against node ${evidence.staker}: cfrag is ${correct ? "CORRECT" : "INCORRECT"}`);
    if (args.dryRun) return { correct };
    if (correct) {
      console.log("nothing to file: a correct cfrag slashes nobody");
      return { correct };
    }
    if (args.salt !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(args.salt)) throw new TaskError("BAD_FIELD", "salt must be 32 bytes of hex");
    const penalty = await adjudicator.penaltyFor(evidence.staker);
    // Commit, then reveal in a later block: a copy of the reveal cannot take the reward.
    const filed = await fileCFragEvidence(adjudicator as unknown as Adjudicator, evidence, { salt: args.salt });
    const receipt = filed.revealReceipt;
    console.log(`committed (salt ${filed.salt}; pass it with --salt to retry a failed reveal), gas ${filed.commitReceipt?.gasUsed ?? 0n}`);
    const [, reward, commitBlock] = await adjudicator.records(hash);
    console.log(`slashed: penalty ${hre.ethers.formatEther(penalty)} NKMS (tx ${receipt?.hash}, gas ${receipt?.gasUsed})`);
    console.log(
      `your reward of ${hre.ethers.formatEther(reward)} NKMS waits in the evidence's record until block ${commitBlock + (await adjudicator.CONTEST_BLOCKS())}: npx hardhat nkms:withdraw-reward --evidence-hashes ${hash}`,
    );
    return { correct, txHash: receipt?.hash, evidenceHash: hash, reward, salt: filed.salt };
  });

operatorTask("nkms:withdraw-reward", "Withdraw the investigator rewards your slashing evidence earned")
  .addParam("evidenceHashes", "Comma-separated slash record keys (printed by nkms:challenge-cfrag)", undefined, types.string)
  .addOptionalParam("adjudicator", "Adjudicator address", undefined, types.string)
  .addOptionalParam("from", "Investigator account (default: first signer)", undefined, types.string)
  .setAction(async (args: { evidenceHashes: string; adjudicator?: string; from?: string }, hre) => {
    const hashes = args.evidenceHashes.split(",").map((h) => h.trim());
    for (const h of hashes) {
      if (!/^0x[0-9a-fA-F]{64}$/.test(h)) throw new TaskError("BAD_FIELD", `not a 32-byte hex evidence hash: ${h}`);
    }
    const signer = args.from ? await hre.ethers.getSigner(args.from) : (await hre.ethers.getSigners())[0];
    const adjudicator = (await hre.ethers.getContractAt("Adjudicator", await adjudicatorAddress(hre, args.adjudicator))).connect(
      signer,
    );
    let amount: bigint;
    try {
      amount = await adjudicator.withdrawReward.staticCall(hashes);
    } catch (err) {
      const data = revertData(err);
      const reason = data ? decodeRevert([adjudicator.interface], data) : undefined;
      if (reason) throw new TaskError("REFUSED", reason.text);
      throw err;
    }
    const receipt = await (await adjudicator.withdrawReward(hashes)).wait();
    console.log(`withdrew ${hre.ethers.formatEther(amount)} NKMS to ${signer.address} (tx ${receipt?.hash})`);
    return { amount, txHash: receipt?.hash };
  });

// File a key-leak challenge from a leak evidence file (src/client/leak-evidence.ts: the kfrag, its
// commitment proof and the node's receipt for it):
//   npx hardhat nkms:challenge-leak --evidence leak.json [--leak-adjudicator 0x…] [--from 0x…] [--salt 0x…] [--dry-run]
// Commit–reveal (src/client/leak-challenge.ts): commits to the arrangement (creator, policy, node)
// with (challenger, keccak256(kfrag), salt) sealed, waits for it to be mined, then reveals in a
// later block within the reveal window. The salt is printed; pass it back with --salt to finish a
// challenge whose reveal did not go through (the commit is then skipped). A reveal proves that the
// challenger holds a kfrag the node acknowledged, not that the node leaked it: the node forfeits at
// most what it earned on that arrangement (see contracts/adjudicator/LeakAdjudicator.sol).
operatorTask("nkms:challenge-leak", "Prove on-chain that a node's acknowledged kfrag is out (commit, then reveal)")
  .addParam("evidence", "Path of the leak evidence JSON file", undefined, types.string)
  .addOptionalParam("leakAdjudicator", "LeakAdjudicator address", undefined, types.string)
  .addOptionalParam("from", "Challenger account, receives the bounty (default: first signer)", undefined, types.string)
  .addOptionalParam("salt", "32-byte hex salt of an earlier commitment to reveal", undefined, types.string)
  .addFlag("dryRun", "Only check the evidence against the on-chain commitment, send nothing")
  .setAction(
    async (args: { evidence: string; leakAdjudicator?: string; from?: string; salt?: string; dryRun: boolean }, hre) => {
      let text: string;
      try {
        text = fs.readFileSync(args.evidence, "utf8");
      } catch {
        throw new TaskError("NO_FILE", `cannot read ${args.evidence}`);
      }
      let evidence: LeakEvidence;
      try {
        evidence = parseLeakEvidence(text);
      } catch (err) {
        if (err instanceof LeakEvidenceError) throw new TaskError(err.code, err.message, "usage");
        throw err;
      }
      if (args.salt !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(args.salt)) throw new TaskError("BAD_FIELD", "salt must be 32 bytes of hex", "usage");
      const signer = args.from ? await hre.ethers.getSigner(args.from) : (await hre.ethers.getSigners())[0];
      const address = await adjudicatorAddress(hre, args.leakAdjudicator, "Adjudicator#LeakAdjudicator");
      const leak = (await hre.ethers.getContractAt("LeakAdjudicator", address)).connect(signer);
      const pm = await hre.ethers.getContractAt("ILeakPolicyManager", await leak.policyManager());
      const { policyId, staker, proof } = revealArgs(evidence, new Uint8Array(32));
      const committed = await pm.verifyKfragCommitment(policyId, staker, leakKfragHash(evidence), proof);
      if (!committed) throw new TaskError("NOT_COMMITTED", "the policy's kfrag commitment does not bind this kfrag to this node");
      const forfeit = await leak.forfeitFor(evidence.policyCreator, policyId, staker);
      console.log(`kfrag of node ${staker} in policy ${policyId} matches the on-chain commitment; forfeit ${hre.ethers.formatEther(forfeit)} NKMS`);
      if (args.dryRun) return { committed, forfeit };

      const { receipt, ...rest } = evidence;
      let filed;
      try {
        filed = await fileLeakChallenge(leak as unknown as LeakAdjudicator, rest, receipt, { salt: args.salt });
      } catch (err) {
        const data = revertData(err);
        const reason = data ? decodeRevert([leak.interface], data) : undefined;
        if (reason) throw new TaskError("REFUSED", reason.text);
        throw err;
      }
      const proven = filed.revealReceipt?.logs
        .map((log) => {
          try {
            return leak.interface.parseLog(log);
          } catch {
            return null;
          }
        })
        .find((parsed) => parsed?.name === "LeakProven");
      const bounty = proven ? (proven.args.bounty as bigint) : 0n;
      console.log(`committed (salt ${filed.salt}; pass it with --salt to retry a failed reveal), gas ${filed.commitReceipt?.gasUsed ?? 0n}`);
      console.log(
        `leak proven (tx ${filed.revealReceipt?.hash}, gas ${filed.revealReceipt?.gasUsed}): bounty ${hre.ethers.formatEther(bounty)} NKMS paid to ${signer.address}`,
      );
      return { committed, forfeit, bounty, txHash: filed.revealReceipt?.hash, salt: filed.salt };
    },
  );
