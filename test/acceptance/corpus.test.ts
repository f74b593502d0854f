// The one acceptance rule, held by a corpus generated deterministically in this file (seeded
// keys, fixed mutations): for every case,
//   - kfrag side: the real agent accepts the upload  ⇔  the Adjudicator judges the cfrags made
//     from that kfrag correct (a refused kfrag's cfrags, made field by field as a node skipping
//     its intake checks would, are judged incorrect, or cannot even be filed);
//   - cfrag side: the client keeps evidence for a stamped cfrag (src/protocol/acceptance.ts, the
//     rule src/client/retrieval.ts applies)  ⇔  the Adjudicator slashes with that evidence.
// Cases: R.x ≥ n, high-S, r = 0, s = 0, s ≥ n, r = n, z = n, z = 0, off-curve and non-canonical
// points (tags 0x04/0x05, x ≥ p) in the kfrag, the keys and the cfrag, trailing bytes.
import { expect } from "chai";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hexlify } from "ethers";
import * as umbral from "../../src/umbral";
import { sealKFragUpload } from "../../src/node/protocol";
import { CFRAG_OFFSETS as O, buildEvidence, evaluationHints, signStamp, toContractEvidence, type CFragEvidence } from "../../src/client/evidence";
import { cfragAcceptable } from "../../src/protocol/acceptance";
import { accountWallet } from "../node/helpers";
import { advancePeriods } from "../shared/core-fixture";
import { startJudgedAgent, type JudgedAgent } from "../adjudicator/judged-agent";
import { evaluateWithCommit } from "../adjudicator/setup";
import { KFRAG_OFFSETS as K, N, P, bigintBytes, bytesBigint, createCraftedPolicy, pointWithXAboveN, reencryptRaw, signatureWithLargeNonce, withBytes } from "./craft";

const Point = secp256k1.Point;

/** Deterministic secret scalars (the corpus is the same on every run). */
function seeded(label: string): Uint8Array {
  return bigintBytes((bytesBigint(sha256(new TextEncoder().encode("nkms-acceptance-corpus:" + label))) % (N - 1n)) + 1n);
}

/** A 33-byte encoding with tag `tag` and x = `x`. */
function encoding(tag: number, x: bigint): Uint8Array {
  return new Uint8Array([tag, ...bigintBytes(x)]);
}

const OFF_CURVE = (() => {
  for (let x = 5n; ; x++) {
    try {
      Point.fromBytes(encoding(2, x));
    } catch {
      return encoding(2, x);
    }
  }
})();
const X_ABOVE_P = encoding(2, P + 1n); // x ≥ p (x − p = 1 would be a valid x)

interface Keys {
  signerSecret: Uint8Array;
  verifyingKey: Uint8Array;
  delegatingKey: Uint8Array;
  receivingKey: Uint8Array;
}

/** ECDSA over the kfrag message with the given raw fields (low-S, RFC 6979: deterministic). */
function signFields(kfrag: Uint8Array, keys: Keys): Uint8Array {
  const msg = new Uint8Array([
    ...kfrag.subarray(K.id, K.id + 32),
    ...kfrag.subarray(K.commitment, K.commitment + 33),
    ...kfrag.subarray(K.precursor, K.precursor + 33),
    1,
    ...keys.delegatingKey,
    1,
    ...keys.receivingKey,
  ]);
  return secp256k1.sign(msg, keys.signerSecret, { prehash: true, lowS: true });
}

function withSignature(kfrag: Uint8Array, signature: Uint8Array): Uint8Array {
  return withBytes(withBytes(kfrag, K.signatureForProxy, signature), K.signatureForReceiver, signature);
}

function rs(signature: Uint8Array): [bigint, bigint] {
  return [bytesBigint(signature.subarray(0, 32)), bytesBigint(signature.subarray(32))];
}

function sig(r: bigint, s: bigint): Uint8Array {
  return new Uint8Array([...bigintBytes(r), ...bigintBytes(s)]);
}

interface KFragCase {
  name: string;
  /** From the honest kfrag and keys to the uploaded ones. */
  make(kfrag: Uint8Array, keys: Keys): { kfrag: Uint8Array; keys: Keys; trailing?: "kfrag" | "key" };
}

const resign = (kfrag: Uint8Array, keys: Keys) => withSignature(kfrag, signFields(kfrag, keys));

const KFRAG_CASES: KFragCase[] = [
  { name: "honest", make: (kfrag, keys) => ({ kfrag, keys }) },
  {
    name: "R.x ≥ n (the attack)",
    make: (kfrag, keys) => {
      const digest = sha256(new Uint8Array([...kfrag.subarray(K.id, K.id + 32), ...kfrag.subarray(K.commitment, K.commitment + 66), 1, ...keys.delegatingKey, 1, ...keys.receivingKey]));
      const { signature, verifyingKey } = signatureWithLargeNonce(digest, 12345n);
      return { kfrag: withSignature(kfrag, signature), keys: { ...keys, verifyingKey } };
    },
  },
  {
    name: "high-S",
    make: (kfrag, keys) => {
      const [r, s] = rs(signFields(kfrag, keys));
      return { kfrag: withSignature(kfrag, sig(r, N - s)), keys };
    },
  },
  { name: "r = 0", make: (kfrag, keys) => ({ kfrag: withSignature(kfrag, sig(0n, rs(signFields(kfrag, keys))[1])), keys }) },
  { name: "s = 0", make: (kfrag, keys) => ({ kfrag: withSignature(kfrag, sig(rs(signFields(kfrag, keys))[0], 0n)), keys }) },
  { name: "s ≥ n (s + n)", make: (kfrag, keys) => { const [r, s] = rs(signFields(kfrag, keys)); return { kfrag: withSignature(kfrag, sig(r, s + N)), keys }; } },
  { name: "r = n", make: (kfrag, keys) => ({ kfrag: withSignature(kfrag, sig(N, rs(signFields(kfrag, keys))[1])), keys }) },
  { name: "precursor off the curve", make: (kfrag, keys) => ({ kfrag: resign(withBytes(kfrag, K.precursor, OFF_CURVE), keys), keys }) },
  {
    name: "precursor with tag 0x05",
    make: (kfrag, keys) => ({ kfrag: resign(withBytes(kfrag, K.precursor, new Uint8Array([5, ...kfrag.subarray(K.precursor + 1, K.precursor + 33)])), keys), keys }),
  },
  { name: "precursor x ≥ p", make: (kfrag, keys) => ({ kfrag: resign(withBytes(kfrag, K.precursor, X_ABOVE_P), keys), keys }) },
  {
    name: "delegating key off the curve (signed over)",
    make: (kfrag, keys) => {
      const k = { ...keys, delegatingKey: OFF_CURVE };
      return { kfrag: resign(kfrag, k), keys: k };
    },
  },
  {
    name: "receiving key with tag 0x04",
    make: (kfrag, keys) => {
      const k = { ...keys, receivingKey: new Uint8Array([4, ...keys.receivingKey.subarray(1)]) };
      return { kfrag: resign(kfrag, k), keys: k };
    },
  },
  {
    name: "verifying key with tag 0x05",
    make: (kfrag, keys) => ({ kfrag, keys: { ...keys, verifyingKey: new Uint8Array([5, ...keys.verifyingKey.subarray(1)]) } }),
  },
  { name: "trailing byte after the kfrag", make: (kfrag, keys) => ({ kfrag, keys, trailing: "kfrag" }) },
  { name: "trailing byte after the verifying key", make: (kfrag, keys) => ({ kfrag, keys, trailing: "key" }) },
];

/** Mutations of an honest stamped cfrag (what a lying node could return). */
const CFRAG_CASES: [string, (cfrag: Uint8Array) => Uint8Array][] = [
  ["honest", (c) => c],
  ["z = n", (c) => withBytes(c, O.z, bigintBytes(N))],
  ["z = 0", (c) => withBytes(c, O.z, bigintBytes(0n))],
  ["E2 off the curve", (c) => withBytes(c, O.e2, OFF_CURVE)],
  ["E1 with tag 0x04", (c) => withBytes(c, O.e1, new Uint8Array([4]))],
  ["V1 x ≥ p", (c) => withBytes(c, O.v1, X_ABOVE_P)],
  ["U2 with tag 0x05", (c) => withBytes(c, O.u2, new Uint8Array([5]))],
  ["precursor off the curve", (c) => withBytes(c, O.precursor, OFF_CURVE)],
  ["kfrag signature s ≥ n", (c) => withBytes(c, O.kfragSignature + 32, bigintBytes(bytesBigint(c.subarray(O.kfragSignature + 32, O.kfragSignature + 64)) + N))],
  ["kfrag signature high-S", (c) => withBytes(c, O.kfragSignature + 32, bigintBytes(N - bytesBigint(c.subarray(O.kfragSignature + 32, O.kfragSignature + 64))))],
  ["kfrag signature r = 0", (c) => withBytes(c, O.kfragSignature, bigintBytes(0n))],
  ["broken MessagePack framing", (c) => withBytes(c, 140, new Uint8Array([0x97]))],
];

describe("acceptance: one rule for the agent, the client and the Adjudicator (corpus)", function () {
  let world: JudgedAgent;
  const owner = accountWallet(15);
  let keys: Keys;
  let honest: { capsule: umbral.Capsule; kfrag: Uint8Array };
  // Stamps are dated (stamp V2): the node's current period, and a fixed policy creator.
  let currentPeriod: number;
  const CORPUS_POLICY_CREATOR = owner.address;

  before(async () => {
    world = await startJudgedAgent("nkms-acc-corpus-", 4, { workers: 1, maxBatch: 8, bodyLimit: 64 * 1024 });
    currentPeriod = Number(await world.net.core.escrow.currentPeriod());
    const alice = umbral.SecretKey.fromBEBytes(seeded("alice"));
    const bob = umbral.SecretKey.fromBEBytes(seeded("bob"));
    const signerSecret = seeded("signer");
    const signer = new umbral.Signer(umbral.SecretKey.fromBEBytes(signerSecret));
    keys = {
      signerSecret,
      verifyingKey: signer.verifyingKey().toCompressedBytes(),
      delegatingKey: alice.publicKey().toCompressedBytes(),
      receivingKey: bob.publicKey().toCompressedBytes(),
    };
    const [kfrag] = umbral.generateKFrags(alice, bob.publicKey(), signer, 1, 1, true, true);
    honest = { capsule: umbral.encrypt(alice.publicKey(), new TextEncoder().encode("corpus"))[0], kfrag: kfrag.toBytes() };
  });
  after(async () => world?.close());

  function stampedEvidence(policyId: Uint8Array, k: Keys, cfrag: Uint8Array): CFragEvidence {
    const context = {
      staker: world.node.staker.address,
      stampPeriod: currentPeriod,
      policyCreator: CORPUS_POLICY_CREATOR,
      policyId,
      delegatingKey: k.delegatingKey, receivingKey: k.receivingKey, verifyingKey: k.verifyingKey };
    const capsule = honest.capsule.toBytes();
    return buildEvidence({
      ...context,
      capsule,
      cfrag,
      nodeVerifyingKey: world.node.keys.stampKey.toCompressedBytes(),
      stampSignature: signStamp(world.node.keys.stampSecret.toBEBytes(), context, capsule, cfrag),
    });
  }

  /** The Adjudicator's verdict: true = correct, false = incorrect, null = the evidence cannot be filed (reverts). */
  async function verdict(evidence: CFragEvidence): Promise<boolean | null> {
    try {
      return await world.adjudicator.judge(toContractEvidence(evidence), evaluationHints(evidence));
    } catch {
      return null;
    }
  }

  for (const c of KFRAG_CASES) {
    it(`kfrag: ${c.name} — agent accepts ⇔ its cfrags are judged correct`, async function () {
      const { net, node, agent, payer } = world;
      const made = c.make(honest.kfrag, keys);
      const uploaded = made.trailing === "kfrag" ? new Uint8Array([...made.kfrag, 0]) : made.kfrag;
      const verifyingKey = made.trailing === "key" ? new Uint8Array([...made.keys.verifyingKey, 0]) : made.keys.verifyingKey;
      const p = await createCraftedPolicy(net, payer, owner, node.staker.address, () => ({ kfrag: uploaded, verifyingKey }));
      const fields = {
        kfrag: hexlify(uploaded),
        publisherVerifyingKey: hexlify(verifyingKey),
        delegatingKey: hexlify(made.keys.delegatingKey),
        receivingKey: hexlify(made.keys.receivingKey),
        proof: p.proofs[0],
        conditions: null,
        reader: null,
      };
      // A 34-byte key cannot even be signed into an upload (the agent digests it with the same
      // length-checking parser, src/node/protocol.ts kfragPackageDigest, and answers 400): it is
      // put into a body sealed and signed with the 33-byte key instead.
      const upload = await sealKFragUpload(owner, p.policyIdBytes, node.staker.address, node.keys.encryptingKey, fields).catch(async () => ({
        ...(await sealKFragUpload(owner, p.policyIdBytes, node.staker.address, node.keys.encryptingKey, { ...fields, publisherVerifyingKey: hexlify(made.keys.verifyingKey) })),
        publisherVerifyingKey: fields.publisherVerifyingKey,
      }));
      const res = await agent.app.inject({ method: "POST", url: `/v1/policies/${p.policyId}/kfrag`, payload: upload as object });
      const accepted = res.statusCode === 201;
      if (!accepted) expect(res.statusCode, res.body).to.be.oneOf([400, 403]);
      if (made.trailing) {
        // Bytes that are not a kfrag (or key) encoding make no cfrag at all: a refused upload is
        // never served, so "accepted ⇒ judged correct" holds with nothing to judge.
        expect(accepted, res.body).to.equal(false);
        return;
      }
      // The cfrag a node would make from this kfrag (field by field: no parsing, no checks).
      const cfrag = reencryptRaw(honest.capsule.toBytes(), made.kfrag);
      const judged = await verdict(stampedEvidence(p.policyIdBytes, made.keys, cfrag));
      expect(judged === true, `agent ${accepted ? "accepted" : "refused"} (${res.body}), Adjudicator ${judged}`).to.equal(accepted);
      expect(accepted).to.equal(c.name === "honest");
    });
  }

  for (const [name, mutate] of CFRAG_CASES) {
    it(`cfrag: ${name} — the client keeps evidence ⇔ the Adjudicator slashes with it`, async function () {
      const { node, adjudicator, investigator } = world;
      // One slash per (staker, stamp period): each case is stamped in a period of its own.
      await advancePeriods(world.net.core, 1);
      currentPeriod = Number(await world.net.core.escrow.currentPeriod());
      const policyId = sha256(new TextEncoder().encode(name)).subarray(0, 16);
      const cfrag = mutate(umbral.reencrypt(honest.capsule, umbral.KeyFrag.fromBytes(honest.kfrag).skipVerification()).toBytes());
      const evidence = stampedEvidence(policyId, keys, cfrag);
      const keepsEvidence = !cfragAcceptable(honest.capsule, cfrag, keys).ok;
      const violations = await adjudicator.violations(node.staker.address);
      if (keepsEvidence) {
        await expect(evaluateWithCommit(adjudicator, investigator, toContractEvidence(evidence), evaluationHints(evidence))).to.emit(adjudicator, "IncorrectCFragSlashed");
        expect(await adjudicator.violations(node.staker.address)).to.equal(violations + 1n);
      } else {
        expect(await verdict(evidence)).to.equal(true);
        expect(await adjudicator.evaluateCFrag.staticCall(toContractEvidence(evidence), evaluationHints(evidence), hexlify(new Uint8Array(32)))).to.equal(true);
      }
      expect(keepsEvidence).to.equal(name !== "honest");
    });
  }

  it("the corpus's crafted points are what they claim", function () {
    expect(() => Point.fromBytes(OFF_CURVE)).to.throw();
    expect(pointWithXAboveN().toAffine().x >= N).to.equal(true);
  });
});
