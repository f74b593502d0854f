/**
 * TEST SUPPORT: the health-check soak on a live network (issue #16). Foundry's Anvil mines a block
 * every second; the NKMS core, PolicyManager and HealthCheck are deployed on it with parameters
 * suited to a short soak (rounds of about a minute); each node is a real agent process running the
 * health duty. Faulty nodes are honest agents made faulty from outside (test/support): a fault
 * proxy in front (dead, lying cfrags, 1 in 3 cfrags right, always 503, ping-only behind a quota it
 * filled itself = "unhireable"), a lagging JSON-RPC proxy, a clock-skew preload, or the blind-voter
 * agent. Nobody steers the draw: rounds are opened, voted and finalized by the agents alone.
 *
 * Used by `npm run bench:health` (bench/health-soak.ts, 12+ agents) and test/health/soak.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ethers } from "hardhat";
import { Wallet, hexlify, randomBytes, type JsonRpcProvider } from "ethers";
import type { HealthCheck } from "../../typechain-types";
import { TOKEN, accountWallet, setupNode } from "../node/helpers";
import { deployExternal, spawnAgent, startAnvil, writeOperatorKeystore, type AgentProcess } from "../node/multiproc";
import { FaultProxy, type FaultMode } from "./fault-proxy";
import { LaggingRpc } from "./lagging-rpc";

export const NODE_KINDS = ["honest", "dead", "bad-cfrag", "one-in-three", "always-503", "unhireable", "blind-voter", "overloaded-honest", "lagging-rpc", "skewed-clock"] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

/** Kinds that do not serve and must be judged unhealthy (the blind voter serves; it is judged by its earnings). */
export const FAULTY_KINDS: readonly NodeKind[] = ["dead", "bad-cfrag", "one-in-three", "always-503", "unhireable"];

export interface SoakOptions {
  kinds: NodeKind[];
  commitSeconds: number;
  revealSeconds: number;
  /** Seconds from the HealthCheck's deployment to round 1 (enough to enroll and start the agents). */
  leadSeconds: number;
  sampleSize: number;
  quorum: number;
  /** Stop after this long (wall clock, from the first round on). */
  maxSeconds: number;
  /** Stop early once every node was sampled and every faulty one detected, after at least this many finalized rounds. */
  minRounds: number;
  log?: (line: string) => void;
}

export interface SoakNode {
  index: number;
  kind: NodeKind;
  staker: string;
  faulty: boolean;
  /** Finalized, decided rounds that had this node as a target. */
  sampledRounds: number[];
  unhealthyRounds: number[];
  /** Decided rounds it was a target in, up to and including its first unhealthy verdict (faulty nodes). */
  roundsToDetect: number | null;
  /** Checker rewards claimed (wei). */
  earned: string;
  reveals: number;
}

export interface SoakSummary {
  nodes: number;
  rounds: number;
  faulty_total: number;
  faulty_detected: number;
  honest_judged_unhealthy: number;
  max_rounds_to_detect: number | null;
}

/** What each checker recorded about an honest node it judged unhealthy (from the agents' `/v1/status`). */
export interface HonestUnhealthyDetail {
  round: string;
  target: number;
  checker: number;
  verdict: string;
  detail: string;
}

export interface SoakResult {
  summary: SoakSummary;
  honest_unhealthy_details: HonestUnhealthyDetail[];
  void_rounds: number;
  runtime_seconds: number;
  blind_voter: { earned: string; reveals: number; honest_prober_mean_earned: string; honest_prober_mean_reveals: number } | null;
  parameters: Omit<SoakOptions, "log">;
  nodes: SoakNode[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? (() => undefined);
  const t0 = Date.now();
  const n = opts.kinds.length;
  const dir = mkdtempSync(join(tmpdir(), "nkms-soak-"));
  const chain = await startAnvil({ blockTime: 1, accounts: 2 * n + 24 });
  const proxies: FaultProxy[] = [];
  const laggers: LaggingRpc[] = [];
  const agents: AgentProcess[] = [];
  try {
    const provider: JsonRpcProvider = chain.provider;
    const net = await deployExternal(provider);
    const deployer = net.wallets[0];
    const { token, escrow } = net.core;
    const quota = 4 * n; // room for every checker's kept policy and its fresh ones, not for more
    await (await net.policyManager.connect(deployer).setQuotaParams(quota, 0)).wait();
    // Accounts: 0 deployer; 20.. stakers and operators (deployExternal's wallets stop at 19). The
    // deployer funds everyone first (its own nonces), then the nodes set up in parallel.
    const stakers: Wallet[] = Array.from({ length: n }, (_, i) => accountWallet(20 + 2 * i).connect(provider));
    let nonce = await provider.getTransactionCount(deployer.address, "pending");
    const funding = [];
    for (let i = 0; i < n; i++) {
      funding.push(await token.transfer(stakers[i].address, net.core.params.minStake * 10n, { nonce: nonce++ }));
      funding.push(await token.transfer(accountWallet(21 + 2 * i).address, 200n * TOKEN, { nonce: nonce++ }));
    }
    await Promise.all(funding.map((tx) => tx.wait()));
    await Promise.all(stakers.map((staker, i) => setupNode(net, staker, 21 + 2 * i, provider, undefined, false)));
    log(`${n} nodes staked and registered after ${Math.round((Date.now() - t0) / 1000)} s`);
    // The unhireable node fills its own quota with long policies (a lazy node: net cost zero).
    for (const [i, kind] of opts.kinds.entries()) {
      if (kind !== "unhireable") continue;
      const self = stakers[i];
      const fees = await net.policyManager.nodeFees(self.address);
      const end = Number(await net.policyManager.currentPeriod()) + 8;
      const cost = (await net.policyManager.policyCost(1, fees[2], end)) * BigInt(quota);
      await (await token.transfer(self.address, cost)).wait();
      await (await token.connect(self).approve(net.policyManagerAddress, cost)).wait();
      nonce = await provider.getTransactionCount(self.address, "pending");
      const sent = [];
      for (let k = 0; k < quota; k++) {
        sent.push(await net.policyManager.connect(self).createPolicy(hexlify(randomBytes(16)), Wallet.createRandom().address, end, fees[2], [self.address], hexlify(randomBytes(32)), { nonce: nonce++, gasLimit: 600_000 }));
      }
      await Promise.all(sent.map((tx) => tx.wait()));
      log(`node ${i} (unhireable) filled its quota of ${quota} with its own policies`);
    }

    // The HealthCheck comes last, with round 1 announced `leadSeconds` ahead: every node enrolls
    // before it (enrollment counts from the next round on) and the agents start meanwhile, so the
    // very first round judges. (Deployed at once, its round 1 would meet an empty enrollment.)
    const genesis = BigInt((await provider.getBlock("latest"))!.timestamp) + BigInt(opts.leadSeconds);
    const config = {
      commitDuration: opts.commitSeconds,
      revealDuration: opts.revealSeconds,
      // Opening is the first agent's job once it runs: a late start must not lose the round.
      openWindow: opts.commitSeconds,
      freezeWindow: 2,
      claimWindow: 3600,
      sampleSize: opts.sampleSize,
      expectedCheckers: 1000, // every non-target enrolled node checks (small network)
      quorum: opts.quorum,
      rewardPerRound: 1_000n * TOKEN,
      firstRoundStart: genesis,
    };
    const health = (await (await ethers.getContractFactory("HealthCheck", deployer)).deploy(net.core.escrowAddress, net.core.tokenAddress, config)) as unknown as HealthCheck;
    await health.waitForDeployment();
    const healthAddress = await health.getAddress();
    nonce = await provider.getTransactionCount(deployer.address, "pending");
    const wiring = [
      await escrow.grantRole(await escrow.REWARD_FORFEITER_ROLE(), healthAddress, { nonce: nonce++ }),
      // Reserved probe capacity (issue #16): assigned checkers hire their targets outside quotas.
      await net.policyManager.connect(deployer).setHealthCheck(healthAddress, { nonce: nonce++ }),
      await token.approve(healthAddress, 1_000_000n * TOKEN, { nonce: nonce++ }),
    ];
    await Promise.all(wiring.map((tx) => tx.wait()));
    await (await health.fund(1_000_000n * TOKEN)).wait();
    await Promise.all(stakers.map(async (staker) => (await health.connect(staker).enroll(staker.address)).wait()));
    log(`HealthCheck ${healthAddress}; ${n} nodes enrolled after ${Math.round((Date.now() - t0) / 1000)} s; round 1 starts in ${genesis - BigInt((await provider.getBlock("latest"))!.timestamp)} s`);

    // Agents.
    const skewPreload = join(__dirname, "clock-skew.ts");
    const blindEntry = join(__dirname, "blind-agent.ts");
    // Started three at a time: a dozen tsx processes compiling at once on a busy 2-core machine
    // took more than two minutes to listen.
    const startOne = async (kind: NodeKind, i: number): Promise<AgentProcess> => {
      const d = join(dir, `node${i}`);
      mkdirSync(d);
      const files = await writeOperatorKeystore(d, 21 + 2 * i);
      const env: Record<string, string> = {
        NKMS_HEALTH_CHECK: healthAddress,
        NKMS_HEALTH_POLL_MS: "1000",
        NKMS_HEALTH_PROBE_TIMEOUT_MS: "8000",
        NKMS_NODE_WORKERS: "1",
      };
      const mode: FaultMode | undefined = (
        { dead: "dead", "bad-cfrag": "bad-cfrag", "one-in-three": "one-in-three", "always-503": "always-503", unhireable: "ping-only", "overloaded-honest": "burst-503" } as Partial<Record<NodeKind, FaultMode>>
      )[kind];
      let proxy: FaultProxy | undefined;
      if (mode) {
        proxy = await FaultProxy.start(mode);
        proxies.push(proxy);
        env.NKMS_NODE_PUBLIC_URL = proxy.url;
      }
      let rpc = chain.url;
      if (kind === "lagging-rpc") {
        const lag = await LaggingRpc.start(chain.url, 3);
        laggers.push(lag);
        rpc = lag.url;
      }
      const spawnOpts = kind === "skewed-clock" ? { nodeArgs: ["--import", skewPreload] } : kind === "blind-voter" ? { entry: blindEntry } : {};
      if (kind === "skewed-clock") Object.assign(env, { NKMS_TEST_CLOCK_SKEW_MS: "1000", NKMS_NODE_MAX_SKEW: "0" });
      // NKMS_SOAK_LOG_DIR keeps every agent's info-level log (node<i>-<kind>.log) for a post-mortem.
      const logDir = process.env.NKMS_SOAK_LOG_DIR;
      const logging = logDir ? { logLevel: "info", logFile: join(logDir, `node${i}-${kind}.log`) } : {};
      const agent = await spawnAgent(files, rpc, net, env, { ...spawnOpts, ...logging, startTimeoutMs: 300_000 });
      if (proxy) proxy.upstream = agent.url;
      return agent;
    };
    for (let i = 0; i < n; i += 3) {
      agents.push(...(await Promise.all(opts.kinds.slice(i, i + 3).map((kind, j) => startOne(kind, i + j)))));
    }
    const firstRound = 1n;
    log(`${n} agents running after ${Math.round((Date.now() - t0) / 1000)} s`);

    // Watch the rounds the agents run.
    const byStaker = new Map(stakers.map((s, i) => [s.address.toLowerCase(), i]));
    const nodes: SoakNode[] = opts.kinds.map((kind, i) => ({
      index: i,
      kind,
      staker: stakers[i].address,
      faulty: FAULTY_KINDS.includes(kind),
      sampledRounds: [],
      unhealthyRounds: [],
      roundsToDetect: null,
      earned: "0",
      reveals: 0,
    }));
    const seen = new Set<bigint>();
    let voidRounds = 0;
    const watchStart = Date.now();
    for (;;) {
      const current = await health.currentRound();
      for (let r = firstRound; r < current; r++) {
        if (seen.has(r)) continue;
        const info = await health.roundInfo(r);
        const closed = BigInt((await provider.getBlock("latest"))!.timestamp) >= info.revealEnd + 30n;
        if (!info.finalized && !(closed && !info.opened)) {
          if (closed && info.opened) {
            // Nobody finalized in time: count it as void (it never decided).
            seen.add(r);
            voidRounds++;
          }
          continue;
        }
        seen.add(r);
        if (!info.opened || info.decidedMask === 0n) {
          voidRounds++;
          log(`round ${r}: void (${info.opened ? `${info.revealers} reveal(s)` : "never opened"})`);
          continue;
        }
        const judged = await health.queryFilter(health.filters.TargetJudged(r));
        const parts: string[] = [];
        for (const ev of judged) {
          const i = byStaker.get(ev.args.target.toLowerCase());
          if (i === undefined) continue;
          const node = nodes[i];
          node.sampledRounds.push(Number(r));
          if (!ev.args.healthy) {
            node.unhealthyRounds.push(Number(r));
            if (node.roundsToDetect === null && node.faulty) node.roundsToDetect = node.sampledRounds.length;
          }
          parts.push(`${i}:${node.kind}=${ev.args.healthy ? "ok" : "UNHEALTHY"}`);
        }
        // When each checker's commit landed, seconds into the round: how much of the commit window
        // the probes need (the window's length is the soak's main cost).
        const commitAt: number[] = [];
        for (const ev of await health.queryFilter(health.filters.Committed(r))) {
          commitAt.push(Number(BigInt((await ev.getBlock()).timestamp) - info.start));
        }
        commitAt.sort((a, b) => a - b);
        log(`round ${r}: ${info.revealers} reveals; commits at ${commitAt.join(",")} s of ${opts.commitSeconds}; ${parts.join(" ")}`);
      }
      const decided = seen.size - voidRounds;
      const allSampled = nodes.every((x) => x.sampledRounds.length > 0);
      const faultyDone = nodes.filter((x) => x.faulty).every((x) => x.roundsToDetect !== null || x.sampledRounds.length >= 5);
      if (decided >= opts.minRounds && allSampled && faultyDone) break;
      if (Date.now() - watchStart > opts.maxSeconds * 1000) break;
      await sleep(2000);
    }

    // Checker earnings (claimed rewards) and reveals.
    for (const ev of await health.queryFilter(health.filters.RewardClaimed())) {
      const i = byStaker.get(ev.args.staker.toLowerCase());
      if (i !== undefined) nodes[i].earned = (BigInt(nodes[i].earned) + ev.args.amount).toString();
    }
    for (const ev of await health.queryFilter(health.filters.Revealed())) {
      const i = byStaker.get(ev.args.staker.toLowerCase());
      if (i !== undefined) nodes[i].reveals++;
    }
    // Why an honest node was voted down, in the checkers' own words, before the agents stop.
    const honestUnhealthy: HonestUnhealthyDetail[] = [];
    for (const target of nodes.filter((x) => !x.faulty && x.unhealthyRounds.length > 0)) {
      for (const [c, agent] of agents.entries()) {
        const status = (await fetch(`${agent.url}/v1/status`).then((r) => r.json()).catch(() => null)) as { healthChecks?: { round: string; target: string; verdict: string; detail: string }[] } | null;
        for (const h of status?.healthChecks ?? []) {
          if (h.target.toLowerCase() === target.staker.toLowerCase() && target.unhealthyRounds.includes(Number(h.round))) {
            honestUnhealthy.push({ round: h.round, target: target.index, checker: c, verdict: h.verdict, detail: h.detail });
          }
        }
      }
    }
    const honestProbers = nodes.filter((x) => !x.faulty && x.kind !== "blind-voter");
    const blind = nodes.find((x) => x.kind === "blind-voter");
    const mean = (xs: bigint[]) => (xs.length ? xs.reduce((a, b) => a + b, 0n) / BigInt(xs.length) : 0n);
    const detected = nodes.filter((x) => x.faulty && x.roundsToDetect !== null);
    const summary: SoakSummary = {
      nodes: n,
      rounds: seen.size,
      faulty_total: nodes.filter((x) => x.faulty).length,
      faulty_detected: detected.length,
      honest_judged_unhealthy: nodes.filter((x) => !x.faulty && x.unhealthyRounds.length > 0).length,
      max_rounds_to_detect: detected.length ? Math.max(...detected.map((x) => x.roundsToDetect!)) : null,
    };
    const { log: _omit, ...parameters } = opts;
    void _omit;
    return {
      summary,
      honest_unhealthy_details: honestUnhealthy,
      void_rounds: voidRounds,
      runtime_seconds: Math.round((Date.now() - t0) / 1000),
      blind_voter: blind
        ? {
            earned: blind.earned,
            reveals: blind.reveals,
            honest_prober_mean_earned: mean(honestProbers.map((x) => BigInt(x.earned))).toString(),
            honest_prober_mean_reveals: honestProbers.reduce((a, x) => a + x.reveals, 0) / Math.max(1, honestProbers.length),
          }
        : null,
      parameters,
      nodes,
    };
  } finally {
    await Promise.all(agents.map((a) => a.stop("SIGKILL")));
    await Promise.all([...proxies, ...laggers].map((p) => p.close()));
    await chain.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fixed-width table of the soak's nodes. */
export function soakTable(result: SoakResult): string {
  const rows = [["node", "kind", "faulty", "sampled", "unhealthy in", "rounds to detect", "reveals", "earned (NKMS)"]];
  for (const x of result.nodes) {
    rows.push([
      String(x.index),
      x.kind,
      x.faulty ? "yes" : "no",
      String(x.sampledRounds.length),
      x.unhealthyRounds.join(",") || "-",
      x.roundsToDetect === null ? "-" : String(x.roundsToDetect),
      String(x.reveals),
      (Number(BigInt(x.earned) / 10n ** 15n) / 1000).toFixed(3),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((v, c) => v.padEnd(widths[c])).join("  ")).join("\n");
}
