import { NodeError, badRequest } from "./errors";

const HEX_RE = /^0x([0-9a-fA-F]{2})*$/;

/** Parses a 0x-prefixed hex string; `expectedLength` in bytes when fixed. */
export function parseHex(value: unknown, field: string, expectedLength?: number): Uint8Array {
  if (typeof value !== "string" || !HEX_RE.test(value)) {
    throw badRequest("BAD_HEX", `${field} must be a 0x-prefixed hex string`);
  }
  const out = Uint8Array.from(Buffer.from(value.slice(2), "hex"));
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw badRequest("BAD_LENGTH", `${field} must be ${expectedLength} bytes, got ${out.length}`);
  }
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return "0x" + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export { concatBytes } from "@noble/hashes/utils.js";

export function u64be(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** 20-byte address from a checksummed or lowercase 0x string. */
export function addressBytes(address: string): Uint8Array {
  return parseHex(address.toLowerCase(), "address", 20);
}

export function isNodeError(e: unknown): e is NodeError {
  return e instanceof NodeError;
}
