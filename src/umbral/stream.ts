// Streaming hybrid encryption for bulk data.
//
// Each file gets a fresh random 32-byte data key, wrapped for the owner with Umbral `encrypt` (so a
// reader with cfrags unwraps it with `decryptReencrypted`, exactly like any Umbral ciphertext).
// The payload is cut into fixed-size chunks, each sealed with AES-256-GCM (node:crypto) under
//   nonce = u64_be(chunk index) ‖ u8(final ? 1 : 0) ‖ 0x000000,  AAD = SHA-256(header bytes).
// Distinct (index, final) pairs under a per-file key never reuse a nonce; binding the index stops
// reordering, the final flag stops truncation at a chunk boundary and appending, and the header hash
// plus the per-file key stop splicing chunks across files or headers.
//
// Wire format:  header ‖ chunk_0 ‖ … ‖ chunk_last
//   header = "UMBS" ‖ u8 version (1) ‖ u32_be chunkSize ‖ capsule (105, MessagePack) ‖
//            u16_be len ‖ encrypted data key (len = 72: nonce 24 ‖ key 32 ‖ tag 16)
//   chunk_i = AES-GCM ciphertext (chunkSize bytes, the last one 0..chunkSize) ‖ tag (16)
// Memory use is O(chunkSize): encryptor and decryptor hold at most one chunk.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { Transform, TransformCallback } from "node:stream";
import { UmbralError } from "./errors";
import { Capsule } from "./capsule";
import { VerifiedCapsuleFrag } from "./cfrag";
import { PublicKey, SecretKey } from "./keys";
import { decryptOriginal, decryptReencrypted, encrypt } from "./pre";

const MAGIC = Buffer.from("UMBS", "ascii");
const VERSION = 1;
const CAPSULE_SIZE = 105;
const DATA_KEY_SIZE = 32;
const ENCRYPTED_KEY_SIZE = 24 + DATA_KEY_SIZE + 16;
const TAG_SIZE = 16;
/** Total header length in bytes. */
export const STREAM_HEADER_SIZE = MAGIC.length + 1 + 4 + CAPSULE_SIZE + 2 + ENCRYPTED_KEY_SIZE;
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
const MIN_CHUNK_SIZE = 1;
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

function checkChunkSize(chunkSize: number): void {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new UmbralError("STREAM_HEADER_INVALID", `chunk size must be an integer in [${MIN_CHUNK_SIZE}, ${MAX_CHUNK_SIZE}]`);
  }
}

/** The part of a stream that travels ahead of the payload: wrapped data key and chunking. */
export class StreamHeader {
  private constructor(
    /** Umbral capsule wrapping the data key (send this to proxies for re-encryption). */
    readonly capsule: Capsule,
    /** The data key encrypted under the capsule (Umbral DEM ciphertext, 72 bytes). */
    readonly encryptedKey: Uint8Array,
    readonly chunkSize: number,
    private readonly encoded: Uint8Array,
  ) {}

  /** @internal */
  static create(capsule: Capsule, encryptedKey: Uint8Array, chunkSize: number): StreamHeader {
    checkChunkSize(chunkSize);
    const out = Buffer.alloc(STREAM_HEADER_SIZE);
    let off = MAGIC.copy(out, 0);
    off = out.writeUInt8(VERSION, off);
    off = out.writeUInt32BE(chunkSize, off);
    out.set(capsule.toBytes(), off);
    off += CAPSULE_SIZE;
    off = out.writeUInt16BE(encryptedKey.length, off);
    out.set(encryptedKey, off);
    return new StreamHeader(capsule, Uint8Array.from(encryptedKey), chunkSize, new Uint8Array(out));
  }

  /** Parses exactly STREAM_HEADER_SIZE bytes (the capsule is fully validated). */
  static fromBytes(bytes: Uint8Array): StreamHeader {
    if (!(bytes instanceof Uint8Array) || bytes.length !== STREAM_HEADER_SIZE) {
      throw new UmbralError("STREAM_HEADER_INVALID", `stream header must be ${STREAM_HEADER_SIZE} bytes`);
    }
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!buf.subarray(0, 4).equals(MAGIC)) throw new UmbralError("STREAM_HEADER_INVALID", "not an Umbral stream (bad magic)");
    if (buf.readUInt8(4) !== VERSION) throw new UmbralError("STREAM_HEADER_INVALID", `unsupported stream version ${buf.readUInt8(4)}`);
    const chunkSize = buf.readUInt32BE(5);
    checkChunkSize(chunkSize);
    const capsule = Capsule.fromBytes(bytes.subarray(9, 9 + CAPSULE_SIZE));
    const keyLength = buf.readUInt16BE(9 + CAPSULE_SIZE);
    if (keyLength !== ENCRYPTED_KEY_SIZE) throw new UmbralError("STREAM_HEADER_INVALID", `encrypted key must be ${ENCRYPTED_KEY_SIZE} bytes`);
    const encryptedKey = bytes.slice(STREAM_HEADER_SIZE - ENCRYPTED_KEY_SIZE);
    return new StreamHeader(capsule, encryptedKey, chunkSize, Uint8Array.from(bytes));
  }

  toBytes(): Uint8Array {
    return Uint8Array.from(this.encoded);
  }

  /** @internal SHA-256 of the header, the AAD of every chunk. */
  digest(): Buffer {
    return createHash("sha256").update(this.encoded).digest();
  }

  /** The owner recovers the data key. */
  unwrapKeyOriginal(delegatingSk: SecretKey): Uint8Array {
    return checkDataKey(decryptOriginal(delegatingSk, this.capsule, this.encryptedKey));
  }

  /** A reader recovers the data key from `threshold` verified cfrags of `capsule`. */
  unwrapKeyReencrypted(receivingSk: SecretKey, delegatingPk: PublicKey, vcfrags: VerifiedCapsuleFrag[]): Uint8Array {
    return checkDataKey(decryptReencrypted(receivingSk, delegatingPk, this.capsule, vcfrags, this.encryptedKey));
  }
}

function checkDataKey(key: Uint8Array): Uint8Array {
  if (key.length !== DATA_KEY_SIZE) throw new UmbralError("STREAM_HEADER_INVALID", "wrapped data key has the wrong size");
  return key;
}

/** splitEdek-style split of an in-memory stream into its header and its chunked payload. */
export function splitHeader(data: Uint8Array): { header: StreamHeader; payload: Uint8Array } {
  if (!(data instanceof Uint8Array) || data.length < STREAM_HEADER_SIZE) {
    throw new UmbralError("STREAM_TRUNCATED", "data is shorter than a stream header");
  }
  return { header: StreamHeader.fromBytes(data.subarray(0, STREAM_HEADER_SIZE)), payload: data.subarray(STREAM_HEADER_SIZE) };
}

function chunkNonce(index: bigint, final: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(index, 0);
  nonce[8] = final ? 1 : 0;
  return nonce;
}

/**
 * Seals one chunk given as a list of slices (so streams never copy plaintext into a staging buffer).
 * Returns the ciphertext pieces followed by the tag.
 */
function sealChunk(key: Uint8Array, aad: Uint8Array, index: bigint, final: boolean, plaintext: readonly Uint8Array[]): Buffer[] {
  const cipher = createCipheriv("aes-256-gcm", key, chunkNonce(index, final));
  cipher.setAAD(aad);
  const out: Buffer[] = [];
  for (const part of plaintext) {
    const body = cipher.update(part);
    if (body.length > 0) out.push(body);
  }
  cipher.final();
  out.push(cipher.getAuthTag());
  return out;
}

/** Splits a sealed chunk held as slices into its ciphertext slices and its 16-byte tag. */
function splitSealed(sealed: readonly Uint8Array[]): { body: Uint8Array[]; tag: Buffer } {
  let total = 0;
  for (const part of sealed) total += part.length;
  let bodyLeft = total - TAG_SIZE;
  const body: Uint8Array[] = [];
  const tag = Buffer.alloc(TAG_SIZE);
  let tagFilled = 0;
  for (const part of sealed) {
    const n = Math.min(Math.max(bodyLeft, 0), part.length);
    if (n > 0) body.push(part.subarray(0, n));
    bodyLeft -= n;
    tag.set(part.subarray(n), tagFilled);
    tagFilled += part.length - n;
  }
  return { body, tag };
}

function tryOpen(key: Uint8Array, aad: Uint8Array, index: bigint, final: boolean, sealed: readonly Uint8Array[]): Buffer[] | undefined {
  const { body, tag } = splitSealed(sealed);
  const decipher = createDecipheriv("aes-256-gcm", key, chunkNonce(index, final));
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const out: Buffer[] = [];
  for (const part of body) {
    const plain = decipher.update(part);
    if (plain.length > 0) out.push(plain);
  }
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return out;
}

/** Opens consecutive chunks of one stream; plaintext is returned only after its tag verifies. */
class ChunkOpener {
  private index = 0n;
  private readonly aad: Buffer;

  constructor(
    header: StreamHeader,
    private readonly key: Uint8Array,
  ) {
    this.aad = header.digest();
  }

  /** `sealed`: the slices of one chunk (ciphertext ‖ tag), at least TAG_SIZE bytes in total. */
  open(sealed: readonly Uint8Array[], final: boolean): Buffer[] {
    const plain = tryOpen(this.key, this.aad, this.index, final, sealed);
    if (plain === undefined) {
      // A chunk that authenticates as non-final but sits at the end means the stream was cut short.
      if (final && tryOpen(this.key, this.aad, this.index, false, sealed) !== undefined) {
        throw new UmbralError("STREAM_TRUNCATED", `stream ends after chunk ${this.index}, which is not the final one`);
      }
      throw new UmbralError("STREAM_CHUNK_INVALID", `chunk ${this.index} failed authentication (tampered, reordered or spliced)`);
    }
    this.index++;
    return plain;
  }
}

/**
 * Collects the input slices of the current chunk by reference (no copy; like any Node consumer we
 * rely on upstream not mutating a buffer after handing it over). Holds at most one chunk.
 */
class ChunkCollector {
  parts: Buffer[] = [];
  length = 0;

  constructor(readonly size: number) {}

  /** Takes up to the rest of the current chunk from data[off..]; returns the new offset. */
  take(data: Buffer, off: number): number {
    const n = Math.min(this.size - this.length, data.length - off);
    this.parts.push(off === 0 && n === data.length ? data : data.subarray(off, off + n));
    this.length += n;
    return off + n;
  }

  get full(): boolean {
    return this.length === this.size;
  }

  drain(): Buffer[] {
    const parts = this.parts;
    this.parts = [];
    this.length = 0;
    return parts;
  }
}

function resolveKey(source: DataKeySource, header: StreamHeader): Uint8Array {
  const key = typeof source === "function" ? source(header) : source;
  if (!(key instanceof Uint8Array) || key.length !== DATA_KEY_SIZE) {
    throw new UmbralError("INVALID_LENGTH", `data key must be ${DATA_KEY_SIZE} bytes`);
  }
  return key;
}

/** Encrypts a plaintext byte stream; emits the header first, then the chunks. */
export class StreamEncryptor extends Transform {
  readonly header: StreamHeader;
  private readonly key: Buffer;
  private readonly aad: Buffer;
  private readonly chunk: ChunkCollector;
  private index = 0n;

  constructor(delegatingPk: PublicKey, options: { chunkSize?: number } = {}) {
    super();
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    checkChunkSize(chunkSize);
    this.key = randomBytes(DATA_KEY_SIZE);
    const [capsule, encryptedKey] = encrypt(delegatingPk, this.key);
    this.header = StreamHeader.create(capsule, encryptedKey, chunkSize);
    this.aad = this.header.digest();
    this.chunk = new ChunkCollector(chunkSize);
    this.push(Buffer.from(this.header.toBytes()));
  }

  private seal(final: boolean): void {
    for (const piece of sealChunk(this.key, this.aad, this.index++, final, this.chunk.drain())) this.push(piece);
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let off = 0;
    while (off < data.length) {
      // A full chunk is sealed only once more data shows it is not the last one.
      if (this.chunk.full) this.seal(false);
      off = this.chunk.take(data, off);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.seal(true);
    this.key.fill(0);
    callback();
  }
}

export type DataKeySource = Uint8Array | ((header: StreamHeader) => Uint8Array);

/**
 * Decrypts a stream. Give it the header (when already split off) or let it read the header from the
 * input; the data key is given directly or computed from the header (see StreamHeader.unwrapKey*).
 * Plaintext is released only chunk by chunk after each chunk authenticates.
 */
export class StreamDecryptor extends Transform {
  private readonly headerBytes = Buffer.alloc(STREAM_HEADER_SIZE);
  private headerFilled = 0;
  private opener: ChunkOpener | undefined;
  private chunk: ChunkCollector | undefined;

  constructor(
    private readonly keySource: DataKeySource,
    header?: StreamHeader,
  ) {
    super();
    if (header !== undefined) this.start(header);
  }

  private start(header: StreamHeader): void {
    this.opener = new ChunkOpener(header, resolveKey(this.keySource, header));
    this.chunk = new ChunkCollector(header.chunkSize + TAG_SIZE);
  }

  private open(final: boolean): void {
    const chunk = this.chunk as ChunkCollector;
    for (const piece of (this.opener as ChunkOpener).open(chunk.drain(), final)) this.push(piece);
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      let off = 0;
      while (off < data.length) {
        if (this.chunk === undefined) {
          const n = Math.min(STREAM_HEADER_SIZE - this.headerFilled, data.length - off);
          data.copy(this.headerBytes, this.headerFilled, off, off + n);
          this.headerFilled += n;
          off += n;
          if (this.headerFilled === STREAM_HEADER_SIZE) this.start(StreamHeader.fromBytes(new Uint8Array(this.headerBytes)));
          continue;
        }
        // A full chunk is opened as non-final only once more data shows it is not the last one.
        if (this.chunk.full) this.open(false);
        off = this.chunk.take(data, off);
      }
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.chunk === undefined) throw new UmbralError("STREAM_TRUNCATED", "stream ends inside its header");
      if (this.chunk.length < TAG_SIZE) throw new UmbralError("STREAM_TRUNCATED", "stream ends without its final chunk");
      this.open(true);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}

/** Owner side: a Transform taking header+payload and emitting plaintext. */
export function createOriginalDecryptor(delegatingSk: SecretKey): StreamDecryptor {
  return new StreamDecryptor((header) => header.unwrapKeyOriginal(delegatingSk));
}

/**
 * Reader side: a Transform taking header+payload (or, if `header` is given, the payload only) and
 * emitting plaintext, with the data key recovered from verified cfrags of header.capsule.
 */
export function createReencryptedDecryptor(
  receivingSk: SecretKey,
  delegatingPk: PublicKey,
  vcfrags: VerifiedCapsuleFrag[],
  header?: StreamHeader,
): StreamDecryptor {
  return new StreamDecryptor((h) => h.unwrapKeyReencrypted(receivingSk, delegatingPk, vcfrags), header);
}

/**
 * Reads the header off an async byte source (e.g. a file or HTTP stream) and returns it with the rest
 * of the source, so the capsule can be re-encrypted before the payload is decrypted.
 */
export async function readStreamHeader(
  source: AsyncIterable<Uint8Array>,
): Promise<{ header: StreamHeader; payload: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  const headerBytes = new Uint8Array(STREAM_HEADER_SIZE);
  let filled = 0;
  let leftover: Uint8Array | undefined;
  while (filled < STREAM_HEADER_SIZE) {
    const next = await iterator.next();
    if (next.done) throw new UmbralError("STREAM_TRUNCATED", "stream ends inside its header");
    const chunk = next.value;
    const n = Math.min(STREAM_HEADER_SIZE - filled, chunk.length);
    headerBytes.set(chunk.subarray(0, n), filled);
    filled += n;
    if (n < chunk.length) leftover = chunk.subarray(n);
  }
  const header = StreamHeader.fromBytes(headerBytes);
  async function* payload(): AsyncGenerator<Uint8Array> {
    if (leftover !== undefined) yield leftover;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { header, payload: payload() };
}

/** In-memory convenience: encrypts `plaintext` into header ‖ chunks. */
export function encryptBytes(delegatingPk: PublicKey, plaintext: Uint8Array, options: { chunkSize?: number } = {}): Uint8Array {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  checkChunkSize(chunkSize);
  const key = randomBytes(DATA_KEY_SIZE);
  const [capsule, encryptedKey] = encrypt(delegatingPk, key);
  const header = StreamHeader.create(capsule, encryptedKey, chunkSize);
  const aad = header.digest();
  const parts: Uint8Array[] = [header.toBytes()];
  const chunks = Math.max(1, Math.ceil(plaintext.length / chunkSize));
  for (let i = 0; i < chunks; i++) {
    parts.push(...sealChunk(key, aad, BigInt(i), i === chunks - 1, [plaintext.subarray(i * chunkSize, (i + 1) * chunkSize)]));
  }
  key.fill(0);
  return new Uint8Array(Buffer.concat(parts));
}

/** In-memory convenience: decrypts header ‖ chunks with a data key (or a function of the header). */
export function decryptBytes(data: Uint8Array, keySource: DataKeySource): Uint8Array {
  const { header, payload } = splitHeader(data);
  const decryptor = new ChunkOpener(header, resolveKey(keySource, header));
  const sealed = header.chunkSize + TAG_SIZE;
  const parts: Buffer[] = [];
  let off = 0;
  // every chunk but the last is exactly `sealed` bytes; the last is 16..sealed bytes
  while (payload.length - off > sealed) {
    parts.push(...decryptor.open([payload.subarray(off, off + sealed)], false));
    off += sealed;
  }
  if (payload.length - off < TAG_SIZE) throw new UmbralError("STREAM_TRUNCATED", "stream ends without its final chunk");
  parts.push(...decryptor.open([payload.subarray(off)], true));
  return new Uint8Array(Buffer.concat(parts));
}
