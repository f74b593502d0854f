/**
 * Typed failures of the client SDK. `code` is stable; the CLI maps it to an exit code.
 */
export type ClientErrorCode =
  | "BAD_INPUT"
  | "NOT_FOUND"
  | "CHAIN"
  | "UNREACHABLE"
  | "DENIED"
  | "INTEGRITY"
  | "KEYSTORE"
  | "NOT_ENOUGH_NODES"
  | "THRESHOLD_NOT_MET"
  | "DIRECTORY"
  /** An account lacks NKMS (or ETH for gas). */
  | "FUNDS"
  /** A paid policy whose kfrags did not all reach their nodes (with a valid receipt): redeliver. */
  | "PARTIAL_DELIVERY";

export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ClientError";
  }
}

/** How one node failed during threshold retrieval. */
export type NodeFailureKind =
  /** Could not connect, or the connection broke. */
  | "unreachable"
  /** No answer within the per-node timeout. */
  | "timeout"
  /** The node refused (HTTP 4xx/5xx with the node's error code, e.g. POLICY_REVOKED). */
  | "refused"
  /** The response did not parse or had the wrong number of cfrags. */
  | "malformed"
  /** A cfrag's stamp was not signed by the node's registered key (not attributable). */
  | "bad_stamp"
  /** A correctly stamped cfrag failed verification: kept as challenge evidence. */
  | "invalid_cfrag"
  /** The node has no endpoint registered on-chain. */
  | "unregistered";

export interface NodeFailure {
  staker: string;
  endpoint?: string;
  kind: NodeFailureKind;
  /** The node's error code when it answered with one (e.g. POLICY_REVOKED). */
  code?: string;
  /** HTTP status, when the node answered. */
  status?: number;
  message: string;
  /** Path of the saved challenge evidence (invalid_cfrag only). */
  evidenceFile?: string;
}

/** Fewer than `threshold` nodes returned valid cfrags; `failures` says what happened at each node. */
export class RetrievalError extends ClientError {
  constructor(
    readonly threshold: number,
    readonly valid: number,
    readonly failures: NodeFailure[],
  ) {
    super(
      "THRESHOLD_NOT_MET",
      `got ${valid} valid cfrag set(s), need ${threshold}; ` +
        failures.map((f) => `${f.staker}: ${f.kind}${f.code ? ` ${f.code}` : ""} (${f.message})`).join("; "),
    );
    this.name = "RetrievalError";
  }

  /** True when every failing node refused because the policy was revoked (or expired). */
  get revoked(): boolean {
    return this.failures.some((f) => f.code === "POLICY_REVOKED" || f.code === "POLICY_EXPIRED");
  }
}

/** What happened to one node's kfrag (or revocation notice). */
export interface DeliveryResult {
  staker: string;
  endpoint: string;
  /** For a kfrag: true only when the node answered with a valid receipt (see src/protocol/kfrag-receipt.ts). */
  ok: boolean;
  message?: string;
  /** The node's receipt for its kfrag (kfrag deliveries only). */
  receipt?: { period: number; signature: string };
}

/**
 * Fewer than all n nodes of a paid policy acknowledged their kfrag. The policy record (and the
 * undelivered kfrags, sealed to the owner's own key) are saved: `redeliver(policyId)` completes it.
 */
export class PartialDeliveryError extends ClientError {
  constructor(
    readonly policyId: string,
    readonly threshold: number,
    readonly delivery: DeliveryResult[],
  ) {
    const failed = delivery.filter((d) => !d.ok);
    const delivered = delivery.length - failed.length;
    super(
      "PARTIAL_DELIVERY",
      `policy ${policyId}: ${delivered} of ${delivery.length} nodes acknowledged their kfrag` +
        (delivered < threshold ? ` (${threshold} needed to read)` : "") +
        `; not delivered: ${failed.map((d) => `${d.staker} (${d.message ?? "no receipt"})`).join(", ")}` +
        ` — run \`nkms policies redeliver ${policyId}\` once they are back, or revoke for a refund`,
    );
    this.name = "PartialDeliveryError";
  }

  get delivered(): number {
    return this.delivery.filter((d) => d.ok).length;
  }
}
