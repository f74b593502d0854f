// End-to-end: `scripts/demo.ts` as its own process against a real chain process, with five
// node-agent processes it starts itself — the flow `npm run demo -- --network localhost` runs.
// Twice: on a `hardhat node`, and on Foundry's Anvil (a second EVM implementation) mining a block
// every second with only 10 funded accounts, like a testnet node: the demo funds its own keys.
import { expect } from "chai";
import path from "node:path";
import { spawn } from "node:child_process";
import { startAnvil, startHardhatNode } from "../node/multiproc";

const ROOT = path.join(__dirname, "..", "..");

const chains = [
  { name: "a hardhat node", start: startHardhatNode },
  { name: "anvil (1 s blocks, 10 funded accounts)", start: () => startAnvil({ blockTime: 1, accounts: 10 }) },
];

for (const { name, start } of chains) describe(`e2e: the demo flow against ${name} (multi-process)`, function () {
  this.timeout(480_000);

  it("deploys, stakes, starts 5 agents, shares 3-of-5, survives 2 dead nodes, revokes; exits 0 and leaves no agent running", async () => {
    const chain = await start();
    try {
      const proc = spawn(
        process.execPath,
        [require.resolve("hardhat/internal/cli/cli"), "--config", "scripts/demo-external.config.ts", "run", "scripts/demo.ts", "--network", "external"],
        { cwd: ROOT, env: { ...process.env, NKMS_DEMO_RPC_URL: chain.url }, stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => proc.on("close", resolve));
      expect(code, out).to.equal(0);
      for (const step of [
        "deploy all contracts (Ignition)",
        "start 5 node agents (separate processes)",
        "Bob reads it (3 cfrags from 5 nodes)",
        "Bob reads again with 2 nodes down",
        "Alice revokes",
        "Bob tries again and is refused",
      ]) {
        expect(out, out).to.match(new RegExp(`\\] ${step.replace(/[()]/g, "\\$&")}[^\\n]*\\d+ ms`));
      }
      expect(out).to.include("POLICY_REVOKED");
      expect(out).to.include("Demo complete");
      // every agent the demo started is gone: its port refuses connections
      const ports = /start 5 node agents[^\n]*— ([:\d ]+)/.exec(out)![1].trim().split(" ");
      expect(ports).to.have.length(5);
      for (const p of ports) {
        const alive = await fetch(`http://127.0.0.1${p}/v1/ping`).then(() => true, () => false);
        expect(alive, `agent on ${p} still running`).to.equal(false);
      }
    } finally {
      await chain.stop();
      chain.provider.destroy();
    }
  });
});
