// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title DirectoryCheckpoint
/// @notice On-chain checkpoints of one key-transparency directory's RFC 9162 Merkle log. The
///         operator publishes (tree size, root) pairs; each new checkpoint must come with a
///         consistency proof from the previous one, verified here, so the on-chain sequence is
///         itself append-only and every client comparing against it sees the same history.
/// @dev Roots are RFC 9162 SHA-256 tree hashes (leaf = H(0x00‖d), node = H(0x01‖l‖r)).
contract DirectoryCheckpoint {
    struct Checkpoint {
        uint64 treeSize;
        uint64 timestamp;
        bytes32 root;
    }

    /// @notice Longest accepted consistency proof; 2·64 covers any tree of up to 2^64 leaves.
    uint256 public constant MAX_PROOF_LENGTH = 128;

    /// @notice The only account allowed to checkpoint.
    address public immutable operator;
    /// @notice SHA-256 of the directory's ML-DSA-44 public key (it signs tree heads and log entries), so clients check the key the directory serves against chain.
    bytes32 public immutable directoryKey;

    Checkpoint private _latest;
    uint256 private _count;
    mapping(uint64 treeSize => bytes32 root) private _rootAt;

    /// @notice A new checkpoint was recorded.
    event Checkpointed(uint256 indexed sequence, uint64 indexed treeSize, bytes32 root, uint64 timestamp);

    error NotOperator(address caller);
    error ZeroOperator();
    error TreeSizeNotIncreasing(uint64 latest, uint64 proposed);
    error ProofTooLong(uint256 length);
    error InconsistentCheckpoint(uint64 fromSize, uint64 toSize);

    /// @param operator_ Account that will publish checkpoints (the directory's hot wallet).
    /// @param directoryKey_ SHA-256 of the directory's ML-DSA-44 public key (1,312 bytes, too long to keep on chain).
    constructor(address operator_, bytes32 directoryKey_) {
        if (operator_ == address(0)) revert ZeroOperator();
        operator = operator_;
        directoryKey = directoryKey_;
    }

    /// @notice Records that the directory's log had `treeSize` leaves with root `root`.
    /// @param treeSize Strictly larger than the latest checkpoint's size.
    /// @param root RFC 9162 root of the first `treeSize` leaves.
    /// @param proof RFC 9162 consistency proof from the latest checkpoint (empty for the first).
    function checkpoint(uint64 treeSize, bytes32 root, bytes32[] calldata proof) external {
        if (msg.sender != operator) revert NotOperator(msg.sender);
        Checkpoint memory prev = _latest;
        if (treeSize <= prev.treeSize) revert TreeSizeNotIncreasing(prev.treeSize, treeSize);
        if (proof.length > MAX_PROOF_LENGTH) revert ProofTooLong(proof.length);
        if (prev.treeSize == 0) {
            if (proof.length != 0) revert InconsistentCheckpoint(0, treeSize);
        } else if (!_consistent(prev.treeSize, treeSize, prev.root, root, proof)) {
            revert InconsistentCheckpoint(prev.treeSize, treeSize);
        }
        uint64 now64 = uint64(block.timestamp);
        _latest = Checkpoint(treeSize, now64, root);
        _rootAt[treeSize] = root;
        uint256 sequence = _count++;
        emit Checkpointed(sequence, treeSize, root, now64);
    }

    /// @notice The newest checkpoint (all zero before the first).
    function latest() external view returns (uint64 treeSize, bytes32 root, uint64 timestamp) {
        Checkpoint memory c = _latest;
        return (c.treeSize, c.root, c.timestamp);
    }

    /// @notice Root checkpointed for exactly `treeSize` leaves, or zero if none was.
    function rootAt(uint64 treeSize) external view returns (bytes32) {
        return _rootAt[treeSize];
    }

    /// @notice Number of checkpoints recorded so far.
    function checkpointCount() external view returns (uint256) {
        return _count;
    }

    /// @notice Pure RFC 9162 §2.1.4.2 consistency check, exposed for clients and tests.
    /// @return True when the tree (size1, root1) is a prefix of the tree (size2, root2).
    function verifyConsistency(
        uint64 size1,
        uint64 size2,
        bytes32 root1,
        bytes32 root2,
        bytes32[] calldata proof
    ) external pure returns (bool) {
        if (size1 == 0 || size2 < size1) return false;
        if (size1 == size2) return proof.length == 0 && root1 == root2;
        return _consistent(size1, size2, root1, root2, proof);
    }

    /// @dev Requires 0 < size1 < size2.
    function _consistent(
        uint64 size1,
        uint64 size2,
        bytes32 root1,
        bytes32 root2,
        bytes32[] calldata proof
    ) private pure returns (bool) {
        if (proof.length == 0) return false;
        uint256 fn = size1 - 1;
        uint256 sn = size2 - 1;
        // When size1 is a power of two its root is the first path element, not sent in the proof.
        bool prepend = (size1 & (size1 - 1)) == 0;
        uint256 start = prepend ? 0 : 1;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        bytes32 fr = prepend ? root1 : proof[0];
        bytes32 sr = fr;
        for (uint256 i = start; i < proof.length; ++i) {
            bytes32 c = proof[i];
            if (sn == 0) return false;
            if (fn & 1 == 1 || fn == sn) {
                fr = _node(c, fr);
                sr = _node(c, sr);
                if (fn & 1 == 0) {
                    while (fn & 1 == 0 && fn != 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                sr = _node(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && fr == root1 && sr == root2;
    }

    function _node(bytes32 left, bytes32 right) private pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), left, right));
    }
}
