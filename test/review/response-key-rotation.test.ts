// Outside review of the response-key certificate (response-signature.ts `certifyResponseKey`,
// client.ts `certifiedResponseKey`).
//
// The certificate is the directory key's ML-DSA-44 signature over a fixed context and the Ed25519
// key: no date, no expiry, no serial, and nothing on chain names the current response key. So:
//   1. a response key the directory has retired (the operator rotated `responseKey`, say because a
//      front-end host leaked it) stays certified for as long as the directory key is on chain: whoever
//      holds it and the old `api/info` signs answers the SDK accepts (every unproven answer: key
//      lists' non-revocation, 404s, submission acknowledgements);
//   2. the SDK fetches the key once per client and never again: after a legitimate rotation, every
//      request of a long-lived client fails as bad_response_signature until the process restarts.
//
// Expected once fixed: the certificate carries a validity period the SDK checks (or the response
// key is pinned on chain), and the SDK re-reads api/info once when an answer names another keyid.
import { expect } from "chai";
import { DirectoryVerificationError } from "../../src/directory/client";
import { ResponseSigner, requestBinding } from "../../src/directory/response-signature";
import { newSecretKey } from "../directory/helpers";
import { Recorded, atClock, record, startWorld, World } from "./directory-mitm";

describe("review: the response-key certificate expires, and the SDK re-reads it after a rotation", function () {
  this.timeout(180_000);
  let w: World;
  const retired = newSecretKey();

  before(async () => {
    // The directory's key a year ago: it signed responses with `retired` and published its certificate.
    w = await atClock(-400 * 86400_000, () => startWorld({ responseKey: retired }));
    await w.client().publishFirstKey(w.social.actor("alice"), newSecretKey(), w.social.identity("alice"));
  });
  after(async () => {
    await w?.close();
  });

  it("a retired response key with its year-old api/info is refused (its certificate expired), even re-signed", async () => {
    // Recorded a year ago (anyone could: api/info is public).
    const oldInfo: Recorded = await atClock(-400 * 86400_000, () => record(`${w.server.url}/api/info`));
    // The operator rotates the response key; the directory key (on chain) stays.
    await w.restart({ responseKey: newSecretKey() });

    // Mallory holds the retired key: serves the old api/info and re-signs the directory's answers.
    const mallory = new ResponseSigner(retired);
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (!url.startsWith(w.server.url)) return realFetch(input, init);
      if (url === `${w.server.url}/api/info`) {
        // Re-signed now with the retired key: only the certificate's date can give it away.
        const headers = new Headers(oldInfo.headers);
        for (const [k, v] of Object.entries(mallory.sign(oldInfo.status, oldInfo.body, requestBinding("GET", "/api/info")))) headers.set(k, v);
        return new Response(Buffer.from(oldInfo.body), { status: oldInfo.status, headers });
      }
      const res = await realFetch(input, init);
      const body = new Uint8Array(await res.arrayBuffer());
      const headers = new Headers(res.headers);
      const u = new URL(url);
      const digest = (init?.headers as Record<string, string> | undefined)?.["content-digest"];
      for (const [k, v] of Object.entries(mallory.sign(res.status, body, requestBinding(init?.method ?? "GET", u.pathname + u.search, digest)))) headers.set(k, v);
      return new Response(Buffer.from(body), { status: res.status, headers });
    };
    let outcome: unknown;
    try {
      outcome = await w.client().verifiedTreeHead().then((r) => r, (e: unknown) => e);
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(outcome, "the SDK accepted answers signed by a response key the directory retired a year ago").to.be.instanceOf(DirectoryVerificationError);
    expect((outcome as DirectoryVerificationError).code).to.equal("bad_response_key");
  });

  it("a long-lived client follows a legitimate rotation of the response key", async () => {
    const client = w.client();
    await client.verifiedTreeHead();
    await w.restart({ responseKey: newSecretKey() });
    const outcome = await client.verifiedTreeHead().then((r) => r, (e: unknown) => e);
    expect(outcome, `the honest directory's answers are refused after its rotation: ${String(outcome)}`).to.not.be.instanceOf(Error);
  });
});
