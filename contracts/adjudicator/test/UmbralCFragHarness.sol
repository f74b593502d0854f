// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Secp256k1} from "../Secp256k1.sol";
import {UmbralCFrag} from "../UmbralCFrag.sol";

/// @title Test-only window onto the cfrag verifier libraries (never deployed to a network).
contract UmbralCFragHarness {
    /// @notice UmbralCFrag.isCorrect.
    function isCorrect(bytes calldata capsule, bytes calldata cfrag, UmbralCFrag.Hints calldata hints)
        external
        view
        returns (bool)
    {
        return UmbralCFrag.isCorrect(capsule, cfrag, hints);
    }

    /// @notice UmbralCFrag.challengeScalar.
    function challengeScalar(bytes calldata capsule, bytes calldata cfrag) external view returns (uint256) {
        return UmbralCFrag.challengeScalar(capsule, cfrag);
    }

    /// @notice UmbralCFrag.kfragSignatureDigest.
    function kfragSignatureDigest(bytes calldata cfrag, bytes calldata delegatingKey, bytes calldata receivingKey)
        external
        view
        returns (bytes32)
    {
        return UmbralCFrag.kfragSignatureDigest(cfrag, delegatingKey, receivingKey);
    }

    /// @notice Secp256k1.checkProduct.
    function checkProduct(uint256 px, uint256 parity, uint256 k, uint256 qx, uint256 qy) external view returns (bool) {
        return Secp256k1.checkProduct(px, parity, k, qx, qy);
    }

    /// @notice Secp256k1.subtract.
    function subtract(uint256 ax, uint256 ay, uint256 bx, uint256 by, uint256 lambda)
        external
        pure
        returns (bool isInfinity, uint256 rx, uint256 ry)
    {
        return Secp256k1.subtract(ax, ay, bx, by, lambda);
    }
}
