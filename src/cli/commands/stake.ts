import { Command } from "commander";
import { formatUnits, isAddress } from "ethers";
import { bondOperator, setMinFeeRate, stake, stakeInfo, withdrawFees } from "../../client/staking";
import { Context } from "../context";
import { CliError } from "../errors";
import { parseTokenAmount } from "./policies";

const fmt = (v: bigint) => `${formatUnits(v, 18)} NKMS`;

function address(v: string, what: string): string {
  if (!isAddress(v)) throw new CliError("usage", `${what} must be an address, got "${v}"`);
  return v;
}

export function stakeCommand(): Command {
  const cmd = new Command("stake").description("staker operations (the same calls as the nkms:* Hardhat tasks), sent from your keystore's account");

  cmd
    .command("deposit")
    .description("open a stake in one transaction (EIP-2612 permit)")
    .requiredOption("--amount <tokens>", "tokens to stake")
    .requiredOption("--lock <periods>", "lock duration in periods")
    .option("--fee-rate <tokens>", "also set your minimum fee per period, which enrolls the node: without it no policy selects it")
    .action(async (opts: { amount: string; lock: string; feeRate?: string }, c: Command) => {
      const ctx = new Context(c);
      const amount = parseTokenAmount(opts.amount, "amount");
      const lock = Number(opts.lock);
      if (!Number.isInteger(lock) || lock < 1) throw new CliError("usage", "--lock must be a positive integer");
      const rate = opts.feeRate === undefined ? undefined : parseTokenAmount(opts.feeRate, "fee-rate");
      const client = await ctx.client();
      const wallet = client.keys!.wallet.connect(client.provider);
      if (rate !== undefined) {
        // Checked before staking, so a bad rate stakes nothing.
        const { minFeeRate, maxFeeRate } = await client.contracts.policyManager.params();
        if (rate < minFeeRate || rate > maxFeeRate) throw new CliError("usage", `--fee-rate must lie in [${fmt(minFeeRate)}, ${fmt(maxFeeRate)}]`);
      }
      const tx = await stake(client.contracts, wallet, amount, lock);
      const feeTx = rate === undefined ? undefined : await setMinFeeRate(client.contracts, wallet, rate);
      if (rate === undefined) {
        process.stderr.write("nkms: next: set your minimum fee rate (`nkms stake fee-rate <NKMS per period>`, or --fee-rate here): until then no policy selects this node\n");
      }
      ctx.print({ staker: client.keys!.address, amount: fmt(amount), lockPeriods: lock, minFeeRate: rate === undefined ? null : fmt(rate), tx, ...(feeTx ? { feeRateTx: feeTx } : {}) });
    });

  cmd
    .command("bond")
    .description("propose an operator (the node's hot key) for your stake; it bonds when its node registers")
    .argument("<operator>", "operator address")
    .action(async (operator: string, _o: unknown, c: Command) => {
      const ctx = new Context(c);
      const client = await ctx.client();
      const tx = await bondOperator(client.contracts, client.keys!.wallet.connect(client.provider), address(operator, "operator"));
      ctx.print({ staker: client.keys!.address, operator, pending: true, tx });
    });

  cmd
    .command("fee-rate")
    .description("set your node's minimum fee per period (the first call enrolls it for policies)")
    .argument("<tokens>", "fee per period")
    .action(async (tokens: string, _o: unknown, c: Command) => {
      const ctx = new Context(c);
      const rate = parseTokenAmount(tokens, "fee-rate");
      const client = await ctx.client();
      const tx = await setMinFeeRate(client.contracts, client.keys!.wallet.connect(client.provider), rate);
      ctx.print({ staker: client.keys!.address, minFeeRate: fmt(rate), tx });
    });

  cmd
    .command("withdraw-fees")
    .description("pay a node's earned policy fees to its staker")
    .argument("[node]", "staker address (default: yours)")
    .action(async (node: string | undefined, _o: unknown, c: Command) => {
      const ctx = new Context(c);
      const client = await ctx.client();
      const target = node ? address(node, "node") : client.keys!.address;
      const tx = await withdrawFees(client.contracts, client.keys!.wallet.connect(client.provider), target);
      ctx.print({ node: target, tx });
    });

  cmd
    .command("info")
    .description("a stake, its operator and node registration, and its fees")
    .argument("[staker]", "staker address (default: yours)")
    .action(async (staker: string | undefined, _o: unknown, c: Command) => {
      const ctx = new Context(c);
      const client = await ctx.client({ keys: staker === undefined });
      const who = staker ? address(staker, "staker") : client.keys!.address;
      const info = await stakeInfo(client.contracts, who);
      ctx.print(info, (i) =>
        [
          `staker      ${i.staker}`,
          `stake       ${fmt(i.stake)} (locked now ${fmt(i.lockedNow)})`,
          `operator    ${i.operator || "(none)"}${i.pendingOperator ? ` (proposed ${i.pendingOperator}, bonds when its node registers)` : ""}`,
          `node        ${i.registered ? i.endpoint : "(not registered)"}`,
          `policies    ${i.enrolled ? `enrolled, min fee ${fmt(i.minFeeRate)}/period` : "not enrolled"}`,
          `fees        ${fmt(i.feeBalance)}`,
        ].join("\n"),
      );
    });

  return cmd;
}
