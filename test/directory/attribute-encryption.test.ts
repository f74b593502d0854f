import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import {
  ATTRIBUTE_OVERHEAD,
  AttributeDecryptionError,
  argon2Commitment,
  argon2CommitmentSync,
  commitmentSaltInput,
  decryptAttribute,
  encryptAttribute,
} from "../../src/directory/attribute-encryption";
import { CommitmentPool } from "../../src/directory/commitment-pool";
import { vectorPath } from "../vectors";

interface Kat { attribute: string; key_hex: string; recent_merkle_root: string; plaintext_hex: string; ciphertext_hex: string }
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(AttributeDecryptionError);
    expect((err as AttributeDecryptionError).code).to.equal(code);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe("directory: attribute encryption v1", () => {
  const kat = JSON.parse(fs.readFileSync(vectorPath("pkd-attribute-v1-kat.json"), "utf8")) as Kat;

  it("decrypts the known answer", async () => {
    const p = await decryptAttribute(kat.attribute, hex(kat.ciphertext_hex), hex(kat.key_hex), kat.recent_merkle_root);
    expect(Buffer.from(p).toString("hex")).to.equal(kat.plaintext_hex);
  });

  it("re-encrypts the known answer byte for byte with its r", async () => {
    const ct = hex(kat.ciphertext_hex);
    const again = await encryptAttribute(kat.attribute, hex(kat.plaintext_hex), hex(kat.key_hex), kat.recent_merkle_root, ct.slice(1, 33));
    expect(Buffer.from(again).toString("hex")).to.equal(kat.ciphertext_hex);
  });

  it("computes the known answer's commitment Q byte for byte on the server's worker threads and on libuv's pool", async () => {
    const ct = hex(kat.ciphertext_hex);
    const r = ct.slice(1, 33);
    const q = Buffer.from(ct.slice(33, 65)).toString("hex");
    const enc = new TextEncoder();
    const root = enc.encode(kat.recent_merkle_root);
    const name = enc.encode(kat.attribute);
    const input = { root, name, plaintext: hex(kat.plaintext_hex), salt: commitmentSaltInput(r, root, name).subarray(48, 64) };
    const pool = new CommitmentPool(2);
    try {
      expect(Buffer.from(await pool.compute(input)).toString("hex")).to.equal(q);
    } finally {
      await pool.close();
    }
    expect(Buffer.from(await argon2Commitment(input.root, input.name, input.plaintext, input.salt)).toString("hex")).to.equal(q);
    expect(Buffer.from(argon2CommitmentSync(input.root, input.name, input.plaintext, input.salt)).toString("hex")).to.equal(q);
  });

  it("round-trips with fresh randomness and the documented overhead", async () => {
    const key = new Uint8Array(randomBytes(32));
    const pt = new TextEncoder().encode("https://example.social/users/alice");
    const a = await encryptAttribute("actor", pt, key, kat.recent_merkle_root);
    const b = await encryptAttribute("actor", pt, key, kat.recent_merkle_root);
    expect(a.length).to.equal(pt.length + ATTRIBUTE_OVERHEAD);
    expect(Buffer.from(a).equals(Buffer.from(b))).to.equal(false);
    expect(await decryptAttribute("actor", a, key, kat.recent_merkle_root)).to.deep.equal(pt);
  });

  it("rejects wrong key, name, root, version, truncation and tampering", async () => {
    const ct = hex(kat.ciphertext_hex);
    const key = hex(kat.key_hex);
    const root = kat.recent_merkle_root;
    await rejects(decryptAttribute(kat.attribute, ct, new Uint8Array(randomBytes(32)), root), "bad_tag");
    await rejects(decryptAttribute("bar", ct, key, root), "bad_tag");
    await rejects(decryptAttribute(kat.attribute, ct, key, "pkd-mr-v1:AAAA"), "bad_commitment");
    await rejects(decryptAttribute(kat.attribute, ct.subarray(0, 96), key, root), "truncated");
    await rejects(decryptAttribute(kat.attribute, ct, key.subarray(0, 31), root), "bad_key");
    const v2 = ct.slice();
    v2[0] = 2;
    await rejects(decryptAttribute(kat.attribute, v2, key, root), "bad_version");
    for (const at of [1, 40, 70, ct.length - 1]) {
      const bad = ct.slice();
      bad[at] ^= 1;
      await rejects(decryptAttribute(kat.attribute, bad, key, root), "bad_tag");
    }
  });
});
