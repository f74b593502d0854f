import { expect } from "chai";
import { Directory, freshnessWindow } from "../../src/directory/directory";
import { encodeMerkleRoot, encodePublicKey, toB64url, fromB64url } from "../../src/directory/encoding";
import {
  auxDataId,
  buildAddAuxData,
  buildAddKey,
  buildBurnDown,
  buildCheckpoint,
  buildFireproof,
  buildMoveIdentity,
  buildRevocationToken,
  buildRevokeAuxData,
  buildRevokeKey,
  buildUndoFireproof,
  publicKeyOf,
  signaturePayload,
} from "../../src/directory/protocol";
import { leafHash } from "../../src/directory/merkle";
import { mlDsaVerify } from "../../src/directory/mldsa";
import { expectCode, makeDirectory, newSecretKey, submitAs, TestBackend, TestDirectory } from "./helpers";
import { startTestPostgres, TestPostgres } from "./postgres";

const ALICE = "https://social.example/users/alice";
const BOB = "https://social.example/users/bob";
const OPERATOR = "https://social.example/users/admin";

// The same rules on both storage backends; PostgreSQL runs on a real server started for this file.
for (const kind of ["sqlite", "postgres"] as const) describe(`directory: protocol rules (${kind === "sqlite" ? "SQLite" : "PostgreSQL"})`, function () {
  this.timeout(120_000);
  let backend: TestBackend = "sqlite";
  let pg: TestPostgres | undefined;
  before(async function () {
    if (kind === "postgres") backend = pg = await startTestPostgres();
  });
  after(async () => {
    await pg?.stop();
  });
  let t: TestDirectory;
  const root = (): Promise<string> => t.directory.currentRoot();
  beforeEach(async () => {
    t = await makeDirectory({ operators: [OPERATOR] }, backend);
  });
  afterEach(() => t.close());

  async function addFirstKey(actor: string): Promise<Uint8Array> {
    const sk = newSecretKey();
    await submitAs(t.directory, await buildAddKey(actor, publicKeyOf(sk), await root(), sk));
    return sk;
  }

  it("freshness window is ⌈2·log2(N)²⌉", () => {
    expect(freshnessWindow(0)).to.equal(0);
    expect(freshnessWindow(1)).to.equal(0);
    expect(freshnessWindow(2)).to.equal(2);
    expect(freshnessWindow(1024)).to.equal(200);
    expect(freshnessWindow(1000)).to.equal(Math.ceil(2 * Math.log2(1000) ** 2));
  });

  it("a message's time must be within the directory's window (spec: at most 30 days; default one day); a third-party revocation has none", async () => {
    let shift = 0;
    const clocked = await makeDirectory({ operators: [OPERATOR], clock: () => Math.floor(Date.now() / 1000) + shift }, backend);
    try {
      const sk = newSecretKey();
      const first = await buildAddKey(ALICE, publicKeyOf(sk), await clocked.directory.currentRoot(), sk);
      shift = 86_400 + 60; // the directory's clock a day and a minute ahead: the message is too old
      await expectCode(submitAs(clocked.directory, first), "invalid_request");
      shift = -(86_400 + 60); // or dated too far in its future
      await expectCode(submitAs(clocked.directory, first), "invalid_request");
      shift = 86_400 - 60;
      await submitAs(clocked.directory, first);
      // A revocation token carries no time: it stays valid whatever the clock says.
      const second = newSecretKey();
      shift = 0;
      await submitAs(clocked.directory, await buildAddKey(ALICE, publicKeyOf(second), await clocked.directory.currentRoot(), sk));
      const token = buildRevocationToken(sk);
      shift = 365 * 86_400;
      await clocked.directory.submitRevocationToken(token);
    } finally {
      await clocked.close();
    }
    expect(() => new Directory(t.store, { name: "x", signingKey: newSecretKey(), messageWindowSeconds: 30 * 86_400 + 1 })).to.throw(RangeError);
  });

  it("first AddKey must be self-signed; later ones signed by an existing key", async () => {
    const first = newSecretKey();
    const stranger = newSecretKey();
    await expectCode(submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(first), await root(), stranger)), "invalid_signature");
    expect((await t.directory.log.size())).to.equal(0);
    const res = await submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(first), await root(), first));
    expect(res["leaf-index"]).to.equal(0);

    const second = newSecretKey();
    // A new key cannot vouch for itself once the actor has keys.
    await expectCode(submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(second), await root(), second)), "invalid_signature");
    await submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(second), await root(), first));
    expect((await t.directory.keys(ALICE)).map((k) => k["public-key"])).to.deep.equal([
      encodePublicKey(publicKeyOf(first)),
      encodePublicKey(publicKeyOf(second)),
    ]);
    await expectCode(submitAs(t.directory, await buildAddKey(BOB, publicKeyOf(second), await root(), second)), "key_in_use");
  });

  it("RevokeKey: the last key stays, a key cannot revoke itself, another key can", async () => {
    const a = await addFirstKey(ALICE);
    await expectCode(submitAs(t.directory, await buildRevokeKey(ALICE, publicKeyOf(a), await root(), a)), "last_key");
    const b = newSecretKey();
    await submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(b), await root(), a));
    await expectCode(submitAs(t.directory, await buildRevokeKey(ALICE, publicKeyOf(b), await root(), b)), "self_revocation");
    await expectCode(submitAs(t.directory, await buildRevokeKey(ALICE, publicKeyOf(newSecretKey()), await root(), a)), "key_not_found");
    await submitAs(t.directory, await buildRevokeKey(ALICE, publicKeyOf(b), await root(), a));
    expect((await t.directory.keys(ALICE))).to.have.length(1);
    expect((await t.directory.actorInfo(ALICE))["active-keys"]).to.equal(1);
  });

  it("rejects duplicates and stale or unknown recent Merkle roots", async () => {
    const a = newSecretKey();
    const msg = await buildAddKey(ALICE, publicKeyOf(a), await root(), a);
    await submitAs(t.directory, msg);
    await expectCode(submitAs(t.directory, msg), "duplicate_message");

    const oldRoot = await root();
    // Grow the log past the window of the old root (raw leaves keep the test fast).
    for (let i = 0; (await t.directory.log.size()) - 1 <= freshnessWindow((await t.directory.log.size())); i++) {
      await t.store.write((tx) => tx.log.append(leafHash(new TextEncoder().encode(`padding ${i}`))));
    }
    const b = newSecretKey();
    await expectCode(submitAs(t.directory, await buildAddKey(BOB, publicKeyOf(b), oldRoot, b)), "merkle_root_stale");
    const unknown = encodeMerkleRoot(new Uint8Array(32).fill(7));
    await expectCode(submitAs(t.directory, await buildAddKey(BOB, publicKeyOf(b), unknown, b)), "merkle_root_unknown");
    // A root exactly at the edge of the window is still accepted.
    const n = (await t.directory.log.size());
    const edge = encodeMerkleRoot((await t.directory.log.rootAt(n - freshnessWindow(n))));
    await submitAs(t.directory, await buildAddKey(BOB, publicKeyOf(b), edge, b));
  });

  it("signatures cover the encrypted message; bad keys and tampering are refused", async () => {
    const a = newSecretKey();
    const msg = await buildAddKey(ALICE, publicKeyOf(a), await root(), a);
    await expectCode(submitAs(t.directory, { ...msg, "symmetric-keys": { actor: msg["symmetric-keys"].actor } }), "missing_symmetric_key");
    await expectCode(
      submitAs(t.directory, { ...msg, "symmetric-keys": { ...msg["symmetric-keys"], actor: toB64url(newSecretKey()) } }),
      "attribute_decryption_failed",
    );
    // Re-encrypting the same plaintext changes the ciphertext, which breaks the signature.
    const other = await buildAddKey(ALICE, publicKeyOf(a), await root(), a);
    await expectCode(
      submitAs(t.directory, { ...msg, message: { ...msg.message, actor: other.message.actor }, "symmetric-keys": { ...msg["symmetric-keys"], actor: other["symmetric-keys"].actor } }),
      "invalid_signature",
    );
    expect(mlDsaVerify(fromB64url(msg.signature)!, signaturePayload(msg), publicKeyOf(a))).to.equal(true);
    await expectCode(submitAs(t.directory, { ...msg, action: "Nope" }), "invalid_request");
    await expectCode(submitAs(t.directory, { ...msg, message: { ...msg.message, extra: "x" } }), "invalid_request");
    await expectCode(submitAs(t.directory, { ...msg, message: { ...msg.message, time: "soon" } }), "invalid_request");
    await expectCode(submitAs(t.directory, "hello"), "invalid_request");
    expect((await t.directory.log.size())).to.equal(0);
  });

  it("Fireproof blocks BurnDown, is not idempotent, and UndoFireproof re-enables it", async () => {
    const admin = await addFirstKey(OPERATOR);
    const a = await addFirstKey(ALICE);
    await expectCode(submitAs(t.directory, await buildUndoFireproof(ALICE, await root(), a)), "not_fireproof");
    await submitAs(t.directory, await buildFireproof(ALICE, await root(), a));
    await expectCode(submitAs(t.directory, await buildFireproof(ALICE, await root(), a)), "already_fireproof");
    await expectCode(submitAs(t.directory, await buildBurnDown(ALICE, OPERATOR, await root(), admin)), "fireproof");
    await submitAs(t.directory, await buildUndoFireproof(ALICE, await root(), a));
    // Only configured operators, signing with their own key, may burn down.
    const bob = await addFirstKey(BOB);
    await expectCode(submitAs(t.directory, await buildBurnDown(ALICE, BOB, await root(), bob)), "not_operator");
    await expectCode(submitAs(t.directory, await buildBurnDown(ALICE, OPERATOR, await root(), bob)), "invalid_signature");
    await submitAs(t.directory, await buildAddAuxData(ALICE, "age-v1", "age1xyz", await root(), a));
    await submitAs(t.directory, await buildBurnDown(ALICE, OPERATOR, await root(), admin));
    expect((await t.directory.keys(ALICE))).to.deep.equal([]);
    expect((await t.directory.auxiliary(ALICE))).to.deep.equal([]);
    // After a BurnDown the actor starts over with a self-signed key.
    const fresh = await addFirstKey(ALICE);
    expect((await t.directory.keys(ALICE))[0]["public-key"]).to.equal(encodePublicKey(publicKeyOf(fresh)));
  });

  it("RevokeKeyThirdParty revokes by token; on the last key it is a BurnDown, blocked by Fireproof", async () => {
    const a = await addFirstKey(ALICE);
    const b = newSecretKey();
    await submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(b), await root(), a));
    await t.directory.submitRevocationToken(buildRevocationToken(b));
    expect((await t.directory.keys(ALICE))).to.have.length(1);
    await expectCode(t.directory.submitRevocationToken(buildRevocationToken(b)), "key_not_found");
    const forged = fromB64url(buildRevocationToken(a))!;
    forged[forged.length - 1] ^= 1;
    await expectCode(t.directory.submitRevocationToken(toB64url(forged)), "invalid_signature");

    await submitAs(t.directory, await buildFireproof(ALICE, await root(), a));
    await expectCode(t.directory.submitRevocationToken(buildRevocationToken(a)), "fireproof");
    await submitAs(t.directory, await buildUndoFireproof(ALICE, await root(), a));
    await submitAs(t.directory, await buildAddAuxData(ALICE, "age-v1", "age1abc", await root(), a));
    await t.directory.submitRevocationToken(buildRevocationToken(a));
    expect((await t.directory.keys(ALICE))).to.deep.equal([]);
    expect((await t.directory.auxiliary(ALICE))).to.deep.equal([]);
  });

  it("MoveIdentity moves keys and is refused when the new actor has keys", async () => {
    const a = await addFirstKey(ALICE);
    const bob = await addFirstKey(BOB);
    await expectCode(submitAs(t.directory, await buildMoveIdentity(ALICE, BOB, await root(), a)), "actor_exists");
    await expectCode(submitAs(t.directory, await buildMoveIdentity(ALICE, "https://new.example/alice", await root(), bob)), "invalid_signature");
    await submitAs(t.directory, await buildMoveIdentity(ALICE, "https://new.example/alice", await root(), a));
    await expectCode(() => t.directory.keys(ALICE), "not_found");
    const moved = (await t.directory.keys("https://new.example/alice"));
    expect(moved.map((k) => k["public-key"])).to.deep.equal([encodePublicKey(publicKeyOf(a))]);
    expect(moved[0]["moved-by"]).to.have.length(1);
  });

  it("AddAuxData / RevokeAuxData with aux-id checks", async () => {
    const a = await addFirstKey(ALICE);
    const good = await buildAddAuxData(ALICE, "ssh-v2", "ssh-ed25519 AAAA", await root(), a);
    expect(good.message["aux-id"]).to.equal(auxDataId("ssh-v2", "ssh-ed25519 AAAA"));
    await submitAs(t.directory, good);
    await expectCode(submitAs(t.directory, await buildAddAuxData(ALICE, "ssh-v2", "ssh-ed25519 AAAA", await root(), a)), "duplicate_aux_data");
    const lying = await buildAddAuxData(ALICE, "ssh-v2", "other", await root(), a);
    lying.message["aux-id"] = good.message["aux-id"];
    await expectCode(submitAs(t.directory, lying), "aux_id_mismatch");
    expect((await t.directory.auxiliary(ALICE)).map((x) => x["aux-data"])).to.deep.equal(["ssh-ed25519 AAAA"]);
    await expectCode(submitAs(t.directory, await buildRevokeAuxData(ALICE, "ssh-v2", "nope", await root(), a)), "aux_data_not_found");
    await submitAs(t.directory, await buildRevokeAuxData(ALICE, "ssh-v2", good.message["aux-id"], await root(), a));
    expect((await t.directory.auxiliary(ALICE))).to.deep.equal([]);
  });

  it("Checkpoint messages are accepted only from trusted peers about our own roots", async () => {
    const peer = newSecretKey();
    await t.close();
    t = await makeDirectory({ peers: [encodePublicKey(publicKeyOf(peer))] }, backend);
    await addFirstKey(ALICE);
    const fields = { fromDirectory: "https://peer.test", fromRoot: encodeMerkleRoot(new Uint8Array(32).fill(1)), toDirectory: t.directory.name, toValidatedRoot: await root() };
    await expectCode(submitAs(t.directory, await buildCheckpoint(fields, await root(), newSecretKey())), "untrusted_peer");
    await expectCode(submitAs(t.directory, await buildCheckpoint({ ...fields, toDirectory: "https://x" }, await root(), peer)), "wrong_directory");
    await expectCode(
      submitAs(t.directory, await buildCheckpoint({ ...fields, toValidatedRoot: encodeMerkleRoot(new Uint8Array(32).fill(9)) }, await root(), peer)),
      "merkle_root_unknown",
    );
    const res = await submitAs(t.directory, await buildCheckpoint(fields, await root(), peer));
    expect(res.action).to.equal("Checkpoint");
  });
});
