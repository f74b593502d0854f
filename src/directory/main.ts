// `npm run directory -- serve …`: runs the key-transparency directory (the lead wires this into
// `nkms directory serve`). The Ed25519 tree-head key lives in a file (created on first run);
// the checkpoint wallet's private key comes from the environment, never from argv.
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { Command } from "commander";
import { JsonRpcProvider, Wallet } from "ethers";
import { connectCheckpointContract } from "./checkpoint-contract";
import { encodePublicKey } from "./encoding";
import { publicKeyOf } from "./protocol";
import { startDirectoryServer } from "./server";

function loadOrCreateKey(file: string): Uint8Array {
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, Buffer.from(randomBytes(32)).toString("hex") + "\n", { mode: 0o600 });
  }
  const text = fs.readFileSync(file, "utf8").trim();
  if (!/^[0-9a-f]{64}$/i.test(text)) throw new Error(`${file} must hold a 32-byte hex Ed25519 secret key`);
  return new Uint8Array(Buffer.from(text, "hex"));
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const program = new Command("directory").description("NKMS key-transparency directory");

program
  .command("key")
  .description("print the directory's public key (hex, for the DirectoryCheckpoint constructor) creating the key file if needed")
  .requiredOption("--key-file <path>", "Ed25519 secret key file (hex)")
  .action((opts: { keyFile: string }) => {
    const pk = publicKeyOf(loadOrCreateKey(opts.keyFile));
    console.log(JSON.stringify({ "public-key": encodePublicKey(pk), bytes32: "0x" + Buffer.from(pk).toString("hex") }));
  });

program
  .command("serve")
  .description("serve the directory over HTTP, checkpointing to chain if --contract is given")
  .requiredOption("--database <path>", "SQLite file")
  .requiredOption("--key-file <path>", "Ed25519 secret key file (hex), created if missing")
  .option("--name <url>", "directory name bound into tree heads", "http://127.0.0.1:8080")
  .option("--host <host>", "listen address", "127.0.0.1")
  .option("--port <port>", "listen port", "8080")
  .option("--operator <actor>", "actor allowed to BurnDown (repeatable)", collect, [] as string[])
  .option("--peer <ed25519-key>", "directory trusted for Checkpoint messages (repeatable)", collect, [] as string[])
  .option("--rpc <url>", "Ethereum JSON-RPC URL for checkpoints")
  .option("--contract <address>", "DirectoryCheckpoint address")
  .option("--wallet-key-env <name>", "environment variable holding the checkpoint wallet's private key", "NKMS_DIRECTORY_WALLET_KEY")
  .option("--checkpoint-interval <seconds>", "seconds between checkpoints", "60")
  .action(async (opts: {
    database: string; keyFile: string; name: string; host: string; port: string; operator: string[]; peer: string[];
    rpc?: string; contract?: string; walletKeyEnv: string; checkpointInterval: string;
  }) => {
    let checkpoint;
    if (opts.contract) {
      if (!opts.rpc) throw new Error("--contract needs --rpc");
      const walletKey = process.env[opts.walletKeyEnv];
      if (!walletKey) throw new Error(`set ${opts.walletKeyEnv} to the checkpoint wallet's private key`);
      const wallet = new Wallet(walletKey, new JsonRpcProvider(opts.rpc));
      checkpoint = {
        contract: connectCheckpointContract(opts.contract, wallet),
        intervalMs: Number(opts.checkpointInterval) * 1000,
        onError: (err: unknown) => console.error("checkpoint failed:", err),
        onCheckpoint: (c: { treeSize: number }) => console.log(`checkpointed tree size ${c.treeSize}`),
      };
    }
    const server = await startDirectoryServer({
      database: opts.database,
      name: opts.name,
      signingKey: loadOrCreateKey(opts.keyFile),
      operators: opts.operator,
      peers: opts.peer,
      host: opts.host,
      port: Number(opts.port),
      logger: true,
      checkpoint,
    });
    console.log(`directory ${opts.name} listening on ${server.url}`);
    const shutdown = (): void => void server.close().then(() => process.exit(0));
    process.on("SIGINT", shutdown);
    process.on("SIGTERM", shutdown);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
