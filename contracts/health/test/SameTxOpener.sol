// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev The HealthCheck calls the attack uses.
interface IHealthCheckOpen {
    function enroll(address staker) external;
    function evict(address staker) external;
    function openRound() external;
}

/// @title Test-only attacker: changes the enrollment and opens the round in one transaction,
/// as someone who knows the opening block's PREVRANDAO (and so the seed) would.
contract SameTxOpener {
    /// @notice Enroll `joiners`, evict `leavers`, then open the current round, atomically.
    /// @param health The HealthCheck under attack.
    /// @param joiners Eligible, unenrolled stakers.
    /// @param leavers Enrolled, ineligible stakers.
    function enrollEvictAndOpen(IHealthCheckOpen health, address[] calldata joiners, address[] calldata leavers)
        external
    {
        for (uint256 i = 0; i < joiners.length; ++i) {
            health.enroll(joiners[i]);
        }
        for (uint256 i = 0; i < leavers.length; ++i) {
            health.evict(leavers[i]);
        }
        health.openRound();
    }
}
