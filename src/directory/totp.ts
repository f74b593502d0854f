// TOTP (RFC 6238 over RFC 4226 HOTP) for BurnDown, as the PKD spec v0.8 configures it: HMAC-SHA-512,
// 8 digits, 30-second steps from the Unix epoch, the current and two previous steps accepted, and
// every code accepted at most once. No TOTP library is installed, so this is a small wrapper
// around @noble/hashes' HMAC.
//
// Secrets are per Fediverse instance (the origin of the operator's actor ID). One-time use is
// enforced in the database: an instance's last accepted time step only moves forward, by a
// conditional UPDATE, so a code (or any older one) cannot be replayed, even across server
// processes sharing a PostgreSQL database.
import { timingSafeEqual } from "node:crypto";
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { actorOrigin } from "./actor-keys";
import { fromB64url, toB64url } from "./encoding";
import { DirectoryError } from "./errors";
import { sideTable, type DirectoryStore } from "./store/store";

export type TotpHash = "sha1" | "sha256" | "sha512";

export interface TotpParams {
  hash: TotpHash;
  digits: number;
  /** Time step X in seconds. */
  step: number;
  /** Previous steps accepted besides the current one. */
  previous: number;
}

/** The specification's "TOTP Configuration". */
export const PKD_TOTP: TotpParams = { hash: "sha512", digits: 8, step: 30, previous: 2 };

const HASHES = { sha1, sha256, sha512 } as const;

/** RFC 4226 HOTP: dynamic truncation of HMAC(secret, 8-byte big-endian counter), `digits` decimal digits. */
export function hotp(secret: Uint8Array, counter: number, digits: number, hash: TotpHash): string {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`counter ${counter}`);
  if (!Number.isInteger(digits) || digits < 6 || digits > 10) throw new RangeError(`digits ${digits}`);
  const msg = new Uint8Array(8);
  new DataView(msg.buffer).setBigUint64(0, BigInt(counter), false);
  const mac = hmac(HASHES[hash], secret, msg);
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/** RFC 6238 time step of `unixSeconds` (T0 = 0). */
export function timeStep(unixSeconds: number, step: number = PKD_TOTP.step): number {
  return Math.floor(unixSeconds / step);
}

export function totp(secret: Uint8Array, unixSeconds: number, params: TotpParams = PKD_TOTP): string {
  return hotp(secret, timeStep(unixSeconds, params.step), params.digits, params.hash);
}

/**
 * The time step `code` belongs to among the accepted ones (now, now-1, … now-previous), newest
 * first, or undefined. Every candidate is computed and compared in constant time.
 */
export function matchingStep(secret: Uint8Array, code: string, unixSeconds: number, params: TotpParams = PKD_TOTP): number | undefined {
  if (typeof code !== "string" || code.length !== params.digits || !/^[0-9]+$/.test(code)) return undefined;
  const now = timeStep(unixSeconds, params.step);
  let found: number | undefined;
  for (let k = 0; k <= params.previous; k++) {
    const counter = now - k;
    if (counter < 0) continue;
    const same = timingSafeEqual(Buffer.from(hotp(secret, counter, params.digits, params.hash)), Buffer.from(code));
    if (same && found === undefined) found = counter;
  }
  return found;
}

/** RFC 4648 §6 base32 (what authenticator apps take), unpadded. */
export function base32(bytes: Uint8Array): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS totp_secrets (
  instance TEXT PRIMARY KEY, secret TEXT NOT NULL, last_step BIGINT NOT NULL, enrolled TEXT NOT NULL)`;

export type TotpCheck = "not_enrolled" | "accepted" | "rejected";

/** Enrolled instance secrets and their one-time-use state (own table; both backends' dialects). */
export class TotpStore {
  private readonly table: { ensure(): Promise<void> };
  constructor(
    private readonly store: DirectoryStore,
    private readonly params: TotpParams = PKD_TOTP,
  ) {
    this.table = sideTable(store, SCHEMA);
  }

  private schema(): Promise<void> {
    return this.table.ensure();
  }

  /**
   * Enrolls a 256-bit secret for `instance` (an origin); false if one is already enrolled.
   * `usedStep`: the last time step already spent (the enrollment's own codes), -1 for none.
   */
  async enroll(instance: string, secret: Uint8Array, usedStep = -1): Promise<boolean> {
    if (secret.length !== 32) throw new RangeError("TOTP secrets are 256 bits");
    await this.schema();
    const n = await this.store.write((tx) =>
      tx.run("INSERT INTO totp_secrets (instance, secret, last_step, enrolled) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", [
        instance,
        toB64url(secret),
        usedStep,
        new Date().toISOString(),
      ]),
    );
    return n > 0;
  }

  /** Rotation: replaces an enrolled secret (false if none is enrolled). */
  async replace(instance: string, secret: Uint8Array, usedStep: number): Promise<boolean> {
    if (secret.length !== 32) throw new RangeError("TOTP secrets are 256 bits");
    await this.schema();
    const n = await this.store.write((tx) =>
      tx.run("UPDATE totp_secrets SET secret = ?, last_step = ?, enrolled = ? WHERE instance = ?", [
        toB64url(secret),
        usedStep,
        new Date().toISOString(),
        instance,
      ]),
    );
    return n > 0;
  }

  /** Removes `instance`'s secret; false if none was enrolled. */
  async disenroll(instance: string): Promise<boolean> {
    await this.schema();
    return (await this.store.write((tx) => tx.run("DELETE FROM totp_secrets WHERE instance = ?", [instance]))) > 0;
  }

  async enrolled(instance: string): Promise<boolean> {
    await this.schema();
    return (await this.store.get("SELECT 1 AS x FROM totp_secrets WHERE instance = ?", [instance])) !== undefined;
  }

  /**
   * Checks `code` for `instance` and, if it matches an accepted step newer than the last one
   * used, consumes that step (and every older one) atomically.
   */
  async check(instance: string, code: unknown, unixSeconds: number = Date.now() / 1000): Promise<TotpCheck> {
    await this.schema();
    const row = await this.store.get<{ secret: string }>("SELECT secret FROM totp_secrets WHERE instance = ?", [instance]);
    if (!row) return "not_enrolled";
    const secret = fromB64url(row.secret);
    if (!secret || typeof code !== "string") return "rejected";
    const step = matchingStep(secret, code, unixSeconds, this.params);
    if (step === undefined) return "rejected";
    const n = await this.store.write((tx) =>
      tx.run("UPDATE totp_secrets SET last_step = ? WHERE instance = ? AND last_step < ?", [step, instance, step]),
    );
    return n > 0 ? "accepted" : "rejected";
  }
}

/**
 * BurnDown validation step 5: if the operator's instance enrolled a TOTP secret, the message's
 * `otp` must be a fresh, unused code (403 `invalid_otp` otherwise, which the server's back-off
 * charges to the client's address and to the instance). Run after the HTTP signature verified
 * and before any expensive validation.
 */
export async function requireTotp(totp: TotpStore, operatorActor: string, otp: unknown, unixSeconds?: number): Promise<void> {
  const result = await totp.check(actorOrigin(operatorActor), otp, unixSeconds);
  if (result === "rejected") throw new DirectoryError("invalid_otp", "otp is not a valid, unused one-time password for this instance");
}
