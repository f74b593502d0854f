// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Checker self-selection by Hamming distance between a node's key hash and a round seed.
/// @notice Both values are 192 bits. For a seed independent of the key hashes, a node's distance
/// `popcount(keyHash ^ seed)` is Binomial(192, 1/2). With `S(t) = sum_{i<=t} C(192, i)`, a node
/// is selected when its distance is below `t`, or equal to `t` and a per-(node, seed) coin
/// `uint16(keccak256(keyHash ^ seed)) <= fraction` lands, which happens with probability
/// `(fraction + 1) / 2^16`. `threshold(N, c)` picks the smallest t with `N * S(t) >= c * 2^192`
/// and then the fraction that brings the expected number of selected nodes to
/// `N * (S(t-1) + C(192, t) * (fraction + 1) / 2^16) / 2^192`, which is at least c and exceeds
/// it by less than `N * C(192, t) / 2^208` (a tiny fraction of one node for realistic N).
/// Selection is O(1) per node: one popcount and, at distance exactly t, one keccak.
library HammingSelection {
    /// @notice Number of bits compared.
    uint256 internal constant BITS = 192;
    uint256 private constant FRACTION_ONE = 1 << 16;

    /// @notice Number of set bits among the low 192 bits of `x`.
    function popcount192(uint256 x) internal pure returns (uint256 count) {
        unchecked {
            x &= (uint256(1) << BITS) - 1;
            // SWAR: pairs, nibbles, bytes, then the byte sums are gathered into the top byte by
            // one multiplication (at most 192, so the top byte cannot overflow).
            x = x - ((x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555);
            x =
                (x & 0x3333333333333333333333333333333333333333333333333333333333333333) +
                ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            count = (x * 0x0101010101010101010101010101010101010101010101010101010101010101) >> 248;
        }
    }

    /// @notice Whether a node with `keyHash` is selected for `seed` at (`t`, `fraction`).
    /// @return selected True when selected.
    /// @return distance The Hamming distance between key hash and seed.
    function isSelected(uint192 keyHash, uint192 seed, uint8 t, uint16 fraction)
        internal
        pure
        returns (bool selected, uint256 distance)
    {
        uint256 mixed = uint256(keyHash ^ seed);
        distance = popcount192(mixed);
        if (distance < t) return (true, distance);
        if (distance > t) return (false, distance);
        selected = uint16(uint256(keccak256(abi.encode(mixed)))) <= fraction;
    }

    /// @notice Distance threshold and tie fraction at which `expected` of `candidates` nodes are
    /// expected to be selected. Bounded loop (at most 192 steps), whatever N is.
    /// @param candidates Number of nodes that may self-select (N), below 2^32.
    /// @param expected Desired expected number of checkers (c).
    /// @return t Threshold in [0, 192]; 192 with fraction 0xffff (everyone) when `expected >= N`.
    /// @return fraction Selection probability at distance exactly t is `(fraction + 1) / 2^16`.
    function threshold(uint256 candidates, uint256 expected) internal pure returns (uint8 t, uint16 fraction) {
        if (expected >= candidates) return (uint8(BITS), type(uint16).max);
        // candidates < 2^32 and c < N, so every product stays far below 2^256:
        // N * S(t) <= 2^224, C(192, i) * 192 < 2^196, num * 2^16 <= 2^240.
        uint256 target = expected << BITS;
        uint256 term = 1; // C(192, i)
        uint256 below = 0; // S(i - 1)
        unchecked {
            for (uint256 i = 0; i <= BITS; ++i) {
                uint256 sum = below + term;
                if (candidates * sum >= target) {
                    uint256 num = target - candidates * below; // > 0 because i is the smallest
                    uint256 den = candidates * term; // >= num
                    uint256 f = (num * FRACTION_ONE + den - 1) / den; // ceil, in [1, 2^16]
                    return (uint8(i), uint16(f - 1));
                }
                below = sum;
                term = (term * (BITS - i)) / (i + 1);
            }
        }
        return (uint8(BITS), type(uint16).max); // unreachable: S(192) = 2^192 and c < N
    }
}
