/**
 * A user's identity: one Ethereum key in an encrypted JSON keystore (the same format and functions
 * the node agent uses) from which every other key is derived, so a user backs up one secret.
 *
 *   seed            = HKDF-SHA256(wallet secret, salt "NKMS-USER-V1", info "umbral-factory-seed")
 *   encrypting key  = SecretKeyFactory(seed).makeKey("encrypting")   Bob's receiving key
 *   signing key     = SecretKeyFactory(seed).makeKey("signing")      Alice's kfrag signer, Bob's request signer
 *   label key(L)    = SecretKeyFactory(seed).makeFactory("labels").makeKey(L)   per-label delegating key
 *   directory key   = ML-DSA-44 key of seed HKDF-SHA256(wallet secret, salt "NKMS-USER-V1", info "directory-ml-dsa-44")
 *
 * The wallet secret itself never signs anything Umbral, so no signature can be replayed across
 * the two systems. Per-label delegating keys let Enrico encrypt to a label's public key without
 * any secret, and let Alice share one label without exposing the others.
 */
import { hkdfSync } from "node:crypto";
import { Wallet, getBytes } from "ethers";
import { PublicKey, SecretKey, SecretKeyFactory, Signer } from "../umbral";
import { createKeystore, loadKeystore, type KeystoreOptions } from "../node/keys";
import { ClientError } from "./errors";

const SALT = new TextEncoder().encode("NKMS-USER-V1");
const utf8 = (s: string) => new TextEncoder().encode(s);

function hkdf(ikm: Uint8Array, info: string, length: number): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", ikm, SALT, info, length));
}

/** The public half of a user's keys: what a reader hands an owner (or publishes in the directory). */
export interface ReaderKeys {
  /** Umbral key cfrags are re-encrypted to (33-byte compressed, 0x-hex). */
  encryptingKey: string;
  /** Umbral key that signs the reader's re-encryption requests (33-byte compressed, 0x-hex). */
  verifyingKey: string;
}

export class UserKeys {
  readonly address: string;
  readonly encryptingSecret: SecretKey;
  readonly encryptingKey: PublicKey;
  readonly signer: Signer;
  readonly verifyingKey: PublicKey;
  /** 32-byte ML-DSA-44 seed of the user's key in the key directory. */
  readonly directorySecret: Uint8Array;
  private readonly labels: SecretKeyFactory;

  constructor(readonly wallet: Wallet) {
    const secret = getBytes(wallet.privateKey);
    const factory = SecretKeyFactory.fromSecureRandomness(hkdf(secret, "umbral-factory-seed", 32));
    this.address = wallet.address;
    this.encryptingSecret = factory.makeKey(utf8("encrypting"));
    this.encryptingKey = this.encryptingSecret.publicKey();
    this.signer = new Signer(factory.makeKey(utf8("signing")));
    this.verifyingKey = this.signer.verifyingKey();
    this.labels = factory.makeFactory(utf8("labels"));
    this.directorySecret = hkdf(secret, "directory-ml-dsa-44", 32);
  }

  /** The delegating secret key of `label` (Alice's side only). */
  labelSecret(label: string): SecretKey {
    if (label.length === 0) throw new ClientError("BAD_INPUT", "label must not be empty");
    return this.labels.makeKey(utf8(label));
  }

  /** The public key data for `label` is encrypted to (give it to Enrico). */
  labelPublicKey(label: string): PublicKey {
    return this.labelSecret(label).publicKey();
  }

  readerKeys(): ReaderKeys {
    return { encryptingKey: hex(this.encryptingKey.toCompressedBytes()), verifyingKey: hex(this.verifyingKey.toCompressedBytes()) };
  }
}

export function hex(bytes: Uint8Array): string {
  return "0x" + Buffer.from(bytes).toString("hex");
}

export function deriveUserKeys(wallet: Wallet): UserKeys {
  return new UserKeys(wallet);
}

/** Creates a new encrypted keystore at `path` (a random key unless `privateKey`); returns the address. */
export async function createUserKeystore(path: string, password: string, privateKey?: string, options: KeystoreOptions = {}): Promise<string> {
  try {
    return await createKeystore(path, password, privateKey, options);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "EEXIST") throw new ClientError("KEYSTORE", `keystore ${path} already exists`);
    throw new ClientError("KEYSTORE", `cannot create keystore ${path}: ${err.message}`);
  }
}

export async function loadUserKeys(path: string, password: string): Promise<UserKeys> {
  try {
    return new UserKeys(await loadKeystore(path, password));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") throw new ClientError("KEYSTORE", `no keystore at ${path}`);
    throw new ClientError("KEYSTORE", `cannot unlock keystore ${path}: ${err.message}`);
  }
}

/** Parses a reader's public keys, checking both are curve points. */
export function parseReaderKeys(value: unknown): ReaderKeys {
  const obj = value as Partial<ReaderKeys> | null;
  const check = (name: keyof ReaderKeys): string => {
    const v = obj?.[name];
    if (typeof v !== "string" || !/^0x[0-9a-fA-F]{66}$/.test(v)) throw new ClientError("BAD_INPUT", `reader ${name} must be 33 bytes of 0x-hex`);
    try {
      PublicKey.fromCompressedBytes(getBytes(v));
    } catch {
      throw new ClientError("BAD_INPUT", `reader ${name} is not a valid public key`);
    }
    return v.toLowerCase();
  };
  return { encryptingKey: check("encryptingKey"), verifyingKey: check("verifyingKey") };
}
