// The tiny, strict subset of MessagePack that rust-umbral's serde output uses: fixarrays, bin8 byte
// strings and booleans. Only the canonical encoding is accepted, so any altered marker byte is an error.
import { UmbralError } from "./errors";
import { concatBytes } from "./curve";

export function packBin(bytes: Uint8Array): Uint8Array {
  if (bytes.length > 0xff) throw new Error("bin8 only");
  const out = new Uint8Array(2 + bytes.length);
  out[0] = 0xc4;
  out[1] = bytes.length;
  out.set(bytes, 2);
  return out;
}

export function packBool(value: boolean): Uint8Array {
  return Uint8Array.of(value ? 0xc3 : 0xc2);
}

/** A fixarray of already-packed items. */
export function packArray(items: Uint8Array[]): Uint8Array {
  if (items.length > 15) throw new Error("fixarray only");
  return concatBytes(Uint8Array.of(0x90 | items.length), ...items);
}

export class MsgpackReader {
  private pos = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  private fail(detail: string): never {
    throw new UmbralError("INVALID_ENCODING", `${this.what}: ${detail} at offset ${this.pos}`);
  }

  private byte(): number {
    if (this.pos >= this.bytes.length) this.fail("unexpected end of data");
    return this.bytes[this.pos++];
  }

  array(length: number): void {
    if (this.byte() !== (0x90 | length)) this.fail(`expected an array of ${length}`);
  }

  bin(length: number): Uint8Array {
    if (this.byte() !== 0xc4) this.fail("expected a byte string");
    if (this.byte() !== length) this.fail(`expected ${length} bytes`);
    if (this.pos + length > this.bytes.length) this.fail("unexpected end of data");
    const out = this.bytes.slice(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  bool(): boolean {
    const b = this.byte();
    if (b === 0xc3) return true;
    if (b === 0xc2) return false;
    return this.fail("expected a boolean");
  }

  end(): void {
    if (this.pos !== this.bytes.length) this.fail("trailing bytes");
  }
}

export function expectLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array)) throw new UmbralError("INVALID_ARGUMENT", `${what} must be a Uint8Array`);
  if (bytes.length !== length) {
    throw new UmbralError("INVALID_LENGTH", `${what} must be ${length} bytes, got ${bytes.length}`);
  }
}
