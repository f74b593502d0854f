// The pieces of identity binding on their own: the RFC 9421 profile (sign, verify, every tamper),
// the actor-key resolver against a real loopback instance (and what it refuses to fetch), and the
// bad-request table's doubling and decay.
import { generateKeyPairSync } from "node:crypto";
import { base58 } from "@scure/base";
import { expect } from "chai";
import Fastify from "fastify";
import { ActorKeyResolver, canonicalActorId } from "../../src/directory/actor-keys";
import { DirectoryError } from "../../src/directory/errors";
import { HttpSignatureError, parseSignatureHeaders, signRequest, verifyRequest } from "../../src/directory/http-signature";
import { ReadBudget } from "../../src/directory/read-budget";
import { mlDsaPublicKey } from "../../src/directory/mldsa";
import { decodeMultikey, encodeMlDsa44Multikey } from "../../src/directory/multikey";
import { BadRequestTable } from "../../src/directory/rate-limit";
import { TurnQueue } from "../../src/directory/turns";
import { WorkLimiter } from "../../src/directory/work-limiter";
import { startInstance, TestInstance } from "./instance";

async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (e instanceof DirectoryError) return e.code;
    if (e instanceof HttpSignatureError) return "http_signature";
    throw e;
  }
  return "ok";
}

describe("directory identity binding: RFC 9421, actor keys, rate limits", function () {
  this.timeout(60_000);

  describe("HTTP message signatures (ed25519 profile)", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const signer = { keyId: "https://social.example/users/bob#main-key", privateKey };
    const parts = { method: "POST", targetUri: "https://pkd.example/api/message", body: Buffer.from('{"a":1}') };

    it("verifies what it signs and refuses every tampered component", async () => {
      const headers = signRequest(parts, signer);
      const [parsed] = parseSignatureHeaders(headers);
      expect(parsed.keyId).to.equal(signer.keyId);
      verifyRequest(parts, headers, parsed, publicKey);
      expect(await code(() => verifyRequest({ ...parts, body: Buffer.from('{"a":2}') }, headers, parsed, publicKey))).to.equal("http_signature");
      expect(await code(() => verifyRequest({ ...parts, method: "PUT" }, headers, parsed, publicKey))).to.equal("http_signature");
      expect(await code(() => verifyRequest({ ...parts, targetUri: "https://other.example/api/message" }, headers, parsed, publicKey))).to.equal("http_signature");
      expect(await code(() => verifyRequest(parts, headers, parsed, generateKeyPairSync("ed25519").publicKey))).to.equal("http_signature");
      // A digest that matches a different body, even if the body is swapped consistently, breaks the signature.
      const other = { ...parts, body: Buffer.from("{}") };
      const forged = { ...headers, "content-digest": signRequest(other, signer)["content-digest"] };
      expect(await code(() => verifyRequest(other, forged, parsed, publicKey))).to.equal("http_signature");
    });

    it("refuses stale signatures, other algorithms and other component lists", async () => {
      const old = signRequest(parts, signer, Math.floor(Date.now() / 1000) - 301);
      expect(await code(() => verifyRequest(parts, old, parseSignatureHeaders(old)[0], publicKey))).to.equal("http_signature");
      const h = signRequest(parts, signer);
      for (const input of [
        h["signature-input"].replace('alg="ed25519"', 'alg="rsa-v1_5-sha256"'),
        h["signature-input"].replace('"@method" ', ""),
        h["signature-input"].replace("sig1=", "sig2="),
        h["signature-input"] + ";expires=1",
      ]) {
        expect(await code(() => parseSignatureHeaders({ ...h, "signature-input": input }))).to.equal("http_signature");
      }
      expect(await code(() => parseSignatureHeaders({ ...h, signature: undefined }))).to.equal("http_signature");
      const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
      expect(await code(() => verifyRequest(parts, h, parseSignatureHeaders(h)[0], rsa))).to.equal("http_signature");
    });
  });

  describe("HTTP message signatures (ml-dsa-44, C2SP httpsig-pq)", () => {
    const seed = new Uint8Array(32).fill(7);
    const pq = { alg: "ml-dsa-44" as const, key: mlDsaPublicKey(seed) };
    const signer = { keyId: "https://social.example/users/bob#pq-key", alg: "ml-dsa-44" as const, seed };
    const ed = generateKeyPairSync("ed25519");
    const parts = { method: "POST", targetUri: "https://pkd.example/api/message", body: Buffer.from('{"a":1}') };

    it("verifies what it signs (2420-byte signature, alg=\"ml-dsa-44\") and refuses every tampered component", async () => {
      const headers = signRequest(parts, signer);
      expect(headers["signature-input"]).to.match(/;alg="ml-dsa-44"$/);
      const [parsed] = parseSignatureHeaders(headers);
      expect([parsed.alg, parsed.signature.length]).to.deep.equal(["ml-dsa-44", 2420]);
      verifyRequest(parts, headers, parsed, pq);
      expect(await code(() => verifyRequest({ ...parts, body: Buffer.from('{"a":2}') }, headers, parsed, pq))).to.equal("http_signature");
      expect(await code(() => verifyRequest({ ...parts, targetUri: parts.targetUri + "x" }, headers, parsed, pq))).to.equal("http_signature");
      const other = { alg: "ml-dsa-44" as const, key: mlDsaPublicKey(new Uint8Array(32).fill(8)) };
      expect(await code(() => verifyRequest(parts, headers, parsed, other))).to.equal("http_signature");
    });

    it("the alg is the published key's: an Ed25519 signature under an ML-DSA-44 key, or the converse, is refused; sizes must match the alg", async () => {
      const edHeaders = signRequest(parts, { keyId: signer.keyId, privateKey: ed.privateKey });
      expect(await code(() => verifyRequest(parts, edHeaders, parseSignatureHeaders(edHeaders)[0], pq))).to.equal("http_signature");
      const pqHeaders = signRequest(parts, signer);
      expect(await code(() => verifyRequest(parts, pqHeaders, parseSignatureHeaders(pqHeaders)[0], ed.publicKey))).to.equal("http_signature");
      // Relabelled: an ML-DSA signature claimed as ed25519 (and the converse) fails the size check.
      const relabel = { ...pqHeaders, "signature-input": pqHeaders["signature-input"].replace('alg="ml-dsa-44"', 'alg="ed25519"') };
      expect(await code(() => parseSignatureHeaders(relabel))).to.equal("http_signature");
      const relabel2 = { ...edHeaders, "signature-input": edHeaders["signature-input"].replace('alg="ed25519"', 'alg="ml-dsa-44"') };
      expect(await code(() => parseSignatureHeaders(relabel2))).to.equal("http_signature");
      for (const alg of ["ml-dsa-65", "ML-DSA-44", "mldsa44"]) {
        const h = { ...pqHeaders, "signature-input": pqHeaders["signature-input"].replace('alg="ml-dsa-44"', `alg="${alg}"`) };
        expect(await code(() => parseSignatureHeaders(h)), alg).to.equal("http_signature");
      }
    });

    it("Multikey: ML-DSA-44 (0x1210) and Ed25519 (0xed) decode; other codecs, sizes and encodings do not", () => {
      const mk = encodeMlDsa44Multikey(pq.key);
      const decoded = decodeMultikey(mk);
      expect(decoded?.alg).to.equal("ml-dsa-44");
      expect(Buffer.from(decoded!.key as Uint8Array).equals(Buffer.from(pq.key))).to.equal(true);
      const raw = ed.publicKey.export({ format: "jwk" }).x!;
      const edMk = "z" + base58.encode(Uint8Array.from([0xed, 0x01, ...Buffer.from(raw, "base64url")]));
      expect(decodeMultikey(edMk)?.alg).to.equal("ed25519");
      expect(decodeMultikey(mk.slice(0, -3))).to.equal(undefined); // truncated
      expect(decodeMultikey("u" + mk.slice(1))).to.equal(undefined); // not base58btc
      expect(decodeMultikey("z0OIl")).to.equal(undefined); // not base58
      expect(decodeMultikey("z" + "2".repeat(3000))).to.equal(undefined); // bounded before decoding
    });
  });

  describe("actor keys", () => {
    let instance: TestInstance;
    before(async () => {
      instance = await startInstance();
    });
    after(() => instance.close());

    it("resolves the key the actor document publishes, once for a burst, and caches it", async () => {
      const resolver = new ActorKeyResolver({ allowInsecure: true });
      const bob = instance.identity("bob");
      const before = instance.fetches;
      const keys = await Promise.all(Array.from({ length: 20 }, () => resolver.resolve(bob.actor, bob.signer.keyId)));
      expect(keys[0].alg).to.equal("ed25519");
      await resolver.resolve(bob.actor, bob.signer.keyId);
      expect(instance.fetches - before).to.equal(1);
    });

    it("resolves an ML-DSA-44 Multikey the actor document lists in assertionMethod", async () => {
      const resolver = new ActorKeyResolver({ allowInsecure: true });
      const bob = instance.pqIdentity("bob");
      const key = await resolver.resolve(bob.actor, bob.signer.keyId);
      expect(key.alg).to.equal("ml-dsa-44");
      expect(Buffer.from(key.key as Uint8Array).equals(Buffer.from(mlDsaPublicKey(bob.signer.seed)))).to.equal(true);
      // Another actor's key id on the same instance is not this actor's.
      const carol = instance.identity("carol");
      expect(await code(resolver.resolve(carol.actor, bob.signer.keyId))).to.equal("unauthorized");
    });

    it("refuses key ids elsewhere, unknown actors and keys, and (by default) http or internal addresses", async () => {
      const resolver = new ActorKeyResolver({ allowInsecure: true });
      const bob = instance.identity("bob");
      expect(await code(resolver.resolve(bob.actor, "https://evil.example/users/bob#main-key"))).to.equal("unauthorized");
      expect(await code(resolver.resolve(bob.actor, `${bob.actor}#other-key`))).to.equal("unauthorized");
      expect(await code(resolver.resolve(instance.actor("nobody"), `${instance.actor("nobody")}#main-key`))).to.equal("unauthorized");
      // Another user's key id on the same instance is that user's, not bob's.
      instance.identity("carol");
      expect(await code(resolver.resolve(bob.actor, instance.keyId("carol")))).to.equal("unauthorized");
      const strict = new ActorKeyResolver();
      expect(await code(strict.resolve(bob.actor, bob.signer.keyId))).to.equal("invalid_actor");
      expect(await code(strict.resolve("https://127.0.0.1:1/users/x", "https://127.0.0.1:1/users/x#k"))).to.equal("invalid_actor");
      expect(await code(strict.resolve("https://10.1.2.3/users/x", "https://10.1.2.3/users/x#k"))).to.equal("invalid_actor");
    });

    it("cuts off huge, redirecting, slow or lying instances", async () => {
      const app = Fastify();
      app.get("/huge", async (_req, reply) => reply.type("application/json").send("x".repeat(200_000)));
      app.get("/redirect", async (_req, reply) => reply.redirect("/huge"));
      app.get("/slow", () => new Promise(() => undefined));
      app.get("/liar", async (req) => ({ id: `http://${req.headers.host}/someone-else`, publicKey: [] }));
      const base = (await app.listen({ host: "127.0.0.1", port: 0 })).replace("localhost", "127.0.0.1");
      try {
        const resolver = new ActorKeyResolver({ allowInsecure: true, timeoutMs: 500 });
        expect(await code(resolver.resolve(`${base}/huge`, `${base}/huge#k`))).to.equal("actor_unreachable");
        expect(await code(resolver.resolve(`${base}/redirect`, `${base}/redirect#k`))).to.equal("actor_unreachable");
        expect(await code(resolver.resolve(`${base}/slow`, `${base}/slow#k`))).to.equal("actor_unreachable");
        expect(await code(resolver.resolve(`${base}/liar`, `${base}/liar#k`))).to.equal("unauthorized");
      } finally {
        // The resolver must let go of every connection it refused: an unread body kept the
        // oversized answer's socket open, and this close waited on it (a 60 s hang under load).
        const closed = await Promise.race([app.close().then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
        expect(closed, "server closes once the resolver has let go of its connections").to.equal(true);
      }
    });

    it("canonical actor IDs: https URLs with a path, http rewritten, no credentials or fragments", async () => {
      expect(canonicalActorId("https://social.example/users/Bob")).to.equal("https://social.example/users/Bob");
      expect(canonicalActorId("http://social.example/users/bob")).to.equal("https://social.example/users/bob");
      expect(canonicalActorId("http://127.0.0.1:80/users/bob", true)).to.equal("http://127.0.0.1:80/users/bob");
      for (const bad of ["bob@social.example", "https://social.example", "https://u:p@social.example/x", "https://social.example/x#y", "ftp://x/y"]) {
        expect(await code(() => canonicalActorId(bad)), bad).to.equal("invalid_actor");
      }
    });
  });

  describe("bounded work and back-off", () => {
    it("the bad-request table doubles the penalty per rejection and decays after twice the penalty", () => {
      const t = new BadRequestTable({ basePenaltyMs: 100 });
      t.penalize(["ip:a"], 0);
      expect(() => t.check(["ip:a"], 50)).to.throw(/too many/);
      t.check(["ip:a"], 100);
      t.check(["ip:b"], 50);
      t.penalize(["ip:a"], 100); // count 2: 200 ms
      expect(() => t.check(["ip:a"], 299)).to.throw(/too many/);
      t.check(["ip:a"], 300);
      // 2 × 200 ms later the count drops to 1, 2 × 100 ms after that the entry is gone.
      expect(t.resetAt("ip:a", 100)).to.equal(1);
      t.check(["ip:a"], 1000);
      expect(t.resetAt("ip:a", 1000)).to.equal(0);
      const off = new BadRequestTable({ basePenaltyMs: 0 });
      off.penalize(["x"], 0);
      off.check(["x"], 0);
    });

    it("the read budget: a client spends at most its share a second (429), all clients the global share (503); refills with time", () => {
      const budget = new ReadBudget({ perClient: 10, global: 30 });
      // Bursts of twice the rate, then refusals that name when to come back.
      for (let i = 0; i < 4; i++) budget.take("a", 5, 0);
      expect(() => budget.take("a", 5, 0)).to.throw(DirectoryError, /this client/);
      budget.take("b", 20, 0);
      budget.take("c", 20, 0);
      expect(() => budget.take("d", 5, 0)).to.throw(DirectoryError, /busy/); // 60 of the global 60 spent
      // Half a second later: 5 back for "a", 15 back in all.
      budget.take("a", 5, 500);
      expect(() => budget.take("a", 5, 500)).to.throw(DirectoryError);
      // A clock that goes back drains nothing.
      budget.take("d", 5, 100);
      budget.take("d", 5, 1000);
    });

    it("the work limiter runs at most N, queues at most Q, and refuses the rest with overloaded", async () => {
      const limiter = new WorkLimiter({ concurrency: 2, queue: 3, retryAfterSeconds: 2 });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let peak = 0;
      const job = async () => {
        peak = Math.max(peak, limiter.running);
        await gate;
      };
      const runs = Array.from({ length: 8 }, () => limiter.run(job).then(() => "ok", (e: DirectoryError) => `${e.code}:${e.retryAfterSeconds}`));
      release();
      const results = await Promise.all(runs);
      expect(results.filter((r) => r === "ok")).to.have.length(5);
      expect(results.filter((r) => r === "overloaded:2")).to.have.length(3);
      expect(peak).to.equal(2);
      expect(limiter.running).to.equal(0);
    });

    it("the turn queue lets one write through per event-loop iteration (reads in between), admitted work first, and refuses past maxWaiting", async () => {
      const turns = new TurnQueue({ maxWaiting: 3, retryAfterSeconds: 2 });
      const order: string[] = [];
      // A "read" that comes back every loop iteration, as the poll phase would serve one.
      let reading = true;
      const read = (): void => {
        order.push("read");
        if (reading) setImmediate(read);
      };
      setImmediate(read);
      const writes = ["s1", "s2", "s3"].map((name) => turns.turn("start").then(() => void order.push(name)));
      expect(turns.full).to.equal(true);
      expect(await code(() => turns.turn("start"))).to.equal("overloaded");
      const admitted = turns.turn("continue").then(() => void order.push("c1"));
      await Promise.all([...writes, admitted]);
      reading = false;
      const ran = order.filter((x) => x !== "read");
      expect(ran).to.deep.equal(["c1", "s1", "s2", "s3"]);
      // Never two writes in one iteration: a read separates any two of them.
      for (let i = 1; i < order.length; i++) expect(order[i] !== "read" && order[i - 1] !== "read", order.join(",")).to.equal(false);
      expect(turns.waiting).to.equal(0);
    });
  });
});
