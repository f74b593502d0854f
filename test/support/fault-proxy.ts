/**
 * TEST SUPPORT: a reverse proxy put in front of a real, honest node agent (whose registered
 * endpoint is the proxy's URL) to make that node misbehave in one precise way. The faulty
 * behaviours of the health-check tests and of the soak live here, never in src/.
 *
 *   honest           passes everything through;
 *   dead             closes every connection without answering (a crashed host);
 *   bad-cfrag        re-encryptions answered with cfrags one bit off (they parse, fail the proof);
 *   malformed-cfrag  re-encryptions answered with cfrags that do not parse;
 *   one-in-three     only every third re-encryption is answered correctly, the others as bad-cfrag;
 *   refuse-kfrag     kfrag uploads refused with 403;
 *   always-503       everything but /v1/ping answered 503 OVERLOADED (Retry-After: 1);
 *   ping-only        /v1/ping answered, everything else 404 (the lazy node of issue #16);
 *   burst-503        honest, but overloaded in bursts: the first request after a quiet spell
 *                    opens a `burstMs` window in which everything but ping gets 503 OVERLOADED
 *                    with Retry-After: 1, then `quietMs` of normal service;
 *   late-burst-503   honest, but the load arrives just as it takes a revocation: from that POST on,
 *                    everything but ping gets 503 for `burstMs` (the probe's last step lands in
 *                    it, near the checker's deadline: what the short soak once voted down).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export const FAULT_MODES = ["honest", "dead", "bad-cfrag", "malformed-cfrag", "one-in-three", "refuse-kfrag", "always-503", "ping-only", "burst-503", "late-burst-503"] as const;
export type FaultMode = (typeof FAULT_MODES)[number];

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function flipLastByte(hex: string): string {
  const last = parseInt(hex.slice(-2), 16) ^ 1;
  return hex.slice(0, -2) + last.toString(16).padStart(2, "0");
}

export class FaultProxy {
  /** The agent the proxy forwards to (set once the agent listens). */
  upstream?: string;
  mode: FaultMode = "honest";
  burstMs = 3000;
  quietMs = 12_000;
  /** Requests seen per kind, for tests that want to know the proxy was exercised. */
  readonly seen = { ping: 0, kfrag: 0, reencrypt: 0, refusedForLoad: 0 };
  private reencrypts = 0;
  /** End of the current burst (ms since epoch); a test may reset it. */
  burstUntil = 0;
  private quietUntil = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(mode: FaultMode = "honest"): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = createServer((req, res) => {
      void proxy!.handle(req, res).catch(() => {
        if (!res.headersSent) sendJson(res, 502, { error: { code: "PROXY", message: "upstream failed" } });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    proxy = new FaultProxy(server, `http://127.0.0.1:${port}`);
    proxy.mode = mode;
    return proxy;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? "/";
    const isPing = path === "/v1/ping";
    const isKfrag = /\/kfrag$/.test(path);
    const isReencrypt = /\/reencrypt$/.test(path);
    if (isPing) this.seen.ping++;
    if (isKfrag) this.seen.kfrag++;
    if (isReencrypt) this.seen.reencrypt++;
    const body = await readBody(req);

    switch (this.mode) {
      case "dead":
        req.socket.destroy();
        return;
      case "always-503":
        if (!isPing) return this.overloaded(res);
        break;
      case "burst-503":
        if (!isPing) {
          const now = Date.now();
          if (now >= this.quietUntil) {
            this.burstUntil = now + this.burstMs;
            this.quietUntil = this.burstUntil + this.quietMs;
          }
          if (now < this.burstUntil) return this.overloaded(res);
        }
        break;
      case "late-burst-503":
        if (/\/revoke$/.test(path) && req.method === "POST" && Date.now() >= this.burstUntil) {
          // The revocation itself is served; what follows it meets the burst.
          this.burstUntil = Date.now() + this.burstMs;
          break;
        }
        if (!isPing && Date.now() < this.burstUntil) return this.overloaded(res);
        break;
      case "ping-only":
        if (!isPing) return sendJson(res, 404, { error: { code: "NOT_FOUND", message: "not here" } });
        break;
      case "refuse-kfrag":
        if (isKfrag) return sendJson(res, 403, { error: { code: "NOT_IN_POLICY", message: "not taking new policies" } });
        break;
      default:
        break;
    }

    if (!this.upstream) return sendJson(res, 503, { error: { code: "NOT_READY", message: "no upstream yet" } });
    const up = await fetch(this.upstream + path, {
      method: req.method,
      headers: req.headers["content-type"] ? { "content-type": req.headers["content-type"] } : undefined,
      body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
    });
    let text = await up.text();
    if (isReencrypt && up.status === 200) text = this.corrupt(text);
    res.writeHead(up.status, { "content-type": up.headers.get("content-type") ?? "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }

  private overloaded(res: ServerResponse): void {
    this.seen.refusedForLoad++;
    sendJson(res, 503, { error: { code: "OVERLOADED", message: "re-encryption queue is full" } }, { "retry-after": "1" });
  }

  /** The cfrag faults: rewrite a successful re-encryption answer. */
  private corrupt(text: string): string {
    const n = this.reencrypts++;
    const mode = this.mode === "one-in-three" ? (n % 3 === 2 ? "honest" : "bad-cfrag") : this.mode;
    if (mode !== "bad-cfrag" && mode !== "malformed-cfrag") return text;
    const body = JSON.parse(text) as { cfrags?: { cfrag: string }[] };
    for (const c of body.cfrags ?? []) c.cfrag = mode === "bad-cfrag" ? flipLastByte(c.cfrag) : "0x" + "ab".repeat(12);
    return JSON.stringify(body);
  }
}
