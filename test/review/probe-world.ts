// A live network for probe reviews: Anvil with 1 s blocks, the NKMS contracts, staked and
// registered nodes, a ProbeAssignmentsStub as the PolicyManager's health check (every probe is
// assigned), and real agents for the targets. Checkers are probers built in the test process.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ethers } from "hardhat";
import type { Wallet } from "ethers";
import { TargetProber, type ProbeAssignment } from "../../src/node/health/probe";
import { TxQueue } from "../../src/node/health/tx-queue";
import { setupNode, type Network } from "../node/helpers";
import { deployExternal, spawnAgent, startAnvil, writeOperatorKeystore, type AgentProcess } from "../node/multiproc";

export interface ProbeWorld {
  chain: Awaited<ReturnType<typeof startAnvil>>;
  net: Network & { wallets: Wallet[] };
  /** The ProbeAssignmentsStub's address. */
  stub: string;
  /** The checker's prober, as the duty builds it (default cap and kept periods), no kept state. */
  prober(checker: Wallet, budgetMs?: number): TargetProber;
  /** An assignment of the stub's current round to `checkerStaker`. */
  assignment(checkerStaker: string): Promise<ProbeAssignment>;
  stop(): Promise<void>;
}

/**
 * Stakes `[staker wallet, operator wallet]` pairs for `targets` (each with an agent) and `checkers`
 * (no agent), in that order.
 */
export async function startProbeWorld(targets: Array<[number, number]>, checkers: Array<[number, number]>): Promise<ProbeWorld> {
  const dir = mkdtempSync(join(tmpdir(), "nkms-probe-world-"));
  const chain = await startAnvil({ blockTime: 1 });
  const agents: AgentProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const a of agents) await a.stop("SIGKILL");
    await chain.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const net = await deployExternal(chain.provider);
    for (const [staker, operator] of [...targets, ...checkers]) await setupNode(net, net.wallets[staker], operator, chain.provider);
    const stubContract = await (await ethers.getContractFactory("ProbeAssignmentsStub", net.wallets[0])).deploy();
    await stubContract.waitForDeployment();
    const stub = await stubContract.getAddress();
    await (await net.policyManager.connect(net.core.deployer).setHealthCheck(stub)).wait();
    for (const [, operator] of targets) {
      const home = join(dir, `op${operator}`);
      mkdirSync(home);
      agents.push(await spawnAgent(await writeOperatorKeystore(home, operator), chain.url, net, { NKMS_NODE_WORKERS: "1", NKMS_HEALTH_CHECK: stub, NKMS_HEALTH_POLL_MS: "60000" }));
    }
    return {
      chain,
      net,
      stub,
      prober: (checker, budgetMs = 40_000) =>
        new TargetProber({
          provider: chain.provider,
          payer: checker,
          txs: new TxQueue(),
          policyManager: net.policyManagerAddress,
          stakingEscrow: net.core.escrowAddress,
          settings: { getSetting: () => undefined, setSetting: () => undefined },
          timeoutMs: 5000,
          budgetMs,
        }),
      async assignment(checkerStaker) {
        const latest = await chain.provider.getBlock("latest");
        const genesis = await stubContract.genesis();
        return { healthCheck: stub, round: (BigInt(latest!.timestamp) - genesis) / 7200n + 1n, checker: checkerStaker };
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
