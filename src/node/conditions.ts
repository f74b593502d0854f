import { badRequest } from "./errors";

/**
 * The access-condition language stored with a policy's kfrag (signed by the owner as part of the
 * kfrag package) and evaluated by the node at every re-encryption request.
 *
 * - `time`: the request's wall-clock time lies in [notBefore, notAfter] (unix seconds).
 * - `call`: an `eth_call` of `selector ‖ args` on `contract` returns ABI `true`. Each arg is a
 *   32-byte word or ":requester" (the authenticated reader's address, left-padded).
 * - `erc20Balance` / `erc721Balance`: `balanceOf(holder) >= min` on `token`; holder defaults to
 *   ":requester".
 * - `and` / `or` / `not` combine them.
 */
export type Condition =
  | { op: "and"; all: Condition[] }
  | { op: "or"; any: Condition[] }
  | { op: "not"; cond: Condition }
  | { op: "time"; notBefore?: number; notAfter?: number }
  | { op: "call"; contract: string; selector: string; args: string[] }
  | { op: "erc20Balance" | "erc721Balance"; token: string; min: string; holder?: string };

export const REQUESTER = ":requester";
const MAX_DEPTH = 6;
const MAX_NODES = 32;
const MAX_ARGS = 8;
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const WORD_RE = /^0x[0-9a-fA-F]{64}$/;
const SELECTOR_RE = /^0x[0-9a-fA-F]{8}$/;
const UINT_RE = /^[0-9]{1,78}$/;
const BALANCE_OF = "0x70a08231";

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function onlyKeys(v: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw badRequest("BAD_CONDITION", `unexpected condition field "${k}"`);
  }
}

/** Checks that `input` is a well-formed condition within the size limits; returns it typed. */
export function parseCondition(input: unknown): Condition {
  let nodes = 0;
  const walk = (v: unknown, depth: number): Condition => {
    if (++nodes > MAX_NODES) throw badRequest("BAD_CONDITION", `more than ${MAX_NODES} condition nodes`);
    if (depth > MAX_DEPTH) throw badRequest("BAD_CONDITION", `conditions nested deeper than ${MAX_DEPTH}`);
    if (!isRecord(v) || typeof v.op !== "string") throw badRequest("BAD_CONDITION", "condition must be an object with an op");
    switch (v.op) {
      case "and":
      case "or": {
        const key = v.op === "and" ? "all" : "any";
        onlyKeys(v, ["op", key]);
        const list = v[key];
        if (!Array.isArray(list) || list.length === 0) throw badRequest("BAD_CONDITION", `${v.op} needs a non-empty ${key}`);
        const children = list.map((c) => walk(c, depth + 1));
        return v.op === "and" ? { op: "and", all: children } : { op: "or", any: children };
      }
      case "not":
        onlyKeys(v, ["op", "cond"]);
        return { op: "not", cond: walk(v.cond, depth + 1) };
      case "time": {
        onlyKeys(v, ["op", "notBefore", "notAfter"]);
        const out: Condition = { op: "time" };
        for (const k of ["notBefore", "notAfter"] as const) {
          const t = v[k];
          if (t === undefined) continue;
          if (typeof t !== "number" || !Number.isSafeInteger(t) || t < 0) throw badRequest("BAD_CONDITION", `${k} must be unix seconds`);
          out[k] = t;
        }
        return out;
      }
      case "call": {
        onlyKeys(v, ["op", "contract", "selector", "args"]);
        if (typeof v.contract !== "string" || !ADDRESS_RE.test(v.contract)) throw badRequest("BAD_CONDITION", "call.contract must be an address");
        if (typeof v.selector !== "string" || !SELECTOR_RE.test(v.selector)) throw badRequest("BAD_CONDITION", "call.selector must be 4 bytes hex");
        const args = v.args ?? [];
        if (!Array.isArray(args) || args.length > MAX_ARGS) throw badRequest("BAD_CONDITION", `call.args must be at most ${MAX_ARGS} words`);
        for (const a of args) {
          if (a !== REQUESTER && (typeof a !== "string" || !WORD_RE.test(a))) {
            throw badRequest("BAD_CONDITION", `call.args entries must be 32-byte hex words or "${REQUESTER}"`);
          }
        }
        return { op: "call", contract: v.contract, selector: v.selector, args: args as string[] };
      }
      case "erc20Balance":
      case "erc721Balance": {
        onlyKeys(v, ["op", "token", "min", "holder"]);
        if (typeof v.token !== "string" || !ADDRESS_RE.test(v.token)) throw badRequest("BAD_CONDITION", `${v.op}.token must be an address`);
        if (typeof v.min !== "string" || !UINT_RE.test(v.min) || BigInt(v.min) >= 1n << 256n) {
          throw badRequest("BAD_CONDITION", `${v.op}.min must be a decimal uint256 string`);
        }
        const holder = v.holder ?? REQUESTER;
        if (holder !== REQUESTER && (typeof holder !== "string" || !ADDRESS_RE.test(holder))) {
          throw badRequest("BAD_CONDITION", `${v.op}.holder must be an address or "${REQUESTER}"`);
        }
        return { op: v.op, token: v.token, min: v.min, holder: holder as string };
      }
      default:
        throw badRequest("BAD_CONDITION", `unknown condition op "${String(v.op)}"`);
    }
  };
  return walk(input, 0);
}

export interface ConditionContext {
  /** Unix seconds at request time. */
  now: number;
  /** The authenticated reader's Ethereum address, when it signed with an Ethereum key. */
  requester?: string;
  /** `eth_call` returning the raw hex result. */
  call(to: string, data: string): Promise<string>;
}

function word(address: string): string {
  return address.toLowerCase().slice(2).padStart(64, "0");
}

/** Evaluates a parsed condition. A failing or reverting contract call counts as false. */
export async function evaluateCondition(c: Condition, ctx: ConditionContext): Promise<boolean> {
  switch (c.op) {
    case "and":
      for (const child of c.all) if (!(await evaluateCondition(child, ctx))) return false;
      return true;
    case "or":
      for (const child of c.any) if (await evaluateCondition(child, ctx)) return true;
      return false;
    case "not":
      return !(await evaluateCondition(c.cond, ctx));
    case "time":
      return (c.notBefore === undefined || ctx.now >= c.notBefore) && (c.notAfter === undefined || ctx.now <= c.notAfter);
    case "call": {
      let data = c.selector;
      for (const a of c.args) {
        if (a === REQUESTER) {
          if (!ctx.requester) return false;
          data += word(ctx.requester);
        } else data += a.slice(2);
      }
      const result = await safeCall(ctx, c.contract, data);
      return result !== undefined && /^0x0{63}1$/.test(result);
    }
    case "erc20Balance":
    case "erc721Balance": {
      const holder = c.holder === undefined || c.holder === REQUESTER ? ctx.requester : c.holder;
      if (!holder) return false;
      const result = await safeCall(ctx, c.token, BALANCE_OF + word(holder));
      if (result === undefined || !/^0x[0-9a-fA-F]{64}$/.test(result)) return false;
      return BigInt(result) >= BigInt(c.min);
    }
  }
}

async function safeCall(ctx: ConditionContext, to: string, data: string): Promise<string | undefined> {
  try {
    return await ctx.call(to, data);
  } catch {
    return undefined;
  }
}
