// Health-check tasks: `npx hardhat health:<task> [--network localhost] [--health 0x…] [--from 0x…]`.
// The HealthCheck address comes from the Ignition deployment of module "NKMSHealth" on the
// network (ignition/deployments/chain-<id>/deployed_addresses.json) unless --health is given.
import { types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Signer } from "ethers";
import type { HealthCheck, NKMSToken } from "../typechain-types";
import { TaskError, checkKind, contractAddress, ensureFunds, parseTokens, requireAddress, send as sendTx, sender, withContractAndSender, operatorTask } from "./lib";

interface Common {
  health?: string;
  from?: string;
}

interface Ctx {
  health: HealthCheck;
  token: NKMSToken;
  signer: Signer;
  address: string;
}

async function context(hre: HardhatRuntimeEnvironment, args: Common): Promise<Ctx> {
  const signer = await sender(hre, args.from);
  const address = await contractAddress(
    hre,
    "NKMSHealth#HealthCheck",
    args.health,
    "Deploy with `npx hardhat ignition deploy ignition/modules/Network.ts --network <network>` or pass --health <address>.",
  );
  const health = (await hre.ethers.getContractAt("HealthCheck", address, signer)) as unknown as HealthCheck;
  let tokenAddress = "";
  await checkKind(hre, "HealthCheck", address, async () => (tokenAddress = await health.token()));
  const token = (await hre.ethers.getContractAt("NKMSToken", tokenAddress, signer)) as unknown as NKMSToken;
  return { health, token, signer, address: await signer.getAddress() };
}

const send = (ctx: Ctx, what: string, tx: () => Promise<{ wait(): Promise<unknown> }>): Promise<void> =>
  sendTx([ctx.health.interface, ctx.token.interface], what, tx);

async function roundArg(ctx: Ctx, round: number | undefined): Promise<bigint> {
  if (round === undefined) return ctx.health.currentRound();
  if (!Number.isInteger(round) || round < 1) throw new TaskError("BAD_ROUND", `--round must be a round number >= 1.`);
  return BigInt(round);
}

const withCommon = (t: ReturnType<typeof operatorTask>) => withContractAndSender(t, "health", "HealthCheck");

withCommon(operatorTask("health:enroll", "Enroll a staked, registered node in health checks"))
  .addParam("staker", "The node's staker address")
  .setAction(async (args: Common & { staker: string }, hre) => {
    const ctx = await context(hre, args);
    const staker = requireAddress(hre, args.staker, "staker");
    await send(ctx, `enroll ${staker}`, () => ctx.health.enroll(staker));
  });

withCommon(operatorTask("health:evict", "Remove a node that is no longer staked or registered"))
  .addParam("staker", "The node's staker address")
  .setAction(async (args: Common & { staker: string }, hre) => {
    const ctx = await context(hre, args);
    const staker = requireAddress(hre, args.staker, "staker");
    await send(ctx, `evict ${staker}`, () => ctx.health.evict(staker));
  });

withCommon(operatorTask("health:open", "Open the current round (draw seed, targets and checker threshold)")).setAction(
  async (args: Common, hre) => {
    const ctx = await context(hre, args);
    const round = await ctx.health.currentRound();
    await send(ctx, `open round ${round}`, () => ctx.health.openRound());
  },
);

withCommon(operatorTask("health:status", "Show a round (default: the current one) as JSON"))
  .addOptionalParam("round", "Round number", undefined, types.int)
  .setAction(async (args: Common & { round?: number }, hre) => {
    const ctx = await context(hre, args);
    const round = await roundArg(ctx, args.round);
    const info = await ctx.health.roundInfo(round);
    const targets = [...info.targets].map((target, i) => ({
      target,
      judged: ((info.decidedMask >> BigInt(i)) & 1n) === 1n,
      healthy: ((info.unhealthyMask >> BigInt(i)) & 1n) === 0n,
    }));
    const out = {
      round: round.toString(),
      start: Number(info.start),
      // Fewer than quorum + 1 members when it was opened: nothing drawn, nobody judged.
      voided: info.voided,
      commitEnd: Number(info.commitEnd),
      revealEnd: Number(info.revealEnd),
      claimEnd: Number(info.claimEnd),
      opened: info.opened,
      finalized: info.finalized,
      threshold: Number(info.threshold),
      candidates: Number(info.candidates),
      revealers: Number(info.revealers),
      revealedWeight: info.revealedWeight.toString(),
      budget: hre.ethers.formatUnits(info.budget, 18),
      claimed: hre.ethers.formatUnits(info.claimed, 18),
      pool: hre.ethers.formatUnits(await ctx.health.pool(), 18),
      enrolled: Number(await ctx.health.enrolledCount()),
      targets,
    };
    console.log(JSON.stringify(out, null, 2));
    return out;
  });

withCommon(operatorTask("health:finalize", "Judge a round's targets after its reveal window"))
  .addParam("round", "Round number", undefined, types.int)
  .setAction(async (args: Common & { round: number }, hre) => {
    const ctx = await context(hre, args);
    const round = await roundArg(ctx, args.round);
    await send(ctx, `finalize round ${round}`, () => ctx.health.finalize(round));
  });

withCommon(operatorTask("health:claim", "Pay a checker's reward for a round to its staker address"))
  .addParam("round", "Round number", undefined, types.int)
  .addParam("staker", "The checker's staker address")
  .setAction(async (args: Common & { round: number; staker: string }, hre) => {
    const ctx = await context(hre, args);
    const round = await roundArg(ctx, args.round);
    const staker = requireAddress(hre, args.staker, "staker");
    const amount = await ctx.health.claimable(round, staker);
    await send(ctx, `claim ${hre.ethers.formatUnits(amount, 18)} NKMS for ${staker} (round ${round})`, () =>
      ctx.health.claimReward(round, staker),
    );
  });

withCommon(operatorTask("health:punish", "Make a checker that committed and did not reveal forfeit its accrued rewards"))
  .addParam("round", "Round number", undefined, types.int)
  .addParam("staker", "The checker's staker address")
  .setAction(async (args: Common & { round: number; staker: string }, hre) => {
    const ctx = await context(hre, args);
    const round = await roundArg(ctx, args.round);
    const staker = requireAddress(hre, args.staker, "staker");
    await send(ctx, `punish ${staker} (round ${round})`, () => ctx.health.punishNonRevealer(round, staker));
  });

withCommon(operatorTask("health:refresh-weight", "Record a node's vote weight anew (send from its staker or operator)"))
  .addParam("staker", "The node's staker address")
  .setAction(async (args: Common & { staker: string }, hre) => {
    const ctx = await context(hre, args);
    const staker = requireAddress(hre, args.staker, "staker");
    await send(ctx, `refresh weight of ${staker}`, () => ctx.health.refreshWeight(staker));
  });

withCommon(operatorTask("health:sweep", "Return a round's unclaimed checker budget to the pool"))
  .addParam("round", "Round number", undefined, types.int)
  .setAction(async (args: Common & { round: number }, hre) => {
    const ctx = await context(hre, args);
    const round = await roundArg(ctx, args.round);
    await send(ctx, `sweep round ${round}`, () => ctx.health.sweep(round));
  });

withCommon(operatorTask("health:fund", "Add tokens to the checker reward pool"))
  .addParam("amount", "Tokens (whole, decimals allowed)")
  .setAction(async (args: Common & { amount: string }, hre) => {
    const ctx = await context(hre, args);
    const amount = parseTokens(hre, args.amount, "amount");
    const healthAddress = await ctx.health.getAddress();
    await ensureFunds(hre, ctx.token, ctx.address, healthAddress, amount, () =>
      send(ctx, "approve", () => ctx.token.approve(healthAddress, amount)),
    );
    await send(ctx, `fund ${args.amount} NKMS`, () => ctx.health.fund(amount));
  });
