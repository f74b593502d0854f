// RFC 9162 Merkle tree hashing (SHA-256), proof verification, and proof generation over a
// node store that keeps only leaves and complete, aligned subtrees ("perfect" nodes).
import { createHash } from "node:crypto";

export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

// node:crypto's native SHA-256 is several times faster than a JS one for these short inputs.
const asBytes = (b: Buffer): Uint8Array => new Uint8Array(b);

export function leafHash(data: Uint8Array): Uint8Array {
  return asBytes(createHash("sha256").update(LEAF_PREFIX).update(data).digest());
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return asBytes(createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest());
}

/** RFC 9162 MTH of the empty list. */
export const EMPTY_TREE_HASH: Uint8Array = asBytes(createHash("sha256").digest());

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

const isOdd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);

/** RFC 9162 §2.1.3.2: verify that `leaf` is at `leafIndex` in the tree of `treeSize` with `root`. */
export function verifyInclusion(
  leaf: Uint8Array,
  leafIndex: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isSize(leafIndex) || !isSize(treeSize) || leafIndex >= treeSize) return false;
  if (!isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(r, root);
}

/** RFC 9162 §2.1.4.2: verify that the tree (size1, root1) is a prefix of the tree (size2, root2). */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isSize(size1) || !isSize(size2)) return false;
  // A consistency check from the empty tree proves nothing, so it is refused rather than passed.
  if (size1 < 1 || size2 < size1) return false;
  if (size1 === size2) return proof.length === 0 && bytesEqual(root1, root2);
  if (proof.length === 0) return false;
  if (!isHash(root1) || !isHash(root2) || !proof.every(isHash)) return false;

  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(fr, root1) && bytesEqual(sr, root2);
}

export function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  let x = n;
  while (x % 2 === 0) x /= 2;
  return x === 1;
}

/** Largest power of two strictly smaller than n (n >= 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Read access to the perfect subtrees of a log: `perfectNode(level, index)` is the hash of
 * leaves [index·2^level, (index+1)·2^level), which must exist.
 */
export interface PerfectNodeSource {
  perfectNode(level: number, index: number): Uint8Array;
}

function log2Exact(n: number): number {
  let level = 0;
  while (2 ** level < n) level++;
  return level;
}

/**
 * MTH(D[start:start+size]). The ranges RFC 9162's recursions visit always start at a multiple
 * of their left part's size, so every left part is one stored perfect node: O(log n) reads.
 */
export function rangeHash(src: PerfectNodeSource, start: number, size: number): Uint8Array {
  if (size === 0) return EMPTY_TREE_HASH;
  if (isPowerOfTwo(size) && start % size === 0) {
    const level = log2Exact(size);
    return src.perfectNode(level, start / size);
  }
  const k = splitPoint(size);
  return nodeHash(rangeHash(src, start, k), rangeHash(src, start + k, size - k));
}

/** RFC 9162 §2.1.3.1 PATH(m, D[start:start+size]), proof ordered leaf-to-root. */
export function inclusionPath(src: PerfectNodeSource, m: number, start: number, size: number): Uint8Array[] {
  if (size <= 1) return [];
  const k = splitPoint(size);
  if (m < k) return [...inclusionPath(src, m, start, k), rangeHash(src, start + k, size - k)];
  return [...inclusionPath(src, m - k, start + k, size - k), rangeHash(src, start, k)];
}

/** RFC 9162 §2.1.4.1 SUBPROOF(m, D[start:start+size], b). */
export function consistencyPath(
  src: PerfectNodeSource,
  m: number,
  start: number,
  size: number,
  completeSubtree: boolean,
): Uint8Array[] {
  if (m === size) return completeSubtree ? [] : [rangeHash(src, start, size)];
  const k = splitPoint(size);
  if (m <= k) return [...consistencyPath(src, m, start, k, completeSubtree), rangeHash(src, start + k, size - k)];
  return [...consistencyPath(src, m - k, start + k, size - k, false), rangeHash(src, start, k)];
}
