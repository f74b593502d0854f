// Batched stamps end to end: the real node agent (NodeService over HTTP, ReencryptPool worker
// threads that each stamp their own sub-batch, SQLite store, chain checks on the Hardhat chain),
// the client's retrieval and evidence, and the real Adjudicator.
import { expect } from "chai";
import { ethers } from "hardhat";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getBytes, hexlify } from "ethers";
import type { FastifyInstance } from "fastify";
import type { NodeStore } from "../../src/node/store";
import type { InProcessAgent } from "../node/in-process-agent";
import { buildReencryptRequest, verifyCFragStamps, type ReencryptResponse } from "../../src/node/protocol";
import type * as umbral from "../../src/umbral";
import { retrieveCFrags, stampDateCheck } from "../../src/client/retrieval";
import { RetrievalError } from "../../src/client/errors";
import {
  EvidenceError,
  buildEvidence,
  evaluationHints,
  evidenceHash,
  evidenceStampRoot,
  parseEvidence,
  toContractEvidence,
  verifyStamp,
  type CFragEvidence,
} from "../../src/client/evidence";
import type { Adjudicator } from "../../typechain-types";
import { accountWallet, capsulesFor, createPolicy, uploadFor, type Network, type TestNode, type TestPolicy } from "../node/helpers";
import { startJudgedAgent, type JudgedAgent } from "../adjudicator/judged-agent";
import { evaluateWithCommit } from "../adjudicator/setup";
import { startLyingProxy } from "../client/lying-node";
import { tamperedProofs } from "./fixtures";

const OPERATOR_INDEX = 2;

describe("stamp: batched stamps from the real node agent, judged by the real Adjudicator", function () {
  let world: JudgedAgent;
  let net: Network;
  let node: TestNode;
  let adjudicator: Adjudicator;
  let app: FastifyInstance;
  let url: string;
  let store: NodeStore;
  let agent: InProcessAgent;
  let payer: Awaited<ReturnType<typeof ethers.getSigners>>[number];
  let investigator: Awaited<ReturnType<typeof ethers.getSigners>>[number];
  const owner = accountWallet(15);

  before(async () => {
    // Two workers: a request is split in two sub-batches, each stamped by its own worker.
    world = await startJudgedAgent("nkms-stamp-", OPERATOR_INDEX, { workers: 2, maxBatch: 16, bodyLimit: 256 * 1024 });
    ({ net, node, adjudicator, agent, payer, investigator } = world);
    ({ app, store } = agent);
    url = await app.listen({ port: 0, host: "127.0.0.1" });
  });

  after(async () => {
    await world?.close();
  });

  /** Bob retrieves one cfrag per capsule from the node through `endpoint` (threshold 1). */
  function retrieveVia(endpoint: string, p: TestPolicy, capsules: umbral.Capsule[], evidenceDir?: string) {
    return retrieveCFrags({
      policyId: p.policyIdBytes,
      policyCreator: owner.address,
      checkStampDate: stampDateCheck(net.core.escrow),
      threshold: 1,
      capsules,
      delegatingKey: p.alice.publicKey(),
      publisherVerifyingKey: p.aliceSigner.verifyingKey(),
      receivingKey: p.bob.publicKey(),
      signer: p.bobSigner,
      nodes: [{ staker: node.staker.address, endpoint, stampKey: node.keys.stampKey.toCompressedBytes() }],
      evidenceDir,
    });
  }

  async function policyAtNode(): Promise<TestPolicy> {
    const p = await createPolicy(net, payer, owner, [node.staker.address]);
    const res = await fetch(`${url}/v1/policies/${p.policyId}/kfrag`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(await uploadFor(p, 0)),
    });
    expect(res.status).to.equal(201);
    return p;
  }

  function stampContext(p: TestPolicy, stampPeriod: number) {
    return {
      staker: node.staker.address,
      stampPeriod,
      policyCreator: owner.address,
      policyId: p.policyIdBytes,
      delegatingKey: p.alice.publicKey().toCompressedBytes(),
      receivingKey: p.bob.publicKey().toCompressedBytes(),
      verifyingKey: p.aliceSigner.verifyingKey().toCompressedBytes(),
    };
  }

  function evaluate(evidence: CFragEvidence, allowInvalid = false) {
    return evaluateWithCommit(adjudicator, investigator, toContractEvidence(evidence), evaluationHints(evidence, { allowInvalidSignatures: allowInvalid }));
  }

  it("a batch of 6 capsules: one signature per worker sub-batch; every cfrag verifies through its proof, on-chain too", async function () {
    const p = await policyAtNode();
    const { capsules } = capsulesFor(p, 6);
    const request = await buildReencryptRequest(p.bobSigner, node.staker.address, p.policyIdBytes, capsules.map((c) => c.toBytes()));
    const res = await fetch(`${url}/v1/policies/${p.policyId}/reencrypt`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
    });
    expect(res.status).to.equal(200);
    const answer = (await res.json()) as ReencryptResponse;
    expect(answer.cfrags).to.have.length(6);
    const signatures = new Set(answer.cfrags.map((c) => c.signature));
    expect(signatures.size).to.be.within(1, agent.pool.size);
    // Every sub-batch has several cfrags, so every cfrag needs a proof.
    expect(answer.cfrags.every((c) => c.stampProof.length >= 1 && c.stampProof.every((s) => /^0x[0-9a-f]{64}$/.test(s)))).to.equal(true);

    const stampKey = node.keys.stampKey.toCompressedBytes();
    expect(answer.stampPeriod).to.equal(Number(await net.core.escrow.currentPeriod()));
    const context = stampContext(p, answer.stampPeriod);
    const items = answer.cfrags.map((c, i) => ({
      capsule: capsules[i].toBytes(),
      cfrag: getBytes(c.cfrag),
      signature: getBytes(c.signature),
      proof: c.stampProof.map((s) => getBytes(s)),
    }));
    expect(verifyCFragStamps(stampKey, context, items)).to.deep.equal(new Array(6).fill(true));

    // Each cfrag's evidence (a correct cfrag) is accepted on-chain; the contract leads the leaf
    // up the proof to the same root as the client (OpenZeppelin processProofCalldata).
    for (const i of [0, 2, 5]) {
      const evidence = buildEvidence({ ...context, ...items[i], nodeVerifyingKey: stampKey, stampSignature: items[i].signature, stampProof: items[i].proof });
      const args = toContractEvidence(evidence);
      expect(await adjudicator.stampDigest(args)).to.equal(evidenceHash(evidence));
      expect(await adjudicator.stampRoot(args)).to.equal(hexlify(evidenceStampRoot(evidence)));
      await expect(evaluate(evidence)).to.emit(adjudicator, "CFragJudgedCorrect").withArgs(evidenceHash(evidence), node.staker.address, investigator.address);
    }
  });

  it("a node lying about one cfrag in the middle of a batch: the client rejects it, keeps evidence with its proof, and it slashes on-chain; tampered proofs do not", async function () {
    const p = await policyAtNode();
    const proxy = await startLyingProxy(accountWallet(OPERATOR_INDEX), node.staker.address, { lieAt: 2 });
    proxy.target = url;
    const evidenceDir = join(world.dir, "evidence");
    try {
      // The proxy saw no kfrag upload for this policy; give it the keys the way a node learns them.
      await fetch(`${proxy.url}/v1/policies/${p.policyId}/kfrag`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(await uploadFor(p, 0)),
      });
      const { capsules } = capsulesFor(p, 5);
      const err = (await retrieveVia(proxy.url, p, capsules, evidenceDir).catch((e: unknown) => e)) as RetrievalError;
      expect(err).to.be.instanceOf(RetrievalError);
      expect(proxy.lies).to.equal(1);
      const [failure] = err.failures;
      expect(failure.kind).to.equal("invalid_cfrag");
      expect(failure.message).to.match(/^cfrag 2 /);
      const evidence = parseEvidence(readFileSync(failure.evidenceFile!, "utf8"));
      expect(Buffer.from(evidence.capsule).equals(Buffer.from(capsules[2].toBytes()))).to.equal(true);
      expect(evidence.stampProof).to.have.length(3); // 5 leaves: leaf 2's siblings are leaf 3, h(0,1), leaf 4

      // Tampered proofs: not the node's stamp, neither for the client nor on-chain.
      const context = stampContext(p, evidence.stampPeriod);
      for (const [what, stampProof] of tamperedProofs(evidence.stampProof!)) {
        expect(verifyStamp(evidence.nodeVerifyingKey, evidence.stampSignature, context, evidence.capsule, evidence.cfrag, stampProof), what).to.equal(false);
        expect(() => buildEvidence({ ...evidence, stampProof })).to.throw(EvidenceError);
        await expect(evaluate({ ...evidence, stampProof }, true), what).to.be.revertedWithCustomError(adjudicator, "InvalidStampSignature");
      }
      const tooLong = Array.from({ length: 33 }, () => new Uint8Array(32));
      await expect(
        evaluateWithCommit(adjudicator, investigator, { ...toContractEvidence(evidence), stampProof: tooLong.map(hexlify) }, evaluationHints(evidence)),
      )
        .to.be.revertedWithCustomError(adjudicator, "StampProofTooLong")
        .withArgs(33, 32);
      await expect(evaluate({ ...evidence, stampProof: [] }, true)).to.be.revertedWithCustomError(adjudicator, "InvalidStampSignature");
      expect(await adjudicator.violations(node.staker.address)).to.equal(0n);

      // The real evidence slashes; its record is the (staker, stamp period) pair's.
      const stakeBefore = (await net.core.escrow.stakeOf(node.staker.address)).amount;
      await expect(evaluate(evidence))
        .to.emit(adjudicator, "IncorrectCFragSlashed")
        .withArgs(evidenceHash(evidence), node.staker.address, investigator.address, (x: bigint) => x > 0n, (x: bigint) => x > 0n, (x: bigint) => x > 0n, 1n);
      expect((await net.core.escrow.stakeOf(node.staker.address)).amount).to.be.lessThan(stakeBefore);
      expect(await adjudicator.evidenceUsed(evidenceHash(evidence))).to.equal(true);
      await expect(evaluate(evidence)).to.be.revertedWithCustomError(adjudicator, "EvidenceAlreadyUsed");
    } finally {
      await proxy.close();
    }
  });

  it("the client refuses stamps the escrow would not count: dated in the future, too old, or before the key's window (bad_stamp, no evidence)", async function () {
    const p = await policyAtNode();
    for (const dateShift of [1, -2, -100]) {
      const proxy = await startLyingProxy(accountWallet(OPERATOR_INDEX), node.staker.address, { mode: "misdate", dateShift });
      proxy.target = url;
      try {
        await fetch(`${proxy.url}/v1/policies/${p.policyId}/kfrag`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(await uploadFor(p, 0)),
        });
        const { capsules } = capsulesFor(p, 3);
        const err = (await retrieveVia(proxy.url, p, capsules).catch((e: unknown) => e)) as RetrievalError;
        expect(err, `shift ${dateShift}`).to.be.instanceOf(RetrievalError);
        expect(proxy.lies).to.equal(1);
        expect(err.failures.map((f) => f.kind), `shift ${dateShift}`).to.deep.equal(["bad_stamp"]);
        expect(err.failures[0].message).to.match(/do not count/);
        expect(err.failures[0].evidenceFile).to.equal(undefined);
      } finally {
        await proxy.close();
      }
    }
    // The node's own, correctly dated answer is taken.
    const { capsules } = capsulesFor(p, 3);
    const ok = await retrieveVia(url, p, capsules);
    expect(ok.usedNodes).to.deep.equal([node.staker.address]);
  });

  it("the client discards a batch whose proof was tampered in transit (bad_stamp, no evidence)", async function () {
    const p = await policyAtNode();
    const proxy = await startLyingProxy(accountWallet(OPERATOR_INDEX), node.staker.address, { mode: "bad-proof", lieAt: 1 });
    proxy.target = url;
    try {
      const { capsules } = capsulesFor(p, 4);
      const err = (await retrieveVia(proxy.url, p, capsules).catch((e: unknown) => e)) as RetrievalError;
      expect(err).to.be.instanceOf(RetrievalError);
      expect(proxy.lies).to.equal(1);
      expect(err.failures.map((f) => [f.kind, f.message])).to.deep.equal([["bad_stamp", "cfrag 1 is not stamped by the node's registered key"]]);
    } finally {
      await proxy.close();
    }
  });
});
