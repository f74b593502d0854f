import fs from "node:fs";
import { createPrivateKey, randomBytes } from "node:crypto";
import { Command } from "commander";
import { Wallet } from "ethers";
import { HostAllowList } from "../../directory/host-allowlist";
import { startDirectoryServer } from "../../directory/server";
import type { InstanceIdentity } from "../../directory/client";
import { connectCheckpointContract, directoryKeyBytes32 } from "../../directory/checkpoint-contract";
import { encodePublicKey } from "../../directory/encoding";
import { publicKeyOf } from "../../directory/protocol";
import { makeProvider } from "../../client/chain";
import { Context, lifecycle } from "../context";
import { CliError } from "../errors";

function loadOrCreateKey(file: string): Uint8Array {
  if (!fs.existsSync(file)) fs.writeFileSync(file, Buffer.from(randomBytes(32)).toString("hex") + "\n", { mode: 0o600 });
  const text = fs.readFileSync(file, "utf8").trim();
  if (!/^[0-9a-f]{64}$/i.test(text)) throw new CliError("keystore", `${file} must hold a 32-byte hex ML-DSA-44 seed`);
  return new Uint8Array(Buffer.from(text, "hex"));
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * The actor's instance key (RFC 9421 signer), as JSON: `{"keyId": "https://host/users/bob#main-key",
 * "privateKeyPem": "-----BEGIN PRIVATE KEY-----…"}` for the Ed25519 key the actor document publishes,
 * or `{"keyId": "…#pq-key", "alg": "ml-dsa-44", "seed": "<64 hex>"}` for an ML-DSA-44 Multikey it
 * lists in assertionMethod (C2SP httpsig-pq).
 */
function loadInstanceKey(file: string, actor: string): InstanceIdentity {
  let parsed: { keyId?: unknown; privateKeyPem?: unknown; alg?: unknown; seed?: unknown };
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8")) as typeof parsed;
  } catch (e) {
    throw new CliError("keystore", `${file}: ${(e as Error).message}`);
  }
  if (typeof parsed.keyId === "string" && parsed.alg === "ml-dsa-44") {
    if (typeof parsed.seed !== "string" || !/^[0-9a-f]{64}$/i.test(parsed.seed)) {
      throw new CliError("keystore", `${file}: an ml-dsa-44 instance key holds "seed", 32 bytes in hex`);
    }
    return { actor, signer: { keyId: parsed.keyId, alg: "ml-dsa-44", seed: new Uint8Array(Buffer.from(parsed.seed, "hex")) } };
  }
  if (typeof parsed.keyId !== "string" || typeof parsed.privateKeyPem !== "string") {
    throw new CliError("keystore", `${file} must hold {"keyId", "privateKeyPem"} (Ed25519) or {"keyId", "alg": "ml-dsa-44", "seed"} (the instance's key for this actor)`);
  }
  try {
    const privateKey = createPrivateKey(parsed.privateKeyPem);
    if (privateKey.asymmetricKeyType !== "ed25519") throw new Error("not an Ed25519 key");
    return { actor, signer: { keyId: parsed.keyId, privateKey } };
  } catch (e) {
    throw new CliError("keystore", `${file}: ${(e as Error).message}`);
  }
}

export function directoryCommand(): Command {
  const dir = new Command("directory").description("the key-transparency directory: serve it, publish/resolve reader keys");

  dir
    .command("serve")
    .description("serve the directory over HTTP, checkpointing to the DirectoryCheckpoint contract with --contract")
    .requiredOption("--database <path-or-url>", "SQLite file (embedded default) or postgres://user:pass@host:port/db (production; several servers may share it)")
    .requiredOption("--key-file <path>", "directory key file: a 32-byte ML-DSA-44 seed (hex), created if missing")
    .option("--name <url>", "directory name bound into tree heads", "http://127.0.0.1:8080")
    .option("--host <host>", "listen address", "127.0.0.1")
    .option("--port <port>", "listen port", "8080")
    .option("--operator <actor>", "actor allowed to BurnDown (repeatable)", collect, [] as string[])
    .option("--peer <mldsa44-key>", "directory trusted for Checkpoint messages, mldsa44:<base64url> (repeatable)", collect, [] as string[])
    .option("--contract <address>", "DirectoryCheckpoint address (checkpoints sent via --rpc-url)")
    .option("--wallet-key-env <name>", "environment variable holding the checkpoint wallet's private key", "NKMS_DIRECTORY_WALLET_KEY")
    .option("--checkpoint-interval <seconds>", "seconds between checkpoints", "60")
    .option("--insecure-actors", "TEST ONLY: accept http:// actors and instances on loopback/private addresses")
    .option("--witness <id=key>", "witness whose cosignatures are accepted, ID=mldsa44:<base64url> or ID=ed25519:<base64url> (repeatable)", collect, [] as string[])
    .option("--allowed-host <host[:port]>", "Host header answered (repeatable; default: the --name host and loopback; others get 421)", collect, [] as string[])
    .action(async (opts: { database: string; keyFile: string; name: string; host: string; port: string; operator: string[]; peer: string[]; contract?: string; walletKeyEnv: string; checkpointInterval: string; insecureActors?: boolean; witness: string[]; allowedHost: string[] }, c: Command) => {
      const ctx = new Context(c);
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError("usage", "--port must be 0..65535");
      let checkpoint;
      if (opts.contract) {
        const walletKey = ctx.env[opts.walletKeyEnv];
        if (!walletKey) throw new CliError("keystore", `set ${opts.walletKeyEnv} to the checkpoint wallet's private key`);
        const wallet = new Wallet(walletKey, makeProvider(ctx.rpcUrl));
        checkpoint = {
          contract: connectCheckpointContract(opts.contract, wallet),
          intervalMs: Number(opts.checkpointInterval) * 1000,
          onError: (err: unknown) => process.stderr.write(`checkpoint failed: ${(err as Error).message}\n`),
        };
      }
      try {
        new HostAllowList(opts.allowedHost, opts.name);
      } catch (err) {
        throw new CliError("usage", (err as Error).message);
      }
      const signingKey = loadOrCreateKey(opts.keyFile);
      // The key part (`alg:base64url`) has no '=', so the last one separates ID and key.
      const witnesses: Record<string, string> = {};
      for (const w of opts.witness) {
        const at = w.lastIndexOf("=");
        if (at <= 0) throw new CliError("usage", "--witness is ID=mldsa44:<key> or ID=ed25519:<key>");
        witnesses[w.slice(0, at)] = w.slice(at + 1);
      }
      lifecycle.keepAlive = true;
      const server = await startDirectoryServer({
        database: opts.database, name: opts.name, signingKey, operators: opts.operator, peers: opts.peer, host: opts.host, port, checkpoint,
        allowInsecureActors: opts.insecureActors === true, witnesses, allowedHosts: opts.allowedHost,
      });
      process.stdout.write(
        JSON.stringify({
          event: "listening",
          url: server.url,
          publicKey: encodePublicKey(publicKeyOf(signingKey)),
          // C2SP tlog-tiles: the log's prefix and the signed-note verifier key clients pin.
          tlog: `${server.url}/tlog`,
          checkpointKey: server.noteSigner?.verifierKey,
        }) + "\n",
      );
      const shutdown = (): void => void server.close().then(() => process.exit(0));
      process.once("SIGINT", shutdown);
      process.once("SIGTERM", shutdown);
    });

  dir
    .command("key")
    .description("print the directory's ML-DSA-44 public key and its SHA-256 (bytes32, for the DirectoryCheckpoint deployment), creating the key file if needed")
    .requiredOption("--key-file <path>", "directory key file: a 32-byte ML-DSA-44 seed (hex)")
    .action((opts: { keyFile: string }, c: Command) => {
      const pk = publicKeyOf(loadOrCreateKey(opts.keyFile));
      new Context(c).print({ "public-key": encodePublicKey(pk), bytes32: directoryKeyBytes32(pk) });
    });

  const withDirectory = (c: Command) =>
    c.requiredOption("--directory <url>", "directory URL").requiredOption("--actor <actor>", "your ActivityPub actor ID, e.g. https://example.org/users/bob");
  const withInstance = (c: Command) =>
    withDirectory(c).requiredOption("--instance-key <file>", "your instance's signing key for this actor (JSON keyId + privateKeyPem, or keyId + alg ml-dsa-44 + seed)");

  withInstance(dir.command("publish").description("publish your reader keys under your actor (first key self-signed, vouched for by your instance)")).action(
    async (opts: { directory: string; actor: string; instanceKey: string }, c: Command) => {
      const ctx = new Context(c);
      const instance = loadInstanceKey(opts.instanceKey, opts.actor);
      const client = await ctx.client();
      const r = await client.readerDirectory(opts.directory).publish(opts.actor, client.keys!, instance);
      ctx.print({ actor: opts.actor, ...r, ...client.keys!.readerKeys() });
    },
  );

  dir
    .command("lookup")
    .description("resolve an actor's reader keys, verified against the on-chain checkpoint")
    .argument("<actor>")
    .requiredOption("--directory <url>", "directory URL")
    .option("--out <file>", "write the reader keys JSON (usable as `nkms share --reader <file>`)")
    .action(async (actor: string, opts: { directory: string; out?: string }, c: Command) => {
      const ctx = new Context(c);
      const client = await ctx.client({ keys: false });
      const r = await client.readerDirectory(opts.directory).resolve(actor);
      if (opts.out) fs.writeFileSync(opts.out, JSON.stringify(r.keys, null, 2) + "\n");
      ctx.print({ actor, ...r.keys, leafIndex: r.leafIndex, treeSize: r.treeSize });
    });

  withInstance(dir.command("revoke").description("withdraw your published reader keys")).action(async (opts: { directory: string; actor: string; instanceKey: string }, c: Command) => {
    const ctx = new Context(c);
    const instance = loadInstanceKey(opts.instanceKey, opts.actor);
    const client = await ctx.client();
    await client.readerDirectory(opts.directory).revoke(opts.actor, client.keys!, instance);
    ctx.print({ actor: opts.actor, revoked: true });
  });

  withDirectory(dir.command("erase").description("crypto-shred all of your actor's records")).action(async (opts: { directory: string; actor: string }, c: Command) => {
    const ctx = new Context(c);
    const client = await ctx.client();
    const shredded = await client.readerDirectory(opts.directory).erase(opts.actor, client.keys!);
    ctx.print({ actor: opts.actor, recordsShredded: shredded });
  });

  return dir;
}
