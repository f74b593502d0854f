import { expect } from "chai";
import { UmbralError, UmbralErrorCode } from "../../src/umbral";

/** Runs fn and asserts it throws an UmbralError (with one of `codes`, if given); returns the error. */
export function expectUmbralError(fn: () => unknown, ...codes: UmbralErrorCode[]): UmbralError {
  try {
    fn();
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(UmbralError);
    const e = err as UmbralError;
    if (codes.length > 0) expect(codes, e.message).to.include(e.code);
    return e;
  }
  expect.fail(`expected an UmbralError${codes.length ? ` (${codes.join("|")})` : ""}`);
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
export const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}
