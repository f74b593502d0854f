// Outside review of the directory's request authentication (server.ts `authenticate`).
//
// The bad-request table charges `instance:<origin of the claimed actor>` for every rejected
// submission, before and whatever the signature check's outcome. The actor is whatever the
// unauthenticated sender writes in the envelope, so a stranger can charge any instance: one
// unsigned POST naming `https://victim.social/users/x` puts the whole victim instance in the
// penalty box (doubling per failure, up to 10 minutes by default), and one such POST per penalty
// period from a single address keeps every user of that instance from publishing or revoking keys.
//
// Expected once fixed: the instance is charged only for requests its own key signed (a verified
// signature followed by a rejection); a stranger's unsigned or badly signed request charges its IP.
import http from "node:http";
import { expect } from "chai";
import { DirectoryRequestError } from "../../src/directory/client";
import { newSecretKey } from "../directory/helpers";
import { startWorld, World } from "./directory-mitm";

/** A POST from another loopback address (another client as far as the directory can tell). */
function postFrom(localAddress: string, url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: "POST", localAddress, headers: { "content-type": "application/json" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("review: a stranger cannot put an instance in the bad-request penalty box", function () {
  this.timeout(180_000);
  let w: World;

  before(async () => {
    // Back-off on, with a penalty long enough for the test to observe (the default is 100 ms doubling to 10 min).
    w = await startWorld({ rateLimit: { basePenaltyMs: 60_000 } });
  });
  after(async () => {
    await w?.close();
  });

  it("one unsigned envelope naming a victim's actor, from another address, does not block the victim instance's honest users", async () => {
    // Mallory, at 127.0.0.2, holds no key of the victim instance and signs nothing.
    const forged = JSON.stringify({ "!pkd-context": "fedi-e2ee:v1-plaintext-message", actor: w.social.actor("someone"), message: "{}" });
    const refused = await postFrom("127.0.0.2", `${w.server.url}/api/message`, forged);
    expect(refused.status).to.equal(401);

    // Bob, a user of that instance, from another address, publishes his first key, signed by his instance.
    const outcome = await w
      .client()
      .publishFirstKey(w.social.actor("bob"), newSecretKey(), w.social.identity("bob"))
      .then((r) => r, (e: unknown) => e);
    if (outcome instanceof DirectoryRequestError) {
      expect.fail(`the honest, correctly signed submission was refused (${outcome.status} ${outcome.code}) because a stranger named the instance`);
    }
    expect(outcome).to.not.be.instanceOf(Error);
  });
});
