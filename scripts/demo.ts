/**
 * `npm run demo` — the whole network on one machine, every step timed:
 * deploy (Ignition) → stake 5 nodes → start 5 node agents as separate processes → Alice writes a
 * file and shares it 3-of-5 with Bob → Bob reads → two nodes are killed, Bob still reads → Alice
 * revokes → Bob is refused. Runs on the in-process Hardhat chain served over JSON-RPC on loopback,
 * or against a running `npx hardhat node` with `npm run demo -- --network localhost`, or any
 * JSON-RPC chain (Anvil, a testnet-like node with timed blocks) through scripts/demo-external.config.ts.
 * It needs ONE funded account, the chain's first (it deploys, and funds every other key the demo
 * uses: stakers, operators and Alice are fresh keys).
 * Exits 0 on success; every child process is stopped on every exit path.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import hre from "hardhat";
import { Wallet } from "ethers";
import { connect, type NkmsClient } from "../src/client/client";
import { RetrievalError } from "../src/client/errors";
import { deriveUserKeys } from "../src/client/identity";
import { TOKEN, connectAt, fundAccounts, deployAll, serveHardhatChain, spawnNode, stakeNodes, writeNodeFiles, type NodeProcess } from "./demo-network";

const NODES = 5;
const FILE_BYTES = 4 * 1024 * 1024;

const children: NodeProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
let step = 0;

function killAllNow(): void {
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill("SIGKILL");
}
process.on("exit", killAllNow);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    killAllNow();
    process.exit(130);
  });
}

async function timed<T>(title: string, fn: () => Promise<T>, detail?: (r: T) => string): Promise<T> {
  step++;
  const t0 = performance.now();
  const result = await fn();
  const ms = performance.now() - t0;
  const extra = detail ? ` — ${detail(result)}` : "";
  console.log(`[${String(step).padStart(2)}] ${title.padEnd(58, ".")} ${ms.toFixed(0).padStart(6)} ms${extra}`);
  return result;
}

async function main(): Promise<void> {
  const total = performance.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-demo-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const external = hre.network.name !== "hardhat";
  console.log(`NKMS demo — chain: ${external ? `${hre.network.name} (${(hre.network.config as { url: string }).url})` : "in-process Hardhat"}, work dir ${dir}\n`);

  const rpcUrl = await timed(external ? "connect to the running chain" : "serve the chain over JSON-RPC on loopback", async () => {
    if (external) return (hre.network.config as { url: string }).url;
    const server = await serveHardhatChain(hre);
    cleanups.push(() => server.close());
    return server.url;
  }, (url) => url);

  const deploymentFile = path.join(dir, "deployed_addresses.json");
  const addresses = await timed("deploy all contracts (Ignition)", () => deployAll(hre, deploymentFile), (a) => `PolicyManager ${a.policyManager}`);
  const { contracts, provider } = connectAt(rpcUrl, addresses);
  cleanups.push(() => provider.destroy());
  // The chain's first account deployed (Ignition) and holds the NKMS supply; it is the only
  // account the demo needs. Stakers, their operators (the nodes' hot keys) and Alice are fresh
  // keys it funds with ETH for gas (and NKMS), as an operator does with `nkms:transfer`.
  const deployer = await provider.getSigner(0);
  const fresh = () => new Wallet(Wallet.createRandom().privateKey).connect(provider);
  const staked = Array.from({ length: NODES }, () => ({ staker: fresh(), operator: fresh() }));
  await timed(`fund, stake, bond and enroll ${NODES} nodes`, () => stakeNodes(contracts, deployer, staked, { gas: true }), () => "150,000 NKMS and 0.5 ETH each");

  const nodes = await timed(`start ${NODES} node agents (separate processes)`, async () => {
    const configs = await Promise.all(staked.map((s, i) => writeNodeFiles(path.join(dir, `node-${i}`), s.operator, rpcUrl, deploymentFile)));
    return Promise.all(
      configs.map(async (config) => {
        const node = await spawnNode(config, deploymentFile);
        children.push(node);
        return node;
      }),
    );
  }, (ns) => ns.map((n) => n.url.replace("http://127.0.0.1", "")).join(" "));

  const storage = path.join(dir, "objects");
  const aliceWallet = fresh();
  await fundAccounts(contracts, deployer, [aliceWallet.address], 100n * TOKEN);
  const alice: NkmsClient = await connect({ rpcUrl, deploymentFile, home: path.join(dir, "alice"), storage, keys: deriveUserKeys(aliceWallet) });
  const bob: NkmsClient = await connect({ rpcUrl, deploymentFile, home: path.join(dir, "bob"), storage, keys: deriveUserKeys(new Wallet(Wallet.createRandom().privateKey)), nodeTimeoutMs: 5000 });
  cleanups.push(() => alice.close(), () => bob.close());

  const plaintext = new Uint8Array(randomBytes(FILE_BYTES));
  const digest = (b: Uint8Array) => createHash("sha256").update(b).digest("hex").slice(0, 16);
  const { id } = await timed(`Alice encrypts and stores a ${FILE_BYTES / 1024 / 1024} MiB file`, () => alice.write(plaintext, { label: "demo/report" }), (r) => `object ${r.id.slice(0, 16)}…`);

  const { grant } = await timed("Alice shares it with Bob, 3-of-5 (pay + deliver kfrags)", () =>
    alice.share({ label: "demo/report", reader: bob.keys!.readerKeys(), threshold: 3, shares: 5, periods: 2 }),
  (r) => `policy ${r.grant.policyId}`);

  await timed("Bob reads it (3 cfrags from 5 nodes)", async () => {
    const got = await bob.read(id, grant);
    if (digest(got) !== digest(plaintext)) throw new Error("Bob's plaintext differs");
    return got;
  }, (got) => `sha256 ${digest(got)} matches`);

  const victims = nodes.filter((n) => grant.nodes.includes(n.staker)).slice(0, 2);
  await timed("kill two of the policy's nodes (SIGKILL)", async () => {
    await Promise.all(victims.map((v) => v.stop("SIGKILL")));
  }, () => victims.map((v) => v.staker.slice(0, 10)).join(", "));

  await timed("Bob reads again with 2 nodes down", async () => {
    let used: string[] = [];
    const got = await bob.read(id, grant, { onRetrieval: (r) => (used = r.usedNodes) });
    if (digest(got) !== digest(plaintext)) throw new Error("Bob's plaintext differs");
    return used;
  }, (used) => `cfrags from ${used.map((u) => u.slice(0, 10)).join(", ")}`);

  await timed("Alice revokes (on-chain + signed notice to nodes)", () => alice.revoke(grant.policyId), (r) => `refund tx ${r.txHash?.slice(0, 12)}…, ${r.nodes.filter((n) => n.ok).length} nodes acknowledged`);

  await timed("Bob tries again and is refused", async () => {
    try {
      await bob.read(id, grant);
    } catch (e) {
      if (e instanceof RetrievalError && e.revoked) return e;
      throw e;
    }
    throw new Error("Bob could still read after revocation");
  }, (e) => e.failures.map((f) => `${f.staker.slice(0, 10)} ${f.code ?? f.kind}`).join("; "));

  console.log(`\nDemo complete in ${((performance.now() - total) / 1000).toFixed(1)} s.`);
}

async function cleanup(): Promise<void> {
  await Promise.all(children.map((c) => c.stop("SIGTERM")));
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
}

main()
  .then(cleanup, async (e: unknown) => {
    console.error(`\ndemo failed: ${(e as Error).message}`);
    await cleanup();
    process.exitCode = 1;
  })
  .finally(() => {
    // The in-process chain keeps timers alive; the demo is done.
    setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
  });
