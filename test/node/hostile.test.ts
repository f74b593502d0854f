// Issue #15 item 7: the agent under hostile load. Each test reproduces one measured failure.
import { expect } from "chai";
import { ethers } from "hardhat";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { NodeStore } from "../../src/node/store";

describe("node agent under hostile load (issue #15 item 7)", function () {
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nkms-hostile-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("creates its data directory 0700 and the SQLite files (and -wal/-shm) 0600", () => {
    const data = join(dir, "perm", "data");
    const path = join(data, "node.sqlite");
    // As runNode does before opening the store (and as an operator's mkdir would: umask 022).
    mkdirSync(data, { recursive: true });
    const store = NodeStore.open(path, new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(20)));
    try {
      store.setSetting("x", "1");
      const mode = (p: string) => statSync(p).mode & 0o777;
      expect(mode(data).toString(8), "data dir").to.equal("700");
      for (const f of [path, path + "-wal", path + "-shm"]) expect(mode(f).toString(8), f).to.equal("600");
    } finally {
      store.close();
    }
  });
});
