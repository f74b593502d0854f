/**
 * Object references: how a reader names an encrypted object that lives on another machine.
 *
 *   <content id>              64 hex digits: the object in the reader's own store (--storage, <home>/objects)
 *   http(s)://host/…/<id>     fetched with a plain GET from any static file server
 *   <path> or file:///<path>  a ciphertext file (a copy of a stored object, or `nkms encrypt` output)
 *
 * The content id the bytes must hash to is the URL's fragment (`…#<id>`) when given, else the last
 * path segment when that is a content id (a store directory served as is has the layout `ab/ab…`).
 * The check completes when the last byte arrives, so readers commit their output only after the
 * stream ends cleanly. Without a content id the ciphertext is authenticated by its chunks alone:
 * it was encrypted to the grant's label key, but by anyone who knows that public key.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Readable, pipeline } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { ClientError } from "./errors";
import { StorageError, isContentId, verifyingHash, type ObjectStorage } from "./storage";

export type ObjectRef =
  | { kind: "store"; id: string }
  | { kind: "url"; url: string; id?: string }
  | { kind: "file"; path: string; id?: string };

export interface OpenedObject {
  ref: ObjectRef;
  /** The ciphertext bytes (header ‖ chunks); errors with a ClientError or StorageError. */
  stream: Readable;
  /** Total bytes, when known before reading (file size, store size, HTTP content-length). */
  size?: number;
}

/** Default deadline for an HTTP server's headers, and for each gap between body bytes, ms. */
export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** The content id a location names: `#<id>` first, else a last path segment that is one. */
function idOf(location: string, fragment: string | undefined): string | undefined {
  if (fragment !== undefined && fragment !== "") {
    const id = fragment.toLowerCase();
    if (!isContentId(id)) throw new ClientError("BAD_INPUT", `the fragment of ${location} must be a content id (64 hex digits)`);
    return id;
  }
  const last = location.split(/[\\/]/).pop() ?? "";
  return isContentId(last.toLowerCase()) ? last.toLowerCase() : undefined;
}

export function parseObjectRef(ref: string): ObjectRef {
  if (isContentId(ref.toLowerCase()) && !ref.includes("/")) return { kind: "store", id: ref.toLowerCase() };
  const scheme = SCHEME.exec(ref)?.[1]?.toLowerCase();
  if (scheme === "http" || scheme === "https") {
    let url: URL;
    try {
      url = new URL(ref);
    } catch {
      throw new ClientError("BAD_INPUT", `not a valid URL: ${ref}`);
    }
    const fragment = url.hash.slice(1);
    url.hash = "";
    return { kind: "url", url: url.toString(), id: idOf(url.pathname, fragment) };
  }
  if (scheme === "file") {
    const [location, fragment] = ref.split("#", 2);
    const file = fileURLToPath(location);
    return { kind: "file", path: file, id: idOf(file, fragment) };
  }
  if (scheme !== undefined) {
    throw new ClientError("BAD_INPUT", `unsupported object reference ${scheme}:// (give a content id, an http(s) URL or a file path)`);
  }
  return { kind: "file", path: ref, id: idOf(ref, undefined) };
}

/** Opens a reference for streaming. Fails fast (before any byte is read) when it cannot be found. */
export async function openObjectRef(
  reference: ObjectRef | string,
  storage: ObjectStorage,
  options: { timeoutMs?: number } = {},
): Promise<OpenedObject> {
  const ref = typeof reference === "string" ? parseObjectRef(reference) : reference;
  switch (ref.kind) {
    case "store":
      return openStored(ref, storage);
    case "file":
      return openFile(ref);
    case "url":
      return openUrl(ref, options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS);
  }
}

async function openStored(ref: { kind: "store"; id: string }, storage: ObjectStorage): Promise<OpenedObject> {
  try {
    const stream = storage.get(ref.id);
    const size = await storage.size?.(ref.id).catch(() => undefined);
    return { ref, stream, size };
  } catch (e) {
    if (e instanceof StorageError && e.code === "not_found") {
      throw new ClientError("NOT_FOUND", `no object ${ref.id} in the local store: to read an object stored elsewhere, give its URL or a file path`);
    }
    throw e;
  }
}

function openFile(ref: { kind: "file"; path: string; id?: string }): OpenedObject {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(ref.path);
  } catch {
    throw new ClientError("NOT_FOUND", `no object at ${ref.path} (not a content id, an http(s) URL or an existing file)`);
  }
  if (!stat.isFile()) throw new ClientError("BAD_INPUT", `${ref.path} is not a file`);
  return { ref, stream: verified(fs.createReadStream(ref.path), ref.id), size: stat.size };
}

async function openUrl(ref: { kind: "url"; url: string; id?: string }, timeoutMs: number): Promise<OpenedObject> {
  const controller = new AbortController();
  const timeout = (what: string) => () => controller.abort(new ClientError("UNREACHABLE", `cannot fetch ${ref.url}: no ${what} within ${timeoutMs} ms`));
  let timer = setTimeout(timeout("response"), timeoutMs);
  let res: Response;
  try {
    // identity: the bytes hashed and decrypted are the object's own, and content-length is their size
    res = await fetch(ref.url, { signal: controller.signal, headers: { "accept-encoding": "identity" } });
  } catch (e) {
    clearTimeout(timer);
    if (e instanceof ClientError) throw e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    if (controller.signal.reason instanceof ClientError) throw controller.signal.reason;
    throw new ClientError("UNREACHABLE", `cannot fetch ${ref.url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  clearTimeout(timer);
  if (!res.ok || res.body === null) {
    await res.body?.cancel().catch(() => undefined);
    const code = res.status === 404 || res.status === 410 ? "NOT_FOUND" : "UNREACHABLE";
    throw new ClientError(code, `cannot fetch ${ref.url}: HTTP ${res.status} ${res.statusText}`);
  }
  const length = Number(res.headers.get("content-length") ?? NaN);
  const size = Number.isSafeInteger(length) && !res.headers.get("content-encoding") ? length : undefined;
  const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  // A server that falls silent mid-body is cut off after the same timeout; only time spent waiting
  // for the server counts (not time the reader spends elsewhere, e.g. gathering cfrags).
  const url = ref.url;
  async function* guarded(): AsyncGenerator<Buffer> {
    const chunks = body[Symbol.asyncIterator]();
    try {
      for (;;) {
        timer = setTimeout(timeout("data"), timeoutMs);
        const next = await chunks.next();
        clearTimeout(timer);
        if (next.done) return;
        yield next.value as Buffer;
      }
    } catch (e) {
      if (controller.signal.reason instanceof ClientError) throw controller.signal.reason;
      throw new ClientError("UNREACHABLE", `lost the connection to ${url}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      await chunks.return?.();
    }
  }
  const stream = Readable.from(guarded(), { objectMode: false });
  // A consumer that gives up (e.g. retrieval failed) destroys the stream while the generator may be
  // waiting on the body: abort the request so no socket or timer outlives it.
  stream.once("close", () => controller.abort());
  return { ref, stream: verified(stream, ref.id), size };
}

/** Passes `source` through a content-id check when the reference names one. */
function verified(source: Readable, id: string | undefined): Readable {
  if (id === undefined) return source;
  return pipeline(source, verifyingHash(id), () => undefined);
}
