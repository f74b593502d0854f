// Is the operator's on-chain endpoint a live instance of this operator? The starting agent sends
// the registered endpoint a fresh 32-byte nonce (POST /v1/operator-challenge); a live agent signs
//   "NKMS-OPERATOR-CHALLENGE-V1" ‖ nonce ‖ its endpoint (UTF-8)
// with the operator key (EIP-191 personal message). The answer counts only when it recovers to
// the operator and names the registered endpoint: a replayed answer fails the nonce, another
// operator's agent fails the key, a proxy in front of another instance fails the endpoint.
import { getBytes, hexlify, verifyMessage, type Wallet } from "ethers";
import { randomBytes } from "node:crypto";

export const CHALLENGE_DOMAIN = "NKMS-OPERATOR-CHALLENGE-V1";
export const CHALLENGE_TIMEOUT_MS = 5_000;
/** An answer is ~250 bytes; whatever sits at the endpoint cannot make the starting agent buffer more. */
const MAX_ANSWER_BYTES = 4096;

async function boundedText(res: Response, max: number): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new Error(`answer larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function challengeMessage(nonce: Uint8Array, endpoint: string): Uint8Array {
  const domain = new TextEncoder().encode(CHALLENGE_DOMAIN);
  const ep = new TextEncoder().encode(endpoint);
  const out = new Uint8Array(domain.length + nonce.length + ep.length);
  out.set(domain, 0);
  out.set(nonce, domain.length);
  out.set(ep, domain.length + nonce.length);
  return out;
}

export interface ChallengeAnswer {
  operator: string;
  endpoint: string;
  signature: string;
}

/** The live agent's answer to `nonce` (32 bytes, hex). */
export async function answerChallenge(operator: Wallet, endpoint: string, nonce: string): Promise<ChallengeAnswer> {
  const signature = await operator.signMessage(challengeMessage(getBytes(nonce), endpoint));
  return { operator: operator.address, endpoint, signature };
}

export type ChallengeVerdict = { live: true } | { live: false; reason: string };

/**
 * Asks `endpoint` to prove it is a live agent of `operator` within `timeoutMs`. Anything but a
 * correct, fresh answer (no answer, an error, a wrong signature or endpoint) is "not live".
 */
export async function challengeEndpoint(endpoint: string, operator: string, timeoutMs = CHALLENGE_TIMEOUT_MS): Promise<ChallengeVerdict> {
  const nonce = randomBytes(32);
  let body: unknown;
  try {
    const res = await fetch(new URL("/v1/operator-challenge", endpoint), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ nonce: hexlify(nonce) }),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "error",
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      return { live: false, reason: `it answered HTTP ${res.status}` };
    }
    body = JSON.parse(await boundedText(res, MAX_ANSWER_BYTES));
  } catch (e) {
    return { live: false, reason: `no answer (${(e as Error).message.split("\n")[0]})` };
  }
  const a = body as Partial<ChallengeAnswer>;
  if (typeof a?.signature !== "string" || typeof a.endpoint !== "string") return { live: false, reason: "wrong answer (malformed)" };
  if (a.endpoint !== endpoint) return { live: false, reason: `wrong answer (it signed another endpoint, ${a.endpoint.slice(0, 200)})` };
  let signer: string;
  try {
    signer = verifyMessage(challengeMessage(nonce, endpoint), a.signature);
  } catch {
    return { live: false, reason: "wrong answer (bad signature)" };
  }
  if (signer.toLowerCase() !== operator.toLowerCase()) return { live: false, reason: "wrong answer (not signed by the operator key for this nonce)" };
  return { live: true };
}
