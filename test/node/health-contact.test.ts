// Issue #16, proof of contact, agent side: the node signs HealthCheck.contactDigest(round,
// checker, node) with its stamp key only inside a served re-encryption that asked for it, and only
// for its HealthCheck's current round (a proof for a later round would let a checker probe once
// and vote blind afterwards).
import { expect } from "chai";
import { ethers } from "hardhat";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getBytes } from "ethers";
import type { FastifyInstance } from "fastify";
import { startInProcessAgent, type InProcessAgent } from "./in-process-agent";
import { buildReencryptRequest, type ReencryptResponse } from "../../src/node/protocol";
import { contactDigest, contactProof } from "../../src/protocol/health-contact";
import { accountWallet, capsulesFor, createPolicy, deployNetwork, setupNode, uploadFor, type Network, type TestNode, type TestPolicy } from "./helpers";

async function post(app: FastifyInstance, url: string, body: unknown) {
  const res = await app.inject({ method: "POST", url, payload: body as object });
  return { status: res.statusCode, json: res.json() as ReencryptResponse & { error?: { code: string } } };
}

describe("node agent: proof of contact for health probes (issue #16)", function () {
  let dir: string;
  let net: Network;
  let node: TestNode;
  let agent: InProcessAgent;
  let plain: InProcessAgent;
  let p: TestPolicy;
  const healthCheck = "0x00000000000000000000000000000000000000c4";
  const checker = accountWallet(17).address;
  const ROUND = 7n;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nkms-contact-"));
    net = await deployNetwork();
    const signers = await ethers.getSigners();
    node = await setupNode(net, signers[1], 2, ethers.provider);
    agent = await startInProcessAgent(net, node, dir, { healthContact: { healthCheck, currentRound: async () => ROUND } });
    p = await createPolicy(net, signers[10], accountWallet(15), [node.staker.address]);
    expect((await post(agent.app, `/v1/policies/${p.policyId}/kfrag`, await uploadFor(p, 0))).status).to.equal(201);
    plain = await startInProcessAgent(net, node, mkdtempSync(join(dir, "plain-")));
    expect((await post(plain.app, `/v1/policies/${p.policyId}/kfrag`, await uploadFor(p, 0))).status).to.equal(201);
  });

  after(async () => {
    await agent?.close();
    await plain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ask = async (a: InProcessAgent, round: number, who = checker, policy = p) => {
    const { capsules } = capsulesFor(policy, 1);
    const req = await buildReencryptRequest(policy.bobSigner, node.staker.address, policy.policyIdBytes, capsules.map((c) => c.toBytes()), {
      healthContact: { round, checker: who },
    });
    return post(a.app, `/v1/policies/${policy.policyId}/reencrypt`, req);
  };

  it("signs with a served re-encryption for the current round: the proof recovers to the node's stamp key", async () => {
    const res = await ask(agent, Number(ROUND));
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    expect(res.json.cfrags).to.have.length(1);
    const contact = res.json.healthContact!;
    expect(contact.round).to.equal(Number(ROUND));
    expect(contact.checker).to.equal(checker);
    const { chainId } = await ethers.provider.getNetwork();
    const ctx = { chainId, healthCheck, round: ROUND, checker, target: node.staker.address };
    const proof = contactProof(ctx, getBytes(contact.signature), node.keys.stampKey.toCompressedBytes());
    expect(proof, "a valid 65-byte proof").to.match(/^0x[0-9a-f]{130}$/);
    expect(ethers.recoverAddress(contactDigest(ctx), proof!)).to.equal(ethers.computeAddress(ethers.hexlify(node.keys.stampKey.toCompressedBytes())));
    // Bound to the checker: the same signature is no proof for another one.
    expect(contactProof({ ...ctx, checker: accountWallet(16).address }, getBytes(contact.signature), node.keys.stampKey.toCompressedBytes())).to.equal(undefined);
  });

  it("does not sign for another round, nor without a HealthCheck, nor with a refused request", async () => {
    for (const round of [Number(ROUND) + 1, Number(ROUND) - 1]) {
      const res = await ask(agent, round);
      expect(res.status).to.equal(200); // served all the same
      expect(res.json.healthContact).to.equal(undefined);
    }
    const res = await ask(plain, Number(ROUND));
    expect(res.status).to.equal(200);
    expect(res.json.healthContact).to.equal(undefined);
    // A request the node refuses (here: a policy it holds no kfrag for) carries no proof.
    const other = await createPolicy(net, (await ethers.getSigners())[10], accountWallet(15), [node.staker.address]);
    const refused = await ask(agent, Number(ROUND), checker, other);
    expect(refused.status).to.equal(404);
    expect(refused.json.healthContact).to.equal(undefined);
    // A malformed request for a proof is refused by the schema.
    expect((await ask(agent, Number(ROUND), "0x1234")).status).to.equal(400);
  });
});
