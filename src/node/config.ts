import { readFileSync } from "node:fs";
import { availableParallelism, homedir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CHAIN_TIMEOUT_MS } from "./chain-timeout";
import { HTTP_DEFAULTS } from "./http";

/** Everything runNode needs. Addresses of the deployed contracts are required. */
export interface NodeConfig {
  keystorePath: string;
  /** Keystore password; when absent runNode reads NKMS_KEYSTORE_PASSWORD, then prompts. */
  password?: string;
  dataDir: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** URL published on-chain; defaults to http://host:port once listening. */
  publicUrl?: string;
  rpcUrl: string;
  stakingEscrow: string;
  policyManager: string;
  workers: number;
  maxQueuedCapsules: number;
  maxBatch: number;
  bodyLimit: number;
  maxClockSkewSeconds: number;
  /** HTTP limits against slow or numerous clients (src/node/http.ts HTTP_DEFAULTS). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  /** Bound on each chain read while serving; past it requests get 503 CHAIN_UNAVAILABLE. */
  chainTimeoutMs: number;
  revocationPollMs: number;
  sweepIntervalMs: number;
  /** Register or update the endpoint and keys on-chain when they differ. */
  register: boolean;
  /** The staker to serve when this operator is not bonded yet and several stakers proposed it. */
  staker?: string;
  logLevel: string;
  /** HealthCheck contract; when set the agent runs the health-check duty (src/node/health/duty.ts). */
  healthCheck?: string;
  healthPollMs: number;
  /** Per-request timeout of the health probes (a target slower than this fails reachability). */
  healthProbeTimeoutMs: number;
}

export const DEFAULTS: Omit<NodeConfig, "stakingEscrow" | "policyManager"> = {
  keystorePath: join(homedir(), ".nkms", "operator.json"),
  dataDir: join(homedir(), ".nkms", "node"),
  host: "127.0.0.1",
  port: 9151,
  rpcUrl: "http://127.0.0.1:8545",
  workers: availableParallelism(),
  maxQueuedCapsules: 4096,
  maxBatch: 64,
  bodyLimit: 64 * 1024,
  maxClockSkewSeconds: 300,
  ...HTTP_DEFAULTS,
  chainTimeoutMs: DEFAULT_CHAIN_TIMEOUT_MS,
  revocationPollMs: 2000,
  sweepIntervalMs: 60_000,
  register: true,
  logLevel: "info",
  healthPollMs: 5000,
  healthProbeTimeoutMs: 5000,
};

/** Environment variable for each setting (NKMS_NODE_*), plus the shared ones. */
const ENV: Record<keyof NodeConfig, string> = {
  keystorePath: "NKMS_NODE_KEYSTORE",
  password: "NKMS_KEYSTORE_PASSWORD",
  dataDir: "NKMS_NODE_DATA_DIR",
  host: "NKMS_NODE_HOST",
  port: "NKMS_NODE_PORT",
  publicUrl: "NKMS_NODE_PUBLIC_URL",
  rpcUrl: "NKMS_RPC_URL",
  stakingEscrow: "NKMS_STAKING_ESCROW",
  policyManager: "NKMS_POLICY_MANAGER",
  workers: "NKMS_NODE_WORKERS",
  maxQueuedCapsules: "NKMS_NODE_MAX_QUEUED",
  maxBatch: "NKMS_NODE_MAX_BATCH",
  bodyLimit: "NKMS_NODE_BODY_LIMIT",
  maxClockSkewSeconds: "NKMS_NODE_MAX_SKEW",
  headersTimeoutMs: "NKMS_NODE_HEADERS_TIMEOUT_MS",
  requestTimeoutMs: "NKMS_NODE_REQUEST_TIMEOUT_MS",
  idleTimeoutMs: "NKMS_NODE_IDLE_TIMEOUT_MS",
  keepAliveTimeoutMs: "NKMS_NODE_KEEPALIVE_TIMEOUT_MS",
  maxConnections: "NKMS_NODE_MAX_CONNECTIONS",
  chainTimeoutMs: "NKMS_NODE_CHAIN_TIMEOUT_MS",
  revocationPollMs: "NKMS_NODE_POLL_MS",
  sweepIntervalMs: "NKMS_NODE_SWEEP_MS",
  register: "NKMS_NODE_REGISTER",
  staker: "NKMS_NODE_STAKER",
  logLevel: "NKMS_LOG_LEVEL",
  healthCheck: "NKMS_HEALTH_CHECK",
  healthPollMs: "NKMS_HEALTH_POLL_MS",
  healthProbeTimeoutMs: "NKMS_HEALTH_PROBE_TIMEOUT_MS",
};

const NUMERIC = new Set<keyof NodeConfig>([
  "port", "workers", "maxQueuedCapsules", "maxBatch", "bodyLimit", "maxClockSkewSeconds", "revocationPollMs", "sweepIntervalMs",
  "healthPollMs", "healthProbeTimeoutMs", "headersTimeoutMs", "requestTimeoutMs", "idleTimeoutMs", "keepAliveTimeoutMs",
  "maxConnections", "chainTimeoutMs",
]);
const BOOLEAN = new Set<keyof NodeConfig>(["register"]);

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function coerce(key: keyof NodeConfig, value: unknown, source: string): unknown {
  if (value === undefined) return undefined;
  if (NUMERIC.has(key)) {
    const n = typeof value === "number" ? value : Number(value);
    if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${key} from ${source} must be a non-negative integer`);
    return n;
  }
  if (BOOLEAN.has(key)) {
    if (typeof value === "boolean") return value;
    if (value === "true" || value === "1") return true;
    if (value === "false" || value === "0") return false;
    throw new ConfigError(`${key} from ${source} must be true or false`);
  }
  if (typeof value !== "string") throw new ConfigError(`${key} from ${source} must be a string`);
  return value;
}

/** Contract addresses from an Ignition deployment's deployed_addresses.json. */
export function addressesFromIgnition(file: string): Partial<NodeConfig> {
  const json = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  const find = (name: string) => Object.entries(json).find(([k]) => k.endsWith(`#${name}`))?.[1];
  return { stakingEscrow: find("StakingEscrow"), policyManager: find("PolicyManager"), healthCheck: find("HealthCheck") };
}

/**
 * Merges settings: flags override the environment, which overrides the JSON config file
 * (`configFile`, or NKMS_NODE_CONFIG), which overrides the defaults.
 */
export function loadNodeConfig(
  flags: Partial<Record<keyof NodeConfig, unknown>> & { configFile?: string; deployment?: string } = {},
  env: NodeJS.ProcessEnv = process.env,
): NodeConfig {
  const merged: Record<string, unknown> = { ...DEFAULTS };
  const configFile = flags.configFile ?? env.NKMS_NODE_CONFIG;
  if (configFile) {
    let file: Record<string, unknown>;
    try {
      file = JSON.parse(readFileSync(configFile, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(e as Error).message}`);
    }
    for (const [k, v] of Object.entries(file)) {
      if (!(k in ENV)) throw new ConfigError(`unknown setting "${k}" in ${configFile}`);
      merged[k] = coerce(k as keyof NodeConfig, v, configFile);
    }
  }
  const deployment = flags.deployment ?? env.NKMS_DEPLOYMENT;
  if (deployment) Object.assign(merged, addressesFromIgnition(deployment));
  for (const [k, name] of Object.entries(ENV) as [keyof NodeConfig, string][]) {
    const v = coerce(k, env[name], name);
    if (v !== undefined && v !== "") merged[k] = v;
  }
  for (const k of Object.keys(ENV) as (keyof NodeConfig)[]) {
    const v = coerce(k, flags[k], `--${k}`);
    if (v !== undefined) merged[k] = v;
  }
  for (const k of ["stakingEscrow", "policyManager"] as const) {
    if (typeof merged[k] !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(merged[k] as string)) {
      throw new ConfigError(`${k} address is required (flag, ${ENV[k]}, config file or --deployment)`);
    }
  }
  for (const k of ["headersTimeoutMs", "requestTimeoutMs", "maxConnections", "chainTimeoutMs"] as const) {
    if (merged[k] === 0) throw new ConfigError(`${k} (${ENV[k]}) must be positive`);
  }
  if ((merged.headersTimeoutMs as number) > (merged.requestTimeoutMs as number)) {
    throw new ConfigError(`headersTimeoutMs (${ENV.headersTimeoutMs}) must not exceed requestTimeoutMs (${ENV.requestTimeoutMs})`);
  }
  if (merged.healthCheck !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(String(merged.healthCheck))) {
    throw new ConfigError(`healthCheck must be an address (${ENV.healthCheck})`);
  }
  if (merged.staker !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(String(merged.staker))) {
    throw new ConfigError(`staker must be an address (${ENV.staker})`);
  }
  return merged as unknown as NodeConfig;
}
