// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IStakingEscrow} from "./interfaces/IStakingEscrow.sol";
import {NKMSToken} from "./NKMSToken.sol";
import {DecayMath} from "./lib/DecayMath.sol";
import {Secp256k1} from "./adjudicator/Secp256k1.sol";

/// @title NKMS staking escrow: stakes, operators, node registry and mining rewards
/// @notice
/// Stakes. Each staker (cold wallet) holds one stake: an amount and a lock of D periods.
/// A stake is either *rolling* (the default): it stays locked D periods ahead of "now" for as
/// long as the staker wants, earns rewards and counts in `totalLocked`; or *unlocking*: after
/// `startUnlock()` the unlock period is fixed at (period of the call + D), the stake earns
/// nothing and is left out of `totalLocked`, but stays locked (and slashable) until then.
/// `relock()` turns an unlocking stake back into a rolling one; `withdraw` takes unlocked
/// tokens once the unlock period has begun. Top-ups (`increase`, restaked rewards) are unlimited
/// up to `maxStake` and never split the stake.
///
/// Rewards. The unissued reserve R decays geometrically: each period, a fraction r
/// (`issuanceRate`, 18-decimal) of what remains is issued, so after k periods
/// issued(k) = R·(1 − (1 − r)^k) < R and inflation tends to zero; the token's supply can never
/// pass its cap. (1 − r)^k is computed by repeated squaring in O(log k) when the escrow is
/// touched, with no loop over periods. Periods in which the total weight is below
/// `MIN_ISSUANCE_WEIGHT` (practically: no rolling stake) issue nothing and do not decay the
/// reserve. Slashed stake and forfeited rewards are burned back into the reserve, except the
/// investigator's share of a slash: it is burned but held back from the reserve, owed until the
/// slasher pays it out (`payInvestigator` mints it), so cap = supply + reserve + owed always.
/// Each period's issuance is shared among rolling stakes in proportion to their weight
/// amount·(52 + min(W, 52)), i.e. amount·104·κ with κ = 0.5·(1 + min(W, 52)/52), W the lock
/// duration D in whole weeks. Weights only change in the staker's own transactions (and in
/// slashing), so a reward-per-weight accumulator makes every operation O(1) and exact.
/// Issuance is paid per period *in advance*: the issuance of period P is credited, at the first
/// transaction of P (before that transaction changes any weight), to the weights present at the
/// start of P, i.e. the weights that did not change since the last transaction of an earlier
/// period. So weight added at any moment of P (deposit, increase, restake, relock, prolong) earns
/// nothing of P and starts earning at the next period boundary, exactly like weight added at the
/// start of P: a last-second deposit gains nothing over an earlier one. Every weight credited
/// with P's issuance is locked throughout P (a rolling lock always reaches at least one period
/// past the current one, and `startUnlock` in P unlocks at P + D > P). No per-period transaction
/// is needed from anyone.
///
/// Operators and nodes. A staker proposes one operator (the node's hot key) with
/// `bondOperator`; the bond takes effect only when that operator consents by registering the
/// node for this staker (`registerNode`), so nobody can bond an address that did not agree, and a
/// pending proposal blocks nothing. A new bond may be proposed `minBondSeconds` after the last
/// bond (anti-churn); unbonding (`bondOperator(address(0))`) is always allowed and also retires
/// the node's stamp key (the cold key's cut-off of a compromised node, see "Stamp keys").
/// An address cannot be both staker and operator. The registration publishes the node's HTTP
/// endpoint and its two Umbral public keys (both checked to be curve points), with a proof of
/// possession of the verifying (stamp) key: an ECDSA signature by that key, over SHA-256 as
/// Umbral's Signer computes it, of `KEY_PROOF_TAG ‖ chainid ‖ escrow ‖ staker ‖ operator`.
///
/// Stamp keys. A stamp carries the period its node signed it in (src/protocol/stamp.ts). Each
/// stamp key (by its Ethereum address) of a staker has a validity window of periods
/// [validFrom, validUntil): it opens when the key is registered and closes when the key is
/// retired, by a rotation (registering another key; allowed at any time) or by the staker
/// unbonding its operator. Retirement in period R closes the window at R + 1: stamps dated R
/// still count, later ones never do. Counting the retirement period keeps a node that lies and
/// retires in the same period slashable; a leaked key could have forged stamps dated R before
/// the cut-off anyway, and what those cost is bounded by the slash rate below. A retired key can never be registered again by the same staker (its window
/// would reopen). Windows never shrink once a stamp falls inside them, so a stamp the client
/// checked (`isStampKey`) stays valid until its slashing window ends. Lookup is one storage read
/// by the recovered signer (the current key lives in the node's slot), never a loop.
///
/// Slashing window. Evidence against a node (a stamp dated s by one of its keys valid at s) can be
/// submitted in periods s..s + G, G = `slashingGracePeriods`; a stamp dated in the future never
/// counts. An unlocking stake stays slashable, and cannot be withdrawn, until G periods after its
/// unlock period U, so a stamp from the last locked period U − 1 can be used against it to the
/// end. A guardian's pause that meets a window extends it by the pause's length.
///
/// Slash rate. A staker is slashed at most MAX_SLASHES_PER_PERIOD times per period (the period
/// of the slash, whatever the evidence's date); evidence that meets the limit reverts unspent
/// (`SlashRateLimited`) and can be filed in a later period of its window. Each stamped message
/// slashes at most once (the Adjudicator's replay guard), so junk filed first by a lying node's
/// friend costs it what real evidence would (the same penalties at the same rate), and real
/// evidence held back waits for a free slot within its window. A thief holding a
/// leaked stamp key causes at most MAX_SLASHES_PER_PERIOD slashes per period until the staker's
/// cut-off, and after it only while stamps dated through the retirement period are still
/// within their window (G + 1 periods): a bound where one leaked key could otherwise forge
/// distinct stamps without limit.
///
/// Health checks. A node judged unhealthy loses what it earned since its last check, even
/// if it already claimed it: the escrow tracks, per tracked staker, `claimed` (all rewards ever
/// claimed, to the wallet or restaked) and `checkpoint` (the value of `claimed + unclaimed` at
/// the last check). `forfeitRewards` takes `claimed + unclaimed − checkpoint` from the unclaimed
/// rewards first and the rest from the stake (as a slash would), so claiming or restaking
/// between being drawn as a target and the verdict saves nothing. Tracking starts when the
/// health check first enrolls the node (`markChecked`), so only enrolled nodes pay the
/// extra storage write when they claim; `markChecked` moves the checkpoint after a healthy verdict.
///
/// Roles (OpenZeppelin AccessControl). The deployer holds DEFAULT_ADMIN_ROLE only while wiring:
/// later contracts need this escrow's address in their constructors, so the admin grants their
/// roles after deploying them, then hands DEFAULT_ADMIN_ROLE to a self-administered
/// TimelockController and renounces it (deploy/network.ts). SLASHER_ROLE: the adjudicators
/// (`slash`, `payInvestigator`; the escrow counts each node's slashes for their penalty
/// formulas); REWARD_FORFEITER_ROLE: the health check (`forfeitRewards`, `markChecked`);
/// LEAK_FORFEITER_ROLE: the LeakAdjudicator (`forfeitForLeak`: bounded per arrangement by the
/// caller, no violation counted, no slash rate used);
/// GUARDIAN_ROLE: may only pause slashing and forfeiture, once until re-armed (`pauseSlashing`).
/// What the escrow trusts its callers for, and what it does not: a slasher is trusted to judge
/// evidence and size penalties, never for the escrow's own rules. The escrow itself caps every
/// slash at `slashableStake` (the slashing window), lets each slasher pay out only the
/// investigator rewards its own slashes withheld (`owedBy`), and refuses every hook while
/// paused. The admin (timelock, after its delay) can revoke a bad slasher's role, but once the
/// escrow has been handed on, nobody can grant SLASHER_ROLE, LEAK_FORFEITER_ROLE or
/// REWARD_FORFEITER_ROLE again (`slashingRolesSealed`): the slashing rules a staker locked under
/// are the only ones that apply.
contract StakingEscrow is IStakingEscrow, AccessControl, ReentrancyGuardTransient {
    using SafeCast for uint256;

    /// @notice Role allowed to call `slash` (the adjudicator).
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// @notice Role allowed to call `forfeitRewards` (the health check).
    bytes32 public constant REWARD_FORFEITER_ROLE = keccak256("REWARD_FORFEITER_ROLE");
    /// @notice Role allowed to call `forfeitForLeak` (the leak adjudicator): stake forfeits that
    /// are bounded per arrangement by the adjudicator and neither count as violations nor use the
    /// slash rate (issue #14).
    bytes32 public constant LEAK_FORFEITER_ROLE = keccak256("LEAK_FORFEITER_ROLE");
    /// @notice Role allowed to pause slashing and forfeiture (`pauseSlashing`), nothing else.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /// @notice Longest lock in periods (storage packs D in 16 bits).
    uint256 public constant MAX_LOCK_PERIODS = type(uint16).max;
    /// @notice No issuance while the total weight is below this (keeps the accumulator's
    /// growth per issued token bounded, so it fits its packed 112 bits).
    uint256 public constant MIN_ISSUANCE_WEIGHT = 1e20;
    /// @notice Lock-duration coefficient floor: weight = amount·(KAPPA_FLOOR + min(weeks, 52)).
    uint256 public constant KAPPA_FLOOR = 52;
    /// @notice Maximum length in bytes of a node's endpoint.
    uint256 public constant MAX_ENDPOINT_LENGTH = 256;
    /// @notice Most slashes of one staker per period, whoever slashes (see "Slash rate").
    uint256 public constant MAX_SLASHES_PER_PERIOD = 2;
    /// @notice Domain tag of the stamp key's proof of possession (see the contract notice).
    bytes16 public constant KEY_PROOF_TAG = "NKMS-NODE-KEY-V1";

    uint256 private constant WAD = 1e18;
    uint256 private constant ACC_SCALE = 1e22;
    uint256 private constant WEEK = 7 days;
    /// @dev secp256k1 field prime, and (P + 1) / 4 (square roots, since P ≡ 3 mod 4).
    uint256 private constant FIELD_P = Secp256k1.P;
    uint256 private constant SQRT_EXP = 0x3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFBFFFFF0C;

    /// @notice The staked token (also the reward token).
    NKMSToken public immutable token;
    /// @inheritdoc IStakingEscrow
    uint32 public immutable secondsPerPeriod;
    /// @notice Smallest stake a deposit (or relock) may leave.
    uint96 public immutable minStake;
    /// @notice Largest stake.
    uint96 public immutable maxStake;
    /// @notice Shortest lock, in periods.
    uint16 public immutable minLockPeriods;
    /// @notice Seconds that must pass after a bond before the staker may bond another operator.
    uint32 public immutable minBondSeconds;
    /// @notice Fraction of the remaining reserve issued per period (18 decimals).
    uint256 public immutable issuanceRate;
    /// @notice G: periods an unlocking stake stays slashable after its unlock period, and periods
    /// after its own period that a stamp still counts as evidence.
    uint16 public immutable slashingGracePeriods;

    /// @dev Two slots per staker. `rewardPerWeightPaid` is the accumulator value up to which
    /// `rewards` has been credited.
    struct Staker {
        uint96 amount;
        address operator;
        uint16 lockPeriods;
        uint32 unlockPeriod; // 0 while rolling
        uint112 rewardPerWeightPaid;
        uint96 rewards;
    }

    /// @dev Health-check bookkeeping of one staker (one slot). `tracked` makes the slot non-zero
    /// from the start, so a claim updates it for 5k gas instead of 22k.
    struct CheckState {
        uint128 claimed; // rewards claimed since tracking started
        uint120 checkpoint; // claimed + unclaimed rewards at the last check
        bool tracked;
    }

    struct OperatorBond {
        address staker;
        uint32 bondedAt;
    }

    /// @dev One per staker (the bonded operator's registration; its retired stamp keys stay
    /// in `_retiredStampKeys` so their stamps stay provable).
    struct Node {
        bytes32 encryptingKeyX;
        bytes32 verifyingKeyX;
        address stampSigner; // Ethereum address of the current stamp key; zero once retired
        uint32 stampSignerSince; // period from which it is the current key
        uint8 encryptingKeyPrefix; // 0 until registered
        uint8 verifyingKeyPrefix;
        // Slashes so far (saturating), and the slashes of the period of the last slash. In the
        // slot `isStampKey` reads, so the adjudicator's slash finds it warm and counts for 2.9k
        // gas where a fresh counter slot costs 22.1k.
        uint16 violations;
        uint24 lastSlashPeriod; // currentPeriod() mod 2²⁴ at the last slash (compared for equality only)
        uint8 slashesInPeriod; // slashes in lastSlashPeriod
        uint32 lastBondAt; // when the staker's last bond took effect (anti-churn for the next one)
        string endpoint;
    }

    /// @dev One slot, read and written once by every reward-changing transaction: the
    /// accumulator, the period it was last brought up to date, the sum of rolling weights.
    struct RewardState {
        uint112 rewardPerWeight;
        uint32 lastPeriod;
        uint104 totalWeight;
    }

    /// @dev One slot: the unissued reserve, the sum of rolling amounts and the last slashing
    /// pause [pauseStart, pauseEnd) in unix seconds (0, 0: never paused). The pause sits in the
    /// slot `slash` and `forfeitRewards` write anyway, so checking it costs them ~100 gas.
    struct Totals {
        uint96 reserve;
        uint96 locked;
        uint32 pauseStart;
        uint32 pauseEnd;
    }

    /// @notice Staker view returned by `stakeOf`.
    struct StakeInfo {
        uint256 amount;
        uint32 lockPeriods;
        uint32 unlockPeriod;
        address operator;
        uint256 weight;
        uint256 rewards;
    }

    mapping(address staker => Staker) private _stakers;
    mapping(address operator => OperatorBond) private _bonds;
    mapping(address staker => Node) private _nodes;
    /// @notice The operator each staker proposed and that has not consented yet (zero: none).
    mapping(address staker => address operator) public pendingOperatorOf;
    mapping(address staker => CheckState) private _checks;
    /// @dev Window of each retired stamp key, packed by `_packWindow` (never zero once set).
    mapping(address staker => mapping(address signer => uint64 window)) private _retiredStampKeys;
    /// @notice The staker that registered stamp key `signer` first: set once, kept after the key
    /// retires, so one key never serves two stakers (issue #16).
    mapping(address signer => address staker) public stampKeyOwnerOf;

    RewardState private _rewardState;
    Totals private _totals;
    /// @dev Rewards withheld by each slasher's slashes and not yet paid, plus 1 once the slasher
    /// was granted its role (so its first slash writes a non-zero slot: 2.9k gas, not 22.1k).
    mapping(address slasher => uint256 owedPlusOne) private _owed;
    /// @dev Set when DEFAULT_ADMIN_ROLE is first handed on after construction (see `_grantRole`).
    bool private _slashingRolesSealed;
    /// @dev The guardian used its pause; `liftPause` (admin) re-arms it.
    bool private _guardianSpent;

    /// @notice Reserve tokens issued for the periods up to `period`.
    event RewardsIssued(uint32 indexed period, uint256 amount);
    event Deposited(address indexed staker, uint256 amount, uint32 lockPeriods);
    event Increased(address indexed staker, uint256 amount, uint256 newAmount);
    event Prolonged(address indexed staker, uint32 lockPeriods);
    event UnlockStarted(address indexed staker, uint32 unlockPeriod);
    event Relocked(address indexed staker, uint32 lockPeriods);
    event Withdrawn(address indexed staker, uint256 amount, uint256 remaining);
    /// @notice `staker` proposed `operator` (zero: withdrew its proposal); it bonds on registration.
    event OperatorProposed(address indexed staker, address indexed operator);
    event OperatorBonded(address indexed staker, address indexed operator, address previousOperator);
    event NodeRegistered(
        address indexed staker, address indexed operator, string endpoint, bytes encryptingKey, bytes verifyingKey
    );
    /// @notice `signer` became `staker`'s current stamp key: stamps dated `validFrom` on count.
    event StampKeyActivated(address indexed staker, address indexed signer, uint32 validFrom);
    /// @notice `staker`'s stamp key `signer` retired: it counts for stamps dated in
    /// [validFrom, validUntil) only, and can never be registered again by `staker`.
    event StampKeyRetired(address indexed staker, address indexed signer, uint32 validFrom, uint32 validUntil);
    event RewardsClaimed(address indexed staker, uint256 amount, bool restaked);
    /// @notice `amount` of `staker`'s stake was slashed: `withheld` of it is owed to the slasher's
    /// investigator (paid later by `payInvestigator`), the rest went back to the reserve.
    event Slashed(address indexed staker, uint256 amount, uint256 withheld, uint256 violations);
    /// @notice A health check took `amount` (earned since the staker's last check) back to the
    /// reserve; `fromStake` of it came out of the stake because it had already been claimed.
    event RewardsForfeited(address indexed staker, uint256 amount);
    event ForfeitedFromStake(address indexed staker, uint256 fromStake);
    /// @notice The leak adjudicator took `amount` of `staker`'s stake back to the reserve.
    event LeakForfeited(address indexed staker, uint256 amount);
    /// @notice The staker passed a health check; rewards earned up to `earned` are safe now.
    event HealthCheckpoint(address indexed staker, uint256 earned);
    /// @notice A slasher paid `amount` of the withheld slashing rewards to `investigator`.
    event InvestigatorPaid(address indexed investigator, uint256 amount);
    /// @notice `guardian` paused slashing and forfeiture from `start` until `until` (unix seconds);
    /// stakes whose slashing window met the pause stay slashable `until − start` longer.
    event SlashingPaused(address indexed guardian, uint256 start, uint256 until);
    /// @notice SLASHER_ROLE, LEAK_FORFEITER_ROLE and REWARD_FORFEITER_ROLE can never be granted again (only revoked).
    event SlashingRolesSealed();
    /// @notice The admin lifted the slashing pause (if any) and re-armed the guardian.
    event SlashingPauseLifted(uint256 pauseEnd);

    error InvalidParameters();
    error ZeroAmount();
    error ZeroAddress();
    error StakeBelowMinimum(uint256 amount, uint256 minimum);
    error StakeAboveMaximum(uint256 amount, uint256 maximum);
    error LockTooShort(uint256 lockPeriods, uint256 minimum);
    error LockTooLong(uint256 lockPeriods, uint256 maximum);
    error AlreadyStaking(address staker);
    error NotStaker(address account);
    error OperatorCannotStake(address operator);
    error StakeUnlocking(uint32 unlockPeriod);
    error UnlockNotStarted();
    error LockNotOver(uint32 unlockPeriod, uint32 currentPeriod);
    error InsufficientUnlocked(uint256 requested, uint256 available);
    error SameOperator(address operator);
    error OperatorAlreadyBonded(address operator, address staker);
    error OperatorIsStaker(address operator);
    error BondTooRecent(uint256 earliestTimestamp);
    error NotBonded(address operator);
    error InvalidEndpoint();
    error InvalidPublicKey(bytes key);
    error InvalidKeyProof();
    error StampKeyWasRetired(address signer);
    error StampKeyTaken(address signer, address owner);
    error NothingToClaim();
    error RewardAboveSlashed(uint256 reward, uint256 slashed);
    /// @notice `staker` was slashed MAX_SLASHES_PER_PERIOD times this period; evidence can be
    /// filed again from `nextPeriod` (it stays valid through its window).
    error SlashRateLimited(address staker, uint32 nextPeriod);
    error RewardNotOwed(uint256 amount, uint256 owed);
    error SlashingIsPaused(uint256 until);
    error SlashingRoleIsSealed(bytes32 role);
    error PauseUnavailable();
    error WithdrawalDelayedByPause(uint256 until);

    /// @param token_ The NKMS token; this escrow must then be made its minter (`setMinter`).
    /// @param secondsPerPeriod_ Period length (7 days in production).
    /// @param minStake_ Minimum stake; at least MIN_ISSUANCE_WEIGHT / 52.
    /// @param maxStake_ Maximum stake.
    /// @param minLockPeriods_ Minimum lock in periods (≥ 1).
    /// @param minBondSeconds_ Minimum time between a bond and the next re-bond.
    /// @param issuanceRate_ Fraction of the remaining reserve issued per period (18 decimals, < 1).
    /// @param slashingGracePeriods_ G (≥ 1), see the contract notice.
    constructor(
        NKMSToken token_,
        uint32 secondsPerPeriod_,
        uint96 minStake_,
        uint96 maxStake_,
        uint16 minLockPeriods_,
        uint32 minBondSeconds_,
        uint256 issuanceRate_,
        uint16 slashingGracePeriods_
    ) {
        if (
            address(token_) == address(0) || secondsPerPeriod_ == 0 || minLockPeriods_ == 0
                || uint256(minStake_) * KAPPA_FLOOR < MIN_ISSUANCE_WEIGHT || maxStake_ < minStake_
                || issuanceRate_ >= WAD || slashingGracePeriods_ == 0
        ) revert InvalidParameters();
        token = token_;
        secondsPerPeriod = secondsPerPeriod_;
        minStake = minStake_;
        maxStake = maxStake_;
        minLockPeriods = minLockPeriods_;
        minBondSeconds = minBondSeconds_;
        issuanceRate = issuanceRate_;
        slashingGracePeriods = slashingGracePeriods_;
        // Nobody can mint before this escrow becomes the minter, so cap − supply is the reserve.
        _rewardState = RewardState({
            rewardPerWeight: 0,
            lastPeriod: uint32(block.timestamp / secondsPerPeriod_),
            totalWeight: 0
        });
        _totals.reserve = (token_.cap() - token_.totalSupply()).toUint96();
        // Not through the override: the deployer's own admin grant does not seal the wiring.
        super._grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
    }

    // ---------------------------------------------------------------- staking

    /// @notice Open a stake of `amount` tokens locked for `lockPeriods` (rolling). Needs an
    /// allowance; see `depositWithPermit` for one transaction without `approve`.
    function deposit(uint256 amount, uint32 lockPeriods) external nonReentrant {
        _deposit(amount, lockPeriods);
    }

    /// @notice `deposit` authorised by an EIP-2612 permit signature for `amount`.
    /// @dev A permit already consumed (e.g. front-run) is ignored; the transfer then needs the
    /// allowance it granted.
    function depositWithPermit(uint256 amount, uint32 lockPeriods, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        _permit(amount, deadline, v, r, s);
        _deposit(amount, lockPeriods);
    }

    /// @notice Add `amount` tokens to the caller's stake (rolling or unlocking; same lock).
    function increase(uint256 amount) external nonReentrant {
        _increase(amount);
    }

    /// @notice `increase` authorised by an EIP-2612 permit signature for `amount`.
    function increaseWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        _permit(amount, deadline, v, r, s);
        _increase(amount);
    }

    /// @notice Lengthen the caller's rolling lock by `extraPeriods` (raises its reward weight
    /// while the lock is under 52 weeks).
    function prolong(uint32 extraPeriods) external {
        if (extraPeriods == 0) revert ZeroAmount();
        Staker memory st = _stakers[msg.sender];
        if (st.amount == 0) revert NotStaker(msg.sender);
        if (st.unlockPeriod != 0) revert StakeUnlocking(st.unlockPeriod);
        uint256 newLock = uint256(st.lockPeriods) + extraPeriods;
        if (newLock > MAX_LOCK_PERIODS) revert LockTooLong(newLock, MAX_LOCK_PERIODS);
        uint256 oldWeight = _weight(st);
        uint256 newWeight = uint256(st.amount) * _kappa(newLock);
        if (newWeight != oldWeight) {
            RewardState memory rs = _rewardState;
            _checkpoint(rs);
            _settle(st, oldWeight, rs.rewardPerWeight);
            rs.totalWeight = (rs.totalWeight + newWeight - oldWeight).toUint104();
            _rewardState = rs;
        }
        st.lockPeriods = uint16(newLock);
        _stakers[msg.sender] = st;
        emit Prolonged(msg.sender, uint32(newLock));
    }

    /// @notice Start unlocking: the whole stake becomes withdrawable at period
    /// `currentPeriod() + lockPeriods`. From now on it earns no rewards and is not in `totalLocked`.
    function startUnlock() external {
        Staker memory st = _stakers[msg.sender];
        if (st.amount == 0) revert NotStaker(msg.sender);
        if (st.unlockPeriod != 0) revert StakeUnlocking(st.unlockPeriod);
        uint256 weight = _weight(st);
        RewardState memory rs = _rewardState;
        _checkpoint(rs);
        _settle(st, weight, rs.rewardPerWeight);
        rs.totalWeight -= uint104(weight);
        _rewardState = rs;
        _totals.locked -= st.amount;
        uint32 unlockPeriod = currentPeriod() + st.lockPeriods;
        st.unlockPeriod = unlockPeriod;
        _stakers[msg.sender] = st;
        emit UnlockStarted(msg.sender, unlockPeriod);
    }

    /// @notice Cancel unlocking (even after the unlock period): the stake rolls again with its
    /// lock of `lockPeriods` and earns rewards again. Needs at least `minStake`.
    function relock() external {
        Staker memory st = _stakers[msg.sender];
        if (st.amount == 0) revert NotStaker(msg.sender);
        if (st.unlockPeriod == 0) revert UnlockNotStarted();
        if (st.amount < minStake) revert StakeBelowMinimum(st.amount, minStake);
        RewardState memory rs = _rewardState;
        _checkpoint(rs);
        _settle(st, 0, rs.rewardPerWeight);
        st.unlockPeriod = 0;
        rs.totalWeight = (rs.totalWeight + _weight(st)).toUint104();
        _rewardState = rs;
        _totals.locked += st.amount;
        _stakers[msg.sender] = st;
        emit Relocked(msg.sender, st.lockPeriods);
    }

    /// @notice Withdraw `amount` unlocked tokens once the stake's slashing window is over:
    /// `slashingGracePeriods` periods after the unlock period, plus the length of a slashing
    /// pause that met the window (`slashableUntil`); until then evidence may still slash the
    /// stake, so a pause never speeds a withdrawal. Withdrawing everything closes the stake;
    /// rewards not yet claimed stay claimable.
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Staker storage st = _stakers[msg.sender];
        uint96 staked = st.amount;
        uint32 unlockPeriod = st.unlockPeriod;
        if (staked == 0) revert NotStaker(msg.sender);
        if (unlockPeriod == 0) revert UnlockNotStarted();
        uint32 period = currentPeriod();
        uint32 withdrawable = unlockPeriod + slashingGracePeriods;
        if (period < withdrawable) revert LockNotOver(withdrawable, period);
        uint256 until = _slashableUntil(unlockPeriod);
        if (block.timestamp < until) revert WithdrawalDelayedByPause(until);
        if (amount > staked) revert InsufficientUnlocked(amount, staked);
        // An unlocking stake has zero weight, so neither the accumulator nor its rewards move.
        uint96 remaining = staked - uint96(amount);
        st.amount = remaining;
        if (remaining == 0) {
            st.lockPeriods = 0;
            st.unlockPeriod = 0;
        }
        emit Withdrawn(msg.sender, amount, remaining);
        _transferOut(msg.sender, amount);
    }

    // ---------------------------------------------------------------- rewards

    /// @notice Claim the caller's accrued rewards: to the wallet, or (`restake`) added to the stake.
    /// @return amount The rewards claimed.
    function claimRewards(bool restake) external nonReentrant returns (uint256 amount) {
        Staker memory st = _stakers[msg.sender];
        RewardState memory rs = _rewardState;
        uint256 weight = _weight(st);
        _checkpoint(rs);
        _settle(st, weight, rs.rewardPerWeight);
        amount = st.rewards;
        if (amount == 0) revert NothingToClaim();
        st.rewards = 0;
        CheckState storage cs = _checks[msg.sender];
        if (cs.tracked) cs.claimed += uint128(amount);
        if (restake) {
            if (st.amount == 0) revert NotStaker(msg.sender);
            uint256 newAmount = uint256(st.amount) + amount;
            if (newAmount > maxStake) revert StakeAboveMaximum(newAmount, maxStake);
            st.amount = uint96(newAmount);
            if (st.unlockPeriod == 0) {
                rs.totalWeight = (rs.totalWeight + _weight(st) - weight).toUint104();
                _totals.locked += uint96(amount);
            }
        }
        _rewardState = rs;
        _stakers[msg.sender] = st;
        emit RewardsClaimed(msg.sender, amount, restake);
        if (!restake) _transferOut(msg.sender, amount);
    }

    // ---------------------------------------------------------------- operators and nodes

    /// @notice Propose `operator` as the caller's node key; the bond takes effect when the
    /// operator consents by calling `registerNode` for the caller (until then the current bond,
    /// if any, stays). A proposal is possible `minBondSeconds` after the caller's last bond took
    /// effect. The operator must not be a staker nor bonded to another staker.
    /// Zero address: the cold key's cut-off, always allowed at once: drops any proposal, unbonds
    /// the operator and retires the node's stamp key (stamps dated after the current period never
    /// count; see "Stamp keys"). The anti-churn delay then applies to the next bond.
    /// @dev Trusts nobody: `msg.sender` acts on its own stake only.
    function bondOperator(address operator) external {
        Staker storage st = _stakers[msg.sender];
        address current = st.operator;
        if (operator == address(0)) {
            if (current == address(0) && pendingOperatorOf[msg.sender] == address(0)) revert SameOperator(operator);
            delete pendingOperatorOf[msg.sender];
            emit OperatorProposed(msg.sender, address(0));
            if (current != address(0)) {
                delete _bonds[current];
                st.operator = address(0);
                emit OperatorBonded(msg.sender, address(0), current);
                Node storage node = _nodes[msg.sender];
                address signer = node.stampSigner;
                if (signer != address(0)) {
                    _retireStampKey(node, msg.sender, signer);
                    node.stampSigner = address(0);
                }
            }
            return;
        }
        if (operator == current || operator == pendingOperatorOf[msg.sender]) revert SameOperator(operator);
        if (st.amount == 0) revert NotStaker(msg.sender);
        _checkRebond(msg.sender);
        _checkBondable(operator);
        pendingOperatorOf[msg.sender] = operator;
        emit OperatorProposed(msg.sender, operator);
    }

    /// @notice Publish (or update) `staker`'s node, sent by its operator: its HTTP endpoint and
    /// its Umbral public keys, each a 33-byte compressed secp256k1 point (prefix 0x02/0x03) that
    /// must lie on the curve. Sent by the operator `staker` proposed, it also confirms the bond.
    /// @param keyProof 64-byte r‖s: the verifying key's ECDSA signature (over SHA-256) of
    /// `KEY_PROOF_TAG ‖ chainid ‖ this escrow ‖ staker ‖ operator` (see `keyProofDigest`).
    /// @dev A new verifying key is accepted at any time and retires the current one (its stamps
    /// dated up to the current period keep counting, `isStampKey`); a key this staker retired
    /// before is refused (`StampKeyWasRetired`). Trusts the caller only as the staker's operator (or
    /// the one it proposed), and the keys only through the curve checks and the key proof.
    function registerNode(
        address staker,
        string calldata endpoint,
        bytes calldata encryptingKey,
        bytes calldata verifyingKey,
        bytes calldata keyProof
    ) external {
        _bondOnConsent(staker);
        uint256 length = bytes(endpoint).length;
        if (length == 0 || length > MAX_ENDPOINT_LENGTH) revert InvalidEndpoint();
        Node storage node = _nodes[staker];
        _setKeys(node, staker, encryptingKey, verifyingKey, keyProof);
        node.endpoint = endpoint;
        emit NodeRegistered(staker, msg.sender, endpoint, encryptingKey, verifyingKey);
    }

    // ---------------------------------------------------------------- hooks

    /// @inheritdoc IStakingEscrow
    /// @dev Never more than `slashableStake`: the escrow enforces its slashing window itself.
    /// The whole slashed amount is burned; only `slashed − reward` goes back to the reserve, so
    /// `reward` stays owed (to this slasher's investigators) outside both supply and reserve:
    /// cap = supply + reserve + Σ owedBy. Reverts `SlashingIsPaused` during a guardian's pause.
    function slash(address staker, uint256 penalty, uint256 reward)
        external
        onlyRole(SLASHER_ROLE)
        nonReentrant
        returns (uint256 slashed, uint256 violations)
    {
        _whenNotPaused();
        Staker memory st = _stakers[staker];
        Node storage node = _nodes[staker];
        slashed = Math.min(penalty, _slashable(st));
        if (slashed == 0) return (0, node.violations);
        if (reward > slashed) revert RewardAboveSlashed(reward, slashed);
        _countSlash(node, staker);
        RewardState memory rs = _rewardState;
        uint256 oldWeight = _weight(st);
        _checkpoint(rs);
        _settle(st, oldWeight, rs.rewardPerWeight);
        _reduceStake(st, rs, oldWeight, slashed);
        _rewardState = rs;
        _stakers[staker] = st;
        violations = node.violations;
        if (violations < type(uint16).max) node.violations = uint16(++violations);
        emit Slashed(staker, slashed, reward, violations);
        if (reward != 0) _owed[msg.sender] += reward;
        _totals.reserve += uint96(slashed - reward);
        token.burn(slashed);
    }

    /// @inheritdoc IStakingEscrow
    /// @dev Minted, never more than what this slasher's own slashes withheld (`owedBy`), so one
    /// slasher cannot pay out what another's investigators are owed, the reserve stays fully
    /// issuable and the supply never passes the cap.
    function payInvestigator(address investigator, uint256 amount) external nonReentrant {
        if (investigator == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        uint256 owed = owedBy(msg.sender);
        if (amount > owed) revert RewardNotOwed(amount, owed);
        _owed[msg.sender] -= amount;
        emit InvestigatorPaid(investigator, amount);
        token.mint(investigator, amount);
    }

    /// @notice Take back to the reserve what `staker` earned since its last health check: from
    /// its unclaimed rewards first, then (for what it already claimed or restaked) from its stake,
    /// never more than the stake. An untracked staker loses its unclaimed rewards only. Resets the
    /// checkpoint. Health check only (REWARD_FORFEITER_ROLE); reverts `SlashingIsPaused` during a
    /// guardian's pause.
    /// @return forfeited The amount taken (rewards and stake together).
    function forfeitRewards(address staker)
        external
        onlyRole(REWARD_FORFEITER_ROLE)
        nonReentrant
        returns (uint256 forfeited)
    {
        _whenNotPaused();
        Staker memory st = _stakers[staker];
        RewardState memory rs = _rewardState;
        uint256 oldWeight = _weight(st);
        _checkpoint(rs);
        _settle(st, oldWeight, rs.rewardPerWeight);
        CheckState memory cs = _checks[staker];
        uint256 due = _sinceCheck(cs, st.rewards);
        uint256 fromRewards = Math.min(due, st.rewards);
        uint256 fromStake = Math.min(due - fromRewards, st.amount);
        st.rewards -= uint96(fromRewards);
        if (fromStake != 0) _reduceStake(st, rs, oldWeight, fromStake);
        _rewardState = rs;
        _stakers[staker] = st;
        cs.checkpoint = (uint256(cs.claimed) + st.rewards).toUint120();
        cs.tracked = true;
        _checks[staker] = cs;
        forfeited = fromRewards + fromStake;
        if (forfeited != 0) {
            emit RewardsForfeited(staker, forfeited);
            if (fromStake != 0) emit ForfeitedFromStake(staker, fromStake);
            _returnToReserve(forfeited);
        }
    }

    /// @notice Take up to `amount` of `staker`'s slashable stake (`slashableStake`) back to the
    /// reserve for a proven kfrag leak. Leak forfeiter only (the LeakAdjudicator); reverts
    /// `SlashingIsPaused` during a guardian's pause. Unlike `slash` it counts no violation and
    /// uses none of the slash rate: what a leak costs is bounded per arrangement by the fees the
    /// node earned on it (the caller's rule, see LeakAdjudicator), because the policy owner, who
    /// made the kfrag, can always reveal it herself; so it must not raise the Adjudicator's
    /// history term nor spend the slots real evidence of lies needs. The escrow trusts the caller
    /// for the amount and enforces only the slashing window and the pause.
    /// @return forfeited The amount taken (never more than the slashable stake).
    function forfeitForLeak(address staker, uint256 amount)
        external
        onlyRole(LEAK_FORFEITER_ROLE)
        nonReentrant
        returns (uint256 forfeited)
    {
        _whenNotPaused();
        Staker memory st = _stakers[staker];
        forfeited = Math.min(amount, _slashable(st));
        if (forfeited == 0) return 0;
        RewardState memory rs = _rewardState;
        uint256 oldWeight = _weight(st);
        _checkpoint(rs);
        _settle(st, oldWeight, rs.rewardPerWeight);
        _reduceStake(st, rs, oldWeight, forfeited);
        _rewardState = rs;
        _stakers[staker] = st;
        emit LeakForfeited(staker, forfeited);
        _returnToReserve(forfeited);
    }

    /// @notice Record that `staker` passed a health check, or (first call) start tracking its
    /// claims: what it earned so far can no longer be forfeited. Health check only
    /// (REWARD_FORFEITER_ROLE).
    /// @return earned The staker's claimed + unclaimed rewards recorded as the new checkpoint.
    function markChecked(address staker) external onlyRole(REWARD_FORFEITER_ROLE) returns (uint256 earned) {
        CheckState memory cs = _checks[staker];
        earned = _earned(staker, cs);
        cs.checkpoint = earned.toUint120();
        cs.tracked = true;
        _checks[staker] = cs;
        emit HealthCheckpoint(staker, earned);
    }

    // ---------------------------------------------------------------- pause

    /// @notice Pause `slash` and `forfeitRewards` (so every adjudicator's and the health check's
    /// penalties) for G periods (`slashingGracePeriods · secondsPerPeriod`), the time the admin
    /// (the timelock) needs to replace a bad slasher. Guardian only, once until the admin
    /// re-arms it with `liftPause`: the guardian can neither extend nor renew its pause, nor
    /// lift it, slash or move funds. A pause never speeds a withdrawal: an unlocking stake whose
    /// slashing window meets the pause stays slashable, and locked, the pause's length longer
    /// (`slashableUntil`). A new pause while the last one's compensation may still be running
    /// merges with it (its start is kept), so no compensation is ever lost.
    function pauseSlashing() external onlyRole(GUARDIAN_ROLE) {
        if (_guardianSpent) revert PauseUnavailable();
        _guardianSpent = true;
        Totals storage t = _totals;
        uint256 grace = uint256(slashingGracePeriods) * secondsPerPeriod;
        uint256 start = t.pauseStart;
        uint256 end = t.pauseEnd;
        if (start == 0 || block.timestamp >= 2 * end - start + grace) start = block.timestamp;
        end = block.timestamp + grace;
        (t.pauseStart, t.pauseEnd) = (uint32(start), end.toUint32());
        emit SlashingPaused(msg.sender, start, end);
    }

    /// @notice End the slashing pause now (if any) and re-arm the guardian. Admin (timelock)
    /// only. The paused time so far still extends the slashing windows it met.
    function liftPause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _guardianSpent = false;
        Totals storage t = _totals;
        if (t.pauseEnd > block.timestamp) t.pauseEnd = uint32(block.timestamp);
        emit SlashingPauseLifted(t.pauseEnd);
    }

    /// @notice The current (or last) slashing pause, unix seconds (0, 0: never paused), and
    /// whether the guardian may pause now.
    function pauseState() external view returns (uint256 start, uint256 end, bool guardianArmed) {
        return (_totals.pauseStart, _totals.pauseEnd, !_guardianSpent);
    }

    /// @notice Until when (unix seconds) evidence of period `period` may slash: the start of
    /// period `period + G`, later by the length of the last slashing pause when that pause met
    /// the G periods before it. It is when a stake unlocking at `period` may leave, and the
    /// deadline adjudicators should give a stamp made in `period`, so a pause expires no evidence.
    function slashingDeadline(uint32 period) external view returns (uint256) {
        return _slashableUntil(period);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IStakingEscrow
    function currentPeriod() public view returns (uint32) {
        return uint32(block.timestamp / secondsPerPeriod);
    }

    /// @inheritdoc IStakingEscrow
    /// @dev A rolling stake is guaranteed locked through `currentPeriod() + lockPeriods − 1`
    /// (the staker could start unlocking right now); an unlocking one through `unlockPeriod − 1`.
    function lockedThrough(address staker, uint32 period) external view returns (uint256) {
        Staker storage st = _stakers[staker];
        uint256 end = st.unlockPeriod == 0 ? uint256(currentPeriod()) + st.lockPeriods : st.unlockPeriod;
        return period < end ? st.amount : 0;
    }

    /// @inheritdoc IStakingEscrow
    /// @dev The sum of rolling stakes. Stakes that have started unlocking are left out even
    /// though `lockedThrough` still reports them until their unlock period.
    function totalLocked() external view returns (uint256) {
        return _totals.locked;
    }

    /// @notice Sum of the reward weights of all rolling stakes.
    function totalWeight() external view returns (uint256) {
        return _rewardState.totalWeight;
    }

    /// @notice Unissued reserve as of the last update (token cap = total supply + reserve).
    function reserve() external view returns (uint256) {
        return _totals.reserve;
    }

    /// @notice The last period for which the reserve's issuance has been distributed.
    function lastRewardPeriod() external view returns (uint32) {
        return _rewardState.lastPeriod;
    }

    /// @inheritdoc IStakingEscrow
    function operatorOf(address staker) external view returns (address) {
        return _stakers[staker].operator;
    }

    /// @inheritdoc IStakingEscrow
    function stakerOf(address operator) external view returns (address) {
        return _bonds[operator].staker;
    }

    /// @notice When `operator` was bonded (unix seconds; 0 if not bonded).
    function bondedAt(address operator) external view returns (uint256) {
        return _bonds[operator].bondedAt;
    }

    /// @inheritdoc IStakingEscrow
    function isRegistered(address staker) external view returns (bool) {
        return _stakers[staker].operator != address(0) && _nodes[staker].encryptingKeyPrefix != 0;
    }

    /// @inheritdoc IStakingEscrow
    function nodeInfo(address staker)
        external
        view
        returns (string memory endpoint, bytes memory encryptingKey, bytes memory verifyingKey)
    {
        Node storage node = _nodes[staker];
        if (_stakers[staker].operator == address(0) || node.encryptingKeyPrefix == 0) return ("", "", "");
        return (
            node.endpoint,
            abi.encodePacked(node.encryptingKeyPrefix, node.encryptingKeyX),
            abi.encodePacked(node.verifyingKeyPrefix, node.verifyingKeyX)
        );
    }

    /// @inheritdoc IStakingEscrow
    /// @dev One SLOAD for the current key (the slot `slash` then finds warm), one more for a
    /// retired one. Independent of the bond: unbonding does not make past stamps unprovable.
    function isStampKey(address staker, address signer, uint32 period) external view returns (bool) {
        // Not older than G periods, extended by a pause that met those G periods as an unlocking
        // stake's window is (`_slashableUntil`): a pause never voids evidence.
        // A future period fails in `wasStampKey` first, so `period + 1` cannot overflow here.
        return wasStampKey(staker, signer, period) && block.timestamp < _slashableUntil(period + 1);
    }

    /// @notice Whether `signer` was `staker`'s stamp key in `period` (its validity window contains
    /// the period) and `period` is not in the future, whatever its age: `isStampKey` without the
    /// evidence-age limit. For kfrag receipts (LeakAdjudicator), which a node signs once at upload
    /// and which must stay usable for the whole arrangement; a retired key still signs nothing
    /// that counts for a period after its retirement.
    function wasStampKey(address staker, address signer, uint32 period) public view returns (bool) {
        if (signer == address(0) || period > currentPeriod()) return false;
        Node storage node = _nodes[staker];
        // The current key's window is open-ended; a retired key's (or none: 0, 0) is stored.
        if (signer == node.stampSigner) return node.stampSignerSince <= period;
        (uint32 validFrom, uint32 validUntil) = _unpackWindow(_retiredStampKeys[staker][signer]);
        return validFrom <= period && period < validUntil;
    }

    /// @inheritdoc IStakingEscrow
    function slashableStake(address staker) public view returns (uint256) {
        return _slashable(_stakers[staker]);
    }

    /// @inheritdoc IStakingEscrow
    function slashingStateOf(address staker) external view returns (uint256 stake, uint256 violations) {
        return (slashableStake(staker), _nodes[staker].violations);
    }

    /// @inheritdoc IStakingEscrow
    function owedInvestigatorRewards() public view returns (uint256) {
        return token.cap() - token.totalSupply() - _totals.reserve;
    }

    /// @notice Investigator rewards withheld by `slasher`'s slashes and not yet paid: the most
    /// it may pay with `payInvestigator`. They sum to `owedInvestigatorRewards`.
    function owedBy(address slasher) public view returns (uint256) {
        uint256 raw = _owed[slasher];
        return raw == 0 ? 0 : raw - 1;
    }

    /// @notice True once SLASHER_ROLE, LEAK_FORFEITER_ROLE and REWARD_FORFEITER_ROLE can no longer be granted (see
    /// `_grantRole`): set when DEFAULT_ADMIN_ROLE is first granted after construction.
    function slashingRolesSealed() external view returns (bool) {
        return _slashingRolesSealed;
    }

    /// @notice The SHA-256 digest a node's verifying key signs as its proof of possession.
    function keyProofDigest(address staker, address operator) public view returns (bytes32) {
        return sha256(abi.encodePacked(KEY_PROOF_TAG, block.chainid, address(this), staker, operator));
    }

    /// @notice The stake of `staker`, its current reward weight and its claimable rewards
    /// (including issuance not yet distributed).
    function stakeOf(address staker) external view returns (StakeInfo memory info) {
        Staker memory st = _stakers[staker];
        uint256 weight = _weight(st);
        info = StakeInfo({
            amount: st.amount,
            lockPeriods: st.lockPeriods,
            unlockPeriod: st.unlockPeriod,
            operator: st.operator,
            weight: weight,
            rewards: _pending(st, weight)
        });
    }

    /// @notice Rewards `staker` could claim now (including issuance not yet distributed).
    function pendingRewards(address staker) external view returns (uint256) {
        Staker memory st = _stakers[staker];
        return _pending(st, _weight(st));
    }

    /// @notice The staker's health-check bookkeeping: whether its claims are tracked, rewards
    /// claimed since tracking started, and the claimed + unclaimed total at its last check.
    function checkStateOf(address staker) external view returns (bool tracked, uint256 claimed, uint256 checkpoint) {
        CheckState memory cs = _checks[staker];
        return (cs.tracked, cs.claimed, cs.checkpoint);
    }

    /// @notice Reward weight of a rolling stake of `amount` locked `lockPeriods`.
    function weightOf(uint256 amount, uint256 lockPeriods) external view returns (uint256) {
        return amount * _kappa(lockPeriods);
    }

    // ---------------------------------------------------------------- internals

    function _deposit(uint256 amount, uint32 lockPeriods) private {
        Staker memory st = _stakers[msg.sender];
        if (st.amount != 0) revert AlreadyStaking(msg.sender);
        if (_bonds[msg.sender].staker != address(0)) revert OperatorCannotStake(msg.sender);
        if (amount < minStake) revert StakeBelowMinimum(amount, minStake);
        if (amount > maxStake) revert StakeAboveMaximum(amount, maxStake);
        if (lockPeriods < minLockPeriods) revert LockTooShort(lockPeriods, minLockPeriods);
        if (lockPeriods > MAX_LOCK_PERIODS) revert LockTooLong(lockPeriods, MAX_LOCK_PERIODS);
        RewardState memory rs = _rewardState;
        _checkpoint(rs);
        _settle(st, 0, rs.rewardPerWeight);
        st.amount = uint96(amount);
        st.lockPeriods = uint16(lockPeriods);
        st.unlockPeriod = 0;
        rs.totalWeight = (rs.totalWeight + _weight(st)).toUint104();
        _rewardState = rs;
        _totals.locked += uint96(amount);
        _stakers[msg.sender] = st;
        emit Deposited(msg.sender, amount, lockPeriods);
        _transferIn(amount);
    }

    function _increase(uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        Staker memory st = _stakers[msg.sender];
        if (st.amount == 0) revert NotStaker(msg.sender);
        uint256 newAmount = uint256(st.amount) + amount;
        if (newAmount > maxStake) revert StakeAboveMaximum(newAmount, maxStake);
        if (st.unlockPeriod == 0) {
            RewardState memory rs = _rewardState;
            uint256 oldWeight = _weight(st);
            _checkpoint(rs);
            _settle(st, oldWeight, rs.rewardPerWeight);
            st.amount = uint96(newAmount);
            rs.totalWeight = (rs.totalWeight + _weight(st) - oldWeight).toUint104();
            _rewardState = rs;
            _totals.locked += uint96(amount);
        } else {
            st.amount = uint96(newAmount);
        }
        _stakers[msg.sender] = st;
        emit Increased(msg.sender, amount, newAmount);
        _transferIn(amount);
    }

    /// @dev Bring `rs` (in memory; the caller stores it) up to the current period: distribute
    /// the issuance of the periods elapsed since the last update among `rs.totalWeight`, the
    /// weight that held during them, and mint it into the escrow.
    function _checkpoint(RewardState memory rs) private {
        uint32 period = currentPeriod();
        if (period == rs.lastPeriod) return;
        uint256 elapsed = period - rs.lastPeriod;
        rs.lastPeriod = period;
        if (rs.totalWeight < MIN_ISSUANCE_WEIGHT) return;
        uint256 reserve_ = _totals.reserve;
        uint256 issued = _issuance(reserve_, elapsed);
        if (issued == 0) return;
        _totals.reserve = uint96(reserve_ - issued);
        rs.rewardPerWeight = (rs.rewardPerWeight + (issued * ACC_SCALE) / rs.totalWeight).toUint112();
        emit RewardsIssued(period, issued);
        token.mint(address(this), issued);
    }

    /// @dev reserve·(1 − (1 − r)^elapsed). The power is rounded up at every step (so it is at
    /// least the exact (1 − r)^elapsed) and so is the remainder: every issuance, and so the
    /// issuance of any history of gaps, stays at or below the exact schedule. (Rounding the power
    /// down, as before, made a gap of k ≥ 5 periods issue more than R·(1 − (1 − r)^k).)
    function _issuance(uint256 reserve_, uint256 elapsed) private view returns (uint256) {
        if (reserve_ == 0) return 0;
        uint256 decay = DecayMath.wadPowUp(WAD - issuanceRate, elapsed);
        return reserve_ - Math.mulDiv(reserve_, decay, WAD, Math.Rounding.Ceil);
    }

    /// @dev Credit `st` with what `weight` earned since its last settlement (in memory).
    function _settle(Staker memory st, uint256 weight, uint256 acc) private pure {
        if (weight != 0) {
            st.rewards = (st.rewards + (weight * (acc - st.rewardPerWeightPaid)) / ACC_SCALE).toUint96();
        }
        st.rewardPerWeightPaid = uint112(acc);
    }

    function _pending(Staker memory st, uint256 weight) private view returns (uint256) {
        if (weight == 0) return st.rewards;
        RewardState memory rs = _rewardState;
        uint256 acc = rs.rewardPerWeight;
        uint32 period = currentPeriod();
        if (period != rs.lastPeriod && rs.totalWeight >= MIN_ISSUANCE_WEIGHT) {
            uint256 issued = _issuance(_totals.reserve, period - rs.lastPeriod);
            acc += (issued * ACC_SCALE) / rs.totalWeight;
        }
        return st.rewards + (weight * (acc - st.rewardPerWeightPaid)) / ACC_SCALE;
    }

    /// @dev The stake evidence can slash now: all of it while rolling, while locked, and until
    /// `_slashableUntil`; 0 afterwards.
    function _slashable(Staker memory st) private view returns (uint256) {
        uint32 unlockPeriod = st.unlockPeriod;
        if (unlockPeriod == 0 || block.timestamp < _slashableUntil(unlockPeriod)) return st.amount;
        return 0;
    }

    /// @dev End of the slashing window of a stake unlocking at `unlockPeriod`: the start of period
    /// unlockPeriod + G, plus the last pause's length when the pause met the window's last G
    /// periods [end − G, end) (evidence for a stamp made then could not be submitted meanwhile).
    function _slashableUntil(uint32 unlockPeriod) private view returns (uint256 end) {
        uint256 grace = uint256(slashingGracePeriods) * secondsPerPeriod;
        end = uint256(unlockPeriod) * secondsPerPeriod + grace;
        uint256 start = _totals.pauseStart;
        uint256 pauseEnd = _totals.pauseEnd;
        if (end > start && end < pauseEnd + grace) end += pauseEnd - start;
    }

    /// @dev At most MAX_SLASHES_PER_PERIOD slashes of one staker per period (of the slash, not of
    /// the evidence): evidence that meets the limit reverts unspent and slashes in a later period
    /// of its window. This bounds what a leaked stamp key costs (see "Slash rate" in the notice).
    function _countSlash(Node storage node, address staker) private {
        uint32 period = currentPeriod();
        uint24 tag = uint24(period);
        uint256 count = node.lastSlashPeriod == tag ? node.slashesInPeriod : 0;
        if (count >= MAX_SLASHES_PER_PERIOD) revert SlashRateLimited(staker, period + 1);
        node.lastSlashPeriod = tag;
        node.slashesInPeriod = uint8(count + 1);
    }

    /// @dev Reverts while a guardian's pause runs.
    function _whenNotPaused() private view {
        uint256 until = _totals.pauseEnd;
        if (block.timestamp < until) revert SlashingIsPaused(until);
    }

    /// @dev Powers that take from stakers are wired once: SLASHER_ROLE, LEAK_FORFEITER_ROLE and
    /// REWARD_FORFEITER_ROLE can be granted only until DEFAULT_ADMIN_ROLE is first granted after construction (the
    /// deployer handing the escrow to the timelock, deploy/network.ts). From then on the admin can
    /// revoke a bad slasher but never add one, so no governor, captured or not, can take stake
    /// that was locked under the slashing rules it saw: a governance delay shorter than a staker's
    /// exit (lock + grace periods) would otherwise protect nobody. New slashing rules mean a new
    /// escrow that stakers choose to move to. A new slasher's owed-rewards slot is made non-zero
    /// (see `_owed`).
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        if (role == SLASHER_ROLE || role == LEAK_FORFEITER_ROLE || role == REWARD_FORFEITER_ROLE) {
            if (_slashingRolesSealed) revert SlashingRoleIsSealed(role);
        } else if (role == DEFAULT_ADMIN_ROLE && !_slashingRolesSealed) {
            _slashingRolesSealed = true;
            emit SlashingRolesSealed();
        }
        granted = super._grantRole(role, account);
        if (role == SLASHER_ROLE && _owed[account] == 0) _owed[account] = 1;
    }

    /// @dev Take `amount` out of a settled stake (in memory), keeping totals consistent.
    function _reduceStake(Staker memory st, RewardState memory rs, uint256 oldWeight, uint256 amount) private {
        st.amount -= uint96(amount);
        if (st.unlockPeriod == 0) {
            rs.totalWeight = (rs.totalWeight + _weight(st) - oldWeight).toUint104();
            _totals.locked -= uint96(amount);
        }
    }

    /// @dev Claimed + unclaimed rewards (including issuance not yet distributed), for checkpoints.
    function _earned(address staker, CheckState memory cs) private view returns (uint256) {
        Staker memory st = _stakers[staker];
        return uint256(cs.claimed) + _pending(st, _weight(st));
    }

    /// @dev Earned since the checkpoint. Claims keep claimed + unclaimed constant and issuance only
    /// raises it, so it never falls below the checkpoint; saturate anyway. Untracked: unclaimed only.
    function _sinceCheck(CheckState memory cs, uint256 rewards) private pure returns (uint256) {
        if (!cs.tracked) return rewards;
        uint256 earned = uint256(cs.claimed) + rewards;
        return earned > cs.checkpoint ? earned - cs.checkpoint : 0;
    }

    function _weight(Staker memory st) private view returns (uint256) {
        return st.unlockPeriod == 0 ? uint256(st.amount) * _kappa(st.lockPeriods) : 0;
    }

    /// @dev 104·κ = 52 + min(weeks, 52), weeks = whole weeks in `lockPeriods` periods.
    function _kappa(uint256 lockPeriods) private view returns (uint256) {
        uint256 weeks_ = (lockPeriods * secondsPerPeriod) / WEEK;
        return KAPPA_FLOOR + (weeks_ < 52 ? weeks_ : 52);
    }

    function _permit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) private {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
    }

    /// @dev Our own token: reverts on failure and has no transfer hooks.
    function _transferIn(uint256 amount) private {
        token.transferFrom(msg.sender, address(this), amount);
    }

    function _transferOut(address to, uint256 amount) private {
        token.transfer(to, amount);
    }

    function _returnToReserve(uint256 amount) private {
        if (amount == 0) return;
        _totals.reserve += uint96(amount);
        token.burn(amount);
    }

    /// @dev `msg.sender` must be `staker`'s operator, or the one it proposed (then it bonds now).
    function _bondOnConsent(address staker) private {
        Staker storage st = _stakers[staker];
        address current = st.operator;
        if (current == msg.sender) return;
        if (pendingOperatorOf[staker] != msg.sender) revert NotBonded(msg.sender);
        if (st.amount == 0) revert NotStaker(staker);
        _checkBondable(msg.sender);
        delete pendingOperatorOf[staker];
        if (current != address(0)) delete _bonds[current];
        _bonds[msg.sender] = OperatorBond({staker: staker, bondedAt: uint32(block.timestamp)});
        _nodes[staker].lastBondAt = uint32(block.timestamp);
        st.operator = msg.sender;
        emit OperatorBonded(staker, msg.sender, current);
    }

    /// @dev Check and store both keys; a new stamp key retires the current one.
    function _setKeys(
        Node storage node,
        address staker,
        bytes calldata encryptingKey,
        bytes calldata verifyingKey,
        bytes calldata keyProof
    ) private {
        (uint8 encPrefix, bytes32 encX) = _splitKey(encryptingKey);
        _liftX(encPrefix, encX, encryptingKey);
        address signer = _keyProofSigner(staker, verifyingKey, keyProof);
        address current = node.stampSigner;
        if (signer != current) {
            // A retired key's window is closed for good: re-registering it must not reopen it.
            if (_retiredStampKeys[staker][signer] != 0) revert StampKeyWasRetired(signer);
            _claimStampKey(signer, staker);
            if (current != address(0)) _retireStampKey(node, staker, current);
            uint32 period = currentPeriod();
            node.stampSigner = signer;
            node.stampSignerSince = period;
            emit StampKeyActivated(staker, signer, period);
        }
        node.encryptingKeyX = encX;
        node.encryptingKeyPrefix = encPrefix;
        node.verifyingKeyX = bytes32(verifyingKey[1:33]);
        node.verifyingKeyPrefix = uint8(verifyingKey[0]);
    }

    /// @dev Record `staker` as the owner of stamp key `signer` for good; another staker's key reverts.
    function _claimStampKey(address signer, address staker) private {
        address owner = stampKeyOwnerOf[signer];
        if (owner == address(0)) stampKeyOwnerOf[signer] = staker;
        else if (owner != staker) revert StampKeyTaken(signer, owner);
    }

    /// @dev Close the window of `staker`'s current stamp key `signer` at the end of this period
    /// (the caller replaces or clears `node.stampSigner`).
    function _retireStampKey(Node storage node, address staker, address signer) private {
        uint32 validFrom = node.stampSignerSince;
        uint32 validUntil = currentPeriod() + 1;
        _retiredStampKeys[staker][signer] = _packWindow(validFrom, validUntil);
        emit StampKeyRetired(staker, signer, validFrom, validUntil);
    }

    /// @dev A retired key's window in one word: validFrom ‖ validUntil, never zero (validUntil ≥ 1).
    function _packWindow(uint32 validFrom, uint32 validUntil) private pure returns (uint64) {
        return (uint64(validFrom) << 32) | validUntil;
    }

    function _unpackWindow(uint64 window) private pure returns (uint32 validFrom, uint32 validUntil) {
        return (uint32(window >> 32), uint32(window));
    }

    /// @dev Reverts unless the staker's last bond is `minBondSeconds` old (none: always fine).
    function _checkRebond(address staker) private view {
        uint256 last = _nodes[staker].lastBondAt;
        uint256 earliest = last + minBondSeconds;
        if (last != 0 && block.timestamp < earliest) revert BondTooRecent(earliest);
    }

    /// @dev `operator` is free: not bonded, not a staker.
    function _checkBondable(address operator) private view {
        address bondedTo = _bonds[operator].staker;
        if (bondedTo != address(0)) revert OperatorAlreadyBonded(operator, bondedTo);
        Staker storage other = _stakers[operator];
        if (other.amount != 0 || other.operator != address(0)) revert OperatorIsStaker(operator);
    }

    /// @dev The Ethereum address of `verifyingKey` (a curve point), after checking that it
    /// signed `keyProofDigest(staker, msg.sender)`. Either recovery parity is accepted.
    function _keyProofSigner(address staker, bytes calldata verifyingKey, bytes calldata keyProof)
        private
        view
        returns (address signer)
    {
        (uint8 prefix, bytes32 x) = _splitKey(verifyingKey);
        uint256 y = _liftX(prefix, x, verifyingKey);
        signer = address(uint160(uint256(keccak256(abi.encodePacked(x, y)))));
        if (keyProof.length != 64) revert InvalidKeyProof();
        bytes32 digest = keyProofDigest(staker, msg.sender);
        bytes32 r = bytes32(keyProof[0:32]);
        bytes32 s = bytes32(keyProof[32:64]);
        if (ecrecover(digest, 27, r, s) != signer && ecrecover(digest, 28, r, s) != signer) revert InvalidKeyProof();
    }

    /// @dev The y coordinate of the point with x coordinate `x` and parity `prefix − 2`;
    /// reverts `InvalidPublicKey(key)` when no such curve point exists.
    function _liftX(uint8 prefix, bytes32 x, bytes calldata key) private view returns (uint256 y) {
        uint256 px = uint256(x);
        if (px >= FIELD_P) revert InvalidPublicKey(key);
        uint256 rhs = addmod(mulmod(mulmod(px, px, FIELD_P), px, FIELD_P), 7, FIELD_P);
        y = Secp256k1.modExp(rhs, SQRT_EXP, FIELD_P);
        if (mulmod(y, y, FIELD_P) != rhs) revert InvalidPublicKey(key);
        if (y & 1 != prefix & 1) y = FIELD_P - y;
    }

    function _splitKey(bytes calldata key) private pure returns (uint8 prefix, bytes32 x) {
        if (key.length != 33 || (key[0] != 0x02 && key[0] != 0x03)) revert InvalidPublicKey(key);
        prefix = uint8(key[0]);
        x = bytes32(key[1:33]);
    }
}
