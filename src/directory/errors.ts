// Typed directory errors; the HTTP layer turns them into the spec's error body (errorBody below).
export type DirectoryErrorCode =
  | "invalid_request"
  | "invalid_signature"
  | "missing_symmetric_key"
  | "attribute_decryption_failed"
  | "merkle_root_unknown"
  | "merkle_root_stale"
  | "duplicate_message"
  | "not_found"
  | "key_not_found"
  | "record_not_found"
  | "aux_data_not_found"
  | "key_in_use"
  | "last_key"
  | "self_revocation"
  | "actor_exists"
  | "fireproof"
  | "already_fireproof"
  | "not_fireproof"
  | "not_operator"
  | "aux_id_mismatch"
  | "duplicate_aux_data"
  | "untrusted_peer"
  | "wrong_directory"
  | "erasure_expired"
  | "invalid_range"
  | "invalid_actor"
  | "unauthorized"
  | "actor_mismatch"
  | "rate_limited"
  | "overloaded"
  | "actor_unreachable"
  | "invalid_otp"
  | "too_many_keys"
  | "misdirected";

const NOT_FOUND: ReadonlySet<DirectoryErrorCode> = new Set([
  "not_found",
  "key_not_found",
  "record_not_found",
  "aux_data_not_found",
]);
const CONFLICT: ReadonlySet<DirectoryErrorCode> = new Set([
  "duplicate_message",
  "too_many_keys",
  "key_in_use",
  "actor_exists",
  "already_fireproof",
  "not_fireproof",
  "duplicate_aux_data",
]);
// The spec's table: invalid_signature is 400 (the request is malformed), not 403.
const FORBIDDEN: ReadonlySet<DirectoryErrorCode> = new Set([
  "last_key",
  "self_revocation",
  "fireproof",
  "not_operator",
  "untrusted_peer",
  "actor_mismatch",
  "invalid_otp",
]);

export class DirectoryError extends Error {
  constructor(
    readonly code: DirectoryErrorCode,
    message: string,
    /** Seconds before retrying (sent as Retry-After with 429 and 503). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "DirectoryError";
  }

  get status(): number {
    if (this.code === "unauthorized") return 401;
    if (this.code === "rate_limited") return 429;
    if (this.code === "overloaded") return 503;
    // The actor's instance did not answer usably: our peer failed, not the client's request.
    if (this.code === "actor_unreachable") return 502;
    // A Host this directory does not answer for (RFC 9110 421 Misdirected Request).
    if (this.code === "misdirected") return 421;
    if (NOT_FOUND.has(this.code)) return 404;
    if (CONFLICT.has(this.code)) return 409;
    if (FORBIDDEN.has(this.code)) return 403;
    return 400;
  }
}

export const ERROR_CONTEXT = "fedi-e2ee:v1/api/error";

/** Spec "Error Responses": `{"!pkd-context": "fedi-e2ee:v1/api/error", "error": code, "message": text}`. */
export interface ErrorBody {
  "!pkd-context": typeof ERROR_CONTEXT;
  error: string;
  message: string;
}

export function errorBody(code: string, message: string): ErrorBody {
  return { "!pkd-context": ERROR_CONTEXT, error: code, message };
}

/** Reads an error body: the spec's, or the pre-v0.8 `{error: {code, message}}` of older directories. */
export function parseErrorBody(body: unknown): { code?: string; message?: string } {
  if (typeof body !== "object" || body === null) return {};
  const o = body as { error?: unknown; message?: unknown };
  if (typeof o.error === "string") return { code: o.error, message: typeof o.message === "string" ? o.message : undefined };
  if (typeof o.error === "object" && o.error !== null) {
    const e = o.error as { code?: unknown; message?: unknown };
    return { code: typeof e.code === "string" ? e.code : undefined, message: typeof e.message === "string" ? e.message : undefined };
  }
  return {};
}
