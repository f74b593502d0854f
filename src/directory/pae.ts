// PASETO pre-authentication encoding with little-endian 64-bit lengths, and the plain
// little-endian 64-bit length prefix the attribute-encryption spec writes as len(x).
import { concatBytes } from "@noble/hashes/utils.js";

export function le64(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`length ${n} is not encodable`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

export { concatBytes };

/** len(x) ‖ x */
export function lengthPrefixed(x: Uint8Array): Uint8Array {
  return concatBytes(le64(x.length), x);
}

const utf8 = new TextEncoder();

/** PAE(pieces) = LE64(count) ‖ Σ LE64(len(piece)) ‖ piece; strings are UTF-8. */
export function pae(pieces: ReadonlyArray<Uint8Array | string>): Uint8Array {
  const bytes = pieces.map((p) => (typeof p === "string" ? utf8.encode(p) : p));
  return concatBytes(le64(bytes.length), ...bytes.map(lengthPrefixed));
}
