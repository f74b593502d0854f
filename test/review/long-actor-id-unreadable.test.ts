// Outside review of the read routes (server.ts): actor IDs longer than 100 characters can publish
// keys but can never be read back.
//
// The directory accepts actor IDs of up to 2048 characters (actor-keys.ts MAX_ACTOR_LENGTH), and
// the write path carries the actor in the JSON body, so an instance publishes a key for such an
// actor (201). Every read names the actor in the path, `api/actor/:id[/keys|/key/:keyId|/auxiliary
// [/:auxId]]`, and fastify's router refuses a path parameter longer than its default maxParamLength
// (100 characters, decoded) before any route runs: 414 with fastify's own body
// ({"error":"Bad Request","code":"FST_ERR_MAX_PARAM_LENGTH"}), not the spec's error object, and
// unsigned (the onSend hook never runs), so the SDK's lookup fails on the missing signature.
// Actor IDs past 100 characters are uncommon but legal ActivityPub IDs (long hostnames, nested
// paths, UUID- or URL-shaped user ids); readers of such an actor cannot find any of its keys, and
// its owner cannot see what the directory says about it.
//
// Expected once fixed: the router's maxParamLength covers the longest actor ID the directory
// accepts (2048, percent-encoded: up to 3x that), or the write path refuses what reads cannot name.
import { expect } from "chai";
import { DirectoryClient } from "../../src/directory/client";
import { encodePublicKey } from "../../src/directory/encoding";
import { publicKeyOf } from "../../src/directory/protocol";
import type { DirectoryServer } from "../../src/directory/server";
import { newSecretKey } from "../directory/helpers";
import type { TestInstance } from "../directory/instance";
import { LiveDirectory, startLiveDirectory } from "../directory/live-directory";

describe("review: an actor whose ID is over 100 characters can be read as it was written", function () {
  this.timeout(180_000);
  let live: LiveDirectory;
  let server: DirectoryServer;
  let social: TestInstance;
  let client: DirectoryClient;
  let LONG: string;
  const seed = newSecretKey();

  before(async () => {
    live = await startLiveDirectory();
    ({ server, social } = live);
    const contract = live.contract;
    client = new DirectoryClient({ url: server.url, contract });
    // http://127.0.0.1:PORT/users/ + 90 characters: ~120 characters, far below the 2048 accepted.
    const name = "alice-" + "0123456789abcdefghijklmnopqrstuvwxyz".repeat(3).slice(0, 84);
    LONG = social.actor(name);
    const published = await client.publishFirstKey(LONG, seed, social.identity(name));
    console.log(`      ${LONG.length}-character actor ID published its first key: leaf ${published["leaf-index"]}`);
    expect(await server.directory.keys(LONG)).to.have.length(1);
  });

  after(async () => {
    await live?.close();
  });

  it("GET api/actor/:id and api/actor/:id/keys answer 200 for it", async () => {
    for (const rest of ["", "/keys", "/auxiliary"]) {
      const res = await fetch(`${server.url}/api/actor/${encodeURIComponent(LONG)}${rest}`);
      const body = await res.text();
      console.log(`      GET api/actor/<${LONG.length} chars>${rest}: ${res.status}, signature ${res.headers.get("signature") ? "present" : "absent"}, ${body.slice(0, 90)}`);
      expect(res.status, `api/actor/:id${rest}: ${body}`).to.equal(200);
    }
  });

  it("the SDK's lookup finds its key", async () => {
    const found = await client.lookup(LONG);
    expect(found.keys.map((k) => encodePublicKey(k.publicKey))).to.deep.equal([encodePublicKey(publicKeyOf(seed))]);
  });
});
