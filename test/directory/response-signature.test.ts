// The directory's HTTP layer as the spec asks. Every response is signed ("JSON REST API": an
// RFC 9421 signature over the body; `api/info` publishes the key), and the SDK checks it under the
// key that `api/info` publishes with a certificate from the on-chain directory key: a man in the
// middle who edits a response, or swaps in a key of its own, is caught. And the directory answers
// only for its own hosts ("DNS Rebinding Attacks": a Host allow-list, no IP addresses).
import http from "node:http";
import { expect } from "chai";
import type { CheckpointContract } from "../../src/directory/checkpoint-contract";
import { DirectoryClient, DirectoryRequestError, DirectoryVerificationError } from "../../src/directory/client";
import { decodePublicKey, fromB64url } from "../../src/directory/encoding";
import { publicKeyOf } from "../../src/directory/protocol";
import { contentDigest } from "../../src/directory/http-signature";
import {
  RESPONSE_KEY_PREFIX,
  RequestBinding,
  requestBinding,
  ResponseSignatureError,
  ResponseSigner,
  checkResponseKeyCertificate,
  verifyResponse,
} from "../../src/directory/response-signature";
import type { DirectoryServer } from "../../src/directory/server";
import { DirectoryError } from "../../src/directory/errors";
import { HostAllowList } from "../../src/directory/host-allowlist";
import { newSecretKey } from "./helpers";
import type { TestInstance } from "./instance";
import { LiveDirectory, startLiveDirectory } from "./live-directory";

interface Fetched {
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** The request this answers, as the response signature binds it. */
  request: RequestBinding;
}

/** A request with a Host header of our choosing (fetch does not let us set it). */
function withHost(url: string, host: string, method = "GET", body?: string): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method, headers: { host, ...(body ? { "content-type": "application/json" } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") headers.set(k, v);
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks), request: requestBinding(method, u.pathname) });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function fetchRaw(url: string, init?: RequestInit): Promise<Fetched> {
  const res = await fetch(url, init);
  const u = new URL(url);
  const digest = (init?.headers as Record<string, string> | undefined)?.["content-digest"];
  return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()), request: requestBinding(init?.method ?? "GET", u.pathname + u.search, digest) };
}

/** A proxy in front of the directory that may rewrite what comes back. */
async function startProxy(target: string, rewrite: (path: string, status: number, headers: http.IncomingHttpHeaders, body: Buffer) => { status: number; headers: http.OutgoingHttpHeaders; body: Buffer }): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const upstream = await fetch(target + req.url, {
          method: req.method,
          headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== "host" && k !== "connection").map(([k, v]) => [k, String(v)])),
          body: req.method === "POST" ? Buffer.concat(chunks) : undefined,
        });
        const headers: http.IncomingHttpHeaders = {};
        upstream.headers.forEach((v, k) => (headers[k] = v));
        delete headers["content-length"];
        delete headers["transfer-encoding"];
        const out = rewrite(req.url ?? "", upstream.status, headers, Buffer.from(await upstream.arrayBuffer()));
        res.writeHead(out.status, { ...out.headers, "content-length": out.body.length });
        res.end(out.body);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe("directory: signed responses (RFC 9421) checked by the SDK", function () {
  this.timeout(120_000);
  let live: LiveDirectory;
  let signingKey: Uint8Array;
  let server: DirectoryServer;
  let contract: CheckpointContract;
  let social: TestInstance;
  let responseKey: Uint8Array;

  before(async () => {
    live = await startLiveDirectory();
    ({ server, contract, social, signingKey } = live);
    const info = JSON.parse(Buffer.from((await fetchRaw(`${server.url}/api/info`)).body).toString("utf8")) as Record<string, unknown>;
    responseKey = fromB64url(String(info["public-key"]).slice(RESPONSE_KEY_PREFIX.length))!;
  });

  after(async () => {
    await live?.close();
  });

  it("api/info carries the spec's fields and a response key certified by the directory key", async () => {
    const res = await fetchRaw(`${server.url}/api/info`);
    const info = JSON.parse(Buffer.from(res.body).toString("utf8")) as Record<string, unknown>;
    expect(info["!pkd-context"]).to.equal("fedi-e2ee:v1/api/info");
    expect(info["current-time"]).to.match(/^[0-9]+$/);
    expect(info["burndown-enabled"]).to.equal(true);
    expect(String(info["public-key"])).to.match(/^ed25519:[A-Za-z0-9_-]{43}$/);
    const directoryKey = decodePublicKey(String(info["directory-public-key"]))!;
    expect(Buffer.from(directoryKey).equals(Buffer.from(publicKeyOf(signingKey)))).to.equal(true);
    const certificate = { validUntil: Number(info["public-key-valid-until"]), signature: fromB64url(String(info["public-key-certificate"]))! };
    const now = Math.floor(Date.now() / 1000);
    expect(certificate.validUntil - now).to.be.within(14 * 86400 - 60, 14 * 86400);
    expect(checkResponseKeyCertificate(responseKey, certificate, directoryKey)).to.equal(true);
    // The certificate binds this key only, until its date only (a retired key stops being accepted).
    expect(checkResponseKeyCertificate(newSecretKey(), certificate, directoryKey)).to.equal(false);
    expect(checkResponseKeyCertificate(responseKey, { ...certificate, validUntil: certificate.validUntil + 86400 }, directoryKey)).to.equal(false);
    expect(checkResponseKeyCertificate(responseKey, certificate, directoryKey, certificate.validUntil + 1)).to.equal(false);
  });

  it("signs every response: reads, errors of every kind, binary tiles, and refusals", async () => {
    const responses: Array<[string, Fetched]> = [
      ["tree head", await fetchRaw(`${server.url}/api/tree-head`)],
      ["unknown actor", await fetchRaw(`${server.url}/api/actor/${encodeURIComponent("https://nowhere.test/users/x")}`)],
      ["no such route", await fetchRaw(`${server.url}/no/such/route`)],
      ["not JSON", await fetchRaw(`${server.url}/api/message`, { method: "POST", headers: { "content-type": "application/json", "content-digest": contentDigest(Buffer.from("{")) }, body: "{" })],
      [
        "unsigned envelope",
        await fetchRaw(`${server.url}/api/message`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ "!pkd-context": "fedi-e2ee:v1-plaintext-message", actor: social.actor("alice"), message: "{}" }),
        }),
      ],
      ["tlog checkpoint", await fetchRaw(`${server.url}/tlog/checkpoint`)],
      ["server public key", await fetchRaw(`${server.url}/api/server-public-key`)],
    ];
    expect(responses.map(([, r]) => r.status)).to.deep.equal([200, 404, 404, 400, 401, 200, 200]);
    for (const [what, r] of responses) {
      expect(() => verifyResponse(r.status, r.headers, r.body, responseKey, r.request, { maxAgeSeconds: 60 }), what).to.not.throw();
    }
    const [, head] = responses[0];
    const [, unknownActor] = responses[1];
    const [, notJson] = responses[3];
    // Bound to the status and the exact bytes, to this key, to the request it answers, and recent.
    expect(() => verifyResponse(201, head.headers, head.body, responseKey, head.request)).to.throw(ResponseSignatureError, /does not verify/);
    expect(() => verifyResponse(200, head.headers, Buffer.concat([head.body, Buffer.from(" ")]), responseKey, head.request)).to.throw(ResponseSignatureError, /content-digest/);
    expect(() => verifyResponse(200, head.headers, head.body, new ResponseSigner(newSecretKey()).publicKey, head.request)).to.throw(ResponseSignatureError, /another key/);
    expect(() => verifyResponse(200, head.headers, head.body, responseKey, head.request, { now: Math.floor(Date.now() / 1000) + 3600, maxAgeSeconds: 60 })).to.throw(ResponseSignatureError, /too old/);
    // The 404 for one actor is not an answer about another; nor a GET's answer one to a POST.
    const other = requestBinding("GET", `/api/actor/${encodeURIComponent("https://social.test/users/bob")}`);
    expect(() => verifyResponse(404, unknownActor.headers, unknownActor.body, responseKey, other)).to.throw(ResponseSignatureError, /does not verify/);
    expect(() => verifyResponse(404, unknownActor.headers, unknownActor.body, responseKey, { ...unknownActor.request, method: "POST" })).to.throw(ResponseSignatureError, /does not verify/);
    // An answer to a request with a body is bound to that body.
    const otherBody = { ...notJson.request, contentDigest: contentDigest(Buffer.from("[]")) };
    expect(() => verifyResponse(400, notJson.headers, notJson.body, responseKey, otherBody)).to.throw(ResponseSignatureError, /does not verify/);
    expect(() => verifyResponse(400, notJson.headers, notJson.body, responseKey, { ...notJson.request, contentDigest: undefined })).to.throw(ResponseSignatureError, /body/);
  });

  it("the SDK accepts the honest directory's responses and refuses edited ones or a swapped key", async () => {
    const honest = new DirectoryClient({ url: server.url, contract });
    await honest.verifiedTreeHead();
    // An error answer is still an error answer (and was checked): the request error, not a verification error.
    const unknown = await honest.lookup("https://nowhere.test/users/x").catch((e: unknown) => e);
    expect(unknown).to.be.instanceOf(DirectoryRequestError);

    // 1. A proxy that edits an error message: the SDK no longer believes it.
    const editor = await startProxy(server.url, (p, status, headers, body) => ({
      status,
      headers,
      body: status === 404 ? Buffer.from(JSON.stringify({ ...(JSON.parse(body.toString("utf8")) as object), message: "edited" })) : body,
    }));
    // 2. A proxy that re-signs everything with a key of its own and publishes that key in api/info.
    const mallory = new ResponseSigner(newSecretKey());
    const swapper = await startProxy(server.url, (p, status, headers, body) => {
      let out = body;
      if (p.startsWith("/api/info")) {
        const info = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
        out = Buffer.from(JSON.stringify({ ...info, "public-key": mallory.encodedPublicKey }));
      }
      return { status, headers: { ...headers, ...mallory.sign(status, out, requestBinding("GET", p)) }, body: out };
    });
    try {
      const edited = await new DirectoryClient({ url: editor.url, contract }).lookup("https://nowhere.test/users/x").catch((e: unknown) => e);
      expect(edited).to.be.instanceOf(DirectoryVerificationError);
      expect((edited as DirectoryVerificationError).code).to.equal("bad_response_signature");
      // Untouched answers through the same proxy still verify.
      await new DirectoryClient({ url: editor.url, contract }).verifiedTreeHead();

      const swapped = await new DirectoryClient({ url: swapper.url, contract }).verifiedTreeHead().catch((e: unknown) => e);
      expect(swapped).to.be.instanceOf(DirectoryVerificationError);
      expect((swapped as DirectoryVerificationError).code).to.equal("bad_response_key");
    } finally {
      await editor.close();
      await swapper.close();
    }
  });

  it("answers only for its own hosts: another name, or an IP address that is not loopback, gets 421 (reads and writes)", async () => {
    const port = new URL(server.url).port;
    const status = async (host: string, method = "GET", path = "/api/tree-head", body?: string): Promise<number> => {
      const r = await withHost(server.url + path, host, method, body);
      verifyResponse(r.status, r.headers, r.body, responseKey, r.request); // refusals are signed too
      if (r.status === 421) expect(JSON.parse(Buffer.from(r.body).toString("utf8")).error).to.equal("misdirected");
      return r.status;
    };
    expect(await status(`127.0.0.1:${port}`)).to.equal(200);
    expect(await status(`localhost:${port}`)).to.equal(200);
    expect(await status("pkd.test")).to.equal(200); // the directory's name
    expect(await status("rebound.attacker.example")).to.equal(421);
    expect(await status(`10.0.0.7:${port}`)).to.equal(421);
    expect(await status(`pkd.test.attacker.example`)).to.equal(421);
    // A request signed for another directory's URL (its @target-uri) is not taken here.
    expect(await status("other-pkd.example", "POST", "/api/message", "{}")).to.equal(421);
  });

  it("HostAllowList: explicit hosts and ports, case-insensitive; malformed entries refused", () => {
    const list = new HostAllowList(["pkd.example.com", "10.1.2.3:8080", "[::1]:9000"], "https://ignored.example");
    for (const ok of ["pkd.example.com", "PKD.Example.com:443", "10.1.2.3:8080", "[::1]:9000"]) expect(() => list.check(ok), ok).to.not.throw();
    for (const bad of ["ignored.example", "10.1.2.3", "10.1.2.3:80", "[::1]:9001", "localhost", "", "a b", "pkd.example.com:99999x"]) {
      expect(() => list.check(bad), bad).to.throw(DirectoryError, /host/i);
    }
    expect(() => list.check(undefined)).to.throw(DirectoryError);
    expect(() => new HostAllowList(["http://pkd.example.com"], "x")).to.throw(RangeError);
    // An IP-literal name is not allowed implicitly.
    expect(() => new HostAllowList(undefined, "http://192.168.1.5:8080").check("192.168.1.5:8080")).to.throw(DirectoryError);
  });
});
