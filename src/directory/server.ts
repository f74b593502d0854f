// HTTP service of the directory (fastify). Read endpoints follow the reference server's paths;
// errors are the spec's `{ "!pkd-context": "fedi-e2ee:v1/api/error", "error": code, "message" }`
// (429 and 503 with Retry-After).
//
// Submissions (POST) are handled cheapest-first: the bad-request table (per IP and per instance)
// refuses a penalized client before its body is read; then the RFC 9421 signature of the actor's
// instance is checked (the only unauthenticated cost is fetching that instance's actor document,
// bounded and cached); only then does the directory see the message.
import http from "node:http";
import { availableParallelism } from "node:os";
import Fastify, { FastifyHttpOptions, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ActorKeyResolver, actorOrigin } from "./actor-keys";
import { Checkpointer, CheckpointerOptions } from "./checkpointer";
import { CommitmentPool } from "./commitment-pool";
import { Directory, DirectoryOptions, SubmissionAuth } from "./directory";
import { decodeMerkleRoot, encodePublicKey, toB64url } from "./encoding";
import { DirectoryError, errorBody } from "./errors";
import { DirectoryHpkeKey, ENCRYPTED_CONTEXT, HpkeError } from "./hpke-wire";
import { HostAllowList } from "./host-allowlist";
import { ReadBudget, ReadBudgetOptions } from "./read-budget";
import { HttpSignatureError, parseSignatureHeaders, verifyRequest } from "./http-signature";
import { directoryKeyPair } from "./log-entry";
import { warmUpJit } from "./mldsa";
import { PLAINTEXT_CONTEXT } from "./protocol";
import { ResponseKeyCertifier, ResponseSigner, deriveResponseKey, requestBinding } from "./response-signature";
import { BadRequestTable, RateLimitOptions } from "./rate-limit";
import { openDirectoryStore } from "./store/open";
import { WitnessTable, registerCosignRoutes } from "./cosign";
import { NoteSigner } from "./signed-note";
import { TlogOptions, registerTlogRoutes } from "./tlog-tiles";
import { TotpStore, requireTotp } from "./totp";
import { registerTotpRoutes } from "./totp-routes";

export interface DirectoryServerOptions extends Omit<DirectoryOptions, "vectorReplay"> {
  /**
   * Where the log and index live: a SQLite file (created if missing; the embedded default) or a
   * postgres:// URL (production; several server processes may share the database).
   */
  database: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Publish (tree size, root) to the DirectoryCheckpoint contract periodically. */
  checkpoint?: Omit<CheckpointerOptions, "directory">;
  logger?: boolean;
  /** Bad-request back-off (spec defaults: 100 ms doubling); `{ basePenaltyMs: 0 }` disables it. */
  rateLimit?: RateLimitOptions;
  /** Worker threads for Argon2id commitments (default: one per core); 0 computes them on the event loop. */
  commitmentWorkers?: number;
  /** 32-byte X-Wing decapsulation key (seed form) clients HPKE-encrypt to; default: derived from `signingKey`. */
  hpkeSeed?: Uint8Array;
  /** C2SP tlog-tiles view of the log (checkpoint, tiles, entry bundles); on by default at /tlog. */
  tlog?: TlogOptions | false;
  /** Witnesses whose cosignatures are accepted: identifier → `mldsa44:…` or `ed25519:…` public key. */
  witnesses?: Record<string, string>;
  /** 32-byte Ed25519 seed of the key that signs every response; default: derived from `signingKey`. */
  responseKey?: Uint8Array;
  /**
   * Host headers answered (`host` or `host:port`); others get 421 (spec: DNS rebinding). Default:
   * the host of `name` and loopback. IP addresses other than loopback only when listed here.
   */
  allowedHosts?: string[];
  /** The budget of costly reads per client and in all (see ReadBudget). */
  readBudget?: ReadBudgetOptions;
}

export interface DirectoryRouteOptions {
  /** Resolves instance keys for HTTP Message Signatures; default: https-only resolver. */
  resolver?: ActorKeyResolver;
  rateLimit?: RateLimitOptions;
  /** The X-Wing key clients encrypt protocol messages to (api/server-public-key). */
  hpke: DirectoryHpkeKey;
  /** Serve the log as C2SP tlog-tiles (see tlog-tiles.ts); the key signs checkpoints unless `noteKey` is set. */
  tlog?: TlogOptions & { signingKey: Uint8Array };
  /** Witnesses for api/history/cosign (identifier → public key); none by default. */
  witnesses?: Record<string, string>;
  /** The `hostname` witnesses must name in cosignatures; default: the directory name. */
  cosignHostname?: string;
  /** Signs every response (RFC 9421, spec "JSON REST API"); its key is `api/info`'s `public-key`. */
  responseSigner: ResponseSigner;
  /** The bad-request back-off table (shared with the server's pre-routing refusals); default: a new one from `rateLimit`. */
  badRequests?: BadRequestTable;
  /** Keeps the directory key's current certificate of the response key, published in `api/info`. */
  responseKeyCertifier?: ResponseKeyCertifier;
  /** Host headers answered; default: the directory name's host and loopback (see HostAllowList). */
  allowedHosts?: string[];
  /** The budget of costly reads per client and in all (see ReadBudget). */
  readBudget?: ReadBudgetOptions;
}

/** What a GET costs the event loop, in ReadBudget units (≈ ms at a few thousand leaves); 0 = free. */
function readCost(route: string | undefined): number {
  if (route === undefined) return 0;
  if (route === "/api/history/since/:hash") return 25;
  if (route === "/api/history") return 15;
  if (route.endsWith("/tile/entries/*")) return 15;
  if (route === "/api/actor/:id/keys") return 4;
  if (route === "/api/history/view/:hash" || route === "/api/actor/:id/key/:keyId" || route === "/api/actor/:id/auxiliary/:auxId") return 2;
  return 0;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The request body exactly as received (Content-Digest covers these bytes). */
    rawBody?: Buffer;
    /** Bad-request table keys this request is charged to when rejected. */
    penaltyKeys?: string[];
  }
}

export interface DirectoryServer {
  url: string;
  directory: Directory;
  checkpointer?: Checkpointer;
  /** Signs the tlog-tiles checkpoint; `verifierKey` is the signed-note vkey clients pin. */
  noteSigner?: NoteSigner;
  /** Instances' TOTP secrets for BurnDown (enroll/disenroll programmatically). */
  totp: TotpStore;
  close(): Promise<void>;
}

const HISTORY_PAGE = 100;

/** Spec "Timestamps": Unix seconds, decimal. */
const unixNow = (): string => String(Math.floor(Date.now() / 1000));

function intParam(text: string | undefined, name: string, fallback?: number): number {
  if (text === undefined && fallback !== undefined) return fallback;
  if (text === undefined || !/^[0-9]{1,15}$/.test(text)) throw new DirectoryError("invalid_request", `${name} must be a non-negative integer`);
  return Number(text);
}

function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof DirectoryError) {
    if (err.retryAfterSeconds !== undefined) reply.header("retry-after", String(Math.max(1, err.retryAfterSeconds)));
    return reply.code(err.status).send(errorBody(err.code, err.message));
  }
  const e = err as { statusCode?: number; message?: string };
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    // fastify's own rejections (bad JSON, body too large, wrong content type)
    return reply.code(e.statusCode).send(errorBody("invalid_request", e.message ?? "bad request"));
  }
  reply.log.error(err);
  return reply.code(500).send(errorBody("internal_error", "internal error"));
}

interface PlaintextEnvelope {
  actor: string;
  message: unknown;
}

interface EncryptedEnvelope {
  actor: string;
  encrypted: string;
}

/**
 * The spec's wire formats: plaintext `{"!pkd-context": "fedi-e2ee:v1-plaintext-message", actor,
 * message: "<JSON>"}` or HPKE `{"!pkd-context": "fedi-e2ee:v1-encrypted-message", actor,
 * "encrypted-message": "hpke:…"}`; undefined for a bare protocol message.
 */
function parseEnvelope(body: unknown): PlaintextEnvelope | EncryptedEnvelope | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const o = body as Record<string, unknown>;
  if (o["!pkd-context"] === ENCRYPTED_CONTEXT) {
    if (typeof o.actor !== "string" || typeof o["encrypted-message"] !== "string") {
      throw new DirectoryError("invalid_request", "an encrypted message carries actor and encrypted-message");
    }
    return { actor: o.actor, encrypted: o["encrypted-message"] };
  }
  if (o["!pkd-context"] !== PLAINTEXT_CONTEXT) return undefined;
  if (typeof o.actor !== "string" || typeof o.message !== "string") {
    throw new DirectoryError("invalid_request", "a plaintext message carries actor and message (a JSON string)");
  }
  try {
    return { actor: o.actor, message: JSON.parse(o.message) as unknown };
  } catch {
    throw new DirectoryError("invalid_request", "message is not JSON");
  }
}

/** `api/info`'s certificate of the response key: the directory key's signature and its expiry. */
function certificateFields(certifier: ResponseKeyCertifier | undefined): Record<string, string> {
  if (!certifier) return {};
  const cert = certifier.certificate();
  return { "public-key-certificate": toB64url(cert.signature), "public-key-valid-until": String(cert.validUntil) };
}

/** Registers the routes on a fastify instance (exported for embedding in other services). */
export function registerDirectoryRoutes(app: FastifyInstance, directory: Directory, options: DirectoryRouteOptions): { noteSigner?: NoteSigner; totp: TotpStore } {
  // The vectors-only seam appends entries the runner hands it, unsigned by this directory.
  if (directory.replaysVectors) throw new Error("a directory opened with the vectors-only replay seam cannot be served");
  const resolver = options.resolver ?? new ActorKeyResolver();
  const badRequests = options.badRequests ?? new BadRequestTable(options.rateLimit);

  // Keep the exact body bytes: the HTTP signature's Content-Digest is over them, not over re-serialized JSON.
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    const raw = body as Buffer;
    req.rawBody = raw;
    try {
      done(null, raw.length === 0 ? undefined : (JSON.parse(raw.toString("utf8")) as unknown));
    } catch {
      done(Object.assign(new Error("body is not JSON"), { statusCode: 400 }), undefined);
    }
  });

  // Refuse a penalized client before reading its body: the cheapest possible rejection. So is a
  // write while too many others wait for their turn (503 + Retry-After).
  const hosts = new HostAllowList(options.allowedHosts, directory.name);
  const readBudget = new ReadBudget(options.readBudget);
  app.addHook("onRequest", async (req) => {
    // Every request, reads too: a rebound page must not read through a victim's browser either.
    hosts.check(req.headers.host);
    if (req.method === "GET") {
      const cost = readCost(req.routeOptions.url);
      if (cost > 0) readBudget.take(req.ip, cost);
      return;
    }
    if (req.method !== "POST") return;
    req.penaltyKeys = [`ip:${req.ip}`];
    badRequests.check(req.penaltyKeys);
    directory.turns.assertRoom();
  });
  // Writes do their work (signature checks, ML-DSA, the database) one per event-loop turn, so a
  // burst of them cannot hold reads up (turns.ts); reads take no turn.
  app.addHook("preHandler", async (req) => {
    if (req.method === "POST") await directory.turns.turn("start");
  });
  // Every rejected submission (4xx other than the rate limit itself) doubles the client's penalty;
  // so does naming an actor whose instance does not answer (502: a tarpit holds fetch slots).
  app.addHook("onResponse", async (req, reply) => {
    if (req.method !== "POST" || !req.penaltyKeys) return;
    const rejected = reply.statusCode >= 400 && reply.statusCode < 500 && reply.statusCode !== 429;
    if (rejected || reply.statusCode === 502) badRequests.penalize(req.penaltyKeys);
  });

  /** Verifies the instance's RFC 9421 signature over this request; returns the actor it speaks for. */
  async function authenticate(req: FastifyRequest, actor: string): Promise<SubmissionAuth> {
    let origin: string;
    try {
      origin = actorOrigin(actor);
    } catch {
      throw new DirectoryError("invalid_actor", "actor is not a URL");
    }
    // A penalized instance is refused before any work, from any address...
    const instance = `instance:${origin}`;
    badRequests.check([...(req.penaltyKeys ?? []), instance]);
    try {
      // One signature, or an Ed25519 and an ML-DSA-44 one (spec: during migration); each must verify.
      const signatures = parseSignatureHeaders(req.headers);
      const keys = await Promise.all(signatures.map((sig) => resolver.resolve(actor, sig.keyId)));
      // Requests waiting on one actor-document fetch all resume in the same microtask run; a turn
      // each, so their signature checks and validation interleave with reads instead of piling up.
      await directory.turns.turn("continue");
      const targetUri = `${req.protocol}://${req.headers.host ?? ""}${req.url}`;
      for (const [i, sig] of signatures.entries()) {
        verifyRequest({ method: req.method, targetUri, body: req.rawBody ?? Buffer.alloc(0) }, req.headers, sig, keys[i]);
      }
    } catch (err) {
      if (err instanceof HttpSignatureError) throw new DirectoryError("unauthorized", err.message);
      throw err;
    }
    // ...but charged only for what its own key signed: a stranger naming its actors charges its own IP.
    req.penaltyKeys = [...(req.penaltyKeys ?? []), instance];
    return { actor };
  }

  /**
   * A submission: a signed plaintext or HPKE envelope, or (unsigned) a bare protocol message.
   * The HTTP signature is checked before decryption, so an unauthenticated caller cannot make
   * the directory decapsulate (spec: encrypted messages MUST carry a valid HTTP signature).
   */
  async function submission(req: FastifyRequest): Promise<{ message: unknown; auth?: SubmissionAuth; encrypted: boolean }> {
    const envelope = parseEnvelope(req.body);
    if (!envelope) return { message: req.body, encrypted: false };
    const auth = await authenticate(req, envelope.actor);
    if ("message" in envelope) return { message: envelope.message, auth, encrypted: false };
    try {
      return { message: await options.hpke.open(envelope.encrypted), auth, encrypted: true };
    } catch (err) {
      // A decryption failure is a rejection (400, and the back-off penalty through onResponse).
      if (err instanceof HpkeError) throw new DirectoryError("invalid_request", `encrypted-message ${err.message}`);
      throw err;
    }
  }

  // Every response is signed over the body bytes as sent (spec "JSON REST API").
  const signer = options.responseSigner;
  // A callback hook (no promise per response); a string body is encoded once, here, and sent as is.
  app.addHook("onSend", (req, reply, payload, done) => {
    let body: Buffer;
    if (payload === null || payload === undefined) body = Buffer.alloc(0);
    else if (typeof payload === "string") body = Buffer.from(payload, "utf8");
    else if (Buffer.isBuffer(payload)) body = payload;
    else return done(new Error("a streamed response cannot be signed")); // none of our routes streams
    // Bound to the request it answers (and its body, when it declared a digest): see response-signature.ts.
    const digest = req.headers["content-digest"];
    reply.headers(signer.sign(reply.statusCode, body, requestBinding(req.method, req.url, typeof digest === "string" ? digest : undefined)));
    done(null, body);
  });

  app.setErrorHandler((err, _req, reply) => sendError(reply, err));
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send(errorBody("not_found", "no such endpoint")),
  );

  // The spec's fields (`public-key` is the response-signing key; no ActivityPub inbox, so no
  // `actor`), plus the directory's name, its ML-DSA-44 key (the tree heads' and log entries',
  // pinned on chain), that key's signature binding the response key to it, and the tree head.
  app.get("/api/info", async () => ({
    "!pkd-context": "fedi-e2ee:v1/api/info",
    "current-time": unixNow(),
    "burndown-enabled": directory.burnDownEnabled,
    "public-key": signer.encodedPublicKey,
    directory: directory.name,
    "directory-public-key": encodePublicKey(directory.publicKey),
    ...certificateFields(options.responseKeyCertifier),
    "tree-head": await directory.treeHead(),
  }));
  // The spec's fields, plus `public-key` (the key that signs our tree heads) for older clients.
  app.get("/api/server-public-key", async () => ({
    ...options.hpke.publicKeyResponse(),
    "public-key": encodePublicKey(directory.publicKey),
  }));
  app.get("/api/tree-head", async () => await directory.treeHead());

  // Read endpoints: the spec's fields (its `!pkd-context` for each), beside the ones we served before them.
  app.get<{ Params: { id: string } }>("/api/actor/:id", async (req) => ({
    "!pkd-context": "fedi-e2ee:v1/api/actor/info",
    ...(await directory.actorInfo(req.params.id)),
  }));
  app.get<{ Params: { id: string } }>("/api/actor/:id/keys", async (req) => {
    const actor = directory.readActorId(req.params.id);
    return {
      "!pkd-context": "fedi-e2ee:v1/api/actor/get-keys",
      "actor-id": actor,
      "public-keys": await directory.keys(actor),
      "tree-head": await directory.treeHead(),
    };
  });
  app.get<{ Params: { id: string; keyId: string } }>("/api/actor/:id/key/:keyId", async (req) => ({
    "!pkd-context": "fedi-e2ee:v1/api/actor/key-info",
    ...(await directory.key(req.params.id, req.params.keyId)),
  }));
  app.get<{ Params: { id: string } }>("/api/actor/:id/auxiliary", async (req) => {
    const actor = directory.readActorId(req.params.id);
    return { "!pkd-context": "fedi-e2ee:v1/api/actor/aux-info", "actor-id": actor, auxiliary: await directory.auxiliary(actor) };
  });
  app.get<{ Params: { id: string; auxId: string } }>("/api/actor/:id/auxiliary/:auxId", async (req) => ({
    "!pkd-context": "fedi-e2ee:v1/api/actor/get-aux",
    ...(await directory.auxiliaryRecord(req.params.id, req.params.auxId)),
  }));

  const witnesses = new WitnessTable(options.witnesses ?? {}, options.cosignHostname ?? directory.name);
  const cosignatures = registerCosignRoutes(app, { store: directory.store, witnesses });

  app.get<{ Querystring: { from?: string; limit?: string } }>("/api/history", async (req) => {
    const size = await directory.log.size();
    const limit = Math.min(intParam(req.query.limit, "limit", HISTORY_PAGE), HISTORY_PAGE);
    const from = intParam(req.query.from, "from", Math.max(0, size - limit));
    const head = await directory.treeHead();
    const root = decodeMerkleRoot(head.root);
    return {
      "!pkd-context": "fedi-e2ee:v1/api/history",
      "current-time": unixNow(),
      created: head["tree-size"] > 0 ? await directory.createdAt(head["tree-size"] - 1) : null,
      "merkle-root": head.root,
      "tree-head": head,
      // Witness cosignatures of the head's root (GET api/history/cosign/:hash for any other root).
      cosignatures: root ? await cosignatures.list(root) : [],
      entries: await directory.history(from, limit),
    };
  });
  // :hash is a record's Merkle leaf hash or (the spec's) the `pkd-mr-v1:` root its appending produced.
  app.get<{ Params: { hash: string }; Querystring: { limit?: string } }>("/api/history/since/:hash", async (req) => {
    const from = await directory.recordsThrough(req.params.hash);
    const limit = Math.min(intParam(req.query.limit, "limit", HISTORY_PAGE), HISTORY_PAGE);
    const page = await directory.historyPage(from, limit);
    return {
      "!pkd-context": "fedi-e2ee:v1/api/history/since",
      "current-time": unixNow(),
      records: page.records,
      "tree-head": await directory.treeHead(),
      entries: page.entries,
    };
  });
  app.get<{ Params: { hash: string }; Querystring: { "tree-size"?: string } }>("/api/history/view/:hash", async (req) => {
    const size = req.query["tree-size"] === undefined ? undefined : intParam(req.query["tree-size"], "tree-size");
    return { "!pkd-context": "fedi-e2ee:v1/api/history/view", ...(await directory.view(req.params.hash, size)) };
  });
  // No Auxiliary Data Extensions and no replicas yet.
  app.get("/api/extensions", async () => ({ "!pkd-context": "fedi-e2ee:v1/api/extensions", "current-time": unixNow(), extensions: [] }));
  app.get("/api/replicas", async () => ({ "!pkd-context": "fedi-e2ee:v1/api/replicas", "current-time": unixNow(), replicas: [] }));

  app.get<{ Params: { from: string; to: string } }>("/api/proof/consistency/:from/:to", async (req) => {
    const from = intParam(req.params.from, "from");
    const to = intParam(req.params.to, "to");
    return { "tree-size-1": from, "tree-size-2": to, proof: await directory.consistencyProof(from, to) };
  });
  app.get<{ Params: { index: string; size: string } }>("/api/proof/inclusion/:index/:size", async (req) => {
    const index = intParam(req.params.index, "index");
    const size = intParam(req.params.size, "size");
    const proof = await directory.inclusionProof(index, size);
    return { "leaf-index": index, "tree-size": size, "merkle-leaf": toB64url(await directory.log.leafHashAt(index)), proof };
  });

  app.post("/api/message", async (req, reply) => {
    const { message, auth } = await submission(req);
    const action = (message as { action?: unknown } | null)?.action;
    // Spec: a BurnDown arriving any other way than api/burndown is discarded.
    if (action === "BurnDown") throw new DirectoryError("invalid_request", "BurnDown messages go to api/burndown");
    return reply.code(201).send(await directory.submit(message, auth));
  });
  const totp = new TotpStore(directory.store);
  registerTotpRoutes(app, { store: directory.store, totp, hpke: options.hpke, authenticate });
  app.post("/api/burndown", async (req, reply) => {
    const { message, auth, encrypted } = await submission(req);
    const body = message as { action?: unknown } | null;
    if (!body || body.action !== "BurnDown") throw new DirectoryError("invalid_request", "api/burndown takes BurnDown messages");
    // Spec: BurnDown comes from the instance in the clear, never HPKE-encrypted.
    if (encrypted) throw new DirectoryError("invalid_request", "BurnDown messages must not be encrypted");
    // Spec: an instance that enrolled a TOTP secret must add a fresh code (`otp`), checked before any costly validation.
    if (auth) await requireTotp(totp, auth.actor, (body as { otp?: unknown }).otp);
    const result = await directory.submit(body, auth);
    // The spec's 200 and fields, then ours (what api/message answers).
    return reply.code(200).send({ "!pkd-context": "fedi-e2ee:v1/api/burndown", time: unixNow(), status: true, ...result });
  });
  app.post("/api/revoke", async (req, reply) => {
    const body = req.body as { "revocation-token"?: unknown } | null;
    const result = await directory.submitRevocationToken(body?.["revocation-token"]);
    // The spec's 200 and fields, then ours. A token refused is still our error answer, not the spec's 204.
    return reply.code(200).send({ "!pkd-context": "fedi-e2ee:v1/api/revoke", time: unixNow(), ...result });
  });
  app.post("/api/erase", async (req) => await directory.erase(req.body));

  const noteSigner = options.tlog ? registerTlogRoutes(app, { store: directory.store, name: directory.name }, options.tlog) : undefined;
  return { noteSigner, totp };
}

/**
 * Fastify's HTTP server, except that a POST arriving while the turn queue is full (turns.ts) is
 * answered 503 + Retry-After by Node's HTTP server itself: no routing, hooks or body. A burst of
 * hundreds of connections reaches the server in one event-loop poll phase, and what each refusal
 * costs there is what a read arriving with them waits for. Refusing 500 POSTs at once (a fastify
 * onRequest hook vs this), the longest single loop iteration took 27-48 ms vs 6-15 ms of CPU.
 * The answers themselves are written 16 per loop iteration after that poll phase (at most 1024
 * wait; beyond, at once): in the 500-submission burst the longest iteration of the server's main
 * thread went from 27-40 ms to 21-27 ms of CPU.
 */
function sheddingServerFactory(directory: Directory, signer: ResponseSigner, badRequests: BadRequestTable) {
  return (handler: http.RequestListener, opts: FastifyHttpOptions<http.Server>): http.Server => {
    const overloaded = Buffer.from(JSON.stringify(errorBody("overloaded", "the directory is busy; retry later")));
    const penalized = Buffer.from(JSON.stringify(errorBody("rate_limited", "too many rejected requests; slow down")));
    const answer = (req: http.IncomingMessage, res: http.ServerResponse, status: 429 | 503, retryAfter: number): void => {
      if (res.destroyed) return; // the client left while its answer waited
      const body = status === 503 ? overloaded : penalized;
      res.writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "content-length": body.length,
        "retry-after": String(retryAfter),
        // Closed after the answer: the unread body is not drained through the parser (in the
        // 500-submission burst, tree-head p99 31 ms against 40 ms with keep-alive, 7 and 4 runs).
        connection: "close",
        // Bound to the method and target, not the unread body: signed once a second per route (the
        // signer caches), not once per refused request. A replayed refusal is no worse than a drop.
        ...signer.sign(status, body, requestBinding(req.method ?? "POST", req.url ?? "/")),
      });
      res.end(body);
    };
    const refuse = (req: http.IncomingMessage, res: http.ServerResponse): void => answer(req, res, 503, directory.turns.retryAfter);
    const pending: Array<[http.IncomingMessage, http.ServerResponse]> = [];
    let draining = false;
    const drain = (): void => {
      for (let i = 0; i < 16 && pending.length > 0; i++) refuse(...pending.shift()!);
      if (pending.length > 0) setImmediate(drain);
      else draining = false;
    };
    const server = http.createServer((req, res) => {
      // A penalized address is refused here too, before fastify routes it (the same answer its hook gives).
      if (req.method === "POST") {
        try {
          badRequests.check([`ip:${req.socket.remoteAddress ?? ""}`]);
        } catch (err) {
          if (err instanceof DirectoryError) return answer(req, res, 429, Math.max(1, err.retryAfterSeconds ?? 1));
          throw err;
        }
      }
      if (req.method === "POST" && directory.turns.full) {
        if (pending.length < 1024) {
          pending.push([req, res]);
          if (!draining) {
            draining = true;
            setImmediate(drain);
          }
        } else refuse(req, res);
        return;
      }
      handler(req, res);
    });
    // What fastify sets on the server it creates itself.
    if (opts.keepAliveTimeout !== undefined) server.keepAliveTimeout = opts.keepAliveTimeout;
    if (opts.requestTimeout !== undefined) server.requestTimeout = opts.requestTimeout;
    if (opts.connectionTimeout !== undefined) server.setTimeout(opts.connectionTimeout);
    if (opts.maxRequestsPerSocket) server.maxRequestsPerSocket = opts.maxRequestsPerSocket;
    return server;
  };
}

/** Opens the database, serves the API, and (optionally) checkpoints to chain until closed. */
export async function startDirectoryServer(options: DirectoryServerOptions): Promise<DirectoryServer> {
  // Checked before anything opens: the seam belongs to the conformance runner only.
  if ((options as DirectoryOptions).vectorReplay !== undefined) throw new Error("vectorReplay is for the conformance runner, never a server");
  const store = await openDirectoryStore(options.database);
  const workers = options.commitmentWorkers ?? Math.max(1, availableParallelism());
  const pool = workers > 0 ? new CommitmentPool(workers) : undefined;
  const { vectorReplay: _never, ...directoryOptions } = options as DirectoryOptions;
  const directory = new Directory(store, {
    ...directoryOptions,
    commitmentHasher: pool ? (input) => pool.compute(input) : undefined,
    signer: pool ? (message, deterministic) => pool.sign(message, options.signingKey, deterministic) : undefined,
    // As many commitments run as there are workers to run them.
    commitmentConcurrency: options.commitmentConcurrency ?? Math.max(1, workers),
  });
  // Protocol messages are a few KiB; a small body limit bounds what an unauthenticated client makes us buffer.
  const responseSigner = new ResponseSigner(options.responseKey ?? deriveResponseKey(options.signingKey));
  const badRequests = new BadRequestTable(options.rateLimit);
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 64 * 1024,
    // Actor ids reach 2,048 characters (three times that percent-encoded): reads must take what writes accept.
    maxParamLength: 3 * 2048 + 256,
    // The router's own refusals (a malformed percent-encoding, say) in the spec's error body, signed
    // like any answer (the hooks that sign do not run for them).
    frameworkErrors: (error, req, reply) => {
      const body = Buffer.from(JSON.stringify(errorBody("invalid_request", error.message)));
      const digest = req.headers["content-digest"];
      void (reply as unknown as FastifyReply)
        .code(400)
        .headers({ "content-type": "application/json; charset=utf-8", ...responseSigner.sign(400, body, requestBinding(req.method, req.url, typeof digest === "string" ? digest : undefined)) })
        .send(body);
    },
    serverFactory: sheddingServerFactory(directory, responseSigner, badRequests),
  });
  const resolver = new ActorKeyResolver({ allowInsecure: options.allowInsecureActors });
  const hpke = options.hpkeSeed ? await DirectoryHpkeKey.fromSeed(options.hpkeSeed) : await DirectoryHpkeKey.fromSigningKey(options.signingKey);
  const tlog = options.tlog === false ? undefined : { ...options.tlog, signingKey: options.signingKey };
  const { noteSigner, totp } = registerDirectoryRoutes(app, directory, {
    resolver,
    rateLimit: options.rateLimit,
    badRequests,
    hpke,
    tlog,
    witnesses: options.witnesses,
    allowedHosts: options.allowedHosts,
    readBudget: options.readBudget,
    responseSigner,
    responseKeyCertifier: new ResponseKeyCertifier(responseSigner.publicKey, directoryKeyPair(options.signingKey)),
  });
  // Before the first request, not in the first burst (see warmUpJit).
  warmUpJit();
  const url = await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 });
  const checkpointer = options.checkpoint ? new Checkpointer({ ...options.checkpoint, directory }) : undefined;
  checkpointer?.start();
  return {
    url,
    directory,
    checkpointer,
    noteSigner,
    totp,
    async close() {
      await checkpointer?.stop();
      await app.close();
      await pool?.close();
      await store.close();
    },
  };
}
