// File an incorrect-re-encryption challenge from the evidence JSON the client saves when it
// discards an invalid cfrag (format: src/client/evidence.ts):
//   npx hardhat nkms:challenge-cfrag --evidence bad-cfrag.json [--adjudicator 0x…] [--from 0x…] [--dry-run]
// The Adjudicator address comes from the Ignition deployment of module "Adjudicator" unless given.
import fs from "node:fs";
import path from "node:path";
import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import {
  EvidenceError,
  evaluationHints,
  evidenceHash,
  parseEvidence,
  toContractEvidence,
  type CFragEvidence,
  type EvaluationHints,
} from "../src/client/evidence";

/** An operator-facing failure: printed as is, without a stack trace. */
export class AdjudicatorTaskError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "AdjudicatorTaskError";
  }
}

async function adjudicatorAddress(hre: HardhatRuntimeEnvironment, flag?: string): Promise<string> {
  if (flag) return flag;
  const { chainId } = await hre.ethers.provider.getNetwork();
  const file = path.join(hre.config.paths.root, "ignition", "deployments", `chain-${chainId}`, "deployed_addresses.json");
  if (!fs.existsSync(file)) {
    throw new AdjudicatorTaskError("NO_DEPLOYMENT", `no Ignition deployment for chain ${chainId}; pass --adjudicator`);
  }
  const addresses = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>;
  const address = addresses["Adjudicator#Adjudicator"];
  if (!address) throw new AdjudicatorTaskError("NO_DEPLOYMENT", "module Adjudicator is not deployed; pass --adjudicator");
  return address;
}

task("nkms:challenge-cfrag", "Prove on-chain that a node returned an incorrect cfrag, and slash it")
  .addParam("evidence", "Path of the evidence JSON file", undefined, types.string)
  .addOptionalParam("adjudicator", "Adjudicator address", undefined, types.string)
  .addOptionalParam("from", "Investigator account (default: first signer)", undefined, types.string)
  .addFlag("dryRun", "Only report the verdict (eth_call), send nothing")
  .setAction(async (args: { evidence: string; adjudicator?: string; from?: string; dryRun: boolean }, hre) => {
    let text: string;
    try {
      text = fs.readFileSync(args.evidence, "utf8");
    } catch {
      throw new AdjudicatorTaskError("NO_FILE", `cannot read ${args.evidence}`);
    }
    let evidence: CFragEvidence;
    let hints: EvaluationHints;
    try {
      evidence = parseEvidence(text);
      hints = evaluationHints(evidence);
    } catch (err) {
      if (err instanceof EvidenceError) throw new AdjudicatorTaskError(err.code, err.message);
      throw err;
    }
    const signer = args.from ? await hre.ethers.getSigner(args.from) : (await hre.ethers.getSigners())[0];
    const adjudicator = (await hre.ethers.getContractAt("Adjudicator", await adjudicatorAddress(hre, args.adjudicator))).connect(
      signer,
    );
    const callArgs = [toContractEvidence(evidence), hints] as const;
    const correct = await adjudicator.evaluateCFrag.staticCall(...callArgs);
    console.log(`evidence ${evidenceHash(evidence)} against node ${evidence.staker}: cfrag is ${correct ? "CORRECT" : "INCORRECT"}`);
    if (args.dryRun) return { correct };
    if (correct) {
      console.log("nothing to file: a correct cfrag slashes nobody");
      return { correct };
    }
    const penalty = await adjudicator.penaltyFor(evidence.staker);
    const receipt = await (await adjudicator.evaluateCFrag(...callArgs)).wait();
    console.log(`slashed: penalty ${hre.ethers.formatEther(penalty)} NKMS (tx ${receipt?.hash}, gas ${receipt?.gasUsed})`);
    console.log("withdraw your investigator reward from the staking escrow (withdrawInvestigatorReward)");
    return { correct, txHash: receipt?.hash };
  });
