// Attack 1 of issue #13: an owner crafts kfrag signatures whose nonce point R has R.x ≥ n
// (r = R.x − n) and solves for the verifying key Q = r⁻¹(s·R − z·G). libsecp256k1 and
// rust-umbral accept the signature (they compare R.x mod n with r), ecrecover does not (it
// lifts the point with x = r). The agent must not accept a kfrag whose honest cfrags the
// Adjudicator would judge incorrect: an honest node is never slashed.
import { expect } from "chai";
import { getBytes, hexlify } from "ethers";
import * as reference from "@nucypher/umbral-pre";
import * as umbral from "../../src/umbral";
import { buildReencryptRequest, sealKFragUpload, type ReencryptResponse } from "../../src/node/protocol";
import { buildEvidence, type CFragEvidence } from "../../src/client/evidence";
import { accountWallet, capsulesFor } from "../node/helpers";
import { startJudgedAgent, type JudgedAgent } from "../adjudicator/judged-agent";
import { createCraftedPolicy, kfragSignatureDigest, signatureWithLargeNonce, withKFragSignature } from "./craft";
import { fileEvidence } from "./file-evidence";

describe("acceptance: a kfrag signature with R.x ≥ n (attack 1) never gets an honest node slashed", function () {
  let world: JudgedAgent;

  before(async () => {
    world = await startJudgedAgent("nkms-acc-rx-", 3, { workers: 1, maxBatch: 8, bodyLimit: 64 * 1024 });
  });
  after(async () => world?.close());

  it("the owner's crafted kfrag is refused at intake, or its cfrags are judged correct and nothing is slashed", async function () {
    const { net, node, adjudicator, agent, payer, investigator } = world;
    const owner = accountWallet(15);
    const p = await createCraftedPolicy(net, payer, owner, node.staker.address, (kfrag, alice, bob) => {
      const bytes = kfrag.toBytes();
      const digest = kfragSignatureDigest(bytes, alice.publicKey(), bob.publicKey());
      const { signature, verifyingKey } = signatureWithLargeNonce(digest);
      return { kfrag: withKFragSignature(bytes, signature), verifyingKey };
    });
    const publisher = umbral.PublicKey.fromCompressedBytes(p.publisherKey);
    // Both Umbral implementations accept the crafted kfrag: only ecrecover disagrees.
    umbral.KeyFrag.fromBytes(p.kfragBytes).verify(publisher, p.alice.publicKey(), p.bob.publicKey());
    reference.KeyFrag.fromBytes(p.kfragBytes)
      .verify(
        reference.PublicKey.fromCompressedBytes(p.publisherKey),
        reference.PublicKey.fromCompressedBytes(p.alice.publicKey().toCompressedBytes()),
        reference.PublicKey.fromCompressedBytes(p.bob.publicKey().toCompressedBytes()),
      )
      .free();

    const upload = await sealKFragUpload(owner, p.policyIdBytes, node.staker.address, node.keys.encryptingKey, {
      kfrag: hexlify(p.kfragBytes),
      publisherVerifyingKey: hexlify(p.publisherKey),
      delegatingKey: hexlify(p.alice.publicKey().toCompressedBytes()),
      receivingKey: hexlify(p.bob.publicKey().toCompressedBytes()),
      proof: p.proofs[0],
      conditions: null,
      reader: null,
    });
    const res = await agent.app.inject({ method: "POST", url: `/v1/policies/${p.policyId}/kfrag`, payload: upload as object });
    const stakeBefore = (await net.core.escrow.stakeOf(node.staker.address)).amount;
    if (res.statusCode !== 201) {
      expect(res.statusCode, res.body).to.equal(400);
      return; // refused at intake: the node never serves (or stamps) a cfrag of it
    }
    // Accepted: Bob's cfrags must be judged correct on-chain.
    const { capsules } = capsulesFor(p, 3);
    const request = await buildReencryptRequest(p.bobSigner, node.staker.address, p.policyIdBytes, capsules.map((c) => c.toBytes()));
    const answer = await agent.app.inject({ method: "POST", url: `/v1/policies/${p.policyId}/reencrypt`, payload: request as object });
    expect(answer.statusCode, answer.body).to.equal(200);
    const { cfrags, stampPeriod } = answer.json() as ReencryptResponse;
    for (let i = 0; i < capsules.length; i++) {
      const evidence: CFragEvidence = buildEvidence({
        capsule: capsules[i].toBytes(),
        cfrag: getBytes(cfrags[i].cfrag),
        delegatingKey: p.alice.publicKey().toCompressedBytes(),
        receivingKey: p.bob.publicKey().toCompressedBytes(),
        verifyingKey: p.publisherKey,
        staker: node.staker.address,
        stampPeriod,
        policyCreator: owner.address,
        policyId: p.policyIdBytes,
        nodeVerifyingKey: node.keys.stampKey.toCompressedBytes(),
        stampSignature: getBytes(cfrags[i].signature),
        stampProof: cfrags[i].stampProof.map((x) => getBytes(x)),
      });
      // src/umbral accepts the honest cfrag too...
      umbral.CapsuleFrag.fromBytes(evidence.cfrag).verify(capsules[i], publisher, p.alice.publicKey(), p.bob.publicKey());
      // ...so must the Adjudicator: whoever files it, the node keeps its stake.
      await fileEvidence(adjudicator, investigator, evidence).catch(() => undefined);
    }
    expect((await net.core.escrow.stakeOf(node.staker.address)).amount, "an honest node was slashed").to.equal(stakeBefore);
    expect(await adjudicator.violations(node.staker.address)).to.equal(0n);
  });
});
