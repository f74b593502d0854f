// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title What the other NKMS contracts need from the staking escrow.
/// @notice A node is identified by its staker address (the cold wallet). The staker bonds one
/// operator (hot key) that the node agent uses, and the operator registers the node's endpoint
/// and Umbral keys. Periods are `block.timestamp / secondsPerPeriod`.
interface IStakingEscrow {
    /// @notice The period number at the current block.
    function currentPeriod() external view returns (uint32);

    /// @notice Length of a period in seconds (immutable).
    function secondsPerPeriod() external view returns (uint32);

    /// @notice Tokens of `staker` that stay locked at least through the end of `period`
    /// (0 when the lock ends earlier or the staker has nothing staked).
    function lockedThrough(address staker, uint32 period) external view returns (uint256);

    /// @notice Sum over all stakers of their currently locked stake.
    function totalLocked() external view returns (uint256);

    /// @notice The operator bonded to `staker` (zero address when none).
    function operatorOf(address staker) external view returns (address);

    /// @notice The staker an operator is bonded to (zero address when none).
    function stakerOf(address operator) external view returns (address);

    /// @notice True when the node has a bonded operator and a registered endpoint and keys.
    function isRegistered(address staker) external view returns (bool);

    /// @notice The node's published endpoint and Umbral public keys (33-byte compressed each).
    function nodeInfo(address staker)
        external
        view
        returns (string memory endpoint, bytes memory encryptingKey, bytes memory verifyingKey);

    /// @notice The stake evidence can still slash now: the whole stake while rolling or
    /// unlocking, and for `slashingGracePeriods` periods after its unlock period (longer by a
    /// slashing pause that met those periods); 0 afterwards. `slash` never takes more.
    function slashableStake(address staker) external view returns (uint256);

    /// @notice Whether a stamp dated `period` and signed by the key with Ethereum address `signer`
    /// counts as `staker`'s now: `signer` was its stamp key in `period` (the key's window
    /// [validFrom, validUntil) contains it; a key retired in period R counts through R), and
    /// currentPeriod − slashingGracePeriods ≤ period ≤ currentPeriod (no future-dated stamps), the
    /// lower bound moved back by a guardian's pause that met those periods (a pause never voids
    /// evidence; see `slashingDeadline`).
    /// Kept across unbonding; a retired key can never be re-registered by the same staker.
    function isStampKey(address staker, address signer, uint32 period) external view returns (bool);

    /// @notice The stake evidence can slash now (`slashableStake`) and how many times the node
    /// has been slashed (by any slasher), in one call: what a penalty formula needs.
    function slashingStateOf(address staker) external view returns (uint256 stake, uint256 violations);

    /// @notice Slashing rewards withheld by `slash` and not yet paid by `payInvestigator`:
    /// cap − totalSupply − reserve.
    function owedInvestigatorRewards() external view returns (uint256);

    /// @notice Slash up to `penalty` tokens of `staker`'s slashable stake (`slashableStake`) and
    /// count a violation. `reward` of it (at most the amount slashed, else the call reverts) is
    /// withheld for this slasher to pay to its investigator later with `payInvestigator`; the
    /// rest returns to the mining reserve. Slasher role only; reverts while slashing is paused
    /// and when the staker was already slashed MAX_SLASHES_PER_PERIOD times this period
    /// (`SlashRateLimited`). Nothing happens when nothing is slashable.
    /// @return slashed The amount actually taken (never more than the slashable stake).
    /// @return violations The node's slash count after this one.
    function slash(address staker, uint256 penalty, uint256 reward)
        external
        returns (uint256 slashed, uint256 violations);

    /// @notice Pay `amount` of the slashing rewards the caller's own slashes withheld to
    /// `investigator` (minted; never more than the caller's share of `owedInvestigatorRewards`).
    /// Only what the caller's own slashes withheld (`owedBy`): a slasher whose role was revoked
    /// can still pay its investigators what it owes them, and no one else can pay anything.
    function payInvestigator(address investigator, uint256 amount) external;

    /// @notice Take back to the reserve what `staker` earned since its last health check (from
    /// unclaimed rewards first, then from stake for what was already claimed); health check only;
    /// reverts while slashing is paused.
    /// @return forfeited The amount forfeited.
    function forfeitRewards(address staker) external returns (uint256 forfeited);
}
