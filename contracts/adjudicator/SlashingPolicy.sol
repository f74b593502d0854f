// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title The penalty formulas, kept apart so they can be read (and tested) on their own.
library SlashingPolicy {
    uint256 internal constant BPS = 10_000;

    /// @notice penalty = min(base + historyCoefficient · priorViolations, stake · maxBps / 10⁴).
    /// @dev The history term saturates instead of overflowing; the cap keeps it bounded anyway.
    function penalty(uint256 base, uint256 historyCoefficient, uint256 priorViolations, uint256 stake, uint256 maxBps)
        internal
        pure
        returns (uint256)
    {
        uint256 cap = (stake * maxBps) / BPS;
        uint256 uncapped;
        unchecked {
            uint256 history = historyCoefficient * priorViolations;
            bool overflow = priorViolations != 0 && history / priorViolations != historyCoefficient;
            uncapped = base + history;
            if (overflow || uncapped < base) uncapped = type(uint256).max;
        }
        return uncapped < cap ? uncapped : cap;
    }
}
