// Review (health): front-running the checker's probe transactions (a public mempool; here Anvil
// with interval mining paused while a probe transaction is pending, the other party's
// transaction sent with a higher tip, then one block mined).
//
// 1. Anyone can make honest checkers vote an honest node down. The probe's last step revokes the
//    check policy at the node, confirms the node refuses it, and relays the owner's EIP-712
//    revocation on-chain (revokeWithSignature). That signature is public once the transaction
//    is pending: an outsider relaying it first makes the checker's own transaction revert, and
//    the probe counted that revert as the target failing the "revoke" check: unhealthy.
// 2. A target can make every checker sit the whole round out. When the target raises its fee
//    rate between the checker's read of it and its hire (createPolicy / createProbePolicy), the
//    hire reverts FeeRateTooLow and the probe counted that as its own failure ("could not pay":
//    inconclusive), so the target looked healthy without a proof of contact, and the duty then
//    does not vote in the round at all (duty.ts): a node that refuses kfrags or serves wrong cfrags
//    escapes judgement, and so does every other target of the round. One transaction per probe.
//    An honest node that changes its rate once during a probe must still pass.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ethers } from "hardhat";
import type { ContractTransactionResponse, JsonRpcProvider, Wallet } from "ethers";
import { TargetProber, type ProbeReport } from "../../src/node/health/probe";
import { TxQueue } from "../../src/node/health/tx-queue";
import { summarize } from "../../src/node/health/duty";
import { TOKEN, setupNode, type Network } from "../node/helpers";
import { deployExternal, spawnAgent, startAnvil, writeOperatorKeystore, type AgentProcess } from "../node/multiproc";

class MemorySettings {
  private readonly m = new Map<string, string>();
  getSetting(k: string): string | undefined {
    return this.m.get(k);
  }
  setSetting(k: string, v: string): void {
    this.m.set(k, v);
  }
}

type Attack = (pending: ContractTransactionResponse) => Promise<void>;

/** The checker's transaction queue, with mining paused while each transaction is pending so that
 * `attack` can place a transaction before it (higher tip, same block). */
class FrontRunQueue extends TxQueue {
  attack: Attack = async () => undefined;
  constructor(private readonly provider: JsonRpcProvider) {
    super();
  }
  override send(build: () => Promise<ContractTransactionResponse>): Promise<string> {
    return super.send(async () => {
      await this.provider.send("evm_setIntervalMining", [0]);
      try {
        const tx = await build();
        await this.attack(tx);
        await this.provider.send("evm_mine", []);
        return tx;
      } finally {
        await this.provider.send("evm_setIntervalMining", [1]);
      }
    });
  }
}

const TIP = { maxPriorityFeePerGas: 100n * 10n ** 9n, maxFeePerGas: 300n * 10n ** 9n, gasLimit: 1_000_000n };

describe("review: front-running the checker's probe transactions", function () {
  this.timeout(600_000);
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let dir: string;
  let net: Network & { wallets: Wallet[] };
  const agents: AgentProcess[] = [];
  let nodeA: string;
  let stub: string;
  const checkers: { staker: string; operator: Wallet }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nkms-frontrun-"));
    chain = await startAnvil({ blockTime: 1 });
    net = await deployExternal(chain.provider);
    await setupNode(net, net.wallets[1], 2, chain.provider);
    nodeA = await net.wallets[1].getAddress();
    // Three checker identities (staked nodes without agents), one per test: a probe slot is
    // once per (round, checker, target).
    for (const [staker, operator] of [[3, 4], [5, 6], [7, 8]]) {
      await setupNode(net, net.wallets[staker], operator, chain.provider);
      await (await net.core.token.connect(net.core.deployer).transfer(net.wallets[operator].address, 100n * TOKEN)).wait();
      checkers.push({ staker: net.wallets[staker].address, operator: net.wallets[operator] });
    }
    const stubContract = await (await ethers.getContractFactory("ProbeAssignmentsStub", net.wallets[0])).deploy();
    await stubContract.waitForDeployment();
    stub = await stubContract.getAddress();
    await (await net.policyManager.connect(net.core.deployer).setHealthCheck(stub)).wait();
    mkdirSync(join(dir, "a"));
    const files = await writeOperatorKeystore(join(dir, "a"), 2);
    agents.push(await spawnAgent(files, chain.url, net, { NKMS_NODE_WORKERS: "1", NKMS_HEALTH_CHECK: stub, NKMS_HEALTH_POLL_MS: "60000" }));
  });

  after(async () => {
    for (const a of agents) await a.stop("SIGKILL");
    await chain?.provider.send("evm_setIntervalMining", [1]).catch(() => undefined);
    await chain?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function probeAs(checker: { staker: string; operator: Wallet }, attack: Attack): Promise<ProbeReport> {
    const txs = new FrontRunQueue(chain.provider);
    txs.attack = attack;
    const prober = new TargetProber({
      provider: chain.provider,
      payer: checker.operator,
      txs,
      policyManager: net.policyManagerAddress,
      stakingEscrow: net.core.escrowAddress,
      settings: new MemorySettings(),
      timeoutMs: 5000,
      budgetMs: 40_000,
    });
    const latest = await chain.provider.getBlock("latest");
    const genesis = await (await ethers.getContractAt("ProbeAssignmentsStub", stub, net.wallets[0])).genesis();
    const round = (BigInt(latest!.timestamp) - genesis) / 7200n + 1n;
    const r = await prober.probe(nodeA, undefined, { healthCheck: stub, round, checker: checker.staker });
    console.log(`      healthy=${r.healthy} contact=${r.contact ? "yes" : "no"} ${summarize(r).slice(0, 500)}`);
    return r;
  }

  const selector = (name: "createPolicy" | "createProbePolicy" | "revokeWithSignature") => net.policyManager.interface.getFunction(name).selector;

  it("attack: an outsider relaying the checker's revocation signature first does not make the checker vote an honest node unhealthy", async () => {
    const outsider = net.wallets[12];
    let relayed = 0;
    const r = await probeAs(checkers[0], async (pending) => {
      if (!pending.data.startsWith(selector("revokeWithSignature"))) return;
      await outsider.sendTransaction({ to: pending.to!, data: pending.data, ...TIP });
      relayed++;
    });
    // Relayable only while the probe revokes by signature (a throwaway owner); once the payer owns
    // the policy it revokes it directly and there is nothing to relay.
    expect(relayed).to.be.at.most(1);
    expect(r.healthy, summarize(r)).to.equal(true);
    expect(r.contact, "proof of contact").to.match(/^0x[0-9a-f]{130}$/);
  });

  it("attack: a target that raises its fee rate ahead of every hire is judged (unhealthy), not left unjudged with the checker sitting the round out", async () => {
    const staker = net.wallets[1];
    let raised = 0;
    const r = await probeAs(checkers[1], async (pending) => {
      if (!pending.data.startsWith(selector("createPolicy")) && !pending.data.startsWith(selector("createProbePolicy"))) return;
      const [, minFeeRate] = await net.policyManager.nodeFees(nodeA);
      await staker.sendTransaction({ to: net.policyManagerAddress, data: net.policyManager.interface.encodeFunctionData("setMinFeeRate", [minFeeRate + 1n]), ...TIP });
      raised++;
    });
    expect(raised, "the target front-ran the hires").to.be.greaterThan(0);
    // Healthy without a proof makes the duty sit the whole round out: the target must be judged.
    expect(r.healthy && !r.contact, `left unjudged: ${summarize(r)}`).to.equal(false);
  });

  it("an honest node that changes its fee rate once while it is probed still passes, with its proof of contact", async () => {
    const staker = net.wallets[1];
    let raised = 0;
    const r = await probeAs(checkers[2], async (pending) => {
      if (raised > 0) return;
      if (!pending.data.startsWith(selector("createPolicy")) && !pending.data.startsWith(selector("createProbePolicy"))) return;
      const [, minFeeRate] = await net.policyManager.nodeFees(nodeA);
      await staker.sendTransaction({ to: net.policyManagerAddress, data: net.policyManager.interface.encodeFunctionData("setMinFeeRate", [minFeeRate + 1n]), ...TIP });
      raised++;
    });
    expect(raised).to.equal(1);
    expect(r.healthy, summarize(r)).to.equal(true);
    expect(r.contact, "proof of contact").to.match(/^0x[0-9a-f]{130}$/);
  });
});
