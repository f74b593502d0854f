import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import type { FastifyInstance } from "fastify";
import { addressBytes, toHex } from "./bytes";
import { EthersNodeChain, makeProvider } from "./chain";
import type { NodeConfig } from "./config";
import { buildHttpServer } from "./http";
import { deriveNodeKeys, loadKeystore, promptPassword } from "./keys";
import { NodeService } from "./service";
import { NodeStore } from "./store";
import { ReencryptPool } from "./worker-pool";
import { startHealthDuty, type ProbeFn } from "./health/duty";
import { healthContract, roundAt, type RoundTiming } from "./health/contracts";
import { signKeyProof } from "./registration";
import { lockDataDir } from "./lock";
import { challengeEndpoint } from "./operator-challenge";
import { formatEther, type Wallet } from "ethers";

/** Gas assumed for registerNode when the node cannot estimate it (measured ~200k with a new stamp key). */
const REGISTER_GAS_FALLBACK = 300_000n;

/**
 * Refuses to start (NO_ETH), in one line saying how much to send, when the operator's hot key
 * cannot pay the registration: without this the agent died in ethers' INSUFFICIENT_FUNDS error
 * with the whole raw transaction in it.
 */
export async function requireRegistrationGas(
  chain: EthersNodeChain,
  operator: Wallet,
  registerArgs: readonly [string, string, string, string, string],
): Promise<void> {
  const balance = await chain.provider.getBalance(operator.address);
  let gas = REGISTER_GAS_FALLBACK;
  try {
    gas = await chain.staking.registerNode.estimateGas(...registerArgs, { from: operator.address });
  } catch {
    // A revert shows up, decoded, when the registration itself is sent; price the fallback.
  }
  const fees = await chain.provider.getFeeData();
  const price = fees.maxFeePerGas ?? fees.gasPrice ?? 0n;
  const need = gas * price;
  if (balance >= need) return;
  // Ask for twice the estimate: the fee may rise, and health-check duty spends gas too.
  const ask = formatEther(need * 2n - balance);
  throw new StartupError(
    "NO_ETH",
    `operator ${operator.address} holds ${formatEther(balance)} ETH but registering the node needs about ${formatEther(need)} ETH (${gas} gas): ` +
      `send it at least ${ask} ETH, e.g. \`npx hardhat nkms:transfer --to ${operator.address} --eth ${ask} --network <network>\``,
  );
}

/** Gas of one health-check round's votes, rounded up: commit ~60k + a reveal carrying a proof of
 * contact per healthy target (~13.4k each; 32 healthy targets: ~501k, bench/results/gas.json). */
const ROUND_VOTE_GAS = 600_000n;

/**
 * A node whose registration is already current sends no transaction at start, so an empty hot
 * key would only show when its first health-check vote fails: say so in one line at start.
 * Returns the warning (undefined when the key can pay two rounds of votes).
 */
export async function lowGasWarning(chain: EthersNodeChain, operator: Wallet): Promise<string | undefined> {
  const balance = await chain.provider.getBalance(operator.address);
  const fees = await chain.provider.getFeeData();
  const need = 2n * ROUND_VOTE_GAS * (fees.maxFeePerGas ?? fees.gasPrice ?? 0n);
  if (balance >= need) return undefined;
  const ask = formatEther(need - balance);
  return (
    `operator ${operator.address} holds ${formatEther(balance)} ETH: health-check votes need about ${formatEther(need / 2n)} ETH a round; ` +
    `send at least ${ask} ETH, e.g. \`npx hardhat nkms:transfer --to ${operator.address} --eth ${ask} --network <network>\``
  );
}

export class StartupError extends Error {
  constructor(
    readonly code: "NOT_BONDED" | "AMBIGUOUS_BOND" | "NOT_STAKED" | "KEYSTORE" | "RPC" | "NO_ETH" | "DATA_DIR_BUSY" | "PORT_IN_USE" | "ENDPOINT_LIVE",
    message: string,
  ) {
    super(message);
    this.name = "StartupError";
  }
}

export interface RunningNode {
  /** Where the HTTP API listens. */
  url: string;
  /** The endpoint registered on-chain. */
  endpoint: string;
  staker: string;
  operator: string;
  service: NodeService;
  store: NodeStore;
  http: FastifyInstance;
  close(): Promise<void>;
}

async function resolvePassword(config: NodeConfig): Promise<string> {
  if (config.password !== undefined) return config.password;
  if (process.env.NKMS_KEYSTORE_PASSWORD !== undefined) return process.env.NKMS_KEYSTORE_PASSWORD;
  return promptPassword("Operator keystore password: ");
}

/**
 * The staker whose pending bond proposal this operator accepts: `config.staker` when given (it
 * must have proposed this operator), else the only staker with a pending proposal to it.
 */
export async function pendingStaker(
  chain: Pick<EthersNodeChain, "proposedStakers">,
  operator: string,
  config: Pick<NodeConfig, "staker">,
): Promise<string> {
  const proposed = await chain.proposedStakers(operator);
  if (config.staker !== undefined) {
    const wanted = proposed.find((s) => s.toLowerCase() === config.staker!.toLowerCase());
    if (!wanted) throw new StartupError("NOT_BONDED", `staker ${config.staker} has not proposed operator ${operator} (nkms stake bond ${operator})`);
    return wanted;
  }
  if (proposed.length === 0) throw new StartupError("NOT_BONDED", `operator ${operator} is not bonded to a staker`);
  if (proposed.length > 1) {
    throw new StartupError("AMBIGUOUS_BOND", `several stakers proposed operator ${operator} (${proposed.join(", ")}); set the staker to serve (NKMS_NODE_STAKER)`);
  }
  return proposed[0];
}

/**
 * Starts a node agent: unlocks the operator keystore, checks on-chain that the operator is bonded
 * and its staker has stake locked, opens the store, starts the worker pool and HTTP API, then
 * registers (or updates) the endpoint and Umbral keys on-chain when they changed.
 */
/** The HealthCheck's current round by the latest block's timestamp (its timing read once). */
function healthRoundReader(provider: import("ethers").Provider, address: string): () => Promise<bigint> {
  const hc = healthContract(address, provider);
  let timing: Promise<RoundTiming> | undefined;
  return async () => {
    timing ??= Promise.all([hc.genesis(), hc.commitDuration(), hc.revealDuration(), hc.openWindow()]).then(
      ([genesis, commitDuration, revealDuration, openWindow]) => ({ genesis, commitDuration, revealDuration, openWindow }) as RoundTiming,
    );
    timing.catch(() => (timing = undefined));
    const [t, block] = await Promise.all([timing, provider.getBlock("latest")]);
    return roundAt(t, BigInt(block?.timestamp ?? Math.floor(Date.now() / 1000)));
  };
}

export async function runNode(config: NodeConfig, opts: { logger?: Logger; /** Replaces the health probe (tests only). */ probe?: ProbeFn } = {}): Promise<RunningNode> {
  const log = opts.logger ?? pino({ level: config.logLevel, base: { svc: "nkms-node" } });
  let operator;
  try {
    operator = await loadKeystore(config.keystorePath, await resolvePassword(config));
  } catch (e) {
    throw new StartupError("KEYSTORE", `cannot unlock ${config.keystorePath}: ${(e as Error).message}`);
  }
  const keys = deriveNodeKeys(operator);
  const provider = makeProvider(config.rpcUrl);
  const chain = new EthersNodeChain(provider, config);
  const cleanup: (() => Promise<void> | void)[] = [() => provider.destroy()];
  const closeAll = async () => {
    for (const c of cleanup.reverse()) await c();
  };

  // One agent per data dir, taken before anything else: a second agent must not touch the store.
  // A data dir this start creates is removed again if the start fails (no empty database left).
  const existed = existsSync(config.dataDir);
  const freshDir = !existed || readdirSync(config.dataDir).length === 0;
  const lock = lockDataDir(config.dataDir);
  if (!lock) {
    provider.destroy();
    throw new StartupError("DATA_DIR_BUSY", `data dir ${config.dataDir} is in use by another node agent (it holds ${join(config.dataDir, "agent.lock")}): stop it, or give this one another --data-dir`);
  }
  cleanup.push(() => lock.release());
  let started = false;
  cleanup.push(() => {
    if (!started && freshDir) {
      // What this start created goes; an empty directory the operator made stays.
      if (existed) for (const f of readdirSync(config.dataDir)) rmSync(join(config.dataDir, f), { recursive: true, force: true });
      else rmSync(config.dataDir, { recursive: true, force: true });
    }
  });

  try {
    let staker: string | undefined;
    try {
      staker = await chain.stakerOf(operator.address);
    } catch (e) {
      throw new StartupError("RPC", `cannot reach StakingEscrow at ${config.stakingEscrow} via ${config.rpcUrl}: ${(e as Error).message}`);
    }
    // Not bonded yet: a staker may have proposed this operator; registering for it bonds.
    const bonded = staker !== undefined;
    if (!staker) staker = await pendingStaker(chain, operator.address, config);
    if (!config.register && !bonded) {
      throw new StartupError("NOT_BONDED", `operator ${operator.address} is not bonded yet; run with registration enabled to accept ${staker}'s proposal`);
    }
    const locked = await chain.lockedNow(staker);
    if (locked === 0n) throw new StartupError("NOT_STAKED", `staker ${staker} has no stake locked`);

    mkdirSync(config.dataDir, { recursive: true });
    const store = NodeStore.open(join(config.dataDir, "node.sqlite"), keys.atRestKey, addressBytes(operator.address));
    cleanup.push(() => store.close());
    const pool = new ReencryptPool({ stampSecret: keys.stampSecret.toBEBytes() }, {
      size: config.workers,
      maxQueuedCapsules: config.maxQueuedCapsules,
    });
    cleanup.push(() => pool.close());

    // The endpoint is only known once listening (port 0), and the service needs it for status.
    let endpoint = config.publicUrl ?? "";
    const service = new NodeService(keys, staker, endpoint, store, pool, chain, log, {
      maxClockSkewSeconds: config.maxClockSkewSeconds,
      maxBatch: config.maxBatch,
      chainTimeoutMs: config.chainTimeoutMs,
      healthContact: config.healthCheck ? { healthCheck: config.healthCheck, currentRound: healthRoundReader(provider, config.healthCheck) } : undefined,
    });
    service.stake = locked.toString();
    const http = buildHttpServer(service, {
      bodyLimit: config.bodyLimit,
      logger: log,
      headersTimeoutMs: config.headersTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      maxConnections: config.maxConnections,
    });
    let url: string;
    try {
      url = await http.listen({ host: config.host, port: config.port });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") {
        throw new StartupError("PORT_IN_USE", `port ${config.port} on ${config.host} is already in use (another node agent?): stop it, or give this one another --port`);
      }
      throw e;
    }
    cleanup.push(() => http.close());
    endpoint = config.publicUrl ?? url;
    service.endpoint = endpoint;

    if (config.register) {
      const encryptingKey = toHex(keys.encryptingKey.toCompressedBytes());
      const verifyingKey = toHex(keys.stampKey.toCompressedBytes());
      const current = await chain.nodeInfo(staker);
      if (bonded && current.endpoint !== "" && current.endpoint !== endpoint) {
        // Another instance of this operator may be serving there: overwriting its endpoint would cut
        // clients off from it while it never notices. Only a dead or wrong answer lets us take over.
        const verdict = await challengeEndpoint(current.endpoint, operator.address);
        if (verdict.live) {
          throw new StartupError(
            "ENDPOINT_LIVE",
            `the on-chain endpoint ${current.endpoint} of staker ${staker} is live (it answered the operator challenge): another agent of operator ${operator.address} runs there; stop it first`,
          );
        }
        log.warn({ previous: current.endpoint, endpoint, reason: verdict.reason }, `taking over the on-chain endpoint from ${current.endpoint}: ${verdict.reason}`);
      }
      if (!bonded || current.endpoint !== endpoint || current.encryptingKey !== encryptingKey || current.verifyingKey !== verifyingKey) {
        const keyProof = signKeyProof(keys.stampSecret, {
          chainId: await chain.chainId(),
          escrow: config.stakingEscrow,
          staker,
          operator: operator.address,
        });
        await requireRegistrationGas(chain, operator, [staker, endpoint, encryptingKey, verifyingKey, toHex(keyProof)]);
        const tx = await chain.registerNode(operator, staker, endpoint, encryptingKey, verifyingKey, keyProof);
        log.info({ endpoint, tx, bonded: !bonded }, bonded ? "registered endpoint and keys on-chain" : "accepted the bond and registered on-chain");
      } else {
        log.info({ endpoint }, "on-chain registration is current");
        const warning = await lowGasWarning(chain, operator);
        if (warning) log.warn({ operator: operator.address }, warning);
      }
    }

    // Start watching revocations from now when the store has never scanned a block.
    if (store.getSetting("revocations.lastBlock") === undefined) {
      store.setSetting("revocations.lastBlock", String(await provider.getBlockNumber()));
    }
    let polling = false;
    const poll = async () => {
      if (polling) return;
      polling = true;
      try {
        await service.pollRevocations();
        service.stake = (await chain.lockedNow(staker!)).toString();
      } catch (e) {
        log.warn({ err: (e as Error).message }, "revocation poll failed");
      } finally {
        polling = false;
      }
    };
    const pollTimer = setInterval(poll, config.revocationPollMs);
    const sweepTimer = setInterval(() => service.sweep(), config.sweepIntervalMs);
    cleanup.push(() => {
      clearInterval(pollTimer);
      clearInterval(sweepTimer);
    });
    service.sweep();
    if (config.healthCheck) {
      const duty = startHealthDuty({
        provider,
        operator,
        staker,
        store,
        log,
        healthCheck: config.healthCheck,
        policyManager: config.policyManager,
        stakingEscrow: config.stakingEscrow,
        pollMs: config.healthPollMs,
        probeTimeoutMs: config.healthProbeTimeoutMs,
        probe: opts.probe,
      });
      cleanup.push(() => duty.stop());
    }
    log.info({ url, endpoint, staker, operator: operator.address, workers: pool.size }, "node agent running");

    started = true;
    let closed = false;
    return {
      url,
      endpoint,
      staker,
      operator: operator.address,
      service,
      store,
      http,
      close: async () => {
        if (closed) return;
        closed = true;
        await closeAll();
      },
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
