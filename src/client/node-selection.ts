/**
 * Choosing the nodes of a policy (shared by the client and the tests).
 *
 * For each slot j of `count`: draw `candidatesPerSlot` nodes from the remaining pool with
 * probability proportional to stake (with replacement inside the slot), keep the one whose key
 * hash is closest in Hamming distance to the slot's policy-id hash
 * keccak256(policyId ‖ uint32be(j)) (the whitepaper's rule; ties go to the earlier draw), and
 * remove it from the pool (no node is chosen twice). Ineligible nodes and nodes with no quota left
 * never enter the pool.
 *
 * Why this keeps stake-proportionality: the draws of one slot are exchangeable and, over policy
 * ids, "which of two fixed key hashes is closer to a uniformly random hash" is a fair coin
 * (x ↦ x ⊕ a ⊕ b swaps the two distances), so each slot picks node i with probability
 * stake_i / Σ stake of the pool — i.e. the whole procedure is successive stake-weighted sampling
 * without replacement. A fresh target per slot matters: with one target for all slots, earlier
 * picks would bias later ones towards nodes whose keys sit near the winners'. The test suite
 * checks both the one-slot and the multi-slot frequencies with chi-square statistics.
 *
 * Randomness is a deterministic SHA-256 counter stream over the caller's seed, so a seed and the
 * same candidate list always give the same nodes.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";

export interface NodeCandidate {
  /** Staker address (0x…), the node's identity on-chain. */
  staker: string;
  /** Stake locked through the policy's end, in token units. */
  stake: bigint;
  /** Passes every on-chain check of createPolicy except the quota (fee rate, registration, lock). */
  eligible: boolean;
  /** How many more arrangements its quota allows. */
  quotaLeft: number;
  /** keccak256 of the node's verifying key (32 bytes). */
  keyHash: Uint8Array;
}

export interface SelectionOptions {
  count: number;
  /** The policy id (16 bytes); its keccak256 is the Hamming target. */
  policyId: Uint8Array;
  /** Seed of the sampling stream; keep it secret until the policy exists if nodes must not predict it. */
  seed: Uint8Array;
  /** Stake-weighted draws per slot among which the Hamming rule picks (default 2). */
  candidatesPerSlot?: number;
}

export type NodeSelectionErrorCode = "INVALID_INPUT" | "NOT_ENOUGH_NODES";

export class NodeSelectionError extends Error {
  constructor(
    readonly code: NodeSelectionErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "NodeSelectionError";
  }
}

const STREAM_DOMAIN = new TextEncoder().encode("NKMS/node-selection/v1");

/** Deterministic byte stream: SHA-256(domain ‖ seed ‖ counter_be64) blocks. */
export class Sha256CounterStream {
  private counter = 0n;
  private buffer = new Uint8Array(0);
  private offset = 0;
  private readonly prefix: Uint8Array;

  constructor(seed: Uint8Array) {
    this.prefix = new Uint8Array(STREAM_DOMAIN.length + seed.length + 8);
    this.prefix.set(STREAM_DOMAIN, 0);
    this.prefix.set(seed, STREAM_DOMAIN.length);
  }

  nextBytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let filled = 0; filled < n; ) {
      if (this.offset === this.buffer.length) this.refill();
      const take = Math.min(n - filled, this.buffer.length - this.offset);
      out.set(this.buffer.subarray(this.offset, this.offset + take), filled);
      this.offset += take;
      filled += take;
    }
    return out;
  }

  /** Uniform integer in [0, bound) by rejection sampling (no modulo bias). */
  uniformBelow(bound: bigint): bigint {
    if (bound <= 0n) throw new NodeSelectionError("INVALID_INPUT", "bound must be positive");
    const bits = (bound - 1n).toString(2).length;
    const bytes = Math.ceil(bits / 8);
    const mask = (1n << BigInt(bits)) - 1n;
    for (;;) {
      const candidate = bytesToBigInt(this.nextBytes(bytes)) & mask;
      if (candidate < bound) return candidate;
    }
  }

  private refill(): void {
    const view = new DataView(this.prefix.buffer, this.prefix.byteOffset, this.prefix.byteLength);
    view.setBigUint64(this.prefix.length - 8, this.counter);
    this.counter += 1n;
    this.buffer = sha256(this.prefix);
    this.offset = 0;
  }
}

/** Number of differing bits between two equal-length byte strings. */
export function hammingDistance(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new NodeSelectionError("INVALID_INPUT", "hashes differ in length");
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    let x = a[i] ^ b[i];
    while (x) {
      x &= x - 1;
      d++;
    }
  }
  return d;
}

/** The Hamming target of a policy's slot j: keccak256(policyId ‖ uint32be(j)). */
export function policyIdHash(policyId: Uint8Array, slot = 0): Uint8Array {
  const buf = new Uint8Array(policyId.length + 4);
  buf.set(policyId, 0);
  new DataView(buf.buffer).setUint32(policyId.length, slot);
  return keccak_256(buf);
}

/** The key hash a node is compared by: keccak256 of its compressed verifying key. */
export function nodeKeyHash(verifyingKey: Uint8Array): Uint8Array {
  return keccak_256(verifyingKey);
}

/**
 * Choose `count` distinct nodes (staker addresses, in selection order). Throws
 * NodeSelectionError NOT_ENOUGH_NODES when fewer usable nodes exist.
 */
export function selectNodes(candidates: readonly NodeCandidate[], options: SelectionOptions): string[] {
  const perSlot = options.candidatesPerSlot ?? 2;
  if (!Number.isInteger(options.count) || options.count < 1) {
    throw new NodeSelectionError("INVALID_INPUT", "count must be a positive integer");
  }
  if (!Number.isInteger(perSlot) || perSlot < 1) {
    throw new NodeSelectionError("INVALID_INPUT", "candidatesPerSlot must be a positive integer");
  }
  const seen = new Set<string>();
  for (const c of candidates) {
    const key = c.staker.toLowerCase();
    if (seen.has(key)) throw new NodeSelectionError("INVALID_INPUT", `duplicate candidate ${c.staker}`);
    seen.add(key);
    if (c.stake < 0n) throw new NodeSelectionError("INVALID_INPUT", `negative stake for ${c.staker}`);
    if (c.keyHash.length !== 32) throw new NodeSelectionError("INVALID_INPUT", `key hash of ${c.staker} is not 32 bytes`);
  }
  const pool = candidates.filter((c) => c.eligible && c.quotaLeft > 0 && c.stake > 0n);
  if (pool.length < options.count) {
    throw new NodeSelectionError(
      "NOT_ENOUGH_NODES",
      `need ${options.count} nodes, only ${pool.length} are eligible with quota left ` +
        // The usual cause on a new network: stakers that never set a fee rate are not enrolled.
        "(a staked node is eligible once its agent registered and its staker set a minimum fee rate at or below the policy's: " +
        "`npx hardhat policy:set-fee-rate --rate R`, `nkms stake fee-rate R`, or `nkms:stake --fee-rate R`)",
    );
  }
  const rng = new Sha256CounterStream(options.seed);
  const chosen: string[] = [];
  for (let slot = 0; slot < options.count; slot++) {
    const total = pool.reduce((sum, c) => sum + c.stake, 0n);
    const target = policyIdHash(options.policyId, slot);
    let bestIndex = -1;
    let bestDistance = Infinity;
    for (let k = 0; k < perSlot; k++) {
      const index = drawWeighted(pool, total, rng);
      const distance = hammingDistance(pool[index].keyHash, target);
      if (distance < bestDistance) {
        bestIndex = index;
        bestDistance = distance;
      }
    }
    chosen.push(pool[bestIndex].staker);
    pool.splice(bestIndex, 1);
  }
  return chosen;
}

/** The order PolicyManager.createPolicy requires: strictly ascending addresses. */
export function orderForPolicy(stakers: readonly string[]): string[] {
  return [...stakers].sort((a, b) => {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

function drawWeighted(pool: readonly NodeCandidate[], total: bigint, rng: Sha256CounterStream): number {
  let point = rng.uniformBelow(total);
  for (let i = 0; i < pool.length; i++) {
    if (point < pool[i].stake) return i;
    point -= pool[i].stake;
  }
  throw new Error("unreachable: point beyond total stake");
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

// ------------------------------------------------------------------ reading candidates from chain

/** What readCandidates needs from the PolicyManager (a typechain PolicyManager satisfies it). */
export interface PolicyManagerReader {
  enrolledNodes(): Promise<bigint>;
  nodeById(id: bigint): Promise<string>;
  checkNode(
    node: string,
    endPeriod: bigint,
    feeRate: bigint,
  ): Promise<[bigint, bigint, bigint, bigint] | readonly [bigint, bigint, bigint, bigint]>;
}

/** What readCandidates needs from the staking escrow (a typechain StakingEscrow satisfies it). */
export interface EscrowReader {
  nodeInfo(staker: string): Promise<[string, string, string] | readonly [string, string, string]>;
}

export interface ReadCandidatesOptions {
  endPeriod: bigint;
  feeRate: bigint;
  /** Defaults to every node enrolled in the PolicyManager. */
  stakers?: readonly string[];
}

/**
 * Candidates as createPolicy would judge them right now (PolicyManager.checkNode), with each
 * node's key hash from its registered verifying key. `eligible` ignores the quota, which is
 * reported in `quotaLeft` instead.
 */
export async function readCandidates(
  manager: PolicyManagerReader,
  escrow: EscrowReader,
  options: ReadCandidatesOptions,
): Promise<NodeCandidate[]> {
  let stakers = options.stakers;
  if (!stakers) {
    const n = await manager.enrolledNodes();
    const ids = Array.from({ length: Number(n) }, (_, i) => BigInt(i + 1));
    stakers = await Promise.all(ids.map((id) => manager.nodeById(id)));
  }
  return Promise.all(
    stakers.map(async (staker) => {
      const [status, stake, quota, active] = await manager.checkNode(staker, options.endPeriod, options.feeRate);
      const s = Number(status);
      const eligible = s === NODE_STATUS.Eligible || s === NODE_STATUS.OverQuota;
      const [, , verifyingKey] = await escrow.nodeInfo(staker);
      return {
        staker,
        stake: eligible ? stake : 0n,
        eligible,
        quotaLeft: eligible && quota > active ? Number(quota - active) : 0,
        keyHash: nodeKeyHash(hexToBytes(verifyingKey)),
      };
    }),
  );
}

/** PolicyManager.NodeStatus values. */
export const NODE_STATUS = {
  Eligible: 0,
  NotEnrolled: 1,
  FeeRateTooLow: 2,
  NotRegistered: 3,
  StakeNotLocked: 4,
  OverQuota: 5,
} as const;

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.replace(/^0x/, ""), "hex"));
}
