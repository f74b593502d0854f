// A flood of unauthenticated GETs from its own process (the attacker is another machine).
// Usage: node get-flood-client.js SPEC.json  (spec: {url, clients, durationMs, paths: [...], headers?})
// Prints {"counts": {"<status>": n}, "bytes": n} on stdout. Bounded in time and count.
// Hardhat loads every file under test/ into mocha: it runs only when started as a program.
"use strict";
const fs = require("node:fs");

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const counts = {};
  let bytes = 0;
  const end = Date.now() + spec.durationMs;
  await Promise.all(
    Array.from({ length: spec.clients }, async (_, c) => {
      for (let i = 0; Date.now() < end && i < 100000; i++) {
        const res = await fetch(spec.url + spec.paths[(c * 7 + i) % spec.paths.length], { headers: spec.headers || {} });
        bytes += (await res.arrayBuffer()).byteLength;
        counts[res.status] = (counts[res.status] || 0) + 1;
      }
    }),
  );
  process.stdout.write(JSON.stringify({ counts, bytes }) + "\n");
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(String(e && e.stack) + "\n");
    process.exit(1);
  });
}
