import { expect } from "chai";
import { keccak_256 } from "@noble/hashes/sha3.js";
import * as umbral from "@nucypher/umbral-pre";
import {
  KFRAG_BYTES,
  KfragCommitmentError,
  buildKfragTree,
  hashPair,
  kfragHash,
  kfragLeaf,
  kfragProof,
  kfragRoot,
  verifyKfragProof,
} from "../../src/client/kfrag-commitment";

function address(i: number): string {
  return "0x" + (i + 1).toString(16).padStart(40, "0");
}

function entries(n: number): { node: string; kfragHash: Uint8Array }[] {
  return Array.from({ length: n }, (_, i) => ({ node: address(i), kfragHash: keccak_256(Uint8Array.of(i)) }));
}

const policyId = Uint8Array.from({ length: 16 }, (_, i) => i + 1);

describe("policy: kfrag commitment (off-chain)", () => {
  it("hashes real Umbral kfrags (310 bytes) and proves each node's kfrag", () => {
    const alice = umbral.SecretKey.random();
    const bob = umbral.SecretKey.random();
    const signer = new umbral.Signer(umbral.SecretKey.random());
    const kfrags = umbral.generateKFrags(alice, bob.publicKey(), signer, 2, 3, true, true);
    const es = kfrags.map((k, i) => {
      const bytes = k.toBytes();
      expect(bytes.length).to.equal(KFRAG_BYTES);
      return { node: address(i), kfragHash: kfragHash(bytes) };
    });
    const tree = buildKfragTree(policyId, es);
    es.forEach((e, i) => {
      expect(verifyKfragProof(tree.root, policyId, e.node, e.kfragHash, tree.proofs[i])).to.equal(true);
      // Another node's kfrag does not verify as this node's.
      const other = es[(i + 1) % es.length];
      expect(verifyKfragProof(tree.root, policyId, e.node, other.kfragHash, tree.proofs[i])).to.equal(false);
    });
  });

  it("defines the leaf as keccak256(policyId ‖ node ‖ kfragHash)", () => {
    const h = keccak_256(Uint8Array.of(7));
    const pre = new Uint8Array([...policyId, ...Buffer.from(address(4).slice(2), "hex"), ...h]);
    expect(pre.length).to.equal(68);
    expect(kfragLeaf(policyId, address(4), h)).to.deep.equal(keccak_256(pre));
  });

  it("uses the leaf as the root of a one-node policy with an empty proof", () => {
    const es = entries(1);
    const tree = buildKfragTree(policyId, es);
    expect(tree.root).to.deep.equal(kfragLeaf(policyId, es[0].node, es[0].kfragHash));
    expect(tree.proofs[0]).to.have.length(0);
  });

  it("carries an unpaired last element up unchanged (3 leaves)", () => {
    const es = entries(3);
    const [a, b, c] = es.map((e) => kfragLeaf(policyId, e.node, e.kfragHash));
    expect(kfragRoot(policyId, es)).to.deep.equal(hashPair(hashPair(a, b), c));
    expect(kfragProof(policyId, es, es[2].node)).to.deep.equal([hashPair(a, b)]);
  });

  it("proves every leaf for every size from 1 to 33", () => {
    for (let n = 1; n <= 33; n++) {
      const es = entries(n);
      const tree = buildKfragTree(policyId, es);
      es.forEach((e, i) => {
        expect(verifyKfragProof(tree.root, policyId, e.node, e.kfragHash, tree.proofs[i]), `n=${n} i=${i}`).to.equal(true);
        expect(tree.proofs[i].length).to.be.at.most(Math.ceil(Math.log2(n)));
      });
    }
  });

  it("rejects a proof for another policy id, a tampered sibling or a wrong root", () => {
    const es = entries(5);
    const tree = buildKfragTree(policyId, es);
    const otherId = Uint8Array.from(policyId);
    otherId[0] ^= 1;
    expect(verifyKfragProof(tree.root, otherId, es[1].node, es[1].kfragHash, tree.proofs[1])).to.equal(false);
    const bad = tree.proofs[1].map((p) => Uint8Array.from(p));
    bad[0][5] ^= 0x80;
    expect(verifyKfragProof(tree.root, policyId, es[1].node, es[1].kfragHash, bad)).to.equal(false);
    expect(verifyKfragProof(tree.leaves[0], policyId, es[1].node, es[1].kfragHash, tree.proofs[1])).to.equal(false);
    expect(verifyKfragProof(tree.root, policyId, es[1].node, es[1].kfragHash, [new Uint8Array(31)])).to.equal(false);
  });

  it("reports bad input with typed errors", () => {
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).to.be.instanceOf(KfragCommitmentError);
        return (e as KfragCommitmentError).code;
      }
      return "no error";
    };
    expect(code(() => kfragHash(new Uint8Array(309)))).to.equal("INVALID_KFRAG");
    expect(code(() => kfragLeaf(new Uint8Array(15), address(0), new Uint8Array(32)))).to.equal("INVALID_POLICY_ID");
    expect(code(() => kfragLeaf(policyId, "0x1234", new Uint8Array(32)))).to.equal("INVALID_ADDRESS");
    expect(code(() => kfragLeaf(policyId, address(0), new Uint8Array(31)))).to.equal("INVALID_HASH");
    expect(code(() => buildKfragTree(policyId, []))).to.equal("EMPTY");
    expect(code(() => kfragProof(policyId, entries(2), address(9)))).to.equal("UNKNOWN_NODE");
  });
});
