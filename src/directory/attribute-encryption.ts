// Fedi-E2EE PKD attribute encryption, version 1 (specification v0.8): an HMAC-authenticated
// AES-256-CTR ciphertext plus an Argon2id commitment Q to the plaintext. Erasing the per-attribute
// key ("crypto-shredding") leaves the ciphertext and Q in the log, so signatures over the
// encrypted message still verify.
import { createCipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { sha512 } from "@noble/hashes/sha2.js";
// Native Argon2id (RustCrypto's argon2 behind N-API, prebuilt for each platform). No fallback: if
// its binary does not load, this import throws and the directory does not start.
import { Algorithm, hashRaw, hashRawSync } from "@node-rs/argon2";
import { concatBytes, lengthPrefixed } from "./pae";

export const ATTRIBUTE_VERSION = 0x01;
const ENC_INFO = "FediE2EE-v1-Compliance-Encryption-Key";
const AUTH_INFO = "FediE2EE-v1-Compliance-Message-Auth-Key";
const KDF_SALT = "FediE2EE-v1-Compliance-KDF-Salt";
const RANDOM_SIZE = 32;
const COMMITMENT_SIZE = 32;
const TAG_SIZE = 32;
/** h ‖ r ‖ Q ‖ t */
export const ATTRIBUTE_OVERHEAD = 1 + RANDOM_SIZE + COMMITMENT_SIZE + TAG_SIZE;

/** Argon2id v1.3 parameters of the commitment: t = 3, m = 16 MiB, p = 1. */
export const COMMITMENT_PARAMS = { iterations: 3, memoryKiB: 16 * 1024, parallelism: 1 } as const;

export type AttributeErrorCode = "bad_key" | "bad_version" | "truncated" | "bad_tag" | "bad_commitment";

export class AttributeDecryptionError extends Error {
  constructor(
    readonly code: AttributeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "AttributeDecryptionError";
  }
}

const utf8 = new TextEncoder();

function hkdf512(ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync("sha512", ikm, new Uint8Array(0), info, length));
}

function deriveKeys(ikm: Uint8Array, r: Uint8Array, name: Uint8Array): { ek: Uint8Array; iv: Uint8Array; ak: Uint8Array } {
  const h = Uint8Array.of(ATTRIBUTE_VERSION);
  const suffix = concatBytes(h, r, lengthPrefixed(name));
  const encAndIv = hkdf512(ikm, concatBytes(utf8.encode(ENC_INFO), suffix), 48);
  const ak = hkdf512(ikm, concatBytes(utf8.encode(AUTH_INFO), suffix), 32);
  return { ek: encAndIv.subarray(0, 32), iv: encAndIv.subarray(32, 48), ak };
}

/** SHA-512(SALT ‖ h ‖ r ‖ len(m) ‖ m ‖ len(a) ‖ a): the commitment salt is taken from it. */
export function commitmentSaltInput(r: Uint8Array, root: Uint8Array, name: Uint8Array): Uint8Array {
  return sha512(concatBytes(utf8.encode(KDF_SALT), Uint8Array.of(ATTRIBUTE_VERSION), r, lengthPrefixed(root), lengthPrefixed(name)));
}

/** The Argon2id commitment Q to (root, name, plaintext) with its SHA-512-derived salt. */
export async function plaintextCommitment(
  r: Uint8Array,
  root: Uint8Array,
  name: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  // The spec and pkd-crypto take the LAST 16 bytes (the test vectors' generator takes the first).
  return argon2Commitment(root, name, plaintext, commitmentSaltInput(r, root, name).subarray(48, 64));
}

const ARGON2_OPTIONS = {
  algorithm: Algorithm.Argon2id,
  timeCost: COMMITMENT_PARAMS.iterations,
  memoryCost: COMMITMENT_PARAMS.memoryKiB,
  parallelism: COMMITMENT_PARAMS.parallelism,
  outputLen: COMMITMENT_SIZE,
};

function commitmentPassword(root: Uint8Array, name: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return concatBytes(lengthPrefixed(root), lengthPrefixed(name), lengthPrefixed(plaintext));
}

/**
 * Q = Argon2id(len(m) ‖ m ‖ len(a) ‖ a ‖ len(p) ‖ p, salt) with COMMITMENT_PARAMS, on libuv's thread
 * pool (off the calling event loop). Native @node-rs/argon2: 11 ms here against hash-wasm's 103 ms
 * (bench:directory measures them side by side); the same bytes (attribute-encryption tests, PKD
 * conformance vectors).
 */
export async function argon2Commitment(root: Uint8Array, name: Uint8Array, plaintext: Uint8Array, salt: Uint8Array): Promise<Uint8Array> {
  const tag = await hashRaw(commitmentPassword(root, name, plaintext), { ...ARGON2_OPTIONS, salt });
  return new Uint8Array(tag.buffer, tag.byteOffset, tag.byteLength);
}

/**
 * `argon2Commitment` on the calling thread: what the CommitmentPool's workers run, so the server's
 * commitments use exactly its workers (one per core, priority lowered below the event loop's) and
 * never libuv's shared pool.
 */
export function argon2CommitmentSync(root: Uint8Array, name: Uint8Array, plaintext: Uint8Array, salt: Uint8Array): Uint8Array {
  const tag = hashRawSync(commitmentPassword(root, name, plaintext), { ...ARGON2_OPTIONS, salt });
  return new Uint8Array(tag.buffer, tag.byteOffset, tag.byteLength);
}

function aesCtr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const cipher = createCipheriv("aes-256-ctr", key, iv);
  return new Uint8Array(Buffer.concat([cipher.update(data), cipher.final()]));
}

function authTag(ak: Uint8Array, r: Uint8Array, name: Uint8Array, c: Uint8Array, q: Uint8Array): Uint8Array {
  const mac = createHmac("sha512", ak)
    .update(Uint8Array.of(ATTRIBUTE_VERSION))
    .update(r)
    .update(lengthPrefixed(name))
    .update(lengthPrefixed(c))
    .update(lengthPrefixed(q))
    .digest();
  return new Uint8Array(mac.subarray(32, 64));
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new AttributeDecryptionError("bad_key", "attribute keys are 32 bytes");
  }
}

/** Encrypts one attribute; output h ‖ r ‖ Q ‖ t ‖ c. `r` is only injectable for tests. */
export async function encryptAttribute(
  name: string,
  plaintext: Uint8Array,
  key: Uint8Array,
  recentMerkleRoot: string,
  r: Uint8Array = new Uint8Array(randomBytes(RANDOM_SIZE)),
): Promise<Uint8Array> {
  checkKey(key);
  if (r.length !== RANDOM_SIZE) throw new RangeError("r must be 32 bytes");
  const a = utf8.encode(name);
  const m = utf8.encode(recentMerkleRoot);
  const { ek, iv, ak } = deriveKeys(key, r, a);
  const q = await plaintextCommitment(r, m, a, plaintext);
  const c = aesCtr(ek, iv, plaintext);
  const t = authTag(ak, r, a, c, q);
  return concatBytes(Uint8Array.of(ATTRIBUTE_VERSION), r, q, t, c);
}

/** The inputs of one Argon2id commitment (what a worker thread needs to compute Q). */
export interface CommitmentInput {
  root: Uint8Array;
  name: Uint8Array;
  plaintext: Uint8Array;
  salt: Uint8Array;
}

/** Computes Q; the default runs on libuv's thread pool, a CommitmentPool on its worker threads. */
export type CommitmentHasher = (input: CommitmentInput) => Promise<Uint8Array>;

const hereHasher: CommitmentHasher = (i) => argon2Commitment(i.root, i.name, i.plaintext, i.salt);

/** An attribute whose MAC verified and whose bytes are decrypted; its commitment is not yet checked. */
export interface OpenedAttribute {
  plaintext: Uint8Array;
  /** Checks the Argon2id commitment Q (the expensive part); rejects with AttributeDecryptionError. */
  verifyCommitment(hasher?: CommitmentHasher): Promise<void>;
}

/**
 * Cheap half of decryption: version, MAC (constant time) and AES-CTR. The Argon2id commitment is
 * deferred to `verifyCommitment()` so a server can authenticate the sender before paying for it.
 */
export function openAttribute(name: string, ciphertext: Uint8Array, key: Uint8Array, recentMerkleRoot: string): OpenedAttribute {
  checkKey(key);
  if (ciphertext.length < ATTRIBUTE_OVERHEAD) throw new AttributeDecryptionError("truncated", "attribute ciphertext is too short");
  if (ciphertext[0] !== ATTRIBUTE_VERSION) throw new AttributeDecryptionError("bad_version", `unsupported attribute version ${ciphertext[0]}`);
  const r = ciphertext.subarray(1, 33);
  const q = ciphertext.subarray(33, 65);
  const t = ciphertext.subarray(65, 97);
  const c = ciphertext.subarray(97);
  const a = utf8.encode(name);
  const m = utf8.encode(recentMerkleRoot);
  const { ek, iv, ak } = deriveKeys(key, r, a);
  if (!timingSafeEqual(authTag(ak, r, a, c, q), t)) throw new AttributeDecryptionError("bad_tag", "attribute MAC does not verify");
  const plaintext = aesCtr(ek, iv, c);
  return {
    plaintext,
    async verifyCommitment(hasher: CommitmentHasher = hereHasher) {
      const salt = commitmentSaltInput(r, m, a).subarray(48, 64);
      const expected = await hasher({ root: m, name: a, plaintext, salt });
      if (!timingSafeEqual(expected, q)) throw new AttributeDecryptionError("bad_commitment", "plaintext commitment does not match");
    },
  };
}

/** Decrypts and fully checks one attribute (version, MAC, then the plaintext commitment). */
export async function decryptAttribute(
  name: string,
  ciphertext: Uint8Array,
  key: Uint8Array,
  recentMerkleRoot: string,
): Promise<Uint8Array> {
  const opened = openAttribute(name, ciphertext, key, recentMerkleRoot);
  await opened.verifyCommitment();
  return opened.plaintext;
}
