// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title TEST ONLY: a HealthCheck stand-in for the probe's tests against real agents
/// (test/health/probe.test.ts), where a real round cannot draw the one agent under test.
/// @notice Every (round, checker, target) is assigned; a proof of contact is accepted when it is
/// 65 bytes (the probe verifies it against the target's stamp key off-chain first). Timing as the
/// HealthCheck's, from deployment, so the agent's round is this contract's.
contract ProbeAssignmentsStub {
    uint256 public immutable genesis;
    uint256 public constant commitDuration = 3600;
    uint256 public constant revealDuration = 3600;
    uint256 public constant openWindow = 600;

    constructor() {
        genesis = block.timestamp;
    }

    function isProbeAssignment(uint32, address, address) external pure returns (bool) {
        return true;
    }

    function isContactValid(uint32, address, address, bytes calldata proof) external pure returns (bool) {
        return proof.length == 65;
    }
}
