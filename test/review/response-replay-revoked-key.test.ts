// Outside review of the signed responses (src/directory/response-signature.ts, client.ts).
//
// A response signature covers "@status" and "content-digest" only: nothing of the request, and the
// SDK never looks at `created`. So a man in the middle (or a malicious mirror) that recorded the
// directory's signed answer to GET api/actor/:id/keys can keep serving it after the actor revoked
// a key. The SDK's other checks do not catch it: the revoked key's AddKey record is still in the
// log (inclusion proofs verify against today's checkpointed tree), non-revocation is "the
// directory's claim", and the answer's own `tree-head` (older than the verified one) is ignored.
//
// Expected once fixed: the SDK refuses the stale answer (its signature is an hour old, or the
// answer's tree head is older than the tree it verified), or at least does not return the revoked key.
import { expect } from "chai";
import { DirectoryVerificationError } from "../../src/directory/client";
import { encodePublicKey } from "../../src/directory/encoding";
import { publicKeyOf } from "../../src/directory/protocol";
import { newSecretKey } from "../directory/helpers";
import { atClock, record, startWorld, World } from "./directory-mitm";

describe("review: a replayed signed key list cannot bring a revoked key back", function () {
  this.timeout(180_000);
  let w: World;

  before(async () => {
    w = await startWorld();
  });
  after(async () => {
    await w?.close();
  });

  it("lookup() refuses an hour-old signed `keys` answer recorded before the revocation", async () => {
    const ALICE = w.social.actor("alice");
    const alice = w.social.identity("alice");
    const client = w.client();
    const k1 = newSecretKey();
    const k2 = newSecretKey();
    const first = await client.publishFirstKey(ALICE, k1, alice);
    await client.publish(ALICE, publicKeyOf(k2), k1, alice, first["key-id"]);
    await w.server.checkpointer!.publish();

    // Mallory (on path, or running a mirror) records the directory's signed answer, an hour ago.
    const keysUrl = `${w.server.url}/api/actor/${encodeURIComponent(ALICE)}/keys`;
    const stale = await atClock(-3600_000, () => record(keysUrl));
    expect(stale.status).to.equal(200);

    // k2 leaks; Alice revokes it, and the revocation is checkpointed on chain.
    await client.revoke(ALICE, publicKeyOf(k2), k1, alice, first["key-id"]);
    await w.server.checkpointer!.publish();
    const revoked = encodePublicKey(publicKeyOf(k2));
    const honest = (await w.client().lookup(ALICE)).keys.map((k) => encodePublicKey(k.publicKey));
    expect(honest).to.not.include(revoked);

    // Bob looks Alice up through Mallory, who replays the recorded answer for this one request.
    const remove = w.mitm((method, url) => (method === "GET" && url === keysUrl ? stale : undefined));
    let outcome: string[] | unknown;
    try {
      outcome = await w
        .client()
        .lookup(ALICE)
        .then((r) => r.keys.map((k) => encodePublicKey(k.publicKey)), (e: unknown) => e);
    } finally {
      remove();
    }
    if (Array.isArray(outcome)) {
      expect(outcome, "lookup() returned the revoked key from a replayed, hour-old signed answer").to.not.include(revoked);
    } else {
      expect(outcome).to.be.instanceOf(DirectoryVerificationError);
    }
  });
});
