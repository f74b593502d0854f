// The v0.8 HPKE wire format on the real directory (spec "Encryption of Protocol Messages"):
// api/server-public-key publishes the X-Wing key, the directory accepts
// `fedi-e2ee:v1-encrypted-message` envelopes (padding ignored, never logged), decrypts only after
// the instance's HTTP signature verified, refuses undecryptable ones as bad requests, and never
// takes an encrypted BurnDown. Real HTTP (fastify), a real SQLite directory, a real loopback instance.
import { expect } from "chai";
import fc from "fast-check";
import Fastify, { FastifyInstance } from "fastify";
import { ActorKeyResolver } from "../../src/directory/actor-keys";
import { DirectoryClient, InstanceIdentity } from "../../src/directory/client";
import { fromB64url } from "../../src/directory/encoding";
import { DirectoryHpkeKey, ENCRYPTED_CONTEXT, sealPadded } from "../../src/directory/hpke-wire";
import { signRequest } from "../../src/directory/http-signature";
import { buildAddKey, buildBurnDown, publicKeyOf } from "../../src/directory/protocol";
import { ResponseSigner } from "../../src/directory/response-signature";
import { registerDirectoryRoutes } from "../../src/directory/server";
import { HPKE_CIPHERSUITE, openProtocolMessage } from "../../src/directory/v08/hpke";
import type { CheckpointContract } from "../../src/directory/checkpoint-contract";
import { expectCode, makeDirectory, newSecretKey, TestDirectory } from "./helpers";
import { startInstance, TestInstance } from "./instance";

describe("directory: HPKE-encrypted protocol messages (v0.8 wire format)", function () {
  this.timeout(120_000);
  let social: TestInstance;
  let dir: TestDirectory;
  let app: FastifyInstance;
  let url: string;
  let hpke: DirectoryHpkeKey;
  let opened = 0;
  let OPERATOR: string;

  before(async () => {
    social = await startInstance();
    OPERATOR = social.actor("admin");
    dir = await makeDirectory({ allowInsecureActors: true, operators: [OPERATOR] });
    hpke = await DirectoryHpkeKey.fromSeed(newSecretKey());
    // Count decryptions: the directory must not decapsulate for an unauthenticated caller.
    const open = hpke.open.bind(hpke);
    hpke.open = (wrapped: string) => {
      opened++;
      return open(wrapped);
    };
    app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
    registerDirectoryRoutes(app, dir.directory, {
      resolver: new ActorKeyResolver({ allowInsecure: true }),
      rateLimit: { basePenaltyMs: 0 },
      hpke,
      responseSigner: new ResponseSigner(newSecretKey()),
    });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
  });

  after(async () => {
    await app?.close();
    await dir?.close();
    await social?.close();
  });

  async function post(path: string, body: unknown, instance?: InstanceIdentity): Promise<{ status: number; json: Record<string, unknown> }> {
    const text = JSON.stringify(body);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (instance) Object.assign(headers, signRequest({ method: "POST", targetUri: url + path, body: Buffer.from(text) }, instance.signer));
    const res = await fetch(url + path, { method: "POST", headers, body: text });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  it("publishes its X-Wing encapsulation key as the spec's api/server-public-key", async () => {
    const res = (await (await fetch(`${url}/api/server-public-key`)).json()) as Record<string, string>;
    expect(res["!pkd-context"]).to.equal("fedi-e2ee:v1/api/server-public-key");
    expect(res["hpke-ciphersuite"]).to.equal(HPKE_CIPHERSUITE);
    expect(fromB64url(res["hpke-public-key"])).to.deep.equal(hpke.encapsulationKey);
    expect(hpke.encapsulationKey.length).to.equal(1216);
    expect(Math.abs(Number(res["current-time"]) - Date.now() / 1000)).to.be.lessThan(600);
    // One seed, one key (a restart keeps what clients cached); another seed, another key.
    const seed = newSecretKey();
    expect((await DirectoryHpkeKey.fromSeed(seed)).encapsulationKey).to.deep.equal((await DirectoryHpkeKey.fromSeed(seed)).encapsulationKey);
    expect((await DirectoryHpkeKey.fromSeed(newSecretKey())).encapsulationKey).to.not.deep.equal(hpke.encapsulationKey);
  });

  it("pads to a multiple of 1 KiB outside the signature, and the directory logs the message without it", async () => {
    const sk = newSecretKey();
    const alice = social.identity("alice");
    const msg = await buildAddKey(alice.actor, publicKeyOf(sk), await dir.directory.currentRoot(), sk);
    const wrapped = await sealPadded(msg, hpke.encapsulationKey);
    const inner = await openProtocolMessage(wrapped, hpke.decapsulationKey, hpke.encapsulationKey);
    expect(Buffer.byteLength(inner) % 1024).to.equal(0);
    expect(JSON.parse(inner)).to.have.property("padding");

    const before = opened;
    const res = await post("/api/message", { "!pkd-context": ENCRYPTED_CONTEXT, actor: alice.actor, "encrypted-message": wrapped }, alice);
    expect(res.status, JSON.stringify(res.json)).to.equal(201);
    expect(opened - before).to.equal(1);
    const entry = (await dir.directory.history(0, 1))[0];
    expect(entry.action).to.equal("AddKey");
    expect(entry.envelope).to.not.have.property("padding");
    expect(entry.envelope.signature).to.equal(msg.signature);
  });

  it("property: any message pads to a whole number of KiB (UTF-8 bytes) and opens to itself", async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ unit: "grapheme", maxLength: 3000 }), { maxKeys: 4 }), async (fields) => {
        const msg = { action: "AddKey", message: fields };
        const inner = await openProtocolMessage(await sealPadded(msg, hpke.encapsulationKey), hpke.decapsulationKey, hpke.encapsulationKey);
        expect(Buffer.byteLength(inner, "utf8") % 1024).to.equal(0);
        expect(await hpke.open(await sealPadded(msg, hpke.encapsulationKey))).to.deep.equal(msg);
      }),
      { numRuns: 25 },
    );
  });

  it("decrypts nothing before the HTTP signature verifies", async () => {
    const sk = newSecretKey();
    const bob = social.identity("bob");
    const msg = await buildAddKey(bob.actor, publicKeyOf(sk), await dir.directory.currentRoot(), sk);
    const envelope = { "!pkd-context": ENCRYPTED_CONTEXT, actor: bob.actor, "encrypted-message": await sealPadded(msg, hpke.encapsulationKey) };
    const before = opened;
    expect((await post("/api/message", envelope)).status).to.equal(401);
    // Signed by another actor's key: still unauthenticated for bob.
    expect((await post("/api/message", envelope, social.identity("mallory"))).status).to.equal(401);
    expect(opened).to.equal(before);
  });

  it("refuses what does not decrypt under its key as a bad request", async () => {
    const sk = newSecretKey();
    const carol = social.identity("carol");
    const msg = await buildAddKey(carol.actor, publicKeyOf(sk), await dir.directory.currentRoot(), sk);
    const elsewhere = await DirectoryHpkeKey.fromSeed(newSecretKey());
    const good = await sealPadded(msg, hpke.encapsulationKey);
    const flipped = good.slice(0, -8) + (good.slice(-8, -7) === "A" ? "B" : "A") + good.slice(-7);
    for (const bad of [await sealPadded(msg, elsewhere.encapsulationKey), flipped, "hpke:", "hpke:AAAA", good.slice("hpke:".length), ""]) {
      const res = await post("/api/message", { "!pkd-context": ENCRYPTED_CONTEXT, actor: carol.actor, "encrypted-message": bad }, carol);
      expect(res.status, bad.slice(0, 20)).to.equal(400);
    }
    await expectCode(dir.directory.keys(carol.actor), "not_found");
  });

  it("never takes an encrypted BurnDown; the same BurnDown in the clear is processed", async () => {
    const op = newSecretKey();
    const admin = social.identity("admin");
    const dave = social.identity("dave");
    const daveKey = newSecretKey();
    const add = await buildAddKey(dave.actor, publicKeyOf(daveKey), await dir.directory.currentRoot(), daveKey);
    expect((await post("/api/message", { "!pkd-context": ENCRYPTED_CONTEXT, actor: dave.actor, "encrypted-message": await sealPadded(add, hpke.encapsulationKey) }, dave)).status).to.equal(201);
    const adminAdd = await buildAddKey(OPERATOR, publicKeyOf(op), await dir.directory.currentRoot(), op);
    expect((await post("/api/message", { "!pkd-context": ENCRYPTED_CONTEXT, actor: OPERATOR, "encrypted-message": await sealPadded(adminAdd, hpke.encapsulationKey) }, admin)).status).to.equal(201);

    const burn = await buildBurnDown(dave.actor, OPERATOR, await dir.directory.currentRoot(), op);
    const encrypted = await post("/api/burndown", { "!pkd-context": ENCRYPTED_CONTEXT, actor: OPERATOR, "encrypted-message": await sealPadded(burn, hpke.encapsulationKey) }, admin);
    expect(encrypted.status).to.equal(400);
    expect(await dir.directory.keys(dave.actor)).to.have.length(1);
    const clear = await post("/api/burndown", { "!pkd-context": "fedi-e2ee:v1-plaintext-message", actor: OPERATOR, message: JSON.stringify(burn) }, admin);
    expect(clear.status, JSON.stringify(clear.json)).to.equal(200);
  });

  it("the SDK encrypts by default (BurnDown excepted) after fetching the directory's key", async () => {
    // The client reads only api/server-public-key and posts; no chain is involved in submit(), so
    // neither is the response key's certificate (response-signature.test.ts checks that path).
    const client = new DirectoryClient({ url, contract: {} as CheckpointContract, verifyResponses: false });
    const erin = social.identity("erin");
    const sk = newSecretKey();
    const before = opened;
    const res = await client.submit(await buildAddKey(erin.actor, publicKeyOf(sk), await dir.directory.currentRoot(), sk), erin);
    expect(res.action).to.equal("AddKey");
    expect(opened - before).to.equal(1);
  });
});
