// `npm run bench:node`: re-encryptions per second and latency of the node agent over loopback
// HTTP at 1, 16 and 64 concurrent clients, beside the raw in-process single-core reencrypt rate
// measured in the same run. The agent runs as its own process (main.ts) against a `hardhat node`
// child, exactly as operators run it. Writes bench/results/node.json.
import fs from "node:fs";
import path from "node:path";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, availableParallelism } from "node:os";
import * as umbral from "../src/umbral";
import { buildReencryptRequest } from "../src/node/protocol";
import { reencryptAndStamp } from "../src/node/reencrypt-task";
import { capsulesFor, createPolicy, setupNode, uploadFor } from "../test/node/helpers";
import { deployExternal, spawnAgent, startHardhatNode, writeOperatorKeystore } from "../test/node/multiproc";

const BATCH = Number(process.env.NKMS_BENCH_BATCH ?? 16);
const SECONDS = Number(process.env.NKMS_BENCH_SECONDS ?? 6);
const LEVELS = (process.env.NKMS_BENCH_LEVELS ?? "1,16,64").split(",").map(Number);

interface Level {
  per_s: number;
  p50_ms: number;
  p99_ms: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface RateOp {
  run: () => void;
  /** Operations one call does. */
  perCall: number;
}

/**
 * Single-thread operations per second of each op, measured in alternating 0.5 s slices so all see
 * the same machine load, and summarised by the fastest slice (as bench/umbral.ts does: slower
 * slices measure the neighbours, not the code).
 */
function ratesPerSecond(ops: RateOp[], slices = 8): number[] {
  for (const op of ops) for (let i = 0; i < 20; i++) op.run(); // warm-up
  const best = ops.map(() => 0);
  for (let slice = 0; slice < slices; slice++) {
    ops.forEach((op, k) => {
      let n = 0;
      const start = performance.now();
      while (performance.now() - start < 500) {
        op.run();
        n += op.perCall;
      }
      best[k] = Math.max(best[k], n / ((performance.now() - start) / 1000));
    });
  }
  return best;
}

function post(agent: http.Agent, url: URL, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "nkms-bench-"));
  const chain = await startHardhatNode();
  let agentProc: Awaited<ReturnType<typeof spawnAgent>> | undefined;
  try {
    const net = await deployExternal(chain.provider);
    const staker = net.wallets[1];
    const node = await setupNode(net, staker, 4, chain.provider);
    const files = await writeOperatorKeystore(dir, 4);
    const policy = await createPolicy(net, net.wallets[10], net.wallets[15], [staker.address], { periods: 3 });
    agentProc = await spawnAgent(files, chain.url, net);
    const base = new URL(agentProc.url);
    const upload = await fetch(`${agentProc.url}/v1/policies/${policy.policyId}/kfrag`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(await uploadFor(policy, 0)),
    });
    if (upload.status !== 201) throw new Error(`kfrag upload failed: ${await upload.text()}`);
    void node;

    const { capsules } = capsulesFor(policy, BATCH);
    const rawCapsules = capsules.map((c) => c.toBytes());
    // What a worker does per capsule besides reencrypt (parse and self-check the capsule, stamp
    // the batch): the same code the workers run, on one core, so the HTTP rate can also be read
    // against the node's own ceiling.
    const stampContext = {
      staker: staker.address,
      stampPeriod: 0,
      policyCreator: staker.address,
      policyId: policy.policyIdBytes,
      delegatingKey: policy.alice.publicKey().toCompressedBytes(),
      receivingKey: policy.bob.publicKey().toCompressedBytes(),
      verifyingKey: policy.aliceSigner.verifyingKey().toCompressedBytes(),
    };
    const stamp = new umbral.Signer(umbral.SecretKey.random());
    const [raw, nodeWork] = ratesPerSecond([
      { run: () => umbral.reencrypt(capsules[0], policy.kfrags[0]), perCall: 1 },
      { run: () => reencryptAndStamp(policy.kfrags[0], stamp, stampContext, rawCapsules), perCall: BATCH },
    ]);
    console.log(`raw single-core reencrypt: ${raw.toFixed(0)}/s; node work per capsule (parse + reencrypt + stamp): ${nodeWork.toFixed(0)}/s`);

    const url = new URL(`/v1/policies/${policy.policyId}/reencrypt`, base);
    const http_: Record<string, Level> = {};
    for (const c of LEVELS) {
      // Signed, unique-nonce requests prepared before the clock starts.
      const estimate = Math.ceil(((raw * 2.2) / BATCH) * SECONDS) + c * 4;
      const bodies: string[] = [];
      for (let i = 0; i < estimate; i++) {
        bodies.push(JSON.stringify(await buildReencryptRequest(policy.bobSigner, staker.address, policy.policyIdBytes, rawCapsules)));
      }
      const agent = new http.Agent({ keepAlive: true, maxSockets: c });
      // Warm-up: a few requests per connection.
      await Promise.all(Array.from({ length: c }, () => post(agent, url, bodies.pop()!)));
      const latencies: number[] = [];
      let done = 0;
      let failures = 0;
      const start = performance.now();
      const stopAt = start + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: c }, async () => {
          while (performance.now() < stopAt && bodies.length) {
            const t0 = performance.now();
            const res = await post(agent, url, bodies.pop()!);
            latencies.push(performance.now() - t0);
            if (res.status === 200) done += BATCH;
            else failures++;
          }
        }),
      );
      const elapsed = (performance.now() - start) / 1000;
      agent.destroy();
      latencies.sort((a, b) => a - b);
      http_[`c${c}`] = {
        per_s: Math.round(done / elapsed),
        p50_ms: Number(percentile(latencies, 50).toFixed(2)),
        p99_ms: Number(percentile(latencies, 99).toFixed(2)),
      };
      if (failures) console.log(`  c${c}: ${failures} non-200 answers`);
    }

    const result = { raw_single_core_per_s: Math.round(raw), node_work_single_core_per_s: Math.round(nodeWork), http: http_ };
    const target = 0.8 * 2 * raw;
    console.table(
      Object.entries(http_).map(([k, v]) => ({
        clients: k,
        "reenc/s": v.per_s,
        "p50 ms": v.p50_ms,
        "p99 ms": v.p99_ms,
        "vs raw 1-core": (v.per_s / raw).toFixed(2) + "x",
        "vs 2x raw": ((v.per_s / (2 * raw)) * 100).toFixed(0) + "%",
        "vs 2x node work": ((v.per_s / (2 * nodeWork)) * 100).toFixed(0) + "%",
      })),
    );
    const c64 = http_.c64?.per_s;
    console.log(
      `batch ${BATCH} capsules/request, ${availableParallelism()} cores; goal at c64 >= ${target.toFixed(0)}/s (80% of 2x raw): ` +
        `${c64 === undefined ? "not measured" : c64 >= target ? "met" : "NOT met"}; ` +
        `the node's own ceiling on 2 idle cores (2x node work, no HTTP, no load generator, no chain): ${(2 * nodeWork).toFixed(0)}/s`,
    );
    if (process.env.NKMS_BENCH_LEVELS !== undefined) return; // a partial run leaves the committed results alone
    const out = path.join(__dirname, "results", "node.json");
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
    console.log(`wrote ${path.relative(process.cwd(), out)}`);
  } finally {
    await agentProc?.stop();
    await chain.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
