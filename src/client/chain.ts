/**
 * The SDK's view of the contracts: typed handles, transactions that turn reverts into
 * ClientError("CHAIN") naming the contract's custom error, and EIP-2612 permits.
 */
import { JsonRpcProvider, ZeroAddress, formatUnits, randomBytes, toBigInt, type Interface, type Provider, type Signer } from "ethers";
import {
  NKMSToken__factory,
  PolicyManager__factory,
  StakingEscrow__factory,
  type NKMSToken,
  type PolicyManager,
  type StakingEscrow,
} from "../../typechain-types";
import type { NetworkAddresses } from "./deployment";
import { ClientError } from "./errors";

export interface Contracts {
  token: NKMSToken;
  escrow: StakingEscrow;
  policyManager: PolicyManager;
}

export function makeProvider(rpcUrl: string): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, undefined, { batchMaxCount: 1, cacheTimeout: -1, pollingInterval: 100 });
}

export function connectContracts(addresses: NetworkAddresses, runner: Provider | Signer): Contracts {
  return {
    token: NKMSToken__factory.connect(addresses.token, runner),
    escrow: StakingEscrow__factory.connect(addresses.stakingEscrow, runner),
    policyManager: PolicyManager__factory.connect(addresses.policyManager, runner),
  };
}

/** Everything that may decode a revert. */
function interfaces(): Interface[] {
  return [PolicyManager__factory.createInterface(), StakingEscrow__factory.createInterface(), NKMSToken__factory.createInterface()];
}

/** The custom error (name and args) inside an ethers error, if any. */
export function decodeRevert(e: unknown): string | undefined {
  const seen = new Set<unknown>();
  const stack: unknown[] = [e];
  while (stack.length) {
    const cur = stack.pop() as Record<string, unknown> | undefined;
    if (!cur || typeof cur !== "object" || seen.has(cur)) continue;
    seen.add(cur);
    const data = cur.data;
    if (typeof data === "string" && data.startsWith("0x") && data.length >= 10) {
      for (const iface of interfaces()) {
        try {
          const parsed = iface.parseError(data);
          if (parsed) return `${parsed.name}(${parsed.args.map(String).join(", ")})`;
        } catch {
          // not this interface
        }
      }
    }
    stack.push(cur.error, cur.info, cur.cause);
  }
  return undefined;
}

/** Sends a transaction and waits for it; reverts and RPC failures become ClientError. */
export async function send<T extends { wait(): Promise<unknown>; hash: string }>(what: string, tx: () => Promise<T>): Promise<string> {
  try {
    const sent = await tx();
    await sent.wait();
    return sent.hash;
  } catch (e) {
    throw chainError(what, e);
  }
}

export function chainError(what: string, e: unknown): ClientError {
  if (e instanceof ClientError) return e;
  const reason = decodeRevert(e);
  if (reason) return new ClientError("CHAIN", `${what} rejected: ${reason}`);
  const code = (e as { code?: string }).code;
  if (code === "ECONNREFUSED" || code === "NETWORK_ERROR" || /ECONNREFUSED|fetch failed/.test(String((e as Error).message))) {
    return new ClientError("UNREACHABLE", `${what}: cannot reach the chain RPC`);
  }
  return new ClientError("CHAIN", `${what} failed: ${(e as { shortMessage?: string }).shortMessage ?? (e as Error).message}`);
}

export { permitDeadline, signPermit } from "./permit";

/** An owner's EIP-712 signed revocation that anyone may relay with `PolicyManager.revokeWithSignature`. */
export interface SignedRevocation {
  policyId: string;
  /** Zero address: the whole policy. */
  node: string;
  nonce: bigint;
  deadline: bigint;
  signature: string;
}

/**
 * Signs a revocation of `policyId` (or of one `node`'s arrangement) for relaying on-chain.
 * Revocation nonces are unordered (a bitmap per owner), so by default a random 256-bit nonce is
 * used: signatures can be relayed in any order, and each works once.
 */
export async function signOnChainRevocation(
  policyManager: PolicyManager,
  owner: Signer,
  request: { policyId: string; node?: string; deadline: bigint; nonce?: bigint },
): Promise<SignedRevocation> {
  const [network, verifyingContract] = await Promise.all([owner.provider!.getNetwork(), policyManager.getAddress()]);
  const message = {
    policyId: request.policyId,
    node: request.node ?? ZeroAddress,
    nonce: request.nonce ?? toBigInt(randomBytes(32)),
    deadline: request.deadline,
  };
  const signature = await owner.signTypedData(
    { name: "NKMS PolicyManager", version: "1", chainId: network.chainId, verifyingContract },
    {
      Revocation: [
        { name: "policyId", type: "bytes16" },
        { name: "node", type: "address" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    message,
  );
  return { ...message, signature };
}

/** An amount of NKMS (18 decimals) for people: "0.15 NKMS", never token units. */
export function formatNkms(units: bigint): string {
  return `${formatUnits(units, 18)} NKMS`;
}
