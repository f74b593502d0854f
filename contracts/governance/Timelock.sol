// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

// Compiled here so that deployments can use OpenZeppelin's TimelockController as is: the
// NKMSNetwork module (deploy/network.ts) makes it, self-administered, the admin of every role of
// every NKMS contract. No code of ours: its audited semantics are the point.
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
