// In-process NKMS network for the client tests: the Hardhat chain over JSON-RPC on loopback,
// contracts deployed by Ignition, five staked nodes running the real agent (runNode).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import pino from "pino";
import type { JsonRpcProvider } from "ethers";
import { runNode, loadNodeConfig, type RunningNode } from "../../src/node";
import type { Contracts } from "../../src/client/chain";
import type { NetworkAddresses } from "../../src/client/deployment";
import { connect, type NkmsClient } from "../../src/client/client";
import { deriveUserKeys } from "../../src/client/identity";
import { send } from "../../src/client/chain";
import { TOKEN, account, connectAt, deployAll, serveHardhatChain, stakeNodes, writeNodeFiles, type RpcServer } from "../../scripts/demo-network";

export interface Harness {
  dir: string;
  rpc: RpcServer;
  deploymentFile: string;
  addresses: NetworkAddresses & { directorySecret: Uint8Array };
  contracts: Contracts;
  provider: JsonRpcProvider;
  nodes: RunningNode[];
  /** Config file of node i (to restart it). */
  nodeConfigs: string[];
  client(accountIndex: number, name: string): Promise<NkmsClient>;
  /** Starts node i again (same keystore and data dir), e.g. after a test stopped it. */
  restart(i: number, publicUrl?: string): Promise<RunningNode>;
  close(): Promise<void>;
}

export async function startHarness(nodeCount = 5, opts: { publicUrl?: (i: number) => string | undefined } = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-client-"));
  const rpc = await serveHardhatChain(hre);
  const deploymentFile = path.join(dir, "deployed_addresses.json");
  const addresses = await deployAll(hre, deploymentFile);
  const { contracts, provider } = connectAt(rpc.url, addresses);
  const deployer = account(0).connect(provider);
  const staked = Array.from({ length: nodeCount }, (_, i) => ({ staker: account(3 + i).connect(provider), operator: account(10 + i).connect(provider) }));
  await stakeNodes(contracts, deployer, staked);
  const nodes: RunningNode[] = [];
  const nodeConfigs: string[] = [];
  const silent = pino({ level: "silent" });
  const start = (config: string, publicUrl?: string) =>
    runNode(
      loadNodeConfig({ configFile: config, deployment: deploymentFile, password: "correct horse battery staple", ...(publicUrl ? { publicUrl } : {}) }, {}),
      { logger: silent },
    );
  for (let i = 0; i < nodeCount; i++) {
    const config = await writeNodeFiles(path.join(dir, `node-${i}`), staked[i].operator, rpc.url, deploymentFile);
    nodeConfigs.push(config);
    nodes.push(await start(config, opts.publicUrl?.(i)));
  }
  const clients: NkmsClient[] = [];
  return {
    dir,
    rpc,
    deploymentFile,
    addresses,
    contracts,
    provider,
    nodes,
    nodeConfigs,
    async client(accountIndex, name) {
      const wallet = account(accountIndex);
      // Users get tokens to pay for policies.
      await send("fund user", () => contracts.token.connect(deployer).transfer(wallet.address, 1_000n * TOKEN));
      const c = await connect({ rpcUrl: rpc.url, deploymentFile, home: path.join(dir, name), storage: path.join(dir, "objects"), keys: deriveUserKeys(wallet), nodeTimeoutMs: 5000 });
      clients.push(c);
      return c;
    },
    async restart(i, publicUrl) {
      await nodes[i].close();
      nodes[i] = await start(nodeConfigs[i], publicUrl);
      return nodes[i];
    },
    async close() {
      for (const c of clients) c.close();
      for (const n of nodes) await n.close().catch(() => undefined);
      provider.destroy();
      await rpc.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
