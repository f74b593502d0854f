// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title What the PolicyManager reads from the health check to reserve probe capacity (issue #16).
interface IProbeAssignments {
    /// @notice Whether `checker` (staker) is assigned to probe `target` (staker) in `round` now.
    function isProbeAssignment(uint32 round, address checker, address target) external view returns (bool);
}
