import { Contract, JsonRpcProvider, Wallet, ZeroAddress, getBytes, hexlify } from "ethers";
import type { NodeChain, PolicyOnChain, RevocationEvent } from "./chain-types";
import { verifyKFragAgainstRoot } from "./commitment";

/** The parts of StakingEscrow the agent calls (see contracts/interfaces/IStakingEscrow.sol). */
export const STAKING_ABI = [
  "function currentPeriod() view returns (uint32)",
  "function lockedThrough(address staker, uint32 period) view returns (uint256)",
  "function stakerOf(address operator) view returns (address)",
  "function isRegistered(address staker) view returns (bool)",
  "function nodeInfo(address staker) view returns (string endpoint, bytes encryptingKey, bytes verifyingKey)",
  "function registerNode(string endpoint, bytes encryptingKey, bytes verifyingKey)",
];

/** The parts of PolicyManager the agent calls. */
export const POLICY_ABI = [
  "function getPolicy(bytes32 policyId) view returns (address owner, uint64 startTime, uint64 endTime, bool revoked, bytes32 kfragRoot)",
  "function isActiveArrangement(bytes32 policyId, address node) view returns (bool)",
  "event PolicyRevoked(bytes32 indexed policyId, address indexed owner, uint256 refund)",
  "event ArrangementRevoked(bytes32 indexed policyId, address indexed node, uint256 refund)",
];

/** A JSON-RPC provider tuned for a latency-sensitive service: no request batching delay. */
export function makeProvider(rpcUrl: string): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, undefined, { batchMaxCount: 1, cacheTimeout: -1 });
}

/** NodeChain over ethers v6 and the deployed StakingEscrow / PolicyManager. */
export class EthersNodeChain implements NodeChain {
  readonly staking: Contract;
  readonly policies: Contract;

  constructor(
    readonly provider: JsonRpcProvider,
    addresses: { stakingEscrow: string; policyManager: string },
  ) {
    this.staking = new Contract(addresses.stakingEscrow, STAKING_ABI, provider);
    this.policies = new Contract(addresses.policyManager, POLICY_ABI, provider);
  }

  private async rawPolicy(policyId: Uint8Array) {
    const r = await this.policies.getPolicy(hexlify(policyId));
    return { owner: r[0] as string, startTime: Number(r[1]), endTime: Number(r[2]), revoked: r[3] as boolean, root: r[4] as string };
  }

  async getPolicy(policyId: Uint8Array): Promise<PolicyOnChain | undefined> {
    const p = await this.rawPolicy(policyId);
    if (p.owner === ZeroAddress) return undefined;
    return { owner: p.owner, startTime: p.startTime, endTime: p.endTime, revoked: p.revoked };
  }

  async isActiveArrangement(policyId: Uint8Array, staker: string): Promise<boolean> {
    return (await this.policies.isActiveArrangement(hexlify(policyId), staker)) as boolean;
  }

  async verifyKFragCommitment(policyId: Uint8Array, staker: string, kfrag: Uint8Array, proof: Uint8Array[], index: number) {
    const p = await this.rawPolicy(policyId);
    return verifyKFragAgainstRoot(getBytes(p.root), staker, kfrag, proof, index);
  }

  call(to: string, data: string): Promise<string> {
    return this.provider.call({ to, data });
  }

  async revocationsSince(fromBlock: number): Promise<{ events: RevocationEvent[]; toBlock: number }> {
    const toBlock = await this.provider.getBlockNumber();
    if (toBlock <= fromBlock) return { events: [], toBlock: fromBlock };
    const [whole, single] = await Promise.all([
      this.policies.queryFilter(this.policies.filters.PolicyRevoked(), fromBlock + 1, toBlock),
      this.policies.queryFilter(this.policies.filters.ArrangementRevoked(), fromBlock + 1, toBlock),
    ]);
    const events: RevocationEvent[] = [];
    for (const e of whole) {
      if ("args" in e) events.push({ policyId: getBytes(e.args[0] as string), blockNumber: e.blockNumber });
    }
    for (const e of single) {
      if ("args" in e) events.push({ policyId: getBytes(e.args[0] as string), node: e.args[1] as string, blockNumber: e.blockNumber });
    }
    return { events, toBlock };
  }

  // ---- staking -----------------------------------------------------------------------------

  async stakerOf(operator: string): Promise<string | undefined> {
    const s = (await this.staking.stakerOf(operator)) as string;
    return s === ZeroAddress ? undefined : s;
  }

  async lockedNow(staker: string): Promise<bigint> {
    const period = (await this.staking.currentPeriod()) as bigint;
    return (await this.staking.lockedThrough(staker, period)) as bigint;
  }

  async nodeInfo(staker: string): Promise<{ endpoint: string; encryptingKey: string; verifyingKey: string }> {
    const r = await this.staking.nodeInfo(staker);
    return { endpoint: r[0] as string, encryptingKey: (r[1] as string).toLowerCase(), verifyingKey: (r[2] as string).toLowerCase() };
  }

  async registerNode(operator: Wallet, endpoint: string, encryptingKey: string, verifyingKey: string): Promise<string> {
    const staking = this.staking.connect(operator.connect(this.provider)) as Contract;
    const tx = await staking.registerNode(endpoint, encryptingKey, verifyingKey);
    await tx.wait();
    return tx.hash as string;
  }
}
