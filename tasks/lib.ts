// What every task file needs: a stable-coded error, the deployment's addresses, the sending
// account, token amounts, and transactions whose reverts are decoded to the custom error.
// `operatorTask` defines a task whose expected errors print as ONE line (or one JSON object under
// --json) with an exit code from TASK_EXIT instead of Hardhat's "An unexpected error occurred" and
// a stack trace; only a bug (an error we did not expect) still gets Hardhat's full report.
import fs from "node:fs";
import path from "node:path";
import { extendEnvironment, task } from "hardhat/config";
import type { ActionType, HardhatRuntimeEnvironment, TaskArguments } from "hardhat/types";
import type { Interface, Signer } from "ethers";

/**
 * Exit codes of the tasks, the same numbers as the `nkms` CLI's (src/cli/errors.ts) where they
 * overlap; scripts branch on them, so they never change meaning (README, operator section).
 * 1 is an unexpected failure (a bug), reported by Hardhat with its stack trace.
 */
export const TASK_EXIT = { ok: 0, internal: 1, usage: 2, notFound: 3, chain: 4, unreachable: 5, funds: 9 } as const;
export type TaskExit = Exclude<keyof typeof TASK_EXIT, "ok" | "internal">;

/** The exit of the codes that are not "chain" (a contract, or the chain's state, refuses). */
const EXIT_OF: Record<string, TaskExit> = {
  BAD_ADDRESS: "usage", BAD_AMOUNT: "usage", BAD_KEY: "usage", BAD_KEY_PROOF: "usage", BAD_ROOT: "usage",
  BAD_PERIODS: "usage", BAD_POLICY_ID: "usage", BAD_ROUND: "usage", BAD_FIELD: "usage", BAD_JSON: "usage",
  NO_FILE: "usage", RATE_OUT_OF_RANGE: "usage",
  NO_DEPLOYMENT: "notFound", NO_CONTRACT: "notFound", WRONG_CHAIN: "notFound", UNKNOWN_POLICY: "notFound", NO_SIGNER: "notFound",
  UNREACHABLE: "unreachable",
  INSUFFICIENT_BALANCE: "funds", NO_ETH: "funds",
};

/** An operator-facing failure: printed as is, without a stack trace, with a stable code. */
export class TaskError extends Error {
  readonly exit: TaskExit;
  constructor(
    readonly code: string,
    message: string,
    exit?: TaskExit,
  ) {
    super(message);
    this.name = "TaskError";
    this.exit = exit ?? EXIT_OF[code] ?? "chain";
  }
}

/** Arguments of custom errors that are token amounts (18 decimals), printed in NKMS, not wei. */
const TOKEN_ARGS: Record<string, readonly number[]> = {
  StakeBelowMinimum: [0, 1], StakeAboveMaximum: [0, 1], InsufficientUnlocked: [0, 1], RewardAboveSlashed: [0, 1],
  RewardNotOwed: [0, 1], FeeRateOutOfRange: [0, 1, 2], InvalidFeeRateRange: [0, 1], AmountTooLarge: [0],
  CapExceeded: [0, 1], InvalidSupply: [0, 1], ERC20InsufficientBalance: [1, 2], ERC20InsufficientAllowance: [1, 2],
};

/**
 * The revert data somewhere in an error: ethers puts it in `data`, Hardhat's HTTP provider nests
 * it as `data.data` (an object where ethers expects a string: the old `parseError(e.data)` threw
 * "invalid BytesLike value"), others under `error`, `info.error` or `cause`.
 */
export function revertData(e: unknown, depth = 0): string | undefined {
  if (depth > 5 || e === null || e === undefined) return undefined;
  if (typeof e === "string") return /^0x[0-9a-fA-F]{8}(?:[0-9a-fA-F]{2})*$/.test(e) ? e : undefined;
  if (typeof e !== "object") return undefined;
  const o = e as Record<string, unknown>;
  for (const key of ["data", "error", "info", "cause", "value"]) {
    const found = revertData(o[key], depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** `Name(arg, …)` of a revert `interfaces` know, token amounts in NKMS; undefined if none does. */
export function decodeRevert(interfaces: readonly Interface[], data: string): { name: string; text: string } | undefined {
  for (const iface of interfaces) {
    let parsed;
    try {
      parsed = iface.parseError(data);
    } catch {
      continue; // the selector matched but the arguments do not decode: not this interface's error
    }
    if (!parsed) continue;
    const tokens = TOKEN_ARGS[parsed.name] ?? [];
    const args = [...parsed.args].map((a, i) => (tokens.includes(i) && typeof a === "bigint" ? `${formatUnits18(a)} NKMS` : String(a)));
    return { name: parsed.name, text: `${parsed.name}(${args.join(", ")})` };
  }
  return undefined;
}

function formatUnits18(v: bigint): string {
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const frac = (abs % 10n ** 18n).toString().padStart(18, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${abs / 10n ** 18n}${frac ? "." + frac : ".0"}`;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** True when `e` says the chain's JSON-RPC endpoint did not answer at all. */
function unreachable(e: unknown): boolean {
  const o = e as { number?: number; code?: string; cause?: unknown };
  if (o?.number === 108 || o?.code === "ECONNREFUSED" || o?.code === "NETWORK_ERROR" || o?.code === "ENOTFOUND") return true;
  return o?.cause !== undefined && o.cause !== e && unreachable(o.cause);
}

function networkUrl(hre: HardhatRuntimeEnvironment): string {
  const config = hre.network.config as { url?: string };
  return config.url ?? "the embedded chain";
}

/** The failure a transaction's error `e` stands for (a decoded revert, no ETH for gas, bad data), if expected. */
function expectedError(e: unknown, interfaces: readonly Interface[], what: string): TaskError | undefined {
  if (e instanceof TaskError) return e;
  const data = revertData(e);
  const decoded = data ? decodeRevert(interfaces, data) : undefined;
  if (decoded) return new TaskError(decoded.name, `${what} rejected: ${decoded.text}`);
  const message = messageOf(e);
  if ((e as { code?: string }).code === "INSUFFICIENT_FUNDS" || /doesn't have enough funds|insufficient funds/i.test(message)) {
    return new TaskError("NO_ETH", `the sending account has too little ETH to pay the gas of this ${what}: send it ETH first`);
  }
  if ((e as { code?: string }).code === "BAD_DATA") {
    return new TaskError("WRONG_CHAIN", `a contract answered with data it should not (${(e as { shortMessage?: string }).shortMessage ?? "bad data"}): is --network the chain of this deployment?`);
  }
  return undefined;
}

/** Contracts whose custom errors any task may meet (decoded when a task did not decode its own). */
const KNOWN_CONTRACTS = ["StakingEscrow", "PolicyManager", "HealthCheck", "NKMSToken", "Adjudicator", "LeakAdjudicator", "DirectoryCheckpoint"];

/**
 * The expected failure `e` stands for, or undefined when it is unexpected (a bug): an unreachable
 * chain, a revert of one of our contracts, an account without ETH for gas, a wrong chain.
 */
export function asTaskError(hre: HardhatRuntimeEnvironment, e: unknown): TaskError | undefined {
  if (e instanceof TaskError) return e;
  if (unreachable(e)) {
    return new TaskError("UNREACHABLE", `cannot reach network "${hre.network.name}" at ${networkUrl(hre)}: is the chain running? (--network selects another)`);
  }
  const interfaces = KNOWN_CONTRACTS.flatMap((name) => {
    try {
      return [new hre.ethers.Interface(hre.artifacts.readArtifactSync(name).abi)];
    } catch {
      return []; // not compiled: nothing to decode with
    }
  });
  return expectedError(e, interfaces, "transaction");
}

// How deep in hre.run we are: the CLI's own call is depth 1 (the entry task), a task run from a
// test or a script (`hre.run`) is deeper and keeps throwing, so its callers still catch it.
let runDepth = 0;
extendEnvironment((hre) => {
  const run = hre.run;
  (hre as { run: typeof run }).run = (async (...args: Parameters<typeof run>) => {
    runDepth++;
    try {
      return await run(...args);
    } finally {
      runDepth--;
    }
  }) as typeof run;
});

const jsonReplacer = (_key: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

/**
 * A task with `--json`, whose expected errors (TaskError, decoded reverts, unreachable chain, no
 * ETH for gas) end the CLI run with one line on stderr, `<CODE>: <message>` (under --json one
 * object `{"error": {code, message, exit}}`) and exit code TASK_EXIT[error.exit]. Under --json
 * stdout carries only `{"result": …}`; the human progress lines go to stderr.
 */
export function operatorTask(name: string, description: string): ReturnType<typeof task> {
  const t = task(name, description).addFlag("json", "Machine-readable output: the result on stdout, an error as JSON on stderr");
  const setAction = t.setAction.bind(t);
  t.setAction = (action: ActionType<TaskArguments>) =>
    setAction(async (args: TaskArguments, hre, runSuper) => {
      const entry = runDepth <= 1;
      const json = args.json === true && entry;
      const log = console.log;
      if (json) console.log = (...a: unknown[]) => console.error(...a);
      try {
        const result: unknown = await action(args, hre, runSuper);
        if (json) process.stdout.write(JSON.stringify({ result: result ?? null }, jsonReplacer) + "\n");
        return result;
      } catch (e) {
        const err = asTaskError(hre, e);
        if (!err) throw e; // a bug: Hardhat reports it with the stack trace
        if (!entry) throw err;
        const one = err.message.replace(/\s*\n\s*/g, " ");
        process.stderr.write(
          json ? JSON.stringify({ error: { code: err.code, message: one, exit: TASK_EXIT[err.exit] } }) + "\n" : `${err.code}: ${one}\n`,
        );
        process.exitCode = TASK_EXIT[err.exit];
        return undefined;
      } finally {
        console.log = log;
      }
    });
  return t;
}

/** Fails WRONG_CHAIN unless `probe` (a view only `kind` has) answers from the contract at `address`. */
export async function checkKind(hre: HardhatRuntimeEnvironment, kind: string, address: string, probe: () => Promise<unknown>): Promise<void> {
  try {
    await probe();
  } catch (e) {
    if (unreachable(e)) throw e;
    const { chainId } = await hre.ethers.provider.getNetwork();
    throw new TaskError(
      "WRONG_CHAIN",
      `the contract at ${address} on network "${hre.network.name}" (chain ${chainId}) is not a ${kind}: a deployment of another chain, or of a chain reset since? Check --network, or redeploy`,
    );
  }
}

/**
 * The network's Ignition deployed_addresses.json, or an empty record when there is none.
 * NKMS_DEPLOYMENT (the file the `nkms` CLI reads too) overrides it: a deployment made with
 * `ignition deploy --deployment-id ID` is not under chain-<id>.
 */
async function deployedAddresses(hre: HardhatRuntimeEnvironment): Promise<{ file: string; addresses: Record<string, string> }> {
  const { chainId } = await hre.ethers.provider.getNetwork();
  const file = process.env.NKMS_DEPLOYMENT
    ? path.resolve(process.env.NKMS_DEPLOYMENT)
    : path.join(hre.config.paths.root, "ignition", "deployments", `chain-${chainId}`, "deployed_addresses.json");
  const addresses = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>) : {};
  return { file, addresses };
}

/** Without --network a task runs on a fresh embedded chain that holds nothing: say so. */
function embedded(hre: HardhatRuntimeEnvironment): string {
  return hre.network.name === "hardhat"
    ? ": this ran on the embedded `hardhat` network, a fresh empty chain for this one command; pass --network localhost (or your network)"
    : "";
}

/**
 * `flag` if given, else the address Ignition recorded for `future` (e.g. "NKMS#StakingEscrow");
 * checks that a contract is there.
 */
export async function contractAddress(
  hre: HardhatRuntimeEnvironment,
  future: string,
  flag: string | undefined,
  howToDeploy: string,
): Promise<string> {
  let address = flag;
  if (!address) {
    const { file, addresses } = await deployedAddresses(hre);
    address = addresses[future];
    if (!address) throw new TaskError("NO_DEPLOYMENT", `No ${future} in ${file}${embedded(hre)}. ${howToDeploy}`);
  }
  if (!hre.ethers.isAddress(address)) throw new TaskError("BAD_ADDRESS", `Not an address: "${address}".`);
  if ((await hre.ethers.provider.getCode(address)) === "0x") {
    const { chainId } = await hre.ethers.provider.getNetwork();
    throw new TaskError(
      "NO_CONTRACT",
      `No contract at ${address} on network "${hre.network.name}" (chain ${chainId})${embedded(hre) || ": wrong --network, or a chain reset since the deployment?"}`,
    );
  }
  return address;
}

/** The `--from` account, or the first configured one. */
export async function sender(hre: HardhatRuntimeEnvironment, from?: string): Promise<Signer> {
  const signer = from ? await hre.ethers.getSigner(from) : (await hre.ethers.getSigners())[0];
  if (!signer) throw new TaskError("NO_SIGNER", "No account configured for this network.");
  return signer;
}

/** A token amount in whole tokens (decimals allowed); zero only when `allowZero`. */
export function parseTokens(hre: HardhatRuntimeEnvironment, value: string, name: string, allowZero = false): bigint {
  try {
    const amount = hre.ethers.parseUnits(value, 18);
    if (amount < 0n || (amount === 0n && !allowZero)) throw new Error();
    return amount;
  } catch {
    throw new TaskError("BAD_AMOUNT", `--${name} must be a ${allowZero ? "" : "positive "}token amount, got "${value}".`);
  }
}

export const formatTokens = (_hre: HardhatRuntimeEnvironment, v: bigint): string => `${formatUnits18(v)} NKMS`;

/** The token calls the balance and allowance helpers need (NKMSToken satisfies it). */
export interface TokenFunds {
  balanceOf(owner: string): Promise<bigint>;
  allowance(owner: string, spender: string): Promise<bigint>;
}

/** Refuses (INSUFFICIENT_BALANCE) unless `owner` holds `amount`. */
export async function requireBalance(hre: HardhatRuntimeEnvironment, token: TokenFunds, owner: string, amount: bigint): Promise<void> {
  const balance = await token.balanceOf(owner);
  if (balance < amount) {
    throw new TaskError("INSUFFICIENT_BALANCE", `Insufficient balance: ${owner} holds ${formatTokens(hre, balance)}, needs ${formatTokens(hre, amount)}.`);
  }
}

/** Checks the balance, then lets `approve` run when `spender`'s allowance is short of `amount`. */
export async function ensureFunds(
  hre: HardhatRuntimeEnvironment,
  token: TokenFunds,
  owner: string,
  spender: string,
  amount: bigint,
  approve: () => Promise<void>,
): Promise<void> {
  await requireBalance(hre, token, owner, amount);
  if ((await token.allowance(owner, spender)) < amount) await approve();
}

export function requireAddress(hre: HardhatRuntimeEnvironment, value: string, name: string): string {
  if (!hre.ethers.isAddress(value)) throw new TaskError("BAD_ADDRESS", `--${name} must be an address, got "${value}".`);
  return hre.ethers.getAddress(value);
}

/** Sends a transaction and waits for it; a revert becomes a TaskError named after the custom error. */
export async function send(
  interfaces: readonly Interface[],
  what: string,
  tx: () => Promise<{ wait(): Promise<unknown> }>,
): Promise<void> {
  try {
    await (await tx()).wait();
  } catch (e) {
    if (unreachable(e)) throw e; // the task wrapper names the network
    throw expectedError(e, interfaces, what) ?? new TaskError("TX_FAILED", `${what} failed: ${messageOf(e).split("\n")[0]}`);
  }
  console.log(`${what}: ok`);
}

/** Adds `--<contract>` (address override) and `--from` to a task. */
export function withContractAndSender(t: ReturnType<typeof task>, contractParam: string, contractName: string) {
  return t
    .addOptionalParam(contractParam, `${contractName} address (default: the network's Ignition deployment)`)
    .addOptionalParam("from", "Account to send from (default: the first configured account)");
}
