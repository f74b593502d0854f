// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IStakingEscrow} from "../interfaces/IStakingEscrow.sol";
import {ILeakPolicyManager} from "./ILeakPolicyManager.sol";
import {SlashingPolicy} from "./SlashingPolicy.sol";

/// @title LeakAdjudicator: key-leak challenges.
/// @notice Presenting the kfrag that a policy's on-chain kfrag commitment binds to node X proves
/// that X leaked it (only the owner, who made it, and X ever held it). X then
///  - forfeits `penalty = min(basePenalty + penaltyHistoryCoefficient · priorViolations,
///    stake · maxPenaltyBps / 10⁴)` of its stake, all of which returns to the reserve, and
///  - loses the arrangement (PolicyManager.revokeForLeak).
/// Payout rule (the owner can never gain more by "challenging" her own node than by revoking at
/// the same moment): the challenger's bounty is min(penalty · challengerShareBps / 10⁴, R), where
/// R is the refund the owner would get by revoking X's arrangement now, and it is paid OUT OF R;
/// the owner receives R − bounty. A self-challenging owner thus collects at most
/// bounty + (R − bounty) = R, exactly the revocation refund, and the forfeit never reaches her.
///
/// Front-running resistance (commit–reveal binding the payout address):
///  1. `commitLeak(c)` with c = leakCommitment(challenger, policyId, node, keccak256(kfrag), salt),
///     sent by anyone (the commitment hides the kfrag behind a secret salt);
///  2. in a LATER block, `challenger` calls `revealLeak(policyId, node, kfrag, proof, salt)`.
/// The bounty goes to `msg.sender` of the reveal, which must be the challenger bound in a
/// commitment made in an earlier block. Someone copying the kfrag from a pending reveal cannot
/// have committed to it for their own address before, so they cannot take the bounty; the reveal
/// consumes the commitment and ends the arrangement, so the leak is punished once.
/// priorViolations is the escrow's count of the node's earlier slashes (`slashingStateOf`): proven
/// leaks and incorrect cfrags alike, one history shared with the Adjudicator, so a repeat
/// offender pays more whatever its earlier offence was.
/// A leak stays provable after the arrangement ended (revoked or expired): a leaked kfrag keeps
/// working for whoever holds it, revocation or not, so the node still forfeits its penalty. Revoking
/// then would refund nothing, so by the payout rule nothing is paid: no bounty, no refund.
/// Each (policy, node) leak is punished once, live or not (`leakPunished`).
contract LeakAdjudicator is ReentrancyGuardTransient {
    uint256 private constant BPS = 10_000;

    /// @notice The staking escrow whose `slash` this contract may call.
    IStakingEscrow public immutable escrow;
    /// @notice The PolicyManager holding kfrag commitments (this contract holds its leak role).
    ILeakPolicyManager public immutable policyManager;
    /// @notice Fixed part of every forfeit, in token units.
    uint256 public immutable basePenalty;
    /// @notice Added to the forfeit once per earlier violation (slash) of the same node.
    uint256 public immutable penaltyHistoryCoefficient;
    /// @notice Cap on one forfeit as a fraction of the node's slashable stake (escrow.slashableStake), basis points.
    uint256 public immutable maxPenaltyBps;
    /// @notice Upper bound of the challenger's bounty as a fraction of the forfeit, basis points.
    uint256 public immutable challengerShareBps;

    /// @notice Block number at which each pending commitment was made (0: none).
    mapping(bytes32 commitment => uint256 blockNumber) public commitments;
    /// @notice Leaks already punished, by `keccak256(abi.encode(policyId, staker))`.
    mapping(bytes32 leak => bool) public leakPunished;

    /// @notice A challenger committed to a leak (hidden until revealed).
    event LeakCommitted(bytes32 indexed commitment, address indexed sender);
    /// @notice A leak was proven: the node forfeited `slashed` (and lost its arrangement, if live).
    event LeakProven(
        bytes16 indexed policyId,
        address indexed staker,
        address indexed challenger,
        uint256 penalty,
        uint256 slashed,
        uint256 bounty,
        uint256 ownerRefund,
        uint256 violationCount
    );

    error ZeroAddress();
    error InvalidParameters();
    error CommitmentExists(bytes32 commitment);
    error UnknownCommitment(bytes32 commitment);
    error RevealTooEarly(bytes32 commitment);
    error KfragNotCommitted(bytes16 policyId, address staker);
    error NothingToSlash(address staker);
    error LeakAlreadyPunished(bytes16 policyId, address staker);

    /// @param escrow_ Staking escrow; this contract must hold its slasher role.
    /// @param policyManager_ PolicyManager; this contract must hold its leak adjudicator role.
    /// @param basePenalty_ Fixed part of a forfeit (token units).
    /// @param penaltyHistoryCoefficient_ Extra forfeit per earlier violation of the node (token units).
    /// @param maxPenaltyBps_ Forfeit cap as a fraction of the slashable stake, 1..10000.
    /// @param challengerShareBps_ Bounty cap as a fraction of the forfeit, 0..10000.
    constructor(
        IStakingEscrow escrow_,
        ILeakPolicyManager policyManager_,
        uint256 basePenalty_,
        uint256 penaltyHistoryCoefficient_,
        uint256 maxPenaltyBps_,
        uint256 challengerShareBps_
    ) {
        if (address(escrow_) == address(0) || address(policyManager_) == address(0)) revert ZeroAddress();
        if (maxPenaltyBps_ == 0 || maxPenaltyBps_ > BPS || challengerShareBps_ > BPS) revert InvalidParameters();
        escrow = escrow_;
        policyManager = policyManager_;
        basePenalty = basePenalty_;
        penaltyHistoryCoefficient = penaltyHistoryCoefficient_;
        maxPenaltyBps = maxPenaltyBps_;
        challengerShareBps = challengerShareBps_;
    }

    /// @notice Step 1: commit to a leak without revealing the kfrag.
    /// @param commitment `leakCommitment(challenger, policyId, node, keccak256(kfrag), salt)`.
    function commitLeak(bytes32 commitment) external {
        if (commitments[commitment] != 0) revert CommitmentExists(commitment);
        commitments[commitment] = block.number;
        emit LeakCommitted(commitment, msg.sender);
    }

    /// @notice Step 2 (a later block than the commitment): reveal the leaked kfrag; the caller
    /// must be the committed challenger. Slashes the node; if its arrangement is still live, ends
    /// it and pays the bounty out of the owner's refund.
    /// @param policyId The policy.
    /// @param staker The node (staker address) whose kfrag leaked.
    /// @param kfrag The leaked KeyFrag bytes (as committed on-chain: keccak256 of them is the leaf's hash).
    /// @param proof Merkle proof of the node's leaf in the policy's kfrag commitment.
    /// @param salt The commitment's secret salt.
    /// @return penalty The forfeit charged to the node.
    /// @return bounty The amount the challenger received (from the owner's refund; 0 once the
    /// arrangement had ended).
    function revealLeak(
        bytes16 policyId,
        address staker,
        bytes calldata kfrag,
        bytes32[] calldata proof,
        bytes32 salt
    ) external nonReentrant returns (uint256 penalty, uint256 bounty) {
        bytes32 kfragHash = keccak256(kfrag);
        _consumeCommitment(leakCommitment(msg.sender, policyId, staker, kfragHash, salt));
        if (!policyManager.verifyKfragCommitment(policyId, staker, kfragHash, proof)) {
            revert KfragNotCommitted(policyId, staker);
        }
        return _punish(policyId, staker);
    }

    /// @dev The commitment must exist and be from an earlier block; it is used up.
    function _consumeCommitment(bytes32 commitment) private {
        uint256 committedAt = commitments[commitment];
        if (committedAt == 0) revert UnknownCommitment(commitment);
        if (committedAt >= block.number) revert RevealTooEarly(commitment);
        delete commitments[commitment];
    }

    /// @dev Ends a live arrangement (bounty paid from the owner's refund; an ended one pays
    /// nothing), then slashes to the reserve. Once per (policy, node).
    function _punish(bytes16 policyId, address staker) private returns (uint256 penalty, uint256 bounty) {
        bytes32 leak = keccak256(abi.encode(policyId, staker));
        if (leakPunished[leak]) revert LeakAlreadyPunished(policyId, staker);
        penalty = penaltyFor(staker);
        if (penalty == 0) revert NothingToSlash(staker);
        leakPunished[leak] = true;
        uint256 ownerRefund;
        if (policyManager.isActiveArrangement(policyId, staker)) {
            (bounty, ownerRefund) =
                policyManager.revokeForLeak(policyId, staker, msg.sender, (penalty * challengerShareBps) / BPS);
        }
        (uint256 slashed, uint256 count) = escrow.slash(staker, penalty, 0);
        emit LeakProven(policyId, staker, msg.sender, penalty, slashed, bounty, ownerRefund, count);
    }

    /// @notice The commitment a challenger publishes first (see the contract notice).
    /// @param challenger Who will reveal and receive the bounty.
    /// @param policyId The policy.
    /// @param staker The node.
    /// @param kfragHash keccak256 of the leaked kfrag bytes.
    /// @param salt A secret random value.
    /// @return keccak256(abi.encode(challenger, policyId, staker, kfragHash, salt)).
    function leakCommitment(address challenger, bytes16 policyId, address staker, bytes32 kfragHash, bytes32 salt)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(challenger, policyId, staker, kfragHash, salt));
    }

    /// @notice The forfeit a proven leak would cost `staker` now.
    /// @param staker The node.
    /// @return Token units.
    function penaltyFor(address staker) public view returns (uint256) {
        (uint256 stake, uint256 priorViolations) = escrow.slashingStateOf(staker);
        return SlashingPolicy.penalty(basePenalty, penaltyHistoryCoefficient, priorViolations, stake, maxPenaltyBps);
    }
}
