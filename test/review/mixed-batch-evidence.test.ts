// Regression test for an outside review of issue #13 (it failed before the fix; finding, low: the client keeps evidence the Adjudicator will never accept). retrieval.ts
// checks the stamp's date against the escrow only when EVERY cfrag of the answer is stamped
// (`stamped.every(Boolean) && !checkStampDate(...)`). A node that answers a two-cfrag request
// with a lie stamped under a date the escrow does not count (here: a future period) followed by
// an unstamped cfrag skips the date check; the loop reaches the stamped lie first and keeps it as
// evidence. The investigator then pays for a commit whose reveal reverts InvalidStampSignature:
// "client saves evidence ⇔ Adjudicator slashes" does not hold.
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { hexlify } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { retrieveCFrags, stampDateCheck } from "../../src/client/retrieval";
import { RetrievalError } from "../../src/client/errors";
import { CFRAG_OFFSETS as O, parseEvidence, signStamp } from "../../src/client/evidence";
import { fileCFragEvidence } from "../../src/client/challenge";
import { SecretKey, Signer, encrypt, generateKFrags, reencrypt } from "../../src/umbral";
import { randomPoint, withField } from "../adjudicator/fixtures";
import { TEST_POLICY_CREATOR, TEST_POLICY_ID, deployAdjudicatorSetup } from "../adjudicator/setup";

describe("review: the client keeps evidence only when the Adjudicator would slash with it", function () {
  it("a stamped lie with an uncounted date next to an unstamped cfrag is not kept as evidence (or it slashes)", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const alice = SecretKey.random();
    const bob = SecretKey.random();
    const publisher = new Signer(SecretKey.random());
    const [kfrag] = generateKFrags(alice, bob.publicKey(), publisher, 1, 1, true, true);
    const capsules = [encrypt(alice.publicKey(), new Uint8Array([1]))[0], encrypt(alice.publicKey(), new Uint8Array([2]))[0]];
    const lie = withField(reencrypt(capsules[0], kfrag).toBytes(), O.e2, randomPoint().toBytes(true));
    const honest = reencrypt(capsules[1], kfrag).toBytes();
    const futurePeriod = s.stampPeriod + 1; // the escrow never counts a future-dated stamp
    const context = {
      staker: s.node.staker.address,
      stampPeriod: futurePeriod,
      policyCreator: TEST_POLICY_CREATOR,
      policyId: TEST_POLICY_ID,
      delegatingKey: alice.publicKey().toCompressedBytes(),
      receivingKey: bob.publicKey().toCompressedBytes(),
      verifyingKey: publisher.verifyingKey().toCompressedBytes(),
    };
    const body = JSON.stringify({
      node: s.node.staker.address,
      policyId: hexlify(TEST_POLICY_ID),
      stampPeriod: futurePeriod,
      cfrags: [
        { cfrag: hexlify(lie), signature: hexlify(signStamp(s.stampSecretKey, context, capsules[0].toBytes(), lie)), stampProof: [] },
        { cfrag: hexlify(honest), signature: hexlify(new Uint8Array(64).fill(7)), stampProof: [] },
      ],
    });
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(body));
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const evidenceDir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-review-"));
    try {
      const err = (await retrieveCFrags({
        policyId: TEST_POLICY_ID,
        policyCreator: TEST_POLICY_CREATOR,
        checkStampDate: stampDateCheck(s.core.escrow),
        threshold: 1,
        capsules,
        delegatingKey: alice.publicKey(),
        publisherVerifyingKey: publisher.verifyingKey(),
        receivingKey: bob.publicKey(),
        signer: new Signer(bob),
        nodes: [{ staker: s.node.staker.address, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stampKey: s.node.verifyingKey }],
        evidenceDir,
      }).catch((e: unknown) => e)) as RetrievalError;
      expect(err).to.be.instanceOf(RetrievalError);
      const [failure] = err.failures;
      if (!failure.evidenceFile) return; // no evidence kept: the rule holds
      // Evidence was kept: then it must slash.
      const evidence = parseEvidence(fs.readFileSync(failure.evidenceFile, "utf8"));
      await fileCFragEvidence(s.adjudicator.connect(s.investigator), evidence);
      expect(await s.adjudicator.violations(s.node.staker.address)).to.equal(1n);
    } finally {
      server.close();
      fs.rmSync(evidenceDir, { recursive: true, force: true });
    }
  });
});
