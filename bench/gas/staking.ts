// Gas of the staking escrow's operations, measured on the embedded Hardhat network (cancun),
// gas used per transaction including the 21k base. Each operation is measured in the steady
// state (other stakers exist, rewards have been issued, the period's issuance is already
// distributed) except where a key says otherwise; `*.newPeriod` keys add the once-per-period
// issuance (reserve decay + mint) paid by the first escrow transaction of a period.
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { advancePeriods, deployCore, keyProof, randomCompressedKey, registerNode, signPermit, type Core } from "../../test/shared/core-fixture";
import type { GasMeasurements, GasScenario } from "./types";
import { gasOf } from "./gas-of";

async function fund(core: Core, to: string, amount: bigint): Promise<void> {
  await (await core.token.connect(core.deployer).transfer(to, amount)).wait();
}

async function measure(): Promise<GasMeasurements> {
  const core = await deployCore();
  const { escrow } = core;
  const [a, b, c, opB] = core.accounts;
  const amount = core.params.minStake * 10n;
  const out: GasMeasurements = {};

  // Background: staker A is staking and has earned; every account holds some tokens already
  // (a first-ever token balance would add a fresh storage slot, not the escrow's doing).
  for (const s of [a, b, c]) await fund(core, s.address, amount * 4n);
  await (await core.token.connect(a).approve(core.escrowAddress, amount * 3n)).wait();
  await (await escrow.connect(a).deposit(amount, 52)).wait();
  await advancePeriods(core, 1);
  await (await escrow.connect(a).increase(amount)).wait(); // opens the period: issuance distributed

  let p = await signPermit(core.token, b, core.escrowAddress, amount);
  out["stake.deposit.first"] = await gasOf(escrow.connect(b).depositWithPermit(amount, 26, p.deadline, p.v, p.r, p.s));
  p = await signPermit(core.token, b, core.escrowAddress, amount);
  out["stake.deposit.more"] = await gasOf(escrow.connect(b).increaseWithPermit(amount, p.deadline, p.v, p.r, p.s));
  // The staker's half of a bond (the proposal); the operator's registration completes it.
  out["operator.bond"] = await gasOf(escrow.connect(b).bondOperator(opB.address));
  out["stake.prolong"] = await gasOf(escrow.connect(b).prolong(4)); // 26 → 30 weeks: weight changes

  await advancePeriods(core, 1);
  out["rewards.claim.newPeriod"] = await gasOf(escrow.connect(a).claimRewards(false));
  await advancePeriods(core, 1);
  await (await escrow.connect(a).increase(amount)).wait(); // someone else opens the period
  out["rewards.claim"] = await gasOf(escrow.connect(b).claimRewards(false));
  await advancePeriods(core, 1);
  await (await escrow.connect(b).claimRewards(false)).wait();
  out["rewards.restake"] = await gasOf(escrow.connect(a).claimRewards(true));

  await advancePeriods(core, 1);
  p = await signPermit(core.token, c, core.escrowAddress, amount);
  out["stake.deposit.first.newPeriod"] = await gasOf(
    escrow.connect(c).depositWithPermit(amount, 52, p.deadline, p.v, p.r, p.s),
  );
  out["stake.unlock"] = await gasOf(escrow.connect(b).startUnlock());
  await advancePeriods(core, 40);
  out["stake.withdraw"] = await gasOf(escrow.connect(b).withdraw(amount));

  // Stamp keys: the operator registers (accepting the proposal), then rotates its stamp key at
  // once (the old key's window is written), then the staker cuts the node off (unbond + retire).
  await registerNode(core, b.address, opB);
  const secret = secp256k1.utils.randomSecretKey();
  const proof = await keyProof(core, secret, b.address, opB.address);
  out["operator.rotateStampKey"] = await gasOf(
    escrow.connect(opB).registerNode(b.address, "http://127.0.0.1:9151/b", randomCompressedKey(), secp256k1.getPublicKey(secret, true), proof),
  );
  out["operator.unbond"] = await gasOf(escrow.connect(b).bondOperator("0x0000000000000000000000000000000000000000"));
  return out;
}

export const scenario: GasScenario = {
  name: "staking",
  anchors: {
    "stake.deposit.first": { anchor: 316_000, goal: 158_000 },
    "stake.deposit.more": { anchor: 266_000, goal: 133_000 },
    "operator.bond": { anchor: 81_000, goal: 60_000 },
    "stake.prolong": { anchor: 44_000, goal: 40_000 },
    "rewards.claim": { anchor: 182_000, goal: 91_000 },
    "rewards.claim.newPeriod": { anchor: 182_000, goal: 91_000 },
  },
  measure,
};
