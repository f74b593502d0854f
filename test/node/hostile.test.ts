// Issue #15 item 7: the agent under hostile load. Each test reproduces one measured failure.
import { runNkms, type NkmsRun } from "../shared/nkms-bin";
import { expect } from "chai";
import { ethers } from "hardhat";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { connect, type Socket } from "node:net";
import { createServer, type Server } from "node:http";
import { EthersNodeChain, makeProvider } from "../../src/node/chain";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { NodeStore } from "../../src/node/store";
import { createKeystore, loadKeystore } from "../../src/node/keys";
import { buildReencryptRequest, signRevocation, type EthSigning } from "../../src/node/protocol";
import * as umbral from "../../src/umbral";
import { startInProcessAgent, type InProcessAgent } from "./in-process-agent";
import { accountWallet, capsulesFor, createPolicy, deployNetwork, setupNode, uploadFor, type Network, type TestNode, type TestPolicy } from "./helpers";

/** Sends raw bytes to 127.0.0.1:port and returns what came back once the server closed (or 10 s passed). */
function rawRequest(port: number, data: string | Buffer): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => sock.destroy(), 10_000);
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", () => undefined);
    sock.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (!m) return reject(new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`));
      const split = text.indexOf("\r\n\r\n");
      resolve({ status: Number(m[1]), headers: text.slice(0, split), body: text.slice(split + 4) });
    });
    sock.write(data);
  });
}

/** Decodes a chunked body when the headers say so. */
function dechunk(headers: string, body: string): string {
  if (!/transfer-encoding: chunked/i.test(headers)) return body;
  let out = "";
  let rest = body;
  for (;;) {
    const eol = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/**
 * A slow client: sends `head`, then one byte every 200 ms (at most `maxWrites`), never finishing.
 * `closed` resolves with how long the server took to close the connection.
 */
function trickle(port: number, head: string, maxWrites = 75): { socket: Socket; closed: Promise<number> } {
  const socket = connect(port, "127.0.0.1");
  const started = Date.now();
  let writes = 0;
  socket.on("error", () => undefined);
  socket.write(head);
  const timer = setInterval(() => {
    if (socket.destroyed || writes++ >= maxWrites) return clearInterval(timer);
    socket.write("a");
  }, 200);
  const closed = new Promise<number>((resolve) =>
    socket.on("close", () => {
      clearInterval(timer);
      resolve(Date.now() - started);
    }),
  );
  return { socket, closed };
}

/** The real chain binding, except that the test can make the arrangement-status read lie (a flaky or lying RPC). */
class LyingChain extends EthersNodeChain {
  /** How many of the next isActiveArrangement reads answer false whatever the chain says. */
  lies = 0;
  reads: { block?: number; answer: boolean }[] = [];

  override async isActiveArrangement(policyId: Uint8Array, staker: string, blockNumber?: number): Promise<boolean> {
    const truth = await super.isActiveArrangement(policyId, staker, blockNumber);
    const answer = this.lies > 0 ? (this.lies--, false) : truth;
    this.reads.push({ block: blockNumber, answer });
    return answer;
  }
}


/** Runs the real `nkms` bin; resolves with its exit code and output. */
function nkms(args: string[], env: Record<string, string>): Promise<NkmsRun> {
  return runNkms(args, { env: { NKMS_UNSAFE_TEST_MODE: "", ...env } });
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

  it("times out trickling headers and bodies, caps connections, and still answers a normal request", async function () {
    this.timeout(60_000);
    const listening = await startInProcessAgent(net, node, mkdtempSync(join(dir, "slow-")), {
      http: { headersTimeoutMs: 1000, requestTimeoutMs: 1500, idleTimeoutMs: 1000, keepAliveTimeoutMs: 500, maxConnections: 8 },
    });
    const slow: ReturnType<typeof trickle>[] = [];
    try {
      const address = await listening.app.listen({ host: "127.0.0.1", port: 0 });
      const port = Number(new URL(address).port);
      const p = await createPolicy(net, payer, owner, [node.staker.address]);
      // 12 slow clients against a cap of 8: half trickle their headers, half their bodies.
      for (let i = 0; i < 6; i++) slow.push(trickle(port, "GET /v1/ping HTTP/1.1\r\nHost: x\r\nX-Slow: "));
      for (let i = 0; i < 6; i++) {
        slow.push(trickle(port, `POST /v1/policies/${p.policyId}/revoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"signature":"`));
      }
      const deadline = new Promise<"open">((resolve) => setTimeout(() => resolve("open"), 8_000));
      const closedAfter = await Promise.all(slow.map((t) => Promise.race([t.closed, deadline])));
      expect(closedAfter.filter((t) => t === "open").length, `connections still open after 8 s: ${JSON.stringify(closedAfter)}`).to.equal(0);
      for (const ms of closedAfter as number[]) expect(ms).to.be.below(5_000);
      // The 4 beyond the cap were closed on accept, long before any timeout.
      expect((closedAfter as number[]).filter((ms) => ms < 700).length, JSON.stringify(closedAfter)).to.be.at.least(4);
      const ping = await fetch(`${address}/v1/ping`);
      expect(ping.status).to.equal(200);
    } finally {
      for (const t of slow) t.socket.destroy();
      await listening.close();
    }
  });

  it("answers every framework-level error in the API shape: 414, 431, bad URL, malformed request, parser errors, media type, body too large", async () => {
    const listening = await startInProcessAgent(net, node, mkdtempSync(join(dir, "shape-")));
    try {
      const address = await listening.app.listen({ host: "127.0.0.1", port: 0 });
      const port = Number(new URL(address).port);
      const p = await createPolicy(net, payer, owner, [node.staker.address]);
      const json = (path: string, body: string, type = "application/json") =>
        `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const cases: [string, string | Buffer, number, string][] = [
        ["414 long path parameter", json(`/v1/policies/0x${"ab".repeat(3000)}/kfrag`, "{}"), 414, "URI_TOO_LONG"],
        ["431 header overflow", `GET /v1/ping HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431, "HEADERS_TOO_LARGE"],
        ["bad URL encoding", "GET /v1/policies/%zz/kfrag HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400, "BAD_URL"],
        ["malformed request line", "NOT HTTP AT ALL\r\n\r\n", 400, "BAD_HTTP_REQUEST"],
        ["bad content-length", "POST /v1/ping HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "BAD_HTTP_REQUEST"],
        ["JSON parse error", json(`/v1/policies/${p.policyId}/revoke`, '{"signature":'), 400, "BAD_JSON"],
        ["unsupported media type", json(`/v1/policies/${p.policyId}/revoke`, "hello", "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE"],
        ["body too large", json(`/v1/policies/${p.policyId}/revoke`, JSON.stringify({ signature: "a".repeat(100_000) })), 413, "BODY_TOO_LARGE"],
        ["unknown route", "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "NOT_FOUND"],
      ];
      for (const [what, request, status, code] of cases) {
        const res = await rawRequest(port, request);
        expect(res.status, `${what}: ${res.headers} ${res.body}`).to.equal(status);
        expect(res.headers, what).to.match(/content-type: application\/json/i);
        const body = JSON.parse(dechunk(res.headers, res.body)) as { error?: { code?: unknown; message?: unknown } };
        expect(Object.keys(body), `${what}: ${res.body}`).to.deep.equal(["error"]);
        expect(body.error!.code, `${what}: ${res.body}`).to.equal(code);
        expect(body.error!.message, what).to.be.a("string").and.not.equal("");
      }
    } finally {
      await listening.close();
    }
  });

  it("refuses a signed re-encryption request replayed after the agent restarts on the same data directory", async () => {
    const dataDir = mkdtempSync(join(dir, "replay-"));
    let first = await startInProcessAgent(net, node, dataDir);
    const p = await createPolicy(net, payer, owner, [node.staker.address]);
    const { capsules } = capsulesFor(p, 1);
    const req = await buildReencryptRequest(p.bobSigner, node.staker.address, p.policyIdBytes, capsules.map((c) => c.toBytes()));
    const url = `/v1/policies/${p.policyId}/reencrypt`;
    try {
      expect((await post(first.app, `/v1/policies/${p.policyId}/kfrag`, await uploadFor(p, 0))).status).to.equal(201);
      expect((await post(first.app, url, req)).status).to.equal(200);
      expect((await post(first.app, url, req)).json.error!.code).to.equal("REPLAYED_REQUEST");
    } finally {
      await first.close();
    }
    first = await startInProcessAgent(net, node, dataDir);
    try {
      const replay = await post(first.app, url, req);
      expect(replay.status, JSON.stringify(replay.json)).to.equal(409);
      expect(replay.json.error!.code).to.equal("REPLAYED_REQUEST");
      // A fresh request still works, and the ledger forgets nonces whose window has passed.
      const fresh = await buildReencryptRequest(p.bobSigner, node.staker.address, p.policyIdBytes, capsules.map((c) => c.toBytes()));
      expect((await post(first.app, url, fresh)).status).to.equal(200);
    } finally {
      await first.close();
    }
  });

  it("answers 503 CHAIN_UNAVAILABLE with Retry-After, in bounded time, when the chain RPC stalls", async () => {
    // A JSON-RPC endpoint that accepts every request and never answers.
    const sockets = new Set<Socket>();
    const stall: Server = createServer(() => undefined);
    stall.on("connection", (s: Socket) => sockets.add(s));
    await new Promise<void>((resolve) => stall.listen(0, "127.0.0.1", resolve));
    const provider = makeProvider(`http://127.0.0.1:${(stall.address() as { port: number }).port}`);
    const dataDir = mkdtempSync(join(dir, "stall-"));
    const p = await createPolicy(net, payer, owner, [node.staker.address]);
    const healthy = await startInProcessAgent(net, node, dataDir);
    try {
      expect((await post(healthy.app, `/v1/policies/${p.policyId}/kfrag`, await uploadFor(p, 0))).status).to.equal(201);
    } finally {
      await healthy.close();
    }
    const stalled = await startInProcessAgent(net, node, dataDir, {
      chain: new EthersNodeChain(provider, { stakingEscrow: net.core.escrowAddress, policyManager: net.policyManagerAddress }),
      chainTimeoutMs: 500,
    });
    try {
      const { capsules } = capsulesFor(p, 1);
      const other = await createPolicy(net, payer, owner, [node.staker.address]);
      const calls: [string, () => Promise<{ status: number; headers: Record<string, unknown>; json: { error?: { code: string } } }>][] = [
        ["reencrypt", () => reencrypt(stalled, p, capsules)],
        ["kfrag upload", async () => post(stalled.app, `/v1/policies/${other.policyId}/kfrag`, await uploadFor(other, 0))],
      ];
      for (const [what, call] of calls) {
        const started = Date.now();
        const bounded = await Promise.race([call(), new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 10_000))]);
        expect(bounded, `${what} hung on the stalled RPC`).to.not.equal("hung");
        const res = bounded as Exclude<typeof bounded, "hung">;
        expect(res.status, `${what}: ${JSON.stringify(res.json)}`).to.equal(503);
        expect(res.json.error!.code).to.equal("CHAIN_UNAVAILABLE");
        expect(Number(res.headers["retry-after"])).to.be.greaterThan(0);
        expect(Date.now() - started).to.be.below(5_000);
      }
    } finally {
      await stalled.close();
      provider.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => stall.close(resolve));
    }
  });

  it("revocation cancels re-encryptions queued for the policy: no answer leaves after the revocation is acknowledged", async function () {
    this.timeout(120_000);
    const slowAgent = await startInProcessAgent(net, node, mkdtempSync(join(dir, "cancel-")), { workers: 1 });
    try {
      const p = await createPolicy(net, payer, owner, [node.staker.address]);
      const bystander = await createPolicy(net, payer, owner, [node.staker.address]);
      for (const q of [p, bystander]) expect((await post(slowAgent.app, `/v1/policies/${q.policyId}/kfrag`, await uploadFor(q, 0))).status).to.equal(201);
      const { capsules } = capsulesFor(p, 64);
      const { capsules: other } = capsulesFor(bystander, 8);
      // A burst that keeps one worker busy for a while, so most of it is still queued.
      const finished: { status: number; code?: string; at: number }[] = [];
      const burst = Array.from({ length: 6 }, () =>
        reencrypt(slowAgent, p, capsules).then((r) => finished.push({ status: r.status, code: r.json.error?.code, at: performance.now() })),
      );
      const unaffected = reencrypt(slowAgent, bystander, other);
      for (let i = 0; i < 500 && slowAgent.pool.queueDepth === 0; i++) await new Promise((r) => setTimeout(r, 5));
      expect(slowAgent.pool.queueDepth, "the burst never queued").to.be.greaterThan(0);
      const revoked = await post(slowAgent.app, `/v1/policies/${p.policyId}/revoke`, await signRevocation(owner, p.policyIdBytes));
      const ackAt = performance.now();
      expect(revoked.status).to.equal(200);
      await Promise.all(burst);
      for (const f of finished) {
        if (f.at > ackAt) expect(f, "answered after the revocation was acknowledged").to.deep.include({ status: 410, code: "POLICY_REVOKED" });
      }
      expect(finished.filter((f) => f.status === 410).length, JSON.stringify(finished)).to.be.greaterThan(0);
      // Other policies' work is untouched, and nothing is left queued.
      expect((await unaffected).status).to.equal(200);
      expect(slowAgent.pool.queueDepth).to.equal(0);
    } finally {
      await slowAgent.close();
    }
  });

  it("stops serving on one 'not active' read but destroys the kfrag only after two reads two blocks apart both say so", async () => {
    const chain = new LyingChain(ethers.provider, { stakingEscrow: net.core.escrowAddress, policyManager: net.policyManagerAddress });
    const a = await startInProcessAgent(net, node, mkdtempSync(join(dir, "confirm-")), { chain });
    try {
      const p = await createPolicy(net, payer, owner, [node.staker.address], { periods: 5 });
      expect((await post(a.app, `/v1/policies/${p.policyId}/kfrag`, await uploadFor(p, 0))).status).to.equal(201);
      const { capsules } = capsulesFor(p, 1);
      const held = () => a.store.get(p.policyIdBytes)!;
      expect((await reencrypt(a, p, capsules)).status).to.equal(200);

      // One lying read (at a new block: statuses are cached per block): refused at once, kfrag kept.
      await mine(1);
      chain.lies = 1;
      expect((await reencrypt(a, p, capsules)).json.error!.code).to.equal("POLICY_REVOKED");
      expect(held().state).to.equal("active");
      expect(held().kfrag).to.not.equal(null);
      expect((await reencrypt(a, p, capsules)).json.error!.code, "still refused until the chain is read again").to.equal("POLICY_REVOKED");
      // Two blocks later the chain says active: the suspension is lifted and the policy served again.
      await mine(2);
      await a.service.pollRevocations();
      expect(held().state).to.equal("active");
      expect((await reencrypt(a, p, capsules)).status).to.equal(200);

      // A real on-chain revocation: refused at once, destroyed only once confirmed two blocks later.
      await (await net.policyManager.connect(owner.connect(ethers.provider)).revokeArrangement(p.policyId, node.staker.address)).wait();
      expect((await reencrypt(a, p, capsules)).json.error!.code).to.equal("POLICY_REVOKED");
      await a.service.pollRevocations();
      expect(held().state, "destroyed on the first read").to.equal("active");
      await mine(1);
      await a.service.pollRevocations();
      expect(held().state, "destroyed one block after the first read").to.equal("active");
      expect((await reencrypt(a, p, capsules)).json.error!.code).to.equal("POLICY_REVOKED");
      await mine(1);
      await a.service.pollRevocations();
      expect(held().state).to.equal("revoked");
      expect(held().kfrag).to.equal(null);
    } finally {
      await a.close();
    }
  });

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
