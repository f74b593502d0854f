/**
 * A local NKMS network for the demo and the end-to-end tests: the Hardhat chain served over
 * JSON-RPC on loopback (or an external `hardhat node`), every contract deployed with Ignition,
 * stakers staked and enrolled, and node agents (separate processes, or in-process via runNode).
 */
import fs from "node:fs";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { HDNodeWallet, Wallet, type Signer } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import NetworkModule from "../deploy/network";
import DirectoryModule from "../deploy/directory";
import { createKeystore } from "../src/node/keys";
import { connectContracts, makeProvider, send, type Contracts } from "../src/client/chain";
import type { NetworkAddresses } from "../src/client/deployment";
import { bondOperator, setMinFeeRate, stake } from "../src/client/staking";
import { directoryKeyBytes32 } from "../src/directory/checkpoint-contract";
import { publicKeyOf } from "../src/directory/protocol";

export const ROOT = path.join(__dirname, "..");
export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";
export const TOKEN = 10n ** 18n;

/** Hardhat's default account `i` (the same keys in-process and under `hardhat node`). */
export function account(i: number): Wallet {
  return new Wallet(HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey);
}

export interface RpcServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the in-process Hardhat chain over JSON-RPC on 127.0.0.1 (a free port). */
export async function serveHardhatChain(hre: HardhatRuntimeEnvironment): Promise<RpcServer> {
  const server = (await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: 0, provider: hre.network.provider })) as {
    listen(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  };
  const { port } = await server.listen();
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

/** Ignition's deployed_addresses.json content for what we deployed. */
export type DeployedAddresses = Record<string, string>;

/**
 * Deploys the whole network in one Ignition module (NKMSNetwork: token, escrow, policy manager,
 * adjudicators and health check sharing ONE escrow, wired, every admin role handed to the timelock) plus the
 * directory checkpoint, and writes a deployed_addresses.json to `outFile`. (Deploying the modules
 * one by one would give each its own copy of the core contracts on an in-process chain.) A unique
 * deployment id keeps a rerun against a restarted `hardhat node` from resuming a stale journal;
 * that journal is removed after.
 */
export async function deployAll(hre: HardhatRuntimeEnvironment, outFile: string): Promise<NetworkAddresses & { directorySecret: Uint8Array }> {
  const deploymentId = `nkms-demo-${Date.now()}-${randomBytes(3).toString("hex")}`;
  // The directory's ML-DSA-44 seed (on chain: SHA-256 of its public key); its operator (who
  // checkpoints) is the deployer, account 0.
  const directorySecret = new Uint8Array(randomBytes(32));
  const directoryKey = directoryKeyBytes32(publicKeyOf(directorySecret));
  // One confirmation: on a chain with timed blocks Ignition's default (5 blocks per batch) only waits.
  const options = { deploymentId, displayUi: false, parameters: { DirectoryCheckpoint: { directoryKey } }, config: { requiredConfirmations: 1 } };
  try {
    const network = await hre.ignition.deploy(NetworkModule, options);
    const directory = await hre.ignition.deploy(DirectoryModule, options);
    const addresses: DeployedAddresses = {
      "NKMS#NKMSToken": await network.token.getAddress(),
      "NKMS#StakingEscrow": await network.escrow.getAddress(),
      "Policy#PolicyManager": await network.policyManager.getAddress(),
      "Adjudicator#Adjudicator": await network.adjudicator.getAddress(),
      "Adjudicator#LeakAdjudicator": await network.leakAdjudicator.getAddress(),
      "NKMSHealth#HealthCheck": await network.health.getAddress(),
      "DirectoryCheckpoint#DirectoryCheckpoint": await directory.checkpoint.getAddress(),
    };
    fs.mkdirSync(path.dirname(outFile), { recursive: true });
    fs.writeFileSync(outFile, JSON.stringify(addresses, null, 2) + "\n");
    return {
      token: addresses["NKMS#NKMSToken"],
      stakingEscrow: addresses["NKMS#StakingEscrow"],
      policyManager: addresses["Policy#PolicyManager"],
      adjudicator: addresses["Adjudicator#Adjudicator"],
      directoryCheckpoint: addresses["DirectoryCheckpoint#DirectoryCheckpoint"],
      directorySecret,
    };
  } finally {
    fs.rmSync(path.join(hre.config.paths.root, "ignition", "deployments", deploymentId), { recursive: true, force: true });
  }
}

export interface StakedNode {
  staker: Wallet;
  operator: Wallet;
}

/** ETH each fresh account gets for gas (stakers: stake, bond, fee rate; operators: registration, health duty). */
export const GAS_MONEY = 10n ** 17n * 5n; // 0.5 ETH

/**
 * Sends ETH (and NKMS when `tokens` > 0) from `funder` to each of `to`: the demo and the tests
 * need no account but the chain's first one, so they run on any chain with a funded account.
 * The transactions go out back to back and are awaited together (one or two blocks on a chain
 * with timed blocks, not one per transfer).
 */
export async function fundAccounts(contracts: Contracts, funder: Signer, to: string[], tokens = 0n, eth = GAS_MONEY): Promise<void> {
  const sent: { wait(): Promise<unknown> }[] = [];
  for (const address of to) {
    sent.push(await funder.sendTransaction({ to: address, value: eth }));
    if (tokens > 0n) sent.push(await contracts.token.connect(funder).transfer(address, tokens));
  }
  await Promise.all(sent.map((t) => t.wait()));
}

/** Funds each staker from the deployer (its NKMS; ETH for gas with `gas`, and its operator's ETH),
 * stakes (permit), proposes its operator (the bond takes effect when the node agent registers at
 * startup) and enrolls it at `feeRate`. */
export async function stakeNodes(
  contracts: Contracts,
  deployer: Signer,
  nodes: StakedNode[],
  options: { amount?: bigint; lockPeriods?: number; feeRate?: bigint; gas?: boolean } = {},
): Promise<void> {
  const amount = options.amount ?? 150_000n * TOKEN;
  if (options.gas) {
    await fundAccounts(contracts, deployer, nodes.map((n) => n.staker.address), amount);
    await fundAccounts(contracts, deployer, nodes.map((n) => n.operator.address));
  } else {
    for (const n of nodes) {
      await send("fund staker", () => contracts.token.connect(deployer).transfer(n.staker.address, amount));
    }
  }
  // Different stakers send from different accounts: their transactions can go in parallel.
  await Promise.all(
    nodes.map(async (n) => {
      await stake(contracts, n.staker, amount, options.lockPeriods ?? 52);
      await bondOperator(contracts, n.staker, n.operator.address);
      await setMinFeeRate(contracts, n.staker, options.feeRate ?? TOKEN / 100n);
    }),
  );
}

export function connectAt(rpcUrl: string, addresses: NetworkAddresses): { contracts: Contracts; provider: ReturnType<typeof makeProvider> } {
  const provider = makeProvider(rpcUrl);
  return { contracts: connectContracts(addresses, provider), provider };
}

export const TEST_PASSWORD = "correct horse battery staple";

/** Writes an operator keystore (cheap scrypt: demo/tests only) and a node config in `dir`. */
export async function writeNodeFiles(dir: string, operator: Wallet, rpcUrl: string, deploymentFile: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const keystore = path.join(dir, "operator.json");
  if (!fs.existsSync(keystore)) await createKeystore(keystore, TEST_PASSWORD, operator.privateKey, { scryptN: 1024, unsafeTestMode: true });
  const config = path.join(dir, "node-config.json");
  fs.writeFileSync(
    config,
    JSON.stringify({ keystorePath: keystore, dataDir: path.join(dir, "data"), port: 0, rpcUrl, workers: 1, logLevel: "warn", revocationPollMs: 500 }),
  );
  return config;
}

export interface NodeProcess {
  proc: ChildProcess;
  url: string;
  staker: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `nkms node run` (src/cli/main.ts) as its own process and waits for its "listening" line. */
export async function spawnNode(config: string, deploymentFile: string, timeoutMs = 120_000): Promise<NodeProcess> {
  const proc = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src/cli/main.ts"), "--deployment", deploymentFile, "node", "run", "--config", config], {
    cwd: ROOT,
    env: { ...process.env, NKMS_KEYSTORE_PASSWORD: TEST_PASSWORD },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const line = await new Promise<{ url: string; staker: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node agent did not start: ${err}`)), timeoutMs);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`node agent exited ${code}: ${err}`));
    };
    proc.once("exit", onExit);
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const hit = out.split("\n").find((l) => l.includes('"listening"'));
      if (hit) {
        clearTimeout(timer);
        proc.off("exit", onExit);
        resolve(JSON.parse(hit) as { url: string; staker: string });
      }
    });
  });
  return {
    proc,
    url: line.url,
    staker: line.staker,
    stop: (signal = "SIGTERM") =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill(signal);
      }),
  };
}
