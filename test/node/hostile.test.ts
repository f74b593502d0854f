// Issue #15 item 7: the agent under hostile load. Each test reproduces one measured failure.
import { expect } from "chai";
import { ethers } from "hardhat";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { spawn } from "node:child_process";
import { NodeStore } from "../../src/node/store";
import { createKeystore, loadKeystore } from "../../src/node/keys";
import { buildReencryptRequest, type EthSigning } from "../../src/node/protocol";
import * as umbral from "../../src/umbral";
import { startInProcessAgent, type InProcessAgent } from "./in-process-agent";
import { accountWallet, capsulesFor, createPolicy, deployNetwork, setupNode, uploadFor, type Network, type TestNode, type TestPolicy } from "./helpers";

const BIN = join(__dirname, "..", "..", "bin", "nkms.js");

/** Runs the real `nkms` bin; resolves with its exit code and output. */
function nkms(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NKMS_UNSAFE_TEST_MODE: "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    proc.on("error", reject);
    proc.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe("node agent under hostile load (issue #15 item 7)", function () {
  let dir: string;
  let net: Network;
  let node: TestNode;
  let agent: InProcessAgent;
  let payer: Awaited<ReturnType<typeof ethers.getSigners>>[number];
  const owner = accountWallet(15);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nkms-hostile-"));
    net = await deployNetwork();
    const signers = await ethers.getSigners();
    payer = signers[10];
    node = await setupNode(net, signers[1], 2, ethers.provider);
    agent = await startInProcessAgent(net, node, dir);
  });
  after(async () => {
    await agent?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function post(app: FastifyInstance, url: string, body: unknown) {
    const res = await app.inject({ method: "POST", url, payload: body as object });
    return { status: res.statusCode, headers: res.headers, json: res.json() as Record<string, unknown> & { error?: { code: string; message: string } } };
  }

  function reencrypt(a: InProcessAgent, p: TestPolicy, capsules: umbral.Capsule[], signer: umbral.Signer | EthSigning = p.bobSigner) {
    return buildReencryptRequest(signer, node.staker.address, p.policyIdBytes, capsules.map((c) => c.toBytes())).then((req) =>
      post(a.app, `/v1/policies/${p.policyId}/reencrypt`, req),
    );
  }

  it("answers 409 KFRAG_CONFLICT to a re-upload whose reader or conditions differ from what it holds; an identical one stays idempotent", async () => {
    const p = await createPolicy(net, payer, owner, [node.staker.address]);
    const url = `/v1/policies/${p.policyId}/kfrag`;
    const first = await uploadFor(p, 0);
    expect((await post(agent.app, url, first)).status).to.equal(201);
    expect((await post(agent.app, url, first)).status).to.equal(200);
    const tighterReader = await post(agent.app, url, await uploadFor(p, 0, { reader: { address: accountWallet(17).address } }));
    expect(tighterReader.status, JSON.stringify(tighterReader.json)).to.equal(409);
    expect(tighterReader.json.error!.code).to.equal("KFRAG_CONFLICT");
    const tighterConditions = await post(agent.app, url, await uploadFor(p, 0, { conditions: { op: "time", notAfter: 4_000_000_000 } }));
    expect(tighterConditions.status).to.equal(409);
    expect(tighterConditions.json.error!.code).to.equal("KFRAG_CONFLICT");
    // What is held is unchanged: the first upload's (open) rules still apply.
    expect(agent.store.get(p.policyIdBytes)!.meta!.reader).to.equal(null);
    expect((await post(agent.app, url, first)).status).to.equal(200);
  });

  it("creates its data directory 0700 and the SQLite files (and -wal/-shm) 0600", () => {
    const data = join(dir, "perm", "data");
    const path = join(data, "node.sqlite");
    // As runNode does before opening the store (and as an operator's mkdir would: umask 022).
    mkdirSync(data, { recursive: true });
    const store = NodeStore.open(path, new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(20)));
    try {
      store.setSetting("x", "1");
      const mode = (p: string) => statSync(p).mode & 0o777;
      expect(mode(data).toString(8), "data dir").to.equal("700");
      for (const f of [path, path + "-wal", path + "-shm"]) expect(mode(f).toString(8), f).to.equal("600");
    } finally {
      store.close();
    }
  });

  it("refuses a keystore with a cheap scrypt cost or a short password (library and `nkms keys create`), one clear line each", async function () {
    this.timeout(120_000);
    const strong = "correct horse battery staple";
    const ks = (name: string) => join(dir, "ks", name + ".json");
    await expectReject(createKeystore(ks("n2"), strong, undefined, { scryptN: 2 }), /scrypt cost .*at least 32768/);
    await expectReject(createKeystore(ks("n1024"), strong, undefined, { scryptN: 1024 }), /scrypt cost .*at least 32768/);
    await expectReject(createKeystore(ks("n3"), strong, undefined, { scryptN: 3 * 16384 }), /power of two/);
    await expectReject(createKeystore(ks("pw"), "ab", undefined, { scryptN: 1024, unsafeTestMode: true }), /at least 12 characters/);
    // The test-only floor is explicit, and still a floor.
    await expectReject(createKeystore(ks("t2"), strong, undefined, { scryptN: 2, unsafeTestMode: true }), /at least 1024/);
    const address = await createKeystore(ks("ok"), strong, undefined, { scryptN: 1024, unsafeTestMode: true });
    expect((await loadKeystore(ks("ok"), strong)).address).to.equal(address);

    const home = join(dir, "cli-home");
    const cheap = await nkms(["keys", "create", "--scrypt-n", "2"], { NKMS_HOME: home, NKMS_KEYSTORE_PASSWORD: strong });
    expect(cheap.code, cheap.stderr).to.equal(2);
    expect(cheap.stderr).to.match(/^nkms: [^\n]*scrypt[^\n]*32768[^\n]*\n$/);
    const short = await nkms(["keys", "create", "--scrypt-n", "1024"], { NKMS_HOME: home, NKMS_KEYSTORE_PASSWORD: "ab", NKMS_UNSAFE_TEST_MODE: "1" });
    expect(short.code, short.stderr).to.equal(8);
    expect(short.stderr).to.match(/^nkms: [^\n]*at least 12 characters[^\n]*\n$/);
    const op = await nkms(["node", "init", "--keystore-path", join(home, "op.json")], { NKMS_HOME: home, NKMS_KEYSTORE_PASSWORD: "ab" });
    expect(op.code, op.stderr).to.equal(8);
    expect(op.stderr).to.match(/^nkms: [^\n]*at least 12 characters[^\n]*\n$/);
    const fine = await nkms(["keys", "create", "--scrypt-n", "1024", "--json"], { NKMS_HOME: home, NKMS_KEYSTORE_PASSWORD: strong, NKMS_UNSAFE_TEST_MODE: "1" });
    expect(fine.code, fine.stderr).to.equal(0);
  });
});

async function expectReject(p: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect((e as Error).message).to.match(message);
    return;
  }
  expect.fail(`expected a rejection matching ${message}`);
}
