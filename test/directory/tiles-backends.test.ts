// The SQL of the tile reader, the cosignature table and the TOTP table on both storage backends
// (SQLite and a real embedded PostgreSQL): same answers from the same operations.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { CosignatureStore } from "../../src/directory/cosign";
import { leafHash } from "../../src/directory/merkle";
import { SqliteStore } from "../../src/directory/store/sqlite";
import type { DirectoryStore } from "../../src/directory/store/store";
import { TileReader } from "../../src/directory/tlog-tiles";
import { TotpStore, totp } from "../../src/directory/totp";
import { newSecretKey } from "./helpers";
import { startTestPostgres, TestPostgres } from "./postgres";

describe("directory: tiles, cosignatures and TOTP on both storage backends", function () {
  this.timeout(180_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-tiles-be-"));
  let pg: TestPostgres | undefined;

  before(async () => {
    pg = await startTestPostgres();
  });

  after(async () => {
    await pg?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const backends: Array<[string, () => Promise<DirectoryStore>]> = [
    ["SQLite", async () => SqliteStore.open(path.join(tmp, `s${Math.random()}.db`))],
    ["PostgreSQL", async () => pg!.newStore()],
  ];

  for (const [name, open] of backends) {
    describe(name, () => {
      let store: DirectoryStore;
      const leaves: Uint8Array[] = [];
      const texts: string[] = [];

      before(async () => {
        store = await open();
        await store.write(async (tx) => {
          for (let i = 0; i < 300; i++) {
            const text = `entry ${i} ${"ü".repeat(i % 5)}`;
            const hash = leafHash(new TextEncoder().encode(text));
            await tx.log.append(hash);
            // Opaque test entries: the entry bytes are the text itself (the tile view serves records.entry).
            await tx.run("INSERT INTO records (leaf_index, leaf_hash, message_hash, action, envelope, entry, created) VALUES (?, ?, ?, ?, ?, ?, ?)", [
              i,
              Buffer.from(hash),
              createHash("sha256").update(text).digest(),
              "AddKey",
              text,
              Buffer.from(text, "utf8"),
              "2026-01-01T00:00:00Z",
            ]);
            leaves.push(hash);
            texts.push(text);
          }
        });
      });

      after(async () => {
        await store?.close();
      });

      it("reads hash tiles and entry bundles", async () => {
        const reader = new TileReader(store);
        const t0 = await reader.hashTile(0, 1, 44);
        expect(t0.length).to.equal(44 * 32);
        for (let k = 0; k < 44; k++) expect(Buffer.from(t0.subarray(k * 32, k * 32 + 32)).equals(Buffer.from(leaves[256 + k]))).to.equal(true);
        const t1 = await reader.hashTile(1, 0, 1);
        expect(Buffer.from(t1).equals(Buffer.from(await store.log.rootAt(256)))).to.equal(true);
        const bundle = await reader.entryBundle(1, 44);
        let p = 0;
        for (let k = 0; k < 44; k++) {
          const len = bundle[p] * 256 + bundle[p + 1];
          expect(Buffer.from(bundle.subarray(p + 2, p + 2 + len)).toString("utf8")).to.equal(texts[256 + k]);
          p += 2 + len;
        }
        expect(p).to.equal(bundle.length);
        await reader.hashTile(0, 1, 45).then(
          () => expect.fail("read past the tree"),
          (err: Error) => expect(err.message).to.contain("44 of 45"),
        );
      });

      it("stores cosignatures once per (root, witness)", async () => {
        const c = new CosignatureStore(store);
        const root = await store.log.rootAt(10);
        expect(await c.add(root, 10, "w1", "{token-1}")).to.equal(true);
        expect(await c.add(root, 10, "w1", "{token-1b}")).to.equal(false);
        expect(await c.add(root, 10, "w0", "{token-0}")).to.equal(true);
        expect((await c.list(root)).map((r) => [r.witness, r.cosigned])).to.deep.equal([
          ["w0", "{token-0}"],
          ["w1", "{token-1}"],
        ]);
        expect(await c.list(await store.log.rootAt(11))).to.deep.equal([]);
      });

      it("enrolls TOTP secrets and consumes each step once, also under concurrency", async () => {
        const t = new TotpStore(store);
        const secret = newSecretKey();
        const now = 1_765_655_318;
        expect(await t.check("https://a.example", totp(secret, now), now)).to.equal("not_enrolled");
        expect(await t.enroll("https://a.example", secret)).to.equal(true);
        expect(await t.enroll("https://a.example", secret)).to.equal(false);
        const code = totp(secret, now - 30);
        const results = await Promise.all([1, 2, 3].map(() => t.check("https://a.example", code, now)));
        expect(results.filter((r) => r === "accepted")).to.have.length(1);
        expect(await t.check("https://a.example", totp(secret, now - 60), now)).to.equal("rejected"); // older step
        expect(await t.check("https://a.example", totp(secret, now), now)).to.equal("accepted");
        expect(await t.disenroll("https://a.example")).to.equal(true);
        expect(await t.enrolled("https://a.example")).to.equal(false);
      });
    });
  }
});
