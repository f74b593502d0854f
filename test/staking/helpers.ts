import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { signPermit, type Core } from "../shared/core-fixture";

export const TOKEN = 10n ** 18n;
export const WAD = 10n ** 18n;

/** Fund `staker` and open a stake (approve + deposit). */
export async function openStake(core: Core, staker: HardhatEthersSigner, amount: bigint, lockPeriods: number): Promise<void> {
  await (await core.token.connect(core.deployer).transfer(staker.address, amount)).wait();
  await (await core.token.connect(staker).approve(core.escrowAddress, amount)).wait();
  await (await core.escrow.connect(staker).deposit(amount, lockPeriods)).wait();
}

/** Fund `staker` and add to the stake by permit. */
export async function topUp(core: Core, staker: HardhatEthersSigner, amount: bigint): Promise<void> {
  await (await core.token.connect(core.deployer).transfer(staker.address, amount)).wait();
  const p = await signPermit(core.token, staker, core.escrowAddress, amount);
  await (await core.escrow.connect(staker).increaseWithPermit(amount, p.deadline, p.v, p.r, p.s)).wait();
}

/** JS mirror of the contract's fixed-point power (DecayMath.wadPowUp: round UP at every step,
 * so the remainder never undershoots and the issuance never overshoots the exact schedule). */
export function wadPow(base: bigint, exponent: bigint): bigint {
  let result = WAD;
  while (exponent !== 0n) {
    if (exponent & 1n) result = (result * base + WAD - 1n) / WAD;
    exponent >>= 1n;
    if (exponent !== 0n) base = (base * base + WAD - 1n) / WAD;
  }
  return result;
}

/** Issuance of `elapsed` periods from `reserve` (remainder rounded up), as the contract does. */
export function issuance(reserve: bigint, rate: bigint, elapsed: bigint): bigint {
  const prod = reserve * wadPow(WAD - rate, elapsed);
  const remaining = (prod + WAD - 1n) / WAD;
  return reserve - remaining;
}

/** 104·κ for a lock of `lockPeriods` periods of `secondsPerPeriod` seconds. */
export function kappa104(lockPeriods: number, secondsPerPeriod: number): bigint {
  const weeks = Math.floor((lockPeriods * secondsPerPeriod) / (7 * 24 * 3600));
  return BigInt(52 + Math.min(weeks, 52));
}
