/**
 * Threshold retrieval: ask every node of a policy for cfrags at once, verify each answer (the
 * node's stamp, then the cfrag's own proof), and finish as soon as `threshold` nodes have given a
 * full set of valid cfrags. Dead, slow, refusing or lying nodes are recorded with the reason; a
 * correctly stamped but invalid cfrag is proof of misbehaviour and is saved as challenge evidence.
 */
import fs from "node:fs";
import path from "node:path";
import { computeAddress, getBytes, hexlify } from "ethers";
import { Capsule, PublicKey, VerifiedCapsuleFrag } from "../umbral";
import { buildReencryptRequest, type ReencryptResponse, type UmbralSigning } from "../node/protocol";
import { verifyCFragStamps } from "../protocol/stamp-verify";
import { cfragAcceptable } from "../protocol/acceptance";
import { evidenceHash, serializeEvidence, type CFragEvidence } from "./evidence";
import { RetrievalError, type NodeFailure } from "./errors";

export interface RetrievalNode {
  staker: string;
  /** Registered endpoint; empty when the node has none. */
  endpoint: string;
  /** The node's registered stamp key (compressed, 33 bytes). */
  stampKey: Uint8Array;
}

/**
 * Whether the escrow counts a stamp by `stampKey` dated `stampPeriod` as `staker`'s, and the date
 * is fresh enough for evidence to land in its slashing window (client.ts reads StakingEscrow
 * `isStampKey` and `currentPeriod`). A stamp that does not count proves nothing against the node.
 */
export type StampDateCheck = (staker: string, stampKey: Uint8Array, stampPeriod: number) => Promise<boolean>;

/** The escrow views a StampDateCheck reads (StakingEscrow's, e.g. its typechain binding). */
export interface StampDateSource {
  isStampKey(staker: string, signer: string, period: number): Promise<boolean>;
  currentPeriod(): Promise<bigint>;
}

/**
 * The StampDateCheck over an escrow: the escrow counts the stamp now (`isStampKey`: the key's
 * window contains the date, the date is at most G periods old and not in the future), and it is
 * dated this period or the last one (a period boundary between the node's read and ours), so the
 * evidence still has at least G − 1 whole periods to be filed. A key's window never shrinks
 * below a period it already covered, so a stamp that counts now keeps counting until then.
 */
export function stampDateCheck(escrow: StampDateSource): StampDateCheck {
  return async (staker, stampKey, stampPeriod) => {
    const [counts, now] = await Promise.all([escrow.isStampKey(staker, computeAddress(hexlify(stampKey)), stampPeriod), escrow.currentPeriod()]);
    return counts && stampPeriod + 1 >= Number(now);
  };
}

export interface RetrievalRequest {
  policyId: Uint8Array;
  /** The policy's creator (its on-chain owner): with the id, what the stamps name the policy by. */
  policyCreator: string;
  /** Checks each answer's stamp date against the escrow (see StampDateCheck). */
  checkStampDate: StampDateCheck;
  threshold: number;
  capsules: Capsule[];
  delegatingKey: PublicKey;
  publisherVerifyingKey: PublicKey;
  receivingKey: PublicKey;
  /** Signs the requests (the reader's Umbral signer). */
  signer: UmbralSigning;
  nodes: RetrievalNode[];
  /** Per-node deadline for the whole request, ms (default 10 s). */
  timeoutMs?: number;
  /** Where challenge evidence files go (default: not saved, still returned). */
  evidenceDir?: string;
}

export interface RetrievalResult {
  /** cfrags[i] holds `threshold` verified cfrags of capsules[i]. */
  cfrags: VerifiedCapsuleFrag[][];
  /** The nodes whose cfrags were used. */
  usedNodes: string[];
  /** Nodes that failed before the threshold was reached (others may still have been pending). */
  failures: NodeFailure[];
  evidence: CFragEvidence[];
}

type NodeOutcome = { ok: true; staker: string; cfrags: VerifiedCapsuleFrag[] } | { ok: false; failure: NodeFailure };

export const DEFAULT_NODE_TIMEOUT_MS = 10_000;

export async function retrieveCFrags(req: RetrievalRequest): Promise<RetrievalResult> {
  const timeoutMs = req.timeoutMs ?? DEFAULT_NODE_TIMEOUT_MS;
  const controllers = req.nodes.map(() => new AbortController());
  const failures: NodeFailure[] = [];
  const evidence: CFragEvidence[] = [];
  const successes: { staker: string; cfrags: VerifiedCapsuleFrag[] }[] = [];

  await new Promise<void>((resolve) => {
    let pending = req.nodes.length;
    if (pending === 0) resolve();
    req.nodes.forEach((node, i) => {
      askNode(req, node, controllers[i].signal, timeoutMs, evidence)
        .catch((e: unknown): NodeOutcome => ({ ok: false, failure: { staker: node.staker, endpoint: node.endpoint, kind: "malformed", message: (e as Error).message } }))
        .then((outcome) => {
          pending--;
          if (successes.length < req.threshold) {
            if (outcome.ok) successes.push(outcome);
            else failures.push(outcome.failure);
          }
          if (successes.length >= req.threshold || pending === 0) resolve();
        });
    });
  });
  // The threshold is met (or cannot be): stop waiting on the others.
  for (const c of controllers) c.abort();

  if (successes.length < req.threshold) {
    if (req.evidenceDir) {
      for (const e of evidence) {
        const failure = failures.find((f) => f.kind === "invalid_cfrag" && f.staker === e.staker && !f.evidenceFile);
        if (failure) failure.evidenceFile = saveEvidence(req.evidenceDir, e);
      }
    }
    throw new RetrievalError(req.threshold, successes.length, failures);
  }
  const used = successes.slice(0, req.threshold);
  if (req.evidenceDir) {
    for (const e of evidence) {
      const file = saveEvidence(req.evidenceDir, e);
      const failure = failures.find((f) => f.kind === "invalid_cfrag" && f.staker === e.staker && !f.evidenceFile);
      if (failure) failure.evidenceFile = file;
    }
  }
  return {
    cfrags: req.capsules.map((_, c) => used.map((s) => s.cfrags[c])),
    usedNodes: used.map((s) => s.staker),
    failures,
    evidence,
  };
}

/** Writes one evidence file (the adjudicator's `nkms.cfrag-evidence` JSON) and returns its path. */
export function saveEvidence(dir: string, e: CFragEvidence): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `cfrag-${e.staker.toLowerCase()}-${evidenceHash(e).slice(2, 18)}.json`);
  fs.writeFileSync(file, serializeEvidence(e));
  return file;
}

async function askNode(
  req: RetrievalRequest,
  node: RetrievalNode,
  signal: AbortSignal,
  timeoutMs: number,
  evidence: CFragEvidence[],
): Promise<NodeOutcome> {
  const fail = (kind: NodeFailure["kind"], message: string, extra: Partial<NodeFailure> = {}): NodeOutcome => ({
    ok: false,
    failure: { staker: node.staker, endpoint: node.endpoint || undefined, kind, message, ...extra },
  });
  if (!node.endpoint) return fail("unregistered", "no endpoint registered on-chain");
  const policyIdHex = hexlify(req.policyId);
  const body = await buildReencryptRequest(req.signer, node.staker, req.policyId, req.capsules.map((c) => c.toBytes()));
  const timeout = AbortSignal.timeout(timeoutMs);
  let json: unknown;
  let status: number;
  try {
    const res = await fetch(`${node.endpoint.replace(/\/+$/, "")}/v1/policies/${policyIdHex}/reencrypt`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.any([signal, timeout]),
    });
    status = res.status;
    json = await res.json().catch(() => undefined);
  } catch (e) {
    if (timeout.aborted) return fail("timeout", `no answer within ${timeoutMs} ms`);
    if (signal.aborted) return fail("timeout", "not needed: threshold already met");
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return fail("unreachable", cause?.code ?? cause?.message ?? (e as Error).message);
  }
  if (status < 200 || status >= 300) {
    const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    return fail("refused", err?.message ?? `HTTP ${status}`, { status, code: err?.code });
  }
  const items = (json as Partial<ReencryptResponse> | undefined)?.cfrags;
  if (!Array.isArray(items) || items.length !== req.capsules.length) {
    return fail("malformed", `expected ${req.capsules.length} cfrag(s)`, { status });
  }
  const stampPeriod = (json as Partial<ReencryptResponse>).stampPeriod;
  if (typeof stampPeriod !== "number" || !Number.isInteger(stampPeriod) || stampPeriod < 0 || stampPeriod > 0xffffffff) {
    return fail("malformed", "stampPeriod must be a uint32", { status });
  }
  // Only the JSON shape is checked here: the cfrag stays the node's raw bytes, so that a stamped
  // cfrag which does not even parse (z = n, an off-curve point, a scalar ≥ n) is kept as evidence.
  const parsed: { bytes: Uint8Array; signature: Uint8Array; proof: Uint8Array[] }[] = [];
  for (let i = 0; i < items.length; i++) {
    try {
      const proof = items[i].stampProof;
      if (!Array.isArray(proof)) throw new Error("stampProof must be an array");
      parsed.push({ bytes: getBytes(items[i].cfrag), signature: getBytes(items[i].signature), proof: proof.map((p) => getBytes(p)) });
    } catch (e) {
      return fail("malformed", `cfrag ${i} is not hex: ${(e as Error).message}`, { status });
    }
  }
  const stampContext = {
    staker: node.staker,
    stampPeriod,
    policyCreator: req.policyCreator,
    policyId: req.policyId,
    delegatingKey: req.delegatingKey.toCompressedBytes(),
    receivingKey: req.receivingKey.toCompressedBytes(),
    verifyingKey: req.publisherVerifyingKey.toCompressedBytes(),
  };
  // Every cfrag's leaf must lead up its proof to a root the node signed (each root checked once).
  const stamped = verifyCFragStamps(
    node.stampKey,
    stampContext,
    parsed.map((p, i) => ({ capsule: req.capsules[i].toBytes(), cfrag: p.bytes, signature: p.signature, proof: p.proof })),
  );
  // A stamp the escrow would not count (a key outside its window for that date, a stale or
  // future date) is no stamp: the answer is refused like an unstamped one.
  // Checked whenever anything is stamped: evidence is only ever kept for stamps that count.
  if (stamped.some(Boolean) && !(await req.checkStampDate(node.staker, node.stampKey, stampPeriod))) {
    return fail("bad_stamp", `stamps dated period ${stampPeriod} do not count for the node's key on-chain`, { status });
  }
  const verified: VerifiedCapsuleFrag[] = [];
  for (let i = 0; i < parsed.length; i++) {
    const capsule = req.capsules[i];
    const { bytes, signature, proof } = parsed[i];
    if (!stamped[i]) {
      // Without the node's stamp the cfrag proves nothing against it: discard, no evidence.
      return fail("bad_stamp", `cfrag ${i} is not stamped by the node's registered key`, { status });
    }
    // The one acceptance rule (src/protocol/acceptance.ts), which the Adjudicator applies too:
    // a stamped cfrag it refuses slashes the node, so the evidence is kept.
    const verdict = cfragAcceptable(capsule, bytes, stampContext);
    if (verdict.ok) {
      verified.push(verdict.value);
      continue;
    }
    evidence.push({
      ...stampContext,
      capsule: capsule.toBytes(),
      cfrag: bytes,
      nodeVerifyingKey: node.stampKey,
      stampSignature: signature,
      stampProof: proof,
    });
    return fail("invalid_cfrag", `cfrag ${i} is incorrect (${verdict.reason}; correctly stamped: evidence kept)`, { status });
  }
  return { ok: true, staker: node.staker, cfrags: verified };
}
