// A stand-in Fediverse instance for trying the key directory on one machine (README, "Operator
// path"): WebFinger and an actor document per user (scripts/instance-routes.ts). Like a real instance it holds its users' signing keys: each one is
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
import { serveInstanceRoutes } from "./instance-routes";

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
  serveInstanceRoutes(app, { host: () => `${host}:${port}`, actorUrl, publicKeyOf: (name) => users.get(name) });
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
