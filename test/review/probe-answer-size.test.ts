// Review (health): the checker's probe read every HTTP answer of a target whole (`res.text()`),
// bounded in time by the request timeout but not in size. A malicious target drawn in a round
// can stream hundreds of megabytes (a gigabyte over a fast link within the timeout) into every
// checker that probes it, all targets being probed in parallel: memory blow-up or a crash of the
// checker's agent, which is also a node serving its own policies; on restart the duty probes
// again. An honest node's answers are a few kilobytes.
import { expect } from "chai";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ethers } from "hardhat";
import type { Wallet } from "ethers";
import { TargetProber } from "../../src/node/health/probe";
import { TxQueue } from "../../src/node/health/tx-queue";
import { deployCore, stakeNode } from "../shared/core-fixture";

const MiB = 1024 * 1024;

describe("review: the probe bounds a target's answers in size", function () {
  this.timeout(120_000);
  let server: Server | undefined;

  after(() => server?.close());

  it("a target streaming a 64 MiB ping answer is cut off early (and judged unreachable), not read whole", async () => {
    let sent = 0;
    server = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(MiB, 0x20);
      let closed = false;
      res.on("close", () => (closed = true));
      const pump = (): void => {
        while (!closed && sent < 64 * MiB) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        if (!closed) res.end();
      };
      res.write('{"node":"0x0000000000000000000000000000000000000000","pad":"');
      pump();
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const core = await deployCore();
    const node = await stakeNode(core, core.accounts[0], core.accounts[1], { endpoint: url });
    const prober = new TargetProber({
      provider: ethers.provider,
      payer: core.accounts[2] as unknown as Wallet, // never pays: the probe stops at the ping
      txs: new TxQueue(),
      policyManager: core.escrowAddress,
      stakingEscrow: core.escrowAddress,
      settings: { getSetting: () => undefined, setSetting: () => undefined },
      timeoutMs: 30_000,
    });
    const report = await prober.probe(node.staker.address);
    expect(report.healthy).to.equal(false);
    expect(report.checks[0].name).to.equal("reachability");
    // Socket buffers on both sides take some megabytes before the reader stops; far from 64.
    expect(sent, `bytes the target got to push into the checker: ${sent}`).to.be.lessThan(32 * MiB);
  });
});
