// Real cfrags for the adjudicator tests: from @nucypher/umbral-pre (the reference), and crafted
// with @noble/curves where a test needs control over the points (e.g. x ≥ group order).
import * as umbral from "@nucypher/umbral-pre";
import * as ours from "../../src/umbral";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { CFRAG_OFFSETS, cfragChallengeScalar } from "../../src/client/evidence";
import { cfragAcceptable } from "../../src/protocol/acceptance";

export const P = secp256k1.Point.CURVE().p;
export const N = secp256k1.Point.CURVE().n;
export const Point = secp256k1.Point;
export type CurvePoint = InstanceType<typeof secp256k1.Point>;
export const U = Point.fromBytes(hex("03079390d0fbe220fc34aab8ecbf49098098036820fadb98c03143e55db8ec73cd"));

/** One re-encryption with all the public material evidence needs, plus the node's stamp key. */
export interface Reencryption {
  capsule: Uint8Array;
  cfrag: Uint8Array;
  delegatingKey: Uint8Array;
  receivingKey: Uint8Array;
  verifyingKey: Uint8Array;
}

/** A genuine cfrag made by the reference implementation. */
export function referenceReencryption(): Reencryption {
  const alice = umbral.SecretKey.random();
  const bob = umbral.SecretKey.random();
  const signer = new umbral.Signer(umbral.SecretKey.random());
  const [capsule] = umbral.encrypt(alice.publicKey(), new TextEncoder().encode("adjudicator test"));
  const kfrags = umbral.generateKFrags(alice, bob.publicKey(), signer, 2, 3, true, true);
  const cfrag = umbral.reencrypt(capsule, kfrags[1]);
  const out = {
    capsule: capsule.toBytes(),
    cfrag: cfrag.toBytes(),
    delegatingKey: alice.publicKey().toCompressedBytes(),
    receivingKey: bob.publicKey().toCompressedBytes(),
    verifyingKey: signer.verifyingKey().toCompressedBytes(),
  };
  for (const k of kfrags) k.free();
  cfrag.free();
  capsule.free();
  return out;
}

/** Whether the reference accepts the cfrag for the capsule and keys. */
export function referenceVerifies(r: Reencryption): boolean {
  try {
    const capsule = umbral.Capsule.fromBytes(r.capsule);
    const cfrag = umbral.CapsuleFrag.fromBytes(r.cfrag);
    const v = cfrag.verify(
      capsule,
      umbral.PublicKey.fromCompressedBytes(r.verifyingKey),
      umbral.PublicKey.fromCompressedBytes(r.delegatingKey),
      umbral.PublicKey.fromCompressedBytes(r.receivingKey),
    );
    v.free();
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether src/umbral (our library, whose strict decoding the Adjudicator follows) deserializes
 * and verifies the cfrag. It accepts only canonical compressed points (0x02/0x03); rust-umbral
 * also decodes SEC1 "compact" 0x05 tags, which no honest node emits.
 */
export function oursVerifies(r: Reencryption): boolean {
  // The one acceptance rule (src/umbral's strict parse and verify, plus ecrecover-verifiable low-S signatures).
  return cfragAcceptable(ours.Capsule.fromBytes(r.capsule), r.cfrag, r).ok;
}

/**
 * A cfrag built directly from its definition, for capsule points of our choosing (E, V need
 * not come from a real encryption; the proof only involves them as bases).
 */
export function craftedReencryption(e: CurvePoint, v: CurvePoint): Reencryption {
  const rand = () => secp256k1.Point.Fn.fromBytes(secp256k1.utils.randomSecretKey());
  const rk = rand();
  const t = rand();
  const signerSk = secp256k1.utils.randomSecretKey();
  const delegatingKey = Point.BASE.multiply(rand()).toBytes(true);
  const receivingKey = Point.BASE.multiply(rand()).toBytes(true);
  const id = secp256k1.utils.randomSecretKey();
  const precursor = Point.BASE.multiply(rand()).toBytes(true);
  const e1 = e.multiply(rk);
  const v1 = v.multiply(rk);
  const u1 = U.multiply(rk);
  const capsule = concat([0x93], bin(e.toBytes(true)), bin(v.toBytes(true)), bin(scalarBytes(rand())));
  const sigMessage = concat(id, u1.toBytes(true), precursor, [1], delegatingKey, [1], receivingKey);
  const kfragSig = secp256k1.sign(sigMessage, signerSk, { prehash: true });
  const proofWithoutZ = (z: bigint) =>
    concat(
      [0x95],
      bin(e1.toBytes(true)),
      bin(v1.toBytes(true)),
      bin(id),
      bin(precursor),
      [0x96],
      bin(e.multiply(t).toBytes(true)),
      bin(v.multiply(t).toBytes(true)),
      bin(u1.toBytes(true)),
      bin(U.multiply(t).toBytes(true)),
      bin(scalarBytes(z)),
      bin(kfragSig),
    );
  const draft = proofWithoutZ(1n);
  const h = cfragChallengeScalar(capsule, draft);
  const cfrag = proofWithoutZ((t + h * rk) % N);
  return {
    capsule,
    cfrag,
    delegatingKey,
    receivingKey,
    verifyingKey: Point.BASE.multiply(secp256k1.Point.Fn.fromBytes(signerSk)).toBytes(true),
  };
}

/** A valid point whose x is ≥ the group order (the ecrecover trick's awkward case). */
export function pointWithLargeX(start = 0n): CurvePoint {
  for (let x = N + start; x < P; x++) {
    const bytes = new Uint8Array(33);
    bytes[0] = 2;
    bytes.set(scalarBytes(x), 1);
    try {
      return Point.fromBytes(bytes);
    } catch {
      // not on the curve, try the next x
    }
  }
  throw new Error("unreachable");
}

export function randomPoint(): CurvePoint {
  return Point.BASE.multiply(secp256k1.Point.Fn.fromBytes(secp256k1.utils.randomSecretKey()));
}

/** A 33-byte compressed encoding whose x is not on the curve. */
export function offCurveEncoding(): Uint8Array {
  for (let x = 1n; ; x++) {
    const bytes = new Uint8Array(33);
    bytes[0] = 2;
    bytes.set(scalarBytes(x), 1);
    try {
      Point.fromBytes(bytes);
    } catch {
      return bytes;
    }
  }
}

export function withField(data: Uint8Array, offset: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(data);
  out.set(value, offset);
  return out;
}

export const FIELD_OFFSETS = CFRAG_OFFSETS;

export function scalarBytes(x: bigint): Uint8Array {
  return hex(x.toString(16).padStart(64, "0"));
}

export function sha256Of(data: Uint8Array): Uint8Array {
  return sha256(data);
}

export function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/^0x/, ""), "hex"));
}

function bin(data: Uint8Array): Uint8Array {
  return concat([0xc4, data.length], data);
}

export function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : new Uint8Array(p)));
  const out = new Uint8Array(arrays.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of arrays) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A genuine cfrag made by our own TypeScript Umbral (src/umbral). */
export function ourReencryption(): Reencryption {
  const alice = ours.SecretKey.random();
  const bob = ours.SecretKey.random();
  const signer = new ours.Signer(ours.SecretKey.random());
  const [capsule] = ours.encrypt(alice.publicKey(), new TextEncoder().encode("adjudicator test"));
  const kfrags = ours.generateKFrags(alice, bob.publicKey(), signer, 2, 3, true, true);
  const cfrag = ours.reencrypt(capsule, kfrags[2]);
  return {
    capsule: capsule.toBytes(),
    cfrag: cfrag.toBytes(),
    delegatingKey: alice.publicKey().toCompressedBytes(),
    receivingKey: bob.publicKey().toCompressedBytes(),
    verifyingKey: signer.verifyingKey().toCompressedBytes(),
  };
}
