import { expect } from "chai";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LocalDirectoryStorage, StorageError } from "../../src/client/storage";

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("LocalDirectoryStorage", () => {
  let dir: string;
  let storage: LocalDirectoryStorage;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-storage-"));
    storage = new LocalDirectoryStorage(dir);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("names objects by their SHA-256 and round-trips bytes", async () => {
    const data = new TextEncoder().encode("hello nkms");
    const id = await storage.put(data);
    expect(id).to.equal(createHash("sha256").update(data).digest("hex"));
    expect(Buffer.from(await storage.getBytes(id)).toString()).to.equal("hello nkms");
    expect(await storage.has(id)).to.equal(true);
    expect(await storage.put(data)).to.equal(id);
  });

  it("streams large objects in chunks", async () => {
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 64; i++) yield new Uint8Array(64 * 1024).fill(i);
    }
    const id = await storage.put(chunks());
    const back = await readAll(storage.get(id));
    expect(back.length).to.equal(64 * 64 * 1024);
    expect(back[64 * 1024 * 5]).to.equal(5);
  });

  it("detects a corrupted object on read", async () => {
    const id = await storage.put(new Uint8Array([1, 2, 3]));
    fs.writeFileSync(path.join(dir, id.slice(0, 2), id), Buffer.from([1, 2, 4]));
    let caught: unknown;
    try {
      await storage.getBytes(id);
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(StorageError);
    expect((caught as StorageError).code).to.equal("corrupt");
  });

  it("rejects unknown and malformed ids with a code", async () => {
    expect(() => storage.get("00".repeat(32))).to.throw(StorageError).with.property("code", "not_found");
    expect(() => storage.get("../etc/passwd")).to.throw(StorageError).with.property("code", "bad_id");
    expect(await storage.delete("11".repeat(32))).to.equal(false);
  });

  it("deletes objects", async () => {
    const id = await storage.put(new Uint8Array([9]));
    expect(await storage.delete(id)).to.equal(true);
    expect(await storage.has(id)).to.equal(false);
  });

  it("leaves no temporary file behind when the source fails", async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array([1]);
      throw new Error("source broke");
    }
    let caught: unknown;
    try {
      await storage.put(failing());
    } catch (err) {
      caught = err;
    }
    expect((caught as Error).message).to.equal("source broke");
    expect(fs.readdirSync(path.join(dir, "tmp"))).to.deep.equal([]);
  });
});
