// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IHealthEscrow} from "./health/IHealthEscrow.sol";
import {HammingSelection} from "./health/HammingSelection.sol";

/// @title Health-check voting among staked nodes (whitepaper section VI).
/// @notice Time is cut into rounds of fixed length: a commit window then a reveal window, then
/// anyone may finalize. Round r (r >= 1) starts at `genesis + (r - 1) * roundLength`.
///
/// **Enrollment.** Nodes (identified by staker address) live in an array maintained here; anyone
/// may enroll an eligible node (registered in the escrow and holding locked stake) and anyone may
/// evict one that is no longer eligible, both O(1) (swap-and-pop). A staked node cannot opt out:
/// anyone could enroll it again. Enrollment caches the top 192 bits of keccak256(verifying key).
///
/// **Opening and randomness.** `openRound` is callable by anyone during the first `openWindow`
/// seconds of a round. The seed is `keccak256(previousSeed, block.prevrandao, round)`; the first
/// seed mixes the deployment block's PREVRANDAO, chain id and this address. The chaining means no
/// one can compute a seed before the opening block's PREVRANDAO is known. Bias: PREVRANDAO of a
/// block is fixed by the beacon chain one slot ahead, so whoever decides *in which block* the
/// opening lands chooses among the PREVRANDAO values of the blocks in the open window: (a) an
/// opener racing honest agents (which all try to open in the first block) has no choice unless it
/// is also a proposer; (b) a proposer of m consecutive slots in the window can censor openings
/// and pick among m + 1 seeds, and a proposer willing to forfeit its slot flips one more
/// beacon-chain RANDAO input (one extra bit); (c) if no honest agent opens, a lone opener picks
/// among at most ceil(openWindow / 12 s) seeds. In every case the bias is a choice among a
/// handful of seeds, i.e. it multiplies the chance of any particular sample/checker outcome by at
/// most that number; it cannot aim a seed at chosen keys because key hashes are fixed before the
/// seed is known (a changed key only counts from the next round: `KeyTooRecent`).
///
/// **Sample.** `sampleSize` distinct enrolled nodes are drawn by index from the seed; each draw
/// re-checks eligibility in the escrow and evicts an ineligible node on the spot (then draws
/// again; at most 4 * sampleSize draws, so a round may check fewer nodes). Cost O(sampleSize).
///
/// **Checkers.** Self-selection: a node may commit in round r when its Hamming distance
/// `popcount(keyHash ^ seed192)` is below the round's threshold t, or equal to t and a per-node
/// coin derived from keyHash ^ seed lands under the round's `fraction`. t and the fraction are
/// derived at opening from the number of candidates N (enrolled nodes that are not targets) so
/// that the expected number of checkers is `expectedCheckers` (c), overshooting by a tiny
/// fraction of a node (see HammingSelection); when c >= N every candidate is selected. A target
/// cannot be a checker in its own round. Checking costs O(1) per commit.
///
/// **Votes.** A checker commits `commitmentOf(round, staker, verdicts, salt)` in the commit window
/// and reveals `(verdicts, salt)` in the reveal window. Bit i of `verdicts` set means "target i
/// is unhealthy". A reveal weighs `lockedThrough(staker, currentPeriod) / 1e18` (whole tokens).
/// With at least `quorum` reveals, target i is unhealthy when the revealed weight voting
/// unhealthy is strictly greater than the weight voting healthy (a tie keeps the node healthy).
/// Without quorum, no target is judged and nobody is affected.
///
/// **Consequences.** An unhealthy target forfeits, through `escrow.forfeitRewards`, the rewards it
/// earned since its last check or enrollment, including any it claimed or restaked meanwhile
/// (the escrow takes those out of its stake); they return to the escrow's reserve. A healthy
/// target's checkpoint moves forward (`escrow.markChecked`), so a later failure cannot reach
/// back past a check it passed. The checker reward of a
/// finalized round is `min(rewardPerRound, pool)` taken from a pool of tokens funded through
/// `fund`. A revealed checker earns, for every judged target on which it voted with the majority,
/// a share proportional to its weight: `budget * weight * agreements / sum_i majorityWeight_i`
/// (the denominator is exactly the sum of every checker's `weight * agreements`, so the budget is
/// fully distributed up to rounding). Checkers in the minority on a target, and checkers that
/// committed but did not reveal, earn nothing for it. Claims are pull-style within `claimWindow`
/// after the reveal window; afterwards anyone may `sweep` the unclaimed rest (including rounding
/// dust) back to the pool. Invariant: `token.balanceOf(this) == pool + sum of unswept
/// (budget - claimed)`.
contract HealthCheck is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Immutable configuration.
    struct Config {
        uint32 commitDuration; // seconds
        uint32 revealDuration; // seconds
        uint32 openWindow; // seconds from round start during which the round can be opened
        uint32 claimWindow; // seconds after the reveal window during which rewards can be claimed
        uint8 sampleSize; // targets checked per round, 1..32
        uint32 expectedCheckers; // c, the expected number of self-selected checkers
        uint32 quorum; // minimum number of reveals for a round to judge anyone
        uint256 rewardPerRound; // checker budget per finalized round, paid from the pool
    }

    /// @notice A node's enrollment record (one storage slot).
    struct Node {
        uint192 keyHash; // top 192 bits of keccak256(verifying key)
        uint32 keyRound; // round in which the key hash was recorded; 0 = not enrolled
        uint32 sampledRound; // last round in which the node was drawn as a target
    }

    /// @notice Public summary of a round.
    struct RoundView {
        uint256 start;
        uint256 commitEnd;
        uint256 revealEnd;
        uint256 claimEnd;
        bool opened;
        bool finalized;
        bool swept;
        uint192 seed;
        uint8 threshold;
        uint16 fraction;
        uint8 sampleSize;
        uint32 candidates;
        uint64 revealedWeight;
        uint32 revealers;
        uint32 decidedMask;
        uint32 unhealthyMask;
        uint96 majorityWeight;
        uint256 budget;
        uint256 claimed;
        address[] targets;
    }

    struct Round {
        // slot 0 — everything `commit` needs
        uint192 seed;
        uint8 threshold;
        uint8 sampleSize; // 0 until opened
        uint16 fraction;
        uint32 candidates;
        // slot 1 — running tally and outcome
        uint64 revealedWeight;
        uint32 revealers;
        uint32 decidedMask;
        uint32 unhealthyMask;
        uint96 majorityWeight;
        // slot 2 — checker budget
        uint120 budget;
        uint120 claimed;
        bool finalized;
        bool swept;
        // per-target unhealthy weight, 4 lanes of 63 bits per word; bit 255 is a marker written
        // at opening so that reveals update warm non-zero slots (5k) instead of fresh ones (22k)
        uint256[8] tallies;
        address[32] targets;
    }

    /// @notice Most targets a round can have (verdicts are a 32-bit mask).
    uint256 public constant MAX_SAMPLE_SIZE = 32;
    /// @notice Vote weight unit: one whole token of locked stake.
    uint256 public constant WEIGHT_UNIT = 1e18;

    uint256 private constant LANES = 4;
    uint256 private constant LANE_BITS = 63;
    uint256 private constant LANE_MASK = (uint256(1) << LANE_BITS) - 1;
    uint256 private constant TALLY_MARKER = uint256(1) << 255;
    // ballot word: committed = commitment >> 1 (bit 255 clear); revealed = REVEALED | CLAIMED? |
    // weight << 64 | verdicts
    uint256 private constant REVEALED = uint256(1) << 255;
    uint256 private constant CLAIMED = uint256(1) << 254;

    /// @notice The staking escrow that defines nodes, stake and operators.
    IHealthEscrow public immutable escrow;
    /// @notice The token in which checker rewards are paid.
    IERC20 public immutable token;
    /// @notice Timestamp at which round 1 starts.
    uint256 public immutable genesis;
    /// @notice Commit window length in seconds.
    uint256 public immutable commitDuration;
    /// @notice Reveal window length in seconds.
    uint256 public immutable revealDuration;
    /// @notice Seconds from a round's start during which it can be opened.
    uint256 public immutable openWindow;
    /// @notice Seconds after a round's reveal window during which its rewards can be claimed.
    uint256 public immutable claimWindow;
    /// @notice Targets drawn per round.
    uint256 public immutable sampleSize;
    /// @notice Expected number of self-selected checkers per round.
    uint256 public immutable expectedCheckers;
    /// @notice Minimum number of reveals for a round to judge its targets.
    uint256 public immutable quorum;
    /// @notice Checker budget per finalized round (bounded by the pool).
    uint256 public immutable rewardPerRound;

    /// @notice Tokens available for future checker budgets.
    uint256 public pool;
    /// @notice The latest round seed (full 256 bits), chained into the next one.
    bytes32 public lastSeed;

    address[] private _enrolled;
    mapping(address staker => uint256) private _position; // index + 1 in _enrolled
    mapping(address staker => Node) private _nodes;
    mapping(uint32 round => Round) private _rounds;
    mapping(uint32 round => mapping(address staker => uint256)) private _ballots;

    /// @notice A node joined the enrollment.
    event Enrolled(address indexed staker, uint192 keyHash, uint32 round);
    /// @notice A node's cached key hash changed; it may check again from the next round.
    event KeyRefreshed(address indexed staker, uint192 keyHash, uint32 round);
    /// @notice An ineligible node left the enrollment.
    event Evicted(address indexed staker);
    /// @notice A round was opened with its seed, checker threshold and targets.
    event RoundOpened(
        uint32 indexed round, uint192 seed, uint8 threshold, uint16 fraction, uint32 candidates, address[] targets
    );
    /// @notice A checker committed its hidden verdicts.
    event Committed(uint32 indexed round, address indexed staker, bytes32 commitment);
    /// @notice A checker revealed its verdicts (bit i set = target i unhealthy).
    event Revealed(uint32 indexed round, address indexed staker, uint256 verdicts, uint256 weight);
    /// @notice A round was finalized.
    event RoundFinalized(
        uint32 indexed round, uint32 decidedMask, uint32 unhealthyMask, uint256 majorityWeight, uint256 budget
    );
    /// @notice A target was judged; `forfeited` is what it lost (0 when healthy).
    event TargetJudged(uint32 indexed round, address indexed target, bool healthy, uint256 forfeited);
    /// @notice A checker's reward was paid to its staker address.
    event RewardClaimed(uint32 indexed round, address indexed staker, uint256 amount);
    /// @notice A round's unclaimed checker budget went back to the pool.
    event RoundSwept(uint32 indexed round, uint256 amount);
    /// @notice Tokens were added to the checker reward pool.
    event PoolFunded(address indexed from, uint256 amount);

    error InvalidParameter(string name);
    error AlreadyEnrolled(address staker);
    error NotEnrolled(address staker);
    error NotEligible(address staker);
    error StillEligible(address staker);
    error KeyUnchanged(address staker);
    error EnrollmentFull();
    error OpenWindowClosed(uint32 round);
    error RoundAlreadyOpen(uint32 round);
    error NoEnrolledNodes();
    error NoEligibleNodes();
    error RoundNotOpen(uint32 round);
    error NotInCommitWindow(uint32 round);
    error NotInRevealWindow(uint32 round);
    error NotAnOperator(address account);
    error KeyTooRecent(address staker, uint32 round);
    error TargetCannotCheck(address staker);
    error NotSelected(address staker, uint256 distance, uint256 threshold);
    error EmptyCommitment();
    error AlreadyCommitted(address staker);
    error NoCommitment(address staker);
    error AlreadyRevealed(address staker);
    error CommitmentMismatch(address staker);
    error InvalidVerdicts(uint256 verdicts);
    error NoStake(address staker);
    error TallyOverflow();
    error RevealNotOver(uint32 round);
    error AlreadyFinalized(uint32 round);
    error NotFinalized(uint32 round);
    error NotRevealed(address staker);
    error AlreadyClaimed(address staker);
    error NothingToClaim(address staker);
    error ClaimWindowClosed(uint32 round);
    error ClaimWindowOpen(uint32 round);
    error AlreadySwept(uint32 round);
    error ZeroAmount();

    /// @param escrow_ The staking escrow (must grant this contract its forfeit role).
    /// @param token_ The reward token.
    /// @param config Round timing, sample size, expected checkers, quorum and reward.
    constructor(IHealthEscrow escrow_, IERC20 token_, Config memory config) {
        if (address(escrow_) == address(0)) revert InvalidParameter("escrow");
        if (address(token_) == address(0)) revert InvalidParameter("token");
        if (config.commitDuration == 0) revert InvalidParameter("commitDuration");
        if (config.revealDuration == 0) revert InvalidParameter("revealDuration");
        if (config.openWindow == 0 || config.openWindow > config.commitDuration) revert InvalidParameter("openWindow");
        if (config.claimWindow == 0) revert InvalidParameter("claimWindow");
        if (config.sampleSize == 0 || config.sampleSize > MAX_SAMPLE_SIZE) revert InvalidParameter("sampleSize");
        if (config.expectedCheckers == 0) revert InvalidParameter("expectedCheckers");
        if (config.quorum == 0) revert InvalidParameter("quorum");
        escrow = escrow_;
        token = token_;
        genesis = block.timestamp;
        commitDuration = config.commitDuration;
        revealDuration = config.revealDuration;
        openWindow = config.openWindow;
        claimWindow = config.claimWindow;
        sampleSize = config.sampleSize;
        expectedCheckers = config.expectedCheckers;
        quorum = config.quorum;
        rewardPerRound = config.rewardPerRound;
        lastSeed = keccak256(abi.encode(block.prevrandao, block.chainid, address(this)));
    }

    // ---------------------------------------------------------------- enrollment

    /// @notice Enroll an eligible node (registered, with locked stake). Callable by anyone. Starts
    /// the escrow's tracking of the node's claims, so this contract needs its forfeiter role first.
    /// @param staker The node's staker address.
    function enroll(address staker) external {
        if (_nodes[staker].keyRound != 0) revert AlreadyEnrolled(staker);
        if (!_eligible(staker)) revert NotEligible(staker);
        if (_enrolled.length >= type(uint32).max) revert EnrollmentFull();
        uint192 keyHash = _keyHash(staker);
        uint32 round = currentRound();
        _nodes[staker] = Node({keyHash: keyHash, keyRound: round, sampledRound: 0});
        _enrolled.push(staker);
        _position[staker] = _enrolled.length;
        emit Enrolled(staker, keyHash, round);
        // First enrollment ever: failed checks may reach back to here, not further.
        (bool tracked,,) = escrow.checkStateOf(staker);
        if (!tracked) escrow.markChecked(staker);
    }

    /// @notice Re-read a node's verifying key from the escrow after it re-registered. The node may
    /// check again only in rounds starting after this one. Callable by anyone.
    /// @param staker The node's staker address.
    function refreshKey(address staker) external {
        Node storage node = _nodes[staker];
        if (node.keyRound == 0) revert NotEnrolled(staker);
        uint192 keyHash = _keyHash(staker);
        if (keyHash == node.keyHash) revert KeyUnchanged(staker);
        uint32 round = currentRound();
        node.keyHash = keyHash;
        node.keyRound = round;
        emit KeyRefreshed(staker, keyHash, round);
    }

    /// @notice Remove a node that is no longer eligible (unregistered or stake unlocked).
    /// Callable by anyone; O(1).
    /// @param staker The node's staker address.
    function evict(address staker) external {
        if (_nodes[staker].keyRound == 0) revert NotEnrolled(staker);
        if (_eligible(staker)) revert StillEligible(staker);
        _remove(staker);
    }

    // ---------------------------------------------------------------- rounds

    /// @notice Open the current round: draw its seed, its targets and its checker threshold.
    /// Callable by anyone during the round's open window. Cost O(sampleSize).
    function openRound() external {
        uint32 round = currentRound();
        if (block.timestamp >= _start(round) + openWindow) revert OpenWindowClosed(round);
        Round storage rd = _rounds[round];
        if (rd.sampleSize != 0) revert RoundAlreadyOpen(round);
        if (_enrolled.length == 0) revert NoEnrolledNodes();

        bytes32 seed = keccak256(abi.encode(lastSeed, block.prevrandao, round));
        lastSeed = seed;
        address[] memory targets = _drawTargets(round, seed);
        uint256 picked = targets.length;
        if (picked == 0) revert NoEligibleNodes();

        uint256 candidates = _enrolled.length - picked;
        (uint8 threshold, uint16 fraction) = HammingSelection.threshold(candidates, expectedCheckers);
        uint192 seed192 = uint192(uint256(seed) >> 64);
        rd.seed = seed192;
        rd.threshold = threshold;
        rd.fraction = fraction;
        rd.sampleSize = uint8(picked);
        rd.candidates = uint32(candidates);
        for (uint256 i = 0; i < picked; ++i) {
            rd.targets[i] = targets[i];
        }
        for (uint256 w = 0; w * LANES < picked; ++w) {
            rd.tallies[w] = TALLY_MARKER;
        }
        emit RoundOpened(round, seed192, threshold, fraction, uint32(candidates), targets);
    }

    /// @notice Commit hidden verdicts as a self-selected checker. Called by the node's operator.
    /// @param round The round (must be in its commit window and open).
    /// @param commitment `commitmentOf(round, staker, verdicts, salt)`.
    function commit(uint32 round, bytes32 commitment) external {
        uint256 start = _start(round);
        if (block.timestamp < start || block.timestamp >= start + commitDuration) revert NotInCommitWindow(round);
        Round storage rd = _rounds[round];
        if (rd.sampleSize == 0) revert RoundNotOpen(round);
        address staker = _stakerOf(msg.sender);
        Node memory node = _nodes[staker];
        if (node.keyRound == 0) revert NotEnrolled(staker);
        if (node.keyRound >= round) revert KeyTooRecent(staker, round);
        if (node.sampledRound == round) revert TargetCannotCheck(staker);
        (bool selected, uint256 distance) =
            HammingSelection.isSelected(node.keyHash, rd.seed, rd.threshold, rd.fraction);
        if (!selected) revert NotSelected(staker, distance, rd.threshold);
        uint256 stored = uint256(commitment) >> 1;
        if (stored == 0) revert EmptyCommitment();
        mapping(address => uint256) storage ballots = _ballots[round];
        if (ballots[staker] != 0) revert AlreadyCommitted(staker);
        ballots[staker] = stored;
        emit Committed(round, staker, commitment);
    }

    /// @notice Reveal the committed verdicts. Called by the node's operator in the reveal window.
    /// @param round The round.
    /// @param verdicts Bit i set = target i unhealthy; no bit at or above the sample size.
    /// @param salt The secret salt used in the commitment.
    function reveal(uint32 round, uint256 verdicts, bytes32 salt) external {
        uint256 revealStart = _start(round) + commitDuration;
        if (block.timestamp < revealStart || block.timestamp >= revealStart + revealDuration) {
            revert NotInRevealWindow(round);
        }
        address staker = _stakerOf(msg.sender);
        mapping(address => uint256) storage ballots = _ballots[round];
        uint256 ballot = ballots[staker];
        if (ballot == 0) revert NoCommitment(staker);
        if (ballot & REVEALED != 0) revert AlreadyRevealed(staker);
        if (uint256(commitmentOf(round, staker, verdicts, salt)) >> 1 != ballot) revert CommitmentMismatch(staker);
        Round storage rd = _rounds[round];
        uint256 k = rd.sampleSize;
        if (verdicts >> k != 0) revert InvalidVerdicts(verdicts);
        uint256 weight = escrow.lockedThrough(staker, escrow.currentPeriod()) / WEIGHT_UNIT;
        if (weight == 0) revert NoStake(staker);
        uint256 total = uint256(rd.revealedWeight) + weight;
        // Lanes hold sums of distinct stakers' stakes, so they never exceed this total.
        if (total > LANE_MASK) revert TallyOverflow();

        ballots[staker] = REVEALED | (weight << 64) | verdicts;
        rd.revealedWeight = uint64(total);
        rd.revealers += 1;
        for (uint256 w = 0; w * LANES < k; ++w) {
            uint256 bits = (verdicts >> (w * LANES)) & 0xF;
            if (bits == 0) continue;
            uint256 word = rd.tallies[w];
            for (uint256 lane = 0; lane < LANES; ++lane) {
                if ((bits >> lane) & 1 != 0) word += weight << (lane * LANE_BITS);
            }
            rd.tallies[w] = word;
        }
        emit Revealed(round, staker, verdicts, weight);
    }

    /// @notice Judge every target of a round after its reveal window; unhealthy targets forfeit
    /// their accrued rewards and the round's checker budget is set aside. Callable by anyone.
    /// Cost O(sampleSize), independent of the number of enrolled nodes.
    /// @param round The round.
    function finalize(uint32 round) external nonReentrant {
        Round storage rd = _rounds[round];
        uint256 k = rd.sampleSize;
        if (k == 0) revert RoundNotOpen(round);
        if (block.timestamp < _start(round) + commitDuration + revealDuration) revert RevealNotOver(round);
        if (rd.finalized) revert AlreadyFinalized(round);

        uint256 total = rd.revealedWeight;
        uint256 decided;
        uint256 unhealthy;
        uint256 majority;
        if (rd.revealers >= quorum) {
            for (uint256 i = 0; i < k; ++i) {
                uint256 against = (rd.tallies[i / LANES] >> ((i % LANES) * LANE_BITS)) & LANE_MASK;
                uint256 inFavour = total - against;
                decided |= uint256(1) << i;
                if (against > inFavour) {
                    unhealthy |= uint256(1) << i;
                    majority += against;
                } else {
                    majority += inFavour;
                }
            }
        }
        uint256 budget = majority == 0 ? 0 : Math.min(rewardPerRound, pool);
        pool -= budget;
        rd.finalized = true;
        rd.decidedMask = uint32(decided);
        rd.unhealthyMask = uint32(unhealthy);
        rd.majorityWeight = uint96(majority);
        rd.budget = uint120(budget);
        emit RoundFinalized(round, uint32(decided), uint32(unhealthy), majority, budget);

        for (uint256 i = 0; i < k; ++i) {
            if ((decided >> i) & 1 == 0) break; // decided is all-or-nothing
            address target = rd.targets[i];
            if ((unhealthy >> i) & 1 == 0) {
                escrow.markChecked(target);
                emit TargetJudged(round, target, true, 0);
            } else {
                uint256 forfeited = escrow.forfeitRewards(target);
                emit TargetJudged(round, target, false, forfeited);
            }
        }
    }

    /// @notice Pay a checker its share of a finalized round's budget, to its staker address.
    /// Callable by anyone within the claim window.
    /// @param round The round.
    /// @param staker The checker's staker address.
    function claimReward(uint32 round, address staker) external nonReentrant {
        Round storage rd = _rounds[round];
        if (!rd.finalized) revert NotFinalized(round);
        if (rd.swept || block.timestamp >= _claimEnd(round)) revert ClaimWindowClosed(round);
        uint256 ballot = _ballots[round][staker];
        if (ballot & REVEALED == 0) revert NotRevealed(staker);
        if (ballot & CLAIMED != 0) revert AlreadyClaimed(staker);
        uint256 amount = _share(rd, ballot);
        if (amount == 0) revert NothingToClaim(staker);

        _ballots[round][staker] = ballot | CLAIMED;
        rd.claimed += uint120(amount);
        emit RewardClaimed(round, staker, amount);
        token.safeTransfer(staker, amount);
    }

    /// @notice Return a round's unclaimed budget (and rounding dust) to the pool once its claim
    /// window is over. Callable by anyone.
    /// @param round The round.
    function sweep(uint32 round) external {
        Round storage rd = _rounds[round];
        if (!rd.finalized) revert NotFinalized(round);
        if (block.timestamp < _claimEnd(round)) revert ClaimWindowOpen(round);
        if (rd.swept) revert AlreadySwept(round);
        uint256 rest = uint256(rd.budget) - rd.claimed;
        rd.swept = true;
        pool += rest;
        emit RoundSwept(round, rest);
    }

    /// @notice Add tokens to the checker reward pool (requires prior approval).
    /// @param amount Tokens to transfer from the caller.
    function fund(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        pool += amount;
        emit PoolFunded(msg.sender, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    // ---------------------------------------------------------------- views

    /// @notice The round the current block belongs to (rounds start at 1).
    function currentRound() public view returns (uint32) {
        return uint32((block.timestamp - genesis) / (commitDuration + revealDuration) + 1);
    }

    /// @notice The commitment a checker must submit: binds this contract, the round, the staker,
    /// the verdicts and a secret salt.
    /// @param round The round.
    /// @param staker The checker's staker address.
    /// @param verdicts Bit i set = target i unhealthy.
    /// @param salt A fresh random 32-byte secret.
    function commitmentOf(uint32 round, address staker, uint256 verdicts, bytes32 salt)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(address(this), round, staker, verdicts, salt));
    }

    /// @notice Everything known about a round, including its window timestamps and targets.
    /// @param round The round.
    function roundInfo(uint32 round) external view returns (RoundView memory info) {
        Round storage rd = _rounds[round];
        info.start = _start(round);
        info.commitEnd = info.start + commitDuration;
        info.revealEnd = info.commitEnd + revealDuration;
        info.claimEnd = info.revealEnd + claimWindow;
        info.opened = rd.sampleSize != 0;
        info.finalized = rd.finalized;
        info.swept = rd.swept;
        info.seed = rd.seed;
        info.threshold = rd.threshold;
        info.fraction = rd.fraction;
        info.sampleSize = rd.sampleSize;
        info.candidates = rd.candidates;
        info.revealedWeight = rd.revealedWeight;
        info.revealers = rd.revealers;
        info.decidedMask = rd.decidedMask;
        info.unhealthyMask = rd.unhealthyMask;
        info.majorityWeight = rd.majorityWeight;
        info.budget = rd.budget;
        info.claimed = rd.claimed;
        info.targets = new address[](rd.sampleSize);
        for (uint256 i = 0; i < rd.sampleSize; ++i) {
            info.targets[i] = rd.targets[i];
        }
    }

    /// @notice Revealed weight voting a target unhealthy and healthy so far.
    /// @param round The round.
    /// @param index The target's position in the round's sample.
    function tallyOf(uint32 round, uint256 index) external view returns (uint256 unhealthy, uint256 healthy) {
        Round storage rd = _rounds[round];
        if (index >= rd.sampleSize) return (0, 0);
        unhealthy = (rd.tallies[index / LANES] >> ((index % LANES) * LANE_BITS)) & LANE_MASK;
        healthy = rd.revealedWeight - unhealthy;
    }

    /// @notice A checker's ballot in a round.
    /// @param round The round.
    /// @param staker The checker's staker address.
    function ballotOf(uint32 round, address staker)
        external
        view
        returns (bool committed, bool revealed, bool claimed, uint256 verdicts, uint256 weight)
    {
        uint256 ballot = _ballots[round][staker];
        committed = ballot != 0;
        revealed = ballot & REVEALED != 0;
        if (revealed) {
            claimed = ballot & CLAIMED != 0;
            verdicts = uint32(ballot);
            weight = uint64(ballot >> 64);
        }
    }

    /// @notice What `claimReward` would pay `staker` for `round` now (0 when not claimable).
    /// @param round The round.
    /// @param staker The checker's staker address.
    function claimable(uint32 round, address staker) external view returns (uint256) {
        Round storage rd = _rounds[round];
        uint256 ballot = _ballots[round][staker];
        if (!rd.finalized || rd.swept || block.timestamp >= _claimEnd(round)) return 0;
        if (ballot & REVEALED == 0 || ballot & CLAIMED != 0) return 0;
        return _share(rd, ballot);
    }

    /// @notice Whether `staker` may commit as a checker in an opened `round` (ignoring timing),
    /// and its Hamming distance to the round seed.
    /// @param round The round.
    /// @param staker The node's staker address.
    function isChecker(uint32 round, address staker) external view returns (bool selected, uint256 distance) {
        Round storage rd = _rounds[round];
        Node memory node = _nodes[staker];
        if (rd.sampleSize == 0 || node.keyRound == 0) return (false, 0);
        (selected, distance) = HammingSelection.isSelected(node.keyHash, rd.seed, rd.threshold, rd.fraction);
        selected = selected && node.keyRound < round && node.sampledRound != round;
    }

    /// @notice Number of enrolled nodes (N).
    function enrolledCount() external view returns (uint256) {
        return _enrolled.length;
    }

    /// @notice The enrolled node at `index`.
    /// @param index Position in the enrollment array.
    function enrolledAt(uint256 index) external view returns (address) {
        return _enrolled[index];
    }

    /// @notice A node's enrollment record (`keyRound == 0` when not enrolled).
    /// @param staker The node's staker address.
    function nodeOf(address staker) external view returns (Node memory) {
        return _nodes[staker];
    }

    // ---------------------------------------------------------------- internals

    function _drawTargets(uint32 round, bytes32 seed) private returns (address[] memory targets) {
        targets = new address[](sampleSize);
        uint256 picked;
        if (_enrolled.length <= sampleSize) {
            // Small network: take every eligible node (evictions swap a later node into i).
            uint256 i;
            while (i < _enrolled.length) {
                address staker = _enrolled[i];
                if (_eligible(staker)) {
                    _nodes[staker].sampledRound = round;
                    targets[picked++] = staker;
                    ++i;
                } else {
                    _remove(staker);
                }
            }
        } else {
            uint256 maxDraws = 4 * sampleSize;
            for (uint256 draw = 0; draw < maxDraws && picked < sampleSize; ++draw) {
                uint256 n = _enrolled.length;
                if (picked >= n) break; // every remaining node is already a target
                address staker = _enrolled[uint256(keccak256(abi.encode(seed, draw))) % n];
                Node storage node = _nodes[staker];
                if (node.sampledRound == round) continue;
                if (!_eligible(staker)) {
                    _remove(staker);
                    continue;
                }
                node.sampledRound = round;
                targets[picked++] = staker;
            }
        }
        assembly ("memory-safe") {
            mstore(targets, picked)
        }
    }

    function _share(Round storage rd, uint256 ballot) private view returns (uint256) {
        uint256 majority = rd.majorityWeight;
        if (majority == 0) return 0;
        uint256 agreements =
            HammingSelection.popcount192(~(ballot ^ uint256(rd.unhealthyMask)) & uint256(rd.decidedMask));
        uint256 weight = uint64(ballot >> 64);
        return Math.mulDiv(rd.budget, weight * agreements, majority);
    }

    function _remove(address staker) private {
        uint256 position = _position[staker];
        uint256 last = _enrolled.length;
        if (position != last) {
            address moved = _enrolled[last - 1];
            _enrolled[position - 1] = moved;
            _position[moved] = position;
        }
        _enrolled.pop();
        delete _position[staker];
        delete _nodes[staker];
        emit Evicted(staker);
    }

    function _eligible(address staker) private view returns (bool) {
        return escrow.isRegistered(staker) && escrow.lockedThrough(staker, escrow.currentPeriod()) > 0;
    }

    function _keyHash(address staker) private view returns (uint192) {
        (,, bytes memory verifyingKey) = escrow.nodeInfo(staker);
        return uint192(uint256(keccak256(verifyingKey)) >> 64);
    }

    function _stakerOf(address operator) private view returns (address staker) {
        staker = escrow.stakerOf(operator);
        if (staker == address(0)) revert NotAnOperator(operator);
    }

    function _start(uint32 round) private view returns (uint256) {
        // Round 0 does not exist; map it far in the past so every window check fails cleanly.
        if (round == 0) return 0;
        return genesis + uint256(round - 1) * (commitDuration + revealDuration);
    }

    function _claimEnd(uint32 round) private view returns (uint256) {
        return _start(round) + commitDuration + revealDuration + claimWindow;
    }
}
