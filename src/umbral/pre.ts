// The top-level Umbral operations: encrypt / decrypt for the owner, and decryption from cfrags.
import { UmbralError } from "./errors";
import {
  Point,
  Scalar,
  addPoints,
  hashToScalar,
  mulG,
  mulPublic,
  mulSecret,
  randomScalar,
  scalarAdd,
  scalarInvert,
  scalarMul,
  scalarOne,
  scalarSub,
  toHex,
} from "./curve";
import { Capsule, capsuleHash, requireCapsule } from "./capsule";
import { VerifiedCapsuleFrag, requireVerifiedCapsuleFrag } from "./cfrag";
import { demDecrypt, demEncrypt, demKey } from "./dem";
import { DST_POLYNOMIAL_ARG, DST_SHARED_SECRET } from "./kfrag";
import { PublicKey, SecretKey, requirePublicKey, requireSecretKey } from "./keys";

/** @internal KEM only: a fresh capsule and the 33-byte key seed it encapsulates for delegatingPk. */
export function encapsulate(delegatingPk: PublicKey): { capsule: Capsule; keySeed: Uint8Array } {
  requirePublicKey(delegatingPk, "delegating key");
  const r = randomScalar();
  const u = randomScalar();
  const e = mulG(r);
  const v = mulG(u);
  const s = scalarAdd(u, scalarMul(r, capsuleHash(e, v)));
  const keySeed = mulSecret(delegatingPk.point, scalarAdd(r, u)).compressed;
  return { capsule: new Capsule(e, v, s), keySeed };
}

/** @internal The owner's view of the key seed: (E + V)·a. */
export function decapsulateOriginal(delegatingSk: SecretKey, capsule: Capsule): Uint8Array {
  requireSecretKey(delegatingSk, "delegating secret key");
  requireCapsule(capsule);
  return mulSecret(addPoints(capsule.e, capsule.v), delegatingSk.scalar).compressed;
}

export function encrypt(delegatingPk: PublicKey, plaintext: Uint8Array): [Capsule, Uint8Array] {
  if (!(plaintext instanceof Uint8Array)) throw new UmbralError("INVALID_ARGUMENT", "plaintext must be a Uint8Array");
  const { capsule, keySeed } = encapsulate(delegatingPk);
  return [capsule, demEncrypt(demKey(keySeed), capsule.toBytesSimple(), plaintext)];
}

export function decryptOriginal(delegatingSk: SecretKey, capsule: Capsule, ciphertext: Uint8Array): Uint8Array {
  const keySeed = decapsulateOriginal(delegatingSk, capsule);
  return demDecrypt(demKey(keySeed), capsule.toBytesSimple(), ciphertext);
}

/**
 * Lagrange coefficients at 0 for the (secret) indices xs, with one Fermat inversion for all of them
 * (Montgomery's batch trick). Constant-time scalar ops; equal indices give DUPLICATE_CFRAGS.
 */
function lagrangeCoefficients(xs: readonly Scalar[]): Scalar[] {
  const m = xs.length;
  if (m === 1) return [scalarOne()];
  const numerators: Scalar[] = [];
  const denominators: Scalar[] = [];
  for (let i = 0; i < m; i++) {
    let num: Scalar | undefined;
    let den: Scalar | undefined;
    for (let j = 0; j < m; j++) {
      if (j === i) continue;
      let diff: Scalar;
      try {
        diff = scalarSub(xs[j], xs[i]);
      } catch {
        throw new UmbralError("DUPLICATE_CFRAGS", "two cfrags come from the same kfrag");
      }
      num = num === undefined ? xs[j] : scalarMul(num, xs[j]);
      den = den === undefined ? diff : scalarMul(den, diff);
    }
    numerators.push(num as Scalar);
    denominators.push(den as Scalar);
  }
  const prefix: Scalar[] = [denominators[0]];
  for (let i = 1; i < m; i++) prefix.push(scalarMul(prefix[i - 1], denominators[i]));
  let inv = scalarInvert(prefix[m - 1]);
  const coefficients = new Array<Scalar>(m);
  for (let i = m - 1; i >= 0; i--) {
    const denInv = i === 0 ? inv : scalarMul(inv, prefix[i - 1]);
    if (i > 0) inv = scalarMul(inv, denominators[i]);
    coefficients[i] = scalarMul(numerators[i], denInv);
  }
  return coefficients;
}

/** @internal Bob's view of the key seed, recombined from at least `threshold` verified cfrags. */
export function decapsulateReencrypted(
  receivingSk: SecretKey,
  delegatingPk: PublicKey,
  capsule: Capsule,
  vcfrags: readonly VerifiedCapsuleFrag[],
): Uint8Array {
  requireSecretKey(receivingSk, "receiving secret key");
  requirePublicKey(delegatingPk, "delegating key");
  requireCapsule(capsule);
  if (!Array.isArray(vcfrags) || vcfrags.length === 0) throw new UmbralError("NO_CFRAGS", "at least one cfrag is needed");
  const cfrags = vcfrags.map((v) => requireVerifiedCapsuleFrag(v).cfrag);
  const precursor = cfrags[0].precursor;
  const ids = new Set<string>();
  for (const cf of cfrags) {
    if (!cf.precursor.equals(precursor)) throw new UmbralError("MISMATCHED_CFRAGS", "cfrags come from different kfrag sets");
    const id = toHex(cf.kfragId);
    if (ids.has(id)) throw new UmbralError("DUPLICATE_CFRAGS", "two cfrags come from the same kfrag");
    ids.add(id);
  }

  const pkB = receivingSk.publicKey().point.compressed;
  const dh = mulSecret(precursor, receivingSk.scalar);
  const d = hashToScalar(DST_SHARED_SECRET, [precursor.compressed, pkB, dh.compressed]);
  const xs = cfrags.map((cf) => hashToScalar(DST_POLYNOMIAL_ARG, [precursor.compressed, pkB, dh.compressed, cf.kfragId]));
  // With E' = Σλ_i·E1_i, V' = Σλ_i·V1_i, the reference computes seed = (E'+V')·d and checks
  // pk_A·(s·d^-1) == h·E' + V'. Multiplying the check by d and writing A = d·E', S = d·(E'+V'):
  //   seed = S = Σ μ_i·(E1_i + V1_i)           with μ_i = λ_i·d
  //   check: s·pk_A == h·A + (S − A) = Σ ν_i·E1_i + S   with ν_i = μ_i·(h − 1)
  // so 2m constant-time multiplications (m = cfrag count) instead of 2m + 1, and no inversion of d.
  // λ_i (from the secret indices) and d are secret, so every product of them is constant-time; the
  // sums E1_i + V1_i are of public cfrag points.
  const h = capsuleHash(capsule.e, capsule.v);
  const mu = lagrangeCoefficients(xs).map((lambda) => scalarMul(lambda, d));
  // h == 1 would take a SHA-256 preimage; scalarSub would then raise ARITHMETIC_FAILURE.
  const hMinus1 = scalarSub(h, scalarOne());
  const seedTerms = cfrags.map((cf, i) => mulSecret(addPoints(cf.e1, cf.v1), mu[i]));
  const checkTerms = cfrags.map((cf, i) => mulSecret(cf.e1, scalarMul(mu[i], hMinus1)));
  // s and pk_A are public: variable-time is fine.
  const lhs = mulPublic(delegatingPk.point, capsule.s);
  let rhs: Point | undefined;
  try {
    rhs = addPoints(...checkTerms, ...seedTerms);
  } catch {
    rhs = undefined; // the point at infinity: never equal to s·pk_A
  }
  if (rhs === undefined || !lhs.equals(rhs)) {
    throw new UmbralError("REENCRYPTION_VALIDATION_FAILED", "cfrags do not open this capsule for these keys (too few, or wrong keys/capsule)");
  }
  return (seedTerms.length === 1 ? seedTerms[0] : addPoints(...seedTerms)).compressed;
}

export function decryptReencrypted(
  receivingSk: SecretKey,
  delegatingPk: PublicKey,
  capsule: Capsule,
  vcfrags: VerifiedCapsuleFrag[],
  ciphertext: Uint8Array,
): Uint8Array {
  const keySeed = decapsulateReencrypted(receivingSk, delegatingPk, capsule, vcfrags);
  return demDecrypt(demKey(keySeed), capsule.toBytesSimple(), ciphertext);
}
