// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title What the leak adjudicator needs from the PolicyManager.
interface ILeakPolicyManager {
    /// @notice True when `node` was hired by the policy and `proof` shows that the policy's kfrag
    /// commitment binds it to the kfrag hashing (keccak256) to `kfragHash`.
    function verifyKfragCommitment(bytes16 policyId, address node, bytes32 kfragHash, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice True while `node`'s arrangement in the policy is live (not revoked, not expired).
    function isActiveArrangement(bytes16 policyId, address node) external view returns (bool);

    /// @notice End `node`'s live arrangement for a proven leak; the refund the owner would get by
    /// revoking now is split into `bounty = min(maxBounty, refund)` for `challenger` and the rest
    /// for the owner. Leak adjudicator role only.
    function revokeForLeak(bytes16 policyId, address node, address challenger, uint256 maxBounty)
        external
        returns (uint256 bounty, uint256 refund);
}
