/** The on-chain facts the node needs, as seen through whatever contracts are deployed. */
export interface PolicyOnChain {
  owner: string;
  /** Unix seconds. */
  startTime: number;
  /** Unix seconds; the policy serves no re-encryption after it. */
  endTime: number;
  revoked: boolean;
}

export interface RevocationEvent {
  policyId: Uint8Array;
  /** Staker whose arrangement alone was revoked; undefined when the whole policy was. */
  node?: string;
  blockNumber: number;
}

export interface ReceiptDomain {
  chainId: bigint;
  policyManager: string;
}

export interface NodeChain {
  /** The policy, or undefined when no (paid) policy with this id exists. */
  getPolicy(policyId: Uint8Array): Promise<PolicyOnChain | undefined>;
  /** True while `staker`'s arrangement in the policy is live (paid, not revoked, not expired), as of
   * block `blockNumber` (default: the latest). */
  isActiveArrangement(policyId: Uint8Array, staker: string, blockNumber?: number): Promise<boolean>;
  /** Number of the latest block. */
  latestBlockNumber(): Promise<number>;
  /** Checks a kfrag, by its keccak256 `kfragHash`, against the policy's on-chain kfrag commitment
   * for `staker` (sorted-pair Merkle proof). */
  verifyKFragCommitment(
    policyId: Uint8Array,
    staker: string,
    kfragHash: Uint8Array,
    proof: Uint8Array[],
  ): Promise<boolean>;
  /** The deployment a kfrag receipt names (src/protocol/kfrag-receipt.ts): chain id and PolicyManager address. */
  receiptDomain(): Promise<ReceiptDomain>;
  /** The staking escrow's period at block `blockNumber`: what the node dates its stamps with. */
  currentPeriod(blockNumber: number): Promise<number>;
  /** Timestamp of the latest block (the chain's clock, which decides expiry on-chain). */
  latestTimestamp(): Promise<number>;
  /** Raw eth_call for access conditions. */
  call(to: string, data: string): Promise<string>;
  /** Revocations in blocks (fromBlock, latest]; returns them and the latest block scanned. */
  revocationsSince(fromBlock: number): Promise<{ events: RevocationEvent[]; toBlock: number }>;
}
