// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ILeakEscrow} from "./ILeakEscrow.sol";
import {ILeakPolicyManager} from "./ILeakPolicyManager.sol";

/// @title LeakAdjudicator: key-leak challenges that cannot frame a node (issue #14).
/// @notice What a reveal proves, and what it does not. A reveal shows three things: the kfrag
/// bytes the policy's on-chain kfrag commitment binds to node X; X's receipt for exactly those
/// bytes (a signature by X's stamp key over (chain, PolicyManager, X, period, policy creator,
/// policy id, keccak256(kfrag)), src/protocol/kfrag-receipt.ts), dated in a period of the policy
/// in which the signer was X's stamp key; and that someone other than X holds the kfrag now. It
/// does NOT prove that X leaked it: the policy's owner made every kfrag and always knows it, and
/// anyone she gave it to can reveal it. A reveal therefore never costs X more than the owner's
/// side paid net for that one arrangement, so framing costs the framer at least what it does to
/// X (griefing factor ≤ 1), while a real leak still costs X its collateral on the arrangement:
///
///   forfeit = min(C, earned, slashableStake), C = F · collateralBps / 10⁴ (the whitepaper's C)
///
/// where F is what was paid for X's arrangement (fee rate · its periods, extensions included)
/// and earned = F − (all refunds, held refunds and bounties returned for it, this reveal's
/// included): what X keeps of F (PolicyManager.leakExposure; a lower bound for a revoked
/// arrangement). The forfeit returns to the reserve through `StakingEscrow.forfeitForLeak`: it
/// counts no violation (the Adjudicator's history term is for proven lies, and an owner-paid
/// reveal must not raise it) and uses none of the escrow's slash rate. Never the whole stake:
/// at most what X earned on that arrangement. Without a receipt there is nothing to reveal: a
/// node is only exposed on a kfrag it acknowledged, so random bytes (never sent to X) or a
/// kfrag X refused frame nobody.
///
/// Payout rule (the owner never gains more by challenging than by revoking at the same moment):
/// the challenger's bounty is min(forfeit · challengerShareBps / 10⁴, R), where R is the refund
/// revoking X's arrangement now would return, paid OUT OF R; the owner receives R − bounty.
///
/// Commit–reveal (a copier cannot take the bounty; a revocation cannot cancel it):
///  1. `commitLeak(creator, policyId, node, sealedPart)` names the arrangement in clear and hides
///     sealedPart = keccak256(abi.encode(challenger, keccak256(kfrag), salt)). On a live arrangement
///     it opens a challenge in the PolicyManager: until the reveal window ends, revoking that
///     arrangement holds back min(bounty cap, refund) of its refund.
///  2. In a LATER block, at most `revealWindowBlocks` after the commitment, `challenger` reveals.
///     The bounty goes to `msg.sender`, who must be the one sealed in the commitment: a copier of
///     the reveal committed nothing for its own address before. A reveal after a revocation pays
///     its bounty from the held-back refund when the commitment predates (or shares the block
///     of) the revocation; the owner gets the held rest at once, or all of it once the window
///     ends (`PolicyManager.releaseLeakHold`). A commitment never revealed only delays that part
///     of her refund by one window and takes nothing.
/// Each (policy, node) leak is punished once; an ended arrangement (revoked or expired) stays
/// punishable, since a leaked kfrag keeps working whatever the chain says.
/// What it trusts: the PolicyManager for the commitment, the arrangement's accounting and the
/// refund split; the escrow for stake windows, stamp-key windows and the pause. It holds the
/// PolicyManager's LEAK_ADJUDICATOR_ROLE and the escrow's LEAK_FORFEITER_ROLE, nothing else.
contract LeakAdjudicator is ReentrancyGuardTransient {
    uint256 private constant BPS = 10_000;

    /// @notice Domain tag of a kfrag receipt (src/protocol/kfrag-receipt.ts).
    bytes21 public constant RECEIPT_TAG = "NKMS-KFRAG-RECEIPT-V1";

    /// @notice What a reveal presents (one struct keeps the call's stack small).
    struct LeakProof {
        address creator; // the policy's creator (its on-chain owner): (creator, policyId) names it
        bytes16 policyId;
        address staker; // the node
        bytes kfrag; // the leaked KeyFrag bytes (keccak256 of them is the commitment leaf's hash)
        bytes32[] proof; // Merkle proof of the node's leaf in the policy's kfrag commitment
        uint32 receiptPeriod; // the escrow period the node's receipt is dated with
        bytes receiptSignature; // 64-byte r ‖ s by the node's stamp key over SHA-256(receipt)
        bytes32 salt; // the commitment's secret
    }

    /// @notice The staking escrow (stamp keys, slashable stake, leak forfeits).
    ILeakEscrow public immutable escrow;
    /// @notice The PolicyManager holding kfrag commitments and the arrangements' accounting.
    ILeakPolicyManager public immutable policyManager;
    /// @notice C = F · collateralBps / 10⁴: the most one arrangement's leak can cost, basis points of F.
    uint256 public immutable collateralBps;
    /// @notice Upper bound of the challenger's bounty as a fraction of the forfeit, basis points.
    uint256 public immutable challengerShareBps;
    /// @notice Blocks after its commitment in which a commitment can be revealed (and a
    /// revocation's held-back refund waits for it).
    uint256 public immutable revealWindowBlocks;

    /// @notice Block of each pending commitment, by `commitmentKey` (0: none).
    mapping(bytes32 key => uint256 blockNumber) public commitments;
    /// @notice Leaks already punished, by `keccak256(abi.encode(policyId, staker))`.
    mapping(bytes32 leak => bool) public leakPunished;

    /// @notice A challenger committed to a leak of `staker`'s kfrag in the policy (hidden until
    /// revealed); `held` when the arrangement was live and a revocation now holds back the bounty.
    event LeakCommitted(
        bytes32 indexed key, address indexed creator, bytes16 indexed policyId, address staker, address sender, bool held
    );
    /// @notice A leak was proven: the node forfeited `forfeited` of its stake to the reserve.
    event LeakProven(
        bytes16 indexed policyId,
        address indexed staker,
        address indexed challenger,
        address creator,
        uint256 forfeit,
        uint256 forfeited,
        uint256 bounty,
        uint256 ownerRefund
    );

    error ZeroAddress();
    error InvalidParameters();
    error CommitmentExists(bytes32 key);
    error UnknownCommitment(bytes32 key);
    error RevealTooEarly(bytes32 key);
    error RevealWindowOver(bytes32 key, uint256 lastBlock);
    /// @notice `creator` is not the policy's owner (or the policy does not exist).
    error WrongPolicyCreator(bytes16 policyId, address creator);
    /// @notice The node was never hired by the policy.
    error NotArrangement(bytes16 policyId, address staker);
    error KfragNotCommitted(bytes16 policyId, address staker);
    /// @notice The receipt is malformed, dated before the policy or in the future, or not
    /// signed by a key that was the node's stamp key in its period.
    error InvalidReceipt(bytes16 policyId, address staker);
    error NothingToForfeit(address staker);
    error LeakAlreadyPunished(bytes16 policyId, address staker);

    /// @param escrow_ Staking escrow; this contract must hold its LEAK_FORFEITER_ROLE.
    /// @param policyManager_ PolicyManager; this contract must hold its LEAK_ADJUDICATOR_ROLE.
    /// @param collateralBps_ C as a fraction of what was paid for the arrangement, 1..10000.
    /// @param challengerShareBps_ Bounty cap as a fraction of the forfeit, 0..10000.
    /// @param revealWindowBlocks_ Blocks a commitment stays revealable, 1..2²⁴ (bounded: a
    /// never-revealed commitment delays a revoked refund by at most this long).
    constructor(
        ILeakEscrow escrow_,
        ILeakPolicyManager policyManager_,
        uint256 collateralBps_,
        uint256 challengerShareBps_,
        uint256 revealWindowBlocks_
    ) {
        if (address(escrow_) == address(0) || address(policyManager_) == address(0)) revert ZeroAddress();
        if (collateralBps_ == 0 || collateralBps_ > BPS || challengerShareBps_ > BPS) revert InvalidParameters();
        if (revealWindowBlocks_ == 0 || revealWindowBlocks_ > 1 << 24) revert InvalidParameters();
        escrow = escrow_;
        policyManager = policyManager_;
        collateralBps = collateralBps_;
        challengerShareBps = challengerShareBps_;
        revealWindowBlocks = revealWindowBlocks_;
    }

    /// @notice Step 1: commit to a leak of `staker`'s kfrag in the policy (creator, policyId),
    /// hiding who reveals and which bytes. Anyone may commit; on a live arrangement this opens a
    /// challenge that makes a revocation hold back the bounty cap (see the contract notice).
    /// @param creator The policy's creator (its on-chain owner).
    /// @param policyId The policy.
    /// @param staker The node.
    /// @param sealedPart `sealedLeak(challenger, keccak256(kfrag), salt)`.
    /// @return key The commitment's key (`commitmentKey`).
    function commitLeak(address creator, bytes16 policyId, address staker, bytes32 sealedPart)
        external
        nonReentrant
        returns (bytes32 key)
    {
        (address owner,, bool hired,, uint256 paid,) = policyManager.leakExposure(policyId, staker);
        if (owner == address(0) || owner != creator) revert WrongPolicyCreator(policyId, creator);
        if (!hired) revert NotArrangement(policyId, staker);
        key = commitmentKey(creator, policyId, staker, sealedPart);
        if (commitments[key] != 0) revert CommitmentExists(key);
        commitments[key] = block.number;
        // The most this arrangement's bounty can be: share of C (the forfeit never exceeds C).
        uint256 cap = (((paid * collateralBps) / BPS) * challengerShareBps) / BPS;
        // Saturate, never wrap: a larger cap only holds back the whole refund, which is less.
        if (cap > type(uint96).max) cap = type(uint96).max;
        bool held = policyManager.openLeakChallenge(
            policyId, staker, uint96(cap), uint64(block.number + revealWindowBlocks)
        );
        emit LeakCommitted(key, creator, policyId, staker, msg.sender, held);
    }

    /// @notice Step 2 (a later block than the commitment, within `revealWindowBlocks`): reveal
    /// the kfrag and the node's receipt for it; the caller must be the committed challenger.
    /// The node forfeits `min(C, earned, slashableStake)` to the reserve; a live arrangement
    /// ends, and the bounty is paid out of the refund revoking it now would give the owner (or
    /// out of what a revocation held back for this commitment). Proves that the revealer holds
    /// a kfrag the node acknowledged, NOT that the node leaked it (see the contract notice).
    /// @param p The leak proof (see `LeakProof`).
    /// @return forfeited The stake taken from the node.
    /// @return bounty The amount the challenger received.
    function revealLeak(LeakProof calldata p) external nonReentrant returns (uint256 forfeited, uint256 bounty) {
        bytes32 kfragHash = keccak256(p.kfrag);
        uint256 committedAt =
            _consumeCommitment(commitmentKey(p.creator, p.policyId, p.staker, sealedLeak(msg.sender, kfragHash, p.salt)));
        uint256 forfeit = _verify(p, kfragHash);
        uint256 ownerRefund;
        (bounty, ownerRefund) = policyManager.revokeForLeak(
            p.policyId, p.staker, msg.sender, (forfeit * challengerShareBps) / BPS, committedAt
        );
        forfeited = escrow.forfeitForLeak(p.staker, forfeit);
        emit LeakProven(p.policyId, p.staker, msg.sender, p.creator, forfeit, forfeited, bounty, ownerRefund);
    }

    /// @dev Every check of a reveal but the commitment's; marks the leak punished and returns the
    /// forfeit min(C, earned, slashableStake).
    function _verify(LeakProof calldata p, bytes32 kfragHash) private returns (uint256 forfeit) {
        (address owner, uint32 startPeriod, bool hired,, uint256 paid, uint256 earned) =
            policyManager.leakExposure(p.policyId, p.staker);
        if (owner == address(0) || owner != p.creator) revert WrongPolicyCreator(p.policyId, p.creator);
        if (!hired || !policyManager.verifyKfragCommitment(p.policyId, p.staker, kfragHash, p.proof)) {
            revert KfragNotCommitted(p.policyId, p.staker);
        }
        _checkReceipt(p, kfragHash, startPeriod);
        bytes32 leak = keccak256(abi.encode(p.policyId, p.staker));
        if (leakPunished[leak]) revert LeakAlreadyPunished(p.policyId, p.staker);
        forfeit = _min(_min((paid * collateralBps) / BPS, earned), escrow.slashableStake(p.staker));
        if (forfeit == 0) revert NothingToForfeit(p.staker);
        leakPunished[leak] = true;
    }

    /// @notice The forfeit a leak of `staker`'s kfrag in the policy (creator, policyId) proven now
    /// would cost, before the commitment and receipt checks: min(C, earned, slashableStake) (0 if
    /// the node was not hired or `creator` is not the policy's owner).
    function forfeitFor(address creator, bytes16 policyId, address staker) external view returns (uint256) {
        (address owner,, bool hired,, uint256 paid, uint256 earned) = policyManager.leakExposure(policyId, staker);
        if (!hired || owner != creator) return 0;
        return _min(_min((paid * collateralBps) / BPS, earned), escrow.slashableStake(staker));
    }

    /// @notice The hidden part of a commitment.
    /// @return keccak256(abi.encode(challenger, kfragHash, salt)).
    function sealedLeak(address challenger, bytes32 kfragHash, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(challenger, kfragHash, salt));
    }

    /// @notice Where a commitment is stored: the arrangement in clear, the rest sealed.
    /// @return keccak256(abi.encode(creator, policyId, staker, sealedPart)).
    function commitmentKey(address creator, bytes16 policyId, address staker, bytes32 sealedPart)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(creator, policyId, staker, sealedPart));
    }

    /// @notice The SHA-256 digest a node's stamp key signs as its receipt for a kfrag: the
    /// 165-byte message of src/protocol/kfrag-receipt.ts, rebuilt for this chain and PolicyManager.
    function receiptDigest(address staker, uint32 period, address creator, bytes16 policyId, bytes32 kfragHash)
        public
        view
        returns (bytes32)
    {
        return sha256(receiptMessage(staker, period, creator, policyId, kfragHash));
    }

    /// @notice The 165-byte receipt message (see `receiptDigest`).
    function receiptMessage(address staker, uint32 period, address creator, bytes16 policyId, bytes32 kfragHash)
        public
        view
        returns (bytes memory)
    {
        return abi.encodePacked(
            RECEIPT_TAG, block.chainid, address(policyManager), staker, period, creator, policyId, kfragHash
        );
    }

    /// @dev The commitment must exist, be from an earlier block and within the reveal window; it
    /// is used up. Returns its block.
    function _consumeCommitment(bytes32 key) private returns (uint256 committedAt) {
        committedAt = commitments[key];
        if (committedAt == 0) revert UnknownCommitment(key);
        if (committedAt >= block.number) revert RevealTooEarly(key);
        if (block.number > committedAt + revealWindowBlocks) revert RevealWindowOver(key, committedAt + revealWindowBlocks);
        delete commitments[key];
    }

    /// @dev The node acknowledged this kfrag: its receipt is dated no earlier than the policy and
    /// signed by a key that was its stamp key then (either recovery parity; OpenZeppelin's ECDSA
    /// refuses high-S and malformed signatures).
    function _checkReceipt(LeakProof calldata p, bytes32 kfragHash, uint32 startPeriod) private view {
        if (p.receiptSignature.length != 64 || p.receiptPeriod < startPeriod) {
            revert InvalidReceipt(p.policyId, p.staker);
        }
        bytes32 digest = receiptDigest(p.staker, p.receiptPeriod, p.creator, p.policyId, kfragHash);
        bytes32 r = bytes32(p.receiptSignature[0:32]);
        bytes32 s = bytes32(p.receiptSignature[32:64]);
        for (uint8 v = 27; v <= 28; ++v) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, v, r, s);
            if (err == ECDSA.RecoverError.NoError && escrow.wasStampKey(p.staker, signer, p.receiptPeriod)) return;
        }
        revert InvalidReceipt(p.policyId, p.staker);
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
