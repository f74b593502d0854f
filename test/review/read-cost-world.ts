// Shared setup of the read-cost reviews: a directory (the CLI's `directory serve`, a process of its
// own so its CPU is its own) over a SQLite log of 2,048 leaves, unauthenticated GET floods from
// another process, and the tree-head latency the project's attack tests bound (p99 < 50 ms).
//
// The log: 17 real records (one actor with 16 active keys, submitted below the HTTP layer), then
// synthetic records up to 2,048 leaves written straight into the store: each a copy of a real
// AddKey envelope (6 KB of JSON, as every AddKey is: a 1312-byte key and a 2420-byte signature in
// base64url) with random log-entry bytes (2,484 bytes, incompressible as real ML-DSA signatures are)
// whose leaf hash is appended to the Merkle log. Reads see what they would see after 2,048 AddKeys.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Directory } from "../../src/directory/directory";
import { encodeMerkleRoot } from "../../src/directory/encoding";
import { leafHash } from "../../src/directory/merkle";
import { buildAddKey, publicKeyOf } from "../../src/directory/protocol";
import { SqliteStore } from "../../src/directory/store/sqlite";
import { runAttackerScript } from "../directory/load";
import { ChildDirectory, idleLatency, latencyDuring, p99Bound, percentile, spawnDirectory } from "../directory/load";
import { newSecretKey } from "../directory/helpers";

export const LEAVES = 2048;
export const ACTOR = "https://social.example/users/alice";

export interface ReadCostWorld {
  tmp: string;
  server: ChildDirectory;
  /** Every 32nd root of the log (`pkd-mr-v1:`), oldest first: distinct `since`/`view` targets. */
  roots: string[];
  /** api/actor/:id/key/:keyId of one of ACTOR's keys. */
  keyPath: string;
  close(): Promise<void>;
}

export async function startReadCostWorld(): Promise<ReadCostWorld> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-review-readcost-"));
  const signingKey = newSecretKey();
  const keyFile = path.join(tmp, "key");
  fs.writeFileSync(keyFile, Buffer.from(signingKey).toString("hex"));
  const database = path.join(tmp, "log.db");
  const store = SqliteStore.open(database);
  const directory = new Directory(store, { name: "http://127.0.0.1:8080", signingKey });
  const seed = newSecretKey();
  const first = await directory.submit(await buildAddKey(ACTOR, publicKeyOf(seed), await directory.currentRoot(), seed), { actor: ACTOR });
  for (let i = 1; i < 16; i++) {
    const m = await buildAddKey(ACTOR, publicKeyOf(newSecretKey()), await directory.currentRoot(), seed, first["key-id"]);
    await directory.submit(m, { actor: ACTOR });
  }
  const real = (await store.all<{ envelope: string; entry: Buffer }>("SELECT envelope, entry FROM records ORDER BY leaf_index DESC LIMIT 1"))[0];
  await store.write(async (tx) => {
    for (let i = await tx.log.size(); i < LEAVES; i++) {
      const entry = Buffer.from(randomBytes(real.entry.length));
      const hash = Buffer.from(leafHash(entry));
      const { index } = await tx.log.append(hash);
      await tx.run("INSERT INTO records (leaf_index, leaf_hash, message_hash, action, envelope, entry, created) VALUES (?, ?, ?, ?, ?, ?, ?)", [
        index,
        hash,
        Buffer.from(randomBytes(32)),
        "AddKey",
        real.envelope.replace('"time":"', `"time":"${i}`),
        entry,
        new Date().toISOString(),
      ]);
    }
  });
  const roots: string[] = [];
  for (let size = 32; size <= LEAVES - 100; size += 32) roots.push(encodeMerkleRoot(await store.log.rootAt(size)));
  await store.close();
  // The later --database and --key-file win (commander keeps an option's last value).
  const server = await spawnDirectory(tmp, ["--database", database, "--key-file", keyFile]);
  return {
    tmp,
    server,
    roots,
    keyPath: `/api/actor/${encodeURIComponent(ACTOR)}/key/${first["key-id"]}`,
    async close() {
      await server.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** Server CPU (ms, from /proc) and wall time per request of `count` sequential GETs of `paths` (cycled). */
export async function costPerRequest(
  w: ReadCostWorld,
  paths: string[],
  count: number,
  headers: Record<string, string> = {},
): Promise<{ cpuMs: number; wallMs: number; bytes: number; status: number }> {
  for (const p of paths.slice(0, 3)) await (await fetch(w.server.url + p, { headers })).arrayBuffer();
  const cpu0 = w.server.cpuMs();
  const t0 = performance.now();
  let bytes = 0;
  let status = 0;
  for (let i = 0; i < count; i++) {
    const res = await fetch(w.server.url + paths[i % paths.length], { headers });
    bytes = (await res.arrayBuffer()).byteLength;
    status = res.status;
  }
  return { cpuMs: (w.server.cpuMs() - cpu0) / count, wallMs: (performance.now() - t0) / count, bytes, status };
}

/** `clients` loops of unauthenticated GETs of `paths` for `durationMs`, from a process of their own. */
export async function getFlood(
  w: ReadCostWorld,
  paths: string[],
  clients: number,
  durationMs: number,
  headers: Record<string, string> = {},
): Promise<{ counts: Record<string, number>; bytes: number }> {
  const out = await runAttackerScript(path.join(__dirname, "get-flood-client.js"), { url: w.server.url, clients, durationMs, paths, headers }, w.tmp);
  return JSON.parse(out) as { counts: Record<string, number>; bytes: number };
}

/**
 * Tree-head latency (p99) while 8 clients flood `paths` for 6 s, beside the idle p99 and the bound
 * the project's attack tests use (50 ms on a quiet machine). Logs the numbers.
 */
export async function treeHeadUnderFlood(
  w: ReadCostWorld,
  label: string,
  paths: string[],
  headers: Record<string, string> = {},
): Promise<{ p99: number; bound: number }> {
  const treeHead = `${w.server.url}/api/tree-head`;
  const idle = percentile(await idleLatency(treeHead), 99);
  const cpu0 = w.server.cpuMs();
  const load = getFlood(w, paths, 8, 6000, headers);
  const latencies = await latencyDuring(treeHead, load);
  const { counts, bytes } = await load;
  const served = Object.values(counts).reduce((a, b) => a + b, 0);
  const cpu = w.server.cpuMs() - cpu0;
  const p99 = percentile(latencies, 99);
  const { bound, strict } = p99Bound(idle);
  console.log(
    `      flood of ${label} (8 clients, 6 s): ${served} answered ${JSON.stringify(counts)}, ${(bytes / 1e6).toFixed(0)} MB, server CPU ${(cpu / Math.max(1, served)).toFixed(2)} ms/request; ` +
      `tree-head idle p99 ${idle.toFixed(1)} ms, during p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over ${latencies.length} ` +
      `(bound ${bound.toFixed(0)} ms${strict ? "" : ", machine busy"})`,
  );
  return { p99, bound };
}
