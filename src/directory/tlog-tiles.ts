// The log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles): a signed-note checkpoint
// (https://c2sp.org/tlog-checkpoint), hash tiles and entry bundles, all static-looking GETs
// under one prefix, so any standard tlog client (e.g. golang.org/x/mod/sumdb/tlog) can verify
// inclusion and consistency from tiles alone.
//
// The Merkle tree is already RFC 6962/9162 SHA-256 (leaf 0x00, node 0x01, empty tree SHA-256("")),
// which is what tlog-tiles prescribes, and every complete aligned subtree hash is stored when it
// completes (merkle_nodes(level, idx, hash), the same table in both backends). A tile's hashes are
// exactly the stored nodes: tile (L, N) holds nodes at tree level 8·L, indices N·256 … N·256+255.
// Entry bundles hold each record's logged bytes (records.entry: message hash ‖ ML-DSA-44 signature ‖
// key hash, see log-entry.ts), checked against
// the stored leaf hash before they are served; the bytes are opaque here.
import { gzipSync } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes } from "@noble/hashes/utils.js";
import { DirectoryError, errorBody } from "./errors";
import { EMPTY_TREE_HASH, HASH_SIZE, bytesEqual, leafHash } from "./merkle";
import { NoteSigner, ed25519NoteSigner, signNote } from "./signed-note";
import type { DirectoryStore } from "./store/store";

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 1 << TILE_HEIGHT;
/** Full tiles and bundles never change; partial ones are superseded as the log grows. */
export const FULL_TILE_CACHE = "public, max-age=31536000, immutable";
export const PARTIAL_TILE_CACHE = "public, max-age=10";
export const CHECKPOINT_CACHE = "public, max-age=2";

export interface TilePath {
  /** Tile level 0..63, or "entries" for an entry bundle. */
  level: number | "entries";
  index: number;
  /** 1..255 for a partial tile; 256 for a full one. */
  width: number;
}

/** C2SP index encoding: zero-padded 3-digit elements, all but the last prefixed with "x" (1234067 → x001/x234/067). */
export function encodeTileIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`tile index ${n}`);
  let s = String(n % 1000).padStart(3, "0");
  for (let rest = Math.floor(n / 1000); rest > 0; rest = Math.floor(rest / 1000)) {
    s = `x${String(rest % 1000).padStart(3, "0")}/${s}`;
  }
  return s;
}

/** `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]` (relative to the prefix). */
export function tilePath(t: TilePath): string {
  const partial = t.width === TILE_WIDTH ? "" : `.p/${t.width}`;
  return `tile/${t.level === "entries" ? "entries" : t.level}/${encodeTileIndex(t.index)}${partial}`;
}

/**
 * Parses the part of a tile URL after `tile/`; undefined unless it is canonical (no extra
 * leading zeroes, valid level and width), so each tile has exactly one URL.
 */
export function parseTilePath(rest: string): TilePath | undefined {
  const m = /^(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*)([0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/.exec(rest);
  if (!m) return undefined;
  const level = m[1] === "entries" ? "entries" : Number(m[1]);
  if (level !== "entries" && level > 63) return undefined;
  const elements = [...m[2].split("/").filter((e) => e !== "").map((e) => e.slice(1)), m[3]];
  // Canonical: a multi-element index has no leading zero element.
  if (elements.length > 1 && elements[0] === "000") return undefined;
  if (elements.length > 6) return undefined; // beyond 2^53
  const index = elements.reduce((acc, e) => acc * 1000 + Number(e), 0);
  if (!Number.isSafeInteger(index)) return undefined;
  const width = m[4] === undefined ? TILE_WIDTH : Number(m[4]);
  if (m[4] !== undefined && width > 255) return undefined;
  return { level, index, width };
}

/** Complete nodes at tree level `treeLevel` in a tree of `size` leaves. */
function nodesAt(size: number, treeLevel: number): number {
  return treeLevel >= 53 ? 0 : Math.floor(size / 2 ** treeLevel);
}

/** The checkpoint note text: origin, size, base64 root, each on its own line. */
export function checkpointText(origin: string, size: number, root: Uint8Array): string {
  return `${origin}\n${size}\n${Buffer.from(root).toString("base64")}\n`;
}

/** Reads tiles and bundles from a directory store (both backends share the tables read here). */
export class TileReader {
  constructor(private readonly store: DirectoryStore) {}

  /** Whether the tile exists in a tree of `size` leaves (full, or partial of exactly this width or less). */
  static available(t: TilePath, size: number): boolean {
    const count = nodesAt(size, t.level === "entries" ? 0 : TILE_HEIGHT * t.level);
    return t.index * TILE_WIDTH + t.width <= count;
  }

  /** Concatenated 32-byte hashes of tile (level, index), first `width` of them. */
  async hashTile(level: number, index: number, width: number): Promise<Uint8Array> {
    const start = index * TILE_WIDTH;
    const rows = await this.store.all<{ idx: number; hash: Buffer }>(
      "SELECT idx, hash FROM merkle_nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
      [TILE_HEIGHT * level, start, start + width],
    );
    if (rows.length !== width) throw new Error(`tile ${level}/${index}: ${rows.length} of ${width} nodes stored`);
    const out = new Uint8Array(width * HASH_SIZE);
    rows.forEach((r, i) => {
      if (Number(r.idx) !== start + i || r.hash.length !== HASH_SIZE) throw new Error(`tile ${level}/${index}: node ${start + i} missing`);
      out.set(r.hash, i * HASH_SIZE);
    });
    return out;
  }

  /** Entry bundle: each entry as a big-endian uint16 length and its bytes. */
  async entryBundle(index: number, width: number): Promise<Uint8Array> {
    const start = index * TILE_WIDTH;
    const rows = await this.store.all<{ leaf_index: number; leaf_hash: Buffer; entry: Buffer }>(
      "SELECT leaf_index, leaf_hash, entry FROM records WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index",
      [start, start + width],
    );
    if (rows.length !== width) throw new Error(`bundle ${index}: ${rows.length} of ${width} records stored`);
    const parts: Uint8Array[] = [];
    rows.forEach((r, i) => {
      const entry = new Uint8Array(r.entry);
      if (Number(r.leaf_index) !== start + i) throw new Error(`bundle ${index}: record ${start + i} missing`);
      // A bundle must hash to its level-0 tile: refuse to serve bytes that would not.
      if (!bytesEqual(leafHash(entry), new Uint8Array(r.leaf_hash))) throw new Error(`record ${start + i}: stored bytes do not match its leaf hash`);
      if (entry.length > 0xffff) throw new DirectoryError("invalid_range", `entry ${start + i} exceeds the 65535-byte bundle limit`);
      const len = new Uint8Array(2);
      new DataView(len.buffer).setUint16(0, entry.length, false);
      parts.push(len, entry);
    });
    return concatBytes(...parts);
  }
}

export interface TlogOptions {
  /** URL path prefix, e.g. "/tlog" (default); the routes are <prefix>/checkpoint and <prefix>/tile/…. */
  prefix?: string;
  /** Checkpoint origin and note key name; default: the directory name without scheme, plus the prefix. */
  origin?: string;
  /** 32-byte Ed25519 seed of the note key; default: derived from the directory's signing key. */
  noteKey?: Uint8Array;
}

/** The note key when none is configured: SHA-256 of a label and the tree-head key, so the two keys differ. */
export function deriveNoteKey(signingKey: Uint8Array): Uint8Array {
  return sha256(concatBytes(new TextEncoder().encode("nkms tlog-tiles checkpoint key v1\n"), signingKey));
}

/** `https://pkd.example/` + `/tlog` → `pkd.example/tlog`. */
export function defaultOrigin(directoryName: string, prefix: string): string {
  return (directoryName.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/\/+$/, "") + prefix).replace(/\/+$/, "");
}

export interface TlogLog {
  store: DirectoryStore;
  name: string;
}

/** Registers the tlog-tiles routes; returns the note signer (its verifierKey is what clients pin). */
export function registerTlogRoutes(
  app: FastifyInstance,
  log: TlogLog,
  options: TlogOptions & { signingKey: Uint8Array },
): NoteSigner {
  const prefix = (options.prefix ?? "/tlog").replace(/\/+$/, "");
  const origin = options.origin ?? defaultOrigin(log.name, prefix);
  const signer = ed25519NoteSigner(origin, options.noteKey ?? deriveNoteKey(options.signingKey));
  const reader = new TileReader(log.store);
  let cached: { size: number; note: string } | undefined;

  app.get(`${prefix}/checkpoint`, async (_req, reply) => {
    const size = await log.store.log.size();
    if (!cached || cached.size !== size) {
      const root = size === 0 ? EMPTY_TREE_HASH : await log.store.log.rootAt(size);
      cached = { size, note: signNote(checkpointText(origin, size, root), [signer]) };
    }
    return reply.header("content-type", "text/plain; charset=utf-8").header("cache-control", CHECKPOINT_CACHE).send(cached.note);
  });

  /** Entry bundles are compressible JSON text: gzip them for clients that accept it (spec: SHOULD). */
  const acceptsGzip = (req: FastifyRequest): boolean =>
    String(req.headers["accept-encoding"] ?? "")
      .split(",")
      .some((part) => {
        const [name, ...params] = part.split(";").map((x) => x.trim().toLowerCase());
        const q = params.find((p) => p.startsWith("q="));
        return name === "gzip" && (q === undefined || Number(q.slice(2)) > 0);
      });

  // A full bundle never changes: built (and gzipped) once, then served from here (the last 64).
  const fullBundles = new Map<number, { raw: Buffer; gzipped?: Buffer }>();
  const entryBundle = async (index: number, width: number): Promise<{ raw: Buffer; gzipped?: Buffer }> => {
    if (width !== TILE_WIDTH) return { raw: Buffer.from(await reader.entryBundle(index, width)) };
    let bundle = fullBundles.get(index);
    if (!bundle) {
      bundle = { raw: Buffer.from(await reader.entryBundle(index, width)) };
      if (fullBundles.size >= 64) fullBundles.delete(fullBundles.keys().next().value as number);
      fullBundles.set(index, bundle);
    }
    return bundle;
  };

  const serveTile = async (req: FastifyRequest, rest: string, reply: FastifyReply, entries: boolean): Promise<FastifyReply> => {
    const t = parseTilePath(entries ? `entries/${rest}` : rest);
    if (!t) throw new DirectoryError("invalid_range", "not a tile path (C2SP tlog-tiles: tile/<L>/<N>[.p/<W>])");
    const size = await log.store.log.size();
    if (!TileReader.available(t, size)) {
      return reply.code(404).send(errorBody("not_found", `no such tile in a tree of ${size} entries`));
    }
    reply
      .header("content-type", "application/octet-stream")
      .header("cache-control", t.width === TILE_WIDTH ? FULL_TILE_CACHE : PARTIAL_TILE_CACHE);
    if (t.level === "entries") {
      reply.header("vary", "accept-encoding");
      const bundle = await entryBundle(t.index, t.width);
      if (acceptsGzip(req)) {
        bundle.gzipped ??= gzipSync(bundle.raw);
        return reply.header("content-encoding", "gzip").send(bundle.gzipped);
      }
      return reply.send(bundle.raw);
    }
    return reply.send(Buffer.from(await reader.hashTile(t.level, t.index, t.width)));
  };
  app.get<{ Params: { "*": string } }>(`${prefix}/tile/entries/*`, async (req, reply) => serveTile(req, req.params["*"], reply, true));
  // fastify routes tile/entries/… above; anything else under tile/ is a hash tile.
  app.get<{ Params: { "*": string } }>(`${prefix}/tile/*`, async (req, reply) => serveTile(req, req.params["*"], reply, false));
  return signer;
}
