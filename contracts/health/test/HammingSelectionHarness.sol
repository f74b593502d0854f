// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {HammingSelection} from "../HammingSelection.sol";

/// @title Test harness exposing the HammingSelection library's internal functions.
contract HammingSelectionHarness {
    /// @notice See HammingSelection.popcount192.
    function popcount192(uint256 x) external pure returns (uint256) {
        return HammingSelection.popcount192(x);
    }

    /// @notice See HammingSelection.threshold.
    function threshold(uint256 candidates, uint256 expected) external pure returns (uint8 t, uint16 fraction) {
        return HammingSelection.threshold(candidates, expected);
    }

    /// @notice See HammingSelection.isSelected.
    function isSelected(uint192 keyHash, uint192 seed, uint8 t, uint16 fraction)
        external
        pure
        returns (bool selected, uint256 distance)
    {
        return HammingSelection.isSelected(keyHash, seed, t, fraction);
    }
}
