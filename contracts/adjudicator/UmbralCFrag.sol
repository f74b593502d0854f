// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Secp256k1} from "./Secp256k1.sol";

/// @title Verifier of rust-umbral 0.10 capsule fragments (cfrags).
/// @notice Works on the MessagePack encodings (`toBytes()`) of a Capsule (105 bytes) and a
/// CapsuleFrag (381 bytes). Correctness is the reference's `CapsuleFrag.verify` proof:
///   h = hash_to_scalar(CFRAG_VERIFICATION; E, E1, E2, V, V1, V2, U, U1, U2)
///   z·E == E2 + h·E1,  z·V == V2 + h·V1,  z·U == U2 + h·U1.
/// The six products are supplied by the caller and checked with the ecrecover trick; the
/// differences z·X − h·X1 are formed here with caller-supplied slopes and compared to X2.
library UmbralCFrag {
    uint256 internal constant CAPSULE_LENGTH = 105;
    uint256 internal constant CFRAG_LENGTH = 381;

    // Offsets of the 33-byte compressed points / 32-byte fields inside the encodings.
    uint256 internal constant CAPSULE_E = 3;
    uint256 internal constant CAPSULE_V = 38;
    uint256 internal constant CFRAG_E1 = 3;
    uint256 internal constant CFRAG_V1 = 38;
    uint256 internal constant CFRAG_ID = 73;
    uint256 internal constant CFRAG_PRECURSOR = 107;
    uint256 internal constant CFRAG_E2 = 143;
    uint256 internal constant CFRAG_V2 = 178;
    uint256 internal constant CFRAG_U1 = 213;
    uint256 internal constant CFRAG_U2 = 248;
    uint256 internal constant CFRAG_Z = 283;
    uint256 internal constant CFRAG_KFRAG_SIG = 317;

    /// @dev Umbral's parameter U = hash_to_curve("POINT_U", DST "PARAMETERS"), compressed 0x03||x.
    uint256 internal constant UX = 0x079390d0fbe220fc34aab8ecbf49098098036820fadb98c03143e55db8ec73cd;
    uint256 internal constant U_PARITY = 1;

    /// @notice Caller-computed values the verifier checks instead of computing.
    /// @dev `products` are affine (x, y) in the order [z·E, h·E1, z·V, h·V1, z·U, h·U1]; a product
    /// by z = 0 is ignored (it is the point at infinity). `lambdas[i]` is the slope used to form
    /// the i-th difference z·X − h·X1 for X = E, V, U (see Secp256k1.subtract).
    struct Hints {
        uint256[2][6] products;
        uint256[3] lambdas;
    }

    /// @notice The capsule or cfrag is not a MessagePack encoding of the expected shape.
    error MalformedEncoding();
    /// @notice A capsule point is not a valid curve point (no cfrag can be judged against it).
    error InvalidCapsulePoint();

    /// @notice Reverts unless `capsule` and `cfrag` have the fixed MessagePack framing.
    function checkFraming(bytes calldata capsule, bytes calldata cfrag) internal pure {
        if (capsule.length != CAPSULE_LENGTH || cfrag.length != CFRAG_LENGTH) revert MalformedEncoding();
        if (!capsuleFramed(capsule) || !cfragFramed(cfrag)) revert MalformedEncoding();
    }

    /// @notice Whether the 105-byte `capsule` is fixarray(3) [bin8(33) E, bin8(33) V, bin8(32) s].
    function capsuleFramed(bytes calldata capsule) internal pure returns (bool ok) {
        assembly ("memory-safe") {
            let c := capsule.offset
            ok := and(eq(shr(232, calldataload(c)), 0x93c421), eq(shr(240, calldataload(add(c, 36))), 0xc421))
            ok := and(ok, eq(shr(240, calldataload(add(c, 71))), 0xc420))
        }
    }

    /// @notice Whether the 381-byte `cfrag` is fixarray(5) [E1, V1, id, precursor, fixarray(6)
    /// [E2, V2, U1, U2, z, sig]] with the expected bin8 lengths (its length is checked by the caller).
    function cfragFramed(bytes calldata cfrag) internal pure returns (bool ok) {
        assembly ("memory-safe") {
            let f := cfrag.offset
            ok := eq(shr(232, calldataload(f)), 0x95c421)
            ok := and(ok, eq(shr(240, calldataload(add(f, 36))), 0xc421))
            ok := and(ok, eq(shr(240, calldataload(add(f, 71))), 0xc420))
            ok := and(ok, eq(shr(240, calldataload(add(f, 105))), 0xc421))
            ok := and(ok, eq(shr(232, calldataload(add(f, 140))), 0x96c421))
            ok := and(ok, eq(shr(240, calldataload(add(f, 176))), 0xc421))
            ok := and(ok, eq(shr(240, calldataload(add(f, 211))), 0xc421))
            ok := and(ok, eq(shr(240, calldataload(add(f, 246))), 0xc421))
            ok := and(ok, eq(shr(240, calldataload(add(f, 281))), 0xc420))
            ok := and(ok, eq(shr(240, calldataload(add(f, 315))), 0xc440))
        }
    }

    /// @notice SHA-256 digest of the kfrag's `signature_for_receiver` message:
    /// id ‖ commitment(U1) ‖ precursor ‖ 0x01 ‖ pk_A ‖ 0x01 ‖ pk_B.
    function kfragSignatureDigest(bytes calldata cfrag, bytes calldata delegatingKey, bytes calldata receivingKey)
        internal
        view
        returns (bytes32 digest)
    {
        // Lengths (33 each) are checked by the caller.
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let f := cfrag.offset
            calldatacopy(ptr, add(f, 73), 32) // id
            calldatacopy(add(ptr, 32), add(f, 213), 33) // commitment U1
            calldatacopy(add(ptr, 65), add(f, 107), 33) // precursor
            mstore8(add(ptr, 98), 0x01)
            calldatacopy(add(ptr, 99), delegatingKey.offset, 33)
            mstore8(add(ptr, 132), 0x01)
            calldatacopy(add(ptr, 133), receivingKey.offset, 33)
            if iszero(staticcall(gas(), 0x02, ptr, 166, 0x00, 0x20)) { revert(0, 0) }
            digest := mload(0x00)
        }
    }

    /// @notice The kfrag signature (r, s) carried in the cfrag.
    function kfragSignature(bytes calldata cfrag) internal pure returns (bytes32 r, bytes32 s) {
        assembly ("memory-safe") {
            r := calldataload(add(cfrag.offset, 317))
            s := calldataload(add(cfrag.offset, 349))
        }
    }

    /// @notice h = hash_to_scalar(CFRAG_VERIFICATION; E, E1, E2, V, V1, V2, U, U1, U2):
    /// SHA-256(u32_be(18) ‖ "CFRAG_VERIFICATION" ‖ points), reduced to (int mod (N−1)) + 1.
    function challengeScalar(bytes calldata capsule, bytes calldata cfrag) internal view returns (uint256) {
        bytes32 digest;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            // u32_be(18) ‖ "CFRAG_VERIFICATION" (22 bytes)
            mstore(ptr, 0x0000001243465241475f564552494649434154494f4e00000000000000000000)
            let c := capsule.offset
            let f := cfrag.offset
            calldatacopy(add(ptr, 22), add(c, 3), 33) // E
            calldatacopy(add(ptr, 55), add(f, 3), 33) // E1
            calldatacopy(add(ptr, 88), add(f, 143), 33) // E2
            calldatacopy(add(ptr, 121), add(c, 38), 33) // V
            calldatacopy(add(ptr, 154), add(f, 38), 33) // V1
            calldatacopy(add(ptr, 187), add(f, 178), 33) // V2
            mstore8(add(ptr, 220), 0x03) // U = 0x03 ‖ UX
            mstore(add(ptr, 221), UX)
            calldatacopy(add(ptr, 253), add(f, 213), 33) // U1
            calldatacopy(add(ptr, 286), add(f, 248), 33) // U2
            if iszero(staticcall(gas(), 0x02, ptr, 319, 0x00, 0x20)) { revert(0, 0) }
            digest := mload(0x00)
        }
        return (uint256(digest) % (Secp256k1.N - 1)) + 1;
    }

    /// @notice Whether the cfrag's re-encryption proof holds for the capsule.
    /// @dev Reverts on malformed framing, on an invalid capsule point and on any wrong hint, so
    /// a `false` verdict is never caused by the caller. A cfrag point that does not decode,
    /// a non-canonical z, or a failing equation makes the cfrag incorrect, like the reference's
    /// deserialization or verification failing.
    function isCorrect(bytes calldata capsule, bytes calldata cfrag, Hints calldata hints)
        internal
        view
        returns (bool)
    {
        checkFraming(capsule, cfrag);
        return isCorrectFramed(capsule, cfrag, hints);
    }

    /// @notice `isCorrect` for a capsule and cfrag whose framing the caller has checked.
    function isCorrectFramed(bytes calldata capsule, bytes calldata cfrag, Hints calldata hints)
        internal
        view
        returns (bool)
    {
        uint256 z;
        assembly ("memory-safe") {
            z := calldataload(add(cfrag.offset, 283))
        }
        if (z >= Secp256k1.N) return false;
        uint256 h = challengeScalar(capsule, cfrag);

        bool zIsZero = z == 0;
        if (!zIsZero) {
            // Capsule-side products first, so an invalid capsule point always rejects the evidence.
            _checkCapsuleProduct(capsule, CAPSULE_E, z, hints.products[0]);
            _checkCapsuleProduct(capsule, CAPSULE_V, z, hints.products[2]);
            // U is a valid constant: this cannot return false.
            Secp256k1.checkProduct(UX, U_PARITY, z, hints.products[4][0], hints.products[4][1]);
        }
        return _equationHolds(cfrag, 0, zIsZero, h, hints) && _equationHolds(cfrag, 1, zIsZero, h, hints)
            && _equationHolds(cfrag, 2, zIsZero, h, hints);
    }

    function _checkCapsuleProduct(bytes calldata capsule, uint256 offset, uint256 z, uint256[2] calldata product)
        private
        view
    {
        (bool ok, uint256 x, uint256 parity) = _decodePrefix(capsule, offset);
        if (!ok || !Secp256k1.checkProduct(x, parity, z, product[0], product[1])) revert InvalidCapsulePoint();
    }

    /// @dev Checks z·X == X2 + h·X1 as z·X − h·X1 == X2 (X2 compared in compressed form), for
    /// X = E (i = 0), V (i = 1) or U (i = 2); the product z·X was already checked.
    function _equationHolds(bytes calldata cfrag, uint256 i, bool zIsZero, uint256 h, Hints calldata hints)
        private
        view
        returns (bool)
    {
        uint256[2] calldata hX1 = hints.products[2 * i + 1];
        {
            (bool ok, uint256 x1x, uint256 x1Parity) =
                _decodePrefix(cfrag, i == 0 ? CFRAG_E1 : (i == 1 ? CFRAG_V1 : CFRAG_U1));
            if (!ok || !Secp256k1.checkProduct(x1x, x1Parity, h, hX1[0], hX1[1])) return false;
        }
        return _differenceMatches(
            cfrag, i == 0 ? CFRAG_E2 : (i == 1 ? CFRAG_V2 : CFRAG_U2), zIsZero, hints.products[2 * i], hX1, hints.lambdas[i]
        );
    }

    /// @dev Whether z·X − h·X1 (z·X = infinity when `zIsZero`) equals the compressed X2 at `x2Offset`.
    function _differenceMatches(
        bytes calldata cfrag,
        uint256 x2Offset,
        bool zIsZero,
        uint256[2] calldata zX,
        uint256[2] calldata hX1,
        uint256 lambda
    ) private pure returns (bool) {
        uint256 rx;
        uint256 ry;
        if (zIsZero) {
            (rx, ry) = (hX1[0], Secp256k1.P - hX1[1]);
        } else {
            bool isInfinity;
            (isInfinity, rx, ry) = Secp256k1.subtract(zX[0], zX[1], hX1[0], hX1[1], lambda);
            if (isInfinity) return false; // X2 is never the point at infinity
        }
        (bool x2Ok, uint256 x2x, uint256 x2Parity) = _decodePrefix(cfrag, x2Offset);
        return x2Ok && rx == x2x && (ry & 1) == x2Parity;
    }

    /// @notice A compressed point's tag and x at `offset` (no validation).
    function pointAt(bytes calldata data, uint256 offset) internal pure returns (uint256 prefix, uint256 x) {
        assembly ("memory-safe") {
            let at := add(data.offset, offset)
            prefix := byte(0, calldataload(at))
            x := calldataload(add(at, 1))
        }
    }

    /// @dev Only canonical compressed SEC1 tags count (as in src/umbral): rust-umbral's decoder
    /// also takes the SEC1 "compact" tag 0x05, which no honest node emits, so a stamped cfrag
    /// carrying it is the node's fault and judged incorrect.
    /// A compressed point's x and parity, without curve validation (prefix must be 2 or 3,
    /// x < P). Offsets are within the lengths checked by checkFraming.
    function _decodePrefix(bytes calldata data, uint256 offset)
        private
        pure
        returns (bool ok, uint256 x, uint256 parity)
    {
        assembly ("memory-safe") {
            let at := add(data.offset, offset)
            let prefix := byte(0, calldataload(at))
            x := calldataload(add(at, 1))
            ok := and(or(eq(prefix, 2), eq(prefix, 3)), lt(x, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F))
            parity := and(prefix, 1)
        }
    }
}
