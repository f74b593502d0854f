import { Command } from "commander";
import { createKeystore, deriveNodeKeys, loadKeystore } from "../../node/keys";
import { DEFAULTS, loadNodeConfig, type NodeConfig } from "../../node/config";
import { runNode } from "../../node/node";
import { Context, lifecycle } from "../context";
import { CliError } from "../errors";

function flagsFrom(opts: Record<string, unknown>): Partial<Record<keyof NodeConfig, unknown>> & { configFile?: string; deployment?: string } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) out[k === "config" ? "configFile" : k] = v;
  return out;
}

export function nodeCommand(): Command {
  const node = new Command("node").description("run and manage a node agent (the operator side)");

  node
    .command("run")
    .description("start the node agent (prints one JSON line when listening; stops on SIGINT/SIGTERM)")
    .option("--config <file>", "JSON config file (env NKMS_NODE_CONFIG)")
    .option("--keystore-path <file>", `operator keystore (default ${DEFAULTS.keystorePath})`)
    .option("--data-dir <dir>", "where the SQLite store lives")
    .option("--host <host>", "listen address")
    .option("--port <port>", "listen port (0 = any free port)")
    .option("--public-url <url>", "endpoint to publish on-chain")
    .option("--staking-escrow <address>", "StakingEscrow address")
    .option("--policy-manager <address>", "PolicyManager address")
    .option("--workers <n>", "re-encryption worker threads")
    .option("--no-register", "do not register/update the endpoint on-chain")
    .option("--log-level <level>", "pino log level")
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const ctx = new Context(cmd);
      const flags = flagsFrom(opts);
      if (opts.register === true) delete flags.register;
      if (ctx.opts.rpcUrl) flags.rpcUrl = ctx.opts.rpcUrl;
      if (ctx.deploymentFile) flags.deployment = ctx.deploymentFile;
      const config = loadNodeConfig(flags);
      if (config.password === undefined) config.password = await ctx.password("Operator keystore password: ");
      const running = await runNode(config);
      lifecycle.keepAlive = true;
      const stop = async () => {
        await running.close();
        process.exit(0);
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      process.stdout.write(JSON.stringify({ event: "listening", url: running.url, staker: running.staker, operator: running.operator }) + "\n");
      // Keep running: the action returns, the HTTP server holds the process open.
    });

  node
    .command("init")
    .description("create an encrypted operator keystore (password from NKMS_KEYSTORE_PASSWORD or a prompt)")
    .requiredOption("--keystore-path <file>", "where to write the keystore")
    .option("--private-key <hex>", "import this key instead of generating one")
    .action(async (opts: { keystorePath: string; privateKey?: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      const password = await ctx.password("New operator keystore password: ");
      if (!password) throw new CliError("keystore", "refusing an empty keystore password");
      try {
        const address = await createKeystore(opts.keystorePath, password, opts.privateKey);
        ctx.print({ operator: address, keystore: opts.keystorePath });
      } catch (e) {
        throw new CliError("keystore", `cannot create ${opts.keystorePath}: ${(e as Error).message}`);
      }
    });

  node
    .command("keys")
    .description("print the operator address and the node's derived Umbral public keys")
    .requiredOption("--keystore-path <file>", "operator keystore")
    .action(async (opts: { keystorePath: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      let wallet;
      try {
        wallet = await loadKeystore(opts.keystorePath, await ctx.password("Operator keystore password: "));
      } catch (e) {
        throw new CliError("keystore", `cannot unlock ${opts.keystorePath}: ${(e as Error).message}`);
      }
      const keys = deriveNodeKeys(wallet);
      const hex = (b: Uint8Array) => "0x" + Buffer.from(b).toString("hex");
      ctx.print({ operator: keys.operatorAddress, encryptingKey: hex(keys.encryptingKey.toCompressedBytes()), verifyingKey: hex(keys.stampKey.toCompressedBytes()) });
    });

  return node;
}
