// Review (health): the duty gives all of a round's probes one deadline, at most PROBE_BUDGET_MS
// (60 s) away, while every probe's transactions (approve, kept policy, probe policy, revocation)
// go one at a time through the checker's single transaction queue, each waiting for its block.
// With a real block time and several targets the queue alone outlasts the deadline, and a probe
// whose payment is mined after it gets no retry at all: the honest node's RPC, one block behind,
// answers the kfrag upload 404 UNKNOWN_POLICY once, and that single answer is "kfrag refused":
// unhealthy. (Mainnet: 12 s blocks and 32 targets, about 100 queued transactions, ~20 minutes;
// here 3 s blocks and 8 probes of one honest node sharing the queue, as the duty's probes do.)
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Wallet } from "ethers";
import { TargetProber } from "../../src/node/health/probe";
import { TxQueue } from "../../src/node/health/tx-queue";
import { COMMIT_MARGIN_MS, probeDeadline, summarize } from "../../src/node/health/duty";
import { TOKEN, setupNode, type Network } from "../node/helpers";
import { deployExternal, spawnAgent, startAnvil, writeOperatorKeystore, type AgentProcess } from "../node/multiproc";
import { LaggingRpc } from "../support/lagging-rpc";

class MemorySettings {
  private readonly m = new Map<string, string>();
  getSetting(k: string): string | undefined {
    return this.m.get(k);
  }
  setSetting(k: string, v: string): void {
    this.m.set(k, v);
  }
}

describe("review: the checker's own transaction queue does not eat a target's retries", function () {
  this.timeout(600_000);
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let dir: string;
  let net: Network & { wallets: Wallet[] };
  let lagging: LaggingRpc;
  let agent: AgentProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nkms-deadline-"));
    chain = await startAnvil({ blockTime: 3 });
    net = await deployExternal(chain.provider);
    lagging = await LaggingRpc.start(chain.url, 0);
    await setupNode(net, net.wallets[1], 2, chain.provider);
    mkdirSync(join(dir, "a"));
    agent = await spawnAgent(await writeOperatorKeystore(join(dir, "a"), 2), lagging.url, net, { NKMS_NODE_WORKERS: "1" });
  });

  after(async () => {
    await agent?.stop("SIGKILL");
    await lagging?.close();
    await chain?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("eight probes sharing the queue under the duty's deadline judge an honest node with an RPC one block behind healthy", async () => {
    const payer = net.wallets[10];
    await (await net.core.token.connect(net.core.deployer).transfer(payer.address, 1_000n * TOKEN)).wait();
    const prober = new TargetProber({
      provider: chain.provider,
      payer,
      txs: new TxQueue(),
      policyManager: net.policyManagerAddress,
      stakingEscrow: net.core.escrowAddress,
      settings: new MemorySettings(),
      timeoutMs: 5000,
    });
    lagging.lag = 1;
    // What duty.ts gives its probes at the start of a 2-hour commit window (the default; it was
    // Date.now() + PROBE_BUDGET_MS, 60 s).
    const deadline = probeDeadline(2 * 3600_000 - COMMIT_MARGIN_MS);
    const started = Date.now();
    const reports = await Promise.all(Array.from({ length: 8 }, () => prober.probe(net.wallets[1].address, deadline)));
    console.log(`      ${Math.round((Date.now() - started) / 1000)} s for 8 probes`);
    for (const r of reports) console.log(`      healthy=${r.healthy} ${summarize(r).slice(0, 240)}`);
    expect(reports.filter((r) => !r.healthy).map(summarize)).to.deep.equal([]);
  });
});
