// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStakingEscrow} from "../interfaces/IStakingEscrow.sol";

/// @title What the health check needs from the staking escrow beyond IStakingEscrow.
/// @notice `forfeitRewards` takes what a node earned since its last check (claimed or not, the
/// claimed part out of its stake); `markChecked` maintains that checkpoint. Both need the
/// escrow's REWARD_FORFEITER_ROLE.
interface IHealthEscrow is IStakingEscrow {
    /// @notice The staker passed a check (or, first call, starts being tracked): what it earned
    /// so far is no longer forfeitable.
    /// @return earned Claimed + unclaimed rewards recorded as the checkpoint.
    function markChecked(address staker) external returns (uint256 earned);

    /// @notice Whether `signer` was `staker`'s stamp key in `period` (not in the future), whatever its age.
    function wasStampKey(address staker, address signer, uint32 period) external view returns (bool);

    /// @notice Whether the staker's claims are tracked, what it claimed since, and its checkpoint.
    function checkStateOf(address staker) external view returns (bool tracked, uint256 claimed, uint256 checkpoint);
}
