// A flood of pre-built requests from its own process (attackers are other machines: their
// request building must not share the measuring process's event loop). Bounded in count and time.
// Usage: node flood-client.js SPEC.json   (spec: {url, clients, durationMs, requests: [{path, body, headers}]})
// Prints {"<status>": count, ...} on stdout.
"use strict";
const fs = require("node:fs");

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const counts = {};
  if (spec.burst) {
    // Every request at once; 503 answers must say why and when to come back.
    const started = Date.now();
    const answers = await Promise.all(
      spec.requests.map(async (r) => {
        const res = await fetch(spec.url + r.path, { method: "POST", headers: { "content-type": "application/json", ...r.headers }, body: r.body });
        const body = await res.json().catch(() => ({}));
        return { status: res.status, code: body.error, retryAfter: res.headers.get("retry-after") };
      }),
    );
    for (const a of answers) counts[a.status] = (counts[a.status] || 0) + 1;
    const bad503 = answers.filter((a) => a.status === 503 && !(a.code === "overloaded" && Number(a.retryAfter) > 0)).length;
    process.stdout.write(JSON.stringify({ counts, bad503, elapsedMs: Date.now() - started }) + "\n");
    return;
  }
  const end = Date.now() + spec.durationMs;
  await Promise.all(
    Array.from({ length: spec.clients }, async (_, c) => {
      for (let i = 0; Date.now() < end && i < 100000; i++) {
        const r = spec.requests[(c * 7 + i) % spec.requests.length];
        const res = await fetch(spec.url + r.path, { method: "POST", headers: { "content-type": "application/json", ...r.headers }, body: r.body });
        await res.arrayBuffer();
        counts[res.status] = (counts[res.status] || 0) + 1;
      }
    }),
  );
  process.stdout.write(JSON.stringify(counts) + "\n");
}

// `npm test` loads every .js file under test/ as a test file: do nothing unless run as a program.
if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(String(e && e.stack) + "\n");
    process.exit(1);
  });
}
