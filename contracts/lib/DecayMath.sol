// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Fixed-point power for the reserve's geometric decay
library DecayMath {
    uint256 internal constant WAD = 1e18;

    /// @notice `base^exponent` for an 18-decimal fixed-point `base <= 1e18`, by repeated
    /// squaring: O(log exponent) multiplications, no loop over periods. Each step rounds UP, so
    /// the result is never below the exact power (the relative error stays below
    /// ~2·log2(exponent)·1e-18); a remainder computed with it never undershoots, so an issuance
    /// never overshoots.
    function wadPowUp(uint256 base, uint256 exponent) internal pure returns (uint256 result) {
        result = WAD;
        while (exponent != 0) {
            if (exponent & 1 != 0) result = (result * base + WAD - 1) / WAD;
            exponent >>= 1;
            if (exponent != 0) base = (base * base + WAD - 1) / WAD;
        }
    }
}
