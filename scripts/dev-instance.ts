// A stand-in Fediverse instance for trying the key directory on one machine (README, "Operator
// path"): it serves WebFinger (RFC 7033) and an ActivityPub actor document per user, publishing the
// user's Ed25519 key (publicKeyPem), which is what the directory fetches to check the RFC 9421
// signature on a publication. Like a real instance it holds its users' signing keys: each one is
// written to <key-dir>/<user>.instance-key.json ({keyId, privateKeyPem}, mode 0600), the file
// `nkms directory publish --instance-key` takes, and re-used when the script starts again.
// Plain http on loopback, so the directory must run with --insecure-actors: never for real use.
//
//   npx tsx scripts/dev-instance.ts --port 8090 --key-dir DIR bob [alice …]
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import Fastify from "fastify";

const { values, positionals } = parseArgs({
  options: { port: { type: "string", default: "8090" }, host: { type: "string", default: "127.0.0.1" }, "key-dir": { type: "string" } },
  allowPositionals: true,
});
const keyDir = values["key-dir"];
if (!keyDir || positionals.length === 0 || positionals.some((u) => !/^[a-z0-9_.-]+$/i.test(u))) {
  process.stderr.write("usage: dev-instance.ts [--host H] [--port P] --key-dir DIR USER [USER …]\n");
  process.exit(2);
}

async function main(): Promise<void> {
  const host = values.host!;
  const port = Number(values.port);
  const origin = `http://${host}:${port}`;
  const actorUrl = (name: string): string => `${origin}/users/${name}`;
  fs.mkdirSync(keyDir!, { recursive: true, mode: 0o700 });

  const users = new Map<string, KeyObject>();
  for (const name of positionals) {
    const file = path.join(keyDir!, `${name}.instance-key.json`);
    let privateKey: KeyObject;
    if (fs.existsSync(file)) {
      privateKey = createPrivateKey((JSON.parse(fs.readFileSync(file, "utf8")) as { privateKeyPem: string }).privateKeyPem);
    } else {
      privateKey = generateKeyPairSync("ed25519").privateKey;
      const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
      fs.writeFileSync(file, JSON.stringify({ keyId: `${actorUrl(name)}#main-key`, privateKeyPem: pem }, null, 2) + "\n", { mode: 0o600 });
    }
    users.set(name, createPublicKey(privateKey));
  }

  const app = Fastify({ logger: false });
  app.get<{ Querystring: { resource?: string } }>("/.well-known/webfinger", async (req, reply) => {
    const m = /^acct:([a-z0-9_.-]+)@(.+)$/i.exec(req.query.resource ?? "");
    if (!m || m[2] !== `${host}:${port}` || !users.has(m[1])) return reply.code(404).send({});
    return reply.type("application/jrd+json").send({
      subject: req.query.resource,
      links: [{ rel: "self", type: "application/activity+json", href: actorUrl(m[1]) }],
    });
  });
  app.get<{ Params: { name: string } }>("/users/:name", async (req, reply) => {
    const publicKey = users.get(req.params.name);
    if (!publicKey) return reply.code(404).send({});
    const id = actorUrl(req.params.name);
    return reply.type("application/activity+json").send({
      "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
      id,
      type: "Person",
      preferredUsername: req.params.name,
      inbox: `${id}/inbox`,
      publicKey: { id: `${id}#main-key`, owner: id, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() },
    });
  });
  await app.listen({ host, port });
  process.stdout.write(JSON.stringify({ event: "listening", url: origin, actors: Object.fromEntries(positionals.map((u) => [u, actorUrl(u)])) }) + "\n");
  const stop = (): void => void app.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`dev-instance: ${(e as Error).message}\n`);
  process.exit(1);
});
