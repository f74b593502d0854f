import { expect } from "chai";
import { ethers } from "hardhat";
import { mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Wallet, getBytes, hexlify, id as keccakId } from "ethers";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import * as umbral from "../../src/umbral";
import { EthersNodeChain } from "../../src/node/chain";
import { startInProcessAgent, type InProcessAgent } from "./in-process-agent";
import { buildReencryptRequest, signRevocation, verifyCFragStamp, type EthSigning, type ReencryptResponse } from "../../src/node/protocol";
import { accountWallet, capsulesFor, createPolicy, deployNetwork, setupNode, uploadFor, type Network, type TestNode, type TestPolicy } from "./helpers";

type Agent = InProcessAgent;

/** The real chain binding, counting the arrangement-status calls it makes. */
class CountingChain extends EthersNodeChain {
  statusCalls = 0;

  override isActiveArrangement(policyId: Uint8Array, staker: string, blockNumber?: number): Promise<boolean> {
    this.statusCalls++;
    return super.isActiveArrangement(policyId, staker, blockNumber);
  }
}

function chainOf(net: Network): CountingChain {
  return new CountingChain(ethers.provider, { stakingEscrow: net.core.escrowAddress, policyManager: net.policyManagerAddress });
}

function startAgent(net: Network, node: TestNode, dir: string, chain?: EthersNodeChain): Promise<Agent> {
  return startInProcessAgent(net, node, dir, { chain });
}

async function post(app: FastifyInstance, url: string, body: unknown) {
  const res = await app.inject({ method: "POST", url, payload: body as object });
  return { status: res.statusCode, json: res.json() as Record<string, unknown> & { error?: { code: string; message: string } } };
}

describe("node agent (in-process, Hardhat chain)", function () {
  let dir: string;
  let net: Network;
  let nodeA: TestNode;
  let nodeB: TestNode;
  let agentA: Agent;
  let agentB: Agent;
  let payer: Awaited<ReturnType<typeof ethers.getSigners>>[number];
  const owner = accountWallet(15);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nkms-agent-"));
    net = await deployNetwork();
    const signers = await ethers.getSigners();
    payer = signers[10];
    nodeA = await setupNode(net, signers[1], 2, ethers.provider);
    nodeB = await setupNode(net, signers[3], 4, ethers.provider);
    agentA = await startAgent(net, nodeA, dir);
    agentB = await startAgent(net, nodeB, dir);
  });

  after(async () => {
    await agentA?.close();
    await agentB?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const idx = (p: TestPolicy, n: TestNode) => p.nodes.indexOf(n.staker.address);

  async function reencrypt(agent: Agent, node: TestNode, p: TestPolicy, capsules: umbral.Capsule[], signer: umbral.Signer | EthSigning = p.bobSigner) {
    const req = await buildReencryptRequest(signer, node.staker.address, p.policyIdBytes, capsules.map((c) => c.toBytes()));
    return post(agent.app, `/v1/policies/${p.policyId}/reencrypt`, req);
  }

  it("accepts a valid kfrag once, re-encrypts, and every cfrag verifies, decrypts and carries the stamp", async () => {
    const p = await createPolicy(net, payer, owner, [nodeA.staker.address, nodeB.staker.address], { threshold: 2 });
    for (const [agent, node] of [[agentA, nodeA], [agentB, nodeB]] as const) {
      const body = await uploadFor(p, idx(p, node));
      expect(await post(agent.app, `/v1/policies/${p.policyId}/kfrag`, body)).to.deep.include({ status: 201 });
      expect((await post(agent.app, `/v1/policies/${p.policyId}/kfrag`, body)).status).to.equal(200);
    }
    const { capsules, ciphertexts, plaintexts } = capsulesFor(p, 3);
    const answers: ReencryptResponse[] = [];
    for (const [agent, node] of [[agentA, nodeA], [agentB, nodeB]] as const) {
      const res = await reencrypt(agent, node, p, capsules);
      expect(res.status, JSON.stringify(res.json)).to.equal(200);
      answers.push(res.json as unknown as ReencryptResponse);
    }
    const period = Number(await net.core.escrow.currentPeriod());
    for (let c = 0; c < capsules.length; c++) {
      const verified = answers.map((a, n) => {
        const item = a.cfrags[c];
        const cfrag = umbral.CapsuleFrag.fromBytes(getBytes(item.cfrag));
        const stampKey = [nodeA, nodeB][n].keys.stampKey.toCompressedBytes();
        // The stamp covers the staker, its date (the escrow's period), the policy (creator and id)
        // and the keys the kfrag was verified with (src/protocol/stamp.ts).
        expect(a.stampPeriod).to.equal(period);
        const context = {
          staker: [nodeA, nodeB][n].staker.address,
          stampPeriod: a.stampPeriod,
          policyCreator: owner.address,
          policyId: p.policyIdBytes,
          delegatingKey: p.alice.publicKey().toCompressedBytes(),
          receivingKey: p.bob.publicKey().toCompressedBytes(),
          verifyingKey: p.aliceSigner.verifyingKey().toCompressedBytes(),
        };
        // One signature per batch, over the root the cfrag's proof leads its leaf to.
        const stamp = { capsule: capsules[c].toBytes(), cfrag: getBytes(item.cfrag), signature: getBytes(item.signature), proof: item.stampProof.map((x) => getBytes(x)) };
        expect(verifyCFragStamp(stampKey, context, stamp)).to.equal(true);
        return cfrag.verify(capsules[c], p.aliceSigner.verifyingKey(), p.alice.publicKey(), p.bob.publicKey());
      });
      const pt = umbral.decryptReencrypted(p.bob, p.alice.publicKey(), capsules[c], verified, ciphertexts[c]);
      expect(Buffer.from(pt).equals(Buffer.from(plaintexts[c]))).to.equal(true);
    }
  });

  it("refuses kfrags that are not the owner's, not committed on-chain, not for this node, or for unknown policies", async () => {
    const p = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    const url = `/v1/policies/${p.policyId}/kfrag`;
    const good = await uploadFor(p, 0);
    // Signed by someone else.
    const forged = { ...good, ownerSignature: await Wallet.createRandom().signMessage(getBytes(keccakId("x"))) };
    expect((await post(agentA.app, url, forged)).json.error!.code).to.equal("BAD_OWNER_SIGNATURE");
    // A different (valid-looking) kfrag, re-signed by the owner, does not match the commitment.
    const other = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    const swapped = await uploadFor({ ...p, kfrags: other.kfrags, aliceSigner: other.aliceSigner, alice: other.alice, bob: other.bob }, 0);
    expect((await post(agentA.app, url, swapped)).json.error!.code).to.equal("KFRAG_COMMITMENT_MISMATCH");
    // Right kfrag, wrong publisher key: the kfrag's own signature check fails.
    const wrongKey = await uploadFor({ ...p, aliceSigner: new umbral.Signer(umbral.SecretKey.random()) }, 0);
    expect((await post(agentA.app, url, wrongKey)).json.error!.code).to.equal("KFRAG_VERIFICATION_FAILED");
    // Node B is not in this policy.
    const forB = await uploadFor({ ...p, nodes: [nodeB.staker.address] }, 0);
    expect((await post(agentB.app, url, forB)).json.error!.code).to.equal("NOT_IN_POLICY");
    // Unknown policy.
    const unknown = hexlify(randomBytes(16));
    const res = await post(agentA.app, `/v1/policies/${unknown}/kfrag`, await uploadFor({ ...p, policyId: unknown, policyIdBytes: getBytes(unknown) }, 0));
    expect(res.status).to.equal(404);
    expect(res.json.error!.code).to.equal("UNKNOWN_POLICY");
    expect(agentA.store.get(p.policyIdBytes)).to.equal(undefined);
    expect((await post(agentA.app, url, good)).status).to.equal(201);
  });

  it("authenticates readers: bad signature, replay, stale timestamp, reader restriction, Ethereum signer", async () => {
    const reader = Wallet.createRandom();
    const p = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    await post(agentA.app, `/v1/policies/${p.policyId}/kfrag`, await uploadFor(p, 0, { reader: { address: reader.address } }));
    const url = `/v1/policies/${p.policyId}/reencrypt`;
    const { capsules } = capsulesFor(p, 1);
    const bytes = capsules.map((c) => c.toBytes());
    // Umbral key not named as reader.
    expect((await reencrypt(agentA, nodeA, p, capsules)).json.error!.code).to.equal("READER_NOT_ALLOWED");
    const req = await buildReencryptRequest(reader, nodeA.staker.address, p.policyIdBytes, bytes);
    expect((await post(agentA.app, url, req)).status).to.equal(200);
    expect((await post(agentA.app, url, req)).json.error!.code).to.equal("REPLAYED_REQUEST");
    const tampered = { ...(await buildReencryptRequest(reader, nodeA.staker.address, p.policyIdBytes, bytes)), timestamp: Math.floor(Date.now() / 1000) + 1 };
    expect((await post(agentA.app, url, tampered)).json.error!.code).to.equal("BAD_SIGNATURE");
    const stale = await buildReencryptRequest(reader, nodeA.staker.address, p.policyIdBytes, bytes, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    expect((await post(agentA.app, url, stale)).json.error!.code).to.equal("STALE_REQUEST");
    // Signed for another node: the digest binds the node, so it fails here.
    const elsewhere = await buildReencryptRequest(reader, nodeB.staker.address, p.policyIdBytes, bytes);
    expect((await post(agentA.app, url, elsewhere)).json.error!.code).to.equal("BAD_SIGNATURE");
    const garbage = await buildReencryptRequest(reader, nodeA.staker.address, p.policyIdBytes, [new Uint8Array(105)]);
    expect((await post(agentA.app, url, garbage)).json.error!.code).to.equal("BAD_CAPSULE");
  });

  it("evaluates time, contract-view and ERC-20 balance conditions at request time", async () => {
    const rich = accountWallet(16);
    const poor = Wallet.createRandom();
    await (await net.core.token.connect(net.core.deployer).transfer(rich.address, 1000n)).wait();
    const isRegistered = keccakId("isRegistered(address)").slice(0, 10);
    const word = (a: string) => "0x" + a.slice(2).toLowerCase().padStart(64, "0");
    const cases = [
      { conditions: { op: "time", notBefore: Math.floor(Date.now() / 1000) + 86_400 }, rich: false, poor: false },
      { conditions: { op: "erc20Balance", token: net.core.tokenAddress, min: "1000" }, rich: true, poor: false },
      { conditions: { op: "not", cond: { op: "erc20Balance", token: net.core.tokenAddress, min: "1" } }, rich: false, poor: true },
      { conditions: { op: "and", all: [{ op: "time", notAfter: 4_000_000_000 }, { op: "call", contract: net.core.escrowAddress, selector: isRegistered, args: [word(nodeA.staker.address)] }] }, rich: true, poor: true },
      { conditions: { op: "call", contract: net.core.escrowAddress, selector: isRegistered, args: [":requester"] }, rich: false, poor: false },
    ] as const;
    for (const c of cases) {
      const p = await createPolicy(net, payer, owner, [nodeA.staker.address]);
      const up = await post(agentA.app, `/v1/policies/${p.policyId}/kfrag`, await uploadFor(p, 0, { conditions: c.conditions as never }));
      expect(up.status, JSON.stringify(up.json)).to.equal(201);
      const { capsules } = capsulesFor(p, 1);
      for (const [who, expected] of [[rich, c.rich], [poor, c.poor]] as [EthSigning, boolean][]) {
        const res = await reencrypt(agentA, nodeA, p, capsules, who);
        expect(res.status, `${JSON.stringify(c.conditions)} ${JSON.stringify(res.json)}`).to.equal(expected ? 200 : 403);
        if (!expected) expect(res.json.error!.code).to.equal("CONDITIONS_NOT_MET");
      }
    }
    const p = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    const bad = await post(agentA.app, `/v1/policies/${p.policyId}/kfrag`, await uploadFor(p, 0, { conditions: { op: "erc20Balance", token: "0x12", min: "x" } as never }));
    expect(bad.json.error!.code).to.equal("BAD_CONDITION");
  });

  it("never re-encrypts for a policy revoked by signature, on-chain (immediately, before any poll) or expired", async () => {
    const { capsules } = capsulesFor(await createPolicy(net, payer, owner, [nodeA.staker.address]), 1);
    // Owner signature.
    const p1 = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    await post(agentA.app, `/v1/policies/${p1.policyId}/kfrag`, await uploadFor(p1, 0));
    const notOwner = await signRevocation(Wallet.createRandom(), p1.policyIdBytes);
    expect((await post(agentA.app, `/v1/policies/${p1.policyId}/revoke`, notOwner)).json.error!.code).to.equal("BAD_OWNER_SIGNATURE");
    expect((await reencrypt(agentA, nodeA, p1, capsules)).status).to.equal(200);
    expect((await post(agentA.app, `/v1/policies/${p1.policyId}/revoke`, await signRevocation(owner, p1.policyIdBytes))).status).to.equal(200);
    expect((await reencrypt(agentA, nodeA, p1, capsules)).json.error!.code).to.equal("POLICY_REVOKED");
    expect(agentA.store.get(p1.policyIdBytes)!.kfrag).to.equal(null);
    expect((await post(agentA.app, `/v1/policies/${p1.policyId}/kfrag`, await uploadFor(p1, 0))).json.error!.code).to.equal("POLICY_REVOKED");

    // On-chain arrangement revocation: refused at once (live check), no poll needed.
    const p2 = await createPolicy(net, payer, owner, [nodeA.staker.address, nodeB.staker.address]);
    await post(agentA.app, `/v1/policies/${p2.policyId}/kfrag`, await uploadFor(p2, idx(p2, nodeA)));
    await post(agentB.app, `/v1/policies/${p2.policyId}/kfrag`, await uploadFor(p2, idx(p2, nodeB)));
    // Served first, so the agent knows the arrangement as active at the current block.
    expect((await reencrypt(agentA, nodeA, p2, capsules)).status).to.equal(200);
    await (await net.policyManager.connect(owner.connect(ethers.provider)).revokeArrangement(p2.policyId, nodeA.staker.address)).wait();
    expect((await reencrypt(agentA, nodeA, p2, capsules)).json.error!.code).to.equal("POLICY_REVOKED");
    expect((await reencrypt(agentB, nodeB, p2, capsules)).status).to.equal(200);

    // Whole-policy revocation seen through event polling.
    await (await net.policyManager.connect(owner.connect(ethers.provider)).revokePolicy(p2.policyId)).wait();
    // The event stops serving at once; the kfrag is destroyed once a read two blocks later confirms.
    expect(await agentB.service.pollRevocations()).to.equal(0);
    expect((await reencrypt(agentB, nodeB, p2, capsules)).json.error!.code).to.equal("POLICY_REVOKED");
    expect(agentB.store.get(p2.policyIdBytes)!.state).to.equal("active");
    await mine(2);
    expect(await agentB.service.pollRevocations()).to.equal(1);
    expect(agentB.store.get(p2.policyIdBytes)!.state).to.equal("revoked");
    expect((await reencrypt(agentB, nodeB, p2, capsules)).json.error!.code).to.equal("POLICY_REVOKED");

    // Expiry: the chain's clock passes the last paid period.
    const p3 = await createPolicy(net, payer, owner, [nodeA.staker.address], { periods: 0 });
    await post(agentA.app, `/v1/policies/${p3.policyId}/kfrag`, await uploadFor(p3, 0));
    expect((await reencrypt(agentA, nodeA, p3, capsules)).status).to.equal(200);
    await time.increase(net.core.params.secondsPerPeriod + 1);
    expect((await reencrypt(agentA, nodeA, p3, capsules)).json.error!.code).to.equal("POLICY_EXPIRED");
    expect(agentA.store.get(p3.policyIdBytes)!.state).to.equal("expired");
    expect(agentA.store.get(p3.policyIdBytes)!.kfrag).to.equal(null);
  });

  it("property: whatever the order of re-encryptions, new blocks and revocations (on-chain or by signature), a revoked policy never re-encrypts and a live one always does", async function () {
    this.timeout(300_000);
    type Step = { kind: "reencrypt" | "burst" | "revokeOnChain" | "revokeBySignature" | "mine"; policy: number };
    const step = fc.record({
      kind: fc.constantFrom<Step["kind"]>("reencrypt", "reencrypt", "burst", "revokeOnChain", "revokeBySignature", "mine"),
      policy: fc.nat(2),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 10 }), async (steps) => {
        const policies: TestPolicy[] = [];
        for (let i = 0; i < 3; i++) policies.push(await createPolicy(net, payer, owner, [nodeA.staker.address]));
        for (const p of policies) expect((await post(agentA.app, `/v1/policies/${p.policyId}/kfrag`, await uploadFor(p, 0))).status).to.equal(201);
        const { capsules } = capsulesFor(policies[0], 1);
        const revoked = new Set<number>();
        const expectServed = (i: number, status: number, code?: string) => {
          if (revoked.has(i)) expect(code, `policy ${i} was revoked`).to.equal("POLICY_REVOKED");
          else expect(status, `policy ${i} is live (${code})`).to.equal(200);
        };
        for (const { kind, policy: i } of steps) {
          const p = policies[i];
          if (kind === "reencrypt") {
            const res = await reencrypt(agentA, nodeA, p, capsules);
            expectServed(i, res.status, res.json.error?.code);
          } else if (kind === "burst") {
            for (const res of await Promise.all(Array.from({ length: 4 }, () => reencrypt(agentA, nodeA, p, capsules)))) {
              expectServed(i, res.status, res.json.error?.code);
            }
          } else if (kind === "revokeOnChain") {
            if (revoked.has(i)) continue;
            await (await net.policyManager.connect(owner.connect(ethers.provider)).revokePolicy(p.policyId)).wait();
            revoked.add(i); // mined: from now on no request may be served
          } else if (kind === "revokeBySignature") {
            const res = await post(agentA.app, `/v1/policies/${p.policyId}/revoke`, await signRevocation(owner, p.policyIdBytes));
            expect(res.status).to.equal(200);
            revoked.add(i);
          } else {
            await mine();
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it("asks the chain for an arrangement's status once per block, however many requests come in", async () => {
    const chain = chainOf(net);
    const countDir = mkdtempSync(join(tmpdir(), "nkms-agent-count-"));
    const agent = await startAgent(net, nodeA, countDir, chain);
    try {
      const p = await createPolicy(net, payer, owner, [nodeA.staker.address]);
      await post(agent.app, `/v1/policies/${p.policyId}/kfrag`, await uploadFor(p, 0));
      const { capsules } = capsulesFor(p, 1);
      chain.statusCalls = 0;
      const answers = await Promise.all(Array.from({ length: 8 }, () => reencrypt(agent, nodeA, p, capsules)));
      expect(answers.map((a) => a.status)).to.deep.equal(Array(8).fill(200));
      expect(chain.statusCalls).to.equal(1);
      await mine();
      expect((await reencrypt(agent, nodeA, p, capsules)).status).to.equal(200);
      expect(chain.statusCalls).to.equal(2);
    } finally {
      await agent.close();
      rmSync(countDir, { recursive: true, force: true });
    }
  });

  it("answers ping, status JSON, status page and the OpenAPI document", async () => {
    const ping = await agentA.app.inject({ method: "GET", url: "/v1/ping" });
    expect(ping.json()).to.include({ ok: true, node: nodeA.staker.address });
    const status = (await agentA.app.inject({ method: "GET", url: "/v1/status" })).json();
    expect(status.policies.active).to.be.greaterThan(0);
    expect(status.verifyingKey).to.equal(hexlify(nodeA.keys.stampKey.toCompressedBytes()));
    const page = await agentA.app.inject({ method: "GET", url: "/status" });
    expect(page.headers["content-type"]).to.match(/text\/html/);
    expect(page.body).to.include(nodeA.staker.address);
    const doc = (await agentA.app.inject({ method: "GET", url: "/openapi.json" })).json();
    expect(doc.openapi).to.match(/^3\./);
    expect(Object.keys(doc.paths)).to.include("/v1/policies/{policyId}/reencrypt");
  });

  it("answers 10,000+ malformed requests with 4xx JSON errors, stays up and keeps its data", async function () {
    this.timeout(300_000);
    const p = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    await post(agentA.app, `/v1/policies/${p.policyId}/kfrag`, await uploadFor(p, 0));
    const before = agentA.store.get(p.policyIdBytes)!;
    const countsBefore = agentA.store.counts();
    const { capsules } = capsulesFor(p, 2);
    const valid = await buildReencryptRequest(p.bobSigner, nodeA.staker.address, p.policyIdBytes, capsules.map((c) => c.toBytes()));
    // Used once, so an unmutated copy is a replay.
    expect((await post(agentA.app, `/v1/policies/${p.policyId}/reencrypt`, valid)).status).to.equal(200);
    const kfragBody = await uploadFor(p, 0);
    const routes = ["kfrag", "reencrypt", "revoke"];
    const policyIds = [p.policyId, hexlify(randomBytes(16)), "0x1234", "zz", hexlify(randomBytes(32))];
    const hex = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => hexlify(b));
    const mutateValue = fc.oneof(
      fc.jsonValue(),
      fc.string(),
      hex(16),
      hex(33),
      hex(64),
      hex(65),
      fc.constant("0x"),
      fc.constant(null),
      fc.integer(),
      fc.double(),
      fc.array(fc.string(), { maxLength: 70 }),
    );
    const mutated = (base: Record<string, unknown>) =>
      fc.tuple(fc.constantFrom(...Object.keys(base), "extra", "__proto__"), mutateValue, fc.boolean()).map(([k, v, drop]) => {
        const out: Record<string, unknown> = JSON.parse(JSON.stringify(base));
        if (drop) delete out[k];
        else out[k] = v;
        return JSON.stringify(out);
      }).filter((text) => text !== JSON.stringify(base));
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
      mutated(valid as unknown as Record<string, unknown>),
      mutated(kfragBody as unknown as Record<string, unknown>),
      mutated({ signature: hexlify(randomBytes(65)) }),
      // Well-formed but badly signed requests, for the held policy and for unknown ones.
      fc.tuple(hex(64), hex(16)).map(([sig, nonce]) => JSON.stringify({ ...valid, signature: sig, nonce })),
      fc.constant('{"a":'.repeat(200)),
      fc.constant(JSON.stringify({ ...valid, capsules: Array(65).fill(valid.capsules[0]) })),
      fc.constant('{"__proto__":{"x":1},"signature":"0x00"}'),
    );
    const request = fc.record({
      route: fc.constantFrom(...routes),
      policyId: fc.constantFrom(...policyIds),
      body,
      contentType: fc.constantFrom("application/json", "application/json", "application/json", "text/plain", "application/octet-stream"),
    });
    const samples = fc.sample(request, { numRuns: 10_000, seed: 42 });
    // Huge bodies and odd routes on top of the generated ones.
    const huge = Buffer.alloc(200 * 1024, 0x41);
    let n = 0;
    const check = (status: number, payload: string, what: string) => {
      expect(status, what).to.be.within(400, 499);
      const json = JSON.parse(payload);
      expect(json.error.code, what).to.be.a("string").and.not.equal("");
      expect(json.error.message, what).to.be.a("string");
      n++;
    };
    for (let i = 0; i < 20; i++) {
      const r = await agentA.app.inject({ method: "POST", url: `/v1/policies/${p.policyId}/reencrypt`, payload: huge, headers: { "content-type": "application/json" } });
      check(r.statusCode, r.body, "huge");
    }
    for (const url of ["/nope", "/v1/policies", `/v1/policies/${p.policyId}`, "/v1/policies/x/reencrypt/y"]) {
      const r = await agentA.app.inject({ method: "POST", url, payload: "{}" });
      check(r.statusCode, r.body, url);
    }
    const batch = 64;
    for (let i = 0; i < samples.length; i += batch) {
      await Promise.all(
        samples.slice(i, i + batch).map(async (s) => {
          const r = await agentA.app.inject({
            method: "POST",
            url: `/v1/policies/${s.policyId}/${s.route}`,
            payload: s.body,
            headers: { "content-type": s.contentType },
          });
          check(r.statusCode, r.body, `${s.route} ${String(s.body).slice(0, 120)}`);
        }),
      );
    }
    expect(n).to.be.at.least(10_000);
    // Still up, data intact, still serving.
    const after = agentA.store.get(p.policyIdBytes)!;
    expect(after.state).to.equal("active");
    expect(Buffer.from(after.kfrag!).equals(Buffer.from(before.kfrag!))).to.equal(true);
    expect(agentA.store.counts()).to.deep.equal(countsBefore);
    expect((await reencrypt(agentA, nodeA, p, capsules)).status).to.equal(200);
  });
});
