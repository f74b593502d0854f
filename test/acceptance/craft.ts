// Crafted kfrags and cfrags for the acceptance-rule tests: an owner (or a node) who builds the
// byte fields directly with @noble/curves instead of through Umbral, e.g. a kfrag signature whose
// nonce point has x ≥ n. Public test data only (variable-time arithmetic is fine).
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes } from "node:crypto";
import { hexlify } from "ethers";
import * as umbral from "../../src/umbral";
import { kfragValidityMessage } from "../../src/umbral/kfrag";
import { cfragChallengeScalar } from "../../src/client/evidence";
import type { Network } from "../node/helpers";
import { FEE_RATE, kfragLeaf, merkleTree, type TestPolicy } from "../node/helpers";
import type { Wallet, Signer as EthSigner } from "ethers";
import { policyKeyBytes } from "../../src/protocol/policy-key";

export const N = secp256k1.Point.CURVE().n;
export const P = secp256k1.Point.CURVE().p;
const Point = secp256k1.Point;
type CurvePoint = InstanceType<typeof secp256k1.Point>;

/** Byte offsets inside the 310-byte KeyFrag MessagePack encoding. */
export const KFRAG_OFFSETS = { id: 39, key: 73, precursor: 107, commitment: 143, signatureForProxy: 178, signatureForReceiver: 244 } as const;

export function bigintBytes(x: bigint, length = 32): Uint8Array {
  return new Uint8Array(Buffer.from(x.toString(16).padStart(length * 2, "0"), "hex"));
}

export function bytesBigint(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(hexlify(b));
}

export function withBytes(data: Uint8Array, offset: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(data);
  out.set(value, offset);
  return out;
}

/** A valid curve point whose x lies in [n, p) (≈ 2⁻¹²⁸ of all points), searching up from n + start. */
export function pointWithXAboveN(start = 0n): CurvePoint {
  for (let x = N + start; x < P; x++) {
    try {
      return Point.fromBytes(new Uint8Array([2, ...bigintBytes(x)]));
    } catch {
      // x³ + 7 is not a square: try the next x
    }
  }
  throw new Error("unreachable");
}

/**
 * The attack: for digest z, a signature (r, s) with r = R.x − n (R.x ≥ n) and the key
 * Q = r⁻¹(s·R − z·G) it verifies under in libsecp256k1 / rust-umbral (which compare R.x mod n
 * with r), while ecrecover(z, v, r, s) lifts the point with x = r and recovers another key.
 */
export function signatureWithLargeNonce(digest: Uint8Array, s = 1n + (bytesBigint(new Uint8Array(randomBytes(32))) % (N / 2n))): {
  signature: Uint8Array;
  verifyingKey: Uint8Array;
} {
  const R = pointWithXAboveN(bytesBigint(new Uint8Array(randomBytes(8))));
  const r = R.toAffine().x - N;
  const z = bytesBigint(digest) % N;
  const rInv = secp256k1.Point.Fn.inv(r);
  const sR = R.multiply(s);
  const zG = z === 0n ? Point.ZERO : Point.BASE.multiply(z);
  const Q = sR.subtract(zG).multiply(rInv);
  return { signature: new Uint8Array([...bigintBytes(r), ...bigintBytes(s)]), verifyingKey: Q.toBytes(true) };
}

/** The digest both kfrag signatures sign when both keys are signed. */
export function kfragSignatureDigest(kfragBytes: Uint8Array, delegating: umbral.PublicKey, receiving: umbral.PublicKey): Uint8Array {
  const k = umbral.KeyFrag.fromBytes(kfragBytes);
  return sha256(kfragValidityMessage(k.id, k.commitment, k.precursor, delegating, receiving));
}

/** The kfrag with both signatures replaced (they cover the same message when both keys are signed). */
export function withKFragSignature(kfragBytes: Uint8Array, signature: Uint8Array): Uint8Array {
  return withBytes(withBytes(kfragBytes, KFRAG_OFFSETS.signatureForProxy, signature), KFRAG_OFFSETS.signatureForReceiver, signature);
}

/** A policy like test/node/helpers createPolicy, whose kfrags (bytes) and publisher key the caller crafts. */
export async function createCraftedPolicy(
  net: Network,
  payer: EthSigner & { address: string },
  owner: Wallet,
  node: string,
  craft: (kfrag: umbral.VerifiedKeyFrag, alice: umbral.SecretKey, bob: umbral.SecretKey) => { kfrag: Uint8Array; verifyingKey: Uint8Array },
): Promise<TestPolicy & { kfragBytes: Uint8Array; publisherKey: Uint8Array }> {
  const alice = umbral.SecretKey.random();
  const aliceSigner = new umbral.Signer(umbral.SecretKey.random());
  const bob = umbral.SecretKey.random();
  const bobSigner = new umbral.Signer(umbral.SecretKey.random());
  const kfrags = umbral.generateKFrags(alice, bob.publicKey(), aliceSigner, 1, 1, true, true);
  const { kfrag, verifyingKey } = craft(kfrags[0], alice, bob);
  const id = new Uint8Array(randomBytes(16));
  const policyIdBytes = policyKeyBytes(payer.address, id);
  const policyId = hexlify(policyIdBytes);
  const tree = merkleTree([kfragLeaf(policyId, node, kfrag)]);
  const endPeriod = Number(await net.policyManager.currentPeriod()) + 2;
  const cost = await net.policyManager.policyCost(1, FEE_RATE, endPeriod);
  await (await net.core.token.connect(net.core.deployer).transfer(payer.address, cost)).wait();
  await (await net.core.token.connect(payer).approve(net.policyManagerAddress, cost)).wait();
  await (await net.policyManager.connect(payer).createPolicy(id, owner.address, endPeriod, FEE_RATE, [node], tree.root)).wait();
  const encryptingKeys = [(await net.core.escrow.nodeInfo(node)).encryptingKey as string];
  return {
    encryptingKeys,
    policyId,
    policyIdBytes,
    owner,
    alice,
    aliceSigner,
    bob,
    bobSigner,
    kfrags,
    nodes: [node],
    proofs: tree.proofs,
    endPeriod,
    kfragBytes: kfrag,
    publisherKey: verifyingKey,
  };
}

/**
 * Re-encryption done field by field (rk, t from the caller's kfrag share), so that a cfrag can be
 * made for a kfrag that src/umbral would refuse to parse (an off-curve precursor, say): what a
 * node that skipped intake checks would serve. Returns the 381-byte cfrag.
 */
export function reencryptRaw(capsuleBytes: Uint8Array, kfragBytes: Uint8Array): Uint8Array {
  const capsule = umbral.Capsule.fromBytes(capsuleBytes);
  const fields = capsule.toFields();
  const E = Point.fromBytes(fields.pointE);
  const V = Point.fromBytes(fields.pointV);
  const U = Point.fromBytes(new Uint8Array(Buffer.from("03079390d0fbe220fc34aab8ecbf49098098036820fadb98c03143e55db8ec73cd", "hex")));
  const slice = (o: number, l: number) => kfragBytes.slice(o, o + l);
  const rk = bytesBigint(slice(KFRAG_OFFSETS.key, 32)) % N;
  const t = 1n + (bytesBigint(new Uint8Array(randomBytes(32))) % (N - 1n));
  const bin = (d: Uint8Array) => [0xc4, d.length, ...d];
  const build = (z: bigint) =>
    new Uint8Array([
      0x95,
      ...bin(E.multiply(rk).toBytes(true)),
      ...bin(V.multiply(rk).toBytes(true)),
      ...bin(slice(KFRAG_OFFSETS.id, 32)),
      ...bin(slice(KFRAG_OFFSETS.precursor, 33)),
      0x96,
      ...bin(E.multiply(t).toBytes(true)),
      ...bin(V.multiply(t).toBytes(true)),
      ...bin(slice(KFRAG_OFFSETS.commitment, 33)),
      ...bin(U.multiply(t).toBytes(true)),
      ...bin(bigintBytes(z)),
      ...bin(slice(KFRAG_OFFSETS.signatureForReceiver, 64)),
    ]);
  const h = cfragChallengeScalar(capsuleBytes, build(1n));
  return build((t + h * rk) % N);
}
