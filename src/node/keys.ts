import { hkdfSync } from "node:crypto";
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { Wallet, HDNodeWallet, encryptKeystoreJson, getBytes } from "ethers";
import { PublicKey, SecretKey, SecretKeyFactory, Signer } from "../umbral";

/** Everything the agent derives from the operator's one secret. */
export interface NodeKeys {
  operator: Wallet;
  operatorAddress: string;
  /** Umbral key that receives policies' delegations (published on-chain as encryptingKey). */
  encryptingSecret: SecretKey;
  encryptingKey: PublicKey;
  /** Umbral stamp key that signs every response (published on-chain as verifyingKey). */
  stampSecret: SecretKey;
  stampKey: PublicKey;
  stamp: Signer;
  /** AES-256 key for kfrags at rest. */
  atRestKey: Uint8Array;
}

function hkdf(ikm: Uint8Array, info: string, length: number): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", ikm, new TextEncoder().encode("NKMS-NODE-V1"), info, length));
}

/**
 * Derives the node's Umbral keys and at-rest key from the operator's secp256k1 secret, so the
 * operator backs up one secret only. The Umbral keys come from a SecretKeyFactory seeded by
 * HKDF(operator secret) — never the operator key itself, so an Umbral signature can never be
 * replayed as an Ethereum transaction signature and vice versa.
 */
export function deriveNodeKeys(operator: Wallet): NodeKeys {
  const secret = getBytes(operator.privateKey);
  const factory = SecretKeyFactory.fromSecureRandomness(hkdf(secret, "umbral-factory-seed", 32));
  const encryptingSecret = factory.makeKey(new TextEncoder().encode("encrypting"));
  const stampSecret = factory.makeKey(new TextEncoder().encode("stamp"));
  return {
    operator,
    operatorAddress: operator.address,
    encryptingSecret,
    encryptingKey: encryptingSecret.publicKey(),
    stampSecret,
    stampKey: stampSecret.publicKey(),
    stamp: new Signer(stampSecret),
    atRestKey: hkdf(secret, "kfrag-at-rest", 32),
  };
}

/** The lowest scrypt cost (N) a keystore may be written with: 2^15 (ethers' default is 2^17). */
export const MIN_SCRYPT_N = 1 << 15;
/** TEST ONLY: the floor when `unsafeTestMode` is set (tests and the local demo, for speed). */
export const UNSAFE_TEST_MIN_SCRYPT_N = 1 << 10;
/** The shortest keystore password accepted when a keystore is created. */
export const MIN_PASSWORD_LENGTH = 12;

export interface KeystoreOptions {
  /** scrypt cost, a power of two; ethers' default (2^17) when omitted. */
  scryptN?: number;
  /**
   * TEST ONLY: lowers the scrypt floor from MIN_SCRYPT_N to UNSAFE_TEST_MIN_SCRYPT_N. The CLI sets
   * it only from NKMS_UNSAFE_TEST_MODE=1. A keystore this cheap falls to a password guesser.
   */
  unsafeTestMode?: boolean;
}

/** A keystore parameter below the floor; the message is one line naming the limit. */
export class KeystorePolicyError extends Error {
  constructor(
    readonly kind: "scrypt" | "password",
    message: string,
  ) {
    super(message);
    this.name = "KeystorePolicyError";
  }
}

/** Throws KeystorePolicyError unless `n` is a power of two at or above the floor. */
export function checkScryptN(n: number, unsafeTestMode = false): void {
  const floor = unsafeTestMode ? UNSAFE_TEST_MIN_SCRYPT_N : MIN_SCRYPT_N;
  if (!Number.isSafeInteger(n) || n < 2 || (n & (n - 1)) !== 0) throw new KeystorePolicyError("scrypt", `scrypt cost (N) must be a power of two, got ${n}`);
  if (n < floor) throw new KeystorePolicyError("scrypt", `scrypt cost (N) must be at least ${floor}, got ${n}`);
}

/** Throws KeystorePolicyError for a password shorter than MIN_PASSWORD_LENGTH characters. */
export function checkNewPassword(password: string): void {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new KeystorePolicyError("password", `keystore password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
}

/**
 * Writes an Ethereum JSON keystore (v3) for `privateKey` (a new random key when omitted). Refuses
 * (KeystorePolicyError) a password shorter than MIN_PASSWORD_LENGTH or a scrypt cost below the floor.
 */
export async function createKeystore(
  path: string,
  password: string,
  privateKey?: string,
  options: KeystoreOptions = {},
): Promise<string> {
  checkNewPassword(password);
  if (options.scryptN !== undefined) checkScryptN(options.scryptN, options.unsafeTestMode === true);
  const wallet = privateKey ? new Wallet(privateKey) : Wallet.createRandom();
  const json = await encryptKeystoreJson(
    { address: wallet.address, privateKey: wallet.privateKey },
    password,
    options.scryptN !== undefined ? { scrypt: { N: options.scryptN } } : {},
  );
  // Only the keystore's own directory is created here, owner-only like the file.
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, json, { mode: 0o600, flag: "wx" });
  return wallet.address;
}

/** Decrypts the keystore at `path`; throws on a wrong password or a corrupt file. */
export async function loadKeystore(path: string, password: string): Promise<Wallet> {
  const json = await readFile(path, "utf8");
  const wallet = await Wallet.fromEncryptedJson(json, password);
  // fromEncryptedJson returns an HDNodeWallet when the keystore carries a mnemonic; the agent
  // only needs the signing key.
  return wallet instanceof HDNodeWallet ? new Wallet(wallet.privateKey) : wallet;
}

/** Reads a password from the terminal without echo (used when the environment has none). */
export async function promptPassword(question: string): Promise<string> {
  const { stdin, stderr } = process;
  if (!stdin.isTTY) throw new Error("no keystore password: set NKMS_KEYSTORE_PASSWORD or run in a terminal");
  stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding("utf8");
  return new Promise((resolve, reject) => {
    let typed = "";
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off("data", onData);
          stderr.write("\n");
          resolve(typed);
          return;
        }
        if (ch === "\u0003") {
          stdin.setRawMode(false);
          stdin.off("data", onData);
          reject(new Error("interrupted"));
          return;
        }
        if (ch === "\u007f") typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on("data", onData);
  });
}
