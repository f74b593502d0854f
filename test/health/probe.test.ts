// The checker's probe (src/node/health/probe.ts) against real node agents (child processes, real
// HTTP) on a chain that mines a block every second (Anvil). Every faulty behaviour is test
// support (test/support/): a reverse proxy in front of an honest agent, a JSON-RPC proxy that lags
// behind the chain, a preload that shifts an agent's clock. One agent ("A") sits behind the
// switchable fault proxy and reads the chain through the switchable lagging RPC; a second one
// ("S") runs with its clock one second ahead and no clock tolerance at all.
//
// What must hold (issue #16): a node that does not serve is judged unhealthy; an honest node under
// a lagging RPC, a clock one second off or a burst of load is not; filling an honest node's quota
// with paid policies (a third party can) does not make it unhealthy; a node that fills its own
// quota and answers only /v1/ping is unhealthy for an assigned checker (reserved probe capacity),
// and an honest one then hands that checker its proof of contact.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet, hexlify, randomBytes } from "ethers";
import { ethers } from "hardhat";
import { TargetProber, type ProbeReport } from "../../src/node/health/probe";
import { TxQueue } from "../../src/node/health/tx-queue";
import { summarize } from "../../src/node/health/duty";
import { TOKEN, setupNode, type Network } from "../node/helpers";
import { deployExternal, spawnAgent, startAnvil, writeOperatorKeystore, type AgentProcess } from "../node/multiproc";
import { FaultProxy } from "../support/fault-proxy";
import { LaggingRpc } from "../support/lagging-rpc";

const SKEW_PRELOAD = join(__dirname, "..", "support", "clock-skew.ts");

class MemorySettings {
  private readonly m = new Map<string, string>();
  getSetting(k: string): string | undefined {
    return this.m.get(k);
  }
  setSetting(k: string, v: string): void {
    this.m.set(k, v);
  }
}

describe("health: the probe against real agents (lag, skew, load, faults)", function () {
  this.timeout(600_000);
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let dir: string;
  let net: Network & { wallets: Wallet[] };
  let proxy: FaultProxy;
  let lagging: LaggingRpc;
  const agents: AgentProcess[] = [];
  let nodeA: string;
  let nodeS: string;
  let stub: string;
  let payer: Wallet;
  let settings: MemorySettings;
  let prober: TargetProber;

  const probe = async (target: string): Promise<ProbeReport> => {
    const r = await prober.probe(target);
    // Visible in the test log: what each check found.
    console.log(`      ${proxy.mode}: healthy=${r.healthy} ${summarize(r).slice(0, 400)}`);
    return r;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nkms-probe-"));
    chain = await startAnvil({ blockTime: 1 });
    net = await deployExternal(chain.provider);
    proxy = await FaultProxy.start("honest");
    lagging = await LaggingRpc.start(chain.url, 0);

    const a = await setupNode(net, net.wallets[1], 2, chain.provider);
    const s = await setupNode(net, net.wallets[3], 4, chain.provider);
    nodeA = await net.wallets[1].getAddress();
    nodeS = await net.wallets[3].getAddress();
    mkdirSync(join(dir, "a"));
    mkdirSync(join(dir, "s"));
    const filesA = await writeOperatorKeystore(join(dir, "a"), 2);
    const filesS = await writeOperatorKeystore(join(dir, "s"), 4);
    // Agent A answers for a HealthCheck stand-in (test support: every pair assigned), so it signs
    // proofs of contact; the PolicyManager reserves probe capacity for it.
    const stubContract = await (await ethers.getContractFactory("ProbeAssignmentsStub", net.wallets[0])).deploy();
    await stubContract.waitForDeployment();
    stub = await stubContract.getAddress();
    await (await net.policyManager.connect(net.core.deployer).setHealthCheck(stub)).wait();
    const [agentA, agentS] = await Promise.all([
      spawnAgent(filesA, lagging.url, net, { NKMS_NODE_PUBLIC_URL: proxy.url, NKMS_NODE_WORKERS: "1", NKMS_HEALTH_CHECK: stub, NKMS_HEALTH_POLL_MS: "60000" }),
      // One second ahead, and requests must carry the node's exact second.
      spawnAgent(filesS, chain.url, net, { NKMS_NODE_WORKERS: "1", NKMS_NODE_MAX_SKEW: "0", NKMS_TEST_CLOCK_SKEW_MS: "1000" }, { nodeArgs: ["--import", SKEW_PRELOAD] }),
    ]);
    agents.push(agentA, agentS);
    proxy.upstream = agentA.url;
    void a;
    void s;

    payer = net.wallets[10];
    await (await net.core.token.connect(net.core.deployer).transfer(payer.address, 1_000n * TOKEN)).wait();
    settings = new MemorySettings();
    prober = new TargetProber({
      provider: chain.provider,
      payer,
      txs: new TxQueue(),
      policyManager: net.policyManagerAddress,
      stakingEscrow: net.core.escrowAddress,
      settings,
      timeoutMs: 5000,
      budgetMs: 25_000,
    });
  });

  after(async () => {
    for (const a of agents) await a.stop("SIGKILL");
    await proxy?.close();
    await lagging?.close();
    await chain?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    proxy.mode = "honest";
    lagging.lag = 0;
  });

  it("judges an honest node healthy (and keeps a check policy for next time)", async () => {
    const r = await probe(nodeA);
    expect(r.healthy, summarize(r)).to.equal(true);
    expect(r.checks.find((c) => c.name === "fresh-requester")?.ok).to.equal(true);
    const again = await probe(nodeA);
    expect(again.checks.find((c) => c.name === "old-policy")?.ok, summarize(again)).to.equal(true);
  });

  it("does not judge an honest node unhealthy when its RPC lags 4 blocks behind (404 UNKNOWN_POLICY at first)", async () => {
    lagging.lag = 4;
    const r = await probe(nodeA);
    expect(r.healthy, summarize(r)).to.equal(true);
    expect(r.checks.find((c) => c.name === "create")?.ok).to.equal(true);
  });

  it("does not judge an honest node unhealthy through a burst of load (503 OVERLOADED, Retry-After)", async () => {
    proxy.mode = "burst-503";
    const before = proxy.seen.refusedForLoad;
    const r = await probe(nodeA);
    expect(proxy.seen.refusedForLoad, "the burst was hit").to.be.greaterThan(before);
    expect(r.healthy, summarize(r)).to.equal(true);
  });

  it("does not judge an honest node unhealthy whose load burst outlasts the checker's deadline after the revocation (503 to the revoked request is no re-encryption)", async () => {
    proxy.mode = "late-burst-503";
    proxy.burstMs = 60_000; // longer than the probe's whole budget
    try {
      const r = await probe(nodeA);
      expect(r.healthy, summarize(r)).to.equal(true);
      expect(r.checks.find((c) => c.name === "fresh-requester")?.ok, summarize(r)).to.equal(true);
      expect(r.checks.find((c) => c.name === "revoke")?.ok, summarize(r)).to.equal(null);
    } finally {
      proxy.burstMs = 3000;
      proxy.burstUntil = 0;
    }
  });

  it("does not judge an honest node unhealthy whose clock is one second ahead (401 STALE_REQUEST at first)", async () => {
    const r = await probe(nodeS);
    expect(r.healthy, summarize(r)).to.equal(true);
    expect(r.checks.find((c) => c.name === "fresh-requester")?.ok).to.equal(true);
  });

  for (const [mode, why] of [
    ["dead", /reachability|connection|fetch failed|socket|closed/i],
    ["always-503", /503/],
    ["bad-cfrag", /correctness proof/],
    ["malformed-cfrag", /malformed cfrag/],
    ["one-in-three", /correctness proof/],
    ["refuse-kfrag", /kfrag refused: 403/],
    ["ping-only", /404/],
  ] as const) {
    it(`judges a node unhealthy that is ${mode}`, async () => {
      proxy.mode = mode;
      const r = await probe(nodeA);
      expect(r.healthy, summarize(r)).to.equal(false);
      expect(summarize(r)).to.match(why);
    });
  }

  it("a third party filling an honest node's quota with paid policies does not make it unhealthy; a lazy node behind a full quota still fails its old policy", async () => {
    // Every quota becomes 3 arrangements (governor: the deployer in this test network).
    await (await net.policyManager.connect(net.core.deployer).setQuotaParams(3, 0)).wait();
    try {
      const griefer = net.wallets[11];
      await (await net.core.token.connect(net.core.deployer).transfer(griefer.address, 100n * TOKEN)).wait();
      await (await net.core.token.connect(griefer).approve(net.policyManagerAddress, 100n * TOKEN)).wait();
      const fees = await net.policyManager.nodeFees(nodeA);
      const end = Number(await net.policyManager.currentPeriod()) + 1;
      for (;;) {
        const [status] = await net.policyManager.checkNode(nodeA, end, fees[2]);
        if (Number(status) !== 0) break;
        const id = hexlify(randomBytes(16));
        await (await net.policyManager.connect(griefer).createPolicy(id, Wallet.createRandom().address, end, fees[2], [nodeA], hexlify(randomBytes(32)))).wait();
      }
      const honest = await probe(nodeA);
      expect(honest.healthy, summarize(honest)).to.equal(true);
      expect(honest.checks.find((c) => c.name === "old-policy")?.ok, "served through the policy kept from an earlier round").to.equal(true);

      proxy.mode = "ping-only";
      const lazy = await probe(nodeA);
      expect(lazy.healthy, summarize(lazy)).to.equal(false);
    } finally {
      await (await net.policyManager.connect(net.core.deployer).setQuotaParams(16, 10_000n)).wait();
    }
  });

  it("attack: a node that fills its own quota with self-hires and answers only /v1/ping is unhealthy for an assigned checker; an honest one passes with a proof of contact", async () => {
    await (await net.policyManager.connect(net.core.deployer).setQuotaParams(3, 0)).wait();
    try {
      // Node A's staker hires its own node with 1-period policies until nobody else can.
      const self = net.wallets[1];
      await (await net.core.token.connect(net.core.deployer).transfer(self.address, 100n * TOKEN)).wait();
      await (await net.core.token.connect(self).approve(net.policyManagerAddress, 100n * TOKEN)).wait();
      const fees = await net.policyManager.nodeFees(nodeA);
      const end = Number(await net.policyManager.currentPeriod());
      for (;;) {
        const [status] = await net.policyManager.checkNode(nodeA, end, fees[2]);
        if (Number(status) !== 0) break;
        await (await net.policyManager.connect(self).createPolicy(hexlify(randomBytes(16)), self.address, end, fees[2], [nodeA], hexlify(randomBytes(32)))).wait();
      }
      // The checker: node S's operator, never in contact with A before (no kept policy).
      const checkerOperator = net.wallets[4];
      await (await net.core.token.connect(net.core.deployer).transfer(checkerOperator.address, 100n * TOKEN)).wait();
      const checker = new TargetProber({
        provider: chain.provider,
        payer: checkerOperator,
        txs: new TxQueue(),
        policyManager: net.policyManagerAddress,
        stakingEscrow: net.core.escrowAddress,
        settings: new MemorySettings(),
        timeoutMs: 5000,
        budgetMs: 25_000,
      });
      const latest = await chain.provider.getBlock("latest");
      const genesis = await (await ethers.getContractAt("ProbeAssignmentsStub", stub, net.wallets[0])).genesis();
      const round = (BigInt(latest!.timestamp) - genesis) / 7200n + 1n;
      const assignment = (r: bigint) => ({ healthCheck: stub, round: r, checker: nodeS });

      proxy.mode = "ping-only";
      const lazy = await checker.probe(nodeA, undefined, assignment(round + 1n));
      console.log(`      ping-only, own quota full: healthy=${lazy.healthy} ${summarize(lazy).slice(0, 400)}`);
      expect(lazy.healthy, summarize(lazy)).to.equal(false);
      expect(lazy.checks.find((c) => c.name === "create")?.ok, summarize(lazy)).to.equal(false);

      proxy.mode = "honest";
      const honest = await checker.probe(nodeA, undefined, assignment(round));
      console.log(`      honest, quota full: healthy=${honest.healthy} ${summarize(honest).slice(0, 400)}`);
      expect(honest.healthy, summarize(honest)).to.equal(true);
      expect(honest.checks.find((c) => c.name === "create")?.ok, summarize(honest)).to.equal(true);
      expect(honest.contact, "proof of contact").to.match(/^0x[0-9a-f]{130}$/);
    } finally {
      await (await net.policyManager.connect(net.core.deployer).setQuotaParams(16, 10_000n)).wait();
    }
  });
});
