import { Contract, type ContractRunner } from "ethers";

/** The parts of HealthCheck the duty calls (see contracts/HealthCheck.sol). */
export const HEALTH_ABI = [
  "function genesis() view returns (uint256)",
  "function commitDuration() view returns (uint256)",
  "function revealDuration() view returns (uint256)",
  "function openWindow() view returns (uint256)",
  "function quorum() view returns (uint256)",
  "function secondsPerPeriod() view returns (uint256)",
  "function roundInfo(uint32 round) view returns (tuple(uint256 start, uint256 commitEnd, uint256 revealEnd, uint256 claimEnd, bool opened, bool finalized, bool swept, uint192 seed, uint8 threshold, uint16 fraction, uint8 sampleSize, uint32 candidates, uint64 revealedWeight, uint32 revealers, uint32 decidedMask, uint32 unhealthyMask, uint96 majorityWeight, uint256 budget, uint256 claimed, address[] targets, bool voided, uint32 prevOpened))",
  "function isChecker(uint32 round, address staker) view returns (bool selected, uint256 distance)",
  "function ballotOf(uint32 round, address staker) view returns (bool committed, bool revealed, bool claimed, uint256 verdicts, uint256 weight, bool punished)",
  "function claimable(uint32 round, address staker) view returns (uint256)",
  "function lastOpenedRound() view returns (uint32)",
  "function openRound()",
  "function commit(uint32 round, bytes32 commitment)",
  "function reveal(uint32 round, uint256 verdicts, bytes32 salt, bytes contacts)",
  "function isContactValid(uint32 round, address checker, address target, bytes proof) view returns (bool)",
  "function finalize(uint32 round)",
  "function claimReward(uint32 round, address staker)",
  "function punishNonRevealer(uint32 round, address staker)",
  "event Committed(uint32 indexed round, address indexed staker, bytes32 commitment, uint256 weight)",
  "event TargetJudged(uint32 indexed round, address indexed target, bool healthy, uint256 forfeited)",
];

/** What a checker needs from PolicyManager to run check policies like any client. */
export const CHECK_POLICY_ABI = [
  "function token() view returns (address)",
  "function currentPeriod() view returns (uint32)",
  "function policyCost(uint256 nodeCount, uint96 feeRate, uint32 endPeriod) view returns (uint256)",
  "function params() view returns (tuple(uint80 minFeeRate, uint80 maxFeeRate, uint24 quotaBase, uint64 quotaPerTotal))",
  "function nodeFees(address node) view returns (uint256 feeBalance, uint256 minFeeRate, uint256 effectiveMinFeeRate, uint256 activeArrangements, uint32 id)",
  "function checkNode(address node, uint32 endPeriod, uint96 feeRate) view returns (uint8 status, uint256 stake, uint256 quota, uint256 activeArrangements)",
  "function isActiveArrangement(bytes16 policyId, address node) view returns (bool)",
  "function createPolicy(bytes16 policyId, address owner, uint32 endPeriod, uint96 feeRate, address[] nodes, bytes32 kfragRoot) returns (uint256)",
  "function healthCheck() view returns (address)",
  "function createProbePolicy(uint32 round, bytes16 id, address owner, uint96 feeRate, address[] nodes, bytes32 kfragRoot) returns (uint256)",
  "function revokePolicy(bytes16 policyId) returns (uint256)",
  "function revokeWithSignature(bytes16 policyId, address node, uint256 nonce, uint256 deadline, bytes signature) returns (uint256)",
  "event MinFeeRateSet(address indexed node, uint256 minFeeRate)",
];

export const ERC20_ABI = [
  "function allowance(address owner, address spender) view returns (uint256)",
  "function approve(address spender, uint256 amount) returns (bool)",
];

export const ESCROW_NODE_ABI = [
  "function nodeInfo(address staker) view returns (string endpoint, bytes encryptingKey, bytes verifyingKey)",
  "function lockedThrough(address staker, uint32 period) view returns (uint256)",
];

export function healthContract(address: string, runner: ContractRunner): Contract {
  return new Contract(address, HEALTH_ABI, runner);
}

/** Round of `HealthCheck` as the contract numbers them (round 1 starts at genesis). */
export interface RoundTiming {
  genesis: bigint;
  commitDuration: bigint;
  revealDuration: bigint;
  openWindow: bigint;
}

export function roundAt(t: RoundTiming, timestamp: bigint): bigint {
  if (timestamp < t.genesis) return 0n;
  return (timestamp - t.genesis) / (t.commitDuration + t.revealDuration) + 1n;
}

export function roundWindows(t: RoundTiming, round: bigint): { start: bigint; openEnd: bigint; commitEnd: bigint; revealEnd: bigint } {
  const start = t.genesis + (round - 1n) * (t.commitDuration + t.revealDuration);
  return { start, openEnd: start + t.openWindow, commitEnd: start + t.commitDuration, revealEnd: start + t.commitDuration + t.revealDuration };
}
