// Identity binding: an actor is an ActivityPub actor URL, and only a key that the actor's own
// instance publishes in the actor document may sign (RFC 9421) a submission for it. The directory
// fetches that document itself, never trusting key material the request carries.
//
// The fetch is work an unauthenticated caller can trigger, so it is bounded: a WorkLimiter caps
// concurrent fetches (503 when full), each fetch has a deadline and a size cap, redirects are
// refused, and answers are cached per key id for a short time.
import { createPublicKey } from "node:crypto";
import { isIP } from "node:net";
import { DirectoryError } from "./errors";
import type { InstanceKey } from "./http-signature";
import { decodeMultikey } from "./multikey";
import { WorkLimiter } from "./work-limiter";

export interface ActorKeyResolverOptions {
  /**
   * TEST/DEVELOPMENT ONLY: accept http:// actors and instances on loopback or private addresses.
   * Production directories leave this off (https only, no literal internal addresses).
   */
  allowInsecure?: boolean;
  timeoutMs?: number;
  maxDocumentBytes?: number;
  cacheTtlMs?: number;
  maxConcurrentFetches?: number;
  /**
   * Fetches from one instance at once (default 2); more for it are refused (503) rather than
   * queued, so an instance that never answers holds at most this many of the shared slots.
   */
  maxFetchesPerOrigin?: number;
}

const MAX_ACTOR_LENGTH = 2048;

/**
 * Checks that `actor` is a canonical actor ID (spec "Actor ID Canonicalization"): an absolute
 * https URL without credentials or fragment, compared byte for byte afterwards. `http://` is
 * rewritten to `https://` as the spec says, unless `allowInsecure` keeps it (loopback tests).
 */
export function canonicalActorId(actor: string, allowInsecure = false): string {
  const bad = (why: string): never => {
    throw new DirectoryError("invalid_actor", `actor ID ${why}`);
  };
  if (typeof actor !== "string" || actor.length === 0 || actor.length > MAX_ACTOR_LENGTH) return bad("must be a URL of at most 2048 characters");
  if (!/^https?:\/\/[^\s/?#@]+\/[^\s#]*$/.test(actor)) return bad("must be an http(s) URL with a path, no credentials, no fragment");
  let url: URL;
  try {
    url = new URL(actor);
  } catch {
    return bad("is not a well-formed URL");
  }
  if (url.username || url.password || url.hash) bad("must not carry credentials or a fragment");
  if (actor.startsWith("http://") && !allowInsecure) return "https://" + actor.slice("http://".length);
  return actor;
}

/** Origin (scheme, host and port) of an actor ID, for "same instance" comparisons. */
export function actorOrigin(actor: string): string {
  return new URL(actor).origin;
}

function isInternalAddress(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const family = isIP(host);
  if (family === 4) {
    const [a, b] = host.split(".").map(Number);
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  if (family === 6) return host === "::1" || host === "::" || /^f[cd]/i.test(host) || /^fe80/i.test(host) || host.startsWith("::ffff:");
  return false;
}

interface CachedKey {
  key: InstanceKey;
  expires: number;
}

/** A `publicKey` entry (publicKeyPem, Ed25519) or an `assertionMethod` Multikey (FEP-521a). */
interface PublishedKey {
  id?: unknown;
  type?: unknown;
  owner?: unknown;
  controller?: unknown;
  publicKeyPem?: unknown;
  publicKeyMultibase?: unknown;
}

function entriesOf(value: unknown): PublishedKey[] {
  const list = Array.isArray(value) ? value : [value];
  return list.filter((k): k is PublishedKey => typeof k === "object" && k !== null);
}

export class ActorKeyResolver {
  private readonly cache = new Map<string, CachedKey>();
  private readonly inflight = new Map<string, Promise<InstanceKey>>();
  private readonly perOrigin = new Map<string, number>();
  private readonly limiter: WorkLimiter;

  constructor(private readonly options: ActorKeyResolverOptions = {}) {
    this.limiter = new WorkLimiter({ concurrency: options.maxConcurrentFetches ?? 8, queue: 32, retryAfterSeconds: 1 });
  }

  /**
   * The key `keyId` that the actor document of `actor` publishes as the actor's own: an Ed25519
   * `publicKey` (publicKeyPem), or an Ed25519 or ML-DSA-44 Multikey in `assertionMethod`.
   */
  async resolve(actor: string, keyId: string): Promise<InstanceKey> {
    const allowInsecure = this.options.allowInsecure ?? false;
    const url = new URL(canonicalActorId(actor, allowInsecure));
    if (!allowInsecure && (url.protocol !== "https:" || isInternalAddress(url.hostname))) {
      throw new DirectoryError("invalid_actor", "actor IDs must be public https URLs");
    }
    let keyUrl: URL;
    try {
      keyUrl = new URL(keyId);
    } catch {
      throw new DirectoryError("unauthorized", "keyid must be a URL");
    }
    // A key id elsewhere would let one instance speak for another's actors.
    if (keyUrl.origin !== url.origin) throw new DirectoryError("unauthorized", "keyid is not on the actor's instance");
    const cacheKey = `${actor}\n${keyId}`;
    const hit = this.cache.get(cacheKey);
    if (hit && hit.expires > Date.now()) return hit.key;
    // Concurrent requests for one key share one fetch (a burst costs the instance one request).
    let pending = this.inflight.get(cacheKey);
    if (!pending) {
      const origin = url.origin;
      const running = this.perOrigin.get(origin) ?? 0;
      if (running >= (this.options.maxFetchesPerOrigin ?? 2)) {
        throw new DirectoryError("overloaded", "the actor's instance is slow to answer; retry later", 1);
      }
      this.perOrigin.set(origin, running + 1);
      pending = this.limiter.run(() => this.fetchKey(actor, keyId)).finally(() => {
        this.inflight.delete(cacheKey);
        const left = (this.perOrigin.get(origin) ?? 1) - 1;
        if (left > 0) this.perOrigin.set(origin, left);
        else this.perOrigin.delete(origin);
      });
      this.inflight.set(cacheKey, pending);
    }
    const key = await pending;
    if (this.cache.size >= 10_000) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(cacheKey, { key, expires: Date.now() + (this.options.cacheTtlMs ?? 300_000) });
    return key;
  }

  /** Forgets cached keys (an instance rotated its key, or tests). */
  clear(): void {
    this.cache.clear();
  }

  private async fetchKey(actor: string, keyId: string): Promise<InstanceKey> {
    const doc = await this.fetchDocument(actor);
    if (doc.id !== actor) throw new DirectoryError("unauthorized", "the actor document's id is not this actor");
    const pem = entriesOf(doc.publicKey).find((k) => k.id === keyId);
    const multikey = pem ? undefined : entriesOf(doc.assertionMethod).find((k) => k.id === keyId);
    const entry = pem ?? multikey;
    if (!entry) throw new DirectoryError("unauthorized", "the actor's instance does not publish this key");
    if (entry.owner !== actor && entry.controller !== actor) throw new DirectoryError("unauthorized", "the published key belongs to another actor");
    if (multikey) {
      const key = multikey.type === "Multikey" && typeof multikey.publicKeyMultibase === "string" ? decodeMultikey(multikey.publicKeyMultibase) : undefined;
      if (!key) throw new DirectoryError("unauthorized", "the published key is not an Ed25519 or ML-DSA-44 Multikey");
      return key;
    }
    if (typeof entry.publicKeyPem !== "string") throw new DirectoryError("unauthorized", "the actor's instance does not publish this key");
    try {
      const key = createPublicKey(entry.publicKeyPem);
      if (key.asymmetricKeyType === "ed25519") return { alg: "ed25519", key };
    } catch {
      throw new DirectoryError("unauthorized", "the published key is not a valid PEM public key");
    }
    throw new DirectoryError("unauthorized", "only Ed25519 (publicKeyPem) or Ed25519/ML-DSA-44 (Multikey) instance keys are accepted");
  }

  private async fetchDocument(actor: string): Promise<Record<string, unknown>> {
    const max = this.options.maxDocumentBytes ?? 64 * 1024;
    let text: string;
    let res: Response | undefined;
    let drained = false;
    try {
      res = await fetch(actor, {
        headers: { accept: 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"' },
        redirect: "error",
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 3000),
      });
      // The instance says there is no such actor: the request cannot be authenticated (401), the
      // instance is not failing (502).
      if (res.status === 404 || res.status === 410) {
        throw new DirectoryError("unauthorized", "the actor's instance does not know this actor");
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const declared = Number(res.headers.get("content-length") ?? "0");
      if (declared > max) throw new Error("document too large");
      // Read at most `max` bytes: an instance that streams without end is cut off, not buffered.
      const chunks: Uint8Array[] = [];
      let total = 0;
      const reader = res.body?.getReader();
      for (;;) {
        const next = reader ? await reader.read() : { done: true as const, value: undefined };
        if (next.done) break;
        total += next.value.length;
        if (total > max) {
          await reader?.cancel();
          drained = true;
          throw new Error("document too large");
        }
        chunks.push(next.value);
      }
      drained = true;
      text = Buffer.concat(chunks).toString("utf8");
    } catch (err) {
      if (err instanceof DirectoryError) throw err;
      throw new DirectoryError("actor_unreachable", `cannot fetch the actor document: ${(err as Error).message}`);
    } finally {
      // A body left unread holds its connection open until garbage collection: an instance that
      // answers an error or an oversized document would pin one socket per request.
      if (!drained) await res?.body?.cancel().catch(() => undefined);
    }
    try {
      const doc = JSON.parse(text) as unknown;
      if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new Error("not an object");
      return doc as Record<string, unknown>;
    } catch {
      throw new DirectoryError("actor_unreachable", "the actor document is not a JSON object");
    }
  }
}
