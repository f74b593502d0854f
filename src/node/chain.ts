import { Contract, JsonRpcProvider, Wallet, ZeroAddress, getBytes, hexlify, type Provider } from "ethers";
import type { NodeChain, PolicyOnChain, ReceiptDomain, RevocationEvent } from "./chain-types";

/** The parts of StakingEscrow the agent calls (see contracts/interfaces/IStakingEscrow.sol). */
export const STAKING_ABI = [
  "function currentPeriod() view returns (uint32)",
  "function lockedThrough(address staker, uint32 period) view returns (uint256)",
  "function stakerOf(address operator) view returns (address)",
  "function isRegistered(address staker) view returns (bool)",
  "function nodeInfo(address staker) view returns (string endpoint, bytes encryptingKey, bytes verifyingKey)",
  "function pendingOperatorOf(address staker) view returns (address)",
  "function registerNode(address staker, string endpoint, bytes encryptingKey, bytes verifyingKey, bytes keyProof)",
  "event OperatorProposed(address indexed staker, address indexed operator)",
];

/** The parts of PolicyManager the agent calls. */
export const POLICY_ABI = [
  "function secondsPerPeriod() view returns (uint32)",
  "function getPolicy(bytes16 policyId) view returns (tuple(address owner, address sponsor, uint32 startPeriod, uint32 endPeriod, uint32 paidUntil, uint96 feeRate, uint8 nodeCount, uint8 activeNodes, bool revoked, bool released, bytes32 kfragRoot))",
  "function isActiveArrangement(bytes16 policyId, address node) view returns (bool)",
  "function verifyKfragCommitment(bytes16 policyId, address node, bytes32 kfragHash, bytes32[] proof) view returns (bool)",
  "event PolicyRevoked(bytes16 indexed policyId, uint256 refund)",
  "event ArrangementRevoked(bytes16 indexed policyId, address indexed node, uint256 refund)",
];

/**
 * A JSON-RPC provider tuned for a latency-sensitive service: no request batching delay, and
 * mined transactions noticed within half a second. (ethers' default of 4 s made every one of a
 * checker's serialized health-check transactions cost a 4 s poll: five targets took 45 s.)
 */
export function makeProvider(rpcUrl: string): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, undefined, { batchMaxCount: 1, cacheTimeout: -1, pollingInterval: RECEIPT_POLL_MS });
}

/** How often the agent polls for new blocks while it waits for one of its transactions. */
export const RECEIPT_POLL_MS = 500;

/** NodeChain over ethers v6 and the deployed StakingEscrow / PolicyManager. */
export class EthersNodeChain implements NodeChain {
  readonly staking: Contract;
  readonly policies: Contract;

  constructor(
    readonly provider: Provider,
    addresses: { stakingEscrow: string; policyManager: string },
  ) {
    this.staking = new Contract(addresses.stakingEscrow, STAKING_ABI, provider);
    this.policies = new Contract(addresses.policyManager, POLICY_ABI, provider);
  }

  private periodSeconds?: Promise<number>;

  private secondsPerPeriod(): Promise<number> {
    // Immutable in the contract: fetch once.
    this.periodSeconds ??= this.policies.secondsPerPeriod().then((s: bigint) => Number(s));
    return this.periodSeconds;
  }

  async getPolicy(policyId: Uint8Array): Promise<PolicyOnChain | undefined> {
    const [info, period] = await Promise.all([this.policies.getPolicy(hexlify(policyId)), this.secondsPerPeriod()]);
    if (info.owner === ZeroAddress) return undefined;
    return {
      owner: info.owner as string,
      startTime: Number(info.startPeriod) * period,
      // endPeriod is the last period served, inclusive.
      endTime: (Number(info.endPeriod) + 1) * period,
      revoked: info.revoked as boolean,
    };
  }

  async isActiveArrangement(policyId: Uint8Array, staker: string, blockNumber?: number): Promise<boolean> {
    const overrides = blockNumber === undefined ? {} : { blockTag: blockNumber };
    return (await this.policies.isActiveArrangement(hexlify(policyId), staker, overrides)) as boolean;
  }

  latestBlockNumber(): Promise<number> {
    return this.provider.getBlockNumber();
  }

  async verifyKFragCommitment(policyId: Uint8Array, staker: string, kfragHash: Uint8Array, proof: Uint8Array[]): Promise<boolean> {
    // The contract's own view, so the node and the Adjudicator agree on leaf and tree format.
    return (await this.policies.verifyKfragCommitment(hexlify(policyId), staker, hexlify(kfragHash), proof.map((p) => hexlify(p)))) as boolean;
  }

  private domain?: Promise<ReceiptDomain>;

  receiptDomain(): Promise<ReceiptDomain> {
    // Fixed for the life of the binding; a failed read is retried next time.
    this.domain ??= (async () => ({ chainId: (await this.provider.getNetwork()).chainId, policyManager: await this.policies.getAddress() }))();
    this.domain.catch(() => (this.domain = undefined));
    return this.domain;
  }

  async currentPeriod(blockNumber: number): Promise<number> {
    // The escrow's own definition (block.timestamp / secondsPerPeriod), read at that block.
    return Number((await this.staking.currentPeriod({ blockTag: blockNumber })) as bigint);
  }

  async latestTimestamp(): Promise<number> {
    const block = await this.provider.getBlock("latest");
    return block ? block.timestamp : Math.floor(Date.now() / 1000);
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

  /**
   * Stakers whose bond proposal to `operator` is still pending (it bonds when the operator
   * registers for one of them): the OperatorProposed events naming it, checked against the
   * current state.
   */
  async proposedStakers(operator: string): Promise<string[]> {
    const events = await this.staking.queryFilter(this.staking.filters.OperatorProposed(null, operator), 0, "latest");
    const candidates = [...new Set(events.flatMap((e) => ("args" in e ? [e.args[0] as string] : [])))];
    const pending = await Promise.all(candidates.map(async (s) => ((await this.staking.pendingOperatorOf(s)) as string) === operator));
    return candidates.filter((_, i) => pending[i]);
  }

  async chainId(): Promise<bigint> {
    return (await this.provider.getNetwork()).chainId;
  }

  /** Registers (and, for a pending proposal, bonds) `operator` for `staker`; waits for the receipt. */
  async registerNode(
    operator: Wallet,
    staker: string,
    endpoint: string,
    encryptingKey: string,
    verifyingKey: string,
    keyProof: Uint8Array,
  ): Promise<string> {
    const staking = this.staking.connect(operator.connect(this.provider)) as Contract;
    const tx = await staking.registerNode(staker, endpoint, encryptingKey, verifyingKey, hexlify(keyProof));
    await tx.wait();
    return tx.hash as string;
  }
}
