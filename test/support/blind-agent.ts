/**
 * TEST SUPPORT: a node agent that serves honestly but, as a checker, votes every target healthy
 * without probing it (the "blind voter" of issue #16). It runs the real agent and the real
 * health duty; only the probe is replaced. Usage: tsx test/support/blind-agent.ts --config FILE
 */
import { loadNodeConfig } from "../../src/node/config";
import { runNode } from "../../src/node/node";

async function main(): Promise<void> {
  const i = process.argv.indexOf("--config");
  const config = loadNodeConfig({ configFile: i >= 0 ? process.argv[i + 1] : undefined });
  const node = await runNode(config, {
    // It has no proof of contact; it commits "healthy" anyway with a made-up one (HealthCheck
    // rejects its reveal, so it ends up a punishable non-revealer).
    probe: async (target) => ({ target, healthy: true, contact: "0x" + "00".repeat(65), checks: [{ name: "reachability", ok: null, detail: "blind voter: not probed" }] }),
  });
  // The same line `nkms node run` prints, which spawnAgent waits for.
  console.log(JSON.stringify({ event: "listening", url: node.url, staker: node.staker }));
  const stop = () => void node.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

// Only as a program: `npm test` (hardhat test) loads every file under test/.
if (require.main === module) {
  main().catch((e: unknown) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
