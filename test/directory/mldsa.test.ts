// PKD v0.8 signatures in the directory itself: ML-DSA-44 over PAE with field names interleaved,
// directory-issued random key ids (and the `key-id` hint), and log entries
// SHA-256(message) ‖ directory signature ‖ SHA-256(directory key).
import { expect } from "chai";
import { ml_dsa44 } from "@noble/post-quantum/ml-dsa.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { canonicalJson, encodePublicKey, fromB64url, toB64url } from "../../src/directory/encoding";
import { checkLogEntry, LOG_ENTRY_BYTES } from "../../src/directory/log-entry";
import { leafHash } from "../../src/directory/merkle";
import { MLDSA44_SIGNATURE_BYTES, mlDsaSign, mlDsaVerify, protocolSignaturePayload } from "../../src/directory/mldsa";
import { pae } from "../../src/directory/pae";
import {
  buildAddKey,
  buildFireproof,
  buildRevocationToken,
  buildRevokeKey,
  leafData,
  parseRevocationToken,
  publicKeyOf,
  signaturePayload,
} from "../../src/directory/protocol";
import { protocolSignaturePayload as replayPayload } from "../../src/directory/v08/replay";
import { expectCode, makeDirectory, newSecretKey, submitAs, TestDirectory } from "./helpers";

const ALICE = "https://social.example/users/alice";
const BOB = "https://social.example/users/bob";

describe("directory: ML-DSA-44 protocol signatures, key ids and log entries (PKD v0.8)", function () {
  this.timeout(120_000);
  let t: TestDirectory;
  const root = (): Promise<string> => t.directory.currentRoot();
  beforeEach(async () => {
    t = await makeDirectory();
  });
  afterEach(async () => {
    await t.close();
  });

  it("signs PAE of the field names interleaved with the values; any tampered name or value fails", async () => {
    const a = newSecretKey();
    const msg = await buildAddKey(ALICE, publicKeyOf(a), await root(), a);
    const names = ["!pkd-context", "action", "message", "recent-merkle-root"] as const;
    const values = [msg["!pkd-context"], msg.action, canonicalJson(msg.message), msg["recent-merkle-root"]];
    const expected = pae(names.flatMap((n, i) => [n, values[i]]));
    expect(Buffer.from(signaturePayload(msg)).equals(Buffer.from(expected))).to.equal(true);
    // The replay of the specification's vectors and the directory sign the same bytes.
    expect(Buffer.from(replayPayload(msg)).equals(Buffer.from(expected))).to.equal(true);
    const sig = fromB64url(msg.signature)!;
    expect(sig.length).to.equal(MLDSA44_SIGNATURE_BYTES);
    expect(mlDsaVerify(sig, expected, publicKeyOf(a))).to.equal(true);
    for (let i = 0; i < names.length; i++) {
      const renamed = names.flatMap((n, j) => [j === i ? n + "x" : n, values[j]]);
      expect(mlDsaVerify(sig, pae(renamed), publicKeyOf(a)), `renamed ${names[i]}`).to.equal(false);
      const changed = names.flatMap((n, j) => [n, j === i ? values[j] + "x" : values[j]]);
      expect(mlDsaVerify(sig, pae(changed), publicKeyOf(a)), `changed ${names[i]}`).to.equal(false);
    }
    // Values only (the pre-v0.8 payload) is not what is signed.
    expect(mlDsaVerify(sig, pae(values), publicKeyOf(a))).to.equal(false);
    // The directory refuses a signature over the values-only payload, and any tampered field.
    const { signature: _s, "symmetric-keys": _k, ...unsigned } = msg;
    const valuesOnly = toB64url(ml_dsa44.sign(pae(values), ml_dsa44.keygen(a).secretKey));
    await expectCode(submitAs(t.directory, { ...msg, signature: valuesOnly }), "invalid_signature");
    await expectCode(submitAs(t.directory, { ...msg, message: { ...msg.message, time: String(Number(msg.message.time) + 1) } }), "invalid_signature");
    await expectCode(submitAs(t.directory, { ...msg, signature: toB64url(mlDsaSign(protocolSignaturePayload(unsigned), newSecretKey())) }), "invalid_signature");
    await expectCode(submitAs(t.directory, { ...msg, signature: toB64url(sig.subarray(0, 64)) }), "invalid_signature");
    expect(await t.directory.log.size()).to.equal(0);
    await submitAs(t.directory, msg);
    expect((await t.directory.keys(ALICE))[0]["public-key"]).to.equal(encodePublicKey(publicKeyOf(a)));
    expect((await t.directory.keys(ALICE))[0]["public-key"]).to.match(/^mldsa44:[A-Za-z0-9_-]{1750}$/);
  });

  it("public keys are mldsa44:<1312 bytes>; an Ed25519-sized or unprefixed key is refused", async () => {
    const a = newSecretKey();
    const msg = await buildAddKey(ALICE, new Uint8Array(32), await root(), a);
    await expectCode(submitAs(t.directory, msg), "invalid_request");
  });

  it("issues a random 256-bit key id per AddKey, never derived from the key", async () => {
    const a = newSecretKey();
    const first = await submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(a), await root(), a));
    const id = first["key-id"]!;
    expect(fromB64url(id)).to.have.length(32);
    expect((await t.directory.keys(ALICE))[0]["key-id"]).to.equal(id);
    // The same key under another directory, or again here after a revocation token, gets a new id.
    const other = await makeDirectory();
    try {
      const again = await submitAs(other.directory, await buildAddKey(ALICE, publicKeyOf(a), await other.directory.currentRoot(), a));
      expect(again["key-id"]).to.not.equal(id);
    } finally {
      await other.close();
    }
    await t.directory.submitRevocationToken(buildRevocationToken(a));
    const readded = await submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(a), await root(), a));
    expect(readded["key-id"]).to.not.equal(id);
    // The id encodes nothing of the key: neither the key, its hash, nor the 2024 derived id.
    const pk = publicKeyOf(a);
    for (const derived of [toB64url(sha256(pk)), toB64url(sha256(new TextEncoder().encode(encodePublicKey(pk)))), toB64url(pk).slice(0, 43)]) {
      expect(readded["key-id"]).to.not.equal(derived);
    }
  });

  it("the key-id hint must name an active key of the signer; a first AddKey carries none", async () => {
    const a = newSecretKey();
    await expectCode(
      submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(a), await root(), a, toB64url(newSecretKey()))),
      "invalid_request",
    );
    const aId = (await submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(a), await root(), a)))["key-id"]!;
    const b = newSecretKey();
    const bobId = (await submitAs(t.directory, await buildAddKey(BOB, publicKeyOf(b), await root(), b)))["key-id"]!;
    const a2 = newSecretKey();
    // An id nobody was issued, another actor's key id, or a malformed one (the 2024 derived ids were 32 characters).
    await expectCode(submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(a2), await root(), a, toB64url(newSecretKey()))), "key_not_found");
    await expectCode(submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(a2), await root(), a, bobId)), "key_not_found");
    await expectCode(submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(a2), await root(), a, aId.slice(0, 32))), "invalid_request");
    // A self-signed AddKey is no vouching once the actor has keys.
    await expectCode(submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(a2), await root(), a2, aId)), "invalid_signature");
    const a2Id = (await submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(a2), await root(), a, aId)))["key-id"]!;
    // The hint selects the only key the signature is checked under.
    await expectCode(submitAs(t.directory, await buildFireproof(ALICE, await root(), a, a2Id)), "invalid_signature");
    // A key may not sign its own revocation, hint or not.
    await expectCode(submitAs(t.directory, await buildRevokeKey(ALICE, publicKeyOf(a2), await root(), a2, a2Id)), "self_revocation");
    await submitAs(t.directory, await buildRevokeKey(ALICE, publicKeyOf(a2), await root(), a, aId));
    // A revoked key's id no longer selects anything.
    await expectCode(submitAs(t.directory, await buildFireproof(ALICE, await root(), a2, a2Id)), "key_not_found");
    await submitAs(t.directory, await buildFireproof(ALICE, await root(), a, aId));
  });

  it("revocation tokens carry the ML-DSA-44 key and its signature of the token prefix", () => {
    const a = newSecretKey();
    const token = fromB64url(buildRevocationToken(a))!;
    expect(token.length).to.equal(8 + 32 + 17 + 1312 + 2420);
    expect(Buffer.from(parseRevocationToken(token)!).equals(Buffer.from(publicKeyOf(a)))).to.equal(true);
    const forged = new Uint8Array(token);
    forged[8 + 32 + 17] ^= 1; // another key, same signature
    expect(parseRevocationToken(forged)).to.equal(undefined);
  });

  it("log entries are SHA-256(message) ‖ signature ‖ SHA-256(directory key) and verify under the directory key", async () => {
    const a = newSecretKey();
    const msg = await buildAddKey(ALICE, publicKeyOf(a), await root(), a, undefined);
    const result = await submitAs(t.directory, msg);
    const [entry] = await t.directory.history(0, 1);
    const bytes = fromB64url(entry["log-entry"])!;
    expect(bytes.length).to.equal(LOG_ENTRY_BYTES);
    // The hashed message is the spec's subset: no key-id, no symmetric-keys.
    const { "symmetric-keys": _k, ...logged } = msg;
    expect(Buffer.from(bytes.subarray(0, 32)).equals(Buffer.from(sha256(leafData(logged))))).to.equal(true);
    expect(Buffer.from(bytes.subarray(32 + 2420)).equals(Buffer.from(sha256(t.directory.publicKey)))).to.equal(true);
    expect(mlDsaVerify(bytes.subarray(32, 32 + 2420), bytes.subarray(0, 32), t.directory.publicKey)).to.equal(true);
    expect(checkLogEntry(bytes, t.directory.publicKey, leafData(logged))).to.equal(undefined);
    // The Merkle leaf is the entry's RFC 9162 leaf hash.
    expect(result["merkle-leaf"]).to.equal(toB64url(leafHash(bytes)));
    expect(toB64url(await t.directory.log.leafHashAt(0))).to.equal(result["merkle-leaf"]);
    // Tampering with any part, or another directory's key, fails.
    for (const at of [0, 40, LOG_ENTRY_BYTES - 1]) {
      const bad = new Uint8Array(bytes);
      bad[at] ^= 1;
      expect(checkLogEntry(bad, t.directory.publicKey), `byte ${at}`).to.be.a("string");
    }
    expect(checkLogEntry(bytes, publicKeyOf(newSecretKey()))).to.be.a("string");
    expect(checkLogEntry(bytes, t.directory.publicKey, new TextEncoder().encode("another message"))).to.be.a("string");
    // The tree head is ML-DSA-44 under the same key.
    expect((await t.directory.treeHead())["public-key"]).to.equal(encodePublicKey(t.directory.publicKey));
  });

  it("the directory key survives a restart: its configured secret is the ML-DSA-44 seed", async () => {
    const secret = newSecretKey();
    const one = await makeDirectory({ signingKey: secret });
    const two = await makeDirectory({ signingKey: secret });
    try {
      expect(Buffer.from(one.directory.publicKey).equals(Buffer.from(two.directory.publicKey))).to.equal(true);
      expect(Buffer.from(one.directory.publicKey).equals(Buffer.from(publicKeyOf(secret)))).to.equal(true);
    } finally {
      await one.close();
      await two.close();
    }
  });
});
