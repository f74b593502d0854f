// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IStakingEscrow} from "./interfaces/IStakingEscrow.sol";
import {Secp256k1} from "./adjudicator/Secp256k1.sol";
import {UmbralCFrag} from "./adjudicator/UmbralCFrag.sol";
import {SlashingPolicy} from "./adjudicator/SlashingPolicy.sol";

/// @title Adjudicator: on-chain proof of incorrect re-encryption and slashing.
/// @notice Anyone may submit evidence that a node returned an incorrect cfrag.
///  1. Verdict, exactly the reference's `CapsuleFrag.verify(capsule, verifyingKey, delegatingKey,
///     receivingKey)`: the cfrag is correct iff its kfrag signature (`signature_for_receiver`)
///     verifies for the three keys AND its re-encryption proof holds (see UmbralCFrag). The
///     verdict never depends on the caller's hints: a wrong hint reverts or is retried.
///  2. A correct cfrag is never slashed and needs nothing more (no stamp is looked at).
///  3. An incorrect cfrag slashes only with the node's stamp: ECDSA (secp256k1) over the root
///     of the node's batch by a key the escrow counts as the node's for the stamp's period
///     (`escrow.isStampKey`: the key's validity window contains the period, a key retired in
///     period R counting through R, and the period lies in currentPeriod − G .. currentPeriod;
///     rotating or retiring a key cannot void earlier stamps, unbonding does not either). The
///     node signs once per batch of cfrags, over the sorted-pair keccak256 Merkle root
///     (OpenZeppelin MerkleProof) of the batch's leaves, each leaf the SHA-256 of the 664-byte
///     message
///       "NKMS-CFRAG-STAMP-V2" ‖ staker ‖ stampPeriod (uint32) ‖ policyCreator ‖ policyId
///       ‖ delegatingKey ‖ receivingKey ‖ verifyingKey ‖ capsule.toBytes() ‖ cfrag.toBytes()
///     (src/protocol/stamp.ts, which the node agent signs), and the evidence carries the proof
///     from its leaf to that root (empty for a batch of one: root = leaf). A leaf is SHA-256 of
///     664 bytes, an inner node keccak256 of 64, so no inner node passes as a leaf, and the leaf
///     is computed here from the evidence, never taken from the caller. The keys are stamped, so they are
///     the keys the node verified the kfrag with: a cfrag whose kfrag signature fails under them
///     is the node's fault, and a caller cannot change them to make a correct cfrag look bad.
///  4. At most one slash per (staker, stamp period): the slash record is keyed by
///     `slashKey(staker, stampPeriod)`, not by the stamped message. A leaked stamp key can forge
///     any number of distinct stamps, but only dated in periods its window covers and the
///     slashing window still reaches: one slash per such period (at most G + 1 open at any
///     moment), each capped by maxPenaltyBps, and none for periods after the staker's cut-off or
///     the operator's rotation. A node that really lies is still slashed once for every period
///     it lies in (its client keeps evidence of each lie; the first filed for a period counts).
///     Why per period: only the signer's date tells the node's own stamps from a thief's, so the
///     bound on what a leaked key costs must be per date; a period is the escrow's unit of
///     reward and liability. Keying the replay guard this way makes the rule free: it is the one
///     record a slash writes anyway (a separate per-period marker would add a fresh 22.1k slot).
/// An incorrect cfrag slashes the node by
///   penalty = min(basePenalty + penaltyHistoryCoefficient · priorViolations, stake · maxPenaltyBps / 10⁴)
/// where stake is the escrow's `slashableStake` (which includes an unlocking stake until the end
/// of its grace periods, so withdrawing cannot outrun the evidence) and priorViolations the
/// node's earlier slashes as the escrow counts them (`slashingStateOf`: incorrect cfrags and
/// proven key leaks alike; the count lives in a slot the slash touches anyway), of which
/// investigatorShareBps / 10⁴ is owed to the investigator and the rest returns to the reserve.
/// Each (staker, stamp period) slashes at most once; its record here (keyed by `slashKey`, the
/// "evidenceHash" of `records`, `withdrawReward` and `IncorrectCFragSlashed`) holds the
/// investigator and the reward until the investigator pulls it (`withdrawReward`, paid by the
/// escrow), so a slash writes no per-investigator balance. Trusts the escrow for stakes, stamp
/// key windows and periods; trusts callers for nothing (hints are checked, evidence is judged).
contract Adjudicator is ReentrancyGuardTransient {
    /// @notice Evidence against one node, in the encodings the client saves (src/client/evidence.ts).
    struct CFragEvidence {
        /// @dev Capsule.toBytes(): 105 bytes.
        bytes capsule;
        /// @dev CapsuleFrag.toBytes(): 381 bytes.
        bytes cfrag;
        /// @dev Compressed 33-byte public keys: pk_A, pk_B and the kfrags' signer.
        bytes delegatingKey;
        bytes receivingKey;
        bytes verifyingKey;
        /// @dev 64-byte r‖s of the node's stamp over its batch root (see the contract notice).
        bytes stampSignature;
        /// @dev Siblings from this cfrag's leaf up to the signed batch root (at most
        /// MAX_STAMP_PROOF_LENGTH); empty when the batch was this cfrag alone.
        bytes32[] stampProof;
        /// @dev The accused node (its staker address).
        address staker;
        /// @dev The policy the cfrag was produced for (stamped; not otherwise checked).
        bytes16 policyId;
        /// @dev The policy's creator: policy ids are namespaced by creator, so (policyCreator,
        /// policyId) names the policy (stamped; not otherwise checked).
        address policyCreator;
        /// @dev The escrow period the node dated its stamp with (stamped; see `isStampKey`).
        uint32 stampPeriod;
    }

    /// @notice Values computed off-chain and checked on-chain (src/client/evidence.ts computes them).
    struct EvaluationHints {
        UmbralCFrag.Hints products;
        /// @dev y coordinate of the kfrag signer's key.
        uint256 verifyingKeyY;
        /// @dev Unused (the escrow gives the stamp keys as addresses); kept so the evidence
        /// encoding does not change.
        uint256 stampKeyY;
        /// @dev Recovery parities (0 or 1) of the kfrag signature (a wrong one costs a retry,
        /// never the verdict) and of the stamp signature.
        uint8 kfragSignatureParity;
        uint8 stampSignatureParity;
    }

    uint256 private constant BPS = 10_000;
    /// @notice Longest stamp proof accepted: batches of up to 2³² cfrags.
    uint256 public constant MAX_STAMP_PROOF_LENGTH = 32;
    /// @dev The stamp message's domain tag (19 bytes, left-aligned).
    bytes32 private constant STAMP_TAG = "NKMS-CFRAG-STAMP-V2";
    /// @dev Length of the stamp message (src/protocol/stamp.ts CFRAG_STAMP_MESSAGE_LENGTH).
    uint256 private constant STAMP_MESSAGE_LENGTH = 664;

    /// @notice The staking escrow whose `slash` this contract may call.
    IStakingEscrow public immutable escrow;
    /// @notice Fixed part of every penalty, in token units.
    uint256 public immutable basePenalty;
    /// @notice Added to the penalty once per earlier violation of the same node.
    uint256 public immutable penaltyHistoryCoefficient;
    /// @notice Cap on a single penalty as a fraction of the node's slashable stake (escrow.slashableStake), basis points.
    uint256 public immutable maxPenaltyBps;
    /// @notice The investigator's share of the penalty, basis points.
    uint256 public immutable investigatorShareBps;

    /// @notice What one piece of evidence did (one slot). A non-zero investigator means the
    /// evidence slashed and can never slash again; `reward` is what it still owes them.
    struct Record {
        address investigator;
        uint96 reward;
    }

    /// @notice The record of each evidence hash (SHA-256 of the stamp message) that slashed a node.
    mapping(bytes32 evidenceHash => Record) public records;

    /// @notice A cfrag was judged correct (nothing happens). `staker` is the caller's claim,
    /// unchecked since nothing happens to the node.
    event CFragJudgedCorrect(bytes32 indexed evidenceHash, address indexed staker, address indexed investigator);
    /// @notice A cfrag was judged incorrect and its node slashed (the verdict event for incorrect cfrags).
    /// @notice `investigator` withdrew the reward its evidence `evidenceHash` earned.
    event RewardWithdrawn(bytes32 indexed evidenceHash, address indexed investigator, uint256 amount);
    event IncorrectCFragSlashed(
        bytes32 indexed evidenceHash,
        address indexed staker,
        address indexed investigator,
        uint256 penalty,
        uint256 slashed,
        uint256 reward,
        uint256 violationCount
    );

    error ZeroAddress();
    error InvalidParameters();
    error MalformedKey();
    error MalformedSignature();
    error InvalidStampSignature();
    error StampProofTooLong(uint256 length, uint256 max);
    error EvidenceAlreadyUsed(bytes32 evidenceHash);
    error NothingToSlash(address staker);
    error UnknownEvidence(bytes32 evidenceHash);
    error NotInvestigator(bytes32 evidenceHash, address investigator);
    error RewardAlreadyWithdrawn(bytes32 evidenceHash);
    error NothingToWithdraw();

    /// @param escrow_ Staking escrow; this contract must hold its slasher role.
    /// @param basePenalty_ Fixed part of a penalty (token units).
    /// @param penaltyHistoryCoefficient_ Extra penalty per earlier violation (token units).
    /// @param maxPenaltyBps_ Penalty cap as a fraction of the slashable stake, 1..10000.
    /// @param investigatorShareBps_ Investigator's share of the penalty, 0..10000.
    constructor(
        IStakingEscrow escrow_,
        uint256 basePenalty_,
        uint256 penaltyHistoryCoefficient_,
        uint256 maxPenaltyBps_,
        uint256 investigatorShareBps_
    ) {
        if (address(escrow_) == address(0)) revert ZeroAddress();
        if (maxPenaltyBps_ == 0 || maxPenaltyBps_ > BPS || investigatorShareBps_ > BPS) revert InvalidParameters();
        escrow = escrow_;
        basePenalty = basePenalty_;
        penaltyHistoryCoefficient = penaltyHistoryCoefficient_;
        maxPenaltyBps = maxPenaltyBps_;
        investigatorShareBps = investigatorShareBps_;
    }

    /// @notice Judge a cfrag and slash its node if it is incorrect.
    /// @dev Reverts when the evidence is malformed, a hint is wrong, an incorrect cfrag's stamp
    /// does not verify over the root its proof leads to (or the proof is longer than
    /// MAX_STAMP_PROOF_LENGTH), the evidence already slashed, or the node has no stake; none of these
    /// loses anything.
    /// @param evidence The capsule, cfrag, keys, stamp signature and proof, accused node and policy id.
    /// @param hints Caller-computed curve values (see src/client/evidence.ts `evaluationHints`).
    /// @return correct The verdict; false means the node was slashed in this transaction.
    function evaluateCFrag(CFragEvidence calldata evidence, EvaluationHints calldata hints)
        external
        nonReentrant
        returns (bool correct)
    {
        _checkLengths(evidence);
        // The kfrag signature first: when it fails, the proof need not be looked at.
        correct = _kfragSignatureValid(evidence, hints)
            && UmbralCFrag.isCorrect(evidence.capsule, evidence.cfrag, hints.products);
        bytes32 evidenceHash = _stampDigest(evidence);
        if (correct) {
            // Nothing happens to anyone, so the node's stamp is not needed (nor looked up).
            emit CFragJudgedCorrect(evidenceHash, evidence.staker, msg.sender);
            return true;
        }
        _checkStamp(evidence, hints, evidenceHash);
        _slash(evidence.staker, slashKey(evidence.staker, evidence.stampPeriod));
    }

    /// @notice The record key of a slash for `staker`'s stamps dated `stampPeriod`: at most one
    /// slash per key (see the contract notice, 4).
    /// @param staker The node.
    /// @param stampPeriod The period its stamp is dated with.
    /// @return keccak256(abi.encode(staker, stampPeriod)).
    function slashKey(address staker, uint32 stampPeriod) public pure returns (bytes32) {
        return keccak256(abi.encode(staker, stampPeriod));
    }

    /// @notice SHA-256 of the stamp message for `evidence`: the leaf of the node's stamp batch
    /// (the replay guard is `slashKey`, one slash per staker and stamp period).
    /// @param evidence Evidence with a framed capsule and cfrag and 33-byte keys.
    /// @return The stamp digest.
    function stampDigest(CFragEvidence calldata evidence) external view returns (bytes32) {
        _checkLengths(evidence);
        return _stampDigest(evidence);
    }

    /// @notice The batch root the evidence's stamp proof leads its leaf (`stampDigest`) to: what
    /// the node's stamp signature must be over. Equals `stampDigest` for an empty proof.
    /// @param evidence Evidence with a framed capsule and cfrag, 33-byte keys and a bounded proof.
    /// @return The root the stamp signs.
    function stampRoot(CFragEvidence calldata evidence) external view returns (bytes32) {
        _checkLengths(evidence);
        return _stampRoot(evidence, _stampDigest(evidence));
    }

    /// @notice Withdraw the rewards that the caller's evidence earned (pull): each record must
    /// be the caller's and not withdrawn yet; the escrow pays the sum to the caller. The records
    /// keep their investigator, so the evidence still cannot slash again.
    /// @param evidenceHashes Evidence hashes of the caller's slashes (see `IncorrectCFragSlashed`).
    /// @return amount The tokens paid.
    function withdrawReward(bytes32[] calldata evidenceHashes) external nonReentrant returns (uint256 amount) {
        if (evidenceHashes.length == 0) revert NothingToWithdraw();
        for (uint256 i; i < evidenceHashes.length; ++i) {
            bytes32 evidenceHash = evidenceHashes[i];
            Record storage record = records[evidenceHash];
            address investigator = record.investigator;
            if (investigator == address(0)) revert UnknownEvidence(evidenceHash);
            if (investigator != msg.sender) revert NotInvestigator(evidenceHash, investigator);
            uint256 reward = record.reward;
            if (reward == 0) revert RewardAlreadyWithdrawn(evidenceHash);
            record.reward = 0;
            amount += reward;
            emit RewardWithdrawn(evidenceHash, msg.sender, reward);
        }
        escrow.payInvestigator(msg.sender, amount);
    }

    /// @notice Whether the record `evidenceHash` already slashed a node (it cannot slash again).
    /// @param evidenceHash The record key, `slashKey(staker, stampPeriod)`.
    /// @return True once used.
    function evidenceUsed(bytes32 evidenceHash) external view returns (bool) {
        return records[evidenceHash].investigator != address(0);
    }

    /// @notice How many times `staker` has been slashed (the escrow's count: incorrect cfrags and leaks).
    /// @param staker The node.
    /// @return The count the next penalty's history term uses.
    function violations(address staker) external view returns (uint256) {
        (, uint256 count) = escrow.slashingStateOf(staker);
        return count;
    }

    /// @notice The penalty an incorrect cfrag would cost `staker` now.
    /// @param staker The node.
    /// @return penalty Token units; the investigator would get `penalty · investigatorShareBps / 10⁴`.
    function penaltyFor(address staker) public view returns (uint256 penalty) {
        (uint256 stake, uint256 priorViolations) = escrow.slashingStateOf(staker);
        return SlashingPolicy.penalty(basePenalty, penaltyHistoryCoefficient, priorViolations, stake, maxPenaltyBps);
    }

    function _slash(address staker, bytes32 evidenceHash) private {
        Record storage record = records[evidenceHash];
        if (record.investigator != address(0)) revert EvidenceAlreadyUsed(evidenceHash);
        uint256 penalty = penaltyFor(staker);
        if (penalty == 0) revert NothingToSlash(staker);
        // penalty ≤ the slashable stake ≤ the stake, so the escrow slashes all of it and withholds all of reward.
        uint256 reward = (penalty * investigatorShareBps) / BPS;
        record.investigator = msg.sender;
        record.reward = SafeCast.toUint96(reward);
        (uint256 slashed, uint256 count) = escrow.slash(staker, penalty, reward);
        emit IncorrectCFragSlashed(evidenceHash, staker, msg.sender, penalty, slashed, reward, count);
    }

    /// @dev Framing of capsule and cfrag, and the key lengths every later step relies on.
    function _checkLengths(CFragEvidence calldata evidence) private pure {
        UmbralCFrag.checkFraming(evidence.capsule, evidence.cfrag);
        if (
            evidence.delegatingKey.length != 33 || evidence.receivingKey.length != 33
                || evidence.verifyingKey.length != 33
        ) revert MalformedKey();
    }

    /// @dev Whether signature_for_receiver verifies for the supplied keys. Both recovery
    /// parities are tried (the hinted one first), so a wrong hint cannot turn a valid signature
    /// into an "incorrect" verdict.
    function _kfragSignatureValid(CFragEvidence calldata evidence, EvaluationHints calldata hints)
        private
        view
        returns (bool)
    {
        address signer = _keyAddress(evidence.verifyingKey, hints.verifyingKeyY);
        bytes32 digest = UmbralCFrag.kfragSignatureDigest(evidence.cfrag, evidence.delegatingKey, evidence.receivingKey);
        (bytes32 r, bytes32 s) = UmbralCFrag.kfragSignature(evidence.cfrag);
        uint8 parity = hints.kfragSignatureParity;
        if (_recover(digest, parity, r, s) == signer) return true;
        return _recover(digest, 1 - parity, r, s) == signer;
    }

    /// @dev SHA-256 of the 664-byte stamp message (lengths checked by `_checkLengths`).
    function _stampDigest(CFragEvidence calldata evidence) private view returns (bytes32 digest) {
        bytes calldata keyA = evidence.delegatingKey;
        bytes calldata keyB = evidence.receivingKey;
        bytes calldata keyV = evidence.verifyingKey;
        bytes calldata capsule = evidence.capsule;
        bytes calldata cfrag = evidence.cfrag;
        address staker = evidence.staker;
        uint32 stampPeriod = evidence.stampPeriod;
        address creator = evidence.policyCreator;
        bytes16 policyId = evidence.policyId;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            // Each mstore spills past its field; the next write overwrites the spill.
            mstore(ptr, STAMP_TAG)
            mstore(add(ptr, 19), shl(96, staker))
            mstore(add(ptr, 39), shl(224, stampPeriod))
            mstore(add(ptr, 43), shl(96, creator))
            mstore(add(ptr, 63), policyId)
            calldatacopy(add(ptr, 79), keyA.offset, 33)
            calldatacopy(add(ptr, 112), keyB.offset, 33)
            calldatacopy(add(ptr, 145), keyV.offset, 33)
            calldatacopy(add(ptr, 178), capsule.offset, 105)
            calldatacopy(add(ptr, 283), cfrag.offset, 381)
            if iszero(staticcall(gas(), 0x02, ptr, STAMP_MESSAGE_LENGTH, 0x00, 0x20)) { revert(0, 0) }
            digest := mload(0x00)
        }
    }

    /// @dev The root `evidence.stampProof` leads the leaf `digest` to (sorted pairs, no flags).
    function _stampRoot(CFragEvidence calldata evidence, bytes32 digest) private pure returns (bytes32) {
        uint256 length = evidence.stampProof.length;
        if (length > MAX_STAMP_PROOF_LENGTH) revert StampProofTooLong(length, MAX_STAMP_PROOF_LENGTH);
        return MerkleProof.processProofCalldata(evidence.stampProof, digest);
    }

    /// @dev A key the escrow counts as the node's for the stamp's period, now, must have signed
    /// the batch root that the evidence's proof leads the stamp digest (the leaf) to.
    function _checkStamp(CFragEvidence calldata evidence, EvaluationHints calldata hints, bytes32 digest)
        private
        view
    {
        if (evidence.stampSignature.length != 64) revert MalformedSignature();
        bytes32 root = _stampRoot(evidence, digest);
        bytes32 r = bytes32(evidence.stampSignature[0:32]);
        bytes32 s = bytes32(evidence.stampSignature[32:64]);
        address signer = _recover(root, hints.stampSignatureParity, r, s);
        // A failed recovery is the zero address, which the escrow never counts as a key.
        if (!escrow.isStampKey(evidence.staker, signer, evidence.stampPeriod)) revert InvalidStampSignature();
    }

    /// @dev address(0) for an unrecoverable signature, which matches no key address.
    function _recover(bytes32 digest, uint8 parity, bytes32 r, bytes32 s) private pure returns (address) {
        if (parity > 1) revert MalformedSignature();
        return ecrecover(digest, 27 + parity, r, s);
    }

    /// @dev Address of a compressed key given with its y coordinate (checked against x and parity).
    function _keyAddress(bytes calldata key, uint256 y) private pure returns (address) {
        if (key.length != 33) revert MalformedKey();
        return _pointAddress(uint8(key[0]), uint256(bytes32(key[1:33])), y);
    }

    function _pointAddress(uint8 prefix, uint256 x, uint256 y) private pure returns (address) {
        if ((prefix != 2 && prefix != 3) || (y & 1) != prefix - 2 || !Secp256k1.isOnCurve(x, y)) revert MalformedKey();
        return Secp256k1.toAddress(x, y);
    }
}
