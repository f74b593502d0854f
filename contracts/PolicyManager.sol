// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IStakingEscrow} from "./interfaces/IStakingEscrow.sol";
import {IProbeAssignments} from "./interfaces/IProbeAssignments.sol";

/// @title PolicyManager: prepaid re-encryption policies, their fees, revocation and kfrag commitments.
/// @notice A policy hires `nodes` (staker addresses) from the policy's creation period through
/// `endPeriod` (inclusive) at `feeRate` NKMS per node per period, paid up front by the sponsor
/// (`msg.sender`). A period is earned by a node as soon as it begins, so creating a policy pays for
/// the current period too, and revoking refunds only the periods after the current one.
///
/// Fee accrual is per policy: `paidUntil` is the first period not yet credited to the policy's
/// nodes, shared by all of them because they share start, end and rate. `settle` credits every
/// still-active node of one policy with the periods elapsed since (O(nodes) ≤ 32, never a loop over
/// policies or periods); revocation credits the revoked nodes up to the current period at once.
/// Credited fees sit in a per-node balance that `withdrawFees` pays out in O(1).
///
/// Quota rule (kfrags held proportional to stake), O(1) per node:
///   activeArrangements[node] < quotaBase + stake · quotaPerTotal / (totalLocked + unlocking stake)
/// with stake = lockedThrough(node, endPeriod); an unlocking stake (left out of the escrow's
/// total) is added back to the denominator, so starting to unlock never raises a node's share.
/// An arrangement counts from creation until it is revoked or its last period has passed, with no
/// per-policy work: each node also counts its arrangements by last period (`_expiring`, sixteen
/// 16-bit counters per word) and keeps a cursor (`_sweptThrough`) below which those counts were
/// subtracted. Admission sweeps only when the node is at `quotaBase` or more (the slow path), at
/// most MAX_SWEEP_WORDS words (16 periods each) per call, so its cost is bounded and paid per
/// elapsed period, never per policy; `releaseExpired` lets anyone catch a long-idle node up.
///
/// Kfrag commitment: a Merkle root over leaves
///   leaf_i = keccak256(policyId (16 bytes) ‖ nodes[i] (20 bytes) ‖ keccak256(kfragBytes_i) (32 bytes))
/// where policyId is the policy's name, `policyKey(creator, id)`;
/// taken in the order of `nodes[]`; a parent is keccak256 of its two children sorted ascending
/// (OpenZeppelin's commutative hashing, so proofs carry no positions); an unpaired last element of a
/// level moves up unchanged; the root of one leaf is the leaf. Leaves hash 68 bytes and inner nodes
/// 64, so an inner node can never pass as a leaf. See src/client/kfrag-commitment.ts.
///
/// Leak challenges (issue #14; the LeakAdjudicator holds LEAK_ADJUDICATOR_ROLE and is trusted to
/// have proven what it settles). `leakExposure` tells it what was paid for an arrangement and what
/// the node keeps of it, so a forfeit never exceeds the owner side's net payment. A commitment on a
/// live arrangement opens a challenge (`openLeakChallenge`); until the challenge's reveal window
/// ends, a revocation of that arrangement holds back up to the bounty cap of its refund
/// (`leakHold`), paid to the committed challenger by `revokeForLeak` or to the owner afterwards
/// (`releaseLeakHold`). A revocation pays one extra cold read for this (`_challengedUntil`).
///
/// Probe capacity (issue #16, "unhireable passes"). A node can fill its own quota (self-hiring),
/// so a health checker hiring it like a customer could be refused. `createProbePolicy` lets the
/// operator of a checker that the HealthCheck set by the governor (`healthCheck`) reports as
/// assigned to (round, checker, target) right now (`isProbeAssignment`: current round, commit
/// window, target drawn, checker selected) hire that target once per (round, checker, target) of
/// that health check (round numbers restart with each HealthCheck, so a slot is keyed by it too),
/// for one arrangement through the next period, on the node's other terms (registration, lock)
/// but outside its quota: the arrangement is not counted (`Policy.probe`), so it neither needs
/// nor takes a quota slot, its revocation or expiry frees none, and it cannot be extended. Nor
/// does the node price its own inspection: a probe pays at least the global `minFeeRate`, not the
/// node's own rate (a node at `maxFeeRate`, 1,000 NKMS a period, made every checker drawn to probe
/// it pay ~6,000 NKMS against a round's ~100 NKMS expected checker reward; raising its rate
/// between a checker's pricing and its hire made the hire revert). The bypass is bounded by the
/// checker draw: per round, at most one per (selected checker, target).
///
/// Trusted callers: governor (fee range, quota parameters, the health-check address: a wrong one
/// could grant quota-free 2-period hires, nothing else), the LeakAdjudicator (LEAK_ADJUDICATOR_ROLE,
/// see above), the escrow's views (stake, registration, operators) and the health check's
/// `isProbeAssignment` view. Everything else is permissionless or checks its caller itself.
contract PolicyManager is AccessControl, ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice Role allowed to set the fee-rate range and the quota parameters.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    /// @notice Role of the leak adjudicator, the only caller of `revokeForLeak` (admin grants it).
    bytes32 public constant LEAK_ADJUDICATOR_ROLE = keccak256("LEAK_ADJUDICATOR_ROLE");

    /// @notice EIP-712 type of an owner's revocation; `node` zero revokes the whole policy.
    bytes32 public constant REVOCATION_TYPEHASH =
        keccak256("Revocation(bytes16 policyId,address node,uint256 nonce,uint256 deadline)");

    /// @notice Most nodes one policy may hire (one bit each in the revocation mask).
    uint256 public constant MAX_NODES = 32;

    /// @dev Node ids held in the policy's second slot; the rest go 8 per word in `_extraIds`.
    uint256 private constant INLINE_IDS = 3;
    uint256 private constant IDS_PER_WORD = 8;

    // The hot paths read and write a policy's first two slots and a node's slot as whole words
    // (one SLOAD/SSTORE each; field-wise access costs a warm SLOAD per field and an SSTORE per
    // assignment). The offsets below are exactly Solidity's packing of `Policy` and `Node`, which
    // the views still read field by field; test/policy/storage-words.test.ts checks they agree.
    // Policy slot 0 ("head"): owner | startPeriod | endPeriod | paidUntil.
    uint256 private constant START_SHIFT = 160;
    uint256 private constant END_SHIFT = 192;
    uint256 private constant PAID_SHIFT = 224;
    uint256 private constant PERIOD_FIELD = type(uint32).max;
    // Policy slot 1 ("terms"): feeRate | nodeCount | activeNodes | revokedMask | id0 | id1 | id2 | released.
    uint256 private constant COUNT_SHIFT = 96;
    uint256 private constant ACTIVE_SHIFT = 104;
    uint256 private constant MASK_SHIFT = 112;
    uint256 private constant ID0_SHIFT = 144;
    uint256 private constant FIRST_REVOKE_SHIFT = 248;
    /// @dev `Policy.probe`: a probe arrangement, not counted against the quota.
    uint256 private constant PROBE_BIT = uint256(1) << 240;
    uint256 private constant FIRST_REVOKE_MAX = type(uint8).max;
    // Node slot: feeBalance | minFeeRate | activeArrangements | id.
    uint256 private constant FEE_FIELD = type(uint96).max;
    uint256 private constant ARRANGEMENTS_SHIFT = 176;
    uint256 private constant NODE_ID_SHIFT = 200;
    /// @dev Stands for "escrow.totalLocked() not read yet" (no real total reaches it: the token is capped).
    uint256 private constant TOTAL_UNKNOWN = type(uint256).max;
    /// @dev Expiry counters: 16 periods per word, 16 bits each (a count never exceeds a quota,
    /// which `_setQuotaParams` keeps below 2^16).
    uint256 private constant PERIODS_PER_WORD = 16;
    uint256 private constant COUNTER_BITS = 16;
    /// @notice Most expiry words one admission or `releaseExpired` call sweeps.
    uint256 public constant MAX_SWEEP_WORDS = 8;

    /// @notice Why a node cannot take an arrangement (see `checkNode`).
    enum NodeStatus {
        Eligible,
        NotEnrolled, // never called setMinFeeRate on this contract
        FeeRateTooLow, // the offered rate is below the node's effective minimum
        NotRegistered, // no bonded operator or no published endpoint/keys in the escrow
        StakeNotLocked, // nothing staked and locked through the policy's last period
        OverQuota // holds as many arrangements as its stake allows
    }

    struct Policy {
        // slot 0
        address owner;
        uint32 startPeriod;
        uint32 endPeriod; // last period served, inclusive
        uint32 paidUntil; // first period not yet credited to the active nodes
        // slot 1
        uint96 feeRate; // per node per period
        uint8 nodeCount;
        uint8 activeNodes; // not revoked
        uint32 revokedMask; // bit i: nodes[i]'s arrangement was revoked
        uint32 id0;
        uint32 id1;
        uint32 id2;
        bool probe; // a health-check probe policy: its arrangement is outside the quota (see notice)
        // 0: no arrangement revoked yet; else min(P − startPeriod + 1, 255) for the period P of
        // the first revocation: every revoked node earned at least feeRate · firstRevoke (a lower
        // bound past 255 periods), the bound a leak forfeit needs (see `leakExposure`).
        uint8 firstRevoke;
        // slot 2
        bytes32 kfragRoot;
    }

    struct Node {
        uint96 feeBalance; // credited, not yet withdrawn
        uint80 minFeeRate;
        uint24 activeArrangements;
        uint32 id; // 0 until the node enrolls by setting its fee rate
    }

    struct Params {
        uint80 minFeeRate;
        uint80 maxFeeRate;
        uint24 quotaBase;
        uint64 quotaPerTotal;
    }

    /// @notice Everything known about a policy.
    struct PolicyInfo {
        address owner;
        address sponsor;
        uint32 startPeriod;
        uint32 endPeriod;
        uint32 paidUntil;
        uint96 feeRate;
        uint8 nodeCount;
        uint8 activeNodes;
        bool revoked; // every arrangement revoked
        bool released; // expired: its arrangements no longer count against the nodes' quotas
        bytes32 kfragRoot;
    }

    /// @notice The staking escrow nodes are checked against.
    IStakingEscrow public immutable escrow;
    /// @notice The NKMS token fees are paid in.
    IERC20 public immutable token;
    /// @notice Period length, copied from the escrow (immutable there too).
    uint32 public immutable secondsPerPeriod;

    Params private _params;
    /// @notice Number of enrolled nodes; ids run from 1 to this.
    uint32 public enrolledNodes;
    /// @notice The staker enrolled under an id.
    mapping(uint32 id => address staker) public nodeById;
    mapping(address staker => Node) private _nodes;
    mapping(bytes16 policyId => Policy) private _policies;
    mapping(bytes16 policyId => address sponsor) private _sponsors; // only when sponsor != owner
    mapping(bytes16 policyId => mapping(uint256 word => uint256 ids)) private _extraIds;
    /// @notice Spent revocation nonces of an owner, Permit2-style: bit `nonce & 255` of word
    /// `nonce >> 8` is set once the nonce is used or cancelled. Nonces are unordered, so a
    /// withheld signature blocks nothing; owners pick any unused nonce (e.g. random).
    mapping(address owner => mapping(uint256 word => uint256 bits)) public revocationNonceBitmap;
    /// @dev Set when DEFAULT_ADMIN_ROLE is first granted after construction (see `_grantRole`).
    bool private _leakRoleSealed;

    /// @notice A leak challenge's claim on one arrangement's refund (see `openLeakChallenge`).
    /// While open (`revokedBlock` 0), `amount` is the most a revocation holds back and
    /// `untilBlock` the last block a committed challenge may still be revealed in. After a
    /// revocation during that time, `amount` is what was held back, payable to a challenger
    /// committed by `revokedBlock` (the reveal) or to the owner after `untilBlock` (`releaseLeakHold`).
    struct LeakHold {
        uint96 amount;
        uint64 untilBlock;
        uint64 revokedBlock;
    }

    /// @dev Last block in which some leak challenge on an arrangement of the policy may be
    /// revealed: a revocation reads this one slot and looks at its nodes' holds only before it.
    mapping(bytes16 policyId => uint256 untilBlock) private _challengedUntil;
    mapping(bytes32 arrangement => LeakHold) private _leakHolds;
    /// @dev Per node: live arrangements by last period (word = period / 16, counter = period % 16).
    mapping(address node => mapping(uint256 word => uint256 counts)) private _expiring;
    /// @dev Per node: every arrangement ending before this period was subtracted from its count.
    mapping(address node => uint256 period) private _sweptThrough;
    /// @notice The health check whose probe assignments may hire outside quotas (zero: none).
    IProbeAssignments public healthCheck;
    /// @dev (health check, round, checker, target) that already hired their probe arrangement: each
    /// HealthCheck numbers its rounds from its own genesis, so a slot used under one must not block
    /// the same (round, checker, target) under the next one `setHealthCheck` names.
    mapping(bytes32 pair => bool) private _probeHired;

    event NodeEnrolled(address indexed node, uint32 id);
    event MinFeeRateSet(address indexed node, uint256 minFeeRate);
    event FeeRateRangeSet(uint256 minFeeRate, uint256 maxFeeRate);
    event QuotaParamsSet(uint256 quotaBase, uint256 quotaPerTotal);
    event PolicyCreated(
        bytes16 indexed policyId,
        address indexed owner,
        address indexed sponsor,
        uint32 startPeriod,
        uint32 endPeriod,
        uint96 feeRate,
        address[] nodes,
        bytes32 kfragRoot,
        uint256 paid
    );
    event PolicyExtended(bytes16 indexed policyId, address indexed sponsor, uint32 newEndPeriod, uint256 paid);
    event PolicySettled(bytes16 indexed policyId, uint32 fromPeriod, uint32 throughPeriod, uint256 perNode, bool released);
    /// @notice Every remaining arrangement of the policy ended; `refund` went to the owner (the
    /// owner never changes, see PolicyCreated).
    event PolicyRevoked(bytes16 indexed policyId, uint256 refund);
    event ArrangementRevoked(bytes16 indexed policyId, address indexed node, uint256 refund);
    /// @notice `node`'s kfrag was proven leaked; its arrangement ended (ArrangementRevoked is
    /// emitted too) and the refund was split between `challenger` (`bounty`) and the owner (`refund`).
    event ArrangementRevokedForLeak(
        bytes16 indexed policyId, address indexed node, address indexed challenger, uint256 bounty, uint256 refund
    );
    /// @notice A leak challenge was committed on `node`'s live arrangement: a revocation up to
    /// block `untilBlock` holds back up to `cap` of its refund for the challenger.
    event LeakChallengeOpened(bytes16 indexed policyId, address indexed node, uint256 cap, uint256 untilBlock);
    /// @notice A revocation held back `amount` of `node`'s refund for an open leak challenge,
    /// until block `untilBlock`.
    event LeakHoldCreated(bytes16 indexed policyId, address indexed node, uint256 amount, uint256 untilBlock);
    /// @notice A held-back refund was paid out: `bounty` to `challenger` (a reveal), the rest to the owner.
    event LeakHoldSettled(bytes16 indexed policyId, address indexed node, address challenger, uint256 bounty, uint256 refund);
    /// @notice `owner` cancelled the revocation nonces `word * 256 + i` for every bit i of `mask`.
    event RevocationNoncesInvalidated(address indexed owner, uint256 word, uint256 mask);
    event FeesWithdrawn(address indexed node, uint256 amount);
    /// @notice `count` of `node`'s arrangements had ended before period `sweptThrough` and no
    /// longer count against its quota.
    event ArrangementsExpired(address indexed node, uint256 count, uint256 sweptThrough);
    /// @notice LEAK_ADJUDICATOR_ROLE can never be granted again (only revoked).
    event LeakRoleSealed();
    /// @notice The health check that assigns probes was set.
    event HealthCheckSet(address healthCheck);
    /// @notice A checker hired its assigned target outside the quota (see "Probe capacity").
    event ProbeHired(uint32 indexed round, address indexed checker, address indexed target, bytes16 policyId);

    error InvalidPolicyId();
    error InvalidOwner();
    error InvalidKfragRoot();
    error InvalidEndPeriod(uint32 endPeriod, uint32 currentPeriod);
    error InvalidNodeCount(uint256 count);
    error NodesNotAscending(uint256 index);
    error NodeIneligible(address node, NodeStatus status);
    error PolicyAlreadyExists(bytes16 policyId);
    error PolicyNotFound(bytes16 policyId);
    error PolicyExpired(bytes16 policyId);
    error PolicyFullyRevoked(bytes16 policyId);
    error NotArrangement(bytes16 policyId, address node);
    error ArrangementAlreadyRevoked(bytes16 policyId, address node);
    error NotPolicyOwner(address caller);
    error SignatureExpired(uint256 deadline);
    error InvalidSignature();
    error NonceAlreadyUsed(address owner, uint256 nonce);
    error NothingToWithdraw(address node);
    error FeeRateOutOfRange(uint256 rate, uint256 minFeeRate, uint256 maxFeeRate);
    error InvalidFeeRateRange(uint256 minFeeRate, uint256 maxFeeRate);
    error InvalidQuotaParams(uint256 quotaBase, uint256 quotaPerTotal);
    error AmountTooLarge(uint256 amount);
    error HoldNotReleasable(bytes16 policyId, address node);
    /// @notice A revocation held this arrangement's refund for challengers committed before it;
    /// a later commitment may reveal only after `untilBlock`.
    error LeakHoldReserved(bytes16 policyId, address node, uint256 untilBlock);
    error ZeroAddress();
    error LeakRoleIsSealed();
    error PermitValueOutOfBounds(uint256 permitValue, uint256 paid);
    error NodeStillRegistered(address node);
    error NotProbeAssignment(uint32 round, address checker, address target);
    error ProbeAlreadyHired(uint32 round, address checker, address target);
    error ProbePolicy(bytes16 policyId);

    /// @param escrow_ The staking escrow (periods, stakes, operators, registration).
    /// @param token_ The NKMS token fees are paid in (ERC-20 with EIP-2612 permit).
    /// @param admin Receives DEFAULT_ADMIN_ROLE and GOVERNOR_ROLE.
    /// @param params Initial fee-rate range and quota parameters.
    constructor(IStakingEscrow escrow_, IERC20 token_, address admin, Params memory params)
        EIP712("NKMS PolicyManager", "1")
    {
        if (address(escrow_) == address(0) || address(token_) == address(0) || admin == address(0)) {
            revert ZeroAddress();
        }
        escrow = escrow_;
        token = token_;
        secondsPerPeriod = escrow_.secondsPerPeriod();
        // Not through the override: the initial admin's own grant does not seal the wiring.
        super._grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
        _setFeeRateRange(params.minFeeRate, params.maxFeeRate);
        _setQuotaParams(params.quotaBase, params.quotaPerTotal);
    }

    // ------------------------------------------------------------------ governance

    /// @notice Set the range every node's minimum fee rate must lie in. Governor only.
    /// A node's rate below a raised minimum is raised to it when used; a rate above a lowered
    /// maximum stays as the node set it (the maximum only bounds new `setMinFeeRate` calls), so no
    /// governor can price a node below its own minimum.
    function setFeeRateRange(uint80 minFeeRate, uint80 maxFeeRate) external onlyRole(GOVERNOR_ROLE) {
        _setFeeRateRange(minFeeRate, maxFeeRate);
    }

    /// @notice Set the quota rule's base and stake coefficient. Governor only.
    function setQuotaParams(uint24 quotaBase, uint64 quotaPerTotal) external onlyRole(GOVERNOR_ROLE) {
        _setQuotaParams(quotaBase, quotaPerTotal);
    }

    /// @notice Set the health check whose assignments may hire probes outside quotas. Governor only.
    function setHealthCheck(IProbeAssignments healthCheck_) external onlyRole(GOVERNOR_ROLE) {
        healthCheck = healthCheck_;
        emit HealthCheckSet(address(healthCheck_));
    }

    // ------------------------------------------------------------------ nodes

    /// @notice Set the caller's (a staker's) minimum fee rate per period; the first call enrolls the
    /// node, which a policy requires.
    function setMinFeeRate(uint80 rate) external {
        Params memory g = _params;
        if (rate < g.minFeeRate || rate > g.maxFeeRate) revert FeeRateOutOfRange(rate, g.minFeeRate, g.maxFeeRate);
        Node storage node = _nodes[msg.sender];
        if (node.id == 0) {
            uint32 id = ++enrolledNodes;
            node.id = id;
            nodeById[id] = msg.sender;
            // Nothing of this node ends before now: sweeping starts here.
            _sweptThrough[msg.sender] = _currentPeriod();
            emit NodeEnrolled(msg.sender, id);
        }
        node.minFeeRate = rate;
        emit MinFeeRateSet(msg.sender, rate);
    }

    /// @notice Pay `node`'s credited fees to `node`. Anyone may trigger it (the staker or its
    /// operator's agent); the tokens always go to the staker.
    /// @return amount The amount paid.
    function withdrawFees(address node) external nonReentrant returns (uint256 amount) {
        Node storage n = _nodes[node];
        uint256 word = _word(n);
        amount = uint96(word);
        if (amount == 0) revert NothingToWithdraw(node);
        _setWord(n, word & ~FEE_FIELD);
        token.safeTransfer(node, amount);
        emit FeesWithdrawn(node, amount);
    }

    // ------------------------------------------------------------------ policies

    /// @notice Create a policy paid by the caller with a prior `approve` of `policyCost(...)`.
    /// The caller is the policy's creator: the policy is named `policyKey(msg.sender, id)` from
    /// then on (every other function, the kfrag commitment's leaves, events), so nobody can take
    /// a creator's id by copying it from a pending transaction.
    /// @param id Nonzero, never used before by the caller.
    /// @param owner Who may revoke and receives refunds.
    /// @param endPeriod Last period served (inclusive), not before the current period.
    /// @param feeRate Fee per node per period, at least every node's minimum and the range minimum.
    /// @param nodes Staker addresses, strictly ascending, 1..MAX_NODES.
    /// @param kfragRoot Merkle root of the kfrag commitment (see contract notice).
    /// @return paid The amount taken from the caller.
    function createPolicy(
        bytes16 id,
        address owner,
        uint32 endPeriod,
        uint96 feeRate,
        address[] calldata nodes,
        bytes32 kfragRoot
    ) external nonReentrant returns (uint256 paid) {
        paid = _createPolicy(id, owner, endPeriod, feeRate, nodes, kfragRoot, false);
        token.safeTransferFrom(msg.sender, address(this), paid);
    }

    /// @notice Hire `nodes[0]` (the only node) for a health-check probe of `round`, through the
    /// next period, outside its quota and at any `feeRate` from the global minimum up, whatever
    /// the node's own rate (see "Probe capacity"). The caller must be the operator of a checker
    /// assigned to that target in `round` now; once per (round, checker, target).
    /// @return paid The amount taken from the caller.
    function createProbePolicy(
        uint32 round,
        bytes16 id,
        address owner,
        uint96 feeRate,
        address[] calldata nodes,
        bytes32 kfragRoot
    ) external nonReentrant returns (uint256 paid) {
        if (nodes.length != 1) revert InvalidNodeCount(nodes.length);
        address target = nodes[0];
        address checker = escrow.stakerOf(msg.sender);
        IProbeAssignments hc = healthCheck;
        if (checker == address(0) || address(hc) == address(0) || !hc.isProbeAssignment(round, checker, target)) {
            revert NotProbeAssignment(round, checker, target);
        }
        bytes32 pair = keccak256(abi.encode(hc, round, checker, target));
        if (_probeHired[pair]) revert ProbeAlreadyHired(round, checker, target);
        _probeHired[pair] = true;
        paid = _createPolicy(id, owner, _currentPeriod() + 1, feeRate, nodes, kfragRoot, true);
        emit ProbeHired(round, checker, target, policyKey(msg.sender, id));
        token.safeTransferFrom(msg.sender, address(this), paid);
    }

    /// @notice `createPolicy` paid through an EIP-2612 permit for `permitValue`, signed by the
    /// caller: `policyCost(...)` when it was priced. Landing one period later costs one period
    /// less (feeRate · nodes): `permitValue` may exceed the cost by at most that, and only the cost
    /// is taken (the rest stays an allowance). A permit already used (e.g. front-run) is tolerated
    /// when the allowance suffices anyway.
    function createPolicyWithPermit(
        bytes16 id,
        address owner,
        uint32 endPeriod,
        uint96 feeRate,
        address[] calldata nodes,
        bytes32 kfragRoot,
        uint256 permitValue,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant returns (uint256 paid) {
        paid = _createPolicy(id, owner, endPeriod, feeRate, nodes, kfragRoot, false);
        if (permitValue < paid || permitValue - paid > uint256(feeRate) * nodes.length) {
            revert PermitValueOutOfBounds(permitValue, paid);
        }
        _permit(permitValue, permitDeadline, v, r, s);
        token.safeTransferFrom(msg.sender, address(this), paid);
    }

    /// @notice Extend a live policy to `newEndPeriod`, paid by the caller (approve first) at the
    /// policy's fee rate for the extra periods of every still-active node. Each node is re-hired on
    /// its current terms: the rate must meet its minimum as it is now, it must be registered and
    /// locked through the new end, and within its quota (counting this arrangement once).
    /// @return paid The amount taken from the caller.
    function extendPolicy(bytes16 policyId, uint32 newEndPeriod) external nonReentrant returns (uint256 paid) {
        (Policy storage p, uint256 head) = _load(policyId);
        uint32 oldEnd = uint32(head >> END_SHIFT);
        if (_currentPeriod() > oldEnd) revert PolicyExpired(policyId);
        uint256 terms = _terms(p);
        uint256 active = uint8(terms >> ACTIVE_SHIFT);
        if (active == 0) revert PolicyFullyRevoked(policyId);
        if (newEndPeriod <= oldEnd) revert InvalidEndPeriod(newEndPeriod, oldEnd);
        if (terms & PROBE_BIT != 0) revert ProbePolicy(policyId);
        _extendArrangements(policyId, terms, oldEnd, newEndPeriod);
        paid = uint256(uint96(terms)) * active * (newEndPeriod - oldEnd);
        _setHead(p, (head & ~(PERIOD_FIELD << END_SHIFT)) | (uint256(newEndPeriod) << END_SHIFT));
        emit PolicyExtended(policyId, msg.sender, newEndPeriod, paid);
        token.safeTransferFrom(msg.sender, address(this), paid);
    }

    /// Re-hires every active node through `newEnd` on its current terms (`_checkTerms`: its
    /// minimum fee rate now, registration, lock through `newEnd`, quota) and moves the arrangement
    /// in its expiry count from `oldEnd` to `newEnd`.
    function _extendArrangements(bytes16 policyId, uint256 terms, uint32 oldEnd, uint32 newEnd) private {
        Params memory g = _params;
        uint256 totalLocked = TOTAL_UNKNOWN;
        uint256 count = uint8(terms >> COUNT_SHIFT);
        uint256 mask = uint32(terms >> MASK_SHIFT);
        for (uint256 i; i < count; ++i) {
            if ((mask >> i) & 1 != 0) continue;
            address node = nodeById[_idAt(terms, policyId, i)];
            Node storage n = _nodes[node];
            uint256 word;
            (word, totalLocked) = _checkTerms(node, _word(n), newEnd, uint96(terms), g, totalLocked, 1);
            _setWord(n, word);
            mapping(uint256 => uint256) storage counts = _expiring[node];
            counts[oldEnd / PERIODS_PER_WORD] -= _expiryUnit(oldEnd);
            counts[newEnd / PERIODS_PER_WORD] += _expiryUnit(newEnd);
        }
    }

    /// @notice Credit the policy's active nodes with the periods served since the last settlement.
    /// Anyone may call. Quota needs no settlement: an arrangement stops counting once its last
    /// period has passed (`released` in the event says the policy has expired).
    /// @return perNode The amount credited to each active node.
    function settle(bytes16 policyId) external returns (uint256 perNode) {
        (Policy storage p, uint256 head) = _load(policyId);
        uint256 terms = _terms(p);
        if (uint8(terms >> ACTIVE_SHIFT) == 0) return 0;
        uint32 period = _currentPeriod();
        uint32 end = uint32(head >> END_SHIFT);
        uint32 through = period < end ? period : end;
        uint32 from = uint32(head >> PAID_SHIFT);
        if (through < from) return 0;
        perNode = (through + 1 - from) * uint256(uint96(terms));
        _creditActiveNodes(policyId, terms, perNode, false, 0);
        _setHead(p, (head & ~(PERIOD_FIELD << PAID_SHIFT)) | (uint256(through + 1) << PAID_SHIFT));
        emit PolicySettled(policyId, from, through, perNode, period > end);
    }

    /// @notice Revoke the whole policy: the active nodes are credited through the current period
    /// and the owner is refunded the later periods. Owner only.
    /// @return refund The amount sent to the owner.
    function revokePolicy(bytes16 policyId) external nonReentrant returns (uint256 refund) {
        (Policy storage p, uint256 head) = _load(policyId);
        if (msg.sender != address(uint160(head))) revert NotPolicyOwner(msg.sender);
        return _revokePolicy(p, head, policyId);
    }

    /// @notice Revoke one node's arrangement: the node is credited through the current period and
    /// the owner is refunded its later periods. Owner only.
    /// @return refund The amount sent to the owner.
    function revokeArrangement(bytes16 policyId, address node) external nonReentrant returns (uint256 refund) {
        (Policy storage p, uint256 head) = _load(policyId);
        if (msg.sender != address(uint160(head))) revert NotPolicyOwner(msg.sender);
        return _revokeArrangement(p, head, policyId, node);
    }

    /// @notice End `node`'s live arrangement of the policy because the node left: it is no longer
    /// registered in the escrow (its operator unbonded). Anyone may call; the arrangement ends as
    /// `revokeArrangement` ends it (the node keeps the periods through the current one, the owner
    /// is refunded the rest), so fees stop accruing to a node that no longer serves.
    /// @return refund The amount sent to the owner.
    function revokeUnregistered(bytes16 policyId, address node) external nonReentrant returns (uint256 refund) {
        if (escrow.isRegistered(node)) revert NodeStillRegistered(node);
        (Policy storage p, uint256 head) = _load(policyId);
        return _revokeArrangement(p, head, policyId, node);
    }

    /// @notice Stop counting `node`'s ended arrangements against its quota, reading at most
    /// MAX_SWEEP_WORDS words of its expiry counts (a hire does the same when it needs room; this
    /// catches up a node idle for very long). Anyone may call.
    /// @return live The node's arrangements still counted.
    function releaseExpired(address node) external returns (uint256 live) {
        Node storage n = _nodes[node];
        uint256 word = _sweep(node, _word(n));
        _setWord(n, word);
        return uint24(word >> ARRANGEMENTS_SHIFT);
    }

    /// @notice Open a leak challenge on `node`'s live arrangement (a commitment was just made on
    /// it): until block `untilBlock`, revoking this arrangement (alone, with the whole policy or by
    /// signature) holds back min(`cap`, refund) of its refund for the challenger instead of paying
    /// it to the owner, so a revocation between commit and reveal cannot cancel the bounty. A
    /// later open on the same live arrangement keeps the larger cap and the later block. Nothing
    /// happens (returns false) when the arrangement is not live. Leak adjudicator only: it is
    /// trusted to bound `untilBlock` (its reveal window) and `cap` (its bounty cap), so a griefer's
    /// commitment delays at most `cap` of a refund by one window and never takes it.
    /// @param policyId The policy.
    /// @param node The node named in the commitment.
    /// @param cap The most a revocation holds back (the challenger's bounty cap).
    /// @param untilBlock The last block the commitment can be revealed in.
    /// @return opened Whether the arrangement was live (and the challenge recorded).
    function openLeakChallenge(bytes16 policyId, address node, uint96 cap, uint64 untilBlock)
        external
        onlyRole(LEAK_ADJUDICATOR_ROLE)
        returns (bool opened)
    {
        if (!isActiveArrangement(policyId, node)) return false;
        LeakHold storage h = _leakHolds[_arrangementKey(policyId, node)];
        LeakHold memory old = h;
        bool stillOpen = old.untilBlock >= block.number;
        uint96 newCap = stillOpen && old.amount > cap ? old.amount : cap;
        uint64 newUntil = stillOpen && old.untilBlock > untilBlock ? old.untilBlock : untilBlock;
        (h.amount, h.untilBlock, h.revokedBlock) = (newCap, newUntil, 0);
        if (_challengedUntil[policyId] < newUntil) _challengedUntil[policyId] = newUntil;
        emit LeakChallengeOpened(policyId, node, newCap, newUntil);
        return true;
    }

    /// @notice Settle the refund side of a proven leak of `node`'s kfrag (the caller, the leak
    /// adjudicator, proved it). A live arrangement ends exactly as `revokeArrangement` ends it and
    /// its refund R = feeRate · (endPeriod − currentPeriod) is split: `bounty = min(maxBounty, R)`
    /// to `challenger`, R − bounty to the owner. An arrangement revoked while the challenge was
    /// open has its held-back refund H split the same way when the challenger's commitment is from
    /// a block no later than the revocation (`committedAt`), else H goes to the owner. Otherwise
    /// (expired, or revoked without a hold) nothing is paid. The owner made every kfrag and can
    /// "challenge" her own node, so the bounty always comes out of what revoking at that moment
    /// returns her, never on top of it. Leak adjudicator only; trusted to have proven the leak,
    /// to call once per arrangement and to pass the commitment's real block.
    /// @param policyId The policy.
    /// @param node The node whose kfrag leaked.
    /// @param challenger Who proved the leak; receives the bounty.
    /// @param maxBounty Upper bound of the bounty (the adjudicator's share of the forfeit).
    /// @param committedAt Block of the challenger's commitment.
    /// @return bounty The amount sent to `challenger`.
    /// @return refund The amount sent to the owner.
    function revokeForLeak(bytes16 policyId, address node, address challenger, uint256 maxBounty, uint256 committedAt)
        external
        onlyRole(LEAK_ADJUDICATOR_ROLE)
        nonReentrant
        returns (uint256 bounty, uint256 refund)
    {
        if (challenger == address(0)) revert ZeroAddress();
        (uint256 available, bool live, bool fromHold, bool claimable, address owner) =
            _leakRefund(policyId, node, committedAt);
        if (!claimable) maxBounty = 0;
        bounty = available < maxBounty ? available : maxBounty;
        refund = available - bounty;
        if (live) {
            emit ArrangementRevoked(policyId, node, refund);
            emit ArrangementRevokedForLeak(policyId, node, challenger, bounty, refund);
        } else if (fromHold) {
            emit LeakHoldSettled(policyId, node, challenger, bounty, refund);
        }
        if (bounty != 0) token.safeTransfer(challenger, bounty);
        if (refund != 0) token.safeTransfer(owner, refund);
    }

    /// What a proven leak can pay out: a live arrangement's refund (ending it), or the refund a
    /// revocation held back (`fromHold`; `claimable` only by a commitment no later than that
    /// revocation; a later one reverts until the hold's window is over). Clears the hold.
    function _leakRefund(bytes16 policyId, address node, uint256 committedAt)
        private
        returns (uint256 available, bool live, bool fromHold, bool claimable, address owner)
    {
        (Policy storage p, uint256 head) = _load(policyId);
        owner = address(uint160(head));
        bytes32 key = _arrangementKey(policyId, node);
        LeakHold memory h = _leakHolds[key];
        if (h.untilBlock != 0) delete _leakHolds[key];
        live = isActiveArrangement(policyId, node);
        claimable = true;
        if (live) {
            available = _endArrangement(p, head, policyId, node);
        } else if (h.revokedBlock != 0) {
            claimable = committedAt <= h.revokedBlock;
            // A commitment made after the revocation would end the hold (the leak is punished
            // once) and shut out the earlier committed challengers it was held for.
            if (!claimable && block.number <= h.untilBlock) revert LeakHoldReserved(policyId, node, h.untilBlock);
            (available, fromHold) = (h.amount, true);
        }
    }

    /// @notice Pay the owner a refund that a revocation held back for a leak challenge, once its
    /// reveal window has passed (block > `untilBlock`) without a reveal. Anyone may call.
    /// @return amount The amount sent to the owner.
    function releaseLeakHold(bytes16 policyId, address node) external nonReentrant returns (uint256 amount) {
        (, uint256 head) = _load(policyId);
        bytes32 key = _arrangementKey(policyId, node);
        LeakHold memory h = _leakHolds[key];
        if (h.revokedBlock == 0 || block.number <= h.untilBlock) revert HoldNotReleasable(policyId, node);
        delete _leakHolds[key];
        amount = h.amount;
        emit LeakHoldSettled(policyId, node, address(0), 0, amount);
        if (amount != 0) token.safeTransfer(address(uint160(head)), amount);
    }

    /// @notice A leak challenge's view of `node`'s arrangement: the policy's owner and first
    /// period, `paid` F = feeRate · (endPeriod + 1 − startPeriod) (everything paid for one node,
    /// extensions included), and `earned`, what the node keeps of F once a leak proven now is
    /// settled: through the current period if live, through the end if expired, and for a revoked
    /// arrangement feeRate · `firstRevoke` (a lower bound: every revoked node was revoked no earlier
    /// than the policy's first revocation). F − earned is at least what went or goes back to the
    /// owner's side (refunds, held refunds and bounties), so a forfeit ≤ earned never exceeds what
    /// the owner paid net. Zero owner when the policy does not exist; `hired` false when the node
    /// is not one of its nodes.
    function leakExposure(bytes16 policyId, address node)
        external
        view
        returns (address owner, uint32 startPeriod, bool hired, bool live, uint256 paid, uint256 earned)
    {
        Policy storage p = _policies[policyId];
        uint256 head = _head(p);
        owner = address(uint160(head));
        startPeriod = uint32(head >> START_SHIFT);
        uint256 terms = _terms(p);
        (bool found, uint256 i) = _indexOf(terms, policyId, node);
        if (owner == address(0) || !found) return (owner, startPeriod, false, false, 0, 0);
        hired = true;
        uint256 rate = uint96(terms);
        uint32 end = uint32(head >> END_SHIFT);
        uint32 period = _currentPeriod();
        paid = rate * (end + 1 - startPeriod);
        if ((terms >> (MASK_SHIFT + i)) & 1 != 0) {
            earned = rate * (terms >> FIRST_REVOKE_SHIFT);
        } else if (period <= end) {
            live = true;
            earned = rate * (period + 1 - startPeriod);
        } else {
            earned = paid;
        }
    }

    /// @notice The leak-challenge hold on `node`'s arrangement (all zero: none). See `LeakHold`.
    function leakHold(bytes16 policyId, address node) external view returns (LeakHold memory) {
        return _leakHolds[_arrangementKey(policyId, node)];
    }

    /// @notice Execute the owner's EIP-712 signed `Revocation` (gasless for the owner). `node` zero
    /// revokes the whole policy. `nonce` is any of the owner's unused revocation nonces (unordered,
    /// see `revocationNonceBitmap`), so signatures may be relayed in any order and each works once;
    /// EIP-1271 contract owners are supported.
    /// @return refund The amount sent to the owner.
    function revokeWithSignature(
        bytes16 policyId,
        address node,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external nonReentrant returns (uint256 refund) {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        (Policy storage p, uint256 head) = _load(policyId);
        address owner = address(uint160(head));
        _useNonce(owner, nonce);
        bytes32 digest =
            _hashTypedDataV4(keccak256(abi.encode(REVOCATION_TYPEHASH, policyId, node, nonce, deadline)));
        if (!SignatureChecker.isValidSignatureNowCalldata(owner, digest, signature)) revert InvalidSignature();
        return node == address(0) ? _revokePolicy(p, head, policyId) : _revokeArrangement(p, head, policyId, node);
    }

    /// @notice Cancel the caller's unused revocation nonces `word * 256 + i` for every bit i set in
    /// `mask`, so signatures made with them can no longer be relayed.
    function invalidateRevocationNonces(uint256 word, uint256 mask) external {
        revocationNonceBitmap[msg.sender][word] |= mask;
        emit RevocationNoncesInvalidated(msg.sender, word, mask);
    }

    /// @notice Whether `owner`'s revocation nonce was used or cancelled.
    function isRevocationNonceUsed(address owner, uint256 nonce) external view returns (bool) {
        return (revocationNonceBitmap[owner][nonce >> 8] >> (nonce & 255)) & 1 != 0;
    }

    // ------------------------------------------------------------------ views

    /// @notice The current period (same clock as the escrow's).
    function currentPeriod() external view returns (uint32) {
        return _currentPeriod();
    }

    /// @notice Tokens needed to create a policy now with `nodeCount` nodes at `feeRate` until
    /// `endPeriod` inclusive (0 if `endPeriod` has passed).
    function policyCost(uint256 nodeCount, uint96 feeRate, uint32 endPeriod) external view returns (uint256) {
        uint32 period = _currentPeriod();
        if (endPeriod < period) return 0;
        return uint256(feeRate) * nodeCount * (endPeriod + 1 - period);
    }

    /// @notice The current fee-rate range and quota parameters.
    function params() external view returns (Params memory) {
        return _params;
    }

    /// @notice A node's fee state: credited balance, minimum fee rate as set and as effective
    /// (raised to the range minimum), live arrangements counted against its quota (ended ones
    /// excluded as far as one sweep reaches), enrollment id.
    function nodeFees(address node)
        external
        view
        returns (uint256 feeBalance, uint256 minFeeRate, uint256 effectiveMinFeeRate, uint256 activeArrangements, uint32 id)
    {
        Node memory n = _nodes[node];
        (uint256 expired,) = _expired(node, n.activeArrangements);
        return (n.feeBalance, n.minFeeRate, _effectiveMinFeeRate(n.minFeeRate, _params), n.activeArrangements - expired, n.id);
    }

    /// @notice Whether `node` could take an arrangement of a policy ending at `endPeriod` at
    /// `feeRate` right now, exactly as `createPolicy` checks it; also its locked stake and quota.
    function checkNode(address node, uint32 endPeriod, uint96 feeRate)
        external
        view
        returns (NodeStatus status, uint256 stake, uint256 quota, uint256 activeArrangements)
    {
        return _nodeStatus(node, endPeriod, feeRate, _params, escrow.totalLocked());
    }

    /// @notice Everything stored about a policy (zero owner when it does not exist).
    function getPolicy(bytes16 policyId) external view returns (PolicyInfo memory info) {
        Policy storage p = _policies[policyId];
        address sponsor = _sponsors[policyId];
        info = PolicyInfo({
            owner: p.owner,
            sponsor: sponsor == address(0) ? p.owner : sponsor,
            startPeriod: p.startPeriod,
            endPeriod: p.endPeriod,
            paidUntil: p.paidUntil,
            feeRate: p.feeRate,
            nodeCount: p.nodeCount,
            activeNodes: p.activeNodes,
            revoked: p.owner != address(0) && p.activeNodes == 0,
            released: p.owner != address(0) && _currentPeriod() > p.endPeriod,
            kfragRoot: p.kfragRoot
        });
    }

    /// @notice The policy's nodes in creation order (the kfrag commitment's leaf order).
    function policyNodes(bytes16 policyId) external view returns (address[] memory nodes) {
        Policy storage p = _policies[policyId];
        nodes = new address[](p.nodeCount);
        uint256 terms = _terms(p);
        for (uint256 i; i < nodes.length; ++i) nodes[i] = nodeById[_idAt(terms, policyId, i)];
    }

    /// @notice Whether `node` was hired by the policy, whatever happened since.
    function isArrangement(bytes16 policyId, address node) public view returns (bool) {
        (bool found,) = _indexOf(_terms(_policies[policyId]), policyId, node);
        return found;
    }

    /// @notice Whether `node` currently holds a live arrangement of the policy: hired, not revoked,
    /// and the policy's last period not yet passed.
    function isActiveArrangement(bytes16 policyId, address node) public view returns (bool) {
        Policy storage p = _policies[policyId];
        if (_currentPeriod() > p.endPeriod) return false;
        uint256 terms = _terms(p);
        (bool found, uint256 i) = _indexOf(terms, policyId, node);
        return found && (terms >> (MASK_SHIFT + i)) & 1 == 0;
    }

    /// @notice The name of the policy `creator` (the account that called `createPolicy`) created
    /// under its own `id`: the first 16 bytes of keccak256(abi.encode(creator, id)). Ids are
    /// namespaced by creator; taking another creator's name needs a 128-bit second preimage.
    function policyKey(address creator, bytes16 id) public pure returns (bytes16) {
        return bytes16(keccak256(abi.encode(creator, id)));
    }

    /// @notice The commitment leaf of `node`'s kfrag in a policy (`kfragHash` = keccak256 of the
    /// 310-byte KeyFrag bytes).
    function kfragLeaf(bytes16 policyId, address node, bytes32 kfragHash) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(policyId, node, kfragHash));
    }

    /// @notice True when `node` was hired by the policy and `proof` shows that the policy's
    /// commitment binds it to the kfrag hashing to `kfragHash`.
    function verifyKfragCommitment(bytes16 policyId, address node, bytes32 kfragHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _policies[policyId].kfragRoot;
        if (root == bytes32(0) || !isArrangement(policyId, node)) return false;
        return MerkleProof.verifyCalldata(proof, root, kfragLeaf(policyId, node, kfragHash));
    }

    // ------------------------------------------------------------------ internals

    /// @notice True once LEAK_ADJUDICATOR_ROLE can no longer be granted (see `_grantRole`).
    function leakRoleSealed() external view returns (bool) {
        return _leakRoleSealed;
    }

    /// @dev The leak adjudicator moves owners' prepaid refunds (`revokeForLeak`), so it is wired
    /// once: LEAK_ADJUDICATOR_ROLE can be granted only until DEFAULT_ADMIN_ROLE is first granted
    /// after construction (the hand-over to the timelock, deploy/network.ts). Afterwards the admin
    /// can revoke it but never grant it, so no governor can give itself owners' refunds.
    function _grantRole(bytes32 role, address account) internal override returns (bool) {
        if (role == LEAK_ADJUDICATOR_ROLE) {
            if (_leakRoleSealed) revert LeakRoleIsSealed();
        } else if (role == DEFAULT_ADMIN_ROLE && !_leakRoleSealed) {
            _leakRoleSealed = true;
            emit LeakRoleSealed();
        }
        return super._grantRole(role, account);
    }

    function _createPolicy(
        bytes16 id,
        address owner,
        uint32 endPeriod,
        uint96 feeRate,
        address[] calldata nodes,
        bytes32 kfragRoot,
        bool probe
    ) private returns (uint256 paid) {
        uint32 period = _currentPeriod();
        if (id == bytes16(0)) revert InvalidPolicyId();
        bytes16 policyId = policyKey(msg.sender, id);
        if (owner == address(0)) revert InvalidOwner();
        if (kfragRoot == bytes32(0)) revert InvalidKfragRoot();
        if (endPeriod < period) revert InvalidEndPeriod(endPeriod, period);
        uint256 count = nodes.length;
        if (count == 0 || count > MAX_NODES) revert InvalidNodeCount(count);
        Policy storage p = _policies[policyId];
        if (p.owner != address(0)) revert PolicyAlreadyExists(policyId);
        uint256 terms = probe ? _admitProbe(nodes[0], endPeriod, feeRate) : _admitNodes(policyId, nodes, endPeriod, feeRate);
        terms |= uint256(feeRate) | (count << COUNT_SHIFT) | (count << ACTIVE_SHIFT);
        if (probe) terms |= PROBE_BIT;
        uint256 head = uint256(uint160(owner)) | (uint256(period) << START_SHIFT) | (uint256(endPeriod) << END_SHIFT)
            | (uint256(period) << PAID_SHIFT);
        _setHead(p, head);
        _setTerms(p, terms);
        p.kfragRoot = kfragRoot;
        if (msg.sender != owner) _sponsors[policyId] = msg.sender;

        paid = uint256(feeRate) * count * (endPeriod + 1 - period);
        emit PolicyCreated(policyId, owner, msg.sender, period, endPeriod, feeRate, nodes, kfragRoot, paid);
    }

    /// A probe arrangement: the node's terms as `_admitNode` checks them except the quota and its
    /// own fee rate (the global minimum applies), and not counted (no quota slot, no expiry count). Returns the terms word's inline id.
    function _admitProbe(address node, uint32 endPeriod, uint96 feeRate) private returns (uint256) {
        uint256 id = _nodes[node].id;
        if (id == 0) revert NodeIneligible(node, NodeStatus.NotEnrolled);
        _checkTerms(node, _word(_nodes[node]), endPeriod, feeRate, _params, TOTAL_UNKNOWN, type(uint24).max);
        return id << ID0_SHIFT;
    }

    /// Checks every node exactly as `checkNode` does and counts the arrangement against its quota.
    /// Returns the first three ids placed in the terms word; stores the rest in `_extraIds`.
    function _admitNodes(bytes16 policyId, address[] calldata nodes, uint32 endPeriod, uint96 feeRate)
        private
        returns (uint256 inlineIds)
    {
        Params memory g = _params;
        uint256 totalLocked = TOTAL_UNKNOWN;
        uint256 extra; // ids past the inline ones, packed IDS_PER_WORD per word
        address prev;
        uint256 count = nodes.length;
        for (uint256 i; i < count; ++i) {
            address node = nodes[i];
            // Ascending order makes duplicates impossible without an O(n²) check.
            if (node <= prev) revert NodesNotAscending(i);
            prev = node;
            uint256 id;
            (id, totalLocked) = _admitNode(node, endPeriod, feeRate, g, totalLocked);
            if (i < INLINE_IDS) inlineIds |= id << (ID0_SHIFT + 32 * i);
            else extra = _packExtraId(policyId, extra, id, i - INLINE_IDS, i + 1 == count);
        }
    }

    /// Adds the `j`-th id past the inline ones to the word being packed; stores the word when it is
    /// full or `last`, returning the word to continue with.
    function _packExtraId(bytes16 policyId, uint256 word, uint256 id, uint256 j, bool last) private returns (uint256) {
        uint256 k = j % IDS_PER_WORD;
        word |= id << (32 * k);
        if (k != IDS_PER_WORD - 1 && !last) return word;
        _extraIds[policyId][j / IDS_PER_WORD] = word;
        return 0;
    }

    /// Admits one node (reverting with the reason `checkNode` would give) and returns its id.
    /// Every quota is at least quotaBase, so the escrow's total is fetched only for a node already
    /// holding that many arrangements, once per policy (`totalLocked` carries it, or TOTAL_UNKNOWN).
    function _admitNode(address node, uint32 endPeriod, uint96 feeRate, Params memory g, uint256 totalLocked)
        private
        returns (uint256 id, uint256)
    {
        Node storage n = _nodes[node];
        uint256 word = _word(n);
        id = uint32(word >> NODE_ID_SHIFT);
        if (id == 0) revert NodeIneligible(node, NodeStatus.NotEnrolled);
        (word, totalLocked) = _checkTerms(node, word, endPeriod, feeRate, g, totalLocked, 0);
        // active < quota ≤ type(uint24).max (see _setQuotaParams): the increment stays in its field.
        _setWord(n, word + (uint256(1) << ARRANGEMENTS_SHIFT));
        _expiring[node][endPeriod / PERIODS_PER_WORD] += _expiryUnit(endPeriod);
        return (id, totalLocked);
    }

    /// The node's current terms, as a hire or an extension through `endPeriod` must meet them: fee
    /// rate, registration, stake locked through `endPeriod` and the quota, where `held` of the
    /// node's arrangements is the one being extended (it holds that kfrag already). At quotaBase or
    /// more, expired arrangements are swept out first; returns the node word after that.
    function _checkTerms(
        address node,
        uint256 word,
        uint32 endPeriod,
        uint96 feeRate,
        Params memory g,
        uint256 totalLocked,
        uint256 held
    ) private returns (uint256, uint256) {
        uint256 floor = held == type(uint24).max ? g.minFeeRate : _effectiveMinFeeRate(uint80(word >> 96), g);
        if (feeRate < floor) revert NodeIneligible(node, NodeStatus.FeeRateTooLow);
        if (!escrow.isRegistered(node)) revert NodeIneligible(node, NodeStatus.NotRegistered);
        uint256 stake = escrow.lockedThrough(node, endPeriod);
        if (stake == 0) revert NodeIneligible(node, NodeStatus.StakeNotLocked);
        // held == type(uint24).max: a probe arrangement, outside the quota (no sweep, no check)
        // and priced from the global minimum (see "Probe capacity"), checked by _admitProbe.
        if (held != type(uint24).max && uint24(word >> ARRANGEMENTS_SHIFT) - held >= g.quotaBase) {
            word = _sweep(node, word);
            uint256 active = uint24(word >> ARRANGEMENTS_SHIFT) - held;
            if (active >= g.quotaBase) {
                if (totalLocked == TOTAL_UNKNOWN) totalLocked = escrow.totalLocked();
                if (active >= _quota(node, stake, totalLocked, g)) revert NodeIneligible(node, NodeStatus.OverQuota);
            }
        }
        return (word, totalLocked);
    }

    /// Subtracts the node's arrangements that ended before now (as far as `_expired` reaches)
    /// from its count in `word` and moves its cursor; returns the new word (the caller stores it).
    function _sweep(address node, uint256 word) private returns (uint256) {
        (uint256 expired, uint256 through) = _expired(node, uint24(word >> ARRANGEMENTS_SHIFT));
        if (through == _sweptThrough[node]) return word;
        _sweptThrough[node] = through;
        emit ArrangementsExpired(node, expired, through);
        return word - (expired << ARRANGEMENTS_SHIFT);
    }

    /// How many of the node's `active` counted arrangements ended before the current period, read
    /// from at most MAX_SWEEP_WORDS expiry words from its cursor on, and where the cursor moves.
    /// Counts below the cursor are never read or written again (hires and revocations touch only
    /// periods ≥ now), so `active` is always the sum of the counts from the cursor on: once all of
    /// them ended, nothing later is counted and the cursor jumps to now.
    function _expired(address node, uint256 active) private view returns (uint256 expired, uint256 through) {
        through = _sweptThrough[node];
        uint256 period = _currentPeriod();
        mapping(uint256 => uint256) storage counts = _expiring[node];
        for (uint256 w; w < MAX_SWEEP_WORDS && through < period && expired < active; ++w) {
            uint256 index = through / PERIODS_PER_WORD;
            uint256 word = counts[index];
            uint256 stop = (index + 1) * PERIODS_PER_WORD;
            if (stop > period) stop = period;
            for (; through < stop; ++through) expired += uint16(word >> (COUNTER_BITS * (through % PERIODS_PER_WORD)));
        }
        if (expired == active) through = period;
    }

    /// One in the 16-bit expiry counter of `period` within its word.
    function _expiryUnit(uint256 period) private pure returns (uint256) {
        return uint256(1) << (COUNTER_BITS * (period % PERIODS_PER_WORD));
    }

    function _nodeStatus(address node, uint32 endPeriod, uint96 feeRate, Params memory g, uint256 totalLocked)
        private
        view
        returns (NodeStatus status, uint256 stake, uint256 quota, uint256 active)
    {
        Node memory n = _nodes[node];
        if (n.id == 0) return (NodeStatus.NotEnrolled, 0, 0, 0);
        (uint256 expired,) = _expired(node, n.activeArrangements);
        active = n.activeArrangements - expired;
        if (feeRate < _effectiveMinFeeRate(n.minFeeRate, g)) return (NodeStatus.FeeRateTooLow, 0, 0, active);
        if (!escrow.isRegistered(node)) return (NodeStatus.NotRegistered, 0, 0, active);
        stake = escrow.lockedThrough(node, endPeriod);
        if (stake == 0) return (NodeStatus.StakeNotLocked, 0, 0, active);
        quota = _quota(node, stake, totalLocked, g);
        status = active < quota ? NodeStatus.Eligible : NodeStatus.OverQuota;
    }

    /// quotaBase + the node's share of the locked total times quotaPerTotal. An unlocking stake
    /// still counts in lockedThrough but no longer in the escrow's totalLocked: it is added back
    /// to the total, so the share a node had stays when it starts unlocking instead of jumping.
    function _quota(address node, uint256 stake, uint256 totalLocked, Params memory g) private view returns (uint256) {
        if (_isUnlocking(node)) totalLocked += stake;
        return g.quotaBase + (stake >= totalLocked ? g.quotaPerTotal : stake * g.quotaPerTotal / totalLocked);
    }

    /// Whether the node's stake has started unlocking (StakingEscrow.stakeOf: amount, lockPeriods,
    /// unlockPeriod, ...; a nonzero unlockPeriod).
    function _isUnlocking(address node) private view returns (bool) {
        (bool ok, bytes memory data) = address(escrow).staticcall(abi.encodeWithSignature("stakeOf(address)", node));
        if (!ok || data.length < 96) return false;
        (,, uint32 unlockPeriod) = abi.decode(data, (uint256, uint32, uint32));
        return unlockPeriod != 0;
    }

    function _revokePolicy(Policy storage p, uint256 head, bytes16 policyId) private returns (uint256 refund) {
        uint32 period = _currentPeriod();
        uint32 end = uint32(head >> END_SHIFT);
        if (period > end) revert PolicyExpired(policyId);
        uint256 terms = _terms(p);
        uint256 active = uint8(terms >> ACTIVE_SHIFT);
        if (active == 0) revert PolicyFullyRevoked(policyId);
        uint256 rate = uint96(terms);
        _creditActiveNodes(policyId, terms, rate * (period + 1 - uint32(head >> PAID_SHIFT)), terms & PROBE_BIT == 0, end);
        // Every bit of the mask set, no active node; paidUntil stays: nothing is credited any more.
        uint256 allRevoked = (uint256(1) << uint8(terms >> COUNT_SHIFT)) - 1;
        _setTerms(
            p,
            _withFirstRevoke(
                (terms & ~((uint256(0xff) << ACTIVE_SHIFT) | (PERIOD_FIELD << MASK_SHIFT))) | (allRevoked << MASK_SHIFT),
                head,
                period
            )
        );
        refund = rate * active * (end - period);
        // One cold read on the usual path; the nodes' holds only while a leak challenge is open.
        if (_challengedUntil[policyId] >= block.number) refund -= _holdBackAll(policyId, terms, rate * (end - period));
        address owner = address(uint160(head));
        emit PolicyRevoked(policyId, refund);
        if (refund != 0) token.safeTransfer(owner, refund);
    }

    function _revokeArrangement(Policy storage p, uint256 head, bytes16 policyId, address node)
        private
        returns (uint256 refund)
    {
        refund = _endArrangement(p, head, policyId, node);
        if (_challengedUntil[policyId] >= block.number) refund -= _holdBack(policyId, node, refund);
        address owner = address(uint160(head));
        emit ArrangementRevoked(policyId, node, refund);
        if (refund != 0) token.safeTransfer(owner, refund);
    }

    /// Ends one live arrangement: credits the node through the current period, frees its quota;
    /// returns the unserved periods' fees (the caller pays them out).
    function _endArrangement(Policy storage p, uint256 head, bytes16 policyId, address node)
        private
        returns (uint256 refundable)
    {
        uint32 period = _currentPeriod();
        uint32 end = uint32(head >> END_SHIFT);
        if (period > end) revert PolicyExpired(policyId);
        uint256 terms = _terms(p);
        (bool found, uint256 i) = _indexOf(terms, policyId, node);
        if (!found) revert NotArrangement(policyId, node);
        uint256 bit = uint256(1) << (MASK_SHIFT + i);
        if (terms & bit != 0) revert ArrangementAlreadyRevoked(policyId, node);
        uint256 rate = uint96(terms);
        _creditNode(node, rate * (period + 1 - uint32(head >> PAID_SHIFT)), terms & PROBE_BIT == 0, end);
        // The bit was clear, so activeNodes ≥ 1 and the decrement stays in its field.
        _setTerms(p, _withFirstRevoke((terms | bit) - (uint256(1) << ACTIVE_SHIFT), head, period));
        refundable = rate * (end - period);
    }

    /// Records the policy's first revocation period in `terms` (see `Policy.firstRevoke`).
    function _withFirstRevoke(uint256 terms, uint256 head, uint32 period) private pure returns (uint256) {
        if (terms >> FIRST_REVOKE_SHIFT != 0) return terms;
        uint256 served = period + 1 - uint32(head >> START_SHIFT);
        return terms | ((served < FIRST_REVOKE_MAX ? served : FIRST_REVOKE_MAX) << FIRST_REVOKE_SHIFT);
    }

    /// Holds back min(cap, `refundable`) of a revoked arrangement's refund while a leak challenge
    /// on it is open (`openLeakChallenge`); returns the amount held.
    function _holdBack(bytes16 policyId, address node, uint256 refundable) private returns (uint256 held) {
        bytes32 key = _arrangementKey(policyId, node);
        LeakHold memory h = _leakHolds[key];
        if (h.revokedBlock != 0 || h.untilBlock < block.number) return 0;
        held = h.amount < refundable ? h.amount : refundable;
        _leakHolds[key] = LeakHold(uint96(held), h.untilBlock, uint64(block.number));
        emit LeakHoldCreated(policyId, node, held, h.untilBlock);
    }

    /// `_holdBack` for every node still active in `terms` (≤ MAX_NODES), each refundable `perNode`.
    function _holdBackAll(bytes16 policyId, uint256 terms, uint256 perNode) private returns (uint256 held) {
        uint256 count = uint8(terms >> COUNT_SHIFT);
        uint256 mask = uint32(terms >> MASK_SHIFT);
        for (uint256 i; i < count; ++i) {
            if ((mask >> i) & 1 != 0) continue;
            held += _holdBack(policyId, nodeById[_idAt(terms, policyId, i)], perNode);
        }
    }

    function _arrangementKey(bytes16 policyId, address node) private pure returns (bytes32) {
        return keccak256(abi.encode(policyId, node));
    }

    /// Credits `amount` to every non-revoked node of the policy and, if `release`, frees one unit
    /// of its quota (the arrangement ending at `end`, not yet passed).
    function _creditActiveNodes(bytes16 policyId, uint256 terms, uint256 amount, bool release, uint32 end) private {
        uint256 count = uint8(terms >> COUNT_SHIFT);
        uint256 mask = uint32(terms >> MASK_SHIFT);
        for (uint256 i; i < count; ++i) {
            if ((mask >> i) & 1 != 0) continue;
            _creditNode(nodeById[_idAt(terms, policyId, i)], amount, release, end);
        }
    }

    /// Adds `amount` to a node's fee balance and, if `release`, frees one unit of its quota, in
    /// one read and one write of its slot, and takes the arrangement out of its expiry count at
    /// `end` (≥ now, so above the node's sweep cursor: the count holds it).
    function _creditNode(address node, uint256 amount, bool release, uint32 end) private {
        Node storage n = _nodes[node];
        uint256 word = _word(n);
        if (release) _expiring[node][end / PERIODS_PER_WORD] -= _expiryUnit(end);
        uint256 balance = uint96(word) + amount;
        if (balance > type(uint96).max) revert AmountTooLarge(balance);
        // Every live arrangement was counted at admission, so a release never underflows.
        if (release) word -= uint256(1) << ARRANGEMENTS_SHIFT;
        if (amount != 0 || release) _setWord(n, (word & ~FEE_FIELD) | balance);
    }

    function _permit(uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) private {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), value, deadline, v, r, s) {}
        catch {
            // Someone may have submitted the permit first; transferFrom below fails if it truly failed.
        }
    }

    /// Spends an unordered nonce: flips its bit and fails if it was already set.
    function _useNonce(address owner, uint256 nonce) private {
        uint256 bit = uint256(1) << (nonce & 255);
        uint256 bits = revocationNonceBitmap[owner][nonce >> 8] ^= bit;
        if (bits & bit == 0) revert NonceAlreadyUsed(owner, nonce);
    }

    /// The policy and its first slot; reverts when it does not exist.
    function _load(bytes16 policyId) private view returns (Policy storage p, uint256 head) {
        p = _policies[policyId];
        head = _head(p);
        if (uint160(head) == 0) revert PolicyNotFound(policyId);
    }

    function _head(Policy storage p) private view returns (uint256 word) {
        assembly ("memory-safe") {
            word := sload(p.slot)
        }
    }

    function _terms(Policy storage p) private view returns (uint256 word) {
        assembly ("memory-safe") {
            word := sload(add(p.slot, 1))
        }
    }

    function _setHead(Policy storage p, uint256 word) private {
        assembly ("memory-safe") {
            sstore(p.slot, word)
        }
    }

    function _setTerms(Policy storage p, uint256 word) private {
        assembly ("memory-safe") {
            sstore(add(p.slot, 1), word)
        }
    }

    function _word(Node storage n) private view returns (uint256 word) {
        assembly ("memory-safe") {
            word := sload(n.slot)
        }
    }

    function _setWord(Node storage n, uint256 word) private {
        assembly ("memory-safe") {
            sstore(n.slot, word)
        }
    }

    function _idAt(uint256 terms, bytes16 policyId, uint256 i) private view returns (uint32) {
        if (i < INLINE_IDS) return uint32(terms >> (ID0_SHIFT + 32 * i));
        uint256 j = i - INLINE_IDS;
        return uint32(_extraIds[policyId][j / IDS_PER_WORD] >> (32 * (j % IDS_PER_WORD)));
    }

    function _indexOf(uint256 terms, bytes16 policyId, address node) private view returns (bool, uint256) {
        uint32 id = _nodes[node].id;
        if (id == 0) return (false, 0);
        uint256 count = uint8(terms >> COUNT_SHIFT);
        for (uint256 i; i < count; ++i) {
            if (_idAt(terms, policyId, i) == id) return (true, i);
        }
        return (false, 0);
    }

    function _currentPeriod() private view returns (uint32) {
        return uint32(block.timestamp / secondsPerPeriod);
    }

    /// The node's own rate, raised to the range minimum; never lowered (see `setFeeRateRange`).
    function _effectiveMinFeeRate(uint256 rate, Params memory g) private pure returns (uint256) {
        return rate < g.minFeeRate ? g.minFeeRate : rate;
    }

    function _setFeeRateRange(uint80 minFeeRate, uint80 maxFeeRate) private {
        if (minFeeRate > maxFeeRate) revert InvalidFeeRateRange(minFeeRate, maxFeeRate);
        _params.minFeeRate = minFeeRate;
        _params.maxFeeRate = maxFeeRate;
        emit FeeRateRangeSet(minFeeRate, maxFeeRate);
    }

    function _setQuotaParams(uint24 quotaBase, uint64 quotaPerTotal) private {
        // Quota must fit the 16-bit expiry counters (and so the 24-bit arrangement counter).
        if (quotaBase == 0 || uint256(quotaBase) + quotaPerTotal > type(uint16).max) {
            revert InvalidQuotaParams(quotaBase, quotaPerTotal);
        }
        _params.quotaBase = quotaBase;
        _params.quotaPerTotal = quotaPerTotal;
        emit QuotaParamsSet(quotaBase, quotaPerTotal);
    }
}
