// The public double multiplication done through ECDSA recovery (isMulGAddPublic) agrees with the
// plain multiply-and-add path, including the rare points whose x is not below the group order.
import { expect } from "chai";
import fc from "fast-check";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { Point, addPoints, isMulGAddPublic, mulG, mulPublic, randomScalar, scalarNeg, type Scalar } from "../../src/umbral/curve";

const CURVE = secp256k1.Point.CURVE();

function bytes32(x: bigint): Uint8Array {
  return Uint8Array.from(Buffer.from(x.toString(16).padStart(64, "0"), "hex"));
}

function slow(a: Scalar, b: Scalar, p: Point): Point {
  return addPoints(mulG(a), mulPublic(p, b));
}

/** A point whose x lies in [n, p): ECDSA recovery needs recovery-id bit 1 for it. */
function pointWithLargeX(): Point {
  for (let x = CURVE.n; x < CURVE.p; x++) {
    const rhs = (((x * x) % CURVE.p) * x + 7n) % CURVE.p;
    const y = secp256k1.Point.Fp.sqrt(rhs);
    if (y !== undefined && (y * y) % CURVE.p === rhs) {
      return Point.fromCompressed(Uint8Array.from([2, ...bytes32(x)]));
    }
  }
  throw new Error("unreachable: about half of all x are on the curve");
}

describe("umbral curve: a·G + b·P == Q by ECDSA recovery", function () {
  it("agrees with multiply-and-add on random inputs, and rejects any other Q", () => {
    fc.assert(
      fc.property(fc.integer(), () => {
        const [a, b] = [randomScalar(), randomScalar()];
        const p = mulG(randomScalar());
        const q = slow(a, b, p);
        expect(isMulGAddPublic(a, b, p, q)).to.equal(true);
        expect(isMulGAddPublic(a, b, p, mulG(randomScalar()))).to.equal(false);
        expect(isMulGAddPublic(b, a, p, q)).to.equal(false);
      }),
      { numRuns: 50 },
    );
  });

  it("handles a point whose x is at least the group order", () => {
    const p = pointWithLargeX();
    for (const odd of [false, true]) {
      const point = odd ? Point.fromCompressed(Uint8Array.from([3, ...p.compressed.subarray(1)])) : p;
      const [a, b] = [randomScalar(), randomScalar()];
      expect(isMulGAddPublic(a, b, point, slow(a, b, point))).to.equal(true);
      expect(isMulGAddPublic(a, b, point, slow(b, a, point))).to.equal(false);
    }
  });

  it("answers false when a·G + b·P is the point at infinity", () => {
    const k = randomScalar();
    const p = mulG(k);
    // P = k·G, a = −k, b = 1: a·G + b·P is the identity.
    expect(isMulGAddPublic(scalarNeg(k), bytes32(1n), p, p)).to.equal(false);
  });
});
