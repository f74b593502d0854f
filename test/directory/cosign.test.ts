// Witness cosignatures over HTTP (PKD spec v0.8, POST api/history/cosign/:hash): accepted only
// from configured witnesses, for this directory's hostname and a root this log had, under the
// witness's key; stored once and served with the root and with api/history.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { ed25519 } from "@noble/curves/ed25519.js";
import { ml_dsa44 } from "@noble/post-quantum/ml-dsa.js";
import { COSIGNATURE_CONTEXT, cosign, cosignaturePayload, parseRootParam } from "../../src/directory/cosign";
import { encodeMerkleRoot, toB64url } from "../../src/directory/encoding";
import { leafHash } from "../../src/directory/merkle";
import { DirectoryServer, startDirectoryServer } from "../../src/directory/server";
import { newSecretKey } from "./helpers";

const HOST = "https://pkd.test";

describe("directory: witness cosignatures (api/history/cosign)", function () {
  this.timeout(60_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-cosign-"));
  const pq = ml_dsa44.keygen(new Uint8Array(32).fill(7));
  const pqOther = ml_dsa44.keygen(new Uint8Array(32).fill(8));
  const ed = newSecretKey();
  let server: DirectoryServer;
  let limited: DirectoryServer;
  const roots: string[] = [];

  async function append(s: DirectoryServer, n: number): Promise<void> {
    await s.directory.store.write(async (tx) => {
      for (let k = 0; k < n; k++) {
        const i = await tx.log.size();
        const text = `{"entry":${i}}`;
        const hash = leafHash(new TextEncoder().encode(text));
        const { root } = await tx.log.append(hash);
        // Opaque test entries: the entry bytes are the text itself (the tile view serves records.entry).
        await tx.run("INSERT INTO records (leaf_index, leaf_hash, message_hash, action, envelope, entry, created) VALUES (?, ?, ?, ?, ?, ?, ?)", [
          i,
          Buffer.from(hash),
          createHash("sha256").update(text).digest(),
          "AddKey",
          text,
          Buffer.from(text, "utf8"),
          new Date().toISOString(),
        ]);
        if (s === server) roots.push(encodeMerkleRoot(root));
      }
    });
  }

  async function post(s: DirectoryServer, root: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${s.url}/api/history/cosign/${root}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  async function listed(root: string): Promise<Array<{ witness: string; cosigned: string }>> {
    const res = await fetch(`${server.url}/api/history/cosign/${root}`);
    expect(res.status).to.equal(200);
    return ((await res.json()) as { cosignatures: Array<{ witness: string; cosigned: string }> }).cosignatures;
  }

  const witnesses = {
    "https://witness-pq.example": `mldsa44:${toB64url(pq.publicKey)}`,
    "https://witness-ed.example": `ed25519:${toB64url(ed25519.getPublicKey(ed))}`,
  };

  before(async () => {
    const common = { name: HOST, signingKey: newSecretKey(), commitmentWorkers: 0, witnesses };
    server = await startDirectoryServer({ ...common, database: path.join(tmp, "a.db"), rateLimit: { basePenaltyMs: 0 } });
    limited = await startDirectoryServer({ ...common, database: path.join(tmp, "b.db"), rateLimit: { basePenaltyMs: 60_000 } });
    await append(server, 5);
    await append(limited, 1);
  });

  after(async () => {
    await server?.close();
    await limited?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("stores a valid ML-DSA-44 cosignature of the current root and serves it", async () => {
    const root = roots[4];
    const cosigned = cosign("mldsa44", pq.secretKey, HOST, root);
    const res = await post(server, root, { witness: "https://witness-pq.example", cosigned });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    expect(res.json).to.include({ "!pkd-context": "fedi-e2ee:v1/api/history/cosign", success: true });
    const stored = await listed(root);
    expect(stored.map((c) => [c.witness, c.cosigned])).to.deep.equal([["https://witness-pq.example", cosigned]]);
    // Served with the tree head of api/history.
    const history = (await (await fetch(`${server.url}/api/history`)).json()) as { "tree-head": { root: string }; cosignatures: unknown[] };
    expect(history["tree-head"].root).to.equal(root);
    expect(history.cosignatures).to.have.length(1);
    // Resending is harmless: still one stored cosignature.
    expect((await post(server, root, { witness: "https://witness-pq.example", cosigned })).status).to.equal(200);
    expect(await listed(root)).to.have.length(1);
  });

  it("stores an Ed25519 witness's cosignature of an older root (URL as bare base64url)", async () => {
    const root = roots[1];
    const cosigned = cosign("ed25519", ed, HOST + "/", root);
    const res = await post(server, root.slice("pkd-mr-v1:".length), { witness: "https://witness-ed.example", cosigned });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    const got = (await (await fetch(`${server.url}/api/history/cosign/${root}`)).json()) as { "tree-size": number; cosignatures: unknown[] };
    expect(got["tree-size"]).to.equal(2);
    expect(got.cosignatures).to.have.length(1);
  });

  it("rejects a wrong key, a wrong hash, an unknown witness and other misfits with 4xx", async () => {
    const root = roots[3];
    const expectError = async (body: unknown, status: number, code: string, url = root): Promise<void> => {
      const res = await post(server, url, body);
      expect(res.status, JSON.stringify(res.json)).to.equal(status);
      expect(res.json).to.include({ "!pkd-context": "fedi-e2ee:v1/api/error", error: code });
    };
    const pqWitness = "https://witness-pq.example";
    // Signed by a key that is not the witness's.
    await expectError({ witness: pqWitness, cosigned: cosign("mldsa44", pqOther.secretKey, HOST, root) }, 400, "invalid_signature");
    // The Ed25519 witness's token presented as the ML-DSA witness's.
    await expectError({ witness: pqWitness, cosigned: cosign("ed25519", ed, HOST, root) }, 400, "invalid_signature");
    // Token for another root than the URL's.
    await expectError({ witness: pqWitness, cosigned: cosign("mldsa44", pq.secretKey, HOST, roots[2]) }, 400, "invalid_request");
    // Valid signature over a root this log never had.
    const foreign = encodeMerkleRoot(new Uint8Array(32).fill(9));
    await expectError({ witness: pqWitness, cosigned: cosign("mldsa44", pq.secretKey, HOST, foreign) }, 400, "merkle_root_unknown", foreign);
    // Unknown witness, even with a valid signature by a known witness's key.
    await expectError({ witness: "https://stranger.example", cosigned: cosign("mldsa44", pq.secretKey, HOST, root) }, 403, "untrusted_peer");
    // For another directory.
    await expectError({ witness: pqWitness, cosigned: cosign("mldsa44", pq.secretKey, "https://other.test", root) }, 400, "wrong_directory");
    // Tampered time (the signature covers it).
    const token = JSON.parse(cosign("mldsa44", pq.secretKey, HOST, root)) as Record<string, string>;
    await expectError({ witness: pqWitness, cosigned: JSON.stringify({ ...token, "current-time": "1" }) }, 400, "invalid_signature");
    // Extra, unsigned fields; wrong context; missing fields; bad shapes.
    await expectError({ witness: pqWitness, cosigned: JSON.stringify({ ...token, extra: "x" }) }, 400, "invalid_request");
    const wrongContext: Record<string, string> = { ...token, "!pkd-context": "other" };
    wrongContext.signature = toB64url(ml_dsa44.sign(cosignaturePayload(wrongContext as never), pq.secretKey));
    await expectError({ witness: pqWitness, cosigned: JSON.stringify(wrongContext) }, 400, "invalid_request");
    await expectError({ witness: pqWitness, cosigned: JSON.stringify({ "!pkd-context": COSIGNATURE_CONTEXT }) }, 400, "invalid_request");
    await expectError({ witness: pqWitness, cosigned: "not json" }, 400, "invalid_request");
    await expectError({ witness: pqWitness }, 400, "invalid_request");
    await expectError({ witness: pqWitness, cosigned: cosign("mldsa44", pq.secretKey, HOST, root) }, 400, "invalid_request", "not-a-root");
    // Nothing of the above was stored.
    expect(await listed(root)).to.have.length(0);
  });

  it("bounds the body and rate-limits rejected cosigners", async () => {
    const root = roots[0];
    const big = await fetch(`${server.url}/api/history/cosign/${root}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ witness: "https://witness-pq.example", cosigned: "x".repeat(20_000) }),
    });
    expect(big.status).to.equal(413);

    const lroot = encodeMerkleRoot(await limited.directory.log.rootAt());
    const bad = await post(limited, lroot, { witness: "https://stranger.example", cosigned: "{}" });
    expect(bad.status).to.equal(403);
    // The penalty now refuses this client before its body is read, even a valid cosignature.
    const again = await post(limited, lroot, { witness: "https://witness-pq.example", cosigned: cosign("mldsa44", pq.secretKey, HOST, lroot) });
    expect(again.status).to.equal(429);
    expect(again.json).to.include({ error: "rate_limited" });
  });

  it("parses the URL's root in both spellings", () => {
    const r = roots[0];
    expect(parseRootParam(r)).to.deep.equal(parseRootParam(r.slice(10)));
    expect(parseRootParam("pkd-mr-v1:AAAA")).to.equal(undefined);
  });
});
