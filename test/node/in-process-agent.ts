// The node agent's real parts (NodeService over fastify, worker-thread pool, SQLite store, chain
// binding on the test's Hardhat chain) wired in this process, for tests that need the agent's
// code path without spawning `nkms node run`.
import { ethers } from "hardhat";
import { join } from "node:path";
import pino from "pino";
import type { FastifyInstance } from "fastify";
import { addressBytes } from "../../src/node/bytes";
import { EthersNodeChain } from "../../src/node/chain";
import { buildHttpServer, type HttpOptions } from "../../src/node/http";
import type { NodeChain } from "../../src/node/chain-types";
import { NodeService } from "../../src/node/service";
import { NodeStore } from "../../src/node/store";
import { ReencryptPool } from "../../src/node/worker-pool";
import type { Network, TestNode } from "./helpers";

export interface InProcessAgent {
  app: FastifyInstance;
  service: NodeService;
  store: NodeStore;
  pool: ReencryptPool;
  close(): Promise<void>;
}

export interface InProcessAgentOptions {
  /** Defaults to the real binding over the Hardhat provider. */
  chain?: NodeChain;
  /** How long a chain read may take before requests get 503 CHAIN_UNAVAILABLE. */
  chainTimeoutMs?: number;
  /** Overrides of the HTTP server's limits (timeouts, connection cap). */
  http?: Partial<Omit<HttpOptions, "logger">>;
  workers?: number;
  maxBatch?: number;
  bodyLimit?: number;
  /** Proof of contact for health probes (NodeService's `healthContact` option). */
  healthContact?: { healthCheck: string; currentRound: () => Promise<bigint> };
}

export function chainBinding(net: Network): EthersNodeChain {
  return new EthersNodeChain(ethers.provider, { stakingEscrow: net.core.escrowAddress, policyManager: net.policyManagerAddress });
}

/** Starts `node`'s agent with its SQLite file in `dir`; the fastify app is ready (not listening). */
export async function startInProcessAgent(net: Network, node: TestNode, dir: string, options: InProcessAgentOptions = {}): Promise<InProcessAgent> {
  const silent = pino({ level: "silent" });
  const store = NodeStore.open(join(dir, `${node.operator.address}.sqlite`), node.keys.atRestKey, addressBytes(node.operator.address));
  const pool = new ReencryptPool({ stampSecret: node.keys.stampSecret.toBEBytes() }, { size: options.workers ?? 2, maxQueuedCapsules: 512 });
  const service = new NodeService(node.keys, node.staker.address, "http://test", store, pool, options.chain ?? chainBinding(net), silent, {
    maxClockSkewSeconds: 300,
    maxBatch: options.maxBatch ?? 64,
    chainTimeoutMs: options.chainTimeoutMs,
    healthContact: options.healthContact,
  });
  const app = buildHttpServer(service, { bodyLimit: options.bodyLimit ?? 64 * 1024, ...options.http, logger: silent });
  await app.ready();
  return {
    app,
    service,
    store,
    pool,
    close: async () => {
      await app.close();
      await pool.close();
      store.close();
    },
  };
}
