// Outside review of the signed responses (src/directory/response-signature.ts, client.ts).
//
// A response signature covers "@status" and "content-digest": it says "the directory once sent
// these bytes with this status", not "this is the answer to your request". Every error body of a
// kind is the same bytes for every actor, and a 201 acknowledgement is bound to nothing the client
// sent. So a man in the middle can, with validly signed responses taken from other requests:
//   1. answer "no such actor" (404) for an actor that exists (any 404 recorded once will do), and
//   2. swallow a RevokeKey and answer with the signed 201 of an earlier submission: revoke()
//      resolves, the key stays active, and the SDK's caller believes it is revoked.
// Neither is caught by the tree heads, inclusion proofs or checkpoints: no proof is involved.
//
// Expected once fixed (RFC 9421 §2.4: the response signature covers the request's "@method";req,
// "@target-uri";req and "content-digest";req, and the SDK checks them): both substitutions are
// refused as bad_response_signature.
import { expect } from "chai";
import { DirectoryRequestError, DirectoryVerificationError } from "../../src/directory/client";
import { encodePublicKey } from "../../src/directory/encoding";
import { publicKeyOf } from "../../src/directory/protocol";
import { newSecretKey } from "../directory/helpers";
import { Recorded, record, startWorld, World } from "./directory-mitm";

describe("review: signed responses are bound to the request they answer", function () {
  this.timeout(180_000);
  let w: World;

  before(async () => {
    w = await startWorld();
  });
  after(async () => {
    await w?.close();
  });

  it("a signed 404 recorded for an unknown actor is refused as the answer for an actor that exists", async () => {
    const BOB = w.social.actor("bob");
    await w.client().publishFirstKey(BOB, newSecretKey(), w.social.identity("bob"));
    expect((await w.client().lookup(BOB)).keys).to.have.length(1);

    // Anyone can make the directory sign a 404: ask for an actor it does not know.
    const notFound = await record(`${w.server.url}/api/actor/${encodeURIComponent(w.social.actor("nobody"))}/keys`);
    expect(notFound.status).to.equal(404);

    const bobKeys = `${w.server.url}/api/actor/${encodeURIComponent(BOB)}/keys`;
    const remove = w.mitm((method, url) => (method === "GET" && url === bobKeys ? notFound : undefined));
    let outcome: unknown;
    try {
      outcome = await w.client().lookup(BOB).then((r) => r, (e: unknown) => e);
    } finally {
      remove();
    }
    expect(outcome, "the SDK believed a 404 signed for another request: Bob 'is not in the directory'").to.not.be.instanceOf(DirectoryRequestError);
    expect(outcome).to.be.instanceOf(DirectoryVerificationError);
    expect((outcome as DirectoryVerificationError).code).to.equal("bad_response_signature");
  });

  it("revoke() does not report success when its RevokeKey was dropped and an earlier signed 201 replayed", async () => {
    const CAROL = w.social.actor("carol");
    const carol = w.social.identity("carol");
    const k1 = newSecretKey();
    const k2 = newSecretKey();
    const first = await w.client().publishFirstKey(CAROL, k1, carol);

    // Mallory keeps the signed 201 of Carol's next submission (the AddKey of k2)...
    let ack: Recorded | undefined;
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url === `${w.server.url}/api/message` && init?.method === "POST") {
        ack = await record(url, init, realFetch);
        return new Response(Buffer.from(ack.body), { status: ack.status, headers: ack.headers });
      }
      return realFetch(input, init);
    };
    try {
      await w.client().publish(CAROL, publicKeyOf(k2), k1, carol, first["key-id"]);
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(ack?.status).to.equal(201);

    // ...and when Carol revokes k2 (it leaked), drops the request and answers with that 201.
    const remove = w.mitm((method, url) => (method === "POST" && url === `${w.server.url}/api/message` ? ack : undefined));
    let outcome: unknown;
    try {
      outcome = await w.client().revoke(CAROL, publicKeyOf(k2), k1, carol, first["key-id"]).then((r) => r, (e: unknown) => e);
    } finally {
      remove();
    }
    // The directory never saw the revocation: k2 is still Carol's active key.
    const active = (await w.client().lookup(CAROL)).keys.map((k) => encodePublicKey(k.publicKey));
    expect(active).to.include(encodePublicKey(publicKeyOf(k2)));
    expect(outcome, `revoke() resolved with ${JSON.stringify(outcome)} (an AddKey's acknowledgement) though nothing was revoked`).to.be.instanceOf(Error);
    expect(outcome).to.be.instanceOf(DirectoryVerificationError);
  });
});
