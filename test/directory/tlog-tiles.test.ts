// The log served as C2SP tlog-tiles, checked over real HTTP by a verifier written here from the
// specs alone (tlog-tiles, tlog-checkpoint, signed-note, RFC 6962): it pins the note key, reads
// the checkpoint, fetches only tiles and bundles, and builds and checks its own inclusion and
// consistency proofs. Nothing of src/directory/merkle.ts is used on the verifying side.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { leafHash } from "../../src/directory/merkle";
import { DirectoryServer, startDirectoryServer } from "../../src/directory/server";
import { encodeTileIndex, parseTilePath, tilePath } from "../../src/directory/tlog-tiles";
import { buildAddKey, leafData, publicKeyOf } from "../../src/directory/protocol";
import { newSecretKey, submitAs } from "./helpers";
import { checkLogEntry, LOG_ENTRY_BYTES } from "../../src/directory/log-entry";

// ------------------------------------------------------------------ independent verifier

const H = (...parts: Uint8Array[]): Uint8Array => {
  const h = sha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
};
const nodeH = (l: Uint8Array, r: Uint8Array): Uint8Array => H(Uint8Array.of(1), l, r);
const leafH = (entry: Uint8Array): Uint8Array => H(Uint8Array.of(0), entry);
const eq = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));
/** Largest power of two < n. */
const split = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
}

/** Opens a checkpoint note with one pinned Ed25519 vkey (name+hex id+base64(0x01‖key)). */
function openCheckpoint(note: string, vkey: string): Checkpoint {
  const [name, idHex, ...rest] = vkey.split("+");
  const keyBytes = Buffer.from(rest.join("+"), "base64");
  expect(keyBytes[0]).to.equal(0x01);
  const pub = keyBytes.subarray(1);
  const id = H(new TextEncoder().encode(name), Uint8Array.of(0x0a, 0x01), pub).subarray(0, 4);
  expect(Buffer.from(id).toString("hex")).to.equal(idHex);
  const cut = note.lastIndexOf("\n\n");
  const text = note.slice(0, cut + 1);
  const sigLines = note.slice(cut + 2).split("\n").filter((l) => l !== "");
  let ok = false;
  for (const line of sigLines) {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    expect(m, line).to.not.equal(null);
    const sig = Buffer.from(m![2], "base64");
    if (m![1] !== name || !sig.subarray(0, 4).equals(Buffer.from(id))) continue;
    expect(ed25519.verify(sig.subarray(4), new TextEncoder().encode(text), pub)).to.equal(true);
    ok = true;
  }
  expect(ok, "signed by the pinned key").to.equal(true);
  const lines = text.split("\n");
  expect(lines.length).to.equal(4); // origin, size, root, "" (no extension lines)
  expect(lines[1]).to.match(/^(0|[1-9][0-9]*)$/);
  return { origin: lines[0], size: Number(lines[1]), root: new Uint8Array(Buffer.from(lines[2], "base64")) };
}

function indexPath(n: number): string {
  const groups: string[] = [];
  do {
    groups.unshift(String(n % 1000).padStart(3, "0"));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? "x" + g : g)).join("/");
}

/** A tile client for one checkpoint: perfect-subtree hashes from tiles only. */
class TileClient {
  private readonly tiles = new Map<string, Uint8Array>();
  fetched = 0;
  constructor(
    private readonly base: string,
    readonly cp: Checkpoint,
  ) {}

  private async tile(level: number, n: number): Promise<Uint8Array> {
    const have = Math.floor(this.cp.size / 256 ** level); // hashes stored at this tile level
    const width = Math.min(256, have - n * 256);
    expect(width).to.be.greaterThan(0);
    const url = `${this.base}/tile/${level}/${indexPath(n)}${width === 256 ? "" : `.p/${width}`}`;
    let t = this.tiles.get(url);
    if (!t) {
      const res = await fetch(url);
      expect(res.status, url).to.equal(200);
      expect(res.headers.get("content-type")).to.equal("application/octet-stream");
      expect(res.headers.get("cache-control")).to.contain(width === 256 ? "immutable" : "max-age=");
      t = new Uint8Array(await res.arrayBuffer());
      expect(t.length).to.equal(width * 32);
      this.tiles.set(url, t);
      this.fetched++;
    }
    return t;
  }

  /** Hash of the complete subtree at tree height `h`, index `i`: climbed within one tile. */
  async perfect(h: number, i: number): Promise<Uint8Array> {
    const level = Math.floor(h / 8);
    const up = h - 8 * level; // 0..7 heights above the tile's row
    const first = i * 2 ** up; // first tile-row hash it covers
    const t = await this.tile(level, Math.floor(first / 256));
    const off = first % 256;
    let row: Uint8Array[] = [];
    for (let k = 0; k < 2 ** up; k++) row.push(t.subarray((off + k) * 32, (off + k + 1) * 32));
    while (row.length > 1) {
      const next: Uint8Array[] = [];
      for (let k = 0; k < row.length; k += 2) next.push(nodeH(row[k], row[k + 1]));
      row = next;
    }
    return row[0];
  }

  /** MTH(D[start:start+n]) where start is a multiple of the largest power of two ≤ n (as RFC 6962 recursions visit). */
  async mth(start: number, n: number): Promise<Uint8Array> {
    if (n === 0) return H();
    if ((n & (n - 1)) === 0 && start % n === 0) return this.perfect(Math.log2(n), start / n);
    const k = split(n);
    return nodeH(await this.mth(start, k), await this.mth(start + k, n - k));
  }

  async inclusionProof(m: number, start: number, n: number): Promise<Uint8Array[]> {
    if (n === 1) return [];
    const k = split(n);
    if (m < k) return [...(await this.inclusionProof(m, start, k)), await this.mth(start + k, n - k)];
    return [...(await this.inclusionProof(m - k, start + k, n - k)), await this.mth(start, k)];
  }

  async consistencyProof(m: number, start: number, n: number, complete: boolean): Promise<Uint8Array[]> {
    if (m === n) return complete ? [] : [await this.mth(start, n)];
    const k = split(n);
    if (m <= k) return [...(await this.consistencyProof(m, start, k, complete)), await this.mth(start + k, n - k)];
    return [...(await this.consistencyProof(m - k, start + k, n - k, false)), await this.mth(start, k)];
  }

  async entries(n: number): Promise<Uint8Array[]> {
    const width = Math.min(256, this.cp.size - n * 256);
    const res = await fetch(`${this.base}/tile/entries/${indexPath(n)}${width === 256 ? "" : `.p/${width}`}`);
    expect(res.status).to.equal(200);
    const b = new Uint8Array(await res.arrayBuffer());
    const out: Uint8Array[] = [];
    for (let p = 0; p < b.length; ) {
      const len = (b[p] << 8) | b[p + 1];
      out.push(b.subarray(p + 2, p + 2 + len));
      p += 2 + len;
    }
    expect(out.length).to.equal(width);
    return out;
  }
}

/** Root from a leaf and its inclusion path (leaf to root), by the recursion that built it. */
function rootFromInclusion(m: number, n: number, leaf: Uint8Array, proof: Uint8Array[]): Uint8Array {
  if (n === 1) {
    expect(proof.length).to.equal(0);
    return leaf;
  }
  const k = split(n);
  const sibling = proof[proof.length - 1];
  const rest = proof.slice(0, -1);
  return m < k ? nodeH(rootFromInclusion(m, k, leaf, rest), sibling) : nodeH(sibling, rootFromInclusion(m - k, n - k, leaf, rest));
}

/** [old root, new root] implied by a consistency proof from size m to n, given the old root. */
function rootsFromConsistency(m: number, n: number, complete: boolean, oldRoot: Uint8Array, proof: Uint8Array[]): [Uint8Array, Uint8Array] {
  if (m === n) {
    if (complete) {
      expect(proof.length).to.equal(0);
      return [oldRoot, oldRoot];
    }
    expect(proof.length).to.equal(1);
    return [proof[0], proof[0]];
  }
  const k = split(n);
  const sibling = proof[proof.length - 1];
  const rest = proof.slice(0, -1);
  if (m <= k) {
    const [o, nw] = rootsFromConsistency(m, k, complete, oldRoot, rest);
    return [o, nodeH(nw, sibling)];
  }
  const [o, nw] = rootsFromConsistency(m - k, n - k, false, oldRoot, rest);
  return [nodeH(sibling, o), nodeH(sibling, nw)];
}

// ------------------------------------------------------------------ the test

describe("directory: C2SP tlog-tiles over HTTP", function () {
  this.timeout(60_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-tiles-"));
  let server: DirectoryServer;
  let base: string;
  let vkey: string;
  const entries: Uint8Array[] = [];

  /** Appends opaque entries straight to the log and records table (the tile view treats them as bytes). */
  async function append(n: number): Promise<void> {
    await server.directory.store.write(async (tx) => {
      for (let k = 0; k < n; k++) {
        const i = entries.length;
        const text = `{"entry":${i},"pad":"${"é".repeat(i % 37)}${"x".repeat((i * 7) % 101)}"}`;
        const bytes = new TextEncoder().encode(text);
        const hash = leafHash(bytes);
        const { index } = await tx.log.append(hash);
        expect(index).to.equal(i);
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
        entries.push(bytes);
      }
    });
  }

  async function checkpoint(): Promise<Checkpoint> {
    const res = await fetch(`${base}/checkpoint`);
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.equal("text/plain; charset=utf-8");
    expect(res.headers.get("cache-control")).to.match(/max-age=[0-9]$/);
    return openCheckpoint(await res.text(), vkey);
  }

  before(async () => {
    server = await startDirectoryServer({
      database: path.join(tmp, "tiles.db"),
      name: "https://pkd.test",
      signingKey: newSecretKey(),
      commitmentWorkers: 0,
      rateLimit: { basePenaltyMs: 0 },
      // This suite asks for ~25 past tree heads back to back to check tiles against them; the
      // signing budget for past heads (16/s, tested in test/review/mldsa-*) is not under test here.
      pastHeadsPerSecond: 1000,
    });
    base = `${server.url}/tlog`;
    vkey = server.noteSigner!.verifierKey;
  });

  after(async () => {
    await server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("serves a signed checkpoint of the empty tree", async () => {
    const cp = await checkpoint();
    expect(cp.origin).to.equal("pkd.test/tlog");
    expect(vkey.startsWith("pkd.test/tlog+")).to.equal(true);
    expect(cp.size).to.equal(0);
    expect(eq(cp.root, H())).to.equal(true);
    expect((await fetch(`${base}/tile/0/000.p/1`)).status).to.equal(404);
  });

  it("proves inclusion and consistency from tiles alone (300 → 600 entries)", async () => {
    await append(300);
    const cp1 = await checkpoint();
    expect(cp1.size).to.equal(300);
    const c1 = new TileClient(base, cp1);
    expect(eq(await c1.mth(0, 300), cp1.root), "root of 300 from tiles").to.equal(true);

    await append(300);
    const cp2 = await checkpoint();
    expect(cp2.size).to.equal(600);
    const c2 = new TileClient(base, cp2);
    expect(eq(await c2.mth(0, 600), cp2.root), "root of 600 from tiles").to.equal(true);

    // Bundles hash to the level-0 tile hashes, and hold the bytes that were logged.
    for (const n of [0, 1, 2]) {
      const bundle = await c2.entries(n);
      for (let k = 0; k < bundle.length; k++) {
        const i = n * 256 + k;
        expect(eq(bundle[k], entries[i])).to.equal(true);
        expect(eq(leafH(bundle[k]), await c2.perfect(0, i)), `leaf ${i}`).to.equal(true);
      }
    }

    // Inclusion of several leaves in both trees, from tile-derived proofs.
    for (const [m, cp, c] of [
      [0, cp2, c2],
      [255, cp2, c2],
      [256, cp2, c2],
      [299, cp1, c1],
      [512, cp2, c2],
      [599, cp2, c2],
      [137, cp1, c1],
    ] as Array<[number, Checkpoint, TileClient]>) {
      const proof = await c.inclusionProof(m, 0, cp.size);
      expect(eq(rootFromInclusion(m, cp.size, leafH(entries[m]), proof), cp.root), `inclusion of ${m} in ${cp.size}`).to.equal(true);
      // A proof for a different leaf position does not verify.
      expect(eq(rootFromInclusion(m ^ 1, cp.size, leafH(entries[m]), proof), cp.root)).to.equal(false);
    }

    // Consistency 300 → 600 from tiles of the newer checkpoint, checked against both signed roots.
    const proof = await c2.consistencyProof(300, 0, 600, true);
    const [oldRoot, newRoot] = rootsFromConsistency(300, 600, true, cp1.root, proof);
    expect(eq(oldRoot, cp1.root) && eq(newRoot, cp2.root), "consistency 300 → 600").to.equal(true);
    // Same for a power-of-two old size (the old root is implied by the proof, not sent).
    const proof256 = await c2.consistencyProof(256, 0, 600, true);
    const root256 = await c1.mth(0, 256);
    const [o256, n256] = rootsFromConsistency(256, 600, true, root256, proof256);
    expect(eq(o256, root256) && eq(n256, cp2.root)).to.equal(true);

    // The server's own proofs agree with the tile-derived ones.
    const api = (await (await fetch(`${server.url}/api/proof/consistency/300/600`)).json()) as { proof: string[] };
    expect(api.proof).to.deep.equal(proof.map((p) => Buffer.from(p).toString("base64url")));
  });

  it("derives every older tree size's root and consistency from the partial tiles it needs", async () => {
    // Older sizes the log had (their roots as the directory signed them in tree heads).
    const cp2 = await checkpoint();
    const latest = new TileClient(base, cp2);
    const sizes = [1, 2, 3, 7, 8, 9, 255, 256, 257, 300, 511, 512, 513, 599, 600];
    for (let k = 0; k < 10; k++) sizes.push(1 + Math.floor(Math.random() * 600));
    for (const m of sizes) {
      const head = await server.directory.treeHead(m);
      const rootM = new Uint8Array(Buffer.from(head.root.slice("pkd-mr-v1:".length), "base64url"));
      const cm = new TileClient(base, { origin: cp2.origin, size: m, root: rootM });
      expect(eq(await cm.mth(0, m), rootM), `root of ${m} from tiles`).to.equal(true);
      const proof = await latest.consistencyProof(m, 0, 600, true);
      const [o, n] = rootsFromConsistency(m, 600, true, rootM, proof);
      expect(eq(o, rootM) && eq(n, cp2.root), `consistency ${m} → 600`).to.equal(true);
      const leaf = Math.floor(Math.random() * m);
      const inc = await cm.inclusionProof(leaf, 0, m);
      expect(eq(rootFromInclusion(leaf, m, leafH(entries[leaf]), inc), rootM), `inclusion of ${leaf} in ${m}`).to.equal(true);
    }
  });

  it("serves level-1 partial tiles and full tiles with long-lived caching", async () => {
    // 600 entries: level 0 has 2 full tiles and one of width 88; level 1 a partial tile of width 2.
    const l1 = await fetch(`${base}/tile/1/000.p/2`);
    expect(l1.status).to.equal(200);
    const body = new Uint8Array(await l1.arrayBuffer());
    expect(body.length).to.equal(64);
    const full0 = new Uint8Array(await (await fetch(`${base}/tile/0/000`)).arrayBuffer());
    // A level-1 hash is the MTH of a full level-0 tile.
    let row: Uint8Array[] = [];
    for (let k = 0; k < 256; k++) row.push(full0.subarray(k * 32, k * 32 + 32));
    while (row.length > 1) {
      const next: Uint8Array[] = [];
      for (let k = 0; k < row.length; k += 2) next.push(nodeH(row[k], row[k + 1]));
      row = next;
    }
    expect(eq(row[0], body.subarray(0, 32))).to.equal(true);
    const res = await fetch(`${base}/tile/0/001`);
    expect(res.headers.get("cache-control")).to.equal("public, max-age=31536000, immutable");
    expect((await fetch(`${base}/tile/entries/002.p/88`)).headers.get("cache-control")).to.equal("public, max-age=10");
    // Entry bundles are gzipped for clients that accept it, and identical once decoded.
    const plain = await fetch(`${base}/tile/entries/001`, { headers: { "accept-encoding": "identity" } });
    expect(plain.headers.get("content-encoding")).to.equal(null);
    const gz = await fetch(`${base}/tile/entries/001`, { headers: { "accept-encoding": "gzip" } });
    expect(gz.headers.get("content-encoding")).to.equal("gzip");
    expect(gz.headers.get("vary")).to.equal("accept-encoding");
    expect(Buffer.from(await gz.arrayBuffer()).equals(Buffer.from(await plain.arrayBuffer()))).to.equal(true);
    const refused = await fetch(`${base}/tile/entries/001`, { headers: { "accept-encoding": "gzip;q=0, identity" } });
    expect(refused.headers.get("content-encoding")).to.equal(null);
  });

  it("answers bad and absent tile paths with the API's JSON errors", async () => {
    for (const p of ["tile/0/1", "tile/0/0000", "tile/00/000", "tile/64/000", "tile/0/x000/001", "tile/0/000.p/0", "tile/0/000.p/256",
      "tile/0/000.p/010", "tile/entries/000.p/", "tile/-1/000", "tile/0/abc", "tile/entries/x1/000"]) {
      const res = await fetch(`${base}/${p}`);
      expect(res.status, p).to.equal(400);
      const json = (await res.json()) as { "!pkd-context": string; error: string };
      expect(json["!pkd-context"], p).to.equal("fedi-e2ee:v1/api/error");
      expect(json.error, p).to.equal("invalid_range");
    }
    for (const p of ["tile/0/003", "tile/0/002", "tile/0/002.p/89", "tile/1/000", "tile/1/000.p/3", "tile/2/000.p/1", "tile/entries/003",
      "tile/entries/002.p/89", "tile/3/x001/x234/067"]) {
      const res = await fetch(`${base}/${p}`);
      expect(res.status, p).to.equal(404);
      expect(((await res.json()) as { error: string }).error, p).to.equal("not_found");
    }
  });
});

describe("directory: tlog-tiles entries of real protocol messages", function () {
  this.timeout(60_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-tiles-real-"));
  let server: DirectoryServer;

  before(async () => {
    server = await startDirectoryServer({ database: path.join(tmp, "r.db"), name: "https://pkd.test", signingKey: newSecretKey(), commitmentWorkers: 0 });
  });

  after(async () => {
    await server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("serves a submitted message as the exact bytes its leaf hash covers", async () => {
    const sk = newSecretKey();
    const actor = "https://social.example/users/alice";
    const msg = await buildAddKey(actor, publicKeyOf(sk), await server.directory.currentRoot(), sk);
    const res = await submitAs(server.directory, msg, actor);
    const vkey = server.noteSigner!.verifierKey;
    const cp = openCheckpoint(await (await fetch(`${server.url}/tlog/checkpoint`)).text(), vkey);
    expect(cp.size).to.equal(1);
    const client = new TileClient(`${server.url}/tlog`, cp);
    const [entry] = await client.entries(0);
    expect(Buffer.from(leafH(entry)).toString("base64url")).to.equal(res["merkle-leaf"]);
    expect(eq(leafH(entry), cp.root)).to.equal(true); // a one-leaf tree's root is its leaf hash
    // The entry is the spec's: SHA-256 of the message ‖ the directory's ML-DSA-44 signature ‖ its key hash.
    expect(entry.length).to.equal(LOG_ENTRY_BYTES);
    expect(checkLogEntry(entry, server.directory.publicKey, leafData(msg))).to.equal(undefined);
  });
});

describe("directory: C2SP tile path encoding", () => {
  it("encodes indices as x-prefixed 3-digit groups", () => {
    expect(encodeTileIndex(0)).to.equal("000");
    expect(encodeTileIndex(7)).to.equal("007");
    expect(encodeTileIndex(999)).to.equal("999");
    expect(encodeTileIndex(1000)).to.equal("x001/000");
    expect(encodeTileIndex(1234067)).to.equal("x001/x234/067");
    expect(encodeTileIndex(2 ** 53 - 1)).to.equal("x009/x007/x199/x254/x740/991");
    expect(tilePath({ level: 0, index: 1234067, width: 256 })).to.equal("tile/0/x001/x234/067");
    expect(tilePath({ level: 2, index: 5, width: 17 })).to.equal("tile/2/005.p/17");
    expect(tilePath({ level: "entries", index: 1000, width: 1 })).to.equal("tile/entries/x001/000.p/1");
  });

  it("parses exactly the canonical paths", () => {
    expect(parseTilePath("0/x001/x234/067")).to.deep.equal({ level: 0, index: 1234067, width: 256 });
    expect(parseTilePath("63/000.p/255")).to.deep.equal({ level: 63, index: 0, width: 255 });
    expect(parseTilePath("entries/x001/000.p/1")).to.deep.equal({ level: "entries", index: 1000, width: 1 });
    for (let n = 0; n < 5000; n += 37) {
      expect(parseTilePath(`1/${encodeTileIndex(n)}`)).to.deep.equal({ level: 1, index: n, width: 256 });
    }
    for (const bad of ["64/000", "01/000", "0/00", "0/0000", "0/x000/001", "0/x01/000", "0/001/000", "0/000.p/0", "0/000.p/256",
      "0/000.p/01", "0/000.p", "0/000/", "/0/000", "0/x001", "entries/000.p/999", "a/000"]) {
      expect(parseTilePath(bad), bad).to.equal(undefined);
    }
  });
});
