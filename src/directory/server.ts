// HTTP service of the directory (fastify). Read endpoints follow the reference server's paths;
// errors are 4xx JSON `{ "error": { "code", "message" } }`.
import Fastify, { FastifyInstance, FastifyReply } from "fastify";
import { Checkpointer, CheckpointerOptions } from "./checkpointer";
import { Directory, DirectoryOptions } from "./directory";
import { encodePublicKey, toB64url } from "./encoding";
import { DirectoryError } from "./errors";
import { openDirectoryDatabase } from "./sqlite";

export interface DirectoryServerOptions extends DirectoryOptions {
  /** SQLite file of the log and index (created if missing). */
  database: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Publish (tree size, root) to the DirectoryCheckpoint contract periodically. */
  checkpoint?: Omit<CheckpointerOptions, "directory">;
  logger?: boolean;
}

export interface DirectoryServer {
  url: string;
  directory: Directory;
  checkpointer?: Checkpointer;
  close(): Promise<void>;
}

const HISTORY_PAGE = 100;

function intParam(text: string | undefined, name: string, fallback?: number): number {
  if (text === undefined && fallback !== undefined) return fallback;
  if (text === undefined || !/^[0-9]{1,15}$/.test(text)) throw new DirectoryError("invalid_message", `${name} must be a non-negative integer`);
  return Number(text);
}

function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof DirectoryError) {
    return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
  }
  const e = err as { statusCode?: number; message?: string };
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    // fastify's own rejections (bad JSON, body too large, wrong content type)
    return reply.code(e.statusCode).send({ error: { code: "invalid_request", message: e.message ?? "bad request" } });
  }
  reply.log.error(err);
  return reply.code(500).send({ error: { code: "internal_error", message: "internal error" } });
}

/** Registers the routes on a fastify instance (exported for embedding in other services). */
export function registerDirectoryRoutes(app: FastifyInstance, directory: Directory): void {
  app.setErrorHandler((err, _req, reply) => sendError(reply, err));
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ error: { code: "not_found", message: "no such endpoint" } }),
  );

  app.get("/api/info", async () => ({
    directory: directory.name,
    "public-key": encodePublicKey(directory.publicKey),
    "tree-head": directory.treeHead(),
  }));
  app.get("/api/server-public-key", async () => ({ "public-key": encodePublicKey(directory.publicKey) }));
  app.get("/api/tree-head", async () => directory.treeHead());

  app.get<{ Params: { id: string } }>("/api/actor/:id", async (req) => directory.actorInfo(req.params.id));
  app.get<{ Params: { id: string } }>("/api/actor/:id/keys", async (req) => ({
    "actor-id": req.params.id,
    "public-keys": directory.keys(req.params.id),
    "tree-head": directory.treeHead(),
  }));
  app.get<{ Params: { id: string; keyId: string } }>("/api/actor/:id/key/:keyId", async (req) =>
    directory.key(req.params.id, req.params.keyId),
  );
  app.get<{ Params: { id: string } }>("/api/actor/:id/auxiliary", async (req) => ({
    "actor-id": req.params.id,
    auxiliary: directory.auxiliary(req.params.id),
  }));

  app.get<{ Querystring: { from?: string; limit?: string } }>("/api/history", async (req) => {
    const size = directory.log.size;
    const limit = Math.min(intParam(req.query.limit, "limit", HISTORY_PAGE), HISTORY_PAGE);
    const from = intParam(req.query.from, "from", Math.max(0, size - limit));
    return { "tree-head": directory.treeHead(), entries: directory.history(from, limit) };
  });
  app.get<{ Params: { hash: string }; Querystring: { limit?: string } }>("/api/history/since/:hash", async (req) => {
    const index = directory.leafIndexOf(req.params.hash);
    const limit = Math.min(intParam(req.query.limit, "limit", HISTORY_PAGE), HISTORY_PAGE);
    return { "tree-head": directory.treeHead(), entries: directory.history(index + 1, limit) };
  });
  app.get<{ Params: { hash: string }; Querystring: { "tree-size"?: string } }>("/api/history/view/:hash", async (req) => {
    const size = req.query["tree-size"] === undefined ? undefined : intParam(req.query["tree-size"], "tree-size");
    return directory.view(req.params.hash, size);
  });

  app.get<{ Params: { from: string; to: string } }>("/api/proof/consistency/:from/:to", async (req) => {
    const from = intParam(req.params.from, "from");
    const to = intParam(req.params.to, "to");
    return { "tree-size-1": from, "tree-size-2": to, proof: directory.consistencyProof(from, to) };
  });
  app.get<{ Params: { index: string; size: string } }>("/api/proof/inclusion/:index/:size", async (req) => {
    const index = intParam(req.params.index, "index");
    const size = intParam(req.params.size, "size");
    const proof = directory.inclusionProof(index, size);
    return { "leaf-index": index, "tree-size": size, "merkle-leaf": toB64url(directory.log.leafHashAt(index)), proof };
  });

  app.post("/api/message", async (req, reply) => reply.code(201).send(await directory.submit(req.body)));
  app.post("/api/burndown", async (req, reply) => {
    const body = req.body as { action?: unknown } | null;
    if (!body || body.action !== "BurnDown") throw new DirectoryError("invalid_message", "api/burndown takes BurnDown messages");
    return reply.code(201).send(await directory.submit(body));
  });
  app.post("/api/revoke", async (req, reply) => {
    const body = req.body as { "revocation-token"?: unknown } | null;
    return reply.code(201).send(await directory.submitRevocationToken(body?.["revocation-token"]));
  });
  app.post("/api/erase", async (req) => directory.erase(req.body));
}

/** Opens the database, serves the API, and (optionally) checkpoints to chain until closed. */
export async function startDirectoryServer(options: DirectoryServerOptions): Promise<DirectoryServer> {
  const db = openDirectoryDatabase(options.database);
  const directory = new Directory(db, options);
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 256 * 1024 });
  registerDirectoryRoutes(app, directory);
  const url = await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 });
  const checkpointer = options.checkpoint ? new Checkpointer({ ...options.checkpoint, directory }) : undefined;
  checkpointer?.start();
  return {
    url,
    directory,
    checkpointer,
    async close() {
      await checkpointer?.stop();
      await app.close();
      db.close();
    },
  };
}
