// Operator tasks for staking: `npx hardhat nkms:<task> [--network localhost] [--escrow 0x…] [--from 0x…]`.
// Contract addresses come from the Ignition deployment of module "NKMS" on the network
// (ignition/deployments/chain-<id>/deployed_addresses.json) unless --escrow is given.
// Amounts are in whole tokens (decimals allowed, e.g. 15000 or 0.5).
import { types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Signer } from "ethers";
import type { NKMSToken, PolicyManager, StakingEscrow } from "../typechain-types";
import { signPermit } from "../src/client/permit";
import { TaskError, checkKind, contractAddress, formatTokens, parseTokens, requireBalance, send as sendTx, sender, withContractAndSender, operatorTask } from "./lib";

interface Common {
  escrow?: string;
  from?: string;
}

interface Ctx {
  escrow: StakingEscrow;
  token: NKMSToken;
  signer: Signer;
  address: string;
}

async function context(hre: HardhatRuntimeEnvironment, args: Common): Promise<Ctx> {
  const signer = await sender(hre, args.from);
  const escrowAddress = await contractAddress(
    hre,
    "NKMS#StakingEscrow",
    args.escrow,
    "Deploy with `npx hardhat ignition deploy ignition/modules/NKMS.ts --network <network>` or pass --escrow <address>.",
  );
  const escrow = (await hre.ethers.getContractAt("StakingEscrow", escrowAddress, signer)) as unknown as StakingEscrow;
  let tokenAddress = "";
  await checkKind(hre, "StakingEscrow", escrowAddress, async () => (tokenAddress = await escrow.token()));
  const token = (await hre.ethers.getContractAt("NKMSToken", tokenAddress, signer)) as unknown as NKMSToken;
  return { escrow, token, signer, address: await signer.getAddress() };
}

const fmt = formatTokens;

const send = (ctx: Ctx, what: string, tx: () => Promise<{ wait(): Promise<unknown> }>): Promise<void> =>
  sendTx([ctx.escrow.interface, ctx.token.interface], what, tx);

async function permitArgs(_hre: HardhatRuntimeEnvironment, ctx: Ctx, amount: bigint) {
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600) + 10n ** 9n; // chain time may run ahead in tests
  return signPermit(ctx.token, ctx.signer, await ctx.escrow.getAddress(), amount, deadline);
}

const withCommon = (t: ReturnType<typeof operatorTask>) => withContractAndSender(t, "escrow", "StakingEscrow");

withCommon(operatorTask("nkms:stake", "Open a stake (one transaction, EIP-2612 permit); --fee-rate also enrolls the node for policies"))
  .addParam("amount", "Tokens to stake")
  .addParam("lock", "Lock duration in periods", undefined, types.int)
  .addOptionalParam("feeRate", "Your minimum fee per period in NKMS: enrolls the node with the PolicyManager (policy:set-fee-rate), without which no policy selects it")
  .addOptionalParam("manager", "PolicyManager address for --fee-rate (default: the network's Ignition deployment)")
  .setAction(async (args: Common & { amount: string; lock: number; feeRate?: string; manager?: string }, hre) => {
    const ctx = await context(hre, args);
    const amount = parseTokens(hre, args.amount, "amount");
    const [minStake, maxStake, minLock, current] = await Promise.all([
      ctx.escrow.minStake(), ctx.escrow.maxStake(), ctx.escrow.minLockPeriods(), ctx.escrow.stakeOf(ctx.address),
    ]);
    if (current.amount > 0n) throw new TaskError("ALREADY_STAKING", `${ctx.address} already stakes ${fmt(hre, current.amount)}; use nkms:increase.`);
    if (amount < minStake) throw new TaskError("BELOW_MINIMUM", `Stake below the minimum of ${fmt(hre, minStake)}.`);
    if (amount > maxStake) throw new TaskError("ABOVE_MAXIMUM", `Stake above the maximum of ${fmt(hre, maxStake)}.`);
    if (args.lock < Number(minLock)) throw new TaskError("LOCK_TOO_SHORT", `Lock of ${args.lock} periods is below the minimum of ${minLock}.`);
    await requireBalance(hre, ctx.token, ctx.address, amount);
    // The fee rate is checked before staking, so a bad one stakes nothing.
    const enrollment = args.feeRate === undefined ? undefined : await feeRateEnrollment(hre, ctx, args.feeRate, args.manager);
    const p = await permitArgs(hre, ctx, amount);
    await send(ctx, `stake ${fmt(hre, amount)} for ${args.lock} periods`, () =>
      ctx.escrow.depositWithPermit(amount, args.lock, p.deadline, p.v, p.r, p.s),
    );
    if (enrollment) await enrollment();
    else {
      console.log(
        "next: set your minimum fee rate — `npx hardhat policy:set-fee-rate --rate <NKMS per period>` (or pass --fee-rate here): " +
          "until then the PolicyManager has not enrolled this node and no policy selects it",
      );
    }
    return { staker: ctx.address, staked: fmt(hre, amount), lockPeriods: args.lock, feeRate: args.feeRate === undefined ? null : `${args.feeRate} NKMS` };
  });

/** Checks `rate` against the PolicyManager's range; returns the setMinFeeRate to send after staking. */
async function feeRateEnrollment(hre: HardhatRuntimeEnvironment, ctx: Ctx, value: string, flag: string | undefined): Promise<() => Promise<void>> {
  const rate = parseTokens(hre, value, "fee-rate");
  const address = await contractAddress(
    hre,
    "Policy#PolicyManager",
    flag,
    "Deploy with `npx hardhat ignition deploy ignition/modules/Network.ts --network <network>` or pass --manager <address>.",
  );
  const pm = (await hre.ethers.getContractAt("PolicyManager", address, ctx.signer)) as unknown as PolicyManager;
  let range: [bigint, bigint] = [0n, 0n];
  await checkKind(hre, "PolicyManager", address, async () => {
    const params = await pm.params();
    range = [params.minFeeRate, params.maxFeeRate];
  });
  if (rate < range[0] || rate > range[1]) {
    throw new TaskError("RATE_OUT_OF_RANGE", `--fee-rate must lie in [${fmt(hre, range[0])}, ${fmt(hre, range[1])}].`);
  }
  return () => sendTx([pm.interface], `set minimum fee rate ${fmt(hre, rate)} per period (enrolls the node)`, () => pm.setMinFeeRate(rate));
}

withCommon(operatorTask("nkms:increase", "Add tokens to your stake (permit)"))
  .addParam("amount", "Tokens to add")
  .setAction(async (args: Common & { amount: string }, hre) => {
    const ctx = await context(hre, args);
    const amount = parseTokens(hre, args.amount, "amount");
    if ((await ctx.escrow.stakeOf(ctx.address)).amount === 0n) throw new TaskError("NOT_STAKER", `${ctx.address} has no stake; use nkms:stake.`);
    await requireBalance(hre, ctx.token, ctx.address, amount);
    const p = await permitArgs(hre, ctx, amount);
    await send(ctx, `increase by ${fmt(hre, amount)}`, () => ctx.escrow.increaseWithPermit(amount, p.deadline, p.v, p.r, p.s));
  });

withCommon(operatorTask("nkms:prolong", "Lengthen your rolling lock"))
  .addParam("periods", "Extra periods", undefined, types.int)
  .setAction(async (args: Common & { periods: number }, hre) => {
    const ctx = await context(hre, args);
    const st = await ctx.escrow.stakeOf(ctx.address);
    if (st.amount === 0n) throw new TaskError("NOT_STAKER", `${ctx.address} has no stake.`);
    if (st.unlockPeriod !== 0n) throw new TaskError("UNLOCKING", `The stake is unlocking (period ${st.unlockPeriod}); run nkms:relock first.`);
    await send(ctx, `prolong by ${args.periods} periods`, () => ctx.escrow.prolong(args.periods));
  });

withCommon(operatorTask("nkms:unlock", "Start unlocking your stake (it stops earning rewards)")).setAction(async (args: Common, hre) => {
  const ctx = await context(hre, args);
  const st = await ctx.escrow.stakeOf(ctx.address);
  if (st.amount === 0n) throw new TaskError("NOT_STAKER", `${ctx.address} has no stake.`);
  if (st.unlockPeriod !== 0n) throw new TaskError("UNLOCKING", `Already unlocking; withdrawable from period ${st.unlockPeriod}.`);
  await send(ctx, "start unlocking", () => ctx.escrow.startUnlock());
  console.log(`withdrawable from period ${(await ctx.escrow.stakeOf(ctx.address)).unlockPeriod}`);
});

withCommon(operatorTask("nkms:relock", "Cancel unlocking: the stake rolls and earns again")).setAction(async (args: Common, hre) => {
  const ctx = await context(hre, args);
  await send(ctx, "relock", () => ctx.escrow.relock());
});

withCommon(operatorTask("nkms:withdraw", "Withdraw unlocked tokens"))
  .addOptionalParam("amount", "Tokens to withdraw (default: everything)")
  .setAction(async (args: Common & { amount?: string }, hre) => {
    const ctx = await context(hre, args);
    const [st, period, grace] = await Promise.all([
      ctx.escrow.stakeOf(ctx.address), ctx.escrow.currentPeriod(), ctx.escrow.slashingGracePeriods(),
    ]);
    if (st.amount === 0n) throw new TaskError("NOT_STAKER", `${ctx.address} has nothing staked.`);
    if (st.unlockPeriod === 0n) throw new TaskError("LOCKED", "The stake is locked (rolling); run nkms:unlock and wait for the unlock period.");
    // The stake stays slashable for the grace periods after its unlock period.
    if (period < st.unlockPeriod + grace) {
      throw new TaskError("LOCK_NOT_OVER", `Lock not over: withdrawable from period ${st.unlockPeriod + grace}, now ${period}.`);
    }
    // A slashing pause that met the window extends it by the pause's length (StakingEscrow.withdraw).
    const until = await ctx.escrow.slashingDeadline(st.unlockPeriod);
    const now = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
    if (now < until) {
      throw new TaskError("PAUSE_EXTENDED", `A slashing pause extended the slashing window: withdrawable from ${new Date(Number(until) * 1000).toISOString()}.`);
    }
    const amount = args.amount === undefined ? st.amount : parseTokens(hre, args.amount, "amount");
    if (amount > st.amount) throw new TaskError("INSUFFICIENT_STAKE", `Only ${fmt(hre, st.amount)} can be withdrawn.`);
    await send(ctx, `withdraw ${fmt(hre, amount)}`, () => ctx.escrow.withdraw(amount));
  });

withCommon(operatorTask("nkms:bond", "Propose an operator (the node's hot key); it bonds when it registers the node. Zero address unbonds at once and retires the node's stamp key (cut-off after a compromise)"))
  .addParam("operator", "Operator address")
  .setAction(async (args: Common & { operator: string }, hre) => {
    const ctx = await context(hre, args);
    if (!hre.ethers.isAddress(args.operator)) throw new TaskError("BAD_ADDRESS", `Not an address: ${args.operator}`);
    if (args.operator === hre.ethers.ZeroAddress) {
      // Always allowed: stamps dated after this period by the current stamp key never count again.
      await send(ctx, "unbond the operator and retire its stamp key", () => ctx.escrow.bondOperator(args.operator));
      return;
    }
    const [current, minBond] = await Promise.all([ctx.escrow.operatorOf(ctx.address), ctx.escrow.minBondSeconds()]);
    if (current !== hre.ethers.ZeroAddress) {
      const earliest = (await ctx.escrow.bondedAt(current)) + minBond;
      const now = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
      if (now < earliest) throw new TaskError("BOND_TOO_RECENT", `Re-bond possible from ${new Date(Number(earliest) * 1000).toISOString()}.`);
    }
    await send(ctx, `propose operator ${args.operator}`, () => ctx.escrow.bondOperator(args.operator));
  });

withCommon(operatorTask("nkms:register", "Register the node and accept a pending bond (send from the operator account; the node agent does this itself at startup)"))
  .addParam("staker", "The staker whose node this is (it must have bonded or proposed this operator)")
  .addParam("endpoint", "Node HTTP endpoint, e.g. https://node.example:9151")
  .addParam("encryptingKey", "Umbral encrypting public key, 33-byte compressed hex")
  .addParam("verifyingKey", "Umbral verifying public key, 33-byte compressed hex")
  .addParam("keyProof", "64-byte r||s signature by the verifying key of the escrow's keyProofDigest(staker, operator)")
  .setAction(
    async (args: Common & { staker: string; endpoint: string; encryptingKey: string; verifyingKey: string; keyProof: string }, hre) => {
      const ctx = await context(hre, args);
      if (!hre.ethers.isAddress(args.staker)) throw new TaskError("BAD_ADDRESS", `Not an address: ${args.staker}`);
      const [operator, pending] = await Promise.all([ctx.escrow.operatorOf(args.staker), ctx.escrow.pendingOperatorOf(args.staker)]);
      if (operator !== ctx.address && pending !== ctx.address) {
        throw new TaskError("NOT_BONDED", `${ctx.address} is not bonded to nor proposed by ${args.staker}; the staker must run nkms:bond first.`);
      }
      for (const [name, key] of [["encrypting-key", args.encryptingKey], ["verifying-key", args.verifyingKey]] as const) {
        if (!/^(0x)?0[23][0-9a-fA-F]{64}$/.test(key)) throw new TaskError("BAD_KEY", `--${name} must be a 33-byte compressed point (02/03 prefix).`);
      }
      if (!/^(0x)?[0-9a-fA-F]{128}$/.test(args.keyProof)) throw new TaskError("BAD_KEY_PROOF", "--key-proof must be a 64-byte hex signature.");
      const hex = (k: string) => (k.startsWith("0x") ? k : `0x${k}`);
      await send(ctx, `register node ${args.endpoint}`, () =>
        ctx.escrow.registerNode(args.staker, args.endpoint, hex(args.encryptingKey), hex(args.verifyingKey), hex(args.keyProof)),
      );
    },
  );

withCommon(operatorTask("nkms:stake-info", "Show a stake, its operator/node and its rewards"))
  .addOptionalParam("staker", "Staker address (default: the sending account)")
  .setAction(async (args: Common & { staker?: string }, hre) => {
    const ctx = await context(hre, args);
    const staker = args.staker ?? ctx.address;
    const [st, period, registered, node, balance] = await Promise.all([
      ctx.escrow.stakeOf(staker), ctx.escrow.currentPeriod(), ctx.escrow.isRegistered(staker),
      ctx.escrow.nodeInfo(staker), ctx.token.balanceOf(staker),
    ]);
    const info = {
      staker,
      wallet: fmt(hre, balance),
      staked: fmt(hre, st.amount),
      lockPeriods: Number(st.lockPeriods),
      state: st.amount === 0n ? "none" : st.unlockPeriod === 0n ? "rolling" : period >= st.unlockPeriod ? "unlocked" : `unlocking until period ${st.unlockPeriod}`,
      currentPeriod: Number(period),
      rewards: fmt(hre, st.rewards),
      operator: st.operator,
      registered,
      endpoint: node.endpoint,
    };
    console.log(JSON.stringify(info, null, 2));
    return info;
  });

withCommon(operatorTask("nkms:claim", "Claim rewards to the wallet, or restake them"))
  .addFlag("restake", "Add the rewards to the stake instead")
  .setAction(async (args: Common & { restake: boolean }, hre) => {
    const ctx = await context(hre, args);
    const pending = await ctx.escrow.pendingRewards(ctx.address);
    if (pending === 0n) throw new TaskError("NOTHING_TO_CLAIM", "No rewards to claim.");
    await send(ctx, `claim ${fmt(hre, pending)}${args.restake ? " (restake)" : ""}`, () => ctx.escrow.claimRewards(args.restake));
  });
