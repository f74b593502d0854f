import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

/** Where encrypted objects live. Objects are immutable and named by the SHA-256 of their bytes. */
export interface ObjectStorage {
  /** Stores the bytes and returns their content id (hex SHA-256). Storing twice is a no-op. */
  put(data: Uint8Array | AsyncIterable<Uint8Array>): Promise<string>;
  /** Streams an object; the stream errors with `StorageError("corrupt")` if the bytes don't hash to the id. */
  get(id: string): Readable;
  /** Reads a whole (small) object into memory. */
  getBytes(id: string): Promise<Uint8Array>;
  has(id: string): Promise<boolean>;
  /** The object's size in bytes, when the backend knows it cheaply (for progress reporting). */
  size?(id: string): Promise<number>;
  /** Removes an object; returns false when it was not there. */
  delete(id: string): Promise<boolean>;
}

export type StorageErrorCode = "not_found" | "corrupt" | "bad_id";

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "StorageError";
  }
}

const CONTENT_ID = /^[0-9a-f]{64}$/;

/** True when `s` is a content id: 64 lowercase hex digits (the SHA-256 of the object's bytes). */
export function isContentId(s: string): boolean {
  return CONTENT_ID.test(s);
}

function checkId(id: string): void {
  if (!CONTENT_ID.test(id)) throw new StorageError("bad_id", `not a content id: ${JSON.stringify(id)}`);
}

/**
 * Passes bytes through while hashing them; on end compares with the expected content id and
 * errors with `StorageError("corrupt")` on a mismatch (so a consumer must not commit its output
 * before the stream has ended without error).
 */
export function verifyingHash(expectedId: string): Transform {
  const hash = createHash("sha256");
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      const actual = hash.digest("hex");
      done(actual === expectedId ? null : new StorageError("corrupt", `object ${expectedId} is corrupt`));
    },
  });
}

/**
 * The default backend: a local directory, objects fanned out by the first two hex digits.
 * Writes go to a temporary file that is fsynced and renamed, so a crash never leaves a
 * half-written object under its final name.
 */
export class LocalDirectoryStorage implements ObjectStorage {
  constructor(readonly root: string) {
    fs.mkdirSync(path.join(root, "tmp"), { recursive: true });
  }

  /** The file holding object `id` (whether or not it exists): what to serve or copy to share it. */
  pathOf(id: string): string {
    checkId(id);
    return path.join(this.root, id.slice(0, 2), id);
  }

  async put(data: Uint8Array | AsyncIterable<Uint8Array>): Promise<string> {
    const tmp = path.join(this.root, "tmp", randomBytes(12).toString("hex"));
    const hash = createHash("sha256");
    const source = data instanceof Uint8Array ? Readable.from([data]) : Readable.from(data);
    const hashing = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    // Opened synchronously so the file exists before anything can fail: the cleanup below then
    // never races an asynchronous open that would recreate it.
    const fd = fs.openSync(tmp, "wx");
    let open = true;
    try {
      await pipeline(source, hashing, fs.createWriteStream("", { fd, autoClose: false }));
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      open = false;
      const id = hash.digest("hex");
      const final = this.pathOf(id);
      fs.mkdirSync(path.dirname(final), { recursive: true });
      fs.renameSync(tmp, final);
      return id;
    } catch (err) {
      if (open) fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }

  get(id: string): Readable {
    const file = this.pathOf(id);
    if (!fs.existsSync(file)) throw new StorageError("not_found", `no object ${id}`);
    const out = fs.createReadStream(file).pipe(verifyingHash(id));
    return out;
  }

  async getBytes(id: string): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.get(id)) chunks.push(chunk as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  }

  async has(id: string): Promise<boolean> {
    return fs.existsSync(this.pathOf(id));
  }

  async size(id: string): Promise<number> {
    const file = this.pathOf(id);
    if (!fs.existsSync(file)) throw new StorageError("not_found", `no object ${id}`);
    return fs.statSync(file).size;
  }

  async delete(id: string): Promise<boolean> {
    const file = this.pathOf(id);
    if (!fs.existsSync(file)) return false;
    fs.rmSync(file);
    return true;
  }
}
