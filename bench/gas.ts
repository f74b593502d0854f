// `npm run bench:gas`: runs every scenario in bench/gas/, writes bench/results/gas.json
// ({operation: gas used}) and prints each beside NuCypher's anchor and our goal.
import fs from "node:fs";
import path from "node:path";
import type { GasScenario } from "./gas/types";

function loadScenarios(): GasScenario[] {
  const dir = path.join(__dirname, "gas");
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .sort()
    .map((f) => (require(path.join(dir, f)) as { scenario?: GasScenario }).scenario)
    .filter((s): s is GasScenario => s !== undefined); // helpers (types, gasOf) export none
}

async function main(): Promise<void> {
  const results: Record<string, number> = {};
  const rows: Array<Record<string, string | number>> = [];
  for (const scenario of loadScenarios()) {
    const measured = await scenario.measure();
    for (const [op, gas] of Object.entries(measured)) {
      results[op] = Number(gas);
      const anchor = scenario.anchors[op];
      rows.push({
        operation: op,
        gas: Number(gas),
        nucypher: anchor ? anchor.anchor : "-",
        ratio: anchor ? (Number(gas) / anchor.anchor).toFixed(2) : "-",
        goal: anchor ? anchor.goal : "-",
        met: anchor ? (Number(gas) <= anchor.goal ? "yes" : "NO") : "-",
      });
    }
  }
  const out = path.join(__dirname, "results", "gas.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const sorted = Object.fromEntries(Object.entries(results).sort(([a], [b]) => a.localeCompare(b)));
  fs.writeFileSync(out, JSON.stringify(sorted, null, 2) + "\n");
  console.table(rows);
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
