// What every task file needs: a stable-coded error, the deployment's addresses, the sending
// account, token amounts, and transactions whose reverts are decoded to the custom error.
import fs from "node:fs";
import path from "node:path";
import type { task } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Interface, Signer } from "ethers";

/** An operator-facing failure: printed as is, without a stack trace, with a stable code. */
export class TaskError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "TaskError";
  }
}

/** The network's Ignition deployed_addresses.json, or an empty record when there is none. */
async function deployedAddresses(hre: HardhatRuntimeEnvironment): Promise<{ file: string; addresses: Record<string, string> }> {
  const { chainId } = await hre.ethers.provider.getNetwork();
  const file = path.join(hre.config.paths.root, "ignition", "deployments", `chain-${chainId}`, "deployed_addresses.json");
  const addresses = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>) : {};
  return { file, addresses };
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
    if (!address) throw new TaskError("NO_DEPLOYMENT", `No ${future} in ${file}. ${howToDeploy}`);
  }
  if (!hre.ethers.isAddress(address)) throw new TaskError("BAD_ADDRESS", `Not an address: "${address}".`);
  if ((await hre.ethers.provider.getCode(address)) === "0x") {
    throw new TaskError("NO_CONTRACT", `No contract at ${address} on this network.`);
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

export const formatTokens = (hre: HardhatRuntimeEnvironment, v: bigint): string => `${hre.ethers.formatUnits(v, 18)} NKMS`;

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
    const data = (e as { data?: string }).data ?? (e as { error?: { data?: string } }).error?.data;
    for (const iface of interfaces) {
      const parsed = data ? iface.parseError(data) : null;
      if (parsed) throw new TaskError(parsed.name, `${what} rejected: ${parsed.name}(${parsed.args.join(", ")})`);
    }
    throw new TaskError("TX_FAILED", `${what} failed: ${(e as Error).message}`);
  }
  console.log(`${what}: ok`);
}

/** Adds `--<contract>` (address override) and `--from` to a task. */
export function withContractAndSender(t: ReturnType<typeof task>, contractParam: string, contractName: string) {
  return t
    .addOptionalParam(contractParam, `${contractName} address (default: the network's Ignition deployment)`)
    .addOptionalParam("from", "Account to send from (default: the first configured account)");
}
