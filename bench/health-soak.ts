// `npm run bench:health`: the health-check soak on a live network (issue #16). Twelve or more real
// agent processes on Anvil mining a block a second: five nodes that do not serve (dead, lying
// cfrags, 1 in 3 cfrags right, always 503, unhireable = ping-only behind a quota it filled itself),
// a blind voter, and honest nodes (plain, overloaded in bursts, behind a lagging RPC, clock one
// second ahead). Rounds of 60 s from the first (announced at deployment); runs at least 10 rounds
// and until every node was sampled and every faulty node judged (or sampled 5 times), at most
// NKMS_SOAK_MAX_SECONDS (default 720 s, inside 15 minutes with the setup). Writes bench/results/health-soak.json and prints a table.
import fs from "node:fs";
import path from "node:path";
import { runSoak, soakTable, type NodeKind } from "../test/support/soak";

async function main(): Promise<void> {
  const kinds: NodeKind[] = [
    "honest", "honest", "honest", "overloaded-honest", "lagging-rpc", "skewed-clock", "blind-voter",
    "dead", "bad-cfrag", "one-in-three", "always-503", "unhireable",
  ];
  const result = await runSoak({
    kinds,
    commitSeconds: Number(process.env.NKMS_SOAK_COMMIT_S ?? 45),
    revealSeconds: Number(process.env.NKMS_SOAK_REVEAL_S ?? 15),
    leadSeconds: Number(process.env.NKMS_SOAK_LEAD_S ?? 45),
    sampleSize: 4,
    quorum: 2,
    maxSeconds: Number(process.env.NKMS_SOAK_MAX_SECONDS ?? 720),
    // Ten rounds at least: the blind voter's earnings are compared with honest probers' over them.
    minRounds: Number(process.env.NKMS_SOAK_MIN_ROUNDS ?? 10),
    log: (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
  });
  const out = path.join(__dirname, "results", "health-soak.json");
  fs.writeFileSync(out, JSON.stringify({ generated: new Date().toISOString(), ...result }, null, 2) + "\n");
  console.log("\n" + soakTable(result));
  console.log("\nsummary", JSON.stringify(result.summary));
  console.log(`void rounds ${result.void_rounds}; runtime ${result.runtime_seconds} s; blind voter ${JSON.stringify(result.blind_voter)}`);
  console.log(`written ${path.relative(process.cwd(), out)}`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
