// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
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
///  4. Each stamped message slashes at most once: the record (replay guard and reward) is keyed by
///     the stamp digest, so a node is slashed for every lie whose evidence is filed in its window.
///     A leaked stamp key could forge distinct stamps without limit; the escrow bounds that by
///     slashing a staker at most MAX_SLASHES_PER_PERIOD times per period (`SlashRateLimited`
///     reverts with nothing spent, and the evidence slashes in a later period of its window), and
///     the staker's cut-off or a rotation ends the key's window (stamps dated after the
///     retirement period never count). So junk evidence filed by the liar's friend costs the
///     liar what real evidence would: the same penalties at the same rate.
///
/// ONE acceptance rule (issue #13; src/protocol/acceptance.ts is its off-chain side, used by the
/// node agent at kfrag intake and by the client when it judges cfrags and keeps evidence). The
/// kfrag signature a cfrag carries is valid iff r, s ∈ [1, n−1], s ≤ n/2 (low-S), and ecrecover
/// recovers the verifying key, i.e. the nonce point recomputed from (z, r, s, key) has x == r
/// EXACTLY (not merely x ≡ r mod n, which libsecp256k1 and rust-umbral accept); and the points
/// it covers (verifying key, pk_A, pk_B, precursor) are canonical compressed points (tag 0x02 or
/// 0x03, x < p, on the curve). A cfrag that does not even have the MessagePack framing is
/// incorrect too (only its 381-byte length is required, by the stamp). We chose to REFUSE AT
/// INTAKE what ecrecover cannot verify, instead of verifying R.x ≥ n or high-S on-chain (the
/// 180k gas cap): the agent never accepts such a kfrag, so it never serves (or stamps) its
/// cfrags, and the client treats such a cfrag as incorrect and keeps the evidence. Under this
/// rule the verdict here equals the agent's and the client's on every input
/// (test/acceptance/corpus.test.ts). A wrong hint for a valid point reverts, never a verdict.
///
/// An incorrect cfrag slashes the node by penalty + reward, where
///   penalty = min(basePenalty + penaltyHistoryCoefficient · priorViolations, stake · maxPenaltyBps / 10⁴)
///   reward  = min(penalty · investigatorShareBps / 10⁴, stake − penalty), rounded down to REWARD_UNIT
/// stake is the escrow's `slashableStake` (which includes an unlocking stake until the end
/// of its grace periods, so withdrawing cannot outrun the evidence) and priorViolations the
/// node's earlier slashes as the escrow counts them (`slashingStateOf`: incorrect cfrags and
/// proven key leaks alike; the count lives in a slot the slash touches anyway). The penalty
/// returns to the reserve and the reward, charged ON TOP of it, is owed to the investigator: a
/// staker reporting itself (or through a friend) still loses the full penalty.
///
/// Front-running (commit–reveal): evidence of an incorrect cfrag slashes only when revealed by
/// an investigator who committed to it (`commitEvidence(evidenceCommitment(evidenceHash,
/// investigator, salt))`) in an EARLIER block. The reward belongs to the investigator of the
/// earliest revealed commitment: a later reveal with an earlier commitment
/// takes the record over (no second slash) until CONTEST_BLOCKS after the record's commitment;
/// only then can the reward be withdrawn. A copier who commits after seeing a reveal in the
/// mempool therefore gets nothing, provided the original reveal is mined within that window.
/// Judging a correct cfrag needs no commitment (nothing happens).
/// The commitment binds the stamp digest (the evidence), and so does the record it earns: only an
/// earlier commitment to the SAME evidence can take a reward over.
/// Each stamped message (its SHA-256, the leaf: the evidence hash, whatever its proof) slashes at
/// most once; its record here holds the investigator and the reward until the investigator pulls
/// it (`withdrawReward`, paid by the escrow), so a slash writes no per-investigator balance.
///
/// Trusts the escrow for stakes, stamp key windows, periods and violation counts; trusts
/// callers for nothing (hints are checked, evidence is judged).
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
        /// @dev y coordinates of pk_A, pk_B and the precursor (ignored for an invalid point,
        /// where any value will do).
        uint256 delegatingKeyY;
        uint256 receivingKeyY;
        uint256 precursorY;
    }

    uint256 private constant BPS = 10_000;
    /// @notice Longest stamp proof accepted: batches of up to 2³² cfrags.
    uint256 public constant MAX_STAMP_PROOF_LENGTH = 32;
    /// @dev The stamp message's domain tag (19 bytes, left-aligned).
    bytes32 private constant STAMP_TAG = "NKMS-CFRAG-STAMP-V2";
    /// @dev Length of the stamp message (src/protocol/stamp.ts CFRAG_STAMP_MESSAGE_LENGTH).
    uint256 private constant STAMP_MESSAGE_LENGTH = 664;
    /// @dev n/2: the largest low-S value.
    uint256 private constant HALF_N = Secp256k1.N >> 1;
    /// @notice Rewards are whole multiples of this (10⁻⁶ NKMS), so a record fits one slot; the
    /// remainder stays with the node.
    uint256 public constant REWARD_UNIT = 1e12;
    /// @notice Blocks after a record's commitment during which an earlier commitment to the same
    /// evidence may take the reward over; the reward can be withdrawn only after them.
    uint256 public constant CONTEST_BLOCKS = 7_200;

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

    /// @dev What one piece of evidence did (one slot). A non-zero investigator means the
    /// evidence slashed and can never slash again; `rewardUnits` · REWARD_UNIT is what it still
    /// owes them; `commitBlock` is the block of their commitment (the earliest revealed one).
    struct Record {
        address investigator;
        uint40 commitBlock;
        uint56 rewardUnits;
    }

    /// @dev The record of each evidence hash (SHA-256 of the stamp message) that slashed a node.
    mapping(bytes32 evidenceHash => Record) private _records;
    /// @notice Block in which each unrevealed commitment was made (0: none).
    mapping(bytes32 commitment => uint256 blockNumber) public commitments;

    /// @notice An investigator committed to evidence (hidden until revealed by `evaluateCFrag`).
    event EvidenceCommitted(bytes32 indexed commitment, address indexed sender);
    /// @notice A reveal with an earlier commitment took the record of `evidenceHash` over.
    event RewardReassigned(bytes32 indexed evidenceHash, address indexed from, address indexed to, uint256 commitBlock);
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
    error PointHintMismatch();
    error CommitmentExists(bytes32 commitment);
    error UnknownCommitment(bytes32 commitment);
    error RevealTooEarly(bytes32 commitment);
    error RewardNotFinal(bytes32 evidenceHash, uint256 finalAfterBlock);

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

    /// @notice Step 1 of filing evidence of an incorrect cfrag: commit to it without revealing it.
    /// @param commitment `evidenceCommitment(evidenceHash, investigator, salt)` with a secret salt.
    function commitEvidence(bytes32 commitment) external {
        if (commitments[commitment] != 0) revert CommitmentExists(commitment);
        commitments[commitment] = block.number;
        emit EvidenceCommitted(commitment, msg.sender);
    }

    /// @notice The commitment an investigator publishes before revealing evidence.
    /// @param evidenceHash `stampDigest(evidence)`.
    /// @param investigator Who will reveal and be owed the reward.
    /// @param salt A secret random value.
    /// @return keccak256(abi.encode(evidenceHash, investigator, salt)).
    function evidenceCommitment(bytes32 evidenceHash, address investigator, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(evidenceHash, investigator, salt));
    }

    /// @notice Judge a cfrag (step 2, the reveal) and slash its node if it is incorrect.
    /// @dev A correct cfrag needs no commitment (nothing happens; `salt` is ignored). An incorrect
    /// one needs the caller's commitment `evidenceCommitment(stampDigest(evidence), msg.sender,
    /// salt)` from an earlier block, which it uses up. Reverts when the evidence is malformed, a
    /// hint is wrong, an incorrect cfrag's stamp does not verify over the root its proof leads to
    /// (or the proof is longer than MAX_STAMP_PROOF_LENGTH), the commitment is missing or too
    /// recent, the evidence already slashed with a commitment no later than the caller's (or its
    /// contest window is over), or the node has no stake; none of these loses anything.
    /// @param evidence The capsule, cfrag, keys, stamp signature and proof, accused node and policy id.
    /// @param hints Caller-computed curve values (see src/client/evidence.ts `evaluationHints`).
    /// @param salt The salt of the caller's commitment (any value for a correct cfrag).
    /// @return correct The verdict; false means the node was slashed in this transaction (or,
    /// for evidence that already slashed, that the caller's earlier commitment took its reward over).
    function evaluateCFrag(CFragEvidence calldata evidence, EvaluationHints calldata hints, bytes32 salt)
        external
        nonReentrant
        returns (bool correct)
    {
        _checkLengths(evidence);
        correct = _judge(evidence, hints);
        bytes32 evidenceHash = _stampDigest(evidence);
        if (correct) {
            // Nothing happens to anyone, so the node's stamp is not needed (nor looked up).
            emit CFragJudgedCorrect(evidenceHash, evidence.staker, msg.sender);
            return true;
        }
        Record storage record = _records[evidenceHash];
        address previous = record.investigator;
        if (previous == address(0)) {
            _checkStamp(evidence, hints, evidenceHash);
            _slash(record, evidence.staker, evidenceHash, _useCommitment(evidenceHash, salt));
        } else {
            // Already slashed: its stamp was checked then (the record is keyed by the stamped
            // message), so it is not checked again, and the stamp's window closing meanwhile does
            // not cut the contest short. An earlier commitment takes the reward over.
            uint256 committedAt = _useCommitment(evidenceHash, salt);
            uint256 recorded = record.commitBlock;
            if (committedAt >= recorded || block.number > recorded + CONTEST_BLOCKS) revert EvidenceAlreadyUsed(evidenceHash);
            record.investigator = msg.sender;
            record.commitBlock = uint40(committedAt);
            emit RewardReassigned(evidenceHash, previous, msg.sender, committedAt);
        }
    }

    /// @notice The verdict `evaluateCFrag` would reach, without the stamp check or any effect.
    /// @param evidence As for `evaluateCFrag`.
    /// @param hints As for `evaluateCFrag`.
    /// @return correct Whether the cfrag is correct.
    function judge(CFragEvidence calldata evidence, EvaluationHints calldata hints) external view returns (bool correct) {
        _checkLengths(evidence);
        return _judge(evidence, hints);
    }

    /// @notice The record of evidence that slashed a node (zero values: none).
    /// @param evidenceHash The evidence hash (`stampDigest`).
    /// @return investigator Who is owed the reward (the earliest revealed commitment).
    /// @return reward What is still owed (0 once withdrawn).
    /// @return commitBlock The block of the investigator's commitment.
    function records(bytes32 evidenceHash) external view returns (address investigator, uint256 reward, uint256 commitBlock) {
        Record storage record = _records[evidenceHash];
        return (record.investigator, uint256(record.rewardUnits) * REWARD_UNIT, record.commitBlock);
    }

    /// @notice SHA-256 of the stamp message for `evidence`: the leaf of the node's stamp batch
    /// and the evidence's replay-guard key.
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
    /// be the caller's, past its contest window (CONTEST_BLOCKS after its commitment) and not
    /// withdrawn yet; the escrow pays the sum to the caller. The records
    /// keep their investigator, so the evidence still cannot slash again.
    /// @param evidenceHashes Evidence hashes of the caller's slashes (see `IncorrectCFragSlashed`).
    /// @return amount The tokens paid.
    function withdrawReward(bytes32[] calldata evidenceHashes) external nonReentrant returns (uint256 amount) {
        if (evidenceHashes.length == 0) revert NothingToWithdraw();
        for (uint256 i; i < evidenceHashes.length; ++i) {
            bytes32 evidenceHash = evidenceHashes[i];
            Record storage record = _records[evidenceHash];
            address investigator = record.investigator;
            if (investigator == address(0)) revert UnknownEvidence(evidenceHash);
            if (investigator != msg.sender) revert NotInvestigator(evidenceHash, investigator);
            uint256 finalAfter = uint256(record.commitBlock) + CONTEST_BLOCKS;
            if (block.number <= finalAfter) revert RewardNotFinal(evidenceHash, finalAfter);
            uint256 reward = uint256(record.rewardUnits) * REWARD_UNIT;
            if (reward == 0) revert RewardAlreadyWithdrawn(evidenceHash);
            record.rewardUnits = 0;
            amount += reward;
            emit RewardWithdrawn(evidenceHash, msg.sender, reward);
        }
        escrow.payInvestigator(msg.sender, amount);
    }

    /// @notice Whether `evidenceHash` already slashed a node (it cannot slash again).
    /// @param evidenceHash SHA-256 of the stamp message (`stampDigest`).
    /// @return True once used.
    function evidenceUsed(bytes32 evidenceHash) external view returns (bool) {
        return _records[evidenceHash].investigator != address(0);
    }

    /// @notice How many times `staker` has been slashed (the escrow's count: incorrect cfrags and leaks).
    /// @param staker The node.
    /// @return The count the next penalty's history term uses.
    function violations(address staker) external view returns (uint256) {
        (, uint256 count) = escrow.slashingStateOf(staker);
        return count;
    }

    /// @notice The penalty an incorrect cfrag would cost `staker` now (it returns to the reserve).
    /// @param staker The node.
    /// @return penalty Token units. The node is slashed this plus the investigator's reward,
    /// min(penalty · investigatorShareBps / 10⁴, stake − penalty) rounded down to REWARD_UNIT.
    function penaltyFor(address staker) public view returns (uint256 penalty) {
        (uint256 stake, uint256 priorViolations) = escrow.slashingStateOf(staker);
        return SlashingPolicy.penalty(basePenalty, penaltyHistoryCoefficient, priorViolations, stake, maxPenaltyBps);
    }

    /// @dev Slashes penalty + reward (the reward on top: see the contract notice) and writes the record.
    function _slash(Record storage record, address staker, bytes32 evidenceHash, uint256 committedAt) private {
        (uint256 stake, uint256 priorViolations) = escrow.slashingStateOf(staker);
        uint256 penalty =
            SlashingPolicy.penalty(basePenalty, penaltyHistoryCoefficient, priorViolations, stake, maxPenaltyBps);
        if (penalty == 0) revert NothingToSlash(staker);
        // penalty ≤ stake (maxPenaltyBps ≤ 10⁴), and the reward fits in what is left.
        uint256 rewardUnits = Math.min((penalty * investigatorShareBps) / BPS, stake - penalty) / REWARD_UNIT;
        uint256 reward = rewardUnits * REWARD_UNIT;
        record.investigator = msg.sender;
        record.commitBlock = SafeCast.toUint40(committedAt);
        record.rewardUnits = SafeCast.toUint56(rewardUnits);
        // The slashable stake is the whole stake, so the escrow slashes all of penalty + reward.
        (uint256 slashed, uint256 count) = escrow.slash(staker, penalty + reward, reward);
        emit IncorrectCFragSlashed(evidenceHash, staker, msg.sender, penalty, slashed, reward, count);
    }

    /// @dev The caller's commitment to `evidenceHash` must exist and be from an earlier block; it
    /// is used up. Returns its block.
    function _useCommitment(bytes32 evidenceHash, bytes32 salt) private returns (uint256 committedAt) {
        bytes32 commitment = evidenceCommitment(evidenceHash, msg.sender, salt);
        committedAt = commitments[commitment];
        if (committedAt == 0) revert UnknownCommitment(commitment);
        if (committedAt >= block.number) revert RevealTooEarly(commitment);
        delete commitments[commitment];
    }

    /// @dev The verdict: a framed cfrag whose kfrag signature is valid under the acceptance rule
    /// and whose re-encryption proof holds. The kfrag signature first: when it fails, the proof
    /// need not be looked at.
    function _judge(CFragEvidence calldata evidence, EvaluationHints calldata hints) private view returns (bool) {
        return UmbralCFrag.cfragFramed(evidence.cfrag) && _kfragSignatureValid(evidence, hints)
            && UmbralCFrag.isCorrectFramed(evidence.capsule, evidence.cfrag, hints.products);
    }

    /// @dev Lengths of capsule and cfrag, the capsule's framing (the client's own capsule) and the
    /// key lengths every later step relies on. A misframed cfrag is judged, not rejected.
    function _checkLengths(CFragEvidence calldata evidence) private pure {
        if (
            evidence.capsule.length != UmbralCFrag.CAPSULE_LENGTH || evidence.cfrag.length != UmbralCFrag.CFRAG_LENGTH
                || !UmbralCFrag.capsuleFramed(evidence.capsule)
        ) revert UmbralCFrag.MalformedEncoding();
        if (
            evidence.delegatingKey.length != 33 || evidence.receivingKey.length != 33
                || evidence.verifyingKey.length != 33
        ) revert MalformedKey();
    }

    /// @dev Whether signature_for_receiver is valid under the acceptance rule (see the contract
    /// notice) for the supplied keys. Both recovery parities are tried (the hinted one first), so
    /// a wrong parity hint cannot turn a valid signature into an "incorrect" verdict; a wrong y
    /// hint for a valid point reverts.
    function _kfragSignatureValid(CFragEvidence calldata evidence, EvaluationHints calldata hints)
        private
        view
        returns (bool)
    {
        (bytes32 r, bytes32 s) = UmbralCFrag.kfragSignature(evidence.cfrag);
        // High-S is refused at intake (the agent) and by the client: judged the same here.
        if (uint256(s) > HALF_N) return false;
        (uint256 prefix, uint256 x) = UmbralCFrag.pointAt(evidence.verifyingKey, 0);
        if (!_pointValid(prefix, x, hints.verifyingKeyY)) return false;
        address signer = Secp256k1.toAddress(x, hints.verifyingKeyY);
        {
            (uint256 prefixA, uint256 xA) = UmbralCFrag.pointAt(evidence.delegatingKey, 0);
            (uint256 prefixB, uint256 xB) = UmbralCFrag.pointAt(evidence.receivingKey, 0);
            (uint256 prefixX, uint256 xX) = UmbralCFrag.pointAt(evidence.cfrag, UmbralCFrag.CFRAG_PRECURSOR);
            if (
                !_pointValid(prefixA, xA, hints.delegatingKeyY) || !_pointValid(prefixB, xB, hints.receivingKeyY)
                    || !_pointValid(prefixX, xX, hints.precursorY)
            ) return false;
        }
        bytes32 digest = UmbralCFrag.kfragSignatureDigest(evidence.cfrag, evidence.delegatingKey, evidence.receivingKey);
        // ecrecover: r, s ∈ [1, n−1] and the nonce point's x equal to r exactly.
        uint8 parity = hints.kfragSignatureParity;
        if (_recover(digest, parity, r, s) == signer) return true;
        return _recover(digest, 1 - parity, r, s) == signer;
    }

    /// @dev Whether (prefix, x) is a canonical compressed curve point, given its y. A valid point
    /// with a wrong y hint reverts (PointHintMismatch); only then is the square root computed.
    function _pointValid(uint256 prefix, uint256 x, uint256 y) private view returns (bool) {
        if ((prefix != 2 && prefix != 3) || x >= Secp256k1.P) return false;
        if ((y & 1) == prefix - 2 && Secp256k1.isOnCurve(x, y)) return true;
        (bool onCurve,) = Secp256k1.liftX(x, prefix - 2);
        if (onCurve) revert PointHintMismatch();
        return false;
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
}
