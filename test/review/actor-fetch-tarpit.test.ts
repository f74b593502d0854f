// Outside review of the directory's request authentication (server.ts `authenticate`,
// actor-keys.ts ActorKeyResolver).
//
// Before a signature is checked the directory fetches the claimed actor's document: at most 8
// fetches at once, 32 queued, the rest refused with 503 for everybody. The limit is global, a
// failed fetch is not cached (the cache key is actor + keyid, so each request can miss it), and the
// outcome (502 actor_unreachable after the 3 s timeout) is not a 4xx, so the back-off never charges
// the sender. One client with an instance that never answers (a tarpit) sends 40 requests with
// well-formed signature headers every 3 s and every honest instance whose key is not cached gets
// 503. With two signatures per request (new today: both keyids are resolved in parallel) each
// request takes two slots.
//
// Expected once fixed: one instance cannot hold more than its share of the fetch slots (say one or
// two per origin, extra requests for it refused), and an unreachable actor charges the sender's IP.
import http from "node:http";
import type { Socket } from "node:net";
import { expect } from "chai";
import { DirectoryRequestError } from "../../src/directory/client";
import { newSecretKey } from "../directory/helpers";
import { startWorld, World } from "./directory-mitm";

function postFrom(localAddress: string, url: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: "POST", localAddress, headers: { "content-type": "application/json", ...headers } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", () => resolve(0));
    req.end(body);
  });
}

describe("review: a tarpit instance cannot starve other instances of actor-document fetches", function () {
  this.timeout(180_000);
  let w: World;
  let tarpit: http.Server;
  const held: Socket[] = [];
  let tarpitOrigin = "";
  let released = false;

  before(async () => {
    // Back-off at the spec's defaults (100 ms doubling).
    w = await startWorld({ rateLimit: {} });
    // Mallory's instance: accepts the connection, never answers.
    tarpit = http.createServer((req) => (released ? req.socket.destroy() : held.push(req.socket)));
    await new Promise<void>((resolve) => tarpit.listen(0, "127.0.0.1", resolve));
    tarpitOrigin = `http://127.0.0.1:${(tarpit.address() as { port: number }).port}`;
  });
  after(async () => {
    for (const s of held) s.destroy();
    await new Promise((resolve) => tarpit?.close(resolve));
    await w?.close();
  });

  it("40 requests naming tarpit actors do not make an honest instance's first submission fail", async () => {
    const sig = `sig1=:${Buffer.alloc(64).toString("base64")}:`;
    const attack = Array.from({ length: 40 }, (_, i) => {
      const actor = `${tarpitOrigin}/users/u${i}`;
      const body = JSON.stringify({ "!pkd-context": "fedi-e2ee:v1-plaintext-message", actor, message: "{}" });
      return postFrom("127.0.0.2", `${w.server.url}/api/message`, body, {
        "content-digest": "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:",
        "signature-input": `sig1=("@method" "@target-uri" "content-digest");created=${Math.floor(Date.now() / 1000)};keyid="${actor}#k";alg="ed25519"`,
        signature: sig,
      });
    });
    // Wait until the directory holds its fetch slots (8 today) open on the tarpit, or 1 s.
    for (let i = 0; i < 50 && held.length < 8; i++) await new Promise((r) => setTimeout(r, 20));
    expect(held.length, "the directory is fetching the tarpit's actor documents").to.be.at.least(1);

    // Bob, on an honest instance, publishes his first key meanwhile.
    const outcome = await w
      .client()
      .publishFirstKey(w.social.actor("bob"), newSecretKey(), w.social.identity("bob"))
      .then((r) => r, (e: unknown) => e);
    released = true;
    for (const s of held) s.destroy();
    const statuses = await Promise.all(attack);
    if (outcome instanceof DirectoryRequestError) {
      expect.fail(`Bob's correctly signed submission was refused (${outcome.status} ${outcome.code}) while a tarpit held the fetch slots; the attacker's requests got ${[...new Set(statuses)].join(", ")}`);
    }
    expect(outcome).to.not.be.instanceOf(Error);
  });
});
