// Signed notes against known answers from Go's golang.org/x/mod/sumdb/note tests and the C2SP
// signed-note example (test/directory/vectors/sumdb-note.json names the sources).
import { expect } from "chai";
import vectors from "./vectors/sumdb-note.json";
import { NoteError, ed25519NoteSigner, noteKeyId, openNote, parseNote, parseVerifierKey, signNote } from "../../src/directory/signed-note";

/** Go's private key encoding: PRIVATE+KEY+<name>+<hex id>+base64(0x01 ‖ seed). */
function goSignerSeed(skey: string): { name: string; seed: Uint8Array } {
  const parts = skey.split("+");
  // The base64 key may itself contain "+".
  const raw = new Uint8Array(Buffer.from(parts.slice(4).join("+"), "base64"));
  expect(raw[0]).to.equal(1);
  return { name: parts[2], seed: raw.subarray(1) };
}

describe("directory: C2SP signed notes (Ed25519)", () => {
  it("derives Go's key ID and verifier key from its signer key", () => {
    const { name, seed } = goSignerSeed(vectors.signerKey);
    const signer = ed25519NoteSigner(name, seed);
    expect(signer.keyId.toString(16).padStart(8, "0")).to.equal(vectors.keyId);
    expect(signer.verifierKey).to.equal(vectors.verifierKey);
    expect(noteKeyId(name, 0x01, signer.publicKey)).to.equal(0xc74f20a3);
  });

  it("signs Go's note byte for byte", () => {
    const { name, seed } = goSignerSeed(vectors.signerKey);
    expect(signNote(vectors.text, [ed25519NoteSigner(name, seed)])).to.equal(vectors.signedNote);
  });

  it("opens Go's note, ignoring signatures by unknown keys", () => {
    const peter = parseVerifierKey(vectors.verifierKey);
    const enoch = parseVerifierKey(vectors.otherVerifierKey);
    const both = vectors.signedNote + vectors.otherSignatureLine;
    expect(openNote(both, [peter]).verifiedBy).to.deep.equal(["PeterNeumann"]);
    expect(openNote(both, [peter, enoch]).verifiedBy).to.deep.equal(["PeterNeumann", "EnochRoot"]);
    expect(openNote(both, [enoch]).text).to.equal(vectors.text);
    expect(parseNote(both).signatures.map((s) => s.keyId)).to.deep.equal([0xc74f20a3, 0xaf0cfe78]);
  });

  it("verifies the C2SP signed-note example", () => {
    const v = parseVerifierKey(vectors.c2spExample.verifierKey);
    expect(openNote(vectors.c2spExample.signedNote, [v]).text).to.equal("This is an example message.\n");
  });

  it("rejects tampered notes, wrong keys and malformed verifier keys", () => {
    const peter = parseVerifierKey(vectors.verifierKey);
    const enoch = parseVerifierKey(vectors.otherVerifierKey);
    expect(() => openNote(vectors.signedNote.replace("cryptography", "Cryptography"), [peter])).to.throw(NoteError);
    expect(() => openNote(vectors.signedNote, [enoch])).to.throw(NoteError, "no signature by a known key");
    expect(() => parseVerifierKey(vectors.verifierKey.replace("c74f20a3", "c74f20a4"))).to.throw(NoteError);
    expect(() => parseVerifierKey("PeterNeumann+c74f20a3")).to.throw(NoteError);
    expect(() => parseNote("text\n")).to.throw(NoteError);
    expect(() => signNote("no final newline", [ed25519NoteSigner("x", new Uint8Array(32))])).to.throw(NoteError);
    expect(() => ed25519NoteSigner("has space", new Uint8Array(32))).to.throw(NoteError);
    expect(() => ed25519NoteSigner("has+plus", new Uint8Array(32))).to.throw(NoteError);
  });
});
