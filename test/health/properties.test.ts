// Property tests on the real contracts: the vote tally (stake-weighted majority, ties, quorum,
// non-revealers) against a model, and conservation of checker-reward tokens across rounds.
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import {
  TOKEN,
  buildWorld,
  checkersOf,
  commitVote,
  openNextRound,
  randomSalt,
  revealVote,
  toClaimEnd,
  toReveal,
  toRevealEnd,
  weightOf,
  TEST_CONFIG,
  type HealthWorld,
  type Vote,
} from "./fixture";

const SAMPLE = 3;
const REWARD = TEST_CONFIG.rewardPerRound;
const CHECKERS = 5; // 8 nodes − 3 targets
// Repeated stakes make weight ties reachable.
const STAKES = [100_000n, 100_000n, 200_000n, 100_000n, 300_000n, 200_000n, 100_000n, 400_000n].map((a) => a * TOKEN);

const tallyWorld = () => buildWorld({ nodes: 8, amounts: STAKES, config: { sampleSize: SAMPLE, quorum: 2 } });
const poolWorld = () =>
  buildWorld({ nodes: 8, amounts: STAKES, fund: 2_500n * TOKEN, config: { sampleSize: SAMPLE, quorum: 2 } });

type Action = "none" | "commit" | "reveal";
interface Ballot {
  action: Action;
  verdicts: number;
}
const ballotArb = fc.record({
  action: fc.constantFrom<Action>("none", "commit", "reveal", "reveal"),
  verdicts: fc.integer({ min: 0, max: (1 << SAMPLE) - 1 }),
});
const planArb = fc.array(ballotArb, { minLength: CHECKERS, maxLength: CHECKERS });

interface Outcome {
  decided: bigint;
  unhealthy: bigint;
  majority: bigint;
  /** Weight voting healthy, per target. */
  healthyWeight: bigint[];
}

/** The contract's rule, written independently: strict stake-weighted majority among reveals. */
function model(votes: Vote[], plan: Ballot[], quorum: number): Outcome {
  const revealed = votes.filter((_, i) => plan[i].action === "reveal");
  const total = revealed.reduce((s, v) => s + weightOf(v.node.amount), 0n);
  if (revealed.length < quorum) return { decided: 0n, unhealthy: 0n, majority: 0n, healthyWeight: [] };
  let unhealthy = 0n;
  let majority = 0n;
  const healthyWeight: bigint[] = [];
  for (let t = 0; t < SAMPLE; t++) {
    const against = revealed
      .filter((v) => (v.verdicts >> BigInt(t)) & 1n)
      .reduce((s, v) => s + weightOf(v.node.amount), 0n);
    const inFavour = total - against;
    healthyWeight.push(inFavour);
    if (against > inFavour) unhealthy |= 1n << BigInt(t);
    else majority += inFavour; // only proven (healthy) agreements are paid
  }
  return { decided: (1n << BigInt(SAMPLE)) - 1n, unhealthy, majority, healthyWeight };
}

/** Targets judged healthy. */
function healthyTargets(outcome: Outcome): number[] {
  const out: number[] = [];
  for (let t = 0; t < SAMPLE; t++) {
    if ((outcome.decided >> BigInt(t)) & 1n && ((outcome.unhealthy >> BigInt(t)) & 1n) === 0n) out.push(t);
  }
  return out;
}

/** The round's budget: one slice of min(reward, pool) per target, paid for targets judged healthy. */
function budgetOf(outcome: Outcome, available: bigint): bigint {
  return (available * BigInt(healthyTargets(outcome).length)) / BigInt(SAMPLE);
}

/** A revealed ballot's pay: per target judged healthy that it voted healthy, slice · w / W_t. */
function shareOf(verdicts: bigint, weight: bigint, outcome: Outcome, budget: bigint): bigint {
  const healthy = healthyTargets(outcome);
  if (healthy.length === 0) return 0n;
  const slice = budget / BigInt(healthy.length);
  let amount = 0n;
  for (const t of healthy) if (((verdicts >> BigInt(t)) & 1n) === 0n) amount += (slice * weight) / outcome.healthyWeight[t];
  return amount;
}

/** Play one round with `plan`; returns the votes, targets and each target's pending rewards before finalize. */
async function playRound(w: HealthWorld, plan: Ballot[]) {
  const { round, targets } = await openNextRound(w.health);
  const votes: Vote[] = checkersOf(w, targets).map((node, i) => ({
    node,
    verdicts: BigInt(plan[i].verdicts),
    salt: randomSalt(),
  }));
  for (const [i, v] of votes.entries()) if (plan[i].action !== "none") await commitVote(w, round, v);
  await toReveal(w.health, round);
  for (const [i, v] of votes.entries()) if (plan[i].action === "reveal") await revealVote(w, round, v);
  await toRevealEnd(w.health, round);
  const pending = await Promise.all(targets.map((t) => w.core.escrow.pendingRewards(t)));
  const receipt = await (await w.health.finalize(round)).wait();
  const forfeited = new Map<string, bigint>();
  for (const log of receipt!.logs) {
    const parsed = w.health.interface.parseLog(log);
    if (parsed?.name === "TargetJudged") forfeited.set(parsed.args.target, parsed.args.forfeited);
  }
  return { round, targets, votes, pending, forfeited };
}

describe("health: properties", () => {
  it("the tally is the strict stake-weighted majority of reveals; only unhealthy targets forfeit", async () => {
    await fc.assert(
      fc.asyncProperty(planArb, async (plan) => {
        const w = await loadFixture(tallyWorld);
        const { round, targets, votes, pending, forfeited } = await playRound(w, plan);
        const expected = model(votes, plan, 2);
        const info = await w.health.roundInfo(round);
        expect(info.decidedMask).to.equal(expected.decided);
        expect(info.unhealthyMask).to.equal(expected.unhealthy);
        expect(info.majorityWeight).to.equal(expected.majority);
        expect(info.budget).to.equal(budgetOf(expected, w.funded > REWARD ? REWARD : w.funded));
        for (const [t, target] of targets.entries()) {
          const unhealthy = ((expected.unhealthy >> BigInt(t)) & 1n) === 1n;
          expect(forfeited.get(target) ?? 0n).to.equal(unhealthy ? pending[t] : 0n);
          expect(await w.core.escrow.pendingRewards(target)).to.equal(unhealthy ? 0n : pending[t]);
        }
        for (const [i, v] of votes.entries()) {
          const share = plan[i].action === "reveal" ? shareOf(v.verdicts, weightOf(v.node.amount), expected, info.budget) : 0n;
          expect(await w.health.claimable(round, v.node.staker.address)).to.equal(share);
        }
      }),
      { numRuns: 25 },
    );
  });

  it("checker-reward tokens are conserved: pool + outstanding budgets + paid out = funded", async () => {
    const roundArb = fc.record({
      plan: planArb,
      claims: fc.array(fc.boolean(), { minLength: CHECKERS, maxLength: CHECKERS }),
      sweep: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(roundArb, { minLength: 1, maxLength: 4 }), async (rounds) => {
        const w = await loadFixture(poolWorld);
        const cap = w.core.params.cap;
        let paid = 0n;
        const unswept: bigint[] = [];
        const check = async () => {
          let outstanding = 0n;
          for (const r of unswept) {
            const info = await w.health.roundInfo(r);
            outstanding += info.budget - info.claimed;
          }
          const pool = await w.health.pool();
          expect(pool + outstanding + paid).to.equal(w.funded);
          expect(await w.core.token.balanceOf(w.healthAddress)).to.equal(pool + outstanding);
          expect((await w.core.token.totalSupply()) + (await w.core.escrow.reserve())).to.equal(cap);
        };
        for (const r of rounds) {
          const { round, votes } = await playRound(w, r.plan);
          unswept.push(round);
          await check();
          let claimedHere = 0n;
          for (const [i, v] of votes.entries()) {
            const amount = await w.health.claimable(round, v.node.staker.address);
            if (!r.claims[i] || amount === 0n) continue;
            const before = await w.core.token.balanceOf(v.node.staker.address);
            await w.health.claimReward(round, v.node.staker.address);
            expect((await w.core.token.balanceOf(v.node.staker.address)) - before).to.equal(amount);
            paid += amount;
            claimedHere += amount;
            await check();
          }
          const info = await w.health.roundInfo(round);
          expect(claimedHere).to.be.lte(info.budget);
          if (r.claims.every(Boolean) && info.majorityWeight > 0n) {
            // Everyone claimed: only rounding dust (< 1 wei per revealer and target, and per slice) stays behind.
            expect(info.budget - claimedHere).to.be.lte(BigInt(CHECKERS * SAMPLE + SAMPLE));
          }
          if (r.sweep) {
            await toClaimEnd(w.health, round);
            await w.health.sweep(round);
            unswept.splice(unswept.indexOf(round), 1);
            await check();
          } else {
            await time.increase(1);
          }
        }
      }),
      { numRuns: 15 },
    );
  });
});
