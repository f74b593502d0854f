// Outside review of the read routes' input handling (server.ts): malformed path parameters are
// answered by fastify's router itself, before any hook, so the answer is neither the spec's error
// object nor signed.
//
// A percent-encoding that does not decode (`/api/actor/%ZZ`, `/api/history/view/%E0%A4%A`) gets
// 400 {"error":"Bad Request","code":"FST_ERR_BAD_URL",...}; a parameter longer than 100 characters
// gets 414 {"code":"FST_ERR_MAX_PARAM_LENGTH",...}. Spec "JSON REST API": every response carries an
// RFC 9421 signature, and a failed request MUST answer `{"!pkd-context": "fedi-e2ee:v1/api/error",
// error, message}`. These answers have neither (onRequest/onSend hooks never run: the Host
// allow-list is skipped too). Cheap and harmless in themselves (no data, no cost), but a client
// that follows the spec cannot tell this answer from a forgery, and the SDK reports a
// verification failure instead of the error.
//
// Expected once fixed: fastify's `frameworkErrors` option answers these with errorBody(...) through
// the normal reply (so onSend signs it), 400 invalid_request or 404 not_found.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { decodeResponseKeyForTest } from "./router-errors-support";
import { requestBinding, verifyResponse } from "../../src/directory/response-signature";
import { DirectoryServer, startDirectoryServer } from "../../src/directory/server";
import { newSecretKey } from "../directory/helpers";

describe("review: malformed path parameters get signed answers in the spec's error body", function () {
  this.timeout(60_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-review-routererr-"));
  let server: DirectoryServer;
  let responseKey: Uint8Array;

  before(async () => {
    server = await startDirectoryServer({ database: path.join(tmp, "d.db"), name: "https://pkd.test", signingKey: newSecretKey(), commitmentWorkers: 0 });
    const info = (await (await fetch(`${server.url}/api/info`)).json()) as { "public-key": string };
    responseKey = decodeResponseKeyForTest(info["public-key"]);
  });

  after(async () => {
    await server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  for (const target of ["/api/actor/%ZZ", "/api/actor/x/key/%ZZ", "/api/history/view/%E0%A4%A", "/api/history/since/%ZZ", `/api/actor/${"a".repeat(300)}/keys`, `/api/history/since/${"c".repeat(300)}`]) {
    it(`GET ${target.slice(0, 40)}${target.length > 40 ? "…" : ""}: a 4xx with the spec's error object, signed`, async () => {
      const res = await fetch(server.url + target);
      const body = new Uint8Array(await res.arrayBuffer());
      const text = new TextDecoder().decode(body);
      console.log(`      ${res.status} signature ${res.headers.get("signature") ? "present" : "absent"}: ${text.slice(0, 100)}`);
      expect(res.status).to.be.within(400, 499);
      expect(JSON.parse(text)["!pkd-context"], text).to.equal("fedi-e2ee:v1/api/error");
      expect(() => verifyResponse(res.status, res.headers, body, responseKey, requestBinding("GET", target))).to.not.throw();
    });
  }
});
