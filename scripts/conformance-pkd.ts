// `npm run -s conformance:pkd -- FILE [--verbose] [--rules-only]`: replays a Fedi-E2EE PKD
// test-vector file (the specification's format) through the directory itself (a fresh SQLite
// directory per test case, src/directory/v08/directory-replay.ts; with --rules-only, through the
// in-memory rule model of replay.ts instead) and prints one line per failed step (every step with
// --verbose), then, last, one JSON line {"steps":N,"passed":N,"failed":N}. Exit 0 when every step
// passed, 1 when any failed, 2 on a usage or file error.
import fs from "node:fs";
import { replayThroughDirectory } from "../src/directory/v08/directory-replay";
import { replayVectors, type VectorFile } from "../src/directory/v08/replay";

async function main(argv: string[]): Promise<number> {
  const args = argv.filter((a) => a !== "--verbose" && a !== "--rules-only");
  if (args.length !== 1) {
    process.stderr.write("usage: npm run -s conformance:pkd -- FILE [--verbose] [--rules-only]\n");
    return 2;
  }
  let file: VectorFile;
  try {
    file = JSON.parse(fs.readFileSync(args[0], "utf8")) as VectorFile;
    if (!Array.isArray(file["test-cases"])) throw new Error("no test-cases array");
  } catch (e) {
    process.stderr.write(`conformance:pkd: ${args[0]}: ${(e as Error).message}\n`);
    return 2;
  }
  const summary = argv.includes("--rules-only") ? await replayVectors(file) : await replayThroughDirectory(file);
  for (const r of summary.results) {
    if (r.passed && !argv.includes("--verbose")) continue;
    process.stdout.write(`${r.passed ? "ok  " : "FAIL"} ${r.testCase}#${r.step} ${r.description}: expected ${r.expected}, got ${r.outcome}${r.detail ? ` (${r.detail})` : ""}\n`);
  }
  process.stdout.write(JSON.stringify({ steps: summary.steps, passed: summary.passed, failed: summary.failed }) + "\n");
  return summary.failed === 0 ? 0 : 1;
}

void main(process.argv.slice(2)).then((code) => process.exit(code));
