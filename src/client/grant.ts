/**
 * A grant: everything a reader needs to ask the policy's nodes for cfrags and to verify them
 * (the whitepaper's "treasure map", minus node endpoints, which are read from the chain so a node
 * can move without the grant going stale). Public data only; Alice sends it to Bob as a file.
 */
import { ClientError } from "./errors";

export const GRANT_FORMAT = "nkms.grant";
export const GRANT_VERSION = 1;

export interface Grant {
  format: typeof GRANT_FORMAT;
  version: typeof GRANT_VERSION;
  /** bytes16, 0x-hex. */
  policyId: string;
  label: string;
  /** The policy owner's address. */
  owner: string;
  threshold: number;
  /** Staker addresses holding a kfrag, ascending (the on-chain order). */
  nodes: string[];
  /** The label's public key (Umbral delegating key). */
  delegatingKey: string;
  /** Key that signed the kfrags (Alice's Umbral verifying key). */
  publisherVerifyingKey: string;
  /** The reader's receiving key. */
  receivingKey: string;
  /** Last period served (inclusive). */
  endPeriod: number;
}

const HEX33 = /^0x[0-9a-fA-F]{66}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export function parseGrant(value: unknown): Grant {
  const g = value as Record<string, unknown> | null;
  const bad = (what: string): never => {
    throw new ClientError("BAD_INPUT", `not a valid grant: ${what}`);
  };
  if (!g || typeof g !== "object") bad("not an object");
  if (g!.format !== GRANT_FORMAT || g!.version !== GRANT_VERSION) bad(`expected format ${GRANT_FORMAT} v${GRANT_VERSION}`);
  if (typeof g!.policyId !== "string" || !/^0x[0-9a-fA-F]{32}$/.test(g!.policyId)) bad("policyId");
  if (typeof g!.label !== "string") bad("label");
  if (typeof g!.owner !== "string" || !ADDRESS.test(g!.owner)) bad("owner");
  const nodes = g!.nodes;
  if (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every((n) => typeof n === "string" && ADDRESS.test(n))) bad("nodes");
  const threshold = g!.threshold;
  if (typeof threshold !== "number" || !Number.isInteger(threshold) || threshold < 1 || threshold > (nodes as string[]).length) bad("threshold");
  for (const k of ["delegatingKey", "publisherVerifyingKey", "receivingKey"]) {
    if (typeof g![k] !== "string" || !HEX33.test(g![k] as string)) bad(k);
  }
  if (typeof g!.endPeriod !== "number" || !Number.isInteger(g!.endPeriod)) bad("endPeriod");
  return g as unknown as Grant;
}

export function parseGrantText(text: string): Grant {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ClientError("BAD_INPUT", "grant is not valid JSON");
  }
  return parseGrant(json);
}

export function serializeGrant(grant: Grant): string {
  return JSON.stringify(grant, null, 2) + "\n";
}
