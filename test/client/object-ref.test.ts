// Object references and all-or-nothing output files, on real files and a real HTTP server
// (issue #15 item 6; the CLI's end-to-end use is test/cli/data-path.test.ts).
import { expect } from "chai";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { parseObjectRef, openObjectRef } from "../../src/client/object-ref";
import { AtomicFile, sweepStaleTemporaries } from "../../src/client/atomic-file";
import { LocalDirectoryStorage } from "../../src/client/storage";
import { ClientError } from "../../src/client/errors";

const ID = "ab".repeat(32);

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("object references", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-ref-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("parses ids, URLs (content id from the fragment or the last segment), files", () => {
    expect(parseObjectRef(ID)).to.deep.equal({ kind: "store", id: ID });
    expect(parseObjectRef(ID.toUpperCase())).to.deep.equal({ kind: "store", id: ID });
    expect(parseObjectRef(`https://h.example/objects/ab/${ID}`)).to.deep.equal({ kind: "url", url: `https://h.example/objects/ab/${ID}`, id: ID });
    expect(parseObjectRef(`http://h.example/report.nkms#${ID}`)).to.deep.equal({ kind: "url", url: "http://h.example/report.nkms", id: ID });
    expect(parseObjectRef("http://h.example/report.nkms")).to.deep.equal({ kind: "url", url: "http://h.example/report.nkms", id: undefined });
    expect(parseObjectRef(`./store/ab/${ID}`)).to.deep.equal({ kind: "file", path: `./store/ab/${ID}`, id: ID });
    expect(parseObjectRef(`file:///tmp/x.nkms#${ID}`)).to.deep.equal({ kind: "file", path: "/tmp/x.nkms", id: ID });
    expect(parseObjectRef("notes.nkms")).to.deep.equal({ kind: "file", path: "notes.nkms", id: undefined });
    for (const bad of ["ftp://h.example/x", "http://h.example/x#not-an-id", "javascript://x"]) {
      expect(() => parseObjectRef(bad), bad).to.throw(ClientError).with.property("code", "BAD_INPUT");
    }
  });

  it("streams a file and a URL, checks the content id, and names a missing object clearly", async () => {
    const bytes = Buffer.from("ciphertext stand-in");
    const id = createHash("sha256").update(bytes).digest("hex");
    const good = path.join(dir, id);
    fs.writeFileSync(good, bytes);
    const opened = await openObjectRef(good, new LocalDirectoryStorage(path.join(dir, "store")));
    expect(opened.size).to.equal(bytes.length);
    expect((await readAll(opened.stream)).equals(bytes)).to.equal(true);
    // the same name over other bytes: the stream errors at its end (consumers commit only after)
    const wrong = path.join(dir, "wrong");
    fs.mkdirSync(wrong);
    fs.writeFileSync(path.join(wrong, id), Buffer.from("other bytes"));
    const bad = await openObjectRef(path.join(wrong, id), new LocalDirectoryStorage(path.join(dir, "store")));
    const err = await readAll(bad.stream).catch((e: unknown) => e);
    expect((err as { code?: string }).code).to.equal("corrupt");

    const server = http.createServer((req, res) => {
      if (req.url === `/${id}`) res.writeHead(200, { "content-length": bytes.length }).end(bytes);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const web = await openObjectRef(`${base}/${id}`, new LocalDirectoryStorage(path.join(dir, "store")));
      expect(web.size).to.equal(bytes.length);
      expect((await readAll(web.stream)).equals(bytes)).to.equal(true);
      const missing = await openObjectRef(`${base}/nothing`, new LocalDirectoryStorage(path.join(dir, "store"))).catch((e: unknown) => e);
      expect(missing).to.be.instanceOf(ClientError).with.property("code", "NOT_FOUND");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const none = await openObjectRef(ID, new LocalDirectoryStorage(path.join(dir, "store"))).catch((e: unknown) => e);
    expect((none as ClientError).message).to.match(/give its URL or a file path/);
  });
});

describe("AtomicFile", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-atomic-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("appears only on commit, 0600; abort leaves nothing and an existing target untouched", async () => {
    const target = path.join(dir, "out.bin");
    fs.writeFileSync(target, "previous");
    const aborted = AtomicFile.open(target);
    expect(fs.statSync(aborted.tempPath).mode & 0o777).to.equal(0o600);
    aborted.stream.write("partial plaintext");
    await aborted.abort();
    expect(fs.readdirSync(dir)).to.deep.equal(["out.bin"]);
    expect(fs.readFileSync(target, "utf8")).to.equal("previous");

    const file = AtomicFile.open(target);
    file.stream.end("complete");
    expect(fs.readFileSync(target, "utf8")).to.equal("previous");
    await file.commit();
    expect(fs.readFileSync(target, "utf8")).to.equal("complete");
    expect(fs.readdirSync(dir)).to.deep.equal(["out.bin"]);
  });

  it("a later writer sweeps what a dead process left, never a live one's; a directory target is refused", () => {
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!; // a pid that no longer runs
    const stale = path.join(dir, `.out.bin.${dead}-0a0b0c.nkms-partial`);
    const live = path.join(dir, `.out.bin.${process.pid}-0d0e0f.nkms-partial`);
    const other = path.join(dir, `.other.bin.${dead}-0a0b0c.nkms-partial`);
    for (const f of [stale, live, other]) fs.writeFileSync(f, "x");
    expect(sweepStaleTemporaries(path.join(dir, "out.bin"))).to.deep.equal([path.basename(stale)]);
    expect(fs.readdirSync(dir).sort()).to.deep.equal([path.basename(live), path.basename(other)].sort());
    expect(() => AtomicFile.open(dir)).to.throw(/is a directory/);
  });
});
