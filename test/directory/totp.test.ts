// TOTP for BurnDown: RFC 6238 Appendix B known answers (all three hashes), the PKD spec's
// configuration (SHA-512, 8 digits, 30 s, two previous steps, one-time use), and the BurnDown
// gate over real HTTP with a real loopback instance signing the requests.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { actorOrigin } from "../../src/directory/actor-keys";
import { InstanceIdentity } from "../../src/directory/client";
import { signRequest } from "../../src/directory/http-signature";
import { buildAddKey, buildBurnDown, publicKeyOf, PLAINTEXT_CONTEXT } from "../../src/directory/protocol";
import { DirectoryServer, startDirectoryServer } from "../../src/directory/server";
import { PKD_TOTP, TotpHash, base32, hotp, matchingStep, totp } from "../../src/directory/totp";
import { TotpOperation, buildTotpRequest, sealTotpSecret } from "../../src/directory/totp-routes";
import { fromB64url } from "../../src/directory/encoding";
import { mlDsaSign } from "../../src/directory/mldsa";
import { newSecretKey } from "./helpers";
import { startInstance, TestInstance } from "./instance";

// RFC 6238 Appendix B (https://www.rfc-editor.org/rfc/rfc6238#appendix-B): T0 = 0, X = 30, 8 digits.
// The seeds are those of the RFC's Appendix A reference code: "12345678901234567890" repeated to
// 20 bytes (SHA-1), 32 bytes (SHA-256) and 64 bytes (SHA-512).
const SEEDS: Record<TotpHash, Uint8Array> = {
  sha1: new TextEncoder().encode("12345678901234567890"),
  sha256: new TextEncoder().encode("12345678901234567890123456789012"),
  sha512: new TextEncoder().encode("1234567890123456789012345678901234567890123456789012345678901234"),
};
const RFC6238: Array<[number, string, string, string]> = [
  // time, SHA-1, SHA-256, SHA-512
  [59, "94287082", "46119246", "90693936"],
  [1111111109, "07081804", "68084774", "25091201"],
  [1111111111, "14050471", "67062674", "99943326"],
  [1234567890, "89005924", "91819424", "93441116"],
  [2000000000, "69279037", "90698825", "38618901"],
  [20000000000, "65353130", "77737706", "47863826"],
];

describe("directory: TOTP (RFC 6238) for BurnDown", function () {
  this.timeout(120_000);

  it("matches the RFC 6238 Appendix B known answers", () => {
    for (const [time, s1, s256, s512] of RFC6238) {
      expect(totp(SEEDS.sha1, time, { ...PKD_TOTP, hash: "sha1" }), `SHA-1 @${time}`).to.equal(s1);
      expect(totp(SEEDS.sha256, time, { ...PKD_TOTP, hash: "sha256" }), `SHA-256 @${time}`).to.equal(s256);
      expect(totp(SEEDS.sha512, time, PKD_TOTP), `SHA-512 @${time}`).to.equal(s512);
    }
  });

  it("matches the RFC 4226 Appendix D HOTP values (6 digits, SHA-1)", () => {
    const want = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
    want.forEach((code, counter) => expect(hotp(SEEDS.sha1, counter, 6, "sha1")).to.equal(code));
  });

  it("accepts the current and two previous steps, nothing else, and only well-formed codes", () => {
    const secret = newSecretKey();
    const now = 1_765_655_318;
    const step = Math.floor(now / 30);
    expect(matchingStep(secret, totp(secret, now), now)).to.equal(step);
    expect(matchingStep(secret, totp(secret, now - 30), now)).to.equal(step - 1);
    expect(matchingStep(secret, totp(secret, now - 60), now)).to.equal(step - 2);
    expect(matchingStep(secret, totp(secret, now - 90), now)).to.equal(undefined);
    expect(matchingStep(secret, totp(secret, now + 30), now)).to.equal(undefined);
    const code = totp(secret, now);
    for (const bad of [code.slice(1), code + "0", ` ${code.slice(1)}`, "", "１２３４５６７８"]) {
      expect(matchingStep(secret, bad, now), bad).to.equal(undefined);
    }
    expect(base32(new TextEncoder().encode("foobar"))).to.equal("MZXW6YTBOI"); // RFC 4648 §10
    expect(base32(secret)).to.have.length(52);
  });

  describe("BurnDown over HTTP", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-totp-"));
    let social: TestInstance;
    let server: DirectoryServer;
    let OPERATOR: string;
    const op = newSecretKey();
    const secret = newSecretKey();

    async function post(p: string, body: unknown, instance: InstanceIdentity): Promise<{ status: number; json: Record<string, unknown> }> {
      const text = JSON.stringify(body);
      const headers: Record<string, string> = { "content-type": "application/json" };
      Object.assign(headers, signRequest({ method: "POST", targetUri: server.url + p, body: Buffer.from(text) }, instance.signer));
      const res = await fetch(server.url + p, { method: "POST", headers, body: text });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    }
    const envelope = (actor: string, message: unknown) => ({ "!pkd-context": PLAINTEXT_CONTEXT, actor, message: JSON.stringify(message) });

    async function addUser(name: string): Promise<string> {
      const user = social.identity(name);
      const sk = newSecretKey();
      const add = await buildAddKey(user.actor, publicKeyOf(sk), await server.directory.currentRoot(), sk);
      expect((await post("/api/message", envelope(user.actor, add), user)).status).to.equal(201);
      return user.actor;
    }

    async function burn(actor: string, otp?: string): Promise<{ status: number; json: Record<string, unknown> }> {
      const msg = await buildBurnDown(actor, OPERATOR, await server.directory.currentRoot(), op);
      return post("/api/burndown", envelope(OPERATOR, otp === undefined ? msg : { ...msg, otp }), social.identity("admin"));
    }

    before(async () => {
      social = await startInstance();
      OPERATOR = social.actor("admin");
      server = await startDirectoryServer({
        database: path.join(tmp, "d.db"),
        name: "https://pkd.test",
        signingKey: newSecretKey(),
        commitmentWorkers: 0,
        operators: [OPERATOR],
        allowInsecureActors: true,
        rateLimit: { basePenaltyMs: 0 },
      });
      const adminAdd = await buildAddKey(OPERATOR, publicKeyOf(op), await server.directory.currentRoot(), op);
      expect((await post("/api/message", envelope(OPERATOR, adminAdd), social.identity("admin"))).status).to.equal(201);
    });

    after(async () => {
      await server?.close();
      await social?.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("needs no code before the instance enrolls a secret", async () => {
      const dave = await addUser("dave");
      const res = await burn(dave);
      expect(res.status, JSON.stringify(res.json)).to.equal(200);
    });

    it("once enrolled: refuses a missing or wrong code with 403, accepts a fresh one once", async () => {
      const instance = actorOrigin(OPERATOR);
      expect(await server.totp.enroll(instance, secret)).to.equal(true);
      expect(await server.totp.enroll(instance, newSecretKey())).to.equal(false); // already enrolled
      expect(await server.totp.enrolled(instance)).to.equal(true);

      const erin = await addUser("erin");
      for (const otp of [undefined, "00000000", totp(newSecretKey(), Date.now() / 1000), totp(secret, Date.now() / 1000 - 120)]) {
        const res = await burn(erin, otp);
        expect(res.status, String(otp)).to.equal(403);
        expect(res.json).to.include({ "!pkd-context": "fedi-e2ee:v1/api/error", error: "invalid_otp" });
      }
      expect(await server.directory.keys(erin)).to.have.length(1);

      const code = totp(secret, Date.now() / 1000);
      const ok = await burn(erin, code);
      expect(ok.status, JSON.stringify(ok.json)).to.equal(200);
      expect(await server.directory.keys(erin)).to.have.length(0);
      // The OTP is not part of what the log keeps.
      const [entry] = await server.directory.history(Number(ok.json["leaf-index"]), 1);
      expect(JSON.stringify(entry.envelope)).to.not.contain(code);

      // The same code again (within its validity window) is refused, as is the previous step's.
      const frank = await addUser("frank");
      expect((await burn(frank, code)).status).to.equal(403);
      expect((await burn(frank, totp(secret, Date.now() / 1000 - 30))).status).to.equal(403);
      expect(await server.directory.keys(frank)).to.have.length(1);

      // After disenrollment no code is needed.
      expect(await server.totp.disenroll(instance)).to.equal(true);
      expect(await server.totp.disenroll(instance)).to.equal(false);
      expect((await burn(frank)).status).to.equal(200);
    });

    describe("enrollment endpoints (api/totp/enroll, disenroll, rotate)", () => {
      let other: TestInstance;
      let ROOT_A: string; // an actor of `social` with a key
      let ROOT_B: string; // an actor of `other` with a key
      const keyA = newSecretKey();
      const keyB = newSecretKey();
      let encapsulationKey: Uint8Array;
      const now = (): number => Math.floor(Date.now() / 1000);
      // The ids the directory issued for keyA and keyB (random; learned from the AddKey answers).
      const keyIds = new Map<Uint8Array, string>();

      before(async () => {
        other = await startInstance();
        ROOT_A = social.actor("root");
        ROOT_B = other.actor("root");
        for (const [actor, key, id] of [
          [ROOT_A, keyA, social.identity("root")],
          [ROOT_B, keyB, other.identity("root")],
        ] as const) {
          const add = await buildAddKey(actor, publicKeyOf(key), await server.directory.currentRoot(), key);
          const res = await post("/api/message", envelope(actor, add), id);
          expect(res.status).to.equal(201);
          keyIds.set(key, res.json["key-id"] as string);
        }
        const info = (await (await fetch(`${server.url}/api/server-public-key`)).json()) as Record<string, string>;
        encapsulationKey = fromB64url(info["hpke-public-key"])!;
      });

      after(async () => {
        await other?.close();
      });

      const request = (op: TotpOperation, actor: string, key: Uint8Array, fields: Record<string, string>, signWith = key) =>
        buildTotpRequest(op, { "actor-id": actor, "key-id": keyIds.get(key)!, ...fields }, (m) => mlDsaSign(m, signWith));

      it("enrolls a secret sent HPKE-encrypted with two successive codes, once; its codes are spent", async () => {
        const secret = newSecretKey();
        const sealed = await sealTotpSecret("enroll", secret, encapsulationKey);
        const t = now();
        const good = { "otp-current": totp(secret, t), "otp-previous": totp(secret, t - 30), "totp-secret": sealed };
        const id = social.identity("root");
        const instance = actorOrigin(ROOT_A);
        await server.totp.disenroll(instance); // the BurnDown tests above leave nothing enrolled, but be sure

        // Codes that are not successive, or of another secret, or a secret sealed for another operation: 406.
        for (const bad of [
          { ...good, "otp-previous": totp(secret, t - 60) },
          { ...good, "otp-current": totp(newSecretKey(), t) },
          { ...good, "totp-secret": await sealTotpSecret("rotate", secret, encapsulationKey) },
          { ...good, "totp-secret": "hpke:AAAA" },
        ]) {
          const res = await post("/api/totp/enroll", request("enroll", ROOT_A, keyA, bad), id);
          expect(res.status, JSON.stringify(res.json)).to.equal(406);
        }
        // Signed by a key that is not the actor's: 400 invalid_signature. No HTTP signature, or another instance's: 401.
        expect((await post("/api/totp/enroll", request("enroll", ROOT_A, keyA, good, keyB), id)).status).to.equal(400);
        expect((await post("/api/totp/enroll", request("enroll", ROOT_A, keyA, good), other.identity("root"))).status).to.equal(401);
        const unsigned = await fetch(`${server.url}/api/totp/enroll`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(request("enroll", ROOT_A, keyA, good)),
        });
        expect(unsigned.status).to.equal(401);
        expect(await server.totp.enrolled(instance)).to.equal(false);

        const res = await post("/api/totp/enroll", request("enroll", ROOT_A, keyA, good), id);
        expect(res.status, JSON.stringify(res.json)).to.equal(200);
        expect(res.json).to.include({ "!pkd-context": "fedi-e2ee:v1/api/totp/enroll", success: true });
        expect(await server.totp.enrolled(instance)).to.equal(true);
        expect((await post("/api/totp/enroll", request("enroll", ROOT_A, keyA, good), id)).status).to.equal(409);
        // The enrollment's own codes cannot authorize anything; the next step's code can.
        expect(await server.totp.check(instance, good["otp-current"], t)).to.equal("rejected");
        expect(await server.totp.check(instance, totp(secret, t + 30), t + 30)).to.equal("accepted");
        await server.totp.disenroll(instance);
      });

      it("rotates with the old code and two codes of the new secret; disenrolls with a code", async () => {
        const instance = actorOrigin(ROOT_B);
        const id = other.identity("root");
        const s1 = newSecretKey();
        const s2 = newSecretKey();
        // Rotation needs an enrolled secret (400), then the old code (403) and valid new codes (406).
        const t = now();
        const rotation = async (oldOtp: string, cur = totp(s2, t), prev = totp(s2, t - 30)) =>
          post("/api/totp/rotate", request("rotate", ROOT_B, keyB, {
            "new-otp-current": cur,
            "new-otp-previous": prev,
            "new-totp-secret": await sealTotpSecret("rotate", s2, encapsulationKey),
            "old-otp": oldOtp,
          }), id);
        expect((await rotation(totp(s1, t))).status).to.equal(400);
        expect(await server.totp.enroll(instance, s1)).to.equal(true);
        expect((await rotation(totp(s1, t), totp(s2, t - 30), totp(s2, t))).status).to.equal(406);
        expect((await rotation(totp(newSecretKey(), t))).status).to.equal(403);
        const rotated = await rotation(totp(s1, t));
        expect(rotated.status, JSON.stringify(rotated.json)).to.equal(200);
        expect(await server.totp.check(instance, totp(s1, t + 30), t + 30)).to.equal("rejected"); // old secret gone
        expect(await server.totp.check(instance, totp(s2, t), t)).to.equal("rejected"); // rotation's codes spent

        // Disenroll: a wrong code is 403; with a valid unused code the secret is removed.
        await server.totp.replace(instance, s1, -1);
        const disenroll = (otp: string) => post("/api/totp/disenroll", request("disenroll", ROOT_B, keyB, { otp }), id);
        expect((await disenroll(totp(s2, now()))).status).to.equal(403);
        const done = await disenroll(totp(s1, now()));
        expect(done.status, JSON.stringify(done.json)).to.equal(200);
        expect(await server.totp.enrolled(instance)).to.equal(false);
        // Nothing enrolled: the code is ignored and the answer is success.
        expect((await disenroll("not-a-code")).status).to.equal(200);
      });
    });

    it("consumes steps in the store atomically: one of two concurrent uses of a code wins", async () => {
      const instance = "https://concurrent.example";
      const s = newSecretKey();
      await server.totp.enroll(instance, s);
      const t = 1_765_655_318;
      const code = totp(s, t);
      const results = await Promise.all([server.totp.check(instance, code, t), server.totp.check(instance, code, t)]);
      expect(results.sort()).to.deep.equal(["accepted", "rejected"]);
      expect(await server.totp.check(instance, totp(s, t + 30), t + 30)).to.equal("accepted");
      expect(await server.totp.check("https://never.example", code, t)).to.equal("not_enrolled");
    });
  });
});
