// Default HealthCheck configuration of deploy/health.ts, in one place so tests can assert what the
// deployment really does (small networks decide, weekly coverage at N = 1,000).
const HOUR = 3600;
const TOKEN = 10n ** 18n;

export const HEALTH_DEFAULTS = {
  // 4-hour rounds: 42 per week. With 32 targets, 28 of them drawn by the sweep, a network of
  // 1,000 nodes is fully swept every ceil(1000 / 28) = 36 rounds = 6 days.
  commitDuration: 2 * HOUR,
  revealDuration: 2 * HOUR,
  openWindow: 1 * HOUR,
  // Enrollment changes stop this long before each round starts, so that the layout a round
  // draws from is final ~75 beacon slots before its seed can be known.
  freezeWindow: 15 * 60,
  claimWindow: 28 * 24 * HOUR,
  sampleSize: 32,
  expectedCheckers: 10,
  // The least the contract accepts: a 3-node network decides (1 target, 2 checkers).
  quorum: 2,
  rewardPerRound: 1_000n * TOKEN,
  // Round 1 starts at deployment unless a later start is announced (parameter firstRoundStart,
  // a Unix time): announcing one lets operators enroll so that round 1 already judges.
  firstRoundStart: 0,
} as const;
