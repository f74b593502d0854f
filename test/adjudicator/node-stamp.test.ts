// End to end: cfrags and stamps made by the real node agent code path (NodeService over HTTP,
// ReencryptPool worker threads, SQLite store, chain checks against the Hardhat chain) are judged
// by the real Adjudicator. An honest answer is judged correct; a faulty node's answer (its
// stored kfrag corrupted, so the worker re-encrypts and stamps garbage) slashes it; evidence
// tampered after the node stamped it is rejected.
import { expect } from "chai";
import { ethers } from "hardhat";
import { getBytes } from "ethers";
import type { FastifyInstance } from "fastify";
import * as umbral from "../../src/umbral";
import type { NodeStore } from "../../src/node/store";
import type { InProcessAgent } from "../node/in-process-agent";
import { buildReencryptRequest, type ReencryptResponse } from "../../src/node/protocol";
import {
  CFRAG_OFFSETS,
  buildEvidence,
  evaluationHints,
  evidenceHash,
  kfragSignatureValid,
  toContractEvidence,
  type CFragEvidence,
} from "../../src/client/evidence";
import type { Adjudicator } from "../../typechain-types";
import { accountWallet, capsulesFor, createPolicy, uploadFor, type Network, type TestNode, type TestPolicy } from "../node/helpers";
import { advancePeriods } from "../shared/core-fixture";
import { startJudgedAgent, type JudgedAgent } from "./judged-agent";
import { evaluateWithCommit } from "./setup";

describe("adjudicator: end to end with the real node agent's cfrags and stamps", function () {
  let world: JudgedAgent;
  let net: Network;
  let node: TestNode;
  let adjudicator: Adjudicator;
  let app: FastifyInstance;
  let store: NodeStore;
  let agent: InProcessAgent;
  let payer: Awaited<ReturnType<typeof ethers.getSigners>>[number];
  let investigator: Awaited<ReturnType<typeof ethers.getSigners>>[number];
  const owner = accountWallet(15);

  before(async () => {
    world = await startJudgedAgent("nkms-adj-e2e-", 2, { workers: 1, maxBatch: 8, bodyLimit: 64 * 1024 });
    ({ net, node, adjudicator, agent, payer, investigator } = world);
    ({ app, store } = agent);
  });

  after(async () => {
    await world?.close();
  });

  async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await app.inject({ method: "POST", url, payload: body as object });
    return { status: res.statusCode, json: res.json() as Record<string, unknown> };
  }

  /** Bob asks the node to re-encrypt one fresh capsule; returns what he would save as evidence. */
  async function askNode(p: TestPolicy): Promise<{ evidence: CFragEvidence; capsule: umbral.Capsule }> {
    const { capsules } = capsulesFor(p, 1);
    const request = await buildReencryptRequest(p.bobSigner, node.staker.address, p.policyIdBytes, [capsules[0].toBytes()]);
    const res = await post(`/v1/policies/${p.policyId}/reencrypt`, request);
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    const answer = res.json as unknown as ReencryptResponse;
    const evidence = buildEvidence({
      capsule: capsules[0].toBytes(),
      cfrag: getBytes(answer.cfrags[0].cfrag),
      delegatingKey: p.alice.publicKey().toCompressedBytes(),
      receivingKey: p.bob.publicKey().toCompressedBytes(),
      verifyingKey: p.aliceSigner.verifyingKey().toCompressedBytes(),
      staker: node.staker.address,
      stampPeriod: answer.stampPeriod,
      policyCreator: owner.address, // the policy's on-chain owner names it with its id
      policyId: p.policyIdBytes,
      nodeVerifyingKey: node.keys.stampKey.toCompressedBytes(), // the key registered on-chain
      stampSignature: getBytes(answer.cfrags[0].signature),
    });
    return { evidence, capsule: capsules[0] };
  }

  function clientAccepts(p: TestPolicy, capsule: umbral.Capsule, evidence: CFragEvidence): boolean {
    try {
      umbral.CapsuleFrag.fromBytes(evidence.cfrag).verify(capsule, p.aliceSigner.verifyingKey(), p.alice.publicKey(), p.bob.publicKey());
      return true;
    } catch {
      return false;
    }
  }

  function evaluate(evidence: CFragEvidence, allowInvalid = false) {
    return evaluateWithCommit(adjudicator, investigator, toContractEvidence(evidence), evaluationHints(evidence, { allowInvalidSignatures: allowInvalid }));
  }

  /** Puts `kfrag` in the node's own store for policy `p`, as if its disk had corrupted the kfrag it was given. */
  async function plantKFrag(p: TestPolicy, kfrag: Uint8Array): Promise<void> {
    const body = await uploadFor(p, 0);
    const onChain = await net.policyManager.getPolicy(p.policyId);
    store.putKFrag({
      policyId: p.policyIdBytes,
      owner: onChain.owner.toLowerCase(),
      endTime: Number(onChain.endPeriod + 1n) * Number(net.core.params.secondsPerPeriod),
      kfrag,
      meta: {
        publisherVerifyingKey: body.publisherVerifyingKey.toLowerCase(),
        delegatingKey: body.delegatingKey.toLowerCase(),
        receivingKey: body.receivingKey.toLowerCase(),
        conditions: null,
        reader: null,
        ownerSignature: body.ownerSignature,
      },
      receivedAt: Math.floor(Date.now() / 1000),
    });
  }

  function corrupt(kfrag: umbral.VerifiedKeyFrag, field: "key" | "signatureForReceiver"): Uint8Array {
    const bytes = Buffer.from(kfrag.toBytes());
    const value = umbral.KeyFrag.fromBytes(bytes).toFields()[field];
    // With both keys signed, signature_for_proxy equals signature_for_receiver, which comes last.
    const at = bytes.lastIndexOf(Buffer.from(value));
    expect(at).to.be.greaterThan(0);
    bytes[at + value.length - 1] ^= 0x01;
    return new Uint8Array(bytes);
  }

  it("an honest node's cfrag with its real stamp is judged correct on-chain; tampered afterwards, it is rejected", async function () {
    const p = await createPolicy(net, payer, owner, [node.staker.address]);
    expect((await post(`/v1/policies/${p.policyId}/kfrag`, await uploadFor(p, 0))).status).to.equal(201);
    const { evidence, capsule } = await askNode(p);
    expect(clientAccepts(p, capsule, evidence)).to.equal(true);
    expect(await adjudicator.stampDigest(toContractEvidence(evidence))).to.equal(evidenceHash(evidence));
    await expect(evaluate(evidence))
      .to.emit(adjudicator, "CFragJudgedCorrect")
      .withArgs(evidenceHash(evidence), node.staker.address, investigator.address);

    // Someone alters the node's answer (or the keys) after the fact: not the node's stamp, no slash.
    const cfrag = new Uint8Array(evidence.cfrag);
    cfrag[CFRAG_OFFSETS.e2 + 7] ^= 0x01;
    await expect(evaluate({ ...evidence, cfrag }, true)).to.be.revertedWithCustomError(adjudicator, "InvalidStampSignature");
    const receivingKey = umbral.SecretKey.random().publicKey().toCompressedBytes();
    await expect(evaluate({ ...evidence, receivingKey }, true)).to.be.revertedWithCustomError(adjudicator, "InvalidStampSignature");
    expect(await adjudicator.violations(node.staker.address)).to.equal(0n);
  });

  it("a faulty node (corrupted kfrag share) returns a stamped incorrect cfrag: the client's evidence slashes it", async function () {
    const p = await createPolicy(net, payer, owner, [node.staker.address]);
    await plantKFrag(p, corrupt(p.kfrags[0], "key"));
    const { evidence, capsule } = await askNode(p);
    expect(clientAccepts(p, capsule, evidence)).to.equal(false);
    const stakeBefore = (await net.core.escrow.stakeOf(node.staker.address)).amount;
    await expect(evaluate(evidence)).to.emit(adjudicator, "IncorrectCFragSlashed");
    expect((await net.core.escrow.stakeOf(node.staker.address)).amount).to.be.lessThan(stakeBefore);
    await expect(evaluate(evidence)).to.be.revertedWithCustomError(adjudicator, "EvidenceAlreadyUsed");
  });

  it("a node serving a kfrag whose receiver signature is garbage is slashed (the stamp covers the keys)", async function () {
    // One slash per (staker, stamp period): the previous test's lie already cost this period's.
    await advancePeriods(net.core, 1);
    const p = await createPolicy(net, payer, owner, [node.staker.address]);
    await plantKFrag(p, corrupt(p.kfrags[0], "signatureForReceiver"));
    const { evidence, capsule } = await askNode(p);
    expect(clientAccepts(p, capsule, evidence)).to.equal(false);
    expect(kfragSignatureValid(evidence)).to.equal(false);
    const violations = await adjudicator.violations(node.staker.address);
    await expect(evaluate(evidence)).to.emit(adjudicator, "IncorrectCFragSlashed");
    expect(await adjudicator.violations(node.staker.address)).to.equal(violations + 1n);
  });
});
