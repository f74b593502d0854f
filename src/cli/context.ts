/**
 * What every command shares: global options + environment (NKMS_RPC_URL, NKMS_DEPLOYMENT,
 * NKMS_KEYSTORE, NKMS_KEYSTORE_PASSWORD, NKMS_HOME), the user's keys, the SDK client, output.
 */
import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { connect, defaultHome, type NkmsClient } from "../client/client";
import { loadUserKeys, type UserKeys } from "../client/identity";
import { promptPassword } from "../node/keys";
import { CliError } from "./errors";

export interface GlobalOptions {
  rpcUrl?: string;
  deployment?: string;
  keystore?: string;
  home?: string;
  storage?: string;
  json?: boolean;
  timeout?: string;
  /** --progress / --no-progress; undefined: bars only on a terminal. */
  progress?: boolean;
}

/** Set by long-running commands (node run, directory serve) so main() does not exit after them. */
export const lifecycle = { keepAlive: false };

export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";

export class Context {
  readonly opts: GlobalOptions;
  private clients: NkmsClient[] = [];

  constructor(command: Command, readonly env: NodeJS.ProcessEnv = process.env) {
    this.opts = command.optsWithGlobals<GlobalOptions>();
  }

  get json(): boolean {
    return this.opts.json === true;
  }

  /** Whether to draw progress bars: forced on or off, or undefined (only when stderr is a terminal). */
  get progress(): boolean | undefined {
    return this.opts.progress;
  }

  get home(): string {
    return this.opts.home ?? defaultHome(this.env);
  }

  get rpcUrl(): string {
    return this.opts.rpcUrl ?? this.env.NKMS_RPC_URL ?? DEFAULT_RPC_URL;
  }

  get deploymentFile(): string | undefined {
    return this.opts.deployment ?? this.env.NKMS_DEPLOYMENT;
  }

  keysDir(): string {
    return path.join(this.home, "keys");
  }

  keystorePath(): string {
    return this.opts.keystore ?? this.env.NKMS_KEYSTORE ?? path.join(this.keysDir(), "default.json");
  }

  async password(question = "Keystore password: "): Promise<string> {
    const fromEnv = this.env.NKMS_KEYSTORE_PASSWORD;
    if (fromEnv !== undefined) return fromEnv;
    try {
      return await promptPassword(question);
    } catch (e) {
      throw new CliError("keystore", (e as Error).message);
    }
  }

  async keys(): Promise<UserKeys> {
    const file = this.keystorePath();
    if (!fs.existsSync(file)) throw new CliError("keystore", `no keystore at ${file} (create one with \`nkms keys create\`)`);
    return loadUserKeys(file, await this.password());
  }

  timeoutMs(): number | undefined {
    if (this.opts.timeout === undefined) return undefined;
    const n = Number(this.opts.timeout);
    if (!Number.isInteger(n) || n <= 0) throw new CliError("usage", "--timeout must be a positive number of milliseconds");
    return n;
  }

  async client(options: { keys?: boolean } = {}): Promise<NkmsClient> {
    const keys = options.keys === false ? undefined : await this.keys();
    const client = await connect({
      rpcUrl: this.rpcUrl,
      deploymentFile: this.deploymentFile,
      home: this.home,
      storage: this.opts.storage,
      keys,
      nodeTimeoutMs: this.timeoutMs(),
    });
    this.clients.push(client);
    return client;
  }

  close(): void {
    for (const c of this.clients) c.close();
  }

  /** Prints a result: JSON with --json, else `human(result)` (or key: value lines). */
  print<T extends object>(result: T, human?: (r: T) => string): void {
    if (this.json) {
      process.stdout.write(toJson(result) + "\n");
      return;
    }
    const text = human ? human(result) : Object.entries(result).map(([k, v]) => `${k}: ${typeof v === "object" ? toJson(v) : String(v)}`).join("\n");
    if (text) process.stdout.write(text + "\n");
  }
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}
