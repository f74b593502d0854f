// Attack 3 of issue #13: a node returning a correctly stamped cfrag that does not parse (z = n,
// an off-curve point, a signature scalar ≥ n) must leave evidence on the client, and that
// evidence slashes. Real agent behind a lying front that mutates its honest cfrags and
// re-stamps them with the node's key; the real client retrieval; the real Adjudicator.
import { expect } from "chai";
import fs from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { retrieveCFrags, stampDateCheck } from "../../src/client/retrieval";
import { RetrievalError } from "../../src/client/errors";
import { CFRAG_OFFSETS as O, parseEvidence } from "../../src/client/evidence";
import { fileCFragEvidence } from "../../src/client/challenge";
import * as umbral from "../../src/umbral";
import { accountWallet, capsulesFor, createPolicy, uploadFor } from "../node/helpers";
import { advancePeriods } from "../shared/core-fixture";
import { startJudgedAgent, type JudgedAgent } from "../adjudicator/judged-agent";
import { startLyingProxy } from "../client/lying-node";
import { N, P, bigintBytes, withBytes } from "./craft";

const OPERATOR_INDEX = 5;

describe("acceptance: a stamped cfrag that does not parse leaves evidence that slashes (attack 3)", function () {
  let world: JudgedAgent;
  let url: string;

  before(async () => {
    world = await startJudgedAgent("nkms-acc-malformed-", OPERATOR_INDEX, { workers: 1, maxBatch: 8, bodyLimit: 64 * 1024 });
    await world.agent.app.listen({ port: 0, host: "127.0.0.1" });
    url = `http://127.0.0.1:${(world.agent.app.server.address() as AddressInfo).port}`;
  });
  after(async () => world?.close());

  const cases: [string, (c: Uint8Array) => Uint8Array][] = [
    ["z = n", (c) => withBytes(c, O.z, bigintBytes(N))],
    ["E2 off the curve", (c) => withBytes(c, O.e2 + 1, bigintBytes(P - 1n))],
    ["kfrag signature s ≥ n", (c) => withBytes(c, O.kfragSignature + 32, bigintBytes(N + 1n))],
  ];

  for (const [name, mutate] of cases) {
    it(`${name}: the client keeps the raw bytes as evidence, and it slashes the node`, async function () {
      const { net, node, payer, adjudicator, investigator } = world;
      // One slash per (staker, stamp period): each lie is told in a period of its own.
      await advancePeriods(net.core, 1);
      const p = await createPolicy(net, payer, accountWallet(15), [node.staker.address]);
      const proxy = await startLyingProxy(accountWallet(OPERATOR_INDEX), node.staker.address, { mutate });
      proxy.target = url;
      const evidenceDir = fs.mkdtempSync(join(world.dir, "evidence-"));
      try {
        const upload = await fetch(`${proxy.url}/v1/policies/${p.policyId}/kfrag`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(await uploadFor(p, 0)),
        });
        expect(upload.status).to.equal(201);
        const { capsules } = capsulesFor(p, 1);
        const err = (await retrieveCFrags({
          policyId: p.policyIdBytes,
          policyCreator: p.owner.address,
          checkStampDate: stampDateCheck(net.core.escrow),
          threshold: 1,
          capsules,
          delegatingKey: p.alice.publicKey(),
          publisherVerifyingKey: p.aliceSigner.verifyingKey(),
          receivingKey: p.bob.publicKey(),
          signer: p.bobSigner,
          nodes: [{ staker: node.staker.address, endpoint: proxy.url, stampKey: node.keys.stampKey.toCompressedBytes() }],
          evidenceDir,
        }).catch((e: unknown) => e)) as RetrievalError;
        expect(err).to.be.instanceOf(RetrievalError);
        const [failure] = err.failures;
        expect(failure.kind, failure.message).to.equal("invalid_cfrag");
        const evidence = parseEvidence(fs.readFileSync(failure.evidenceFile!, "utf8"));
        expect(() => umbral.CapsuleFrag.fromBytes(evidence.cfrag)).to.throw(); // it does not even parse
        const before = await adjudicator.violations(node.staker.address);
        const filed = await fileCFragEvidence(adjudicator.connect(investigator), evidence);
        expect(filed.correct).to.equal(false);
        expect(await adjudicator.violations(node.staker.address)).to.equal(before + 1n);
      } finally {
        await proxy.close();
      }
    });
  }
});
