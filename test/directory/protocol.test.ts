import { expect } from "chai";
import { ed25519 } from "@noble/curves/ed25519.js";
import { freshnessWindow } from "../../src/directory/directory";
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
import { expectCode, makeDirectory, newSecretKey, submitAs, TestDirectory } from "./helpers";

const ALICE = "https://social.example/users/alice";
const BOB = "https://social.example/users/bob";
const OPERATOR = "https://social.example/users/admin";

describe("directory: protocol rules", function () {
  let t: TestDirectory;
  const root = (): string => t.directory.currentRoot();
  beforeEach(() => {
    t = makeDirectory({ operators: [OPERATOR] });
  });
  afterEach(() => t.close());

  async function addFirstKey(actor: string): Promise<Uint8Array> {
    const sk = newSecretKey();
    await submitAs(t.directory, await buildAddKey(actor, publicKeyOf(sk), root(), sk));
    return sk;
  }

  it("freshness window is ⌈2·log2(N)²⌉", () => {
    expect(freshnessWindow(0)).to.equal(0);
    expect(freshnessWindow(1)).to.equal(0);
    expect(freshnessWindow(2)).to.equal(2);
    expect(freshnessWindow(1024)).to.equal(200);
    expect(freshnessWindow(1000)).to.equal(Math.ceil(2 * Math.log2(1000) ** 2));
  });

  it("first AddKey must be self-signed; later ones signed by an existing key", async () => {
    const first = newSecretKey();
    const stranger = newSecretKey();
    await expectCode(submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(first), root(), stranger)), "invalid_signature");
    expect(t.directory.log.size).to.equal(0);
    const res = await submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(first), root(), first));
    expect(res["leaf-index"]).to.equal(0);

    const second = newSecretKey();
    // A new key cannot vouch for itself once the actor has keys.
    await expectCode(submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(second), root(), second)), "invalid_signature");
    await submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(second), root(), first));
    expect(t.directory.keys(ALICE).map((k) => k["public-key"])).to.deep.equal([
      encodePublicKey(publicKeyOf(first)),
      encodePublicKey(publicKeyOf(second)),
    ]);
    await expectCode(submitAs(t.directory, await buildAddKey(BOB, publicKeyOf(second), root(), second)), "key_in_use");
  });

  it("RevokeKey: the last key stays, a key cannot revoke itself, another key can", async () => {
    const a = await addFirstKey(ALICE);
    await expectCode(submitAs(t.directory, await buildRevokeKey(ALICE, publicKeyOf(a), root(), a)), "last_key");
    const b = newSecretKey();
    await submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(b), root(), a));
    await expectCode(submitAs(t.directory, await buildRevokeKey(ALICE, publicKeyOf(b), root(), b)), "self_revocation");
    await expectCode(submitAs(t.directory, await buildRevokeKey(ALICE, publicKeyOf(newSecretKey()), root(), a)), "key_not_found");
    await submitAs(t.directory, await buildRevokeKey(ALICE, publicKeyOf(b), root(), a));
    expect(t.directory.keys(ALICE)).to.have.length(1);
    expect(t.directory.actorInfo(ALICE)["active-keys"]).to.equal(1);
  });

  it("rejects duplicates and stale or unknown recent Merkle roots", async () => {
    const a = newSecretKey();
    const msg = await buildAddKey(ALICE, publicKeyOf(a), root(), a);
    await submitAs(t.directory, msg);
    await expectCode(submitAs(t.directory, msg), "duplicate_message");

    const oldRoot = root();
    // Grow the log past the window of the old root (raw leaves keep the test fast).
    for (let i = 0; t.directory.log.size - 1 <= freshnessWindow(t.directory.log.size); i++) {
      t.directory.log.append(new TextEncoder().encode(`padding ${i}`));
    }
    const b = newSecretKey();
    await expectCode(submitAs(t.directory, await buildAddKey(BOB, publicKeyOf(b), oldRoot, b)), "merkle_root_stale");
    const unknown = encodeMerkleRoot(new Uint8Array(32).fill(7));
    await expectCode(submitAs(t.directory, await buildAddKey(BOB, publicKeyOf(b), unknown, b)), "merkle_root_unknown");
    // A root exactly at the edge of the window is still accepted.
    const n = t.directory.log.size;
    const edge = encodeMerkleRoot(t.directory.log.rootAt(n - freshnessWindow(n)));
    await submitAs(t.directory, await buildAddKey(BOB, publicKeyOf(b), edge, b));
  });

  it("signatures cover the encrypted message; bad keys and tampering are refused", async () => {
    const a = newSecretKey();
    const msg = await buildAddKey(ALICE, publicKeyOf(a), root(), a);
    await expectCode(submitAs(t.directory, { ...msg, "symmetric-keys": { actor: msg["symmetric-keys"].actor } }), "missing_symmetric_key");
    await expectCode(
      submitAs(t.directory, { ...msg, "symmetric-keys": { ...msg["symmetric-keys"], actor: toB64url(newSecretKey()) } }),
      "attribute_decryption_failed",
    );
    // Re-encrypting the same plaintext changes the ciphertext, which breaks the signature.
    const other = await buildAddKey(ALICE, publicKeyOf(a), root(), a);
    await expectCode(
      submitAs(t.directory, { ...msg, message: { ...msg.message, actor: other.message.actor }, "symmetric-keys": { ...msg["symmetric-keys"], actor: other["symmetric-keys"].actor } }),
      "invalid_signature",
    );
    expect(ed25519.verify(fromB64url(msg.signature)!, signaturePayload(msg), publicKeyOf(a))).to.equal(true);
    await expectCode(submitAs(t.directory, { ...msg, action: "Nope" }), "invalid_message");
    await expectCode(submitAs(t.directory, { ...msg, message: { ...msg.message, extra: "x" } }), "invalid_message");
    await expectCode(submitAs(t.directory, { ...msg, message: { ...msg.message, time: "soon" } }), "invalid_message");
    await expectCode(submitAs(t.directory, "hello"), "invalid_message");
    expect(t.directory.log.size).to.equal(0);
  });

  it("Fireproof blocks BurnDown, is not idempotent, and UndoFireproof re-enables it", async () => {
    const admin = await addFirstKey(OPERATOR);
    const a = await addFirstKey(ALICE);
    await expectCode(submitAs(t.directory, await buildUndoFireproof(ALICE, root(), a)), "not_fireproof");
    await submitAs(t.directory, await buildFireproof(ALICE, root(), a));
    await expectCode(submitAs(t.directory, await buildFireproof(ALICE, root(), a)), "already_fireproof");
    await expectCode(submitAs(t.directory, await buildBurnDown(ALICE, OPERATOR, root(), admin)), "fireproof");
    await submitAs(t.directory, await buildUndoFireproof(ALICE, root(), a));
    // Only configured operators, signing with their own key, may burn down.
    const bob = await addFirstKey(BOB);
    await expectCode(submitAs(t.directory, await buildBurnDown(ALICE, BOB, root(), bob)), "not_operator");
    await expectCode(submitAs(t.directory, await buildBurnDown(ALICE, OPERATOR, root(), bob)), "invalid_signature");
    await submitAs(t.directory, await buildAddAuxData(ALICE, "age-v1", "age1xyz", root(), a));
    await submitAs(t.directory, await buildBurnDown(ALICE, OPERATOR, root(), admin));
    expect(t.directory.keys(ALICE)).to.deep.equal([]);
    expect(t.directory.auxiliary(ALICE)).to.deep.equal([]);
    // After a BurnDown the actor starts over with a self-signed key.
    const fresh = await addFirstKey(ALICE);
    expect(t.directory.keys(ALICE)[0]["public-key"]).to.equal(encodePublicKey(publicKeyOf(fresh)));
  });

  it("RevokeKeyThirdParty revokes by token; on the last key it is a BurnDown, blocked by Fireproof", async () => {
    const a = await addFirstKey(ALICE);
    const b = newSecretKey();
    await submitAs(t.directory, await buildAddKey(ALICE, publicKeyOf(b), root(), a));
    await t.directory.submitRevocationToken(buildRevocationToken(b));
    expect(t.directory.keys(ALICE)).to.have.length(1);
    await expectCode(t.directory.submitRevocationToken(buildRevocationToken(b)), "key_not_found");
    const forged = fromB64url(buildRevocationToken(a))!;
    forged[forged.length - 1] ^= 1;
    await expectCode(t.directory.submitRevocationToken(toB64url(forged)), "invalid_signature");

    await submitAs(t.directory, await buildFireproof(ALICE, root(), a));
    await expectCode(t.directory.submitRevocationToken(buildRevocationToken(a)), "fireproof");
    await submitAs(t.directory, await buildUndoFireproof(ALICE, root(), a));
    await submitAs(t.directory, await buildAddAuxData(ALICE, "age-v1", "age1abc", root(), a));
    await t.directory.submitRevocationToken(buildRevocationToken(a));
    expect(t.directory.keys(ALICE)).to.deep.equal([]);
    expect(t.directory.auxiliary(ALICE)).to.deep.equal([]);
  });

  it("MoveIdentity moves keys and is refused when the new actor has keys", async () => {
    const a = await addFirstKey(ALICE);
    const bob = await addFirstKey(BOB);
    await expectCode(submitAs(t.directory, await buildMoveIdentity(ALICE, BOB, root(), a)), "actor_exists");
    await expectCode(submitAs(t.directory, await buildMoveIdentity(ALICE, "https://new.example/alice", root(), bob)), "invalid_signature");
    await submitAs(t.directory, await buildMoveIdentity(ALICE, "https://new.example/alice", root(), a));
    await expectCode(() => t.directory.keys(ALICE), "actor_not_found");
    const moved = t.directory.keys("https://new.example/alice");
    expect(moved.map((k) => k["public-key"])).to.deep.equal([encodePublicKey(publicKeyOf(a))]);
    expect(moved[0]["moved-by"]).to.have.length(1);
  });

  it("AddAuxData / RevokeAuxData with aux-id checks", async () => {
    const a = await addFirstKey(ALICE);
    const good = await buildAddAuxData(ALICE, "ssh-v2", "ssh-ed25519 AAAA", root(), a);
    expect(good.message["aux-id"]).to.equal(auxDataId("ssh-v2", "ssh-ed25519 AAAA"));
    await submitAs(t.directory, good);
    await expectCode(submitAs(t.directory, await buildAddAuxData(ALICE, "ssh-v2", "ssh-ed25519 AAAA", root(), a)), "duplicate_aux_data");
    const lying = await buildAddAuxData(ALICE, "ssh-v2", "other", root(), a);
    lying.message["aux-id"] = good.message["aux-id"];
    await expectCode(submitAs(t.directory, lying), "aux_id_mismatch");
    expect(t.directory.auxiliary(ALICE).map((x) => x["aux-data"])).to.deep.equal(["ssh-ed25519 AAAA"]);
    await expectCode(submitAs(t.directory, await buildRevokeAuxData(ALICE, "ssh-v2", "nope", root(), a)), "aux_data_not_found");
    await submitAs(t.directory, await buildRevokeAuxData(ALICE, "ssh-v2", good.message["aux-id"], root(), a));
    expect(t.directory.auxiliary(ALICE)).to.deep.equal([]);
  });

  it("Checkpoint messages are accepted only from trusted peers about our own roots", async () => {
    const peer = newSecretKey();
    t.close();
    t = makeDirectory({ peers: [encodePublicKey(publicKeyOf(peer))] });
    await addFirstKey(ALICE);
    const fields = { fromDirectory: "https://peer.test", fromRoot: encodeMerkleRoot(new Uint8Array(32).fill(1)), toDirectory: t.directory.name, toValidatedRoot: root() };
    await expectCode(submitAs(t.directory, await buildCheckpoint(fields, root(), newSecretKey())), "untrusted_peer");
    await expectCode(submitAs(t.directory, await buildCheckpoint({ ...fields, toDirectory: "https://x" }, root(), peer)), "wrong_directory");
    await expectCode(
      submitAs(t.directory, await buildCheckpoint({ ...fields, toValidatedRoot: encodeMerkleRoot(new Uint8Array(32).fill(9)) }, root(), peer)),
      "merkle_root_unknown",
    );
    const res = await submitAs(t.directory, await buildCheckpoint(fields, root(), peer));
    expect(res.action).to.equal("Checkpoint");
  });
});
