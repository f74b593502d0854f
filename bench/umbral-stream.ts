// Bulk throughput of src/umbral/stream.ts beside raw node:crypto AES-256-GCM over the same data.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { SecretKey } from "../src/umbral";
import { StreamEncryptor, createOriginalDecryptor } from "../src/umbral/stream";

const MIB = 1024 * 1024;

export interface StreamBench {
  data_mib: number;
  chunk_kib: number;
  raw_aes_gcm_encrypt_mb_s: number;
  stream_encrypt_mb_s: number;
  encrypt_ratio: number;
  raw_aes_gcm_decrypt_mb_s: number;
  stream_decrypt_mb_s: number;
  decrypt_ratio: number;
  rss_growth_mib: number;
}

async function drain(source: Iterable<Buffer>, transform: NodeJS.ReadWriteStream, keep?: Buffer[]): Promise<void> {
  await pipeline(Readable.from(source), transform, new Writable({ write: (c: Buffer, _e, cb) => (keep?.push(c), cb()) }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const mbPerS = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

export async function benchStreamThroughput(dataMib = 128, rounds = 3): Promise<StreamBench> {
  const blocks = Array.from({ length: dataMib }, () => randomBytes(MIB));
  const bytes = dataMib * MIB;
  const alice = SecretKey.random();
  const key = randomBytes(32);
  const iv = randomBytes(12);

  // one stream encryption kept for the decryption timings
  const sealed: Buffer[] = [];
  await drain(blocks, new StreamEncryptor(alice.publicKey()), sealed);
  const rawCipher = createCipheriv("aes-256-gcm", key, iv);
  const rawSealed = blocks.map((b) => rawCipher.update(b));
  rawCipher.final();
  const rawTag = rawCipher.getAuthTag();

  const t = { rawEnc: [] as number[], enc: [] as number[], rawDec: [] as number[], dec: [] as number[] };
  let rssGrowth = 0;
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    const c = createCipheriv("aes-256-gcm", key, iv);
    for (const b of blocks) c.update(b);
    c.final();
    t.rawEnc.push(performance.now() - t0);

    t0 = performance.now();
    await drain(blocks, new StreamEncryptor(alice.publicKey()));
    t.enc.push(performance.now() - t0);

    t0 = performance.now();
    const d = createDecipheriv("aes-256-gcm", key, iv);
    d.setAuthTag(rawTag);
    for (const b of rawSealed) d.update(b);
    d.final();
    t.rawDec.push(performance.now() - t0);

    const before = process.memoryUsage().rss;
    t0 = performance.now();
    await drain(sealed, createOriginalDecryptor(alice));
    t.dec.push(performance.now() - t0);
    rssGrowth = Math.max(rssGrowth, process.memoryUsage().rss - before);
  }
  const r2 = (x: number) => Math.round(x * 100) / 100;
  const rawEnc = mbPerS(bytes, median(t.rawEnc));
  const enc = mbPerS(bytes, median(t.enc));
  const rawDec = mbPerS(bytes, median(t.rawDec));
  const dec = mbPerS(bytes, median(t.dec));
  return {
    data_mib: dataMib,
    chunk_kib: 256,
    raw_aes_gcm_encrypt_mb_s: r2(rawEnc),
    stream_encrypt_mb_s: r2(enc),
    encrypt_ratio: r2(enc / rawEnc),
    raw_aes_gcm_decrypt_mb_s: r2(rawDec),
    stream_decrypt_mb_s: r2(dec),
    decrypt_ratio: r2(dec / rawDec),
    rss_growth_mib: r2(rssGrowth / MIB),
  };
}
