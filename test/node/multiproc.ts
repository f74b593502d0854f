import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ethers } from "hardhat";
import { JsonRpcProvider, type Wallet } from "ethers";
import { createKeystore } from "../../src/node/keys";
import { listenPort } from "../shared/ports";
import { DEFAULT_CORE_PARAMS, type Core } from "../shared/core-fixture";
import type { NKMSToken, PolicyManager, StakingEscrow } from "../../typechain-types";
import { HARDHAT_MNEMONIC, TOKEN, accountWallet, type Network } from "./helpers";

const ROOT = join(__dirname, "..", "..");

/** A free port for a server started in another process (below the ephemeral range: see ports.ts). */
export function freePort(): Promise<number> {
  return listenPort();
}

export interface Child {
  proc: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function stopper(proc: ChildProcess): Child["stop"] {
  return (signal = "SIGTERM") =>
    new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once("exit", () => resolve());
      proc.kill(signal);
    });
}

/** `npx hardhat node` on a free port, as a child process; resolves once it answers JSON-RPC. */
export async function startHardhatNode(): Promise<Child & { url: string; provider: JsonRpcProvider }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [require.resolve("hardhat/internal/cli/cli"), "node", "--port", String(port), "--hostname", "127.0.0.1"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  proc.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  while (!output.includes("Started HTTP")) {
    if (proc.exitCode !== null) throw new Error(`hardhat node exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`hardhat node did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const provider = new JsonRpcProvider(url, undefined, { batchMaxCount: 1, cacheTimeout: -1, pollingInterval: 50 });
  return { proc, url, provider, stop: stopper(proc) };
}

/** Token, escrow and PolicyManager deployed on an external chain, shaped like the in-process Network. */
export async function deployExternal(provider: JsonRpcProvider): Promise<Network & { wallets: Wallet[] }> {
  const wallets = Array.from({ length: 20 }, (_, i) => accountWallet(i).connect(provider));
  const deployer = wallets[0];
  const params = DEFAULT_CORE_PARAMS;
  const token = (await (await ethers.getContractFactory("NKMSToken", deployer)).deploy(params.initialSupply, params.cap)) as unknown as NKMSToken;
  await token.waitForDeployment();
  const tokenAddress = await token.getAddress();
  const escrow = (await (await ethers.getContractFactory("StakingEscrow", deployer)).deploy(
    tokenAddress, params.secondsPerPeriod, params.minStake, params.maxStake, params.minLockPeriods, params.minBondSeconds, params.issuanceRate, params.slashingGracePeriods,
  )) as unknown as StakingEscrow;
  await escrow.waitForDeployment();
  const escrowAddress = await escrow.getAddress();
  await (await token.setMinter(escrowAddress)).wait();
  const policyManager = (await (await ethers.getContractFactory("PolicyManager", deployer)).deploy(
    escrowAddress, tokenAddress, deployer.address,
    { minFeeRate: TOKEN / 1000n, maxFeeRate: 1000n * TOKEN, quotaBase: 16, quotaPerTotal: 10_000n },
  )) as unknown as PolicyManager;
  await policyManager.waitForDeployment();
  const core = { token, escrow, tokenAddress, escrowAddress, deployer, accounts: wallets.slice(1), params } as unknown as Core;
  return { core, policyManager, policyManagerAddress: await policyManager.getAddress(), wallets };
}

export interface AgentProcess extends Child {
  url: string;
}

export interface AgentFiles {
  dir: string;
  keystore: string;
  password: string;
}

/** Writes the operator keystore (cheap scrypt: tests only). */
export async function writeOperatorKeystore(dir: string, operatorIndex: number): Promise<AgentFiles> {
  const keystore = join(dir, "operator.json");
  const password = "correct horse battery staple";
  await createKeystore(keystore, password, accountWallet(operatorIndex).privateKey, { scryptN: 1024, unsafeTestMode: true });
  return { dir, keystore, password };
}

/** Starts `nkms node run` (src/cli/main.ts) as a separate process and waits for its "listening" line. */
export interface SpawnOptions {
  /** Extra `node` arguments before the entry (e.g. `--import` of a test-support preload). */
  nodeArgs?: string[];
  /** Program to run instead of `nkms node run` (a test-support agent taking `--config FILE`). */
  entry?: string;
  /** Agent log level (default warn). */
  logLevel?: string;
  /** How long to wait for the agent's "listening" line (default 120 s). */
  startTimeoutMs?: number;
  /** Append the agent's stdout and stderr to this file (for a post-mortem). */
  logFile?: string;
}

export async function spawnAgent(files: AgentFiles, rpcUrl: string, net: Network, extraEnv: Record<string, string> = {}, opts: SpawnOptions = {}): Promise<AgentProcess> {
  const config = join(files.dir, "node-config.json");
  writeFileSync(
    config,
    JSON.stringify({
      keystorePath: files.keystore,
      dataDir: join(files.dir, "data"),
      port: 0,
      rpcUrl,
      stakingEscrow: net.core.escrowAddress,
      policyManager: net.policyManagerAddress,
      logLevel: opts.logLevel ?? "warn",
      revocationPollMs: 500,
    }),
  );
  const program = opts.entry ? [opts.entry, "--config", config] : [join(ROOT, "src/cli/main.ts"), "node", "run", "--config", config];
  const proc = spawn(process.execPath, ["--import", "tsx", ...(opts.nodeArgs ?? []), ...program], {
    cwd: ROOT,
    env: { ...process.env, NKMS_KEYSTORE_PASSWORD: files.password, ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  if (opts.logFile) {
    const sink = createWriteStream(opts.logFile, { flags: "a" });
    proc.stdout!.on("data", (d: Buffer) => sink.write(d));
    proc.stderr!.on("data", (d: Buffer) => sink.write(d));
    proc.once("exit", () => sink.end());
  }
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start: ${err}`)), opts.startTimeoutMs ?? 120_000);
    let listening = false;
    proc.stdout!.on("data", (d: Buffer) => {
      if (listening) return; // a long-running agent's output is not kept in memory
      out += d.toString();
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line) {
        listening = true;
        clearTimeout(timer);
        resolve(JSON.parse(line).url as string);
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited ${code}: ${err}`));
    });
  });
  return { proc, url, stop: stopper(proc) };
}

/**
 * The `anvil` binary that `@foundry-rs/anvil` ships in its per-platform package. Its postinstall is
 * disabled (package.json allowScripts), so the binary is found here directly; a missing binary
 * fails the test that needs it rather than skipping it.
 */
export function anvilBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
  let dir: string;
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(`${pkg} is not installed: run \`npm ci\` (it is an optional dependency of the devDependency @foundry-rs/anvil)`);
  }
  const bin = join(dir, "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
  if (!existsSync(bin)) throw new Error(`anvil binary missing at ${bin}`);
  return bin;
}

/**
 * Foundry's Anvil (a second EVM implementation) on a free port, mining a block every
 * `blockTime` seconds (timed blocks, like a testnet) with `accounts` funded accounts from the
 * same mnemonic as Hardhat's.
 */
export async function startAnvil(options: { blockTime?: number; accounts?: number } = {}): Promise<Child & { url: string; provider: JsonRpcProvider }> {
  const port = await freePort();
  const proc = spawn(
    anvilBinary(),
    ["--port", String(port), "--host", "127.0.0.1", "--block-time", String(options.blockTime ?? 1), "--accounts", String(options.accounts ?? 20), "--mnemonic", HARDHAT_MNEMONIC],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  proc.stdout!.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  proc.stderr!.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (!output.includes("Listening on")) {
    if (proc.exitCode !== null) throw new Error(`anvil exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`anvil did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const provider = new JsonRpcProvider(url, undefined, { batchMaxCount: 1, cacheTimeout: -1, pollingInterval: 100 });
  return { proc, url, provider, stop: stopper(proc) };
}
