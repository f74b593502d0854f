import { STATUS_CODES, createServer } from "node:http";
import type { Duplex } from "node:stream";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from "fastify";
import type { Logger } from "pino";
import { NodeError } from "./errors";
import openapi from "./openapi.json";
import type { KFragUpload, ReencryptRequest, RevokeRequest } from "./protocol";
import { cleartextRefused, type NodeService } from "./service";
import { renderStatusPage } from "./status-page";
import { answerChallenge } from "./operator-challenge";

export interface HttpOptions {
  /** Largest accepted request body, bytes. */
  bodyLimit: number;
  logger: Logger;
  /** Time for a client to send its request headers, ms. */
  headersTimeoutMs?: number;
  /** Time for a client to send its whole request (headers and body), ms; 408 after it. */
  requestTimeoutMs?: number;
  /** A connection with no traffic either way for this long is closed, ms. */
  idleTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this long, ms. */
  keepAliveTimeoutMs?: number;
  /** Open connections at most; further ones are closed on accept (keeps file descriptors for the store and the RPC). */
  maxConnections?: number;
}

/**
 * Limits for the HTTP server. Slow clients (trickled headers or bodies) each hold a socket and a
 * file descriptor: without these, ~1,000 of them made an agent with a 1,024 descriptor limit
 * unreachable. Every request the API takes is small, so whole requests get seconds, not minutes.
 */
export const HTTP_DEFAULTS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  idleTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 512,
} as const;

const schemas = openapi.components.schemas;
const policyParams = {
  type: "object",
  required: ["policyId"],
  properties: { policyId: openapi.components.parameters.PolicyId.schema },
};

/** Fastify's own 4xx codes, renamed to the API's vocabulary. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "BODY_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "BAD_CONTENT_LENGTH",
  FST_ERR_CTP_EMPTY_JSON_BODY: "EMPTY_BODY",
  FST_ERR_CTP_INVALID_JSON_BODY: "BAD_JSON",
  FST_ERR_VALIDATION: "BAD_REQUEST",
};

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/**
 * Errors Node's HTTP parser raises before fastify sees a request (oversized headers, a malformed
 * request line or Content-Length, a request that timed out): answered on the raw socket, in the
 * API's shape, then the connection is closed.
 */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, code, message] =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "REQUEST_TIMEOUT", "the request took too long to arrive"]
      : err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "HEADERS_TOO_LARGE", "request headers are too large"]
        : [400, "BAD_HTTP_REQUEST", "malformed HTTP request"];
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Builds the node's HTTP API on top of a NodeService. */
export function buildHttpServer(service: NodeService, options: HttpOptions): FastifyInstance {
  const limits = { ...HTTP_DEFAULTS, ...definedOnly(options) };
  const app = Fastify({
    // Our own server so every limit is set, including how often Node checks the header and
    // request timeouts (30 s by default, which would let a slow client live that much longer).
    serverFactory: (handler) => {
      const server = createServer(
        {
          headersTimeout: limits.headersTimeoutMs,
          requestTimeout: limits.requestTimeoutMs,
          keepAliveTimeout: limits.keepAliveTimeoutMs,
          connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4))),
        },
        handler,
      );
      server.maxConnections = limits.maxConnections;
      server.setTimeout(limits.idleTimeoutMs);
      return server;
    },
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit,
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    // Fastify's own 503-on-close body is not in the API's shape: the preClose/onRequest hooks
    // below answer SHUTTING_DOWN instead.
    return503OnClosing: false,
    // Per-request access logs would dominate the log volume under load; errors are logged.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    clientErrorHandler,
    // Routing failures fastify answers itself unless told otherwise: a URL that does not decode,
    // and a path parameter beyond maxParamLength (414).
    frameworkErrors: (err, _request, reply) => {
      const r = reply as FastifyReply;
      if (err.code === "FST_ERR_MAX_PARAM_LENGTH") return r.status(414).send(errorBody("URI_TOO_LONG", "a path parameter is too long"));
      if (err.code === "FST_ERR_BAD_URL") return r.status(400).send(errorBody("BAD_URL", "the URL does not decode"));
      return r.status(400).send(errorBody("BAD_REQUEST", err.message.slice(0, 200)));
    },
  });

  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", async (_request, reply) => {
    if (closing) {
      reply.header("Retry-After", "1").header("Connection", "close");
      return reply.status(503).send(errorBody("SHUTTING_DOWN", "node is shutting down"));
    }
  });

  // The API speaks JSON only: a text/plain body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser("text/plain");

  app.setErrorHandler((err: FastifyError | NodeError | Error, request, reply) => {
    if (err instanceof NodeError) {
      if (err.retryAfterSeconds !== undefined) reply.header("Retry-After", String(err.retryAfterSeconds));
      if (err.status >= 500) request.log.warn({ code: err.code }, err.message);
      return reply.status(err.status).send(errorBody(err.code, err.message));
    }
    const fe = err as FastifyError;
    if (fe.validation) return reply.status(400).send(errorBody("BAD_REQUEST", fe.message));
    const status = fe.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = FASTIFY_CODES[fe.code] ?? (fe.code ? fe.code.replace(/^FST_ERR_(CTP_)?/, "") : "BAD_REQUEST");
      // JSON.parse failures surface as SyntaxError with status 400.
      return reply.status(status).send(errorBody(err instanceof SyntaxError ? "BAD_JSON" : code, fe.message));
    }
    request.log.error({ err }, "internal error");
    return reply.status(500).send(errorBody("INTERNAL", "internal error"));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody("NOT_FOUND", `no route ${request.method} ${request.url.slice(0, 200)}`));
  });

  app.get("/openapi.json", async () => openapi);
  app.get("/v1/ping", async () => ({ ok: true, node: service.staker, time: Math.floor(Date.now() / 1000) }));
  app.get("/v1/status", async () => service.status());
  app.get("/status", async (_req, reply) => {
    reply.type("text/html; charset=utf-8");
    return renderStatusPage(service.status());
  });

  // The operator challenge (src/node/operator-challenge.ts): a starting agent of the same operator
  // asks whether this instance is live before it re-registers the endpoint. The body's shape is
  // checked by the schema (tiny body limit) before anything else, and signing is rate-limited
  // (a token bucket for the whole node), so a flood costs it no more than 10 signatures a second.
  const challengeBucket = { tokens: 10, at: Date.now() };
  app.post<{ Body: { nonce: string } }>(
    "/v1/operator-challenge",
    {
      bodyLimit: 256,
      schema: {
        body: {
          type: "object",
          required: ["nonce"],
          additionalProperties: false,
          properties: { nonce: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" } },
        },
      },
    },
    async (request) => {
      const now = Date.now();
      challengeBucket.tokens = Math.min(10, challengeBucket.tokens + ((now - challengeBucket.at) / 1000) * 10);
      challengeBucket.at = now;
      if (challengeBucket.tokens < 1) throw new NodeError(429, "RATE_LIMITED", "too many operator challenges; retry later", 1);
      challengeBucket.tokens -= 1;
      return answerChallenge(service.keys.operator, service.endpoint, request.body.nonce);
    },
  );

  app.post<{ Params: { policyId: string }; Body: KFragUpload }>(
    "/v1/policies/:policyId/kfrag",
    {
      schema: { params: policyParams, body: schemas.KFragUpload },
      // Before schema validation, so the old cleartext format gets its own code, not BAD_REQUEST.
      preValidation: async (request) => {
        const body = request.body;
        if (body !== null && typeof body === "object" && Object.prototype.hasOwnProperty.call(body, "kfrag")) throw cleartextRefused();
      },
    },
    async (request, reply) => {
      const result = await service.acceptKFrag(request.params.policyId, request.body);
      return reply.status(result.stored ? 201 : 200).send(result);
    },
  );

  app.post<{ Params: { policyId: string }; Body: ReencryptRequest }>(
    "/v1/policies/:policyId/reencrypt",
    { schema: { params: policyParams, body: schemas.ReencryptRequest } },
    async (request) => service.reencrypt(request.params.policyId, request.body),
  );

  app.post<{ Params: { policyId: string }; Body: RevokeRequest }>(
    "/v1/policies/:policyId/revoke",
    { schema: { params: policyParams, body: schemas.RevokeRequest } },
    async (request) => service.revoke(request.params.policyId, request.body),
  );

  return app;
}
