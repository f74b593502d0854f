// Property: over random sequences of deposits, increases, prolongs, unlocks, relocks,
// withdrawals, claims (to wallet or restaked), slashes (withholding an investigator reward),
// investigator payouts, health-check verdicts (markChecked / forfeitRewards) and period advances
// across several stakers, tokens are conserved (supply + reserve + the rewards the slasher's
// records still owe = cap), no staker ever withdraws locked tokens, the escrow never pays an
// investigator more than is owed, and a forfeit takes exactly what was earned since the last
// check (claimed or not), capped by unclaimed rewards plus stake.
import { expect } from "chai";
import fc from "fast-check";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { advancePeriods, deployCoreFixture, type Core } from "../shared/core-fixture";
import { issuance, TOKEN } from "./helpers";

const STAKERS = 4;
const MIN = 15_000n * TOKEN;

type Action =
  | { kind: "deposit"; who: number; amount: bigint; lock: number }
  | { kind: "increase"; who: number; amount: bigint }
  | { kind: "prolong"; who: number; periods: number }
  | { kind: "unlock"; who: number }
  | { kind: "relock"; who: number }
  | { kind: "withdraw"; who: number; fraction: number }
  | { kind: "claim"; who: number; restake: boolean }
  | { kind: "slash"; who: number; amount: bigint }
  | { kind: "pay"; record: number; extra: bigint }
  | { kind: "check"; who: number; healthy: boolean }
  | { kind: "advance"; periods: number };

const who = fc.integer({ min: 0, max: STAKERS - 1 });
const amount = fc.bigInt({ min: MIN / 2n, max: MIN * 20n });
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant("deposit" as const), who, amount, lock: fc.integer({ min: 3, max: 60 }) }),
  fc.record({ kind: fc.constant("increase" as const), who, amount }),
  fc.record({ kind: fc.constant("prolong" as const), who, periods: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant("unlock" as const), who }),
  fc.record({ kind: fc.constant("relock" as const), who }),
  fc.record({ kind: fc.constant("withdraw" as const), who, fraction: fc.integer({ min: 1, max: 110 }) }),
  fc.record({ kind: fc.constant("claim" as const), who, restake: fc.boolean() }),
  fc.record({ kind: fc.constant("slash" as const), who, amount }),
  fc.record({ kind: fc.constant("pay" as const), record: fc.nat(), extra: fc.constantFrom(0n, 1n) }),
  fc.record({ kind: fc.constant("check" as const), who, healthy: fc.boolean() }),
  fc.record({ kind: fc.constant("advance" as const), periods: fc.integer({ min: 1, max: 8 }) }),
);

async function setup(): Promise<Core> {
  const core = await deployCoreFixture();
  const slasher = core.accounts[STAKERS];
  await core.escrow.grantRole(await core.escrow.SLASHER_ROLE(), slasher.address);
  await core.escrow.grantRole(await core.escrow.REWARD_FORFEITER_ROLE(), slasher.address);
  for (const s of core.accounts.slice(0, STAKERS)) {
    await core.token.transfer(s.address, MIN * 200n);
    await core.token.connect(s).approve(core.escrowAddress, 2n ** 256n - 1n);
  }
  return core;
}

/** What the slasher (an adjudicator) would keep in its evidence records: the withheld rewards not yet paid. */
type Records = bigint[];

async function checkInvariants(core: Core, records: Records): Promise<void> {
  const { token, escrow, params } = core;
  const stakers = core.accounts.slice(0, STAKERS);
  const holders = [core.deployer, ...core.accounts];
  let balances = 0n;
  for (const h of holders) balances += await token.balanceOf(h.address);
  const escrowBalance = await token.balanceOf(core.escrowAddress);
  const supply = await token.totalSupply();
  const reserve = await escrow.reserve();
  expect(balances + escrowBalance).to.equal(supply, "balances + escrow = supply");
  const unpaid = records.reduce((sum, r) => sum + r, 0n);
  expect(supply + reserve + unpaid).to.equal(params.cap, "supply + reserve + owed rewards = cap");
  expect(await escrow.owedInvestigatorRewards()).to.equal(unpaid, "owed rewards = Σ unpaid records");
  let owed = 0n;
  let locked = 0n;
  let weight = 0n;
  for (const s of stakers) {
    const info = await escrow.stakeOf(s.address);
    owed += info.amount + info.rewards;
    weight += info.weight;
    if (info.unlockPeriod === 0n) locked += info.amount;
  }
  // Pending rewards include issuance not yet minted (it is minted at the next update).
  const totalWeight = await escrow.totalWeight();
  const elapsed = BigInt(await escrow.currentPeriod()) - BigInt(await escrow.lastRewardPeriod());
  const unminted = totalWeight >= 10n ** 20n ? issuance(reserve, params.issuanceRate, elapsed) : 0n;
  expect(escrowBalance + unminted >= owed).to.equal(true, "escrow can pay every stake and reward");
  expect(await escrow.totalLocked()).to.equal(locked, "totalLocked = Σ rolling stakes");
  expect(await escrow.totalWeight()).to.equal(weight, "totalWeight = Σ weights");
}

async function run(core: Core, a: Action, records: Records): Promise<void> {
  const { escrow } = core;
  if (a.kind === "advance") return advancePeriods(core, a.periods);
  if (a.kind === "pay") return pay(core, a, records);
  const signer = core.accounts[a.who];
  const before = await escrow.stakeOf(signer.address);
  const period = await escrow.currentPeriod();
  const attempt = async (p: Promise<unknown>): Promise<boolean> => {
    try {
      await (await (p as Promise<{ wait(): Promise<unknown> }>)).wait();
      return true;
    } catch (e) {
      // Every rejection must be a custom error (or the token's), never a panic.
      expect(String(e)).to.not.match(/panic|overflow/i);
      return false;
    }
  };
  switch (a.kind) {
    case "deposit":
      await attempt(escrow.connect(signer).deposit(a.amount, a.lock));
      return;
    case "increase":
      await attempt(escrow.connect(signer).increase(a.amount));
      return;
    case "prolong":
      await attempt(escrow.connect(signer).prolong(a.periods));
      return;
    case "unlock":
      await attempt(escrow.connect(signer).startUnlock());
      return;
    case "relock":
      await attempt(escrow.connect(signer).relock());
      return;
    case "claim":
      await attempt(escrow.connect(signer).claimRewards(a.restake));
      return;
    case "slash":
    {
      const reward = (a.amount < before.amount ? a.amount : before.amount) / 10n;
      if (await attempt(escrow.connect(core.accounts[STAKERS]).slash(signer.address, a.amount, reward))) {
        if (reward !== 0n) records.push(reward);
      }
      return;
    }
    case "check": {
      const judge = escrow.connect(core.accounts[STAKERS]);
      if (a.healthy) {
        await attempt(judge.markChecked(signer.address));
        return;
      }
      const [tracked, claimed, checkpoint] = await escrow.checkStateOf(signer.address);
      const pending = await escrow.pendingRewards(signer.address);
      const since = tracked ? (claimed + pending > checkpoint ? claimed + pending - checkpoint : 0n) : pending;
      const cap = pending + before.amount;
      const expected = since < cap ? since : cap;
      expect(await judge.forfeitRewards.staticCall(signer.address)).to.equal(expected, "forfeit = earned since check");
      await attempt(judge.forfeitRewards(signer.address));
      expect(await judge.forfeitRewards.staticCall(signer.address)).to.equal(0n, "checkpoint reset");
      return;
    }
    case "withdraw": {
      const requested = (before.amount * BigInt(a.fraction)) / 100n;
      const balanceBefore = await core.token.balanceOf(signer.address);
      const ok = await attempt(escrow.connect(signer).withdraw(requested));
      // Unlocked = past the unlock period and its slashing grace (evidence may still slash before).
      const grace = BigInt(core.params.slashingGracePeriods);
      const unlocked = before.unlockPeriod !== 0n && period >= before.unlockPeriod + grace ? before.amount : 0n;
      if (ok) {
        expect(requested).to.be.lessThanOrEqual(unlocked, "withdrew locked tokens");
        expect(await core.token.balanceOf(signer.address)).to.equal(balanceBefore + requested);
      } else {
        // a withdrawal of available unlocked tokens must not be refused
        expect(requested === 0n || requested > unlocked).to.equal(true, "refused an allowed withdrawal");
      }
      return;
    }
  }
}

/** The slasher pays one record's reward (or tries to pay one token more than all that is owed: refused). */
async function pay(core: Core, a: { record: number; extra: bigint }, records: Records): Promise<void> {
  const slasher = core.escrow.connect(core.accounts[STAKERS]);
  const investigator = core.accounts[STAKERS + 1].address;
  if (a.extra !== 0n || records.length === 0) {
    const owed = records.reduce((sum, r) => sum + r, 0n);
    await expect(slasher.payInvestigator(investigator, owed + 1n)).to.be.revertedWithCustomError(core.escrow, "RewardNotOwed");
    return;
  }
  const [reward] = records.splice(a.record % records.length, 1);
  const before = await core.token.balanceOf(investigator);
  await (await slasher.payInvestigator(investigator, reward)).wait();
  expect(await core.token.balanceOf(investigator)).to.equal(before + reward);
}

describe("staking: escrow properties", () => {
  it("conserves tokens and never releases locked tokens over random operation sequences", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 5, maxLength: 25 }), async (actions) => {
        const core = await loadFixture(setup);
        const records: Records = [];
        for (const a of actions) {
          await run(core, a, records);
          await checkInvariants(core, records);
        }
      }),
      { numRuns: 30 },
    );
  });
});
