/**
 * The generalized ping: what a checker does to one target, as an ordinary client would.
 *
 *   1. reachability      GET /v1/ping answers 200 within the timeout;
 *   2. old policy        a check policy this checker gave the target in an earlier round still
 *                        re-encrypts correctly (skipped at first contact, when it is created);
 *   3. create            a new policy is paid on-chain and its kfrag accepted by the target;
 *   4. fresh requester   the new policy's reader is a fresh Ethereum address unrelated to the
 *                        checker, and its signed request is served with correct cfrags;
 *   5. revoke            after the owner's signed revocation the target refuses the policy.
 *
 * Transient answers are retried inside the probe's deadline (bounded attempts, backoff), so an
 * honest node is not voted down for what an ordinary client would simply retry:
 *   - 503 (overloaded, chain unavailable): retried after its Retry-After (1–5 s), until the deadline;
 *   - 404 UNKNOWN_POLICY on a kfrag upload right after the policy was paid: the node's RPC has not
 *     seen the block yet; retried with backoff for up to LAG_BUDGET_MS;
 *   - 401 STALE_REQUEST: the request is re-signed dated by the node's own clock (learned from its
 *     ping), tolerated only while that clock is within MAX_ADAPTED_SKEW_S of ours;
 *   - a ping that fails to connect: retried twice.
 * Wrong, malformed or missing cfrags, refused kfrags and other 4xx answers are never retried: one is
 * enough to judge. A node that answers 503 until the deadline is unhealthy, except in the revoke
 * step: it has just served the policy, and a 503 there is no re-encryption (inconclusive).
 *
 * Hireability (issue #16, "unhireable"): before paying, the checker asks PolicyManager.checkNode.
 * Not enrolled, not registered, or no stake locked through the next period are the node's own
 * doing: the create check fails. A checker probing for a round it is assigned to (`assignment`)
 * hires through PolicyManager.createProbePolicy, the capacity reserved for (round, checker,
 * target) outside the quota: a full quota (the node's own self-hiring, or a third party's paid
 * policies) no longer shields the node, and a failure to hire it or to get the kfrag accepted is
 * unhealthy. Without an assignment (or a PolicyManager not wired to this HealthCheck) the old rule
 * stays: a full quota is inconclusive and the node is judged on the check policy kept from an
 * earlier round (renewed before it expires).
 *
 * Proof of contact (issue #16, blind voting): with an assignment, the fresh requester's
 * re-encryption asks for the node's contact signature (`healthContact`); the node returns it only
 * with served cfrags. The checker completes it to the 65-byte proof HealthCheck.reveal needs
 * (`ProbeReport.contact`); a node that serves without it fails the "contact" check (an honest
 * agent with a HealthCheck configured always signs for the current round).
 *
 * Whose fault a failure is (issue #16 review): what the checker's own transactions do on-chain is
 * visible to everyone while pending, so a revert there is the target's fault only when the target
 * caused it. The target setting its fee rate between our read and our hire (MinFeeRateSet in a
 * later block) is re-priced once and then counted against it ("unhireable"); anything else that
 * stops our payment is ours (inconclusive). The on-chain revocation at the end (a refund for us)
 * is never held against the target: anyone can relay the owner's signature first.
 *
 * Every cfrag is checked three ways: its correctness proof (CapsuleFrag.verify), the target's
 * stamp signature against its on-chain verifying key, and decryption of a random plaintext.
 *
 * Check policies are real PolicyManager policies: fresh owner (the payer for the policy the probe
 * revokes, so that the refund of its unserved period comes back), Alice, Bob and reader keys, one
 * kfrag from generateKFrags, the kfrag commitment root, the target's own minimum fee rate, and
 * the same protocol.ts helpers a client uses. What remains visible to a target: the policy's
 * sponsor is the checker's operator (the payer), and check policies appear while the target is
 * being checked. Hiding those would need a relayer and pre-created policies; not done here.
 */
import { randomBytes } from "node:crypto";
import { Contract, Wallet, computeAddress, ZeroAddress, getBytes, hexlify, type ContractTransactionResponse, type Provider } from "ethers";
import * as umbral from "../../umbral";
import { kfragHash, kfragRoot } from "../../client/kfrag-commitment";
import { bytesEqual, parseHex, toHex } from "../bytes";
import { buildReencryptRequest, sealKFragUpload, signRevocation, verifyCFragStamp, type EthSigning, type ReencryptResponse, type UmbralSigning } from "../protocol";
import type { SettingsStore } from "./ballot";
import { verifyKfragReceipt } from "../../protocol/kfrag-receipt-verify";
import { policyKeyBytes } from "../../protocol/policy-key";
import { CHECK_POLICY_ABI, ERC20_ABI, ESCROW_NODE_ABI, HEALTH_ABI } from "./contracts";
import { contactProof, parseSignature64 } from "../../protocol/health-contact";
import type { TxQueue } from "./tx-queue";

export type CheckName = "reachability" | "old-policy" | "create" | "fresh-requester" | "contact" | "revoke";

export interface CheckOutcome {
  name: CheckName;
  /** null: not applicable this time (e.g. no old policy yet). */
  ok: boolean | null;
  detail: string;
}

export interface ProbeReport {
  target: string;
  healthy: boolean;
  checks: CheckOutcome[];
  /** The target's 65-byte proof of contact for the assignment's (round, checker), when served. */
  contact?: string;
}

/** What a checker was drawn for: (round, checker) of a HealthCheck. */
export interface ProbeAssignment {
  healthCheck: string;
  round: bigint;
  /** The checker's staker address. */
  checker: string;
}

export interface ProbeDeps {
  provider: Provider;
  /** The checker's operator: pays for check policies and sends the on-chain revocation. */
  payer: Wallet;
  txs: TxQueue;
  policyManager: string;
  stakingEscrow: string;
  settings: SettingsStore;
  timeoutMs: number;
  /** Periods a kept ("old") check policy lives. */
  keeperPeriods?: number;
  /** Time a probe may take, retries included, when the caller gives no deadline (ms). */
  budgetMs?: number;
  /** Most a check policy hired at the target's own rate may cost (wei; default
   * DEFAULT_MAX_CHECK_POLICY_COST). Probe-capacity hires pay the global minimum rate instead. */
  maxCheckPolicyCost?: bigint;
}

/**
 * Default cap on a check policy paid at the target's own fee rate (the kept policy, or a probe
 * without an assignment): what one checker expects for one target in the default deployment,
 * rewardPerRound 1,000 NKMS / sampleSize 32 / expectedCheckers 10 = 3.125 NKMS. A target sets its
 * own rate, up to maxFeeRate (1,000 NKMS a period): capped per round (100 NKMS), a node at 20 NKMS
 * a period still collected 100 NKMS from every checker drawn to probe it, 32 times what checking
 * it paid (test/review/kept-policy-drain.test.ts). A kept policy serves several rounds.
 */
export const DEFAULT_MAX_CHECK_POLICY_COST = 3n * 10n ** 18n;

/** Default time for one probe, retries included. */
export const PROBE_BUDGET_MS = 60_000;
/** How long a kfrag upload is retried while the node's RPC has not seen the paid policy. */
export const LAG_BUDGET_MS = 30_000;
/** Largest clock difference (seconds) the probe adapts its request timestamps to. */
export const MAX_ADAPTED_SKEW_S = 5;

/** PolicyManager.NodeStatus. */
const NODE_STATUS = ["Eligible", "NotEnrolled", "FeeRateTooLow", "NotRegistered", "StakeNotLocked", "OverQuota"] as const;
const OVER_QUOTA = 5;
const FEE_RATE_TOO_LOW = 2;

/** A check policy whose secrets the checker keeps (persisted for old policies). */
interface CheckPolicy {
  policyId: string;
  target: string;
  endPeriod: number;
  owner: string; // private key
  alice: string;
  signer: string;
  bob: string;
  reader: string; // Bob's Umbral request-signing key
}

class ProbeFailure extends Error {}
/** A step the target could not be judged on (say, overloaded until our own deadline). */
class Inconclusive extends Error {}

/** The shortest attempt worth starting before the deadline (a loopback answer takes milliseconds). */
const MIN_ATTEMPT_MS = 2000;

interface HttpAnswer {
  status: number;
  json: unknown;
  retryAfter?: number;
}

/**
 * Largest answer read from a target. An honest node's answers here (ping, kfrag receipt, one
 * cfrag, revocation) are a few kilobytes; a target must not be able to stream hundreds of
 * megabytes into every checker that probes it (all targets are probed in parallel). Larger is the
 * target's fault: the exchange fails like a malformed answer.
 */
export const MAX_ANSWER_BYTES = 1 << 20;

/** The body as text, refusing (and cancelling) one over `limit` bytes, declared or streamed. */
async function readCapped(res: Response, limit: number): Promise<string> {
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`answer of ${declared} bytes is over the ${limit}-byte limit`);
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`answer over the ${limit}-byte limit`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function http(method: "GET" | "POST", url: string, body: unknown, timeoutMs: number): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? undefined : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await readCapped(res, MAX_ANSWER_BYTES);
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON: judged by status */
  }
  const ra = Number(res.headers.get("retry-after"));
  return { status: res.status, json, retryAfter: Number.isFinite(ra) && ra > 0 ? ra : undefined };
}

function errorCode(json: unknown): string | undefined {
  const code = (json as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof code === "string" ? code : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What to do with an answer: accept it, or wait and ask again. */
type RetryPolicy = (answer: HttpAnswer, attempt: number) => { retryInMs: number } | undefined;

/** 503 with Retry-After (1–5 s, backing off), as long as the deadline allows. */
const onOverload: RetryPolicy = (a, attempt) =>
  a.status === 503 ? { retryInMs: 1000 * Math.min(5, Math.max(a.retryAfter ?? 1, Math.min(5, 2 ** Math.floor(attempt / 2)))) } : undefined;

function errorText(e: unknown): string {
  const err = e as { shortMessage?: string; message?: string; name?: string };
  if (err?.name === "TimeoutError") return "timed out";
  return (err?.shortMessage ?? err?.message ?? String(e)).slice(0, 200);
}

export class TargetProber {
  private readonly pm: Contract;
  private readonly escrow: Contract;
  private token?: Contract;
  /** The tail of the payments in progress (see payInTurn). */
  private paying: Promise<unknown> = Promise.resolve();
  private chainId?: bigint;
  /** Per probe: the deadline (ms since epoch) and the target's clock offset from ours (seconds). */
  private deadline = 0;
  private offsets = new Map<string, number>();
  /** Per target: the fee rate this probe offers and the block it was read at (see `hire`). */
  private prices = new Map<string, { rate: bigint; block: number }>();

  constructor(private readonly deps: ProbeDeps) {
    this.pm = new Contract(deps.policyManager, CHECK_POLICY_ABI, deps.payer);
    this.escrow = new Contract(deps.stakingEscrow, ESCROW_NODE_ABI, deps.provider);
  }

  /** Probe `target`; retries stop at `deadline` (ms since epoch; default now + budgetMs). With an
   * `assignment`, hire through the reserved probe capacity and collect the proof of contact. */
  async probe(target: string, deadline?: number, assignment?: ProbeAssignment): Promise<ProbeReport> {
    this.deadline = deadline ?? Date.now() + (this.deps.budgetMs ?? PROBE_BUDGET_MS);
    const checks: CheckOutcome[] = [];
    let contact: string | undefined;
    const report = (): ProbeReport => ({ target, healthy: checks.every((c) => c.ok !== false), checks, ...(contact ? { contact } : {}) });
    const [endpoint, encryptingKeyHex, verifyingKeyHex] = (await this.escrow.nodeInfo(target)) as [string, string, string];
    if (!endpoint) {
      checks.push({ name: "reachability", ok: false, detail: "no endpoint registered" });
      return report();
    }
    const base = endpoint.replace(/\/+$/, "");
    const stampKey = getBytes(verifyingKeyHex);
    try {
      const sent = Date.now();
      const ping = await this.ping(base);
      if (ping.status !== 200) throw new ProbeFailure(`ping answered ${ping.status}`);
      const node = (ping.json as { node?: unknown; time?: unknown } | undefined)?.node;
      if (typeof node !== "string" || node.toLowerCase() !== target.toLowerCase()) {
        throw new ProbeFailure(`the endpoint answers for ${String(node).slice(0, 42)}, not for this node`);
      }
      // The node's clock, to date requests the way it reads them (see MAX_ADAPTED_SKEW_S).
      const time = (ping.json as { time?: unknown }).time;
      const ours = Math.floor((sent + Date.now()) / 2000);
      const offset = typeof time === "number" && Number.isSafeInteger(time) ? time - ours : 0;
      this.offsets.set(target.toLowerCase(), Math.abs(offset) <= MAX_ADAPTED_SKEW_S ? offset : 0);
      checks.push({ name: "reachability", ok: true, detail: offset === 0 ? "ping 200" : `ping 200 (node clock ${offset > 0 ? "+" : ""}${offset} s)` });
    } catch (e) {
      checks.push({ name: "reachability", ok: false, detail: errorText(e) });
      return report(); // the other checks cannot succeed against a silent node
    }

    const period = Number(await this.pm.currentPeriod());
    const price = await this.priceOf(target);
    this.prices.set(target.toLowerCase(), price);
    const feeRate = price.rate;
    const keeperKey = `health.keeper.${target.toLowerCase()}`;
    const keys = { encryptingKey: encryptingKeyHex, stampKey };

    // Can this checker hire the target at its own price? (See "Hireability" above.)
    const keeperEnd = period + (this.deps.keeperPeriods ?? 4);
    let status = Number((await this.pm.checkNode(target, keeperEnd, feeRate))[0]);
    let keeperPeriodEnd = keeperEnd;
    if (status !== 0 && status !== OVER_QUOTA) {
      // Stake locked only through a nearer period is still fine for a one-period policy.
      keeperPeriodEnd = period + 1;
      status = Number((await this.pm.checkNode(target, keeperPeriodEnd, feeRate))[0]);
    }
    // Reserved probe capacity: the quota does not apply to an assigned probe (see "Hireability").
    const reserved = assignment !== undefined && (await this.probeCapacity(assignment));
    // A probe-capacity hire ignores the quota and the node's own rate (it pays the global minimum),
    // so a rate the node changed between our two reads does not stop it either.
    const hireable = status === 0 || (reserved && (status === OVER_QUOTA || status === FEE_RATE_TOO_LOW));

    // A policy at the target's own rate is hired only up to the cap: the target sets that price.
    const cap = this.deps.maxCheckPolicyCost ?? DEFAULT_MAX_CHECK_POLICY_COST;
    const keptAffordable = feeRate * BigInt(keeperPeriodEnd - period + 1) <= cap;

    // 2. old policy: checked when held; renewed (a period before it ends) or created when hireable.
    const stored = this.deps.settings.getSetting(keeperKey);
    const keeper = stored ? (JSON.parse(stored) as CheckPolicy) : undefined;
    const keeperLive = keeper !== undefined && ((await this.pm.isActiveArrangement(keeper.policyId, target)) as boolean);
    // The proof of contact comes with a served re-encryption: the fresh requester's, or (when the
    // node cannot be hired now) the kept policy's.
    let signed: string | undefined;
    const contactCheck = async (): Promise<void> => {
      if (!assignment) return;
      contact = signed ? await this.completeContact(assignment, target, signed, stampKey) : undefined;
      checks.push(
        contact
          ? { name: "contact", ok: true, detail: `proof of contact for round ${assignment.round}` }
          : { name: "contact", ok: false, detail: signed ? "the node's proof of contact does not verify" : "served without a proof of contact" },
      );
    };
    if (keeperLive) {
      checks.push(
        await this.step("old-policy", () => this.reencryptAndVerify(base, keeper!, stampKey, null, assignment, (s) => (signed = s))),
      );
    } else {
      const kept = status === 0 ? (keptAffordable ? "; check policy created for next time" : "; none kept: above this checker's cap at the node's rate") : "";
      checks.push({ name: "old-policy", ok: null, detail: keeper ? `previous check policy expired${kept ? "; replaced" : ""}` : `first contact${kept}` });
    }
    if (status === 0 && keptAffordable && (!keeperLive || keeper!.endPeriod <= period + 1)) {
      const fresh = await this.createAndUpload(base, target, keys, keeperPeriodEnd, null);
      if (fresh.ok) this.deps.settings.setSetting(keeperKey, JSON.stringify(fresh.policy));
      else if (fresh.refused) checks.push({ name: "create", ok: false, detail: `old-policy upload: ${fresh.detail}` });
    }

    if (!hireable) {
      if (status === OVER_QUOTA) {
        // A third party can fill a quota: not held against the node (its service is judged on the
        // policy kept from an earlier round, when this checker holds one).
        checks.push({ name: "create", ok: null, detail: keeperLive ? "over quota: judged on the policy kept from an earlier round" : "over quota and no earlier policy of ours: service not judged" });
        if (keeperLive && checks.find((c) => c.name === "old-policy")?.ok) await contactCheck();
      } else if (status === FEE_RATE_TOO_LOW) {
        checks.push({ name: "create", ok: null, detail: "the node's fee rate changed while probing" });
      } else {
        checks.push({ name: "create", ok: false, detail: `unhireable: ${NODE_STATUS[status] ?? `status ${status}`}` });
      }
      return report();
    }

    if (!reserved && feeRate * 2n > cap) {
      checks.push({ name: "create", ok: null, detail: `the node's fee rate puts a check policy above this checker's cap (${feeRate * 2n} > ${cap} wei): service not judged` });
      return report();
    }

    // 3.–5. create, re-encrypt for a fresh unrelated address, revoke
    const freshReader = new Wallet(Wallet.createRandom().privateKey);
    const created = await this.createAndUpload(base, target, keys, period + 1, freshReader, reserved ? assignment!.round : undefined);
    if (!created.ok) {
      // Refusing a valid, paid kfrag is the node's fault; being unable to pay is ours.
      checks.push({ name: "create", ok: created.refused ? false : null, detail: created.detail });
      return report();
    }
    checks.push({ name: "create", ok: true, detail: `${reserved ? "probe " : ""}policy ${created.policy.policyId} accepted` });
    signed = undefined; // the fresh requester's answer must carry its own
    checks.push(
      await this.step("fresh-requester", () =>
        this.reencryptAndVerify(base, created.policy, stampKey, freshReader, assignment, (s) => (signed = s)),
      ),
    );
    if (checks[checks.length - 1].ok) await contactCheck();
    checks.push(await this.step("revoke", () => this.revokeAndConfirm(base, created.policy, freshReader)));
    return report();
  }

  /** Whether the PolicyManager reserves probe capacity for this HealthCheck's assignments. */
  private async probeCapacity(a: ProbeAssignment): Promise<boolean> {
    try {
      const hc = (await this.pm.healthCheck()) as string;
      return hc.toLowerCase() === a.healthCheck.toLowerCase();
    } catch {
      return false; // an older PolicyManager without probe capacity
    }
  }

  /** The 65-byte proof from the node's r‖s, checked off-chain and by HealthCheck.isContactValid. */
  private async completeContact(a: ProbeAssignment, target: string, signature: string, stampKey: Uint8Array): Promise<string | undefined> {
    const sig = parseSignature64(signature);
    if (!sig) return undefined;
    this.chainId ??= (await this.deps.provider.getNetwork()).chainId;
    const proof = contactProof({ chainId: this.chainId, healthCheck: a.healthCheck, round: a.round, checker: a.checker, target }, sig, stampKey);
    if (!proof) return undefined;
    const hc = new Contract(a.healthCheck, HEALTH_ABI, this.deps.provider);
    return ((await hc.isContactValid(a.round, a.checker, target, proof)) as boolean) ? proof : undefined;
  }

  /** GET /v1/ping, retried twice when the connection fails (not on a timeout: that already waited). */
  private async ping(base: string): Promise<HttpAnswer> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await http("GET", `${base}/v1/ping`, undefined, this.deps.timeoutMs);
      } catch (e) {
        if ((e as Error)?.name === "TimeoutError" || attempt >= 2 || Date.now() + 1000 * (attempt + 1) > this.deadline) throw e;
        await sleep(1000 * (attempt + 1));
      }
    }
  }

  /**
   * One HTTP exchange with bounded retries: `build` makes a fresh body per attempt (re-encryption
   * requests carry a one-time nonce and a timestamp), `policy` says which answers to retry.
   */
  private async exchange(method: "GET" | "POST", url: string, build: () => Promise<unknown> | unknown, policy: RetryPolicy, maxAttempts = 12): Promise<HttpAnswer> {
    for (let attempt = 0; ; attempt++) {
      // A retry's wait may not eat into the deadline by a whole timeout: it was the last steps of
      // a probe (the revocation's) that an ordinary load burst ran past the deadline. Instead,
      // every attempt's timeout ends at the deadline.
      const timeout = attempt === 0 ? this.deps.timeoutMs : Math.max(MIN_ATTEMPT_MS, Math.min(this.deps.timeoutMs, this.deadline - Date.now()));
      const answer = await http(method, url, await build(), timeout);
      const retry = attempt + 1 < maxAttempts ? policy(answer, attempt) : undefined;
      if (!retry || Date.now() + retry.retryInMs + MIN_ATTEMPT_MS > this.deadline) return answer;
      await sleep(retry.retryInMs);
    }
  }

  /** A signed re-encryption request dated by the target's clock (within MAX_ADAPTED_SKEW_S of ours). */
  private async signedRequest(signer: UmbralSigning | EthSigning, target: string, policyId: Uint8Array, capsules: Uint8Array[], assignment?: ProbeAssignment) {
    const offset = this.offsets.get(target.toLowerCase()) ?? 0;
    const healthContact = assignment ? { round: Number(assignment.round), checker: assignment.checker } : undefined;
    return buildReencryptRequest(signer, target, policyId, capsules, { timestamp: Math.floor(Date.now() / 1000) + offset, healthContact });
  }

  /** Re-encryption: 503 retried; 401 STALE_REQUEST re-dated (twice at most). */
  private reencryptRetry(): RetryPolicy {
    let stale = 0;
    return (a, attempt) => {
      if (a.status === 401 && errorCode(a.json) === "STALE_REQUEST" && stale++ < 2) return { retryInMs: 200 };
      return onOverload(a, attempt);
    };
  }

  private async step(name: CheckName, run: () => Promise<string>): Promise<CheckOutcome> {
    try {
      return { name, ok: true, detail: await run() };
    } catch (e) {
      if (e instanceof Inconclusive) return { name, ok: null, detail: e.message };
      return { name, ok: false, detail: errorText(e) };
    }
  }

  /** The fee an ordinary client would offer: the target's effective minimum (at least the global
   * one), as of one block, named so that later changes can be told apart (`hire`). */
  private async priceOf(target: string): Promise<{ rate: bigint; block: number }> {
    const block = await this.deps.provider.getBlockNumber();
    const [params, fees] = await Promise.all([this.pm.params({ blockTag: block }), this.pm.nodeFees(target, { blockTag: block })]);
    const effective = fees[2] as bigint;
    const global = params[0] as bigint;
    return { rate: effective > global ? effective : global, block };
  }

  /** Whether the target set its fee rate (MinFeeRateSet) in a block after `block`. */
  private async rateChangedSince(target: string, block: number): Promise<boolean> {
    const latest = await this.deps.provider.getBlockNumber();
    if (latest <= block) return false;
    return (await this.pm.queryFilter(this.pm.filters.MinFeeRateSet(target), block + 1, latest)).length > 0;
  }

  /**
   * Pay for the check policy at the target's price. Whose fault a failed hire is: a target that
   * sets its fee rate between our reading it and our hire (say, front-running every hire naming
   * it, or raising and lowering it around ours) makes the hire revert; counted as our failure
   * ("could not pay", inconclusive) that left it healthy without a proof of contact, and the duty
   * then sits the whole round out, so the target (and every other target of the round) went
   * unjudged. An honest node may change its rate at any time: once per hire is re-priced and
   * retried; changed again before the retry lands, the node refuses to be hired at its own terms.
   */
  private async hire(
    target: string,
    send: (feeRate: bigint) => Promise<ContractTransactionResponse>,
    cost: (feeRate: bigint) => Promise<bigint>,
  ): Promise<{ ok: true } | { ok: false; refused: boolean; detail: string }> {
    const key = target.toLowerCase();
    for (let attempt = 0; ; attempt++) {
      const price = this.prices.get(key) ?? (await this.priceOf(target));
      try {
        const amount = await cost(price.rate);
        await this.payInTurn(amount, () => send(price.rate));
        return { ok: true };
      } catch (e) {
        const changed = await this.rateChangedSince(target, price.block).catch(() => false);
        if (!changed) return { ok: false, refused: false, detail: `could not pay the check policy: ${errorText(e)}` };
        this.prices.set(key, await this.priceOf(target));
        if (attempt > 0) return { ok: false, refused: true, detail: `unhireable: the node changed its fee rate during the hire again (${errorText(e)})` };
      }
    }
  }

  /** Pay for a probe-capacity hire at the global minimum fee rate (the target's own rate does
   * not apply to it, so a rate change cannot make it revert). */
  private async hireProbe(
    send: (feeRate: bigint) => Promise<ContractTransactionResponse>,
    cost: (feeRate: bigint) => Promise<bigint>,
  ): Promise<{ ok: true } | { ok: false; refused: boolean; detail: string }> {
    const rate = ((await this.pm.params()) as unknown as [bigint])[0];
    const price = await cost(rate);
    // The governor sets the global minimum: a probe is still capped like any other hire.
    const cap = this.deps.maxCheckPolicyCost ?? DEFAULT_MAX_CHECK_POLICY_COST;
    if (price > cap) return { ok: false, refused: false, detail: `the global minimum fee rate puts a probe above this checker's cap (${price} > ${cap} wei)` };
    await this.payInTurn(price, () => send(rate));
    return { ok: true };
  }

  /**
   * Tops the allowance up if needed, then sends the hire: one payment at a time. The duty probes a
   * round's targets at once, and allowance checks made side by side all read the same leftover
   * allowance, so the hires past it reverted with nobody approving
   * (test/review/probe-allowance-race.test.ts). The queue mines each transaction before the next,
   * so inside this turn the allowance read is exact.
   */
  private payInTurn(amount: bigint, hire: () => Promise<ContractTransactionResponse>): Promise<void> {
    const turn = this.paying.then(async () => {
      await this.ensureAllowance(amount);
      await this.deps.txs.send(hire);
    });
    this.paying = turn.catch(() => undefined);
    return turn;
  }

  private async ensureAllowance(amount: bigint): Promise<void> {
    this.token ??= new Contract((await this.pm.token()) as string, ERC20_ABI, this.deps.payer);
    const owner = this.deps.payer.address;
    const current = (await this.token.allowance(owner, this.deps.policyManager)) as bigint;
    if (current >= amount) return;
    // Approve a batch of policies at once, as a wallet would.
    await this.deps.txs.send(() => this.token!.approve(this.deps.policyManager, amount * 32n));
  }

  private async createAndUpload(
    base: string,
    target: string,
    /** The target's registered keys: the kfrag travels sealed to the encrypting key, as a client's
     * would, and the receipt must be the stamp key's. */
    keys: { encryptingKey: string; stampKey: Uint8Array },
    endPeriod: number,
    reader: Wallet | null,
    /** Hire through the reserved probe capacity of this round (PolicyManager.createProbePolicy). */
    probeRound?: bigint,
  ): Promise<{ ok: true; policy: CheckPolicy } | { ok: false; refused: boolean; detail: string }> {
    // The owner receives the refund of the unserved period when the probe revokes the fresh
    // policy: the payer itself (a throwaway key, dropped after the probe, made that refund lost
    // for good; the sponsor names the checker's operator on-chain anyway). A kept policy is never
    // revoked and keeps a fresh owner.
    const owner = reader ? new Wallet(this.deps.payer.privateKey) : new Wallet(Wallet.createRandom().privateKey);
    const alice = umbral.SecretKey.random();
    const signer = umbral.SecretKey.random();
    const bob = umbral.SecretKey.random();
    const bobReader = umbral.SecretKey.random();
    const [kfrag] = umbral.generateKFrags(alice, bob.publicKey(), new umbral.Signer(signer), 1, 1, true, true);
    // The payer creates it under a random id; it is named policyKey(payer, id) everywhere else.
    const id = new Uint8Array(randomBytes(16));
    const policyIdBytes = policyKeyBytes(this.deps.payer.address, id);
    const policyId = hexlify(policyIdBytes);
    const kfragBytes = kfrag.toBytes();
    const root = kfragRoot(policyIdBytes, [{ node: target, kfragHash: kfragHash(kfragBytes) }]);
    const cost = async (rate: bigint) => (await this.pm.policyCost(1, rate, endPeriod)) as bigint;
    const paid = await (
      probeRound !== undefined
        ? this.hireProbe((rate) => this.pm.createProbePolicy(probeRound, hexlify(id), owner.address, rate, [target], toHex(root)), cost)
        : this.hire(target, (rate) => this.pm.createPolicy(hexlify(id), owner.address, endPeriod, rate, [target], toHex(root)), cost)
    ).catch((e: unknown) => ({ ok: false as const, refused: false, detail: `could not pay the check policy: ${errorText(e)}` }));
    if (!paid.ok) return paid;
    const policy: CheckPolicy = {
      policyId,
      target,
      endPeriod,
      owner: owner.privateKey,
      alice: toHex(alice.toBEBytes()),
      signer: toHex(signer.toBEBytes()),
      bob: toHex(bob.toBEBytes()),
      reader: toHex(bobReader.toBEBytes()),
    };
    try {
      const upload = await sealKFragUpload(owner, policyIdBytes, target, keys.encryptingKey, {
        kfrag: toHex(kfragBytes),
        publisherVerifyingKey: toHex(signer.publicKey().toCompressedBytes()),
        delegatingKey: toHex(alice.publicKey().toCompressedBytes()),
        receivingKey: toHex(bob.publicKey().toCompressedBytes()),
        proof: [], // a single-node tree: the root is the leaf
        conditions: null,
        reader: reader ? { address: reader.address } : { verifyingKey: toHex(bobReader.publicKey().toCompressedBytes()) },
      });
      // The node reads the chain through its own RPC endpoint, which may not have the block with
      // the payment yet: 404 UNKNOWN_POLICY is retried (with backoff) for up to LAG_BUDGET_MS.
      const paidAt = Date.now();
      const res = await this.exchange("POST", `${base}/v1/policies/${policyId}/kfrag`, () => upload, (a, attempt) => {
        if (a.status === 404 && errorCode(a.json) === "UNKNOWN_POLICY" && Date.now() - paidAt < LAG_BUDGET_MS) return { retryInMs: Math.min(4000, 500 * 2 ** attempt) };
        return onOverload(a, attempt);
      });
      if (res.status !== 201 && res.status !== 200) {
        return { ok: false, refused: true, detail: `kfrag refused: ${res.status} ${JSON.stringify(res.json).slice(0, 120)}` };
      }
      // A client counts a kfrag without a valid receipt as not delivered; so does a checker.
      this.chainId ??= (await this.deps.provider.getNetwork()).chainId;
      const receipt = (res.json as { receipt?: { period?: unknown; signature?: unknown } } | undefined)?.receipt;
      const period = receipt?.period;
      const valid =
        typeof receipt?.signature === "string" &&
        /^0x[0-9a-fA-F]{128}$/.test(receipt.signature) &&
        typeof period === "number" &&
        Number.isSafeInteger(period) &&
        period >= 0 &&
        period <= 0xffffffff &&
        verifyKfragReceipt(
          keys.stampKey,
          { chainId: this.chainId, policyManager: this.deps.policyManager, staker: target, period, policyCreator: owner.address, policyId: policyIdBytes, kfragHash: kfragHash(kfragBytes) },
          getBytes(receipt.signature),
        );
      if (!valid) return { ok: false, refused: true, detail: "kfrag accepted without a valid receipt from the node's stamp key" };
    } catch (e) {
      return { ok: false, refused: true, detail: `kfrag upload failed: ${errorText(e)}` };
    }
    return { ok: true, policy };
  }

  /** One capsule through the target; verifies proof, stamp and decryption. */
  private async reencryptAndVerify(
    base: string,
    p: CheckPolicy,
    stampKey: Uint8Array,
    reader: EthSigning | null,
    assignment?: ProbeAssignment,
    onContact?: (signature: string) => void,
  ): Promise<string> {
    const alice = umbral.SecretKey.fromBEBytes(getBytes(p.alice));
    const bob = umbral.SecretKey.fromBEBytes(getBytes(p.bob));
    const publisher = umbral.SecretKey.fromBEBytes(getBytes(p.signer)).publicKey();
    const requester: UmbralSigning | EthSigning = reader ?? new umbral.Signer(umbral.SecretKey.fromBEBytes(getBytes(p.reader)));
    const plaintext = new Uint8Array(randomBytes(32));
    const [capsule, ciphertext] = umbral.encrypt(alice.publicKey(), plaintext);
    const policyIdBytes = getBytes(p.policyId);
    const res = await this.exchange(
      "POST",
      `${base}/v1/policies/${p.policyId}/reencrypt`,
      () => this.signedRequest(requester, p.target, policyIdBytes, [capsule.toBytes()], assignment),
      this.reencryptRetry(),
    );
    if (res.status !== 200) throw new ProbeFailure(`re-encryption refused: ${res.status} ${JSON.stringify(res.json).slice(0, 120)}`);
    const body = res.json as ReencryptResponse;
    if (!Array.isArray(body?.cfrags) || body.cfrags.length !== 1) throw new ProbeFailure("response does not carry exactly one cfrag");
    let cfrag: umbral.CapsuleFrag;
    try {
      cfrag = umbral.CapsuleFrag.fromBytes(parseHex(body.cfrags[0].cfrag, "cfrag"));
    } catch (e) {
      throw new ProbeFailure(`malformed cfrag: ${errorText(e)}`);
    }
    let verified: umbral.VerifiedCapsuleFrag;
    try {
      verified = cfrag.verify(capsule, publisher, alice.publicKey(), bob.publicKey());
    } catch {
      throw new ProbeFailure("cfrag correctness proof does not verify");
    }
    let stamp: Uint8Array;
    let stampProof: Uint8Array[];
    try {
      stamp = parseHex(body.cfrags[0].signature, "signature");
      if (!Array.isArray(body.cfrags[0].stampProof)) throw new Error("stampProof must be an array");
      stampProof = body.cfrags[0].stampProof.map((p) => parseHex(p, "stampProof", 32));
    } catch (e) {
      throw new ProbeFailure(`malformed stamp: ${errorText(e)}`);
    }
    if (typeof body.stampPeriod !== "number" || !Number.isInteger(body.stampPeriod) || body.stampPeriod < 0 || body.stampPeriod > 0xffffffff) {
      throw new ProbeFailure("malformed stamp: stampPeriod must be a uint32");
    }
    const stampContext = {
      staker: p.target,
      stampPeriod: body.stampPeriod,
      policyCreator: computeAddress(p.owner),
      policyId: policyIdBytes,
      delegatingKey: alice.publicKey().toCompressedBytes(),
      receivingKey: bob.publicKey().toCompressedBytes(),
      verifyingKey: publisher.toCompressedBytes(),
    };
    if (!verifyCFragStamp(stampKey, stampContext, { capsule: capsule.toBytes(), cfrag: cfrag.toBytes(), signature: stamp, proof: stampProof })) {
      throw new ProbeFailure("cfrag stamp does not verify with the on-chain verifying key");
    }
    const decrypted = umbral.decryptReencrypted(bob, alice.publicKey(), capsule, [verified], ciphertext);
    if (!bytesEqual(decrypted, plaintext)) throw new ProbeFailure("re-encrypted capsule does not decrypt to the plaintext");
    // Taken only from an answer whose cfrag verified: the proof of contact stands for served work.
    const contact = body.healthContact;
    if (onContact && assignment && typeof contact?.signature === "string" && contact.round === Number(assignment.round) && String(contact.checker).toLowerCase() === assignment.checker.toLowerCase()) {
      onContact(contact.signature);
    }
    return `cfrag verified (proof, stamp, decryption) for policy ${p.policyId}`;
  }

  /** Owner-signed revocation at the node, then the same request must be refused; revoked on-chain too (frees the target's quota). */
  private async revokeAndConfirm(base: string, p: CheckPolicy, reader: Wallet): Promise<string> {
    const owner = new Wallet(p.owner);
    const policyIdBytes = getBytes(p.policyId);
    const revocation = await signRevocation(owner, policyIdBytes);
    const res = await this.exchange("POST", `${base}/v1/policies/${p.policyId}/revoke`, () => revocation, onOverload);
    // The node has just served this policy; 503 until our deadline is load, not a fault, and the
    // chain revocation below still ends the policy.
    if (res.status === 503) {
      await this.revokeOnChain(owner, p.policyId);
      throw new Inconclusive("overloaded (503) until the probe's deadline: revocation not judged");
    }
    if (res.status !== 200) throw new ProbeFailure(`revocation refused: ${res.status}`);
    const onChain = await this.revokeOnChain(owner, p.policyId);
    const alice = umbral.SecretKey.fromBEBytes(getBytes(p.alice));
    const [capsule] = umbral.encrypt(alice.publicKey(), new Uint8Array(randomBytes(32)));
    const after = await this.exchange(
      "POST",
      `${base}/v1/policies/${p.policyId}/reencrypt`,
      () => this.signedRequest(reader, p.target, policyIdBytes, [capsule.toBytes()]),
      this.reencryptRetry(),
    );
    if (after.status === 200) throw new ProbeFailure("still re-encrypts for a revoked policy");
    // A 503 is no re-encryption: "a revoked policy never re-encrypts" holds; only a 200 breaks it.
    if (after.status === 503) throw new Inconclusive("revoked policy answered 503 (overloaded) until the probe's deadline: refusal not confirmed");
    if (after.status !== 410) throw new ProbeFailure(`revoked policy answered ${after.status}, expected 410`);
    return `revoked policy refused with 410${onChain}`;
  }

  /**
   * Relay the owner's revocation on-chain (refunds this checker the unserved period). Never the
   * target's fault when it fails: the signature is public once the transaction is pending, and
   * anyone relaying it first makes ours revert (counted against the target, that let any outsider
   * have honest checkers vote an honest node down). Returns a note for the check's detail.
   */
  private async revokeOnChain(owner: Wallet, policyId: string): Promise<string> {
    try {
      await this.sendRevocation(owner, policyId);
      return "";
    } catch (e) {
      return `; on-chain revocation failed, not held against the node (${errorText(e)})`;
    }
  }

  private async sendRevocation(owner: Wallet, policyId: string): Promise<void> {
    // Our own policy (the payer owns what the probe revokes): revoked directly, nothing to relay.
    if (owner.address.toLowerCase() === this.deps.payer.address.toLowerCase()) {
      await this.deps.txs.send(() => this.pm.revokePolicy(policyId));
      return;
    }
    this.chainId ??= (await this.deps.provider.getNetwork()).chainId;
    const latest = await this.deps.provider.getBlock("latest");
    const deadline = BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000)) + 3600n; // chain clock, not ours
    const signature = await owner.signTypedData(
      { name: "NKMS PolicyManager", version: "1", chainId: this.chainId, verifyingContract: this.deps.policyManager },
      { Revocation: [{ name: "policyId", type: "bytes16" }, { name: "node", type: "address" }, { name: "nonce", type: "uint256" }, { name: "deadline", type: "uint256" }] },
      { policyId, node: ZeroAddress, nonce: 0n, deadline },
    );
    await this.deps.txs.send(() => this.pm.revokeWithSignature(policyId, ZeroAddress, 0n, deadline, signature));
  }
}
