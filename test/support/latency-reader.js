// The reader whose latency we measure, in its own process: a reader is another machine, and the
// test process (a large mocha heap that has just built hundreds of signed requests) pauses for
// its own garbage collection, which would count against the server. Samples GET URL every
// INTERVAL ms until stdin closes or MAX ms pass, from LOOPS concurrent loops (readers); prints the
// latencies (ms) as a JSON array. One loop over a one-second burst gives ~60 samples, whose p99 is
// their maximum: several loops make the p99 a percentile rather than one scheduling hiccup.
// Usage: node latency-reader.js URL INTERVAL MAX [LOOPS]
// Hardhat's test task loads every .js file under test/ into mocha, this one too: it runs only when
// started as a program (require.main), never when mocha loads it.
"use strict";

async function main() {
  const [url, interval, max] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
  const loops = Number(process.argv[5] ?? 1);
  let done = false;
  process.stdin.on("end", () => (done = true));
  process.stdin.resume();
  // Not timed: a fresh process's first fetch loads and initializes its HTTP client (50-90 ms).
  await (await fetch(url)).arrayBuffer();
  const latencies = [];
  const start = Date.now();
  const loop = async (offset) => {
    await new Promise((r) => setTimeout(r, offset)); // spread the loops over the interval
    while (!done && Date.now() - start < max) {
      const t0 = performance.now();
      const res = await fetch(url);
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      if (!res.ok) throw new Error(`tree head answered ${res.status}`);
      await new Promise((r) => setTimeout(r, interval));
    }
  };
  await Promise.all(Array.from({ length: loops }, (_, i) => loop((i * interval) / loops)));
  process.stdout.write(JSON.stringify(latencies) + "\n");
}
if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(String(err) + "\n");
      process.exit(1);
    },
  );
}
