// A front for a real node agent that passes everything through but rewrites the receipt of each
// kfrag upload. The receipt is the only thing that lets a leak challenge name a node, and the
// node writes it, so the client must refuse every receipt the chain would refuse:
//  - "drop": no receipt;
//  - "misdate" / "backdate": re-signed with the node's real stamp key, dated one period after
//    (a period the escrow does not count yet) or before (before the policy's first period);
//  - "foreign": the receipt of the first upload it saw, for every later one;
//  - "high-s": the same signature as (r, n − s), which OpenZeppelin's ECDSA refuses on-chain.
import http from "node:http";
import { getBytes, hexlify } from "ethers";
import { account } from "../../scripts/demo-network";
import { deriveNodeKeys } from "../../src/node/keys";
import { kfragPackageDigest, type KFragUpload } from "../../src/node/protocol";
import { recoverEthSigner } from "../../src/node/signatures";
import { kfragReceiptDigest } from "../../src/protocol/kfrag-receipt";

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export type ReceiptRewrite = "drop" | "misdate" | "backdate" | "foreign" | "high-s";

export interface ReceiptProxy {
  /** The agent behind the front; set once it runs. */
  target: string;
  url: string;
  close(): Promise<void>;
}

/** Reads a request to a front and sends it on to `target` (the agent behind); returns both. */
export async function forward(req: http.IncomingMessage, target: string): Promise<{ body: string; upstream: Response }> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString();
  const upstream = await fetch(target + req.url, { method: req.method, headers: { "content-type": "application/json" }, body: req.method === "POST" ? body : undefined });
  return { body, upstream };
}

/** Starts a front for the agent of operator account `operatorIndex` (staker `staker`). */
export async function startReceiptProxy(
  operatorIndex: number,
  staker: string,
  chainId: bigint,
  policyManager: string,
  mode: ReceiptRewrite,
): Promise<ReceiptProxy> {
  const stamp = deriveNodeKeys(account(operatorIndex)).stamp;
  let first: { period: number; signature: string } | undefined;
  const state = { target: "" };
  const server = http.createServer(async (req, res) => {
    const { body, upstream } = await forward(req, state.target);
    let text = await upstream.text();
    const upload = /^\/v1\/policies\/(0x[0-9a-fA-F]{32})\/kfrag$/.exec(req.url ?? "");
    if (upload && upstream.ok) {
      const answer = JSON.parse(text) as { stored: boolean; receipt?: { period: number; signature: string } };
      if (mode === "drop") delete answer.receipt;
      if (mode === "foreign") {
        first ??= answer.receipt;
        answer.receipt = first;
      }
      if (mode === "high-s" && answer.receipt) {
        const sig = getBytes(answer.receipt.signature);
        const s = BigInt(hexlify(sig.slice(32)));
        answer.receipt.signature = hexlify(sig.slice(0, 32)) + (SECP256K1_N - s).toString(16).padStart(64, "0");
      }
      if ((mode === "misdate" || mode === "backdate") && answer.receipt) {
        const u = JSON.parse(body) as KFragUpload;
        const policyId = getBytes(upload[1]);
        const policyCreator = recoverEthSigner(kfragPackageDigest(policyId, staker, u), getBytes(u.ownerSignature))!;
        const period = answer.receipt.period + (mode === "misdate" ? 1 : -1);
        const digest = kfragReceiptDigest({ chainId, policyManager, staker, period, policyCreator, policyId, kfragHash: getBytes(u.kfragHash) });
        answer.receipt = { period, signature: hexlify(stamp.signDigest(digest).toBEBytes()) };
      }
      text = JSON.stringify(answer);
    }
    res.writeHead(upstream.status, { "content-type": "application/json" }).end(text);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return Object.assign(state, { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) });
}
