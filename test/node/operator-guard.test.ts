// One operator, one live agent (issue #15, item 4), with real agent processes on Foundry's Anvil
// (a second EVM implementation) mining a block every second: a second agent on the same data dir
// refuses (exit 11 busy, one line), an agent on a taken port refuses and leaves no empty database,
// an agent with another data dir and port refuses to overwrite the on-chain endpoint while the
// instance there answers the operator challenge, and takes over once it is dead or answers wrongly
// (a replayed answer counts as wrong).
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { setupNode } from "./helpers";
import { deployExternal, startAnvil, writeOperatorKeystore, type AgentFiles } from "./multiproc";
import type { Network } from "./helpers";

const ROOT = join(__dirname, "..", "..");
const BUSY = 11;

type Run =
  | { kind: "listening"; url: string; proc: ChildProcess; out: () => string; stop(signal?: NodeJS.Signals): Promise<void> }
  | { kind: "exit"; code: number | null; stderr: string; stdout: string };

/** `nkms node run` as its own process: resolves when it listens or when it exits. */
function runAgent(files: AgentFiles, rpcUrl: string, net: Network, dataDir: string, port: number): Promise<Run> {
  const config = join(files.dir, `config-${randomBytes(4).toString("hex")}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      keystorePath: files.keystore,
      dataDir,
      port,
      rpcUrl,
      stakingEscrow: net.core.escrowAddress,
      policyManager: net.policyManagerAddress,
      logLevel: "warn",
      revocationPollMs: 500,
    }),
  );
  const proc = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "node", "run", "--config", config], {
    cwd: ROOT,
    env: { ...process.env, NKMS_KEYSTORE_PASSWORD: files.password },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent neither listened nor exited: ${stderr}`)), 120_000);
    proc.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split("\n").find((l) => l.includes('"listening"'));
      if (line) {
        clearTimeout(timer);
        proc.removeAllListeners("exit");
        resolve({
          kind: "listening",
          url: (JSON.parse(line) as { url: string }).url,
          proc,
          out: () => stdout,
          stop: (signal = "SIGTERM") =>
            new Promise((done) => {
              if (proc.exitCode !== null || proc.signalCode !== null) return done();
              proc.once("exit", () => done());
              proc.kill(signal);
            }),
        });
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      // Let the pipes drain.
      setTimeout(() => resolve({ kind: "exit", code, stderr, stdout }), 50);
    });
  });
}

function listening(r: Run): Extract<Run, { kind: "listening" }> {
  if (r.kind !== "listening") throw new Error(`agent exited ${r.code}: ${r.stderr}`);
  return r;
}

function refused(r: Run, pattern: RegExp): void {
  if (r.kind === "listening") {
    void r.stop("SIGKILL");
    throw new Error("the agent started; it should have refused");
  }
  expect(r.stderr, r.stderr).to.match(/^nkms: [^\n]+\n$/);
  expect(r.stderr).to.match(pattern);
  expect(r.code, r.stderr).to.equal(BUSY);
}

async function challenge(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/operator-challenge`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("one live agent per operator: data-dir lock, port in use, endpoint challenge (anvil, timed blocks)", function () {
  this.timeout(600_000);
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let dir: string;
  const running: Extract<Run, { kind: "listening" }>[] = [];
  const servers: Server[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nkms-guard-"));
    chain = await startAnvil({ blockTime: 1, accounts: 10 });
  });
  after(async () => {
    for (const r of running) await r.stop("SIGKILL");
    for (const s of servers) s.close();
    await chain?.stop();
    chain?.provider.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a second agent on the data dir, a taken port, and a live endpoint; takes over a dead or lying one", async () => {
    const net = await deployExternal(chain.provider);
    // Registered at a dead endpoint, as a stopped earlier instance leaves it.
    await setupNode(net, net.wallets[1], 4, chain.provider);
    const files = await writeOperatorKeystore(dir, 4);
    const escrow = net.core.escrow;
    const staker = net.wallets[1].address;
    const endpoint = async () => (await escrow.nodeInfo(staker)).endpoint;

    const dataA = join(dir, "data-a");
    const a = listening(await runAgent(files, chain.url, net, dataA, 0));
    running.push(a);
    expect(await endpoint()).to.equal(a.url);
    expect(a.out()).to.match(/taking over the on-chain endpoint[^\n]*http:\/\/127\.0\.0\.1:1/);

    // Same data dir, another port.
    refused(await runAgent(files, chain.url, net, dataA, 0), /data dir .* in use by another node agent/);
    // Same port, a fresh data dir: one line, and no empty database left behind.
    const dataC = join(dir, "data-c");
    const port = Number(new URL(a.url).port);
    refused(await runAgent(files, chain.url, net, dataC, port), /PORT_IN_USE|port .* already in use/);
    expect(existsSync(dataC) ? readdirSync(dataC) : []).to.deep.equal([]);
    // Another data dir and port: the on-chain endpoint answers the challenge, so it stays.
    const dataD = join(dir, "data-d");
    refused(await runAgent(files, chain.url, net, dataD, 0), /endpoint .* is live/);
    expect(await endpoint()).to.equal(a.url);

    // The challenge endpoint checks the request's shape first and signs a fresh nonce only.
    const bad = await challenge(a.url, { nonce: "0x1234" });
    expect(bad.status).to.equal(400);
    expect(bad.json).to.have.nested.property("error.code");
    const nonce = "0x" + randomBytes(32).toString("hex");
    const good = await challenge(a.url, { nonce });
    expect(good.status, JSON.stringify(good.json)).to.equal(200);
    expect(good.json.endpoint).to.equal(a.url);

    // The live instance dies: the next one takes over, and says so.
    await a.stop("SIGKILL");
    const d = listening(await runAgent(files, chain.url, net, dataD, 0));
    running.push(d);
    expect(await endpoint()).to.equal(d.url);
    expect(d.out()).to.include("taking over the on-chain endpoint");

    // A flood of challenges is rate-limited (429 in the API's shape), not signed one by one.
    const statuses = await Promise.all(Array.from({ length: 40 }, () => challenge(d.url, { nonce }).then((r) => r.status)));
    expect(statuses).to.include(429);

    // Something else at the on-chain endpoint replays the old instance's signed answer: wrong, so taken over.
    const dPort = Number(new URL(d.url).port);
    await d.stop("SIGTERM");
    const liar = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ ...good.json, endpoint: d.url }));
      });
    });
    servers.push(liar);
    await new Promise<void>((resolve) => liar.listen(dPort, "127.0.0.1", resolve));
    const e = listening(await runAgent(files, chain.url, net, dataD, 0));
    running.push(e);
    expect(await endpoint()).to.equal(e.url);
    expect(e.out()).to.match(/taking over the on-chain endpoint[^\n]*wrong/);
  });
});
