// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Checker self-selection by Hamming distance between a node's key hash and a round seed.
/// @notice Both values are 192 bits. A node may act as checker in a round when
/// `popcount(keyHash ^ seed) <= threshold`. For a seed independent of the key hashes, the
/// distance of each node is Binomial(192, 1/2), so with N candidates the expected number of
/// checkers is `N * S(t) / 2^192` where `S(t) = sum_{i<=t} C(192, i)`. `threshold` returns the
/// smallest t with `N * S(t) >= c * 2^192`, i.e. the tightest distance at which at least `c`
/// checkers are expected. Because S grows in discrete steps the expectation lands in
/// `[c, c * S(t)/S(t-1))`; for 10 <= c << N that ratio is about 1.3-1.5.
library HammingSelection {
    /// @notice Number of bits compared.
    uint256 internal constant BITS = 192;

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

    /// @notice Smallest Hamming-distance threshold at which at least `expected` of `candidates`
    /// nodes are expected to qualify. Bounded loop (at most 193 steps), independent of N's size.
    /// @param candidates Number of nodes that may self-select (N).
    /// @param expected Desired expected number of checkers (c).
    /// @return t Threshold in [0, 192]; 192 (everyone) when `expected >= candidates`.
    function threshold(uint256 candidates, uint256 expected) internal pure returns (uint8 t) {
        if (expected >= candidates) return uint8(BITS);
        // candidates < 2^32 (enrollment indices are uint32) so every product stays below 2^256:
        // candidates * S(t) <= 2^224 and C(192, i) * 192 < 2^196.
        uint256 target = expected << BITS;
        uint256 term = 1; // C(192, i)
        uint256 sum = 1; // S(i)
        unchecked {
            for (uint256 i = 0; i < BITS; ++i) {
                if (candidates * sum >= target) return uint8(i);
                term = (term * (BITS - i)) / (i + 1);
                sum += term;
            }
        }
        return uint8(BITS);
    }
}
