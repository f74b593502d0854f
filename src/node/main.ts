import { Command } from "commander";
import { createKeystore, loadKeystore, deriveNodeKeys } from "./keys";
import { ConfigError, DEFAULTS, loadNodeConfig, type NodeConfig } from "./config";
import { StartupError, runNode } from "./node";
import { toHex } from "./bytes";

// `npm run node -- run [flags]` / `tsx src/node/main.ts run`. The `nkms node` CLI wires the same
// runNode/loadNodeConfig.

function flagsFrom(opts: Record<string, unknown>): Partial<Record<keyof NodeConfig, unknown>> & { configFile?: string; deployment?: string } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) out[k === "config" ? "configFile" : k] = v;
  return out;
}

const program = new Command("nkms-node").description("NKMS node agent");

program
  .command("run")
  .description("start the node agent")
  .option("--config <file>", "JSON config file (env NKMS_NODE_CONFIG)")
  .option("--deployment <file>", "Ignition deployed_addresses.json to take contract addresses from")
  .option("--keystore-path <file>", `operator keystore (default ${DEFAULTS.keystorePath})`)
  .option("--data-dir <dir>", "where the SQLite store lives")
  .option("--host <host>", "listen address")
  .option("--port <port>", "listen port (0 = any free port)")
  .option("--public-url <url>", "endpoint to publish on-chain")
  .option("--rpc-url <url>", "JSON-RPC endpoint")
  .option("--staking-escrow <address>", "StakingEscrow address")
  .option("--policy-manager <address>", "PolicyManager address")
  .option("--workers <n>", "re-encryption worker threads")
  .option("--no-register", "do not register/update the endpoint on-chain")
  .option("--log-level <level>", "pino log level")
  .action(async (opts: Record<string, unknown>) => {
    const flags = flagsFrom(opts);
    if (opts.register === true) delete flags.register;
    const node = await runNode(loadNodeConfig(flags));
    const stop = async () => {
      await node.close();
      process.exit(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    // Machine-readable line for supervisors and tests.
    process.stdout.write(JSON.stringify({ event: "listening", url: node.url, staker: node.staker, operator: node.operator }) + "\n");
  });

program
  .command("init")
  .description("create an encrypted operator keystore (password from NKMS_KEYSTORE_PASSWORD)")
  .requiredOption("--keystore-path <file>", "where to write the keystore")
  .option("--private-key <hex>", "import this key instead of generating one")
  .action(async (opts: { keystorePath: string; privateKey?: string }) => {
    const password = process.env.NKMS_KEYSTORE_PASSWORD;
    if (!password) throw new ConfigError("set NKMS_KEYSTORE_PASSWORD");
    const address = await createKeystore(opts.keystorePath, password, opts.privateKey);
    process.stdout.write(JSON.stringify({ operator: address, keystore: opts.keystorePath }) + "\n");
  });

program
  .command("keys")
  .description("print the operator address and the derived Umbral public keys")
  .requiredOption("--keystore-path <file>", "operator keystore")
  .action(async (opts: { keystorePath: string }) => {
    const keys = deriveNodeKeys(await loadKeystore(opts.keystorePath, process.env.NKMS_KEYSTORE_PASSWORD ?? ""));
    process.stdout.write(
      JSON.stringify({
        operator: keys.operatorAddress,
        encryptingKey: toHex(keys.encryptingKey.toCompressedBytes()),
        verifyingKey: toHex(keys.stampKey.toCompressedBytes()),
      }) + "\n",
    );
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  const code = e instanceof StartupError ? e.code : e instanceof ConfigError ? "CONFIG" : "ERROR";
  process.stderr.write(JSON.stringify({ event: "fatal", code, message: (e as Error).message }) + "\n");
  process.exit(e instanceof ConfigError ? 2 : 1);
});
