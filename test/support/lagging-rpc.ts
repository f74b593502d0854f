/**
 * TEST SUPPORT: a JSON-RPC proxy that shows the chain `lag` blocks behind its upstream, the way a
 * load-balanced or overloaded provider does. Reads at "latest" (explicit or implied) are served at
 * head − lag and eth_blockNumber reports head − lag; "pending" and explicit block numbers are
 * passed through, and so are transactions, so the agent behind it can still send its own.
 */
import { createServer, type Server } from "node:http";

interface RpcRequest {
  jsonrpc: "2.0";
  id: unknown;
  method: string;
  params?: unknown[];
}

/** Methods whose block tag is the last parameter (or missing = latest). */
const TAG_LAST: Record<string, number> = {
  eth_call: 2,
  eth_getBalance: 2,
  eth_getCode: 2,
  eth_getTransactionCount: 2,
  eth_getStorageAt: 3,
  eth_estimateGas: 2,
};

export class LaggingRpc {
  lag: number;
  private head?: { at: number; value: number };

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly upstream: string,
    lag: number,
  ) {
    this.lag = lag;
  }

  static async start(upstream: string, lag: number): Promise<LaggingRpc> {
    let self: LaggingRpc | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        void self!
          .answer(Buffer.concat(chunks).toString())
          .then((text) => {
            res.writeHead(200, { "content-type": "application/json" });
            res.end(text);
          })
          .catch((e: unknown) => {
            res.writeHead(502, { "content-type": "application/json" });
            res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message: String(e) } }));
          });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    self = new LaggingRpc(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`, upstream, lag);
    return self;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async call(body: unknown): Promise<unknown> {
    const res = await fetch(this.upstream, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return res.json();
  }

  /** The lagged head: upstream head − lag, refreshed at most every 100 ms. */
  private async lagged(): Promise<number> {
    if (!this.head || Date.now() - this.head.at > 100) {
      const r = (await this.call({ jsonrpc: "2.0", id: 0, method: "eth_blockNumber", params: [] })) as { result: string };
      this.head = { at: Date.now(), value: Number(BigInt(r.result)) };
    }
    return Math.max(0, this.head.value - this.lag);
  }

  private async rewrite(r: RpcRequest): Promise<RpcRequest | { answer: unknown }> {
    if (this.lag === 0) return r;
    const params = [...(r.params ?? [])];
    const tag = "0x" + (await this.lagged()).toString(16);
    const isLatest = (v: unknown) => v === undefined || v === "latest" || v === "safe" || v === "finalized";
    if (r.method === "eth_blockNumber") return { answer: { jsonrpc: "2.0", id: r.id, result: tag } };
    if (r.method === "eth_getBlockByNumber" && isLatest(params[0])) params[0] = tag;
    else if (r.method in TAG_LAST) {
      const i = TAG_LAST[r.method] - 1;
      if (isLatest(params[i])) params[i] = tag;
    } else if (r.method === "eth_getLogs" && params[0] && typeof params[0] === "object") {
      const f = { ...(params[0] as Record<string, unknown>) };
      if (!("blockHash" in f)) {
        if (isLatest(f.toBlock)) f.toBlock = tag;
        else if (typeof f.toBlock === "string" && BigInt(f.toBlock) > BigInt(tag)) f.toBlock = tag;
      }
      params[0] = f;
    }
    return { ...r, params };
  }

  private async one(r: RpcRequest): Promise<unknown> {
    const w = await this.rewrite(r);
    return "answer" in w ? w.answer : this.call(w);
  }

  private async answer(text: string): Promise<string> {
    const req = JSON.parse(text) as RpcRequest | RpcRequest[];
    return JSON.stringify(Array.isArray(req) ? await Promise.all(req.map((r) => this.one(r))) : await this.one(req));
  }
}
