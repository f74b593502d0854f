import { isError } from "ethers";
import type { NodeChain, PolicyOnChain, ReceiptDomain, RevocationEvent } from "./chain-types";
import { NodeError } from "./errors";

/** Default bound on one chain read made while serving a request. */
export const DEFAULT_CHAIN_TIMEOUT_MS = 5000;

function unavailable(message: string, retryAfterSeconds: number): NodeError {
  return new NodeError(503, "CHAIN_UNAVAILABLE", message, retryAfterSeconds);
}

/**
 * Every read of `chain` bounded by `timeoutMs`: a stalled RPC endpoint would otherwise hold every
 * request (and the block-number coalescer all later ones queue behind) for as long as the socket
 * stays open. A read that times out, or fails because the endpoint is unreachable, becomes 503
 * CHAIN_UNAVAILABLE with Retry-After; the node never serves without the check it could not make.
 */
export class TimedChain implements NodeChain {
  private readonly retryAfter: number;

  constructor(
    private readonly inner: NodeChain,
    private readonly timeoutMs: number = DEFAULT_CHAIN_TIMEOUT_MS,
  ) {
    this.retryAfter = Math.max(1, Math.ceil(timeoutMs / 1000));
  }

  private bounded<T>(what: string, call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(unavailable(`the chain RPC did not answer ${what} within ${this.timeoutMs} ms`, this.retryAfter)), this.timeoutMs);
      call().then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          const down = isError(e, "NETWORK_ERROR") || isError(e, "SERVER_ERROR") || isError(e, "TIMEOUT");
          reject(down ? unavailable(`the chain RPC failed ${what}: ${(e as Error).message.slice(0, 200)}`, this.retryAfter) : e);
        },
      );
    });
  }

  getPolicy(policyId: Uint8Array): Promise<PolicyOnChain | undefined> {
    return this.bounded("getPolicy", () => this.inner.getPolicy(policyId));
  }

  isActiveArrangement(policyId: Uint8Array, staker: string, blockNumber?: number): Promise<boolean> {
    return this.bounded("isActiveArrangement", () => this.inner.isActiveArrangement(policyId, staker, blockNumber));
  }

  latestBlockNumber(): Promise<number> {
    return this.bounded("blockNumber", () => this.inner.latestBlockNumber());
  }

  verifyKFragCommitment(policyId: Uint8Array, staker: string, kfragHash: Uint8Array, proof: Uint8Array[]): Promise<boolean> {
    return this.bounded("verifyKfragCommitment", () => this.inner.verifyKFragCommitment(policyId, staker, kfragHash, proof));
  }

  receiptDomain(): Promise<ReceiptDomain> {
    return this.bounded("chainId", () => this.inner.receiptDomain());
  }

  currentPeriod(blockNumber: number): Promise<number> {
    return this.bounded("currentPeriod", () => this.inner.currentPeriod(blockNumber));
  }

  latestTimestamp(): Promise<number> {
    return this.bounded("latest block", () => this.inner.latestTimestamp());
  }

  call(to: string, data: string): Promise<string> {
    return this.bounded("a condition's eth_call", () => this.inner.call(to, data));
  }

  revocationsSince(fromBlock: number): Promise<{ events: RevocationEvent[]; toBlock: number }> {
    return this.bounded("revocation logs", () => this.inner.revocationsSince(fromBlock));
  }
}
