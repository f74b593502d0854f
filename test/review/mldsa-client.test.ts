// Outside review of the ML-DSA-44 directory client (src/directory/client.ts): what a lying
// directory can make DirectoryClient.lookup accept. The client must decide from what the log
// entry authenticates (the envelope), never from the answer's own unauthenticated fields.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import type { CheckpointContract } from "../../src/directory/checkpoint-contract";
import { directoryKeyBytes32 } from "../../src/directory/checkpoint-contract";
import { DirectoryClient, DirectoryVerificationError } from "../../src/directory/client";
import type { HistoryView, KeyRecord } from "../../src/directory/directory";
import { encodePublicKey } from "../../src/directory/encoding";
import { publicKeyOf } from "../../src/directory/protocol";
import { DirectoryServer, startDirectoryServer } from "../../src/directory/server";
import { newSecretKey } from "../directory/helpers";
import { startInstance, TestInstance } from "../directory/instance";

/** A contract stub: the directory's key hash and no checkpoint yet (what a fresh deployment has). */
function contractFor(server: DirectoryServer): CheckpointContract {
  return {
    directoryKey: async () => directoryKeyBytes32(server.directory.publicKey),
    latest: async () => [0n, "0x" + "00".repeat(32), 0n],
    rootAt: async () => "0x" + "00".repeat(32),
    checkpoint: async () => {
      throw new Error("read-only");
    },
  };
}

describe("review: DirectoryClient and a lying directory", function () {
  this.timeout(180_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-review-client-"));
  let server: DirectoryServer;
  let social: TestInstance;
  const realFetch = globalThis.fetch;

  before(async () => {
    social = await startInstance();
    server = await startDirectoryServer({
      database: path.join(tmp, "d.db"),
      name: "https://pkd.test",
      signingKey: newSecretKey(),
      allowInsecureActors: true,
      rateLimit: { basePenaltyMs: 0 },
      commitmentWorkers: 0,
      tlog: false,
    });
  });

  after(async () => {
    globalThis.fetch = realFetch;
    await server?.close();
    await social?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("a RevokeKey record relabelled `action: AddKey` is not accepted as the key's proof", async () => {
    const ALICE = social.actor("alice");
    // The record layer's own check, beneath the response signatures (which catch the edit first: below).
    const client = new DirectoryClient({ url: server.url, contract: contractFor(server), verifyResponses: false });
    const k1 = newSecretKey();
    const k2 = newSecretKey();
    const first = await client.publishFirstKey(ALICE, k1, social.identity("alice"));
    await client.publish(ALICE, publicKeyOf(k2), k1, social.identity("alice"), first["key-id"]);
    // Alice revokes k2 (say it leaked).
    const revoked = await client.revoke(ALICE, publicKeyOf(k2), k1, social.identity("alice"), first["key-id"]);
    expect((await client.lookup(ALICE)).keys).to.have.length(1);

    // The directory now lists k2 again, offering the RevokeKey record as its proof, with the
    // answer's top-level `action` (not covered by the log entry) saying AddKey.
    globalThis.fetch = async (input, init) => {
      const res = await realFetch(input, init);
      const url = String(input);
      if (url.includes("/keys")) {
        const body = (await res.json()) as { "public-keys": KeyRecord[] };
        body["public-keys"].push({
          "key-id": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
          "public-key": encodePublicKey(publicKeyOf(k2)),
          "leaf-index": revoked["leaf-index"],
          "merkle-leaf": revoked["merkle-leaf"],
          revoked: false,
          "moved-by": [],
        });
        return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
      }
      if (url.includes(`/api/history/view/${encodeURIComponent(revoked["merkle-leaf"])}`)) {
        const view = (await res.json()) as HistoryView;
        expect(view.envelope.action).to.equal("RevokeKey");
        view.action = "AddKey";
        return new Response(JSON.stringify(view), { status: res.status, headers: res.headers });
      }
      return res;
    };
    try {
      let accepted: string[] | undefined;
      let failure: unknown;
      try {
        accepted = (await client.lookup(ALICE)).keys.map((k) => encodePublicKey(k.publicKey));
      } catch (err) {
        failure = err;
      }
      expect(accepted, "lookup accepted the revoked key on a RevokeKey record").to.equal(undefined);
      expect(failure).to.be.instanceOf(DirectoryVerificationError);
      expect((failure as DirectoryVerificationError).code).to.equal("record_mismatch");
      // With response signatures checked (the default), the edited answer is refused as such.
      const checked = await new DirectoryClient({ url: server.url, contract: contractFor(server) }).lookup(ALICE).catch((e: unknown) => e);
      expect((checked as DirectoryVerificationError).code).to.equal("bad_response_signature");
    } finally {
      globalThis.fetch = realFetch;
    }
  });
});
