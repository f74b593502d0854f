// C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures (signature type 0x01):
//
//   <text ending in "\n">
//   <blank line>
//   — <key name> base64(key ID ‖ signature)
//
// key ID = SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4]. Verifier keys are
// `<name>+<hex key ID>+base64(0x01 ‖ public key)`. Only Ed25519 is implemented: ML-DSA has no
// signed-note signature type for plain notes (0x06 is the timestamped cosignature format), and
// the public witness network requires an Ed25519 log signature on checkpoints.
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes } from "@noble/hashes/utils.js";

export const ED25519_NOTE_ALG = 0x01;
const EM_DASH = "\u2014";
const utf8 = new TextEncoder();

export class NoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoteError";
  }
}

/** Key names are non-empty and contain no Unicode space and no '+'. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u.test(name);
}

/** SHA-256(name ‖ 0x0A ‖ alg ‖ public key)[:4] as a uint32. */
export function noteKeyId(name: string, alg: number, publicKey: Uint8Array): number {
  const h = sha256(concatBytes(utf8.encode(name), Uint8Array.of(0x0a, alg), publicKey));
  return new DataView(h.buffer, h.byteOffset, 4).getUint32(0, false);
}

const hex8 = (id: number): string => id.toString(16).padStart(8, "0");

export interface NoteVerifier {
  name: string;
  keyId: number;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSigner {
  name: string;
  keyId: number;
  publicKey: Uint8Array;
  /** `<name>+<hex id>+base64(0x01 ‖ public key)`. */
  verifierKey: string;
  sign(text: Uint8Array): Uint8Array;
}

/** An Ed25519 note signer from a 32-byte RFC 8032 secret key (seed). */
export function ed25519NoteSigner(name: string, seed: Uint8Array): NoteSigner {
  if (!isValidKeyName(name)) throw new NoteError(`invalid key name ${JSON.stringify(name)}`);
  if (seed.length !== 32) throw new NoteError("an Ed25519 secret key is 32 bytes");
  const publicKey = ed25519.getPublicKey(seed);
  const keyId = noteKeyId(name, ED25519_NOTE_ALG, publicKey);
  return {
    name,
    keyId,
    publicKey,
    verifierKey: `${name}+${hex8(keyId)}+${Buffer.from(concatBytes(Uint8Array.of(ED25519_NOTE_ALG), publicKey)).toString("base64")}`,
    sign: (text) => ed25519.sign(text, seed),
  };
}

/** Parses a verifier key (Ed25519 only), checking that its key ID matches its name and key. */
export function parseVerifierKey(vkey: string): NoteVerifier & { publicKey: Uint8Array } {
  // Name and ID contain no '+', the base64 key may.
  const parts = vkey.split("+");
  if (parts.length < 3) throw new NoteError("a verifier key is name+id+key");
  const [name, idHex] = parts;
  const keyB64 = parts.slice(2).join("+");
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex)) throw new NoteError("malformed verifier key");
  const raw = strictBase64(keyB64);
  if (!raw || raw.length !== 33 || raw[0] !== ED25519_NOTE_ALG) throw new NoteError("not an Ed25519 verifier key");
  const publicKey = raw.subarray(1);
  const keyId = noteKeyId(name, ED25519_NOTE_ALG, publicKey);
  if (hex8(keyId) !== idHex) throw new NoteError("verifier key ID does not match the key");
  return {
    name,
    keyId,
    publicKey,
    verify: (text, sig) => {
      if (sig.length !== 64) return false;
      try {
        return ed25519.verify(sig, text, publicKey);
      } catch {
        return false;
      }
    },
  };
}

/** Standard base64 that must round-trip exactly (no whitespace, correct padding). */
function strictBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = new Uint8Array(Buffer.from(text, "base64"));
  return Buffer.from(bytes).toString("base64") === text ? bytes : undefined;
}

function checkText(text: string): void {
  if (!text.endsWith("\n")) throw new NoteError("note text must end in a newline");
  // No ASCII control characters other than newline.
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new NoteError("note text contains control characters");
}

/** The signature line of `signer` over `text`. */
export function signatureLine(signer: NoteSigner, text: string): string {
  checkText(text);
  const id = new Uint8Array(4);
  new DataView(id.buffer).setUint32(0, signer.keyId, false);
  const sig = concatBytes(id, signer.sign(utf8.encode(text)));
  return `${EM_DASH} ${signer.name} ${Buffer.from(sig).toString("base64")}\n`;
}

/** text ‖ "\n" ‖ one signature line per signer. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (signers.length === 0) throw new NoteError("a note needs at least one signature");
  return text + "\n" + signers.map((s) => signatureLine(s, text)).join("");
}

export interface NoteSignature {
  name: string;
  keyId: number;
  /** The signature without its 4-byte key ID. */
  signature: Uint8Array;
}

/** Splits a signed note into text and signatures (no verification). */
export function parseNote(note: string, maxSignatures = 100): { text: string; signatures: NoteSignature[] } {
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw new NoteError("note contains control characters");
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new NoteError("note has no signature block");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  if (lines.length > maxSignatures) throw new NoteError("too many signatures");
  const signatures = lines.map((line) => {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!m || !isValidKeyName(m[1])) throw new NoteError("malformed signature line");
    const raw = strictBase64(m[2]);
    if (!raw || raw.length < 5) throw new NoteError("malformed signature");
    return { name: m[1], keyId: new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, false), signature: raw.subarray(4) };
  });
  return { text, signatures };
}

/**
 * Opens a note: signatures by unknown keys are ignored, a known key's bad signature rejects the
 * note, and at least one known key must have signed. Returns the text and who verified.
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): { text: string; verifiedBy: string[] } {
  const { text, signatures } = parseNote(note);
  const bytes = utf8.encode(text);
  const verifiedBy: string[] = [];
  for (const s of signatures) {
    const v = verifiers.find((k) => k.name === s.name && k.keyId === s.keyId);
    if (!v) continue;
    if (!v.verify(bytes, s.signature)) throw new NoteError(`signature by ${s.name} does not verify`);
    verifiedBy.push(s.name);
  }
  if (verifiedBy.length === 0) throw new NoteError("no signature by a known key");
  return { text, verifiedBy };
}
