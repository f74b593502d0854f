/**
 * `nkms`: the command-line client. Every failure prints one line `nkms: <message>` on stderr and
 * exits with a code from errors.ts, so scripts can branch on it; `--json` makes stdout machine-readable
 * and the error one JSON object on stderr: {"error": {"code": <exit name>, "exit": <n>, "message"}}.
 */
import { Command, CommanderError } from "commander";
import { ClientError, RetrievalError, type ClientErrorCode } from "../client/errors";
import { StartupError } from "../node/node";
import { ConfigError } from "../node/config";
import { StorageError } from "../client/storage";
import { CliError, ExitCode, type ExitCodeName } from "./errors";
import { lifecycle } from "./context";
import { keysCommand } from "./commands/keys";
import { dataCommands } from "./commands/data";
import { policyCommands } from "./commands/policies";
import { nodeCommand } from "./commands/node";
import { stakeCommand } from "./commands/stake";
import { directoryCommand } from "./commands/directory";

const CLIENT_EXIT: Record<ClientErrorCode, ExitCodeName> = {
  BAD_INPUT: "usage",
  NOT_FOUND: "notFound",
  CHAIN: "chain",
  UNREACHABLE: "unreachable",
  DENIED: "denied",
  INTEGRITY: "integrity",
  KEYSTORE: "keystore",
  NOT_ENOUGH_NODES: "chain",
  THRESHOLD_NOT_MET: "unreachable",
  DIRECTORY: "unreachable",
  PARTIAL_DELIVERY: "partial",
  FUNDS: "funds",
};

/** The exit code and the one-line message for any error. */
export function classify(e: unknown): { exit: ExitCodeName; message: string } {
  if (e instanceof CliError) return { exit: e.exit, message: e.message };
  if (e instanceof RetrievalError) return { exit: e.revoked ? "denied" : "unreachable", message: e.message };
  if (e instanceof ClientError) return { exit: CLIENT_EXIT[e.code], message: e.message };
  if (e instanceof StorageError) return { exit: e.code === "not_found" ? "notFound" : e.code === "corrupt" ? "integrity" : "usage", message: e.message };
  if (e instanceof ConfigError) return { exit: "usage", message: e.message };
  if (e instanceof StartupError) {
    const exit: ExitCodeName =
      e.code === "KEYSTORE" ? "keystore"
      : e.code === "RPC" ? "unreachable"
      : e.code === "NO_ETH" ? "funds"
      : e.code === "DATA_DIR_BUSY" || e.code === "PORT_IN_USE" || e.code === "ENDPOINT_LIVE" ? "busy"
      : "chain";
    return { exit, message: e.message };
  }
  if (e instanceof CommanderError) return { exit: e.exitCode === 0 ? "ok" : "usage", message: e.message.replace(/^error: /, "") };
  const err = e as NodeJS.ErrnoException;
  if (err?.code === "ENOENT") return { exit: "notFound", message: err.message };
  if (err?.code === "EACCES" || err?.code === "EEXIST" || err?.code === "EISDIR" || err?.code === "ENOTDIR") return { exit: "usage", message: err.message };
  return { exit: "internal", message: `unexpected error: ${err?.stack ?? String(e)}` };
}

export function buildProgram(): Command {
  const program = new Command("nkms")
    .description("NKMS: decentralized key management — encrypt, share m-of-n through staked nodes, read, revoke")
    .version("0.1.0")
    .option("--rpc-url <url>", "chain JSON-RPC endpoint (env NKMS_RPC_URL, default http://127.0.0.1:8545)")
    .option("--deployment <file>", "Ignition deployed_addresses.json (env NKMS_DEPLOYMENT; default ./ignition/deployments/chain-<id>/…)")
    .option("--keystore <file>", "your encrypted keystore (env NKMS_KEYSTORE; default <home>/keys/default.json)")
    .option("--home <dir>", "local state: keys, policy records, objects, evidence (env NKMS_HOME, default ~/.nkms)")
    .option("--storage <dir>", "object storage directory (default <home>/objects)")
    .option("--timeout <ms>", "per-node timeout for kfrag delivery and retrieval; for an object URL, the wait for its response and any silence in its body (default 30000)")
    .option("--json", "machine-readable output on stdout")
    .option("--progress", "draw progress bars on stderr even when it is not a terminal")
    .option("--no-progress", "never draw progress bars")
    .showHelpAfterError(false);
  program.addCommand(keysCommand());
  for (const c of dataCommands()) program.addCommand(c);
  for (const c of policyCommands()) program.addCommand(c);
  program.addCommand(stakeCommand());
  program.addCommand(nodeCommand());
  program.addCommand(directoryCommand());

  // Usage errors come back as exceptions so they get the same one-line format and exit code.
  const quiet = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({ writeErr: (s) => (s.startsWith("error:") ? undefined : process.stderr.write(s)), outputError: () => undefined });
    cmd.commands.forEach(quiet);
  };
  quiet(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return ExitCode.ok;
  } catch (e) {
    const { exit, message } = classify(e);
    const line = message.split("\n")[0];
    // Under --json a script parses stderr too: the error is one JSON object there.
    if (exit !== "ok") {
      process.stderr.write(
        argv.includes("--json") ? JSON.stringify({ error: { code: exit, exit: ExitCode[exit], message: line } }) + "\n" : `nkms: ${line}\n`,
      );
    }
    if (exit === "internal" && process.env.NKMS_DEBUG) process.stderr.write(message + "\n");
    return ExitCode[exit];
  }
}

if (require.main === module || process.argv[1]?.endsWith("nkms.js") || process.argv[1]?.endsWith("nkms")) {
  void main(process.argv).then((code) => {
    // Long-running commands (node run, directory serve) keep the process alive themselves; the
    // others are done, whatever handles (RPC connections, timers) remain.
    if (code !== 0 || !lifecycle.keepAlive) process.exit(code);
  });
}
