// Issue #14, off-chain: a node acknowledges every kfrag it accepts with a receipt signed by its
// stamp key, and kfrags travel sealed to the node's registered encrypting key, so nobody on the
// path (plain http://) can present a kfrag as a "leak". Real agents (in-process fastify, worker
// pool, SQLite), real contracts on Hardhat's EVM, real Umbral.
import { expect } from "chai";
import { ethers } from "hardhat";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { computeAddress, getBytes, hexlify, keccak256 } from "ethers";
import type { FastifyInstance } from "fastify";
import * as umbral from "../../src/umbral";
import { startInProcessAgent, type InProcessAgent } from "./in-process-agent";
import { kfragPackageDigest, sealKFragUpload, sha256, type KFragUpload } from "../../src/node/protocol";
import { kfragReceiptDigest } from "../../src/protocol/kfrag-receipt";
import { verifyKfragReceipt } from "../../src/protocol/kfrag-receipt-verify";
import { KFragTransportError, openKFrag, sealKFrag } from "../../src/protocol/kfrag-transport";
import { accountWallet, createPolicy, deployNetwork, setupNode, uploadFor, type Network, type TestNode, type TestPolicy } from "./helpers";

type Reply = { status: number; json: Record<string, unknown> & { error?: { code: string; message: string }; receipt?: { period: number; signature: string }; stored?: boolean } };

async function post(app: FastifyInstance, url: string, body: unknown): Promise<Reply> {
  const res = await app.inject({ method: "POST", url, payload: body as object });
  return { status: res.statusCode, json: res.json() };
}

describe("kfrag transport and receipts (issue #14, off-chain)", function () {
  this.timeout(120_000);
  let dir: string;
  let net: Network;
  let nodeA: TestNode;
  let nodeB: TestNode;
  let agentA: InProcessAgent;
  let agentB: InProcessAgent;
  let payer: Awaited<ReturnType<typeof ethers.getSigners>>[number];
  let chainId: bigint;
  const owner = accountWallet(15);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nkms-transport-"));
    net = await deployNetwork();
    const signers = await ethers.getSigners();
    payer = signers[10];
    nodeA = await setupNode(net, signers[1], 2, ethers.provider);
    nodeB = await setupNode(net, signers[3], 4, ethers.provider);
    agentA = await startInProcessAgent(net, nodeA, dir);
    agentB = await startInProcessAgent(net, nodeB, dir);
    chainId = (await ethers.provider.getNetwork()).chainId;
  });
  after(async () => {
    await agentA?.close();
    await agentB?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const url = (p: TestPolicy) => `/v1/policies/${p.policyId}/kfrag`;
  const idx = (p: TestPolicy, n: TestNode) => p.nodes.indexOf(n.staker.address);

  /** Whether `receipt` is `node`'s valid receipt for kfrag i of `p`, as the client and the LeakAdjudicator would check it. */
  async function receiptValid(p: TestPolicy, node: TestNode, receipt: { period: number; signature: string }): Promise<boolean> {
    const ctx = {
      chainId,
      policyManager: net.policyManagerAddress,
      staker: node.staker.address,
      period: receipt.period,
      policyCreator: owner.address,
      policyId: p.policyIdBytes,
      kfragHash: getBytes(keccak256(p.kfrags[idx(p, node)].toBytes())),
    };
    const stampKey = node.keys.stampKey.toCompressedBytes();
    return verifyKfragReceipt(stampKey, ctx, getBytes(receipt.signature)) && (await net.core.escrow.isStampKey(node.staker.address, computeAddress(hexlify(stampKey)), receipt.period));
  }

  it("answers an accepted upload (201) and an identical re-upload (200) with a receipt by its stamp key, dated in the escrow's current period", async () => {
    const p = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    const first = await post(agentA.app, url(p), await uploadFor(p, 0));
    expect(first.status, JSON.stringify(first.json)).to.equal(201);
    expect(first.json.stored).to.equal(true);
    expect(first.json.receipt!.signature).to.match(/^0x[0-9a-f]{128}$/);
    expect(first.json.receipt!.period).to.equal(Number(await net.core.escrow.currentPeriod()));
    expect(await receiptValid(p, nodeA, first.json.receipt!)).to.equal(true);
    // A fresh seal of the same kfrag (the ciphertext differs): idempotent, with a receipt again.
    const again = await post(agentA.app, url(p), await uploadFor(p, 0));
    expect(again.status).to.equal(200);
    expect(await receiptValid(p, nodeA, again.json.receipt!)).to.equal(true);
    // The receipt binds the kfrag: it does not verify for another kfrag hash, creator, policy or node.
    const other = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    expect(await receiptValid({ ...p, kfrags: other.kfrags }, nodeA, first.json.receipt!)).to.equal(false);
    expect(await receiptValid({ ...p, policyIdBytes: other.policyIdBytes }, nodeA, first.json.receipt!)).to.equal(false);
    expect(await receiptValid({ ...p, nodes: [nodeB.staker.address] }, nodeB, first.json.receipt!)).to.equal(false);
  });

  it("an observer holding the whole upload body (plain http) cannot produce the kfrag; only the node's encrypting secret opens it", async () => {
    const p = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    const kfrag = p.kfrags[0].toBytes();
    const body = await uploadFor(p, 0);
    const wire = JSON.stringify(body);
    // Not in the body in any form: no hex window of 16 kfrag bytes appears anywhere.
    const kfragHex = Buffer.from(kfrag).toString("hex");
    for (let i = 0; i + 32 <= kfragHex.length; i += 2) expect(wire.toLowerCase()).to.not.include(kfragHex.slice(i, i + 32));
    expect(Object.keys(body)).to.not.include("kfrag");
    // Any key but the node's fails to open it: the other node's, the owner-side keys in the body.
    const sealed = { capsule: getBytes(body.encryptedKfrag.capsule), ciphertext: getBytes(body.encryptedKfrag.ciphertext) };
    for (const wrong of [nodeB.keys.encryptingSecret, umbral.SecretKey.random(), p.alice, p.bob]) {
      expect(() => openKFrag(wrong, sealed)).to.throw(KFragTransportError);
    }
    expect(Buffer.from(openKFrag(nodeA.keys.encryptingSecret, sealed)).equals(Buffer.from(kfrag))).to.equal(true);
    expect((await post(agentA.app, url(p), body)).status).to.equal(201);
  });

  it("refuses a kfrag sent in clear (the old format, or alongside a sealed one) with 422 CLEARTEXT_KFRAG: no downgrade", async () => {
    const p = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    const sealed = await uploadFor(p, 0);
    const { encryptedKfrag: _e, kfragHash: _h, ...rules } = sealed;
    const clear = { ...rules, kfrag: hexlify(p.kfrags[0].toBytes()) };
    for (const body of [clear, { ...sealed, kfrag: hexlify(p.kfrags[0].toBytes()) }]) {
      const res = await post(agentA.app, url(p), body);
      expect(res.status, JSON.stringify(res.json)).to.equal(422);
      expect(res.json.error!.code).to.equal("CLEARTEXT_KFRAG");
    }
    expect(agentA.store.get(p.policyIdBytes)).to.equal(undefined);
  });

  it("refuses a body sealed to another node's key (422 KFRAG_UNDECRYPTABLE) and issues no receipt", async () => {
    const p = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    const toB = await uploadFor({ ...p, encryptingKeys: [hexlify(nodeB.keys.encryptingKey.toCompressedBytes())] }, 0);
    const res = await post(agentA.app, url(p), toB);
    expect(res.status, JSON.stringify(res.json)).to.equal(422);
    expect(res.json.error!.code).to.equal("KFRAG_UNDECRYPTABLE");
    expect(res.json.receipt).to.equal(undefined);
    expect(agentA.store.get(p.policyIdBytes)).to.equal(undefined);
  });

  it("refuses a tampered sealed kfrag: changed on the way (403, the owner's signature binds the sealed bytes) or sealed badly by the owner (422)", async () => {
    const p = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    const good = await uploadFor(p, 0);
    const flip = (hex: string, at: number) => {
      const b = getBytes(hex).slice();
      b[at] ^= 1;
      return hexlify(b);
    };
    // An on-path attacker flips a ciphertext bit, or swaps in a capsule of its own.
    const onPath = [
      { ...good, encryptedKfrag: { ...good.encryptedKfrag, ciphertext: flip(good.encryptedKfrag.ciphertext, 40) } },
      { ...good, encryptedKfrag: { ...good.encryptedKfrag, capsule: hexlify(sealKFrag(nodeA.keys.encryptingKey, new Uint8Array(8)).capsule) } },
    ];
    for (const body of onPath) {
      const res = await post(agentA.app, url(p), body);
      expect(res.status, JSON.stringify(res.json)).to.equal(403);
      expect(res.json.error!.code).to.equal("BAD_OWNER_SIGNATURE");
    }
    // The owner signs an altered ciphertext: it does not authenticate under the node's key.
    const body = { ...good, encryptedKfrag: { ...good.encryptedKfrag, ciphertext: flip(good.encryptedKfrag.ciphertext, 40) } };
    const resigned: KFragUpload = { ...body, ownerSignature: await owner.signMessage(kfragPackageDigest(p.policyIdBytes, nodeA.staker.address, body)) };
    const res = await post(agentA.app, url(p), resigned);
    expect(res.status, JSON.stringify(res.json)).to.equal(422);
    expect(res.json.error!.code).to.equal("KFRAG_UNDECRYPTABLE");
    expect(agentA.store.get(p.policyIdBytes)).to.equal(undefined);
    expect((await post(agentA.app, url(p), good)).status).to.equal(201);
  });

  it("refuses a body replayed to another node of the same policy (the signature names the node, the seal its key)", async () => {
    const p = await createPolicy(net, payer, owner, [nodeA.staker.address, nodeB.staker.address]);
    const forA = await uploadFor(p, idx(p, nodeA));
    const replay = await post(agentB.app, url(p), forA);
    expect(replay.status, JSON.stringify(replay.json)).to.equal(403);
    expect(replay.json.error!.code).to.equal("BAD_OWNER_SIGNATURE");
    // Attacker's next move: the owner itself re-signs A's sealed body (A's hash, A's proof) for B.
    const { ownerSignature: _s, ...unsigned } = forA;
    const reSigned = { ...unsigned, ownerSignature: await owner.signMessage(kfragPackageDigest(p.policyIdBytes, nodeB.staker.address, unsigned)) };
    const res = await post(agentB.app, url(p), reSigned);
    expect(res.status).to.equal(403);
    expect(res.json.error!.code).to.equal("KFRAG_COMMITMENT_MISMATCH"); // A's hash is not B's leaf
    // ...or with B's hash and proof but A's sealed kfrag: B cannot open it.
    const bodyB = await uploadFor(p, idx(p, nodeB));
    const mixed = { ...bodyB, encryptedKfrag: forA.encryptedKfrag };
    const { ownerSignature: _t, ...mixedUnsigned } = mixed;
    const mixedSigned = { ...mixedUnsigned, ownerSignature: await owner.signMessage(kfragPackageDigest(p.policyIdBytes, nodeB.staker.address, mixedUnsigned)) };
    const res2 = await post(agentB.app, url(p), mixedSigned);
    expect(res2.status).to.equal(422);
    expect(res2.json.error!.code).to.equal("KFRAG_UNDECRYPTABLE");
    expect(agentB.store.get(p.policyIdBytes)).to.equal(undefined);
    expect((await post(agentB.app, url(p), bodyB)).status).to.equal(201);
  });

  it("never signs a receipt for a kfrag hash it did not receive: a sealed kfrag other than the signed, committed one is refused (422 KFRAG_HASH_MISMATCH)", async () => {
    // The framing move: the owner gets the node to acknowledge the committed hash while handing it
    // something else, then "reveals" the committed kfrag the node never held.
    const p = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    const decoy = await createPolicy(net, payer, owner, [nodeA.staker.address]);
    const honest = await uploadFor(p, 0);
    const sealed = sealKFrag(nodeA.keys.encryptingKey, decoy.kfrags[0].toBytes());
    const { ownerSignature: _s, ...rest } = honest;
    const unsigned = { ...rest, encryptedKfrag: { capsule: hexlify(sealed.capsule), ciphertext: hexlify(sealed.ciphertext) } };
    const body = { ...unsigned, ownerSignature: await owner.signMessage(kfragPackageDigest(p.policyIdBytes, nodeA.staker.address, unsigned)) };
    const res = await post(agentA.app, url(p), body);
    expect(res.status, JSON.stringify(res.json)).to.equal(422);
    expect(res.json.error!.code).to.equal("KFRAG_HASH_MISMATCH");
    expect(res.json.receipt).to.equal(undefined);
    expect(agentA.store.get(p.policyIdBytes)).to.equal(undefined);
  });

  it("measures: upload latency, the seal/open share of it, and receipt signing per upload", async () => {
    const N = 20;
    const ROUNDS = 3;
    const time = (f: () => unknown, reps: number) => {
      const t = performance.now();
      for (let i = 0; i < reps; i++) f();
      return (performance.now() - t) / reps;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const uploads: number[] = [];
    // CPU time of this process (agent, in-process chain, test) per upload: less noisy than wall
    // time on a shared machine.
    const cpu: number[] = [];
    const builds: number[] = [];
    let kfrag: Uint8Array = new Uint8Array();
    let policyId: Uint8Array = new Uint8Array();
    for (let round = 0; round < ROUNDS; round++) {
      const policies: TestPolicy[] = [];
      for (let i = 0; i < N; i++) policies.push(await createPolicy(net, payer, owner, [nodeA.staker.address]));
      kfrag = policies[0].kfrags[0].toBytes();
      policyId = policies[0].policyIdBytes;
      const t2 = performance.now();
      const bodies: KFragUpload[] = [];
      for (const p of policies) bodies.push(await uploadFor(p, 0));
      builds.push((performance.now() - t2) / N);
      const t = performance.now();
      const c = process.cpuUsage();
      for (let i = 0; i < N; i++) expect((await post(agentA.app, url(policies[i]), bodies[i])).status).to.equal(201);
      uploads.push((performance.now() - t) / N);
      const cu = process.cpuUsage(c);
      cpu.push((cu.user + cu.system) / 1000 / N);
    }
    time(() => sealKFrag(nodeA.keys.encryptingKey, kfrag), 20); // warm-up
    const seal = time(() => sealKFrag(nodeA.keys.encryptingKey, kfrag), 200);
    const box = sealKFrag(nodeA.keys.encryptingKey, kfrag);
    const open = time(() => openKFrag(nodeA.keys.encryptingSecret, box), 200);
    const digest = kfragReceiptDigest({ chainId, policyManager: net.policyManagerAddress, staker: nodeA.staker.address, period: 1, policyCreator: owner.address, policyId, kfragHash: sha256(kfrag) });
    const sign = time(() => nodeA.keys.stamp.signDigest(digest), 200);
    const upload = median(uploads);
    const rows = [
      ["node: whole upload (inject, chain reads, SQLite), median of rounds", upload],
      ["process CPU per upload (agent + in-process chain), median of rounds", median(cpu)],
      ["node: open the sealed kfrag", open],
      ["node: sign the receipt", sign],
      ["client: build + sign a sealed upload (uploadFor)", median(builds)],
      ["client: seal alone", seal],
    ] as const;
    console.log(`      per upload, ms (ratio to the node's whole upload); rounds: ${uploads.map((u) => u.toFixed(1)).join(", ")}`);
    for (const [name, ms] of rows) console.log(`        ${name.padEnd(68)} ${ms.toFixed(3).padStart(8)}  ${(ms / upload).toFixed(3)}`);
    // The encryption and the receipt add a small part of what an upload already costs.
    expect((open + sign) / upload).to.be.lessThan(0.5);
  });
});
