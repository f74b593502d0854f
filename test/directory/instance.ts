// A real (minimal) ActivityPub instance on loopback for identity-binding tests: WebFinger
// (RFC 7033) and actor documents that publish each user's Ed25519 key (publicKeyPem), as the
// directory fetches them to verify RFC 9421 signatures. The instance holds its users' keys, as a
// Fediverse server does, and signs on their behalf.
import { generateKeyPairSync, KeyObject } from "node:crypto";
import fs from "node:fs";
import Fastify, { FastifyInstance } from "fastify";
import { randomBytes } from "node:crypto";
import type { InstanceIdentity } from "../../src/directory/client";
import type { Ed25519HttpSigner, MlDsa44HttpSigner } from "../../src/directory/http-signature";
import { mlDsaPublicKey } from "../../src/directory/mldsa";
import { encodeMlDsa44Multikey } from "../../src/directory/multikey";
import { serveInstanceRoutes } from "../../scripts/instance-routes";

export interface TestInstance {
  /** http://127.0.0.1:PORT */
  origin: string;
  host: string;
  actor(name: string): string;
  keyId(name: string): string;
  /** The instance's signer for `name` (creates the user on first use). */
  identity(name: string): InstanceIdentity & { signer: Ed25519HttpSigner };
  /** The instance's ML-DSA-44 signer for `name` (C2SP httpsig-pq; published as `#pq-key`). */
  pqIdentity(name: string): InstanceIdentity & { signer: MlDsa44HttpSigner };
  /** Writes the CLI's --instance-key file for `name`. */
  writeKeyFile(name: string, file: string): void;
  /** Writes the CLI's --instance-key file for `name`'s ML-DSA-44 key (alg ml-dsa-44, hex seed). */
  writePqKeyFile(name: string, file: string): void;
  /** Replaces a user's published key (key rotation, or a compromised instance). */
  rotate(name: string): void;
  /** Requests for actor documents served so far. */
  fetches: number;
  close(): Promise<void>;
}

export async function startInstance(): Promise<TestInstance> {
  const keys = new Map<string, { privateKey: KeyObject; publicKey: KeyObject }>();
  const app: FastifyInstance = Fastify({ logger: false });
  let origin = "";
  const actorUrl = (name: string): string => `${origin}/users/${name}`;
  const keyFor = (name: string) => {
    let k = keys.get(name);
    if (!k) {
      k = generateKeyPairSync("ed25519");
      keys.set(name, k);
    }
    return k;
  };
  const state = { fetches: 0 };
  const pqSeeds = new Map<string, Uint8Array>();

  const pqIdentity = (name: string): InstanceIdentity & { signer: MlDsa44HttpSigner } => {
    keyFor(name);
    let seed = pqSeeds.get(name);
    if (!seed) {
      seed = new Uint8Array(randomBytes(32));
      pqSeeds.set(name, seed);
    }
    return { actor: actorUrl(name), signer: { keyId: `${actorUrl(name)}#pq-key`, alg: "ml-dsa-44", seed } };
  };

  serveInstanceRoutes(app, {
    host: () => new URL(origin).host,
    actorUrl,
    publicKeyOf: (name) => keys.get(name)?.publicKey,
    mlDsaMultikeyOf: (name) => {
      const seed = pqSeeds.get(name);
      return seed ? encodeMlDsa44Multikey(mlDsaPublicKey(seed)) : undefined;
    },
    onActorFetch: () => void state.fetches++,
  });
  origin = (await app.listen({ host: "127.0.0.1", port: 0 })).replace("localhost", "127.0.0.1");
  return {
    origin,
    host: new URL(origin).host,
    actor: actorUrl,
    keyId: (name) => `${actorUrl(name)}#main-key`,
    identity(name) {
      return { actor: actorUrl(name), signer: { keyId: `${actorUrl(name)}#main-key`, privateKey: keyFor(name).privateKey } };
    },
    writeKeyFile(name, file) {
      const pem = keyFor(name).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
      fs.writeFileSync(file, JSON.stringify({ keyId: `${actorUrl(name)}#main-key`, privateKeyPem: pem }));
    },
    pqIdentity: (name) => pqIdentity(name),
    writePqKeyFile(name, file) {
      const { signer } = pqIdentity(name);
      fs.writeFileSync(file, JSON.stringify({ keyId: signer.keyId, alg: "ml-dsa-44", seed: Buffer.from(signer.seed).toString("hex") }));
    },
    rotate(name) {
      keys.set(name, generateKeyPairSync("ed25519"));
    },
    get fetches() {
      return state.fetches;
    },
    close: () => app.close(),
  };
}
