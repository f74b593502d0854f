// Bulk streaming encryption: round trips (owner and cfrag readers), typed errors for truncation,
// reordering, splicing and tampering, and bounded memory on a multi-hundred-MB input.
import { expect } from "chai";
import fc from "fast-check";
import { createHash, randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { SecretKey, Signer, UmbralError, generateKFrags, reencrypt } from "../../src/umbral";
import {
  STREAM_HEADER_SIZE,
  StreamEncryptor,
  StreamHeader,
  createOriginalDecryptor,
  createReencryptedDecryptor,
  decryptBytes,
  encryptBytes,
  readStreamHeader,
  splitHeader,
} from "../../src/umbral/stream";
import { expectUmbralError, flipBit, hex } from "./helpers";

const alice = SecretKey.random();
const bob = SecretKey.random();
const signerSk = SecretKey.random();
const kfrags = generateKFrags(alice, bob.publicKey(), new Signer(signerSk), 2, 3, true, true);

function readerCfrags(header: StreamHeader) {
  return kfrags
    .slice(1)
    .map((k) => reencrypt(header.capsule, k).unverify().verify(header.capsule, signerSk.publicKey(), alice.publicKey(), bob.publicKey()));
}

async function collect(source: Readable | AsyncIterable<Uint8Array>, transform: NodeJS.ReadWriteStream): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  await pipeline(source, transform, new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) }));
  return new Uint8Array(Buffer.concat(parts));
}

/** Splits bytes into random-sized pieces to exercise the buffering. */
function pieces(bytes: Uint8Array): Readable {
  const out: Buffer[] = [];
  for (let off = 0; off < bytes.length; ) {
    const n = 1 + Math.floor(Math.random() * 700);
    out.push(Buffer.from(bytes.subarray(off, off + n)));
    off += n;
  }
  return Readable.from(out);
}

const CHUNK = 1024;
const sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17];

describe("umbral bulk stream", function () {
  this.timeout(180_000);

  it("round-trips in memory and through streams, for the owner and for a reader with cfrags", async () => {
    for (const size of sizes) {
      const plain = new Uint8Array(randomBytes(size));
      const sealed = encryptBytes(alice.publicKey(), plain, { chunkSize: CHUNK });
      expect(sealed.length).to.equal(STREAM_HEADER_SIZE + plain.length + 16 * Math.max(1, Math.ceil(size / CHUNK)));
      expect(hex(decryptBytes(sealed, (h) => h.unwrapKeyOriginal(alice)))).to.equal(hex(plain));

      const streamed = await collect(pieces(plain), new StreamEncryptor(alice.publicKey(), { chunkSize: CHUNK }));
      expect(streamed.length).to.equal(sealed.length);
      expect(hex(await collect(pieces(streamed), createOriginalDecryptor(alice)))).to.equal(hex(plain));
      expect(hex(decryptBytes(streamed, (h) => h.unwrapKeyOriginal(alice)))).to.equal(hex(plain));
      // whole input in one piece: exercises the no-copy paths of both transforms
      const whole = await collect(Readable.from([Buffer.from(plain)]), new StreamEncryptor(alice.publicKey(), { chunkSize: CHUNK }));
      expect(hex(decryptBytes(whole, (h) => h.unwrapKeyOriginal(alice)))).to.equal(hex(plain));
      expect(hex(await collect(Readable.from([Buffer.from(whole)]), createOriginalDecryptor(alice)))).to.equal(hex(plain));

      // reader: split the header off, get cfrags for its capsule, decrypt the payload
      const { header, payload } = splitHeader(streamed);
      const key = header.unwrapKeyReencrypted(bob, alice.publicKey(), readerCfrags(header));
      expect(hex(await collect(Readable.from([Buffer.from(payload)]), createReencryptedDecryptor(bob, alice.publicKey(), readerCfrags(header), header)))).to.equal(hex(plain));
      expect(hex(decryptBytes(sealed, (h) => h.unwrapKeyReencrypted(bob, alice.publicKey(), readerCfrags(h))))).to.equal(hex(plain));
      expect(key).to.have.length(32);
    }
  });

  it("readStreamHeader splits a byte source into header and payload", async () => {
    const plain = new Uint8Array(randomBytes(5000));
    const sealed = encryptBytes(alice.publicKey(), plain, { chunkSize: CHUNK });
    const { header, payload } = await readStreamHeader(pieces(sealed));
    const out = await collect(Readable.from(payload), createReencryptedDecryptor(bob, alice.publicKey(), readerCfrags(header), header));
    expect(hex(out)).to.equal(hex(plain));
    expect(StreamHeader.fromBytes(header.toBytes()).capsule.equals(header.capsule)).to.equal(true);
    let caught: unknown;
    await readStreamHeader(Readable.from([Buffer.from(sealed.subarray(0, 100))])).catch((e) => (caught = e));
    expect(caught).to.be.instanceOf(UmbralError).with.property("code", "STREAM_TRUNCATED");
  });

  describe("attacks", () => {
    const plain = new Uint8Array(randomBytes(4 * CHUNK + 100));
    const sealed = encryptBytes(alice.publicKey(), plain, { chunkSize: CHUNK });
    const other = encryptBytes(alice.publicKey(), plain, { chunkSize: CHUNK });
    const { header, payload } = splitHeader(sealed);
    const unit = CHUNK + 16;
    const chunkAt = (p: Uint8Array, i: number) => p.subarray(i * unit, (i + 1) * unit);
    const withPayload = (p: Uint8Array) => Uint8Array.of(...header.toBytes(), ...p);
    const open = (bytes: Uint8Array) => decryptBytes(bytes, (h) => h.unwrapKeyOriginal(alice));
    const openStreaming = async (bytes: Uint8Array) => {
      try {
        await collect(pieces(bytes), createOriginalDecryptor(alice));
      } catch (err) {
        return err;
      }
      return undefined;
    };
    const cases: Array<[string, () => Uint8Array, string[]]> = [
      ["truncated at a chunk boundary", () => withPayload(payload.subarray(0, 2 * unit)), ["STREAM_TRUNCATED"]],
      ["final chunk dropped", () => withPayload(payload.subarray(0, 4 * unit)), ["STREAM_TRUNCATED"]],
      ["truncated inside a chunk", () => withPayload(payload.subarray(0, 2 * unit + 100)), ["STREAM_CHUNK_INVALID"]],
      ["only the header", () => header.toBytes(), ["STREAM_TRUNCATED"]],
      ["header cut short", () => sealed.subarray(0, STREAM_HEADER_SIZE - 1), ["STREAM_TRUNCATED"]],
      ["chunks reordered", () => withPayload(Uint8Array.of(...chunkAt(payload, 1), ...chunkAt(payload, 0), ...payload.subarray(2 * unit))), ["STREAM_CHUNK_INVALID"]],
      ["chunk spliced from another file", () => withPayload(Uint8Array.of(...payload.subarray(0, unit), ...chunkAt(splitHeader(other).payload, 1), ...payload.subarray(2 * unit))), ["STREAM_CHUNK_INVALID"]],
      ["data appended after the final chunk", () => Uint8Array.of(...sealed, 1, 2, 3), ["STREAM_CHUNK_INVALID"]],
      ["a chunk duplicated", () => withPayload(Uint8Array.of(...payload.subarray(0, unit), ...payload)), ["STREAM_CHUNK_INVALID"]],
      ["header of another file", () => Uint8Array.of(...splitHeader(other).header.toBytes(), ...payload), ["DECRYPTION_FAILED", "STREAM_CHUNK_INVALID"]],
    ];
    for (const [name, make, codes] of cases) {
      it(`${name} → ${codes.join("|")}`, async () => {
        const bytes = make();
        expectUmbralError(() => open(bytes), ...(codes as never[]));
        const err = await openStreaming(bytes);
        expect(err, "streaming decryptor").to.be.instanceOf(UmbralError);
        expect(codes).to.include((err as UmbralError).code);
      });
    }

    it("header fields are validated", () => {
      const h = header.toBytes();
      expectUmbralError(() => StreamHeader.fromBytes(flipBit(h, 0)), "STREAM_HEADER_INVALID"); // magic
      expectUmbralError(() => StreamHeader.fromBytes(flipBit(h, 33)), "STREAM_HEADER_INVALID"); // version
      const zeroChunk = Uint8Array.from(h);
      zeroChunk.fill(0, 5, 9);
      expectUmbralError(() => StreamHeader.fromBytes(zeroChunk), "STREAM_HEADER_INVALID");
      expectUmbralError(() => new StreamEncryptor(alice.publicKey(), { chunkSize: 0 }), "STREAM_HEADER_INVALID");
    });

    it("any random bit flip in a stream raises an UmbralError, never wrong plaintext", () => {
      fc.assert(
        fc.property(fc.nat({ max: sealed.length * 8 - 1 }), (bit) => {
          expectUmbralError(() => open(flipBit(sealed, bit)));
        }),
        { numRuns: 400 },
      );
    });

    it("a wrong key or too few cfrags cannot open it", () => {
      expectUmbralError(() => decryptBytes(sealed, (h) => h.unwrapKeyOriginal(bob)), "DECRYPTION_FAILED");
      expectUmbralError(() => decryptBytes(sealed, (h) => h.unwrapKeyReencrypted(bob, alice.publicKey(), readerCfrags(h).slice(1))), "REENCRYPTION_VALIDATION_FAILED");
      expectUmbralError(() => decryptBytes(sealed, new Uint8Array(32)), "STREAM_CHUNK_INVALID");
    });
  });

  it("encrypts and decrypts 384 MiB generated on the fly with bounded memory", async () => {
    const total = 384 * 1024 * 1024;
    const block = randomBytes(1024 * 1024);
    const inputHash = createHash("sha256");
    const outputHash = createHash("sha256");
    let produced = 0;
    let outputBytes = 0;
    const source = new Readable({
      read() {
        if (produced >= total) return void this.push(null);
        const b = Buffer.from(block);
        b.writeUInt32BE(produced / block.length, 0); // every block differs
        produced += b.length;
        inputHash.update(b);
        this.push(b);
      },
    });
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sink = new Writable({
      write(c: Buffer, _e, cb) {
        outputHash.update(c);
        outputBytes += c.length;
        peak = Math.max(peak, process.memoryUsage().rss);
        cb();
      },
    });
    await pipeline(source, new StreamEncryptor(alice.publicKey()), createOriginalDecryptor(alice), sink);
    expect(outputBytes).to.equal(total);
    expect(outputHash.digest("hex")).to.equal(inputHash.digest("hex"));
    const growth = peak - baseline;
    expect(growth, `rss grew by ${(growth / 2 ** 20).toFixed(1)} MiB`).to.be.lessThan(96 * 1024 * 1024);
  });
});
