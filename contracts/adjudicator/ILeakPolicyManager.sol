// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title What the leak adjudicator needs from the PolicyManager (see PolicyManager.sol).
interface ILeakPolicyManager {
    /// @notice True when `node` was hired by the policy and `proof` shows that the policy's kfrag
    /// commitment binds it to the kfrag hashing (keccak256) to `kfragHash`.
    function verifyKfragCommitment(bytes16 policyId, address node, bytes32 kfragHash, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice The policy's owner and first period, whether `node` was hired and is still live,
    /// what was paid for its arrangement (F) and what the node keeps of it once a leak proven now
    /// is settled (`earned`, a lower bound for a revoked arrangement).
    function leakExposure(bytes16 policyId, address node)
        external
        view
        returns (address owner, uint32 startPeriod, bool hired, bool live, uint256 paid, uint256 earned);

    /// @notice A commitment was made on `node`'s arrangement: a revocation until `untilBlock`
    /// holds back up to `cap` of its refund. No-op (false) unless the arrangement is live.
    function openLeakChallenge(bytes16 policyId, address node, uint96 cap, uint64 untilBlock) external returns (bool);

    /// @notice Settle the refund side of a proven leak: end a live arrangement or take its
    /// held-back refund, and split it into `bounty = min(maxBounty, available)` for `challenger`
    /// (nothing from a hold made before `committedAt`) and the rest for the owner.
    function revokeForLeak(bytes16 policyId, address node, address challenger, uint256 maxBounty, uint256 committedAt)
        external
        returns (uint256 bounty, uint256 refund);
}
