// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IHealthEscrow} from "./health/IHealthEscrow.sol";
import {HammingSelection} from "./health/HammingSelection.sol";

/// @title Health-check voting among staked nodes (whitepaper section VI).
/// @notice Time is cut into rounds of fixed length: a commit window then a reveal window, then
/// anyone may finalize. Round r (r >= 1) starts at `genesis + (r - 1) * roundLength`; `genesis`
/// is the deployment or a start announced up to `MAX_START_DELAY` ahead (enrollment opens at once).
///
/// **Enrollment, frozen per round.** Nodes (identified by staker address) are enrolled by anyone
/// when eligible (registered in the escrow, holding locked stake) and evicted by anyone when no
/// longer eligible. A staked node cannot opt out: anyone could enroll it again. A change made
/// during round c takes effect from round c + 1 only; round c itself (whether or not it is opened
/// yet) keeps the membership it had when round c began. The contract keeps two layouts of the
/// enrollment array, the current round's and the next rounds', sparsely: each array slot and the
/// length hold (value before, value after, round from which "after" applies), folded lazily on
/// the next change, so enroll/evict stay O(1) (append; swap-and-pop applied to the "after"
/// layout only) and `openRound` reads the exact layout of its own round with no tombstones and
/// no skipped draws. Enrollment changes (enroll, evict) are rejected during the
/// last `freezeWindow` seconds before a round starts (`EnrollmentFrozen`), so the membership,
/// order, N and cached key hashes that round r uses are final at least `freezeWindow` seconds
/// before round r's seed can be drawn. An evicted node stops being a checker at once, counts
/// (and can still be drawn as a target) until its leave takes effect, and may enroll again
/// from that round on. Enrollment caches the top 192 bits of keccak256(verifying key).
///
/// **Opening and randomness.** `openRound` is callable by anyone during the first `openWindow`
/// seconds of a round. The seed is `keccak256(previousSeed, block.prevrandao, round)`; the first
/// seed mixes the deployment block's PREVRANDAO, chain id and this address. Everything else the
/// outcome depends on is frozen before the seed exists: the membership layout and N of the
/// round, every key hash (a key counts from the round after it was recorded, `KeyTooRecent`),
/// and the draw itself is a pure function of (seed, layout) — it does not consult the escrow,
/// so nobody can steer it by changing a node's eligibility in the opening transaction. The only
/// free input is therefore the opening block's PREVRANDAO. PREVRANDAO of block b is the beacon
/// RANDAO mix after block b - 1, which only b - 1's proposer knows before b - 1 is published.
/// Remaining bias, precisely: (a) a non-proposer, even one opening in the same transaction as
/// any other call, gets exactly one seed per block it can land in; racing the honest agents,
/// which all open in the first block of the round, it has no choice at all; (b) a proposer of m
/// consecutive slots inside the open window can censor openings and choose among the m + 1
/// seeds of those blocks (plus one extra RANDAO bit per slot it is willing to miss); (c) if no
/// honest agent opens, a lone opener can choose among at most ceil(openWindow / 12 s) seeds;
/// (d) learning a seed before the freeze ends (and so tuning enrollment to it) needs the
/// proposers of every slot from the freeze's start to the opening block, at least
/// freezeWindow / 12 s consecutive slots. Each case is a choice among a bounded handful of
/// seeds: it multiplies the probability of any particular sample/checker outcome by at most
/// that number, and cannot aim the seed at chosen keys or layouts.
///
/// **Sample.** With N members in the round's layout, `sampleSize` distinct members are drawn by
/// index, `keccak256(seed, draw) % N` (duplicates are drawn again; at most 4 * sampleSize
/// draws, so a round may check fewer nodes); when N <= sampleSize every member is a target.
/// A member that has become ineligible meanwhile is still a target (its checkers will find it
/// unregistered or unreachable). Cost O(sampleSize).
///
/// **Checkers.** Self-selection: a node may commit in round r when its Hamming distance
/// `popcount(keyHash ^ seed192)` is below the round's threshold t, or equal to t and a per-node
/// coin derived from keyHash ^ seed lands under the round's `fraction`. t and the fraction are
/// derived at opening from the number of candidates (N minus the targets) so that the expected
/// number of checkers is `expectedCheckers` (c), overshooting by a tiny fraction of a node (see
/// HammingSelection); when c >= candidates every candidate is selected. A target cannot be a
/// checker in its own round. Checking costs O(1) per commit.
///
/// **Votes.** A checker commits `commitmentOf(round, staker, verdicts, salt)` in the commit window
/// and reveals `(verdicts, salt)` in the reveal window. Bit i of `verdicts` set means "target i
/// is unhealthy". A ballot's weight is fixed at commit, from the node's recorded weight: its
/// locked stake in whole tokens as read at enrollment or at its last `refreshWeight`, which (like
/// a key change) only applies from the next round. At reveal the weight can only go down: it is
/// capped by the stake guaranteed locked through the period in which the reveal window ends
/// (`lockedThrough(staker, periodOf(revealEnd - 1)) / 1e18`; a reveal with nothing locked then
/// reverts `NoStake`). So topping up after seeing other reveals changes nothing, and stake that
/// is slashed or leaves before the votes are counted does not vote. (Recording the weight ahead
/// of the round instead of reading the escrow in `commit` keeps a commit at one storage read of
/// the node.) With at least `quorum` reveals,
/// target i is unhealthy when the revealed weight voting unhealthy is strictly greater than the
/// weight voting healthy (a tie keeps the node healthy). Without quorum, no target is judged.
///
/// **Proof of contact (issue #16, blind voting).** A "healthy" vote counts only with the
/// target's contact signature: its stamp key's ECDSA signature (65 bytes r‖s‖v, low-S, v 27/28)
/// over `contactDigest(round, checker, target)` = keccak256(abi.encode("NKMS-HEALTH-CONTACT-V1",
/// chainid, this contract, round, checker staker, target staker)), by a key that was the target's
/// stamp key (`escrow.wasStampKey`) in the period of the round's start or of its last commit
/// second. The target's agent hands it out only with a correct re-encryption served to that
/// checker's probe, so a checker that did not probe has no proof. `reveal` carries one proof per
/// healthy bit, in target order; a missing or invalid one REVERTS the whole reveal
/// (`InvalidContact`), it is not counted as an abstention. Why rejecting is the safer choice:
/// (1) validity cannot change between commit and reveal — signatures are bound to this chain,
/// contract, round, checker and target (no replay), high-S is refused, and a stamp key's window
/// for a past period never shrinks (`wasStampKey`), so a target cannot revoke a proof it handed
/// out; an honest checker verifies the proof (`isContactValid`) before committing "healthy", and a
/// target that refuses the proof simply gets an "unhealthy" vote from it, which is correct (it did
/// not serve); (2) every revealed ballot then carries evidence for each of its "healthy" votes, so
/// `quorum` still counts ballots that mean something (abstaining blind revealers would have let a
/// single real vote decide a target); (3) a blind voter that committed "healthy" cannot reveal and
/// is punishable as a non-revealer (`punishNonRevealer`), so blind voting costs rather than merely
/// earning nothing. Proofs are not in the commitment: they are checker-bound, so seeing another
/// checker's revealed proofs does not help. Residual: a target that colludes with a checker can
/// sign without serving; that checker is then not blind about that target, and its vote weighs
/// what it did before this rule (its own stake), no more.
///
/// **Trusted callers.** Nothing but the escrow: its views (`stakerOf`, `isRegistered`,
/// `lockedThrough`, `wasStampKey`) and its forfeit/checkpoint functions, which require this
/// contract to hold the escrow's REWARD_FORFEITER_ROLE. Every entry point is permissionless or
/// checks the operator itself; the PolicyManager only reads `isProbeAssignment`.
///
/// **Consequences.** An unhealthy target forfeits, through `escrow.forfeitRewards`, the rewards it
/// earned since its last check or enrollment, including any it claimed or restaked meanwhile
/// (the escrow takes those out of its stake); they return to the escrow's reserve. A healthy
/// target's checkpoint moves forward (`escrow.markChecked`), so a later failure cannot reach
/// back past a check it passed. Both effects act on the escrow's state *at finalization*, so
/// rounds are finalized strictly in the order they were opened (`finalize(r)` reverts
/// `PreviousRoundNotFinalized` until the round opened before r is finalized; void and unopened
/// rounds do not count). Out of order, an earlier failure finalized late would take what the target
/// earned after a check it passed since, and an earlier pass finalized late would shield what it
/// earned after failing since; and a guardian's pause (during which `forfeitRewards`, so the
/// finalization of any round judging someone unhealthy, reverts) would let a failed node's later
/// pass be applied first and turn the failure into a free pass. In order, a pause delays every
/// later judgment with it. And a pass finalized late (more than one round length after its reveal
/// window) does not move the checkpoint (`CheckpointSkipped`): applied at the end of a pause, it
/// would have swallowed what the node earned while failing the checks that follow it (issue #16
/// review, test/review/pause-pass-shield.test.ts). So a pause is a delay, not an amnesty. An honest
/// node loses nothing by a skipped checkpoint (it is never judged unhealthy); a failure finalized
/// late takes what the node earned until its finalization (at most the delay's worth more). A checker that committed and did not reveal suffers the same
/// forfeiture: anyone may call `punishNonRevealer(round, checker)` once per ballot between the
/// end of the reveal window and the end of the claim window (so withholding reveals to starve
/// the quorum, or to hide a losing vote, costs the withholder its accrued rewards; per-round
/// cost stays independent of N, one call per non-revealer). The checker reward of a
/// finalized round is `min(rewardPerRound, pool)` taken from a pool of tokens funded through
/// `fund`, split into one equal slice per target, `min(rewardPerRound, pool) / sampleSize`.
/// Checkers are paid for evidence only, target by target: the slice of a target judged healthy
/// goes to the checkers that voted it healthy (each such vote carries the target's proof of
/// contact), pro rata to their weights: `slice * weight / healthyWeight_i`. The slices of targets
/// judged unhealthy (or undecided) are not taken from the pool. An "unhealthy" vote needs no proof
/// (an absent node cannot sign one), so it counts in the tally but is never paid: a checker that
/// votes everything unhealthy without probing earns nothing (issue #16 review). And because each
/// target's slice is fixed, calling a proven-healthy target unhealthy forfeits the caller's part of
/// that slice and raises nothing else it is paid (a share of one pooled budget over all healthy
/// targets paid a majority checker more for flipping the targets others had proven: issue #16
/// review, test/review/flip-for-pay.test.ts). Checkers in the minority on a target, and checkers
/// that committed but did not reveal, earn nothing for it. Claims are pull-style within `claimWindow`
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
        uint32 freezeWindow; // seconds before a round starts during which enrollment cannot change
        uint32 claimWindow; // seconds after the reveal window during which rewards can be claimed
        uint8 sampleSize; // targets checked per round, 1..32
        uint32 expectedCheckers; // c, the expected number of self-selected checkers
        uint32 quorum; // minimum number of reveals for a round to judge anyone
        uint256 rewardPerRound; // checker budget per finalized round, paid from the pool
        uint64 firstRoundStart; // timestamp at which round 1 starts; 0 = at deployment
    }

    /// @notice A node's checker record (one storage slot, all that `commit` reads).
    struct Node {
        uint192 keyHash; // top 192 bits of keccak256(verifying key)
        // The node cannot check in this round: it enrolled, changed its key or weight, or was
        // drawn as a target in it. Every write is the current round, and commits only happen in
        // the current round, so one field serves all four reasons.
        uint32 barredRound;
        uint32 weight; // vote weight in whole tokens as last recorded; 0 = not enrolled (or evicted)
    }

    /// @notice A node's place in the enrollment (one storage slot).
    struct Membership {
        uint32 position; // index in the layout of the rounds after the current one (until it leaves)
        uint32 activeFrom; // first round in which the node counts; 0 = never enrolled
        uint32 leaveFrom; // first round in which it no longer counts; 0 = staying
    }

    /// @dev One slot of the enrollment array: `prev` is its occupant for rounds before `from`;
    /// `_slotNext` holds the occupant from `from` on.
    struct Slot {
        address prev;
        uint32 from;
    }

    /// @dev The enrollment array's length: `prev` before round `from`, `next` from it on.
    struct Count {
        uint32 prev;
        uint32 next;
        uint32 from;
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
        bool voided;
        uint32 prevOpened; // the round that must be finalized before this one (0: none)
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
        uint96 majorityWeight; // sum over targets judged healthy of the weight voting healthy
        // slot 2 — checker budget and finalization order (written at opening, so finalize's
        // write is an update rather than a fresh slot)
        uint96 budget;
        uint96 claimed;
        uint32 prevOpened; // the round opened (not void) before this one; 0 = none
        bool finalized;
        bool swept;
        bool voided; // fewer than quorum + 1 members: nobody can be judged, nothing was drawn
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
    // Ballot word: flags in bits 253..255, the weight fixed at commit in bits 192..251, and in the
    // low 192 bits the commitment's low 192 bits (until revealed) or the verdicts (once revealed).
    // 192 bits keep the commitment binding (2^96 work to find two openings).
    uint256 private constant REVEALED = uint256(1) << 255;
    uint256 private constant CLAIMED = uint256(1) << 254;
    uint256 private constant PUNISHED = uint256(1) << 253;
    uint256 private constant WEIGHT_SHIFT = 192;
    uint256 private constant WEIGHT_MASK = (uint256(1) << 60) - 1;
    uint256 private constant LOW_MASK = (uint256(1) << 192) - 1;
    /// @notice Domain tag of a target's contact signature (see `contactDigest`).
    string public constant CONTACT_TAG = "NKMS-HEALTH-CONTACT-V1";
    /// @notice Latest a first round may be scheduled after deployment (`Config.firstRoundStart`).
    uint256 public constant MAX_START_DELAY = 30 days;
    /// @notice Bytes of one contact proof in `reveal`: r ‖ s ‖ v.
    uint256 public constant CONTACT_PROOF_BYTES = 65;

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
    /// @notice Seconds before each round's start during which enroll and evict revert.
    uint256 public immutable freezeWindow;
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
    /// @notice The escrow's period length (cached: it is immutable there).
    uint256 public immutable secondsPerPeriod;

    /// @notice Tokens available for future checker budgets.
    uint256 public pool;
    /// @notice The latest round seed (full 256 bits), chained into the next one.
    bytes32 public lastSeed;
    /// @notice Layout position where the next round's sweep of targets starts.
    uint32 public sweepCursor;
    /// @notice The last round opened with targets (rounds finalize in this order).
    uint32 public lastOpenedRound;

    Count private _count;
    mapping(uint256 index => Slot) private _slotPrev;
    mapping(uint256 index => address) private _slotNext;
    mapping(address staker => Membership) private _members;
    mapping(address staker => Node) private _nodes;
    mapping(uint32 round => Round) private _rounds;
    mapping(uint32 round => mapping(address staker => uint256)) private _ballots;

    /// @notice A node joined the enrollment; it counts from round `fromRound`.
    event Enrolled(address indexed staker, uint192 keyHash, uint32 fromRound);
    /// @notice An ineligible node was evicted; it stops counting from round `fromRound`.
    event Evicted(address indexed staker, uint32 fromRound);
    /// @notice A round was opened with its seed, checker threshold and targets.
    event RoundOpened(
        uint32 indexed round, uint192 seed, uint8 threshold, uint16 fraction, uint32 candidates, address[] targets
    );
    /// @notice A node's vote weight was recorded; it applies from round `fromRound`.
    event WeightRecorded(address indexed staker, uint256 weight, uint32 fromRound);
    /// @notice A checker committed its hidden verdicts with the vote weight fixed now.
    event Committed(uint32 indexed round, address indexed staker, bytes32 commitment, uint256 weight);
    /// @notice A checker that committed and did not reveal forfeited its accrued rewards.
    event NonRevealerPunished(uint32 indexed round, address indexed staker, uint256 forfeited);
    /// @notice A checker revealed its verdicts (bit i set = target i unhealthy).
    event Revealed(uint32 indexed round, address indexed staker, uint256 verdicts, uint256 weight);
    /// @notice Round `round` had `members` members, fewer than quorum + 1 (`quorum` + 1): it is
    /// void, nobody is drawn or judged in it.
    event RoundVoid(uint32 indexed round, uint256 members, uint256 quorum);
    /// @notice A round was finalized.
    event RoundFinalized(
        uint32 indexed round, uint32 decidedMask, uint32 unhealthyMask, uint256 majorityWeight, uint256 budget
    );
    /// @notice A target was judged; `forfeited` is what it lost (0 when healthy).
    event TargetJudged(uint32 indexed round, address indexed target, bool healthy, uint256 forfeited);
    /// @notice A target passed in `round`, but the round was finalized too late to move its checkpoint.
    event CheckpointSkipped(uint32 indexed round, address indexed target);
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
    error WeightUnchanged(address staker);
    error EnrollmentFull();
    error EnrollmentFrozen(uint32 nextRound);
    error StillLeaving(address staker, uint32 leaveFrom);
    error OpenWindowClosed(uint32 round);
    error RoundAlreadyOpen(uint32 round);
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
    error PreviousRoundNotFinalized(uint32 round, uint32 previous);
    error NotFinalized(uint32 round);
    error NotRevealed(address staker);
    error RevealedOrPunished(address staker);
    error PunishWindowClosed(uint32 round);
    error AlreadyClaimed(address staker);
    error NothingToClaim(address staker);
    error ClaimWindowClosed(uint32 round);
    error ClaimWindowOpen(uint32 round);
    error AlreadySwept(uint32 round);
    error ZeroAmount();
    error ContactsLength(uint256 expected, uint256 given);
    error InvalidContact(uint256 index, address target);

    /// @param escrow_ The staking escrow (must grant this contract its forfeit role).
    /// @param token_ The reward token.
    /// @param config Round timing, sample size, expected checkers, quorum and reward.
    constructor(IHealthEscrow escrow_, IERC20 token_, Config memory config) {
        if (address(escrow_) == address(0)) revert InvalidParameter("escrow");
        if (address(token_) == address(0)) revert InvalidParameter("token");
        if (config.commitDuration == 0) revert InvalidParameter("commitDuration");
        if (config.revealDuration == 0) revert InvalidParameter("revealDuration");
        if (config.openWindow == 0 || config.openWindow > config.commitDuration) revert InvalidParameter("openWindow");
        if (uint256(config.freezeWindow) >= uint256(config.commitDuration) + config.revealDuration) {
            revert InvalidParameter("freezeWindow");
        }
        if (config.claimWindow == 0) revert InvalidParameter("claimWindow");
        if (config.sampleSize == 0 || config.sampleSize > MAX_SAMPLE_SIZE) revert InvalidParameter("sampleSize");
        if (config.expectedCheckers == 0) revert InvalidParameter("expectedCheckers");
        // A verdict needs at least two distinct nodes; checkers are drawn per node (staker).
        if (config.quorum < 2 || config.quorum > config.expectedCheckers) revert InvalidParameter("quorum");
        if (config.rewardPerRound > type(uint96).max) revert InvalidParameter("rewardPerRound");
        escrow = escrow_;
        token = token_;
        // A start announced ahead lets operators enroll before round 1, so that the first round
        // already judges someone (enrollment counts from the next round on). Bounded so that a
        // typo cannot leave a contract whose rounds never start.
        if (config.firstRoundStart == 0) {
            genesis = block.timestamp;
        } else {
            if (config.firstRoundStart < block.timestamp || config.firstRoundStart > block.timestamp + MAX_START_DELAY) {
                revert InvalidParameter("firstRoundStart");
            }
            genesis = config.firstRoundStart;
        }
        commitDuration = config.commitDuration;
        revealDuration = config.revealDuration;
        openWindow = config.openWindow;
        freezeWindow = config.freezeWindow;
        claimWindow = config.claimWindow;
        sampleSize = config.sampleSize;
        expectedCheckers = config.expectedCheckers;
        quorum = config.quorum;
        rewardPerRound = config.rewardPerRound;
        secondsPerPeriod = escrow_.secondsPerPeriod();
        lastSeed = keccak256(abi.encode(block.prevrandao, block.chainid, address(this)));
    }

    // ---------------------------------------------------------------- enrollment

    /// @notice Enroll an eligible node (registered, with locked stake); it counts from the next
    /// round on. Callable by anyone, except during the freeze window. O(1). Starts the escrow's
    /// tracking of the node's claims, so this contract needs its forfeiter role first.
    /// @param staker The node's staker address.
    function enroll(address staker) external {
        Membership memory m = _members[staker];
        if (m.activeFrom != 0) {
            if (m.leaveFrom == 0) revert AlreadyEnrolled(staker);
            if (m.leaveFrom > currentRound()) revert StillLeaving(staker, m.leaveFrom);
        }
        uint256 weight = _lockedWeight(staker, _currentPeriod());
        if (weight == 0 || !escrow.isRegistered(staker)) revert NotEligible(staker);
        uint32 effective = _changeRound();
        Count memory n = _foldedCount(effective);
        if (n.next == type(uint32).max) revert EnrollmentFull();
        uint32 position = n.next;
        n.next = position + 1;
        _count = n;
        _setSlot(position, staker, effective);
        _members[staker] = Membership({position: position, activeFrom: effective, leaveFrom: 0});
        uint192 keyHash = _keyHash(staker);
        _nodes[staker] = Node({keyHash: keyHash, barredRound: effective - 1, weight: uint32(weight)});
        emit Enrolled(staker, keyHash, effective);
        emit WeightRecorded(staker, weight, effective);
        // First enrollment ever: failed checks may reach back to here, not further.
        (bool tracked,,) = escrow.checkStateOf(staker);
        if (!tracked) escrow.markChecked(staker);
    }

    /// @notice Record the node's vote weight anew from its currently locked stake (after a top-up,
    /// a restake or a slash). Called by the node's staker or operator. Like a key change, it
    /// applies from the next round: the node cannot check in the current one.
    /// @param staker The node's staker address.
    function refreshWeight(address staker) external {
        if (msg.sender != staker && escrow.stakerOf(msg.sender) != staker) revert NotAnOperator(msg.sender);
        Node storage node = _nodes[staker];
        if (node.weight == 0) revert NotEnrolled(staker);
        uint256 weight = _lockedWeight(staker, _currentPeriod());
        if (weight == 0) revert NoStake(staker);
        if (weight == node.weight) revert WeightUnchanged(staker);
        uint32 round = currentRound();
        node.weight = uint32(weight);
        node.barredRound = round;
        emit WeightRecorded(staker, weight, round + 1);
    }

    /// @notice Evict a node that is no longer eligible (unregistered or stake unlocked). It stops
    /// checking at once and stops counting from the next round on (the current round keeps its
    /// layout). Callable by anyone, except during the freeze window; O(1).
    /// @param staker The node's staker address.
    function evict(address staker) external {
        Membership memory m = _members[staker];
        if (m.activeFrom == 0 || m.leaveFrom != 0) revert NotEnrolled(staker);
        if (_eligible(staker)) revert StillEligible(staker);
        uint32 effective = _changeRound();
        Count memory n = _foldedCount(effective);
        uint32 last = n.next - 1;
        n.next = last;
        _count = n;
        if (m.position != last) {
            // Swap-and-pop in the next rounds' layout only; the current round still reads `prev`.
            address moved = _slotNext[last];
            _setSlot(m.position, moved, effective);
            _members[moved].position = m.position;
        }
        m.leaveFrom = effective;
        _members[staker] = m;
        delete _nodes[staker];
        emit Evicted(staker, effective);
    }

    // ---------------------------------------------------------------- rounds

    /// @notice Open the current round: draw its seed, its targets and its checker threshold from
    /// the round's frozen enrollment layout. Callable by anyone during the round's open window.
    /// Cost O(sampleSize).
    function openRound() external {
        uint32 round = currentRound();
        if (block.timestamp >= _start(round) + openWindow) revert OpenWindowClosed(round);
        Round storage rd = _rounds[round];
        if (rd.sampleSize != 0 || rd.voided) revert RoundAlreadyOpen(round);
        uint256 members = _countIn(round);
        uint256 q = quorum;
        if (members <= q) {
            rd.voided = true;
            emit RoundVoid(round, members, q);
            return;
        }

        bytes32 seed = keccak256(abi.encode(lastSeed, block.prevrandao, round));
        lastSeed = seed;
        // At most half the members and never so many that fewer than `quorum` remain to check.
        uint256 k = Math.min(Math.min(sampleSize, members - q), Math.max(1, members / 2));
        address[] memory targets = _drawTargets(round, seed, members, k);
        uint256 picked = targets.length;

        uint256 candidates = members - picked;
        // Few candidates: all of them check (a random count could miss the quorum).
        uint256 c = Math.max(expectedCheckers, 3 * q);
        (uint8 threshold, uint16 fraction) = HammingSelection.threshold(candidates, c);
        uint192 seed192 = uint192(uint256(seed) >> 64);
        rd.seed = seed192;
        rd.threshold = threshold;
        rd.fraction = fraction;
        rd.sampleSize = uint8(picked);
        rd.candidates = uint32(candidates);
        rd.prevOpened = lastOpenedRound;
        lastOpenedRound = round;
        for (uint256 i = 0; i < picked; ++i) {
            rd.targets[i] = targets[i];
        }
        for (uint256 w = 0; w * LANES < picked; ++w) {
            rd.tallies[w] = TALLY_MARKER;
        }
        emit RoundOpened(round, seed192, threshold, fraction, uint32(candidates), targets);
    }

    /// @notice Commit hidden verdicts as a self-selected checker. Called by the node's operator.
    /// Fixes the ballot's weight: the node's recorded weight (recorded in an earlier round).
    /// @param round The round (must be in its commit window and open).
    /// @param commitment `commitmentOf(round, staker, verdicts, salt)`.
    function commit(uint32 round, bytes32 commitment) external {
        uint256 start = _start(round);
        if (block.timestamp < start || block.timestamp >= start + commitDuration) revert NotInCommitWindow(round);
        Round storage rd = _rounds[round];
        if (rd.sampleSize == 0) revert RoundNotOpen(round);
        address staker = _stakerOf(msg.sender);
        Node memory node = _nodes[staker];
        if (node.weight == 0) revert NotEnrolled(staker);
        if (node.barredRound == round) {
            if (_isTarget(rd, staker)) revert TargetCannotCheck(staker);
            revert KeyTooRecent(staker, round);
        }
        (bool selected, uint256 distance) =
            HammingSelection.isSelected(node.keyHash, rd.seed, rd.threshold, rd.fraction);
        if (!selected) revert NotSelected(staker, distance, rd.threshold);
        uint256 low = uint256(commitment) & LOW_MASK;
        if (low == 0) revert EmptyCommitment();
        mapping(address => uint256) storage ballots = _ballots[round];
        if (ballots[staker] != 0) revert AlreadyCommitted(staker);
        ballots[staker] = (uint256(node.weight) << WEIGHT_SHIFT) | low;
        emit Committed(round, staker, commitment, node.weight);
    }

    /// @notice Reveal the committed verdicts. Called by the node's operator in the reveal window.
    /// The ballot weighs what was fixed at commit, or less if the stake guaranteed locked through
    /// the period in which the reveal window ends is now smaller (slashed, or unlocking).
    /// @param round The round.
    /// @param verdicts Bit i set = target i unhealthy; no bit at or above the sample size.
    /// @param salt The secret salt used in the commitment.
    /// @param contacts One 65-byte contact proof (r ‖ s ‖ v) per target voted healthy (bit clear),
    /// in target order (see "Proof of contact"); reverts `ContactsLength` / `InvalidContact`.
    function reveal(uint32 round, uint256 verdicts, bytes32 salt, bytes calldata contacts) external {
        uint256 revealStart = _start(round) + commitDuration;
        if (block.timestamp < revealStart || block.timestamp >= revealStart + revealDuration) {
            revert NotInRevealWindow(round);
        }
        address staker = _stakerOf(msg.sender);
        mapping(address => uint256) storage ballots = _ballots[round];
        uint256 ballot = ballots[staker];
        if (ballot == 0) revert NoCommitment(staker);
        if (ballot & REVEALED != 0) revert AlreadyRevealed(staker);
        if (uint256(commitmentOf(round, staker, verdicts, salt)) & LOW_MASK != ballot & LOW_MASK) {
            revert CommitmentMismatch(staker);
        }
        Round storage rd = _rounds[round];
        uint256 k = rd.sampleSize;
        if (verdicts >> k != 0) revert InvalidVerdicts(verdicts);
        _checkContacts(rd, round, staker, verdicts, k, contacts);
        uint256 weight = Math.min(
            (ballot >> WEIGHT_SHIFT) & WEIGHT_MASK, _lockedWeight(staker, _periodOf(revealStart + revealDuration - 1))
        );
        if (weight == 0) revert NoStake(staker);
        uint256 total = uint256(rd.revealedWeight) + weight;
        // Lanes hold sums of distinct stakers' stakes, so they never exceed this total.
        if (total > LANE_MASK) revert TallyOverflow();

        ballots[staker] = REVEALED | (weight << WEIGHT_SHIFT) | verdicts;
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
        uint32 previous = rd.prevOpened;
        if (previous != 0 && !_rounds[previous].finalized) revert PreviousRoundNotFinalized(round, previous);

        uint256 total = rd.revealedWeight;
        uint256 decided;
        uint256 unhealthy;
        uint256 majority;
        if (rd.revealers >= quorum) {
            for (uint256 i = 0; i < k; ++i) {
                uint256 against = (rd.tallies[i / LANES] >> ((i % LANES) * LANE_BITS)) & LANE_MASK;
                uint256 inFavour = total - against;
                decided |= uint256(1) << i;
                // Only healthy agreements are paid (see "Consequences"), so only they share.
                if (against > inFavour) unhealthy |= uint256(1) << i;
                else majority += inFavour;
            }
        }
        // One slice per target; only the slices of targets judged healthy are paid (see notice).
        uint256 healthyCount = HammingSelection.popcount192(decided & ~unhealthy);
        uint256 budget = Math.min(rewardPerRound, pool) * healthyCount / k;
        pool -= budget;
        rd.finalized = true;
        rd.decidedMask = uint32(decided);
        rd.unhealthyMask = uint32(unhealthy);
        rd.majorityWeight = uint96(majority);
        rd.budget = uint96(budget);
        emit RoundFinalized(round, uint32(decided), uint32(unhealthy), majority, budget);

        // A pass moves the checkpoint to what the node has earned now: only while "now" is close to
        // the round (see "Consequences").
        bool timely = block.timestamp < _start(round) + 2 * (commitDuration + revealDuration);
        for (uint256 i = 0; i < k; ++i) {
            if ((decided >> i) & 1 == 0) break; // decided is all-or-nothing
            address target = rd.targets[i];
            if ((unhealthy >> i) & 1 == 0) {
                if (timely) escrow.markChecked(target);
                else emit CheckpointSkipped(round, target);
                emit TargetJudged(round, target, true, 0);
            } else {
                uint256 forfeited = escrow.forfeitRewards(target);
                emit TargetJudged(round, target, false, forfeited);
            }
        }
    }

    /// @notice Take from a checker that committed in `round` and did not reveal the rewards it
    /// earned since its last check (`escrow.forfeitRewards`, back to the reserve). Callable by
    /// anyone, once per ballot, from the end of the reveal window to the end of the claim window.
    /// @param round The round.
    /// @param staker The checker's staker address.
    function punishNonRevealer(uint32 round, address staker) external nonReentrant {
        uint256 revealEnd = _start(round) + commitDuration + revealDuration;
        if (block.timestamp < revealEnd) revert RevealNotOver(round);
        if (block.timestamp >= revealEnd + claimWindow) revert PunishWindowClosed(round);
        uint256 ballot = _ballots[round][staker];
        if (ballot == 0) revert NoCommitment(staker);
        if (ballot & (REVEALED | PUNISHED) != 0) revert RevealedOrPunished(staker);
        _ballots[round][staker] = ballot | PUNISHED;
        uint256 forfeited = escrow.forfeitRewards(staker);
        emit NonRevealerPunished(round, staker, forfeited);
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
        rd.claimed += uint96(amount);
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

    /// @notice The round the current block belongs to (rounds start at 1; 0 before `genesis`,
    /// when nodes can already enroll for round 1 but no round can be opened).
    function currentRound() public view returns (uint32) {
        if (block.timestamp < genesis) return 0;
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

    /// @notice The digest a target's stamp key signs to prove that `checker` contacted it in `round`:
    /// keccak256(abi.encode(CONTACT_TAG, chainid, this contract, round, checker, target)).
    /// @param round The round.
    /// @param checker The checker's staker address.
    /// @param target The target's staker address.
    function contactDigest(uint32 round, address checker, address target) public view returns (bytes32) {
        return keccak256(abi.encode(CONTACT_TAG, block.chainid, address(this), round, checker, target));
    }

    /// @notice Whether `proof` (65 bytes r ‖ s ‖ v) is a valid contact proof of `target` for
    /// `checker` in `round`, as `reveal` checks it. Once true it stays true (see "Proof of contact").
    /// @param round The round.
    /// @param checker The checker's staker address.
    /// @param target The target's staker address.
    /// @param proof The target's signature.
    function isContactValid(uint32 round, address checker, address target, bytes calldata proof)
        public
        view
        returns (bool)
    {
        if (proof.length != CONTACT_PROOF_BYTES) return false;
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(
            contactDigest(round, checker, target), uint8(proof[64]), bytes32(proof[0:32]), bytes32(proof[32:64])
        );
        if (err != ECDSA.RecoverError.NoError) return false;
        uint256 start = _start(round);
        uint32 first = _periodOf(start);
        if (escrow.wasStampKey(target, signer, first)) return true;
        uint32 last = _periodOf(start + commitDuration - 1);
        return last != first && escrow.wasStampKey(target, signer, last);
    }

    /// @notice Whether `checker` may hire `target` for a probe in `round` outside the target's quota
    /// (PolicyManager.createProbePolicy): `round` is the current round, opened and in its commit
    /// window, `target` is one of its targets and `checker` a selected, enrolled checker of it.
    /// @param round The round.
    /// @param checker The checker's staker address.
    /// @param target The target's staker address.
    function isProbeAssignment(uint32 round, address checker, address target) external view returns (bool) {
        uint256 start = _start(round);
        if (block.timestamp < start || block.timestamp >= start + commitDuration) return false;
        Round storage rd = _rounds[round];
        if (rd.sampleSize == 0 || !_isTarget(rd, target)) return false;
        Node memory node = _nodes[checker];
        if (node.weight == 0 || node.barredRound == round) return false;
        (bool selected,) = HammingSelection.isSelected(node.keyHash, rd.seed, rd.threshold, rd.fraction);
        return selected;
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
        info.voided = rd.voided;
        info.prevOpened = rd.prevOpened;
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
    /// @return committed Whether the checker committed.
    /// @return revealed Whether it revealed.
    /// @return claimed Whether its reward was paid.
    /// @return verdicts Its revealed verdicts (0 until revealed).
    /// @return weight Its vote weight, fixed at commit.
    /// @return punished Whether it was punished for not revealing.
    function ballotOf(uint32 round, address staker)
        external
        view
        returns (bool committed, bool revealed, bool claimed, uint256 verdicts, uint256 weight, bool punished)
    {
        uint256 ballot = _ballots[round][staker];
        committed = ballot != 0;
        revealed = ballot & REVEALED != 0;
        claimed = ballot & CLAIMED != 0;
        punished = ballot & PUNISHED != 0;
        weight = (ballot >> WEIGHT_SHIFT) & WEIGHT_MASK;
        if (revealed) verdicts = uint32(ballot);
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
        if (rd.sampleSize == 0 || node.weight == 0) return (false, 0);
        (selected, distance) = HammingSelection.isSelected(node.keyHash, rd.seed, rd.threshold, rd.fraction);
        selected = selected && node.barredRound != round;
    }

    /// @notice Number of nodes that count from the next round on (enrolled and not evicted).
    function enrolledCount() external view returns (uint256) {
        return _count.next;
    }

    /// @notice The node at `index` of the next rounds' layout.
    /// @param index Position, below `enrolledCount()`.
    function enrolledAt(uint256 index) external view returns (address) {
        if (index >= _count.next) revert InvalidParameter("index");
        return _slotNext[index];
    }

    /// @notice Number of members (N) of `round`'s frozen layout. Meaningful for the current round
    /// and later ones (earlier layouts are not kept).
    /// @param round The round.
    function membersIn(uint32 round) external view returns (uint256) {
        return _countIn(round);
    }

    /// @notice The member at `index` of `round`'s frozen layout (the draw maps index to node with
    /// it). Meaningful for the current round and later ones.
    /// @param round The round.
    /// @param index Position, below `membersIn(round)`.
    function memberAt(uint32 round, uint256 index) external view returns (address) {
        if (index >= _countIn(round)) revert InvalidParameter("index");
        return _memberAt(round, index);
    }

    /// @notice A node's checker record (`weight == 0` when not enrolled or evicted).
    /// @param staker The node's staker address.
    function nodeOf(address staker) external view returns (Node memory) {
        return _nodes[staker];
    }

    /// @notice A node's place in the enrollment (`activeFrom == 0` when never enrolled).
    /// @param staker The node's staker address.
    function membershipOf(address staker) external view returns (Membership memory) {
        return _members[staker];
    }

    // ---------------------------------------------------------------- internals

    /// @dev Targets: a sweep of `k - k / 8` consecutive layout positions from `sweepCursor` (so a
    /// stable layout of N members is fully covered every ceil(N / sweep) opened rounds), then
    /// `k / 8` positions drawn at random, `keccak256(seed, draw) % N`, outside the sweep and
    /// distinct (at most 4 * k draws, so a round may check fewer), so that no node can know
    /// every round it will be checked in. A pure function of (seed, layout, cursor): no
    /// eligibility look-up, no per-node state a node could set beforehand. Requires k < N.
    /// Each target is then barred from checking in this round.
    function _drawTargets(uint32 round, bytes32 seed, uint256 members, uint256 k)
        private
        returns (address[] memory targets)
    {
        targets = new address[](k);
        uint256 sweep = k - k / 8;
        uint256 cursor = sweepCursor;
        if (cursor >= members) cursor = 0; // the layout shrank
        uint256 picked;
        for (; picked < sweep; ++picked) {
            targets[picked] = _memberAt(round, (cursor + picked) % members);
        }
        sweepCursor = uint32((cursor + sweep) % members);
        uint256 maxDraws = 4 * k;
        for (uint256 draw = 0; draw < maxDraws && picked < k; ++draw) {
            uint256 position = uint256(keccak256(abi.encode(seed, draw))) % members;
            // Inside the sweep window [cursor, cursor + sweep) mod N?
            if ((position + members - cursor) % members < sweep) continue;
            address staker = _memberAt(round, position);
            bool seen;
            for (uint256 j = sweep; j < picked && !seen; ++j) {
                seen = targets[j] == staker;
            }
            if (!seen) targets[picked++] = staker;
        }
        assembly ("memory-safe") {
            mstore(targets, picked)
        }
        for (uint256 i = 0; i < picked; ++i) {
            _nodes[targets[i]].barredRound = round;
        }
    }

    /// @dev Every target voted healthy (bit clear) needs its contact proof, in target order.
    function _checkContacts(
        Round storage rd,
        uint32 round,
        address staker,
        uint256 verdicts,
        uint256 k,
        bytes calldata contacts
    ) private view {
        uint256 healthy = k - HammingSelection.popcount192(verdicts);
        if (contacts.length != healthy * CONTACT_PROOF_BYTES) {
            revert ContactsLength(healthy * CONTACT_PROOF_BYTES, contacts.length);
        }
        uint256 offset;
        for (uint256 i = 0; i < k; ++i) {
            if ((verdicts >> i) & 1 != 0) continue;
            address target = rd.targets[i];
            if (!isContactValid(round, staker, target, contacts[offset:offset + CONTACT_PROOF_BYTES])) {
                revert InvalidContact(i, target);
            }
            offset += CONTACT_PROOF_BYTES;
        }
    }

    function _isTarget(Round storage rd, address staker) private view returns (bool) {
        uint256 k = rd.sampleSize;
        for (uint256 i = 0; i < k; ++i) {
            if (rd.targets[i] == staker) return true;
        }
        return false;
    }

    /// @dev Per target judged healthy on which this ballot voted healthy (a proven vote): the
    /// target's slice pro rata to the ballot's weight among the weight voting it healthy, which is
    /// every revealed ballot not voting it unhealthy. O(sampleSize).
    function _share(Round storage rd, uint256 ballot) private view returns (uint256 amount) {
        uint256 healthy = uint256(rd.decidedMask) & ~uint256(rd.unhealthyMask);
        uint256 mine = healthy & ~ballot;
        if (mine == 0) return 0;
        uint256 slice = rd.budget / HammingSelection.popcount192(healthy);
        uint256 weight = (ballot >> WEIGHT_SHIFT) & WEIGHT_MASK;
        uint256 total = rd.revealedWeight;
        // One storage read per tally word (4 targets), only for words holding a paid target.
        for (uint256 w = 0; mine >> (w * LANES) != 0; ++w) {
            uint256 bits = (mine >> (w * LANES)) & 0xF;
            if (bits == 0) continue;
            uint256 word = rd.tallies[w];
            for (uint256 lane = 0; lane < LANES; ++lane) {
                if ((bits >> lane) & 1 == 0) continue;
                uint256 against = (word >> (lane * LANE_BITS)) & LANE_MASK;
                // slice < 2^96 and weight < 2^60: the product cannot overflow.
                amount += slice * weight / (total - against);
            }
        }
    }

    /// @dev The round from which an enrollment change made now takes effect (the next one);
    /// reverts during the freeze window before it starts.
    function _changeRound() private view returns (uint32 effective) {
        effective = currentRound() + 1;
        if (block.timestamp + freezeWindow >= _start(effective)) revert EnrollmentFrozen(effective);
    }

    /// @dev The length record, folded so that `next` is the one that applies from `effective`.
    function _foldedCount(uint32 effective) private view returns (Count memory n) {
        n = _count;
        if (n.from < effective) {
            n.prev = n.next;
            n.from = effective;
        }
    }

    /// @dev Put `staker` at `index` in the layout of rounds >= `effective`, keeping the current
    /// round's occupant in `prev`.
    function _setSlot(uint256 index, address staker, uint32 effective) private {
        if (_slotPrev[index].from < effective) _slotPrev[index] = Slot({prev: _slotNext[index], from: effective});
        _slotNext[index] = staker;
    }

    function _countIn(uint32 round) private view returns (uint256) {
        Count memory n = _count;
        return round >= n.from ? n.next : n.prev;
    }

    function _memberAt(uint32 round, uint256 index) private view returns (address) {
        Slot memory slot = _slotPrev[index];
        return round >= slot.from ? _slotNext[index] : slot.prev;
    }

    function _eligible(address staker) private view returns (bool) {
        // The same test as enrollment: registered with at least one whole token locked.
        return escrow.isRegistered(staker) && _lockedWeight(staker, _currentPeriod()) > 0;
    }

    /// @dev Stake locked through `period`, in whole tokens, capped to what a Node records.
    function _lockedWeight(address staker, uint32 period) private view returns (uint256) {
        return Math.min(escrow.lockedThrough(staker, period) / WEIGHT_UNIT, type(uint32).max);
    }

    function _currentPeriod() private view returns (uint32) {
        return _periodOf(block.timestamp);
    }

    function _periodOf(uint256 timestamp) private view returns (uint32) {
        return uint32(timestamp / secondsPerPeriod);
    }

    /// @dev Selection is per node: the staker address, which no two nodes share (issue #16: a
    /// verifying key shared by several stakers selected them all together).
    function _keyHash(address staker) private pure returns (uint192) {
        return uint192(uint256(keccak256(abi.encode(staker))) >> 64);
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
