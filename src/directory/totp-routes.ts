// `POST api/totp/enroll`, `api/totp/disenroll`, `api/totp/rotate` (PKD spec v0.8, "TOTP" and the
// JSON REST API sections). None of them touches the Merkle log.
//
// A request is `{"!pkd-context": "fedi-e2ee:v1/api/totp/<op>", action: "TOTP-<Op>", "current-time",
// <enrollment|disenrollment|rotation>: {...}, signature}`. Checked cheapest-first, every step
// before the next costs more: shape and context; the RFC 9421 HTTP signature of the instance of
// `actor-id` (so the actor belongs to the instance in scope, which is the TOTP's scope); the time
// window; the request signature by the actor's key `key-id` over
// PAE("!pkd-context", ctx, "action", action, "message", canonical JSON of the object) — the
// construction the spec calls "congruent to protocol signatures", as the reference server builds
// it; only then HPKE decryption of a new secret and the TOTP checks.
//
// Where the v0.8 text is silent we chose: the secret travels as `hpke:` + base64url(enc ‖ ct) of
// the raw 32 bytes, with the protocol messages' suite and aad (the encapsulation key id) and the
// endpoint's `!pkd-context` as HPKE info (as the reference server does), and `current-time` must
// be within 5 minutes of ours. Request signatures are ML-DSA-44, like protocol signatures, under
// the actor's key `key-id` (`verifyActorKeySignature` below).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { CipherSuite, HkdfSha256 } from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { XWing } from "@hpke/hybridkem-x-wing";
import { actorOrigin } from "./actor-keys";
import { canonicalJson, fromB64url, toB64url } from "./encoding";
import { DirectoryError, errorBody } from "./errors";
import type { DirectoryHpkeKey } from "./hpke-wire";
import { mlDsaVerify } from "./mldsa";
import { pae } from "./pae";
import type { DirectoryStore } from "./store/store";
import { TotpStore, matchingStep } from "./totp";
import { encapsulationKeyId } from "./v08/hpke";

export type TotpOperation = "enroll" | "disenroll" | "rotate";

const SPEC: Record<TotpOperation, { context: string; action: string; object: string; fields: readonly string[] }> = {
  enroll: {
    context: "fedi-e2ee:v1/api/totp/enroll",
    action: "TOTP-Enroll",
    object: "enrollment",
    fields: ["actor-id", "key-id", "otp-current", "otp-previous", "totp-secret"],
  },
  disenroll: { context: "fedi-e2ee:v1/api/totp/disenroll", action: "TOTP-Disenroll", object: "disenrollment", fields: ["actor-id", "key-id", "otp"] },
  rotate: {
    context: "fedi-e2ee:v1/api/totp/rotate",
    action: "TOTP-Rotate",
    object: "rotation",
    fields: ["actor-id", "key-id", "new-otp-current", "new-otp-previous", "new-totp-secret", "old-otp"],
  },
};

const TIME_WINDOW_SECONDS = 300;
const X_WING_ENC_SIZE = 1120;
const HPKE_PREFIX = "hpke:";

export function totpRequestPayload(op: TotpOperation, object: Record<string, string>): Uint8Array {
  const s = SPEC[op];
  return pae(["!pkd-context", s.context, "action", s.action, "message", canonicalJson(object)]);
}

const buffer = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const suite = (): CipherSuite => new CipherSuite({ kem: new XWing(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });

/** Client side: seals a TOTP secret to the directory's encapsulation key for `op`. */
export async function sealTotpSecret(op: TotpOperation, secret: Uint8Array, encapsulationKey: Uint8Array): Promise<string> {
  const s = suite();
  const recipientPublicKey = await s.kem.deserializePublicKey(buffer(encapsulationKey));
  const sealed = await s.seal(
    { recipientPublicKey, info: buffer(new TextEncoder().encode(SPEC[op].context)) },
    buffer(secret),
    buffer(encapsulationKeyId(encapsulationKey)),
  );
  return HPKE_PREFIX + Buffer.concat([Buffer.from(sealed.enc), Buffer.from(sealed.ct)]).toString("base64url");
}

/** Opens a sealed secret; undefined for anything that does not decrypt to 32 bytes. */
async function openTotpSecret(op: TotpOperation, wrapped: string, hpke: DirectoryHpkeKey): Promise<Uint8Array | undefined> {
  if (!wrapped.startsWith(HPKE_PREFIX)) return undefined;
  const bytes = fromB64url(wrapped.slice(HPKE_PREFIX.length));
  if (!bytes || bytes.length <= X_WING_ENC_SIZE || bytes.length > X_WING_ENC_SIZE + 64) return undefined;
  try {
    const s = suite();
    const recipientKey = await s.kem.deserializePrivateKey(buffer(hpke.decapsulationKey));
    const pt = new Uint8Array(
      await s.open(
        { recipientKey, enc: buffer(bytes.subarray(0, X_WING_ENC_SIZE)), info: buffer(new TextEncoder().encode(SPEC[op].context)) },
        buffer(bytes.subarray(X_WING_ENC_SIZE)),
        buffer(encapsulationKeyId(hpke.encapsulationKey)),
      ),
    );
    return pt.length === 32 ? pt : undefined;
  } catch {
    return undefined;
  }
}

/** Client side: the signed request body for `op`. `sign` signs the payload with the actor's key. */
export function buildTotpRequest(
  op: TotpOperation,
  object: Record<string, string>,
  sign: (payload: Uint8Array) => Uint8Array,
  now = Math.floor(Date.now() / 1000),
): Record<string, unknown> {
  const s = SPEC[op];
  return {
    "!pkd-context": s.context,
    action: s.action,
    "current-time": String(now),
    [s.object]: object,
    signature: toB64url(sign(totpRequestPayload(op, object))),
  };
}

/** Whether `signature` (ML-DSA-44) over `payload` verifies under the active key `keyId` of `actor`. */
export async function verifyActorKeySignature(
  store: DirectoryStore,
  actor: string,
  keyId: string,
  payload: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const rows = await store.all<{ public_key: Buffer }>("SELECT public_key FROM keys WHERE actor = ? AND key_id = ? AND revoked_leaf IS NULL", [
    actor,
    keyId,
  ]);
  return rows.some((r) => mlDsaVerify(signature, payload, new Uint8Array(r.public_key)));
}

export interface TotpRouteOptions {
  store: DirectoryStore;
  totp: TotpStore;
  hpke: DirectoryHpkeKey;
  /** Verifies the request's RFC 9421 signature by `actor`'s instance (throws DirectoryError). */
  authenticate(req: FastifyRequest, actor: string): Promise<unknown>;
}

/** 406 Not Acceptable: the spec's answer when the new secret and its codes do not match. */
function notAcceptable(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(406).send(errorBody("invalid_otp", message));
}

function ok(op: TotpOperation): Record<string, unknown> {
  return { "!pkd-context": SPEC[op].context, success: true, time: String(Math.floor(Date.now() / 1000)) };
}

/** Both codes valid for `secret`, `current` of the step right after `previous`'s: that step, else undefined. */
function successiveCodes(secret: Uint8Array, current: string, previous: string, now: number): number | undefined {
  const c = matchingStep(secret, current, now);
  const p = matchingStep(secret, previous, now);
  return c !== undefined && p !== undefined && c === p + 1 ? c : undefined;
}

export function registerTotpRoutes(app: FastifyInstance, options: TotpRouteOptions): void {
  /** Shape, HTTP signature, time, request signature: returns the object and the instance in scope. */
  async function authenticated(op: TotpOperation, req: FastifyRequest): Promise<{ o: Record<string, string>; instance: string }> {
    const s = SPEC[op];
    const body = req.body as Record<string, unknown> | null;
    if (typeof body !== "object" || body === null) throw new DirectoryError("invalid_request", "the body must be a JSON object");
    if (body["!pkd-context"] !== s.context) throw new DirectoryError("invalid_request", `!pkd-context must be ${s.context}`);
    if (body.action !== s.action) throw new DirectoryError("invalid_request", `action must be ${s.action}`);
    const o = body[s.object] as Record<string, unknown> | undefined;
    if (typeof o !== "object" || o === null || Array.isArray(o)) throw new DirectoryError("invalid_request", `${s.object} must be an object`);
    for (const f of s.fields) if (typeof o[f] !== "string" || (o[f] as string).length > 4096) throw new DirectoryError("invalid_request", `${s.object}.${f} must be a string`);
    if (Object.keys(o).length !== s.fields.length) throw new DirectoryError("invalid_request", `${s.object} has unexpected fields`);
    if (typeof body.signature !== "string" || typeof body["current-time"] !== "string" || !/^[0-9]{1,12}$/.test(body["current-time"])) {
      throw new DirectoryError("invalid_request", "signature and current-time (Unix seconds) are required");
    }
    const object = o as Record<string, string>;
    const actor = object["actor-id"];
    await options.authenticate(req, actor);
    if (Math.abs(Date.now() / 1000 - Number(body["current-time"])) > TIME_WINDOW_SECONDS) {
      throw new DirectoryError("invalid_request", "current-time is outside the accepted window");
    }
    const signature = fromB64url(body.signature);
    if (!signature || !(await verifyActorKeySignature(options.store, actor, object["key-id"], totpRequestPayload(op, object), signature))) {
      throw new DirectoryError("invalid_signature", "the request is not signed by that key of the actor");
    }
    return { o: object, instance: actorOrigin(actor) };
  }

  app.post("/api/totp/enroll", async (req, reply) => {
    const { o, instance } = await authenticated("enroll", req);
    if (await options.totp.enrolled(instance)) throw new DirectoryError("duplicate_message", "a TOTP secret is already enrolled for this instance");
    const secret = await openTotpSecret("enroll", o["totp-secret"], options.hpke);
    const now = Date.now() / 1000;
    const step = secret && successiveCodes(secret, o["otp-current"], o["otp-previous"], now);
    if (!secret || step === undefined) return notAcceptable(reply, "otp-current and otp-previous must be successive codes of the decrypted secret");
    if (!(await options.totp.enroll(instance, secret, step))) throw new DirectoryError("duplicate_message", "a TOTP secret is already enrolled for this instance");
    return ok("enroll");
  });

  app.post("/api/totp/disenroll", async (req) => {
    const { o, instance } = await authenticated("disenroll", req);
    // Spec: with no secret enrolled the OTP is ignored and the answer is success.
    const result = await options.totp.check(instance, o.otp);
    if (result === "rejected") throw new DirectoryError("invalid_otp", "otp is not a valid, unused one-time password for this instance");
    if (result === "accepted") await options.totp.disenroll(instance);
    return ok("disenroll");
  });

  app.post("/api/totp/rotate", async (req, reply) => {
    const { o, instance } = await authenticated("rotate", req);
    if (!(await options.totp.enrolled(instance))) throw new DirectoryError("invalid_request", "no TOTP secret is enrolled for this instance");
    const secret = await openTotpSecret("rotate", o["new-totp-secret"], options.hpke);
    const now = Date.now() / 1000;
    const step = secret && successiveCodes(secret, o["new-otp-current"], o["new-otp-previous"], now);
    if (!secret || step === undefined) return notAcceptable(reply, "new-otp-current and new-otp-previous must be successive codes of the decrypted secret");
    // The old code is spent only for a request that is otherwise acceptable.
    const result = await options.totp.check(instance, o["old-otp"]);
    if (result !== "accepted") throw new DirectoryError("invalid_otp", "old-otp is not a valid, unused one-time password for this instance");
    await options.totp.replace(instance, secret, step);
    return ok("rotate");
  });
}
