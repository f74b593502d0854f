// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title secp256k1 helpers for verifying caller-supplied curve arithmetic cheaply.
/// @notice Points are affine `(x, y)`. The expensive work (scalar multiplications, modular
/// inverses, square roots) is done by the caller; this library only *checks* it:
/// - a product `Q = k·P` is checked with one `ecrecover` call (the "ecrecover trick"),
/// - an addition slope λ is checked with one `mulmod`.
/// The modexp precompile is only used on rare paths (points whose x is ≥ the group order).
library Secp256k1 {
    /// @dev Field prime.
    uint256 internal constant P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    /// @dev Group order.
    uint256 internal constant N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798;
    uint256 internal constant GY = 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8;

    /// @notice The caller-supplied product does not equal k·P.
    error ProductHintMismatch();
    /// @notice The caller-supplied slope does not match the two points being added.
    error SlopeHintMismatch();
    /// @notice ecrecover failed on a base point that is on the curve (should be unreachable).
    error UnexpectedRecoverFailure();
    /// @notice A base point whose x and the x of (P + G) are both ≥ the group order: probability 2^-256.
    error UnsupportedBasePoint();
    /// @notice The modexp precompile call failed.
    error ModExpFailed();

    /// @notice True when (x, y) is an affine point of the curve with canonical coordinates.
    function isOnCurve(uint256 x, uint256 y) internal pure returns (bool) {
        if (x >= P || y >= P) return false;
        return mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), 7, P);
    }

    /// @notice The Ethereum address of a public key (x, y).
    function toAddress(uint256 x, uint256 y) internal pure returns (address addr) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, x)
            mstore(add(ptr, 0x20), y)
            addr := and(keccak256(ptr, 0x40), 0xffffffffffffffffffffffffffffffffffffffff)
        }
    }

    /// @notice Checks that the caller-supplied Q equals k·P, where P is given compressed by its x
    /// and the parity of its y, and 0 < k < N.
    /// @dev ecrecover(hash, v, r, s) returns the address of r⁻¹·(s·R − hash·G), where R is the
    /// point with x = r and y-parity v − 27. With hash = 0, r = P.x and s = k·P.x this is k·P.
    /// The precompile accepts only r < N; for the rare P with x ≥ N we recover k·P from the
    /// shifted base P' = P + G instead: hash = s = k·P'.x gives k·P' − k·G = k·P.
    /// @return baseValid False when P is not a point of the curve (then nothing is checked).
    /// Reverts with ProductHintMismatch when P is valid but Q ≠ k·P.
    function checkProduct(uint256 px, uint256 parity, uint256 k, uint256 qx, uint256 qy)
        internal
        view
        returns (bool baseValid)
    {
        address recovered;
        if (px != 0 && px < N) {
            recovered = _ecrecover(0, 27 + parity, px, mulmod(k, px, N));
            if (recovered == address(0)) {
                // The precompile rejects an R it cannot decompress; confirm before judging.
                (bool onCurve,) = liftX(px, parity);
                if (onCurve) revert UnexpectedRecoverFailure();
                return false;
            }
        } else {
            bool valid;
            (valid, recovered) = _recoverShifted(px, parity, k);
            if (!valid) return false;
        }
        if (recovered != toAddress(qx, qy)) revert ProductHintMismatch();
        return true;
    }

    /// @dev The ecrecover precompile on scratch memory; address(0) when it recovers nothing.
    function _ecrecover(uint256 hash, uint256 v, uint256 r, uint256 s) private view returns (address signer) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hash)
            mstore(add(ptr, 0x20), v)
            mstore(add(ptr, 0x40), r)
            mstore(add(ptr, 0x60), s)
            mstore(0x00, 0)
            pop(staticcall(gas(), 0x01, ptr, 0x80, 0x00, 0x20))
            signer := mload(0x00)
        }
    }

    /// @dev k·P for a base P with x ≥ N (or x = 0), through P' = P + G.
    function _recoverShifted(uint256 px, uint256 parity, uint256 k)
        private
        view
        returns (bool baseValid, address recovered)
    {
        if (px >= P) return (false, address(0));
        (bool onCurve, uint256 py) = liftX(px, parity);
        if (!onCurve) return (false, address(0));
        // px ≥ N > GX, so P ≠ ±G and the chord formula applies.
        (uint256 sx, uint256 sy) = addDistinct(px, py, GX, GY, inverse(addmod(GX, P - px, P)));
        if (sx >= N) revert UnsupportedBasePoint();
        uint256 m = mulmod(k, sx, N);
        recovered = _ecrecover(m, 27 + (sy & 1), sx, m);
        return (true, recovered);
    }

    /// @notice A − B for affine points A and B (neither infinity), with the caller's slope hint.
    /// @dev For A ≠ ±B the hint must be λ = (−B.y − A.y)/(B.x − A.x); for A = −B (doubling of A)
    /// it must be λ = 3·A.x² / (2·A.y). Each is checked with one mulmod.
    /// @return isInfinity True when A = B (the difference is the point at infinity).
    function subtract(uint256 ax, uint256 ay, uint256 bx, uint256 by, uint256 lambda)
        internal
        pure
        returns (bool isInfinity, uint256 rx, uint256 ry)
    {
        uint256 cy = P - by; // C = −B; by ≠ 0 on this curve (no point has y = 0)
        if (ax == bx) {
            if (ay != cy) return (true, 0, 0);
            // A = C: doubling
            if (mulmod(lambda, addmod(ay, ay, P), P) != mulmod(3, mulmod(ax, ax, P), P)) {
                revert SlopeHintMismatch();
            }
        } else if (mulmod(lambda, addmod(bx, P - ax, P), P) != addmod(cy, P - ay, P)) {
            revert SlopeHintMismatch();
        }
        rx = addmod(mulmod(lambda, lambda, P), P - addmod(ax, bx, P), P);
        ry = addmod(mulmod(lambda, addmod(ax, P - rx, P), P), P - ay, P);
    }

    /// @notice A + B for distinct-x affine points given λ⁻¹'s denominator inverse `invDx` = 1/(B.x − A.x).
    function addDistinct(uint256 ax, uint256 ay, uint256 bx, uint256 by, uint256 invDx)
        internal
        pure
        returns (uint256 rx, uint256 ry)
    {
        uint256 lambda = mulmod(addmod(by, P - ay, P), invDx, P);
        rx = addmod(mulmod(lambda, lambda, P), P - addmod(ax, bx, P), P);
        ry = addmod(mulmod(lambda, addmod(ax, P - rx, P), P), P - ay, P);
    }

    /// @notice The point with the given x and y-parity, if x³ + 7 is a square (x < P assumed).
    function liftX(uint256 x, uint256 parity) internal view returns (bool onCurve, uint256 y) {
        uint256 rhs = addmod(mulmod(mulmod(x, x, P), x, P), 7, P);
        // P ≡ 3 (mod 4): a square root is rhs^((P+1)/4).
        y = modExp(rhs, (P + 1) / 4, P);
        if (mulmod(y, y, P) != rhs) return (false, 0);
        if (y & 1 != parity) y = P - y;
        return (true, y);
    }

    /// @notice a⁻¹ mod P by Fermat's little theorem (a ≠ 0).
    function inverse(uint256 a) internal view returns (uint256) {
        return modExp(a, P - 2, P);
    }

    function modExp(uint256 base, uint256 exponent, uint256 modulus) internal view returns (uint256 result) {
        bool ok;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, 0x20)
            mstore(add(ptr, 0x20), 0x20)
            mstore(add(ptr, 0x40), 0x20)
            mstore(add(ptr, 0x60), base)
            mstore(add(ptr, 0x80), exponent)
            mstore(add(ptr, 0xa0), modulus)
            ok := staticcall(gas(), 0x05, ptr, 0xc0, ptr, 0x20)
            result := mload(ptr)
        }
        if (!ok) revert ModExpFailed();
    }
}
