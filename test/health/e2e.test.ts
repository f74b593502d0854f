// End to end: a real `hardhat node` chain (child process) and six real node agents (child
// processes running `nkms node run` with the health-check duty on). Four agents are honest, one
// answers re-encryptions with corrupted cfrags (an honest agent behind the test-support
// fault proxy, test/support/fault-proxy.ts, whose URL it registers) and one stops answering (SIGSTOP). After one round the
// two faulty nodes are voted unhealthy and lose their rewards; the honest target keeps its own;
// the status page shows the outcome. One checker agent is SIGKILLed and restarted between commit
// and reveal and still reveals (salt and verdicts were persisted); another is frozen (SIGSTOP)
// from its commit until after the reveal window, and the other agents have it punished for not
// revealing (it forfeits its accrued rewards).
//
// Determinism: which nodes a round checks depends on PREVRANDAO. The test mines the opening block
// itself with a PREVRANDAO it searched for (hardhat_setPrevRandao) so that both faulty nodes and
// one honest node are drawn; the contract and the agents run unchanged.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ethers } from "hardhat";
import { AbiCoder, keccak256, toBeHex, type JsonRpcProvider, type Wallet } from "ethers";
import type { HealthCheck } from "../../typechain-types";
import { TOKEN, setupNode } from "../node/helpers";
import { deployExternal, spawnAgent, startHardhatNode, writeOperatorKeystore, type AgentFiles, type AgentProcess } from "../node/multiproc";
import { FaultProxy } from "../support/fault-proxy";

const CONFIG = {
  commitDuration: 600,
  revealDuration: 600,
  openWindow: 300,
  freezeWindow: 60,
  claimWindow: 3600,
  sampleSize: 3,
  expectedCheckers: 100, // above N: every non-target is a checker
  quorum: 2,
  rewardPerRound: 1_000n * TOKEN,
  firstRoundStart: 0,
};

const NODES = 6;
const BAD_CFRAG = 4; // index of the node whose agent corrupts cfrags
const SILENT = 5; // index of the node whose agent stops answering

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Off-chain replay of HealthCheck._drawTargets: k - k/8 swept from `cursor`, k/8 random outside the sweep. */
function drawTargets(lastSeed: string, prevrandao: bigint, round: bigint, enrolled: string[], sampleSize: number, cursor: number, quorum: number): string[] {
  const coder = AbiCoder.defaultAbiCoder();
  const seed = keccak256(coder.encode(["bytes32", "uint256", "uint32"], [lastSeed, prevrandao, round]));
  const n = enrolled.length;
  const k = Math.min(sampleSize, n - quorum, Math.max(1, Math.floor(n / 2)));
  const sweep = k - Math.floor(k / 8);
  const picked: string[] = [];
  for (let j = 0; j < sweep; j++) picked.push(enrolled[(cursor + j) % n]);
  for (let draw = 0; draw < 4 * k && picked.length < k; draw++) {
    const idx = Number(BigInt(keccak256(coder.encode(["bytes32", "uint256"], [seed, draw]))) % BigInt(n));
    if ((idx + n - cursor) % n < sweep) continue;
    if (!picked.includes(enrolled[idx])) picked.push(enrolled[idx]);
  }
  return picked;
}

describe("health: end to end with real agents on a hardhat node", function () {
  this.timeout(300_000);
  let chain: Awaited<ReturnType<typeof startHardhatNode>>;
  let dir: string;
  const agents: (AgentProcess | undefined)[] = [];
  let badCfrag: FaultProxy;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nkms-health-e2e-"));
    chain = await startHardhatNode();
    badCfrag = await FaultProxy.start("bad-cfrag");
  });
  after(async () => {
    for (const a of agents) {
      a?.proc.kill("SIGCONT");
      await a?.stop("SIGKILL");
    }
    await chain?.stop();
    await badCfrag?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("votes a silent node and a bad-cfrag node unhealthy, keeps honest rewards, survives a checker restart", async () => {
    const provider: JsonRpcProvider = chain.provider;
    const net = await deployExternal(provider);
    const deployer = net.wallets[0];
    const { token, escrow } = net.core;

    const health = (await (await ethers.getContractFactory("HealthCheck", deployer)).deploy(net.core.escrowAddress, net.core.tokenAddress, CONFIG)) as unknown as HealthCheck;
    await health.waitForDeployment();
    const healthAddress = await health.getAddress();
    await (await escrow.grantRole(await escrow.REWARD_FORFEITER_ROLE(), healthAddress)).wait();
    // Reserved probe capacity (issue #16): assigned checkers hire their targets outside quotas.
    await (await net.policyManager.connect(deployer).setHealthCheck(healthAddress)).wait();
    await (await token.approve(healthAddress, 100_000n * TOKEN)).wait();
    await (await health.fund(100_000n * TOKEN)).wait();

    // Stake and register six nodes; operators hold a few tokens to pay for check policies.
    const stakers: Wallet[] = [];
    const files: AgentFiles[] = [];
    for (let i = 0; i < NODES; i++) {
      const staker = net.wallets[1 + i];
      const operatorIdx = 1 + NODES + i;
      const node = await setupNode(net, staker, operatorIdx, provider);
      await (await token.transfer(node.operator.address, 100n * TOKEN)).wait();
      stakers.push(staker);
      const d = join(dir, `node${i}`);
      mkdirSync(d);
      files.push(await writeOperatorKeystore(d, operatorIdx));
    }
    const envFor = (i: number): Record<string, string> => ({
      NKMS_HEALTH_CHECK: healthAddress,
      NKMS_HEALTH_POLL_MS: "250",
      // Generous: on a loaded CI machine an honest agent's first re-encryption (fresh worker) can
      // take seconds; the silent node is SIGSTOPped, so it times out whatever the limit.
      NKMS_HEALTH_PROBE_TIMEOUT_MS: "8000",
      NKMS_NODE_WORKERS: "1",
      ...(i === BAD_CFRAG ? { NKMS_NODE_PUBLIC_URL: badCfrag.url } : {}),
    });
    const started = await Promise.all(files.map((f, i) => spawnAgent(f, chain.url, net, envFor(i))));
    agents.push(...started);
    badCfrag.upstream = started[BAD_CFRAG].url;
    agents[SILENT]!.proc.kill("SIGSTOP"); // registered its endpoint, now never answers

    // The faulty nodes enroll first: the first round's sweep (layout positions 0..2) checks them.
    const order = [BAD_CFRAG, SILENT, ...stakers.keys()].filter((v, i, a) => a.indexOf(v) === i);
    for (const i of order) await (await health.enroll(stakers[i].address)).wait();
    // Rewards accrue for a period after enrollment (tracking starts at enrollment).
    await provider.send("evm_increaseTime", [7 * 24 * 3600 + 60]);
    await provider.send("evm_mine", []);

    const faulty = [stakers[BAD_CFRAG].address, stakers[SILENT].address];
    const enrolled = await Promise.all(stakers.map((_, i) => health.enrolledAt(i)));
    const draw = async (lastSeed: string, prevrandao: bigint, round: bigint, cursor: number) =>
      drawTargets(lastSeed, prevrandao, round, enrolled, CONFIG.sampleSize, cursor, CONFIG.quorum);
    /** Open the next round ourselves, in a block whose PREVRANDAO draws `wanted` (and whatever else fills the sample). */
    async function openSteered(wanted: (targets: string[]) => boolean): Promise<{ round: bigint; targets: string[] }> {
      const round = (await health.currentRound()) + 1n;
      const start = (await health.roundInfo(round)).start;
      await provider.send("evm_setAutomine", [false]);
      try {
        await provider.send("evm_setNextBlockTimestamp", [Number(start)]);
        // Agents may open in the same block: the seed only depends on the block, so it is the same.
        const lastSeed = await health.lastSeed();
        const cursor = Number(await health.sweepCursor());
        let prevrandao = 1n;
        // With 6 nodes every target is swept (k = 3): PREVRANDAO only steers random draws, if any.
        while (!wanted(await draw(lastSeed, prevrandao, round, cursor)) && prevrandao < 200n) prevrandao++;
        const openTx = await health.connect(deployer).openRound({ gasLimit: 2_000_000 });
        await provider.send("hardhat_setPrevRandao", [toBeHex(prevrandao, 32)]);
        await provider.send("evm_mine", []);
        await openTx.wait().catch(() => undefined); // an agent's openRound may have come first
        const targets = [...(await health.roundInfo(round)).targets];
        expect(targets).to.deep.equal(await draw(lastSeed, prevrandao, round, cursor));
        return { round, targets };
      } finally {
        await provider.send("evm_setAutomine", [true]);
      }
    }
    /** Open rounds until the sweep (which agents may have advanced already) gives `wanted`. */
    async function openWanted(wanted: (targets: string[]) => boolean): Promise<{ round: bigint; targets: string[] }> {
      for (let attempt = 0; attempt < 3; attempt++) {
        const opened = await openSteered(wanted);
        if (wanted(opened.targets)) return opened;
      }
      throw new Error("the sweep never reached the wanted targets");
    }

    // Round 1 of the test: both faulty nodes and one honest node are checked.
    const { round, targets: expectedTargets } = await openWanted((t) => faulty.every((f) => t.includes(f)));
    const info = await health.roundInfo(round);
    const honestTarget = expectedTargets.find((t) => !faulty.includes(t))!;
    const checkerIdx = stakers.map((s, i) => i).filter((i) => !expectedTargets.includes(stakers[i].address));
    expect(checkerIdx).to.have.length(3);

    // The checkers probe and commit on their own.
    await waitFor("three commits", async () => {
      const b = await Promise.all(checkerIdx.map((i) => health.ballotOf(round, stakers[i].address)));
      return b.every((x) => x.committed);
    });

    // Freeze one checker after its commit: it will miss the reveal window.
    const withholder = checkerIdx[2];
    agents[withholder]!.proc.kill("SIGSTOP");
    const revealers = checkerIdx.filter((i) => i !== withholder);
    // Kill one checker after its commit and start it again from its data directory.
    const restarted = checkerIdx[0];
    await agents[restarted]!.stop("SIGKILL");
    agents[restarted] = await spawnAgent(files[restarted], chain.url, net, envFor(restarted));

    await provider.send("evm_setNextBlockTimestamp", [Number(info.commitEnd)]);
    await provider.send("evm_mine", []);
    await waitFor("two reveals", async () => {
      const b = await Promise.all(revealers.map((i) => health.ballotOf(round, stakers[i].address)));
      return b.every((x) => x.revealed);
    });
    const faultyMask = expectedTargets.reduce((m, t, i) => (faulty.includes(t) ? m | (1n << BigInt(i)) : m), 0n);
    for (const i of revealers) {
      const b = await health.ballotOf(round, stakers[i].address);
      expect(b.verdicts, `checker ${i} verdicts`).to.equal(faultyMask);
    }

    const before = new Map<string, bigint>();
    for (const t of expectedTargets) before.set(t, await escrow.pendingRewards(t));
    for (const f of faulty) expect(before.get(f)).to.be.greaterThan(0n);

    // After the reveal window an agent finalizes; checkers claim their rewards.
    await provider.send("evm_setNextBlockTimestamp", [Number(info.revealEnd)]);
    await provider.send("evm_mine", []);
    await waitFor("finalize", async () => (await health.roundInfo(round)).finalized);
    const final = await health.roundInfo(round);
    expect(final.unhealthyMask).to.equal(faultyMask);
    const judged = await health.queryFilter(health.filters.TargetJudged(round));
    const forfeited = new Map(judged.map((e) => [e.args.target, e.args.forfeited]));
    for (const f of faulty) {
      expect(forfeited.get(f), "faulty node forfeits").to.equal(before.get(f));
      expect(await escrow.pendingRewards(f)).to.equal(0n);
    }
    expect(forfeited.get(honestTarget)).to.equal(0n);
    // Checkers hired the targets through the reserved probe capacity (issue #16), and the honest
    // target's proofs of contact made their "healthy" votes count.
    const hired = await net.policyManager.queryFilter(net.policyManager.filters.ProbeHired(round));
    expect(hired.some((e) => e.args.target === honestTarget), "probe policies").to.equal(true);
    // The withholder is punished by the other agents; then it wakes up.
    const withholderAddress = stakers[withholder].address;
    await waitFor("non-revealer punished", async () => (await health.ballotOf(round, withholderAddress)).punished);
    const [punished] = await health.queryFilter(health.filters.NonRevealerPunished(round, withholderAddress));
    expect(punished.args.forfeited).to.be.greaterThan(0n);
    expect((await health.ballotOf(round, withholderAddress)).revealed).to.equal(false);
    agents[withholder]!.proc.kill("SIGCONT");
    expect(await escrow.pendingRewards(honestTarget)).to.be.greaterThanOrEqual(before.get(honestTarget)!);
    for (const i of revealers.filter((i) => i !== restarted)) {
      expect(await escrow.pendingRewards(stakers[i].address)).to.be.greaterThan(0n);
    }
    await waitFor("checker rewards claimed", async () => {
      const b = await Promise.all(revealers.map((i) => health.ballotOf(round, stakers[i].address)));
      return b.every((x) => x.claimed);
    });

    // The status page of a checker shows its probe results and the round's outcome.
    const page = await waitFor("status page outcome", async () => {
      const html = await (await fetch(`${agents[checkerIdx[1]]!.url}/status`)).text();
      return html.includes("judged unhealthy") ? html : undefined;
    });
    expect(page).to.include("Health-check round outcomes");
    for (const f of faulty) expect(page).to.include(f);
    expect(page).to.include("judged healthy");
    expect(page).to.include("cfrag correctness proof does not verify");
    expect(page).to.include("timed out");

    // A later round with the same targets: the checkers now hold old check policies, which the
    // honest target still serves correctly and the bad-cfrag node does not.
    // The sweep checks the other half of the layout in between (its checkers may act or not).
    const again = await openWanted((t) => t.every((x, i) => x === expectedTargets[i]));
    const againInfo = await health.roundInfo(again.round);
    await waitFor("commits of the second round", async () => {
      const b = await Promise.all(checkerIdx.map((i) => health.ballotOf(again.round, stakers[i].address)));
      return b.every((x) => x.committed);
    });
    await provider.send("evm_setNextBlockTimestamp", [Number(againInfo.commitEnd)]);
    await provider.send("evm_mine", []);
    await waitFor("reveals of the second round", async () => {
      const b = await Promise.all(checkerIdx.map((i) => health.ballotOf(again.round, stakers[i].address)));
      return b.every((x) => x.revealed);
    });
    for (const i of checkerIdx) expect((await health.ballotOf(again.round, stakers[i].address)).verdicts).to.equal(faultyMask);
    const html = await (await fetch(`${agents[checkerIdx[1]]!.url}/status`)).text();
    const row = (target: string) => html.split("<tr>").filter((r) => r.includes(`<td>${again.round}</td><td>${target}</td>`));
    expect(row(honestTarget).join(" ")).to.match(/old-policy: ok/);
    expect(row(stakers[BAD_CFRAG].address).join(" ")).to.match(/old-policy: FAIL/);
  });
});
