// The two routes of a stand-in Fediverse instance: WebFinger (RFC 7033) and an ActivityPub actor
// document per user publishing its Ed25519 key (publicKeyPem) and, when it has one, an ML-DSA-44
// key as a Multikey in `assertionMethod` (FEP-521a; `#pq-key`), which is what the key directory
// fetches to verify a publication's RFC 9421 signature. Shared by scripts/dev-instance.ts and the
// tests' instance (test/directory/instance.ts).
import type { KeyObject } from "node:crypto";
import type { FastifyInstance } from "fastify";

export interface InstanceUsers {
  /** host:port the instance answers WebFinger for. */
  host(): string;
  actorUrl(name: string): string;
  publicKeyOf(name: string): KeyObject | undefined;
  /** The user's ML-DSA-44 key as publicKeyMultibase, if it has one. */
  mlDsaMultikeyOf?(name: string): string | undefined;
  /** Called on every actor-document request (tests count them). */
  onActorFetch?(): void;
}

export function serveInstanceRoutes(app: FastifyInstance, users: InstanceUsers): void {
  app.get<{ Querystring: { resource?: string } }>("/.well-known/webfinger", async (req, reply) => {
    const m = /^acct:([a-z0-9_.-]+)@(.+)$/i.exec(req.query.resource ?? "");
    if (!m || m[2] !== users.host() || !users.publicKeyOf(m[1])) return reply.code(404).send({});
    return reply.type("application/jrd+json").send({
      subject: req.query.resource,
      links: [{ rel: "self", type: "application/activity+json", href: users.actorUrl(m[1]) }],
    });
  });
  app.get<{ Params: { name: string } }>("/users/:name", async (req, reply) => {
    users.onActorFetch?.();
    const publicKey = users.publicKeyOf(req.params.name);
    if (!publicKey) return reply.code(404).send({});
    const id = users.actorUrl(req.params.name);
    const pq = users.mlDsaMultikeyOf?.(req.params.name);
    return reply.type("application/activity+json").send({
      "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
      id,
      type: "Person",
      preferredUsername: req.params.name,
      inbox: `${id}/inbox`,
      publicKey: { id: `${id}#main-key`, owner: id, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() },
      ...(pq ? { assertionMethod: [{ id: `${id}#pq-key`, type: "Multikey", controller: id, publicKeyMultibase: pq }] } : {}),
    });
  });
}
