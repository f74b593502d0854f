// Witness cosignatures (PKD spec v0.8 "Cosignatures", `POST api/history/cosign/:hash`).
//
// A witness signs PAE("!pkd-context", "fedi-e2ee-v1:cosignature", "current-time", t,
// "hostname", h, "merkle-root", r) and sends the JSON token with its identifier. We look the
// witness up in the configured table (unknown witness: refused before anything else), check the
// token's fields against this directory and the URL's root, verify the signature, and only then
// touch the database: the root must be one this log had, and the token is stored once per
// (root, witness). Stored cosignatures are served at `GET api/history/cosign/:hash` and with
// `api/history`'s tree head.
//
// Witness keys are `mldsa44:<base64url>` (the spec's version-1 algorithm) or `ed25519:<base64url>`
// (what this directory's own keys still are until the ML-DSA migration lands).
import type { FastifyInstance } from "fastify";
import { ed25519 } from "@noble/curves/ed25519.js";
import { ml_dsa44 } from "@noble/post-quantum/ml-dsa.js";
import { MERKLE_ROOT_PREFIX, decodeMerkleRoot, encodeMerkleRoot, fromB64url, toB64url } from "./encoding";
import { DirectoryError } from "./errors";
import { bytesEqual, HASH_SIZE } from "./merkle";
import { pae } from "./pae";
import { sideTable, type DirectoryStore } from "./store/store";

export const COSIGNATURE_CONTEXT = "fedi-e2ee-v1:cosignature";
export const COSIGN_RESPONSE_CONTEXT = "fedi-e2ee:v1/api/history/cosign";
const FIELDS = ["!pkd-context", "current-time", "hostname", "merkle-root", "signature"] as const;
/** Request bodies: an ML-DSA-44 token is about 3.5 KiB; anything much larger is refused unread. */
export const COSIGN_BODY_LIMIT = 16 * 1024;
const MAX_TOKEN = 8 * 1024;
const MAX_WITNESS_ID = 256;

export type WitnessAlg = "ed25519" | "mldsa44";

export interface WitnessKey {
  alg: WitnessAlg;
  publicKey: Uint8Array;
}

const KEY_LENGTH: Record<WitnessAlg, number> = { ed25519: 32, mldsa44: 1312 };
const SIG_LENGTH: Record<WitnessAlg, number> = { ed25519: 64, mldsa44: 2420 };

export function parseWitnessKey(text: string): WitnessKey {
  const m = /^(ed25519|mldsa44):([A-Za-z0-9_-]+)$/.exec(text);
  const alg = m?.[1] as WitnessAlg | undefined;
  const publicKey = m ? fromB64url(m[2]) : undefined;
  if (!alg || !publicKey || publicKey.length !== KEY_LENGTH[alg]) {
    throw new Error(`witness key must be ed25519:<32 bytes> or mldsa44:<1312 bytes>, base64url`);
  }
  return { alg, publicKey };
}

export interface Cosignature {
  "!pkd-context": typeof COSIGNATURE_CONTEXT;
  "current-time": string;
  hostname: string;
  "merkle-root": string;
  signature: string;
}

export function cosignaturePayload(c: Omit<Cosignature, "signature">): Uint8Array {
  return pae(["!pkd-context", c["!pkd-context"], "current-time", c["current-time"], "hostname", c.hostname, "merkle-root", c["merkle-root"]]);
}

/** What a witness sends as `cosigned` (for witness tooling and tests). */
export function cosign(alg: WitnessAlg, secretKey: Uint8Array, hostname: string, merkleRoot: string, time = Math.floor(Date.now() / 1000)): string {
  const body = { "!pkd-context": COSIGNATURE_CONTEXT, "current-time": String(time), hostname, "merkle-root": merkleRoot } as const;
  const msg = cosignaturePayload(body);
  const sig = alg === "ed25519" ? ed25519.sign(msg, secretKey) : ml_dsa44.sign(msg, secretKey);
  return JSON.stringify({ ...body, signature: toB64url(sig) });
}

/** The URL's `:hash`: a `pkd-mr-v1:` root, or its bare base64url. */
export function parseRootParam(text: string): Uint8Array | undefined {
  const root = decodeMerkleRoot(text.startsWith(MERKLE_ROOT_PREFIX) ? text : MERKLE_ROOT_PREFIX + text);
  return root && root.length === HASH_SIZE ? root : undefined;
}

const normalizeHost = (h: string): string => h.replace(/\/+$/, "");

export class WitnessTable {
  private readonly keys = new Map<string, WitnessKey>();

  constructor(
    witnesses: Readonly<Record<string, string>>,
    /** This directory as witnesses name it in `hostname` (its base URL). */
    readonly hostname: string,
  ) {
    for (const [id, key] of Object.entries(witnesses)) this.keys.set(id, parseWitnessKey(key));
  }

  has(witness: string): boolean {
    return this.keys.has(witness);
  }

  /**
   * Checks a token from `witness` for `root` (steps 1-7 of the spec's "Verifying a
   * Cosignature"): cheap field checks first, the signature last. Throws DirectoryError.
   */
  verify(witness: string, cosigned: string, root: Uint8Array): Cosignature {
    const key = this.keys.get(witness);
    if (!key) throw new DirectoryError("untrusted_peer", "unknown witness");
    if (cosigned.length > MAX_TOKEN) throw new DirectoryError("invalid_request", "cosigned is too long");
    let token: Record<string, unknown>;
    try {
      token = JSON.parse(cosigned) as Record<string, unknown>;
    } catch {
      throw new DirectoryError("invalid_request", "cosigned is not JSON");
    }
    if (typeof token !== "object" || token === null || Array.isArray(token)) throw new DirectoryError("invalid_request", "cosigned is not a JSON object");
    for (const f of FIELDS) if (typeof token[f] !== "string") throw new DirectoryError("invalid_request", `cosigned.${f} must be a string`);
    if (Object.keys(token).length !== FIELDS.length) throw new DirectoryError("invalid_request", "cosigned has fields the signature does not cover");
    const c = token as unknown as Cosignature;
    if (c["!pkd-context"] !== COSIGNATURE_CONTEXT) throw new DirectoryError("invalid_request", `!pkd-context must be ${COSIGNATURE_CONTEXT}`);
    if (!/^[0-9]{1,12}$/.test(c["current-time"])) throw new DirectoryError("invalid_request", "current-time must be a Unix time in seconds");
    if (normalizeHost(c.hostname) !== normalizeHost(this.hostname)) throw new DirectoryError("wrong_directory", "hostname is not this directory");
    const signedRoot = decodeMerkleRoot(c["merkle-root"]);
    if (!signedRoot || !bytesEqual(signedRoot, root)) throw new DirectoryError("invalid_request", "merkle-root is not the root in the URL");
    const sig = fromB64url(c.signature);
    let ok = false;
    if (sig && sig.length === SIG_LENGTH[key.alg]) {
      const msg = cosignaturePayload(c);
      try {
        ok = key.alg === "ed25519" ? ed25519.verify(sig, msg, key.publicKey) : ml_dsa44.verify(sig, msg, key.publicKey);
      } catch {
        ok = false;
      }
    }
    if (!ok) throw new DirectoryError("invalid_signature", "the cosignature does not verify under the witness's key");
    return c;
  }
}

export interface StoredCosignature {
  witness: string;
  cosigned: string;
  received: string;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS witness_cosignatures (
  merkle_root TEXT NOT NULL, witness TEXT NOT NULL, tree_size BIGINT NOT NULL, cosigned TEXT NOT NULL,
  received TEXT NOT NULL, PRIMARY KEY (merkle_root, witness))`;

/** Cosignatures by (root, witness), in a table of their own (both backends' dialects). */
export class CosignatureStore {
  private readonly table: { ensure(): Promise<void> };
  constructor(private readonly store: DirectoryStore) {
    this.table = sideTable(store, SCHEMA);
  }

  private schema(): Promise<void> {
    return this.table.ensure();
  }

  /** Stores the first cosignature of `root` by `witness`; later ones for the same pair are no-ops. Returns whether it was new. */
  async add(root: Uint8Array, treeSize: number, witness: string, cosigned: string): Promise<boolean> {
    await this.schema();
    const n = await this.store.write((tx) =>
      tx.run(
        "INSERT INTO witness_cosignatures (merkle_root, witness, tree_size, cosigned, received) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [encodeMerkleRoot(root), witness, treeSize, cosigned, new Date().toISOString()],
      ),
    );
    return n > 0;
  }

  async list(root: Uint8Array): Promise<StoredCosignature[]> {
    await this.schema();
    return this.store.all<StoredCosignature>(
      "SELECT witness, cosigned, received FROM witness_cosignatures WHERE merkle_root = ? ORDER BY witness",
      [encodeMerkleRoot(root)],
    );
  }
}

export interface CosignRouteOptions {
  store: DirectoryStore;
  witnesses: WitnessTable;
}

declare module "fastify" {
  interface FastifyRequest {
    penaltyKeys?: string[];
  }
}

/** `POST api/history/cosign/:hash` and `GET api/history/cosign/:hash`. */
export function registerCosignRoutes(app: FastifyInstance, options: CosignRouteOptions): CosignatureStore {
  const cosignatures = new CosignatureStore(options.store);
  app.post<{ Params: { hash: string } }>("/api/history/cosign/:hash", { bodyLimit: COSIGN_BODY_LIMIT }, async (req) => {
    const root = parseRootParam(req.params.hash);
    if (!root) throw new DirectoryError("invalid_request", "the URL names no Merkle root (pkd-mr-v1:…)");
    const body = req.body as { witness?: unknown; cosigned?: unknown } | null;
    if (typeof body !== "object" || body === null || typeof body.witness !== "string" || typeof body.cosigned !== "string") {
      throw new DirectoryError("invalid_request", "the body is {witness, cosigned}, both strings");
    }
    if (body.witness.length > MAX_WITNESS_ID || !options.witnesses.has(body.witness)) {
      throw new DirectoryError("untrusted_peer", "unknown witness");
    }
    // A known witness's rejected requests slow that witness down from any address too.
    req.penaltyKeys = [...(req.penaltyKeys ?? []), `witness:${body.witness}`];
    options.witnesses.verify(body.witness, body.cosigned, root);
    const size = await options.store.log.sizeOfRoot(root);
    if (size === undefined || size === 0) throw new DirectoryError("merkle_root_unknown", "this log never had that root");
    await cosignatures.add(root, size, body.witness, body.cosigned);
    return { "!pkd-context": COSIGN_RESPONSE_CONTEXT, success: true, time: String(Math.floor(Date.now() / 1000)) };
  });
  app.get<{ Params: { hash: string } }>("/api/history/cosign/:hash", async (req) => {
    const root = parseRootParam(req.params.hash);
    if (!root) throw new DirectoryError("invalid_request", "the URL names no Merkle root (pkd-mr-v1:…)");
    const size = await options.store.log.sizeOfRoot(root);
    if (size === undefined) throw new DirectoryError("merkle_root_unknown", "this log never had that root");
    return {
      "!pkd-context": COSIGN_RESPONSE_CONTEXT,
      "merkle-root": encodeMerkleRoot(root),
      "tree-size": size,
      cosignatures: await cosignatures.list(root),
    };
  });
  return cosignatures;
}
