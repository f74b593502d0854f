// Batched cfrag stamps off-chain: the node's real per-task code (reencryptAndStamp, as the worker
// threads run it) signs one root per batch; every cfrag verifies through its proof with the one
// shared check; tampering with a proof, a cfrag or the context fails; a batch of one is
// byte-identical to the per-cfrag stamp from before batching; the shared Merkle module keeps the
// kfrag commitment as it was; evidence files carry the proof.
import { expect } from "chai";
import fc from "fast-check";
import { keccak256 } from "ethers";
import * as umbral from "../../src/umbral";
import { reencryptAndStamp } from "../../src/node/reencrypt-task";
import { MAX_STAMP_PROOF_LENGTH, cfragStampLeaf, cfragStampMessage, stampBatch, stampRoot } from "../../src/protocol/stamp";
import { verifyCFragStamp, verifyCFragStamps, type StampedCFrag } from "../../src/protocol/stamp-verify";
import { buildMerkleTree, processMerkleProof, verifyMerkleProof } from "../../src/protocol/merkle";
import { buildKfragTree } from "../../src/client/kfrag-commitment";
import {
  EvidenceError,
  buildEvidence,
  evaluationHints,
  evidenceStampRoot,
  parseEvidence,
  serializeEvidence,
  signStamp,
  signStampBatch,
  toContractEvidence,
  verifyStamp,
} from "../../src/client/evidence";
import { merkleTree } from "../node/helpers";
import { policyBatch, tamperedProofs } from "./fixtures";

const STAKER = "0x" + "ab".repeat(20);
const POLICY_ID = new Uint8Array(16).fill(0x42);
const CREATOR = "0x" + "cd".repeat(20);
const PERIOD = 2_900;

function nodeStamp(): { secret: umbral.SecretKey; signer: umbral.Signer; key: Uint8Array } {
  const secret = umbral.SecretKey.random();
  return { secret, signer: new umbral.Signer(secret), key: secret.publicKey().toCompressedBytes() };
}

/** The node's answer to one request of `n` capsules, as the worker task produces it. */
function answer(n: number) {
  const batch = policyBatch(n);
  const node = nodeStamp();
  const context = { staker: STAKER, stampPeriod: PERIOD, policyCreator: CREATOR, policyId: POLICY_ID, ...batch.keys };
  const result = reencryptAndStamp(batch.kfrag, node.signer, context, batch.capsules);
  if (!result.ok) throw new Error(result.message);
  const items: StampedCFrag[] = result.cfrags.map((cfrag, i) => ({
    capsule: batch.capsules[i],
    cfrag,
    signature: result.signature,
    proof: result.proofs[i],
  }));
  return { batch, node, context, result, items };
}

describe("stamp: one signature per re-encryption batch", () => {
  it("a batch of one is stamped exactly as before batching: Signer.sign(message), empty proof", () => {
    const { node, context, result, items, batch } = answer(1);
    expect(result.proofs).to.deep.equal([[]]);
    const message = cfragStampMessage(context, batch.capsules[0], result.cfrags[0]);
    // RFC 6979 makes both deterministic: same key, same message, same bytes.
    expect(Buffer.from(result.signature).toString("hex")).to.equal(Buffer.from(node.signer.sign(message).toBEBytes()).toString("hex"));
    expect(Buffer.from(result.signature).toString("hex")).to.equal(
      Buffer.from(signStamp(node.secret.toBEBytes(), context, batch.capsules[0], result.cfrags[0])).toString("hex"),
    );
    expect(stampRoot(cfragStampLeaf(context, batch.capsules[0], result.cfrags[0]), [])).to.deep.equal(cfragStampLeaf(context, batch.capsules[0], result.cfrags[0]));
    expect(verifyCFragStamp(node.key, context, items[0])).to.equal(true);
  });

  it("a batch of 7: one signature, every cfrag verifies through its own proof; noble and Umbral sign the same root identically", () => {
    const { node, context, result, items, batch } = answer(7);
    expect(result.cfrags).to.have.length(7);
    expect(result.proofs.every((p) => p.length >= 1 && p.length <= 3)).to.equal(true);
    expect(verifyCFragStamps(node.key, context, items)).to.deep.equal(new Array(7).fill(true));
    const noble = signStampBatch(node.secret.toBEBytes(), context, batch.capsules.map((capsule, i) => ({ capsule, cfrag: result.cfrags[i] })));
    expect(Buffer.from(noble.signature).toString("hex")).to.equal(Buffer.from(result.signature).toString("hex"));
    expect(noble.proofs).to.deep.equal(result.proofs);
    // Every cfrag's correctness proof holds too (the stamp covers real cfrags).
    for (let i = 0; i < 7; i++) {
      const capsule = umbral.Capsule.fromBytes(batch.capsules[i]);
      umbral.CapsuleFrag.fromBytes(result.cfrags[i]).verify(
        capsule,
        umbral.PublicKey.fromCompressedBytes(batch.keys.verifyingKey),
        umbral.PublicKey.fromCompressedBytes(batch.keys.delegatingKey),
        umbral.PublicKey.fromCompressedBytes(batch.keys.receivingKey),
      );
    }
  });

  it("rejects a tampered proof (changed, dropped or extra sibling, another cfrag's proof, too long), cfrag, capsule, context or key", () => {
    const { node, context, items } = answer(6);
    const target = items[3];
    for (const [what, proof] of tamperedProofs(target.proof)) {
      expect(verifyCFragStamp(node.key, context, { ...target, proof }), what).to.equal(false);
    }
    expect(verifyCFragStamp(node.key, context, { ...target, proof: items[2].proof }), "swapped proof").to.equal(false);
    const tooLong = Array.from({ length: MAX_STAMP_PROOF_LENGTH + 1 }, () => new Uint8Array(32));
    expect(verifyCFragStamp(node.key, context, { ...target, proof: tooLong })).to.equal(false);
    expect(verifyCFragStamp(node.key, context, { ...target, proof: [new Uint8Array(31)] })).to.equal(false);
    expect(verifyCFragStamp(node.key, context, { ...target, cfrag: items[2].cfrag })).to.equal(false);
    expect(verifyCFragStamp(node.key, context, { ...target, capsule: items[2].capsule })).to.equal(false);
    expect(verifyCFragStamp(node.key, { ...context, policyId: new Uint8Array(16) }, target)).to.equal(false);
    expect(verifyCFragStamp(node.key, { ...context, stampPeriod: PERIOD + 1 }, target), "another date").to.equal(false);
    expect(verifyCFragStamp(node.key, { ...context, policyCreator: STAKER }, target), "another creator").to.equal(false);
    expect(verifyCFragStamp(nodeStamp().key, context, target)).to.equal(false);
    expect(verifyCFragStamp(node.key, context, { ...target, cfrag: new Uint8Array(10) }), "malformed cfrag").to.equal(false);
    // The other cfrags of the batch are unaffected by one bad item.
    const verdicts = verifyCFragStamps(node.key, context, items.map((it, i) => (i === 3 ? { ...it, proof: [] } : it)));
    expect(verdicts).to.deep.equal([true, true, true, false, true, true]);
  });

  it("property: every leaf of any tree proves to its root; any flipped sibling bit breaks the proof", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 40 }),
        fc.nat(),
        fc.nat(255),
        (leaves, pick, bit) => {
          const { root, proofs } = buildMerkleTree(leaves);
          const depth = Math.ceil(Math.log2(leaves.length));
          for (let i = 0; i < leaves.length; i++) {
            expect(proofs[i].length).to.be.at.most(depth);
            expect(verifyMerkleProof(root, leaves[i], proofs[i])).to.equal(true);
          }
          const i = pick % leaves.length;
          if (proofs[i].length === 0) return;
          const bad = proofs[i].map((p) => Uint8Array.from(p));
          bad[pick % bad.length][bit >> 3] ^= 1 << (bit & 7);
          expect(verifyMerkleProof(root, leaves[i], bad)).to.equal(false);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("property: the kfrag commitment built on the shared Merkle module equals an independent OpenZeppelin-style tree", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.uint8Array({ minLength: 32, maxLength: 32 })), { minLength: 1, maxLength: 12 }), (raw) => {
        const entries = raw.map(([node, hash]) => ({ node: "0x" + Buffer.from(node).toString("hex"), kfragHash: hash }));
        const tree = buildKfragTree(POLICY_ID, entries);
        const reference = merkleTree(tree.leaves.map((l) => "0x" + Buffer.from(l).toString("hex")));
        expect("0x" + Buffer.from(tree.root).toString("hex")).to.equal(reference.root);
        expect(tree.proofs.map((p) => p.map((s) => "0x" + Buffer.from(s).toString("hex")))).to.deep.equal(reference.proofs);
      }),
      { numRuns: 60 },
    );
    // A single sorted pair, by hand.
    const a = new Uint8Array(32).fill(2);
    const b = new Uint8Array(32).fill(1);
    expect("0x" + Buffer.from(processMerkleProof(a, [b])!).toString("hex")).to.equal(keccak256(Buffer.concat([b, a])));
  });

  it("evidence carries the proof and the stamp's date and policy creator: file round-trip (version 4); undated versions 2 and 3 refused clearly; malformed fields refused", () => {
    const { node, context, result, items } = answer(5);
    const evidence = buildEvidence({
      ...context,
      capsule: items[2].capsule,
      cfrag: items[2].cfrag,
      nodeVerifyingKey: node.key,
      stampSignature: result.signature,
      stampProof: result.proofs[2],
    });
    const text = serializeEvidence(evidence);
    expect(JSON.parse(text).version).to.equal(4);
    const back = parseEvidence(text);
    expect([back.stampPeriod, back.policyCreator]).to.deep.equal([PERIOD, CREATOR]);
    expect(back.stampProof).to.deep.equal(result.proofs[2]);
    expect(verifyStamp(node.key, back.stampSignature, back, back.capsule, back.cfrag, back.stampProof)).to.equal(true);
    expect(toContractEvidence(back).stampProof).to.deep.equal(result.proofs[2].map((p) => "0x" + Buffer.from(p).toString("hex")));
    // The stamp parity hint is over the root, not the leaf.
    expect(evidenceStampRoot(back)).to.deep.equal(stampBatch(items.map((it) => cfragStampLeaf(context, it.capsule, it.cfrag))).root);
    expect([0, 1]).to.include(evaluationHints(back).stampSignatureParity);

    for (const [what, proof] of tamperedProofs(result.proofs[2])) {
      const err = (() => {
        try {
          buildEvidence({ ...evidence, stampProof: proof });
        } catch (e) {
          return e as EvidenceError;
        }
      })();
      expect(err?.code, what).to.equal("INVALID_STAMP_SIGNATURE");
    }
    const json = JSON.parse(text);
    for (const bad of [undefined, "0x00", ["0x1234"], [42], new Array(33).fill("0x" + "00".repeat(32))]) {
      expect(() => parseEvidence(JSON.stringify({ ...json, stampProof: bad })), JSON.stringify(bad)).to.throw(EvidenceError).with.property("code", "BAD_FIELD");
    }

    for (const [name, value] of [["stampPeriod", -1], ["stampPeriod", 2 ** 32], ["stampPeriod", "7"], ["stampPeriod", undefined], ["policyCreator", "0x12"], ["policyCreator", undefined]] as const) {
      expect(() => parseEvidence(JSON.stringify({ ...json, [name]: value })), `${name} ${String(value)}`).to.throw(EvidenceError).with.property("code", "BAD_FIELD");
    }
    // Files of versions 2 and 3 carry undated V1 stamps, which the Adjudicator no longer takes.
    for (const version of [2, 3]) {
      expect(() => parseEvidence(JSON.stringify({ ...json, version }))).to.throw(EvidenceError, /undated/);
    }
    expect(() => parseEvidence(JSON.stringify({ ...json, version: 5 }))).to.throw(EvidenceError);
  });
});
