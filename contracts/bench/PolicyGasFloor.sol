// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IStakingEscrow} from "../interfaces/IStakingEscrow.sol";

/// @title PolicyGasFloor: a measuring instrument, NOT part of the network.
/// @notice Does exactly the work no ERC-20-paid policy manager can avoid, so that
/// bench/gas/floor.ts can measure the cheapest a policy creation or a fee withdrawal can
/// possibly be on the real NKMSToken and StakingEscrow. Never deployed by the network modules
/// (deploy/); only the gas bench and test/policy/gas-floor.test.ts deploy it.
///
/// What it keeps, per creation: the same calldata as `PolicyManager.createPolicy`; the same
/// validity and eligibility checks (enrolled, fee rate, registered, stake locked through the
/// last period, quota); ONE fresh storage slot for the whole policy (the hash of its terms, so
/// later operations would have to be given the terms back in calldata); one existing slot per
/// node (min fee rate | arrangement counter | fee balance), counter +1; the fee pulled with
/// `transferFrom`; one event carrying every term so views can be rebuilt off-chain.
/// What it drops on purpose: governable parameters (immutables here: no storage read),
/// the reentrancy guard, SafeERC20's wrapper, the `paid` field of the event (derivable).
///
/// Eligibility uses the cheapest existing escrow views that cover it: `isRegistered` (bonded
/// operator and published keys: 2 cold slots) and `lockedThrough` (staked and locked through the
/// last period: 1 more cold slot, the other one is then warm). No single existing view covers
/// both; `createFloorLockedOnly` measures the call a combined view would save (it skips the
/// registration check, so it is not a correct admission: measurement only), and
/// `createFloorUnpaid` what the ERC-20 payment itself costs, `createFloorFromDeposit` what a
/// prepaid-deposit payment would cost instead.
contract PolicyGasFloor {
    uint256 private constant FEE_FIELD = type(uint96).max; // node word: feeBalance | minFeeRate | active
    uint256 private constant RATE_SHIFT = 96;
    uint256 private constant ACTIVE_SHIFT = 176;
    uint256 private constant MAX_NODES = 32;
    // How `_create` takes the fee.
    uint8 private constant PAY_NOTHING = 0;
    uint8 private constant PAY_TRANSFER_FROM = 1;
    uint8 private constant PAY_FROM_DEPOSIT = 2;

    /// @notice The real NKMS token.
    IERC20 public immutable token;
    /// @notice The real staking escrow.
    IStakingEscrow public immutable escrow;
    /// @notice Period length, copied from the escrow.
    uint32 public immutable secondsPerPeriod;
    /// @notice Quota rule parameters (immutable here, governable in PolicyManager).
    uint256 public immutable quotaBase;
    uint256 public immutable quotaPerTotal;

    /// @notice keccak256 of every term of a policy (see `termsHash`); zero when it does not exist.
    mapping(bytes16 policyId => bytes32) public policyHash;
    mapping(address node => uint256) private _nodeWords;
    /// @notice The "own slot" variant's fee balances (see `withdrawFloorOwnSlot`).
    mapping(address node => uint256) public ownSlotFeeBalance;
    /// @notice Tokens a sponsor prepaid with `deposit` (see `createFloorFromDeposit`).
    mapping(address sponsor => uint256) public deposits;

    event PolicyCreated(
        bytes16 indexed policyId,
        address indexed owner,
        address indexed sponsor,
        uint32 startPeriod,
        uint32 endPeriod,
        uint96 feeRate,
        address[] nodes,
        bytes32 kfragRoot
    );
    event NodeEnrolled(address indexed node, uint256 minFeeRate);
    event FeesCredited(address indexed node, uint256 amount, bool ownSlot);
    event FeesWithdrawn(address indexed node, uint256 amount);

    error InvalidPolicy();
    error NodesNotAscending(uint256 index);
    error NodeIneligible(address node, uint8 reason); // PolicyManager.NodeStatus numbering
    error PolicyAlreadyExists(bytes16 policyId);
    error NothingToWithdraw(address node);
    error TransferFailed();
    error InsufficientDeposit(uint256 deposit, uint256 needed);

    /// @param token_ The NKMS token.
    /// @param escrow_ The staking escrow.
    /// @param quotaBase_ Arrangements every node may hold whatever its stake (nonzero).
    /// @param quotaPerTotal_ Extra arrangements for a node holding the whole locked total.
    constructor(IERC20 token_, IStakingEscrow escrow_, uint256 quotaBase_, uint256 quotaPerTotal_) {
        token = token_;
        escrow = escrow_;
        secondsPerPeriod = escrow_.secondsPerPeriod();
        quotaBase = quotaBase_;
        quotaPerTotal = quotaPerTotal_;
    }

    /// @notice Enroll the caller (or change its minimum fee rate, nonzero), like
    /// `PolicyManager.setMinFeeRate`: a node must be enrolled to be hired.
    function enroll(uint80 minFeeRate) external {
        if (minFeeRate == 0) revert InvalidPolicy();
        uint256 word = _nodeWords[msg.sender];
        _nodeWords[msg.sender] = (word & ~(uint256(type(uint80).max) << RATE_SHIFT)) | (uint256(minFeeRate) << RATE_SHIFT);
        emit NodeEnrolled(msg.sender, minFeeRate);
    }

    /// @notice A node's packed word: credited fees, minimum fee rate, arrangements held.
    function nodeState(address node) external view returns (uint256 feeBalance, uint256 minFeeRate, uint256 active) {
        uint256 word = _nodeWords[node];
        return (uint96(word), uint80(word >> RATE_SHIFT), word >> ACTIVE_SHIFT);
    }

    /// @notice The hash a policy is stored as.
    function termsHash(
        address owner,
        address sponsor,
        uint32 startPeriod,
        uint32 endPeriod,
        uint96 feeRate,
        address[] calldata nodes,
        bytes32 kfragRoot
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(owner, sponsor, startPeriod, endPeriod, feeRate, nodes, kfragRoot));
    }

    /// @notice The irreducible work of `PolicyManager.createPolicy` (same arguments, same checks,
    /// same payment `feeRate · nodes · (endPeriod + 1 − currentPeriod)` taken from the caller).
    function createFloor(
        bytes16 policyId,
        address owner,
        uint32 endPeriod,
        uint96 feeRate,
        address[] calldata nodes,
        bytes32 kfragRoot
    ) external returns (uint256 paid) {
        return _create(policyId, owner, endPeriod, feeRate, nodes, kfragRoot, true, PAY_TRANSFER_FROM);
    }

    /// @notice `createFloor` without the `isRegistered` call. NOT a correct admission: it only
    /// measures what one combined escrow view (registered + locked) would save per node.
    function createFloorLockedOnly(
        bytes16 policyId,
        address owner,
        uint32 endPeriod,
        uint96 feeRate,
        address[] calldata nodes,
        bytes32 kfragRoot
    ) external returns (uint256 paid) {
        return _create(policyId, owner, endPeriod, feeRate, nodes, kfragRoot, false, PAY_TRANSFER_FROM);
    }

    /// @notice `createFloor` without taking the fee. NOT a correct creation: it only measures what
    /// the ERC-20 payment costs (a fee paid as msg.value, as NuCypher's was, costs nothing extra).
    function createFloorUnpaid(
        bytes16 policyId,
        address owner,
        uint32 endPeriod,
        uint96 feeRate,
        address[] calldata nodes,
        bytes32 kfragRoot
    ) external returns (uint256 paid) {
        return _create(policyId, owner, endPeriod, feeRate, nodes, kfragRoot, true, PAY_NOTHING);
    }

    /// @notice Prepay `amount` for later `createFloorFromDeposit` calls.
    function deposit(uint256 amount) external {
        _pull(amount);
        deposits[msg.sender] += amount;
    }

    /// @notice `createFloor` paid from the caller's prepaid deposit (one existing slot debited)
    /// instead of a `transferFrom` per policy: what a deposit-based payment would save.
    function createFloorFromDeposit(
        bytes16 policyId,
        address owner,
        uint32 endPeriod,
        uint96 feeRate,
        address[] calldata nodes,
        bytes32 kfragRoot
    ) external returns (uint256 paid) {
        return _create(policyId, owner, endPeriod, feeRate, nodes, kfragRoot, true, PAY_FROM_DEPOSIT);
    }

    /// @notice Credit `amount` to `node`'s packed fee balance, paid in by the caller (what
    /// settle/revoke do with fees already held; here funded so the instrument stays solvent).
    function fund(address node, uint96 amount) external {
        _pull(amount);
        uint256 word = _nodeWords[node];
        if (uint96(word) + uint256(amount) > FEE_FIELD) revert InvalidPolicy();
        _nodeWords[node] = word + amount;
        emit FeesCredited(node, amount, false);
    }

    /// @notice `fund` for the own-slot variant.
    function fundOwnSlot(address node, uint96 amount) external {
        _pull(amount);
        ownSlotFeeBalance[node] += amount;
        emit FeesCredited(node, amount, true);
    }

    /// @notice The irreducible fee withdrawal with the balance packed in the node's word (the
    /// word stays nonzero: no refund) — PolicyManager's layout.
    function withdrawFloor(address node) external returns (uint256 amount) {
        uint256 word = _nodeWords[node];
        amount = uint96(word);
        if (amount == 0) revert NothingToWithdraw(node);
        _nodeWords[node] = word & ~FEE_FIELD;
        _push(node, amount);
        emit FeesWithdrawn(node, amount);
    }

    /// @notice The same with the balance in its own slot: zeroing it earns the EIP-3529 refund
    /// (4,800), paid back by the next credit (zero → nonzero, 20,000 instead of 2,900).
    function withdrawFloorOwnSlot(address node) external returns (uint256 amount) {
        amount = ownSlotFeeBalance[node];
        if (amount == 0) revert NothingToWithdraw(node);
        ownSlotFeeBalance[node] = 0;
        _push(node, amount);
        emit FeesWithdrawn(node, amount);
    }

    function _create(
        bytes16 policyId,
        address owner,
        uint32 endPeriod,
        uint96 feeRate,
        address[] calldata nodes,
        bytes32 kfragRoot,
        bool checkRegistered,
        uint8 payMode
    ) private returns (uint256 paid) {
        uint32 period = uint32(block.timestamp / secondsPerPeriod);
        uint256 count = nodes.length;
        if (
            policyId == bytes16(0) || owner == address(0) || kfragRoot == bytes32(0) || endPeriod < period || count == 0
                || count > MAX_NODES
        ) revert InvalidPolicy();
        if (policyHash[policyId] != bytes32(0)) revert PolicyAlreadyExists(policyId);
        _admitAll(nodes, endPeriod, feeRate, checkRegistered);
        policyHash[policyId] = termsHash(owner, msg.sender, period, endPeriod, feeRate, nodes, kfragRoot);
        paid = uint256(feeRate) * count * (endPeriod + 1 - period);
        emit PolicyCreated(policyId, owner, msg.sender, period, endPeriod, feeRate, nodes, kfragRoot);
        if (payMode == PAY_TRANSFER_FROM) {
            _pull(paid);
        } else if (payMode == PAY_FROM_DEPOSIT) {
            uint256 prepaid = deposits[msg.sender];
            if (prepaid < paid) revert InsufficientDeposit(prepaid, paid);
            deposits[msg.sender] = prepaid - paid;
        }
    }

    function _admitAll(address[] calldata nodes, uint32 endPeriod, uint96 feeRate, bool checkRegistered) private {
        uint256 totalLocked; // read from the escrow only for a node at or above quotaBase
        address prev;
        for (uint256 i; i < nodes.length; ++i) {
            address node = nodes[i];
            if (node <= prev) revert NodesNotAscending(i);
            prev = node;
            totalLocked = _admit(node, endPeriod, feeRate, checkRegistered, totalLocked);
        }
    }

    /// Checks one node as PolicyManager does and counts the arrangement; returns the escrow's
    /// locked total once it had to be read (0 until then).
    function _admit(address node, uint32 endPeriod, uint96 feeRate, bool checkRegistered, uint256 totalLocked)
        private
        returns (uint256)
    {
        uint256 word = _nodeWords[node];
        uint256 minRate = uint80(word >> RATE_SHIFT);
        if (minRate == 0) revert NodeIneligible(node, 1);
        if (feeRate < minRate) revert NodeIneligible(node, 2);
        if (checkRegistered && !escrow.isRegistered(node)) revert NodeIneligible(node, 3);
        uint256 stake = escrow.lockedThrough(node, endPeriod);
        if (stake == 0) revert NodeIneligible(node, 4);
        uint256 active = word >> ACTIVE_SHIFT;
        if (active >= quotaBase) {
            if (totalLocked == 0) totalLocked = escrow.totalLocked();
            uint256 share = stake >= totalLocked ? quotaPerTotal : stake * quotaPerTotal / totalLocked;
            if (active >= quotaBase + share) revert NodeIneligible(node, 5);
        }
        _nodeWords[node] = word + (uint256(1) << ACTIVE_SHIFT);
        return totalLocked;
    }

    function _pull(uint256 amount) private {
        if (!token.transferFrom(msg.sender, address(this), amount)) revert TransferFailed();
    }

    function _push(address to, uint256 amount) private {
        if (!token.transfer(to, amount)) revert TransferFailed();
    }
}
