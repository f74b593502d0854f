// The operator challenge against what may sit at an on-chain endpoint (src/node/operator-challenge.ts):
// only a fresh answer signed by the operator key naming that endpoint counts as "live"; anything
// else (another key, another endpoint, a replay, silence, a flood of bytes) lets the agent take over.
import { expect } from "chai";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Wallet } from "ethers";
import { answerChallenge, challengeEndpoint } from "../../src/node/operator-challenge";

async function serve(handler: (body: { nonce: string }, url: string, res: ServerResponse) => void | Promise<void>): Promise<{ url: string; close(): void }> {
  let url = "";
  const server = createServer((req: IncomingMessage, res) => {
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => void handler(JSON.parse(raw || "{}") as { nonce: string }, url, res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const json = (res: ServerResponse, body: unknown) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

describe("operator challenge: who may keep the on-chain endpoint", () => {
  const operator = new Wallet(Wallet.createRandom().privateKey);
  const other = new Wallet(Wallet.createRandom().privateKey);

  it("live only for a fresh answer by the operator key naming the endpoint", async () => {
    let captured: unknown;
    const cases: [string, (b: { nonce: string }, url: string, res: ServerResponse) => Promise<void> | void, boolean | RegExp][] = [
      ["the operator's agent", async (b, url, res) => json(res, (captured = await answerChallenge(operator, url, b.nonce))), true],
      ["another key", async (b, url, res) => json(res, await answerChallenge(other, url, b.nonce)), /not signed by the operator/],
      ["another endpoint", async (b, _url, res) => json(res, await answerChallenge(operator, "http://elsewhere:1", b.nonce)), /another endpoint/],
      ["a replayed answer", (_b, _url, res) => json(res, captured), /not signed by the operator|another endpoint/],
      ["an error status", (_b, _url, res) => res.writeHead(503).end(), /HTTP 503/],
      ["garbage", (_b, _url, res) => json(res, { hello: 1 }), /malformed/],
      ["a flood of bytes", (_b, _url, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("[" + "1,".repeat(1_000_000) + "1]");
      }, /larger than/],
    ];
    for (const [name, handler, expected] of cases) {
      const s = await serve(handler);
      try {
        const verdict = await challengeEndpoint(s.url, operator.address);
        if (expected === true) expect(verdict, name).to.deep.equal({ live: true });
        else {
          expect(verdict.live, name).to.equal(false);
          expect((verdict as { reason: string }).reason, name).to.match(expected as RegExp);
        }
      } finally {
        s.close();
      }
    }
  });

  it("silence is not live: the wait is bounded", async () => {
    const s = await serve(() => undefined); // never answers
    try {
      const verdict = await challengeEndpoint(s.url, operator.address, 300);
      expect(verdict.live).to.equal(false);
      expect((verdict as { reason: string }).reason).to.match(/no answer/);
    } finally {
      s.close();
    }
    const dead = await challengeEndpoint("http://127.0.0.1:9", operator.address);
    expect(dead.live).to.equal(false);
  });
});
