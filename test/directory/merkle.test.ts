import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import fc from "fast-check";
import { leafHash, nodeHash, splitPoint, verifyConsistency, verifyInclusion, EMPTY_TREE_HASH } from "../../src/directory/merkle";
import { MerkleLog, MerkleLogError } from "../../src/directory/merkle-log";
import { openDirectoryDatabase, SqliteDatabase } from "../../src/directory/sqlite";
import { listJsonFiles, vectorPath } from "../vectors";

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));

interface InclusionVector { leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[] | null; desc: string; wantErr: boolean }
interface ConsistencyVector { size1: number; size2: number; root1: string; root2: string; proof: string[] | null; desc: string; wantErr: boolean }

/** Naive RFC 9162 MTH, the oracle for the stored tree. */
function naiveRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_TREE_HASH;
  if (leaves.length === 1) return leaves[0];
  const k = splitPoint(leaves.length);
  return nodeHash(naiveRoot(leaves.slice(0, k)), naiveRoot(leaves.slice(k)));
}

describe("directory: RFC 9162 Merkle vectors", () => {
  const root = vectorPath("merkle");
  const inclusion = listJsonFiles(path.join(root, "inclusion"));
  const consistency = listJsonFiles(path.join(root, "consistency"));

  it("finds the vector files", () => {
    expect(inclusion.length).to.be.greaterThan(50);
    expect(consistency.length).to.be.greaterThan(50);
  });

  it(`verifies every inclusion vector`, () => {
    for (const file of inclusion) {
      const v = JSON.parse(fs.readFileSync(file, "utf8")) as InclusionVector;
      const ok = verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, (v.proof ?? []).map(b64), b64(v.root));
      expect(ok, `${path.relative(root, file)}: ${v.desc}`).to.equal(!v.wantErr);
    }
  });

  it(`verifies every consistency vector`, () => {
    for (const file of consistency) {
      const v = JSON.parse(fs.readFileSync(file, "utf8")) as ConsistencyVector;
      const ok = verifyConsistency(v.size1, v.size2, b64(v.root1), b64(v.root2), (v.proof ?? []).map(b64));
      expect(ok, `${path.relative(root, file)}: ${v.desc}`).to.equal(!v.wantErr);
    }
  });
});

describe("directory: SQLite Merkle log", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-merkle-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function openLog(name = "log.db"): { db: SqliteDatabase; log: MerkleLog } {
    const db = openDirectoryDatabase(path.join(dir, name));
    return { db, log: new MerkleLog(db) };
  }

  it("matches the naive tree and produces proofs that verify, for every size up to 70", () => {
    const { db, log } = openLog();
    const leaves: Uint8Array[] = [];
    const roots: Uint8Array[] = [EMPTY_TREE_HASH];
    for (let i = 0; i < 70; i++) {
      const data = Buffer.from(`leaf ${i}`);
      const { index, root } = log.append(data);
      leaves.push(leafHash(data));
      expect(index).to.equal(i);
      expect(root).to.deep.equal(naiveRoot(leaves));
      roots.push(root);
    }
    for (let n = 1; n <= 70; n++) {
      for (let m = 0; m < n; m++) {
        expect(verifyInclusion(leaves[m], m, n, log.inclusionProof(m, n), roots[n]), `incl ${m}/${n}`).to.equal(true);
      }
      for (let m = 1; m <= n; m++) {
        expect(verifyConsistency(m, n, roots[m], roots[n], log.consistencyProof(m, n)), `cons ${m}->${n}`).to.equal(true);
      }
    }
    db.close();
  });

  it("persists across reopen and answers roots by value", () => {
    const first = openLog();
    for (let i = 0; i < 13; i++) first.log.append(Buffer.from([i]));
    const root13 = first.log.rootAt();
    first.db.close();
    const again = openLog();
    expect(again.log.size).to.equal(13);
    expect(again.log.rootAt()).to.deep.equal(root13);
    expect(again.log.storedRoot(13)).to.deep.equal(root13);
    expect(again.log.sizeOfRoot(root13)).to.equal(13);
    expect(again.log.append(Buffer.from("x")).index).to.equal(13);
    again.db.close();
  });

  it("rejects out-of-range proof requests with typed errors", () => {
    const { db, log } = openLog();
    for (let i = 0; i < 5; i++) log.append(Buffer.from([i]));
    expect(() => log.inclusionProof(5, 5)).to.throw(MerkleLogError).with.property("code", "leaf_out_of_range");
    expect(() => log.inclusionProof(0, 6)).to.throw(MerkleLogError).with.property("code", "size_out_of_range");
    expect(() => log.consistencyProof(0, 5)).to.throw(MerkleLogError).with.property("code", "invalid_range");
    expect(() => log.consistencyProof(4, 3)).to.throw(MerkleLogError).with.property("code", "invalid_range");
    db.close();
  });

  it("property: tampered proofs, indices or roots never verify", () => {
    const { db, log } = openLog();
    const leaves: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) leaves.push(log.append(Buffer.from(`p${i}`)).leafHash);
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 300 }), fc.nat(), fc.nat(), fc.nat({ max: 255 }), (n, rawM, rawBit, byte) => {
        const m = rawM % n;
        const root = log.rootAt(n);
        const proof = log.inclusionProof(m, n);
        expect(verifyInclusion(leaves[m], m, n, proof, root)).to.equal(true);
        expect(verifyInclusion(leaves[m], (m + 1) % n, n, proof, root)).to.equal(false);
        if (proof.length > 0) {
          const bad = proof.map((p) => p.slice());
          const which = rawBit % bad.length;
          bad[which][byte % 32] ^= 1 << rawBit % 8;
          expect(verifyInclusion(leaves[m], m, n, bad, root)).to.equal(false);
        }
        const size1 = 1 + (rawM % n);
        const cproof = log.consistencyProof(size1, n);
        expect(verifyConsistency(size1, n, log.rootAt(size1), root, cproof)).to.equal(true);
        if (size1 < n) {
          const wrong = log.rootAt(size1).slice();
          wrong[byte % 32] ^= 0x80;
          expect(verifyConsistency(size1, n, wrong, root, cproof)).to.equal(false);
        }
      }),
      { numRuns: 200 },
    );
    db.close();
  });
});
