// The read routes (and the BurnDown and third-party revocation POSTs) in the shapes of the specification's
// "JSON REST API": each answer carries the spec's `!pkd-context` and fields beside the ones the
// SDK reads, and the spec's proofs (a record's Merkle root right after it was appended, with the
// leaf's inclusion proof in that tree) verify.
import { createHash } from "node:crypto";
import path from "node:path";
import { expect } from "chai";
import type { CheckpointContract } from "../../src/directory/checkpoint-contract";
import { DirectoryClient } from "../../src/directory/client";
import type { SubmitResult } from "../../src/directory/directory";
import { decodeMerkleRoot, encodeMerkleRoot, encodePublicKey, fromB64url, toB64url } from "../../src/directory/encoding";
import { leafHash, verifyInclusion } from "../../src/directory/merkle";
import { mlDsaVerify } from "../../src/directory/mldsa";
import { signRequest } from "../../src/directory/http-signature";
import {
  PLAINTEXT_CONTEXT,
  auxDataId,
  buildAddAuxData,
  buildAddKey,
  buildBurnDown,
  buildRevocationToken,
  buildRevokeAuxData,
  publicKeyOf,
} from "../../src/directory/protocol";
import { DirectoryServer, startDirectoryServer } from "../../src/directory/server";
import { newSecretKey } from "./helpers";
import type { TestInstance } from "./instance";
import { LiveDirectory, startLiveDirectory } from "./live-directory";

type Json = Record<string, unknown>;

const TIMESTAMP = /^[0-9]{10}$/;

/** A spec timestamp within a minute of now. */
function expectRecent(value: unknown): void {
  expect(value).to.be.a("string").and.match(TIMESTAMP);
  expect(Math.abs(Number(value) - Date.now() / 1000)).to.be.lessThan(60);
}

describe("directory: read routes in the spec's shapes (v0.8 JSON REST API)", function () {
  this.timeout(180_000);
  let live: LiveDirectory;
  let signingKey: Uint8Array;
  let server: DirectoryServer;
  let contract: CheckpointContract;
  let social: TestInstance;
  let client: DirectoryClient;

  async function get(url: string): Promise<{ status: number; body: Json }> {
    const res = await fetch(url);
    return { status: res.status, body: (await res.json()) as Json };
  }

  const actorPath = (actor: string, rest = ""): string => `${server.url}/api/actor/${encodeURIComponent(actor)}${rest}`;

  /** Checks the spec's proof of the record at `leaf`: the root after it, and its inclusion there. */
  async function expectRecordProof(body: Json, leaf: number): Promise<void> {
    expect(body["merkle-root"]).to.equal(encodeMerkleRoot(await server.directory.log.rootAt(leaf + 1)));
    const proof = (body["inclusion-proof"] as string[]).map((p) => fromB64url(p)!);
    const hash = await server.directory.log.leafHashAt(leaf);
    expect(verifyInclusion(hash, leaf, leaf + 1, proof, decodeMerkleRoot(String(body["merkle-root"]))!)).to.equal(true);
  }

  before(async () => {
    live = await startLiveDirectory();
    ({ server, contract, social, signingKey } = live);
    client = new DirectoryClient({ url: server.url, contract });
  });

  after(async () => {
    await live?.close();
  });

  describe("actor routes", () => {
    let ALICE: string;
    const k1 = newSecretKey();
    const k2 = newSecretKey();
    const k3 = newSecretKey();
    let first: SubmitResult;
    let second: SubmitResult;
    let third: SubmitResult;
    let revoked: SubmitResult;
    let aux: SubmitResult;
    let auxGone: SubmitResult;
    const AUX_ID = auxDataId("age-v1", "age1alice");
    const GONE_ID = auxDataId("openssh", "ssh-ed25519 AAAA");

    before(async () => {
      ALICE = social.actor("alice");
      const alice = social.identity("alice");
      first = await client.publishFirstKey(ALICE, k1, alice);
      second = await client.publish(ALICE, publicKeyOf(k2), k1, alice, first["key-id"]);
      third = await client.publish(ALICE, publicKeyOf(k3), k1, alice, first["key-id"]);
      revoked = await client.revoke(ALICE, publicKeyOf(k2), k1, alice, first["key-id"]);
      const root = async (): Promise<string> => (await client.verifiedTreeHead()).head.root;
      aux = await client.submit(await buildAddAuxData(ALICE, "age-v1", "age1alice", await root(), k1, first["key-id"]), alice);
      await client.submit(await buildAddAuxData(ALICE, "openssh", "ssh-ed25519 AAAA", await root(), k1, first["key-id"]), alice);
      auxGone = await client.submit(await buildRevokeAuxData(ALICE, "openssh", GONE_ID, await root(), k1, first["key-id"]), alice);
    });

    it("api/actor/:id: context, count-keys and count-aux (active ones), beside our fields", async () => {
      const { status, body } = await get(actorPath(ALICE));
      expect(status).to.equal(200);
      expect(body).to.deep.include({
        "!pkd-context": "fedi-e2ee:v1/api/actor/info",
        "actor-id": ALICE,
        "count-keys": 2,
        "count-aux": 1,
        "active-keys": 2,
        "aux-data": 1,
        fireproof: false,
      });
    });

    it("api/actor/:id canonicalises the id: an http:// form finds the https:// actor (server without allowInsecureActors)", async () => {
      const strict = await startDirectoryServer({
        database: path.join(live.tmp, "strict.db"),
        name: "https://pkd.test",
        signingKey: newSecretKey(),
        rateLimit: { basePenaltyMs: 0 },
        commitmentWorkers: 0,
      });
      try {
        const CAROL = "https://social.example/users/carol";
        const seed = newSecretKey();
        // Below the HTTP layer (an https instance is not at hand): the actor the instance vouched for.
        await strict.directory.submit(await buildAddKey(CAROL, publicKeyOf(seed), await strict.directory.currentRoot(), seed), { actor: CAROL });
        const insecure = "http://social.example/users/carol";
        const info = await get(`${strict.url}/api/actor/${encodeURIComponent(insecure)}`);
        expect(info.status).to.equal(200);
        expect(info.body).to.deep.include({ "!pkd-context": "fedi-e2ee:v1/api/actor/info", "actor-id": CAROL, "count-keys": 1, "count-aux": 0 });
        const keys = await get(`${strict.url}/api/actor/${encodeURIComponent(insecure)}/keys`);
        expect(keys.status).to.equal(200);
        expect(keys.body["actor-id"]).to.equal(CAROL);
        expect(keys.body["public-keys"]).to.have.length(1);
        const auxiliary = await get(`${strict.url}/api/actor/${encodeURIComponent(insecure)}/auxiliary`);
        expect([auxiliary.status, auxiliary.body["actor-id"]]).to.deep.equal([200, CAROL]);
        // Not an actor ID at all: no such actor (404), as an unknown one.
        const bad = await get(`${strict.url}/api/actor/${encodeURIComponent("not an actor")}`);
        expect([bad.status, bad.body.error]).to.deep.equal([404, "not_found"]);
      } finally {
        await strict.close();
      }
    });

    it("api/actor/:id/keys: context; each active key with created, merkle-root and inclusion-proof of its AddKey", async () => {
      const { status, body } = await get(actorPath(ALICE, "/keys"));
      expect(status).to.equal(200);
      expect(body["!pkd-context"]).to.equal("fedi-e2ee:v1/api/actor/get-keys");
      expect(body["actor-id"]).to.equal(ALICE);
      const keys = body["public-keys"] as Json[];
      // Only non-revoked keys (k2 was revoked).
      expect(keys.map((k) => k["public-key"])).to.deep.equal([encodePublicKey(publicKeyOf(k1)), encodePublicKey(publicKeyOf(k3))]);
      for (const [k, added] of [[keys[0], first], [keys[1], third]] as const) {
        expectRecent(k.created);
        expect(k["key-id"]).to.equal(added["key-id"]);
        // The root the AddKey's own answer named, and the leaf proven in it.
        expect(k["merkle-root"]).to.equal(added["merkle-root"]);
        await expectRecordProof(k, added["leaf-index"]);
        // Ours, which the SDK reads.
        expect(k["merkle-leaf"]).to.equal(added["merkle-leaf"]);
        expect(k["leaf-index"]).to.equal(added["leaf-index"]);
        expect(k["moved-by"]).to.deep.equal([]);
      }
      // And the SDK still proves them.
      expect((await client.lookup(ALICE)).keys.map((k) => k.keyId)).to.deep.equal([first["key-id"], third["key-id"]]);
    });

    it("api/actor/:id/key/:keyId: context, actor-id, created, proof; revoked / revoke-root are a time and a root, or null", async () => {
      const active = await get(actorPath(ALICE, `/key/${first["key-id"]}`));
      expect(active.status).to.equal(200);
      expect(active.body).to.deep.include({
        "!pkd-context": "fedi-e2ee:v1/api/actor/key-info",
        "actor-id": ALICE,
        "key-id": first["key-id"],
        "public-key": encodePublicKey(publicKeyOf(k1)),
        "merkle-root": first["merkle-root"],
        revoked: null,
        "revoke-root": null,
      });
      expectRecent(active.body.created);
      await expectRecordProof(active.body, first["leaf-index"]);

      const gone = await get(actorPath(ALICE, `/key/${second["key-id"]}`));
      expect(gone.status).to.equal(200);
      expect(gone.body["merkle-root"]).to.equal(second["merkle-root"]);
      await expectRecordProof(gone.body, second["leaf-index"]);
      expectRecent(gone.body.revoked);
      // The root right after the RevokeKey was appended.
      expect(gone.body["revoke-root"]).to.equal(revoked["merkle-root"]);
      expect((await get(actorPath(ALICE, "/key/nope"))).status).to.equal(404);
    });

    it("api/actor/:id/auxiliary: context; each entry with created", async () => {
      const { status, body } = await get(actorPath(ALICE, "/auxiliary"));
      expect(status).to.equal(200);
      expect(body["!pkd-context"]).to.equal("fedi-e2ee:v1/api/actor/aux-info");
      expect(body["actor-id"]).to.equal(ALICE);
      const entries = body.auxiliary as Json[];
      expect(entries.map((e) => [e["aux-id"], e["aux-type"], e["aux-data"]])).to.deep.equal([[AUX_ID, "age-v1", "age1alice"]]);
      expectRecent(entries[0].created);
      expect(entries[0]["merkle-leaf"]).to.equal(aux["merkle-leaf"]);
    });

    it("api/actor/:id/auxiliary/:auxId: the spec's fields; revoked ones too; unknown ids are 404 aux_data_not_found", async () => {
      const one = await get(actorPath(ALICE, `/auxiliary/${AUX_ID}`));
      expect(one.status).to.equal(200);
      expect(one.body).to.deep.include({
        "!pkd-context": "fedi-e2ee:v1/api/actor/get-aux",
        "actor-id": ALICE,
        "aux-data": "age1alice",
        "aux-id": AUX_ID,
        "aux-type": "age-v1",
        "merkle-root": aux["merkle-root"],
        revoked: null,
        "revoke-root": null,
      });
      expectRecent(one.body.created);
      await expectRecordProof(one.body, aux["leaf-index"]);

      const gone = await get(actorPath(ALICE, `/auxiliary/${GONE_ID}`));
      expect(gone.status).to.equal(200);
      expectRecent(gone.body.revoked);
      expect(gone.body["revoke-root"]).to.equal(auxGone["merkle-root"]);

      for (const url of [actorPath(ALICE, "/auxiliary/nope"), actorPath("https://nowhere.test/users/x", `/auxiliary/${AUX_ID}`)]) {
        const missing = await get(url);
        expect([missing.status, missing.body.error]).to.deep.equal([404, "aux_data_not_found"]);
      }
    });
  });

  describe("history routes", () => {
    let added: SubmitResult[];

    before(async () => {
      const BOB = social.actor("bob");
      const b1 = newSecretKey();
      const first = await client.publishFirstKey(BOB, b1, social.identity("bob"));
      const second = await client.publish(BOB, publicKeyOf(newSecretKey()), b1, social.identity("bob"), first["key-id"]);
      added = [first, second];
    });

    it("api/history: context, current-time, created of the latest record, the current merkle-root", async () => {
      const { status, body } = await get(`${server.url}/api/history`);
      expect(status).to.equal(200);
      expect(body["!pkd-context"]).to.equal("fedi-e2ee:v1/api/history");
      expectRecent(body["current-time"]);
      expectRecent(body.created);
      const head = body["tree-head"] as { root: string; "tree-size": number };
      expect(body["merkle-root"]).to.equal(head.root);
      expect(body["merkle-root"]).to.equal(await server.directory.currentRoot());
      expect(body.entries).to.be.an("array").that.is.not.empty;
    });

    it("api/history/since/:hash takes a pkd-mr-v1 root as well as a leaf hash; records in the spec's shape", async () => {
      const [first, second] = added;
      const byRoot = await get(`${server.url}/api/history/since/${first["merkle-root"]}`);
      expect(byRoot.status).to.equal(200);
      expect(byRoot.body["!pkd-context"]).to.equal("fedi-e2ee:v1/api/history/since");
      expectRecent(byRoot.body["current-time"]);
      const size = await server.directory.log.size();
      const records = byRoot.body.records as Json[];
      expect(records).to.have.length(size - first["tree-size"]);
      expect(records[0]["merkle-root"]).to.equal(second["merkle-root"]);
      for (const [i, r] of records.entries()) {
        const leaf = first["tree-size"] + i;
        expectRecent(r.created);
        expect(r["merkle-root"]).to.equal(encodeMerkleRoot(await server.directory.log.rootAt(leaf + 1)));
        // The message as committed: the log entry's hash is SHA-256 of exactly these bytes.
        const [entry] = await server.directory.history(leaf, 1);
        const committed = fromB64url(entry["log-entry"])!.subarray(0, 32);
        expect(createHash("sha256").update(String(r["encrypted-message"])).digest().equals(Buffer.from(committed))).to.equal(true);
        expect(JSON.parse(String(r["encrypted-message"])).action).to.equal(entry.action);
      }
      // Ours beside them, and the same records as by leaf hash.
      const byLeaf = await get(`${server.url}/api/history/since/${first["merkle-leaf"]}`);
      expect(byLeaf.body.records).to.deep.equal(records);
      expect(byLeaf.body.entries).to.deep.equal(byRoot.body.entries);
      expect((byRoot.body.entries as Json[])[0]["merkle-leaf"]).to.equal(second["merkle-leaf"]);
      // The empty tree's root names no record: everything follows it.
      const all = await get(`${server.url}/api/history/since/${encodeMerkleRoot(new Uint8Array(32))}`);
      expect(all.body.records).to.have.length(Math.min(size, 100));
      const unknown = await get(`${server.url}/api/history/since/pkd-mr-v1:${toB64url(new Uint8Array(32).fill(7))}`);
      expect([unknown.status, unknown.body.error]).to.deep.equal([404, "record_not_found"]);
    });

    it("api/history/view/:hash takes a pkd-mr-v1 root; the spec's fields (log entry split, proof against merkle-root)", async () => {
      const [first] = added;
      const { status, body } = await get(`${server.url}/api/history/view/${first["merkle-root"]}`);
      expect(status).to.equal(200);
      expect(body["!pkd-context"]).to.equal("fedi-e2ee:v1/api/history/view");
      expect(body["merkle-leaf"]).to.equal(first["merkle-leaf"]);
      expect(body["leaf-index"]).to.equal(first["leaf-index"]);
      expectRecent(body.created);
      expect(body["rewrapped-keys"]).to.equal(null);
      const message = String(body["encrypted-message"]);
      expect(JSON.parse(message).action).to.equal("AddKey");
      // dir-signature: the directory's ML-DSA-44 signature of SHA-256(encrypted-message); dir-publickeyhash: SHA-256 of its key.
      const signature = fromB64url(String(body["dir-signature"]))!;
      expect(signature).to.have.length(2420);
      const hash = createHash("sha256").update(message).digest();
      expect(mlDsaVerify(signature, hash, server.directory.publicKey)).to.equal(true);
      expect(body["dir-publickeyhash"]).to.equal(toB64url(createHash("sha256").update(server.directory.publicKey).digest()));
      // inclusion-proof proves the leaf in the tree whose root is merkle-root (tree-size; default: current).
      const size = body["tree-size"] as number;
      expect(body["merkle-root"]).to.equal(encodeMerkleRoot(await server.directory.log.rootAt(size)));
      const proof = (body["inclusion-proof"] as string[]).map((p) => fromB64url(p)!);
      const leaf = leafHash(fromB64url(String(body["log-entry"]))!);
      expect(verifyInclusion(leaf, first["leaf-index"], size, proof, decodeMerkleRoot(String(body["merkle-root"]))!)).to.equal(true);
      // Ours: decrypted attributes and their keys (the SDK's provenRecord reads these).
      expect((body.message as Json).actor).to.equal(social.actor("bob"));
      expect(body["symmetric-keys"]).to.be.an("object");
      // The same record by its leaf hash; in the tree its root names.
      const byLeaf = await get(`${server.url}/api/history/view/${first["merkle-leaf"]}?tree-size=${first["tree-size"]}`);
      expect(byLeaf.body["merkle-root"]).to.equal(first["merkle-root"]);
      expect(byLeaf.body["encrypted-message"]).to.equal(message);
      const empty = await get(`${server.url}/api/history/view/${encodeMerkleRoot(new Uint8Array(32))}`);
      expect([empty.status, empty.body.error]).to.deep.equal([404, "record_not_found"]);
    });
  });

  describe("POST routes", () => {
    it("POST api/burndown answers 200 with the spec's context, time and status, beside our submission result", async () => {
      const ADMIN = social.actor("admin");
      const admin = newSecretKey();
      await client.publishFirstKey(ADMIN, admin, social.identity("admin"));
      const DAVE = social.actor("dave");
      await client.publishFirstKey(DAVE, newSecretKey(), social.identity("dave"));
      const burn = await buildBurnDown(DAVE, ADMIN, (await client.verifiedTreeHead()).head.root, admin);
      const target = `${server.url}/api/burndown`;
      const text = JSON.stringify({ "!pkd-context": PLAINTEXT_CONTEXT, actor: ADMIN, message: JSON.stringify(burn) });
      const headers = signRequest({ method: "POST", targetUri: target, body: Buffer.from(text, "utf8") }, social.identity("admin").signer);
      const res = await fetch(target, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: text });
      const body = (await res.json()) as Json;
      expect(res.status, JSON.stringify(body)).to.equal(200);
      expect(body).to.deep.include({ "!pkd-context": "fedi-e2ee:v1/api/burndown", status: true, action: "BurnDown" });
      expectRecent(body.time);
      expect(body["merkle-root"]).to.equal(await server.directory.currentRoot());
      expect(await server.directory.keys(DAVE)).to.deep.equal([]);
    });

    it("POST api/revoke answers 200 with the spec's context and time, beside our submission result (the SDK reads it)", async () => {
      const ERIN = social.actor("erin");
      const e1 = newSecretKey();
      const e2 = newSecretKey();
      const first = await client.publishFirstKey(ERIN, e1, social.identity("erin"));
      await client.publish(ERIN, publicKeyOf(e2), e1, social.identity("erin"), first["key-id"]);
      const res = await fetch(`${server.url}/api/revoke`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ "revocation-token": buildRevocationToken(e2) }),
      });
      const body = (await res.json()) as Json;
      expect(res.status, JSON.stringify(body)).to.equal(200);
      expect(body).to.deep.include({ "!pkd-context": "fedi-e2ee:v1/api/revoke", action: "RevokeKeyThirdParty" });
      expectRecent(body.time);
      expect((await client.lookup(ERIN)).keys.map((k) => k.keyId)).to.deep.equal([first["key-id"]]);
      // Through the SDK as well.
      const e3 = newSecretKey();
      await client.publish(ERIN, publicKeyOf(e3), e1, social.identity("erin"), first["key-id"]);
      expect((await client.revokeWithToken(buildRevocationToken(e3)))["merkle-root"]).to.equal(await server.directory.currentRoot());
    });
  });

  it("api/extensions and api/replicas: none yet", async () => {
    const extensions = await get(`${server.url}/api/extensions`);
    expect(extensions.status).to.equal(200);
    expect(extensions.body).to.deep.include({ "!pkd-context": "fedi-e2ee:v1/api/extensions", extensions: [] });
    expectRecent(extensions.body["current-time"]);
    const replicas = await get(`${server.url}/api/replicas`);
    expect(replicas.status).to.equal(200);
    expect(replicas.body).to.deep.include({ "!pkd-context": "fedi-e2ee:v1/api/replicas", replicas: [] });
    expectRecent(replicas.body["current-time"]);
  });
});
