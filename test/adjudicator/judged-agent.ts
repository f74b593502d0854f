// A network with one staked node running the real agent in this process, and an Adjudicator that
// may slash it: the world of the end-to-end tests where the node's own cfrags and stamps are judged.
import { ethers } from "hardhat";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Adjudicator } from "../../typechain-types";
import { deployNetwork, setupNode, type Network, type TestNode } from "../node/helpers";
import { startInProcessAgent, type InProcessAgent, type InProcessAgentOptions } from "../node/in-process-agent";
import { deployAdjudicatorFor } from "./setup";

export interface JudgedAgent {
  dir: string;
  net: Network;
  node: TestNode;
  adjudicator: Adjudicator;
  agent: InProcessAgent;
  payer: HardhatEthersSigner;
  investigator: HardhatEthersSigner;
  close(): Promise<void>;
}

export async function startJudgedAgent(dirPrefix: string, operatorIndex: number, options: InProcessAgentOptions): Promise<JudgedAgent> {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const net = await deployNetwork();
  const signers = await ethers.getSigners();
  const node = await setupNode(net, signers[1], operatorIndex, ethers.provider);
  const adjudicator = await deployAdjudicatorFor(net.core);
  const agent = await startInProcessAgent(net, node, dir, options);
  return {
    dir,
    net,
    node,
    adjudicator,
    agent,
    payer: signers[10],
    investigator: signers[12],
    close: async () => {
      await agent.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
