// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title What the leak adjudicator needs from the staking escrow (see StakingEscrow.sol).
interface ILeakEscrow {
    /// @notice The stake a forfeit can take now (the slashing window).
    function slashableStake(address staker) external view returns (uint256);

    /// @notice Whether `signer` was `staker`'s stamp key in `period` (not in the future; no age limit).
    function wasStampKey(address staker, address signer, uint32 period) external view returns (bool);

    /// @notice Take up to `amount` of the slashable stake to the reserve; no violation counted,
    /// no slash rate used. Leak forfeiter role only; reverts while slashing is paused.
    function forfeitForLeak(address staker, uint256 amount) external returns (uint256 forfeited);
}
