// Policy tasks: `npx hardhat policy:<task> [--network localhost] [--manager 0x…] [--from 0x…]`.
// The PolicyManager address comes from the Ignition deployment of module "Policy" on the network
// (ignition/deployments/chain-<id>/deployed_addresses.json) unless --manager is given.
// Token amounts (fee rates) are in whole tokens, decimals allowed.
import { randomBytes } from "node:crypto";
import { types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Signer } from "ethers";
import type { NKMSToken, PolicyManager, StakingEscrow } from "../typechain-types";
import { orderForPolicy, readCandidates, selectNodes } from "../src/client/node-selection";
import { policyKey } from "../src/protocol/policy-key";
import { TaskError, checkKind, contractAddress, ensureFunds, formatTokens, parseTokens as parseTokenAmount, send as sendTx, sender, withContractAndSender, operatorTask } from "./lib";

interface Common {
  manager?: string;
  from?: string;
}

interface Ctx {
  pm: PolicyManager;
  token: NKMSToken;
  escrow: StakingEscrow;
  signer: Signer;
  address: string;
}

async function context(hre: HardhatRuntimeEnvironment, args: Common): Promise<Ctx> {
  const signer = await sender(hre, args.from);
  const address = await contractAddress(
    hre,
    "Policy#PolicyManager",
    args.manager,
    "Deploy with `npx hardhat ignition deploy ignition/modules/Policy.ts --network <network>` or pass --manager <address>.",
  );
  const pm = (await hre.ethers.getContractAt("PolicyManager", address, signer)) as unknown as PolicyManager;
  let linked: [string, string] = ["", ""];
  await checkKind(hre, "PolicyManager", address, async () => (linked = await Promise.all([pm.token(), pm.escrow()])));
  const token = (await hre.ethers.getContractAt("NKMSToken", linked[0], signer)) as unknown as NKMSToken;
  const escrow = (await hre.ethers.getContractAt("StakingEscrow", linked[1], signer)) as unknown as StakingEscrow;
  return { pm, token, escrow, signer, address: await signer.getAddress() };
}

const parseTokens = (hre: HardhatRuntimeEnvironment, value: string, name: string): bigint => parseTokenAmount(hre, value, name, true);

function parsePolicyId(hre: HardhatRuntimeEnvironment, value: string): string {
  if (!hre.ethers.isHexString(value, 16)) throw new TaskError("BAD_POLICY_ID", `--policy-id must be 16 bytes of hex, got "${value}".`);
  return value;
}

const fmt = formatTokens;

const send = (ctx: Ctx, what: string, tx: () => Promise<{ wait(): Promise<unknown> }>): Promise<void> =>
  sendTx([ctx.pm.interface, ctx.token.interface], what, tx);

/** Approve the manager for `amount` if the current allowance is short. */
async function ensureAllowance(hre: HardhatRuntimeEnvironment, ctx: Ctx, amount: bigint): Promise<void> {
  const spender = await ctx.pm.getAddress();
  await ensureFunds(hre, ctx.token, ctx.address, spender, amount, () => send(ctx, "approve", () => ctx.token.approve(spender, amount)));
}

const withCommon = (t: ReturnType<typeof operatorTask>) => withContractAndSender(t, "manager", "PolicyManager");

withCommon(operatorTask("policy:create", "Create a policy paid by the sender"))
  .addParam("kfragRoot", "Kfrag commitment root (bytes32 hex, see src/client/kfrag-commitment.ts)")
  .addParam("periods", "Number of periods, the current one included", undefined, types.int)
  .addParam("feeRate", "Fee per node per period, in tokens")
  .addOptionalParam("nodes", "Comma-separated staker addresses (default: select --count nodes by stake)")
  .addOptionalParam("count", "How many nodes to select when --nodes is not given", 3, types.int)
  .addOptionalParam("owner", "Policy owner (default: the sender)")
  .addOptionalParam("policyId", "Your own 16-byte hex id for it (default: random); the policy is named policyKey(sender, id), which the kfrag root's leaves use")
  .setAction(
    async (
      args: Common & { kfragRoot: string; periods: number; feeRate: string; nodes?: string; count: number; owner?: string; policyId?: string },
      hre,
    ) => {
      const ctx = await context(hre, args);
      if (!hre.ethers.isHexString(args.kfragRoot, 32)) throw new TaskError("BAD_ROOT", "--kfrag-root must be 32 bytes of hex.");
      if (!Number.isInteger(args.periods) || args.periods < 1) throw new TaskError("BAD_PERIODS", "--periods must be at least 1.");
      const feeRate = parseTokens(hre, args.feeRate, "fee-rate");
      const id = args.policyId ? parsePolicyId(hre, args.policyId) : hre.ethers.hexlify(randomBytes(16));
      // Ids are namespaced by creator: every later call names the policy by this key.
      const policyId = policyKey(ctx.address, id);
      const endPeriod = (await ctx.pm.currentPeriod()) + BigInt(args.periods) - 1n;
      let nodes: string[];
      if (args.nodes) {
        nodes = args.nodes.split(",").map((n) => n.trim());
        for (const n of nodes) if (!hre.ethers.isAddress(n)) throw new TaskError("BAD_ADDRESS", `Not an address: ${n}`);
      } else {
        const candidates = await readCandidates(ctx.pm, ctx.escrow, { endPeriod, feeRate });
        try {
          nodes = selectNodes(candidates, { count: args.count, policyId: hre.ethers.getBytes(policyId), seed: randomBytes(32) });
        } catch (e) {
          throw new TaskError("NOT_ENOUGH_NODES", (e as Error).message);
        }
      }
      nodes = orderForPolicy(nodes.map((n) => hre.ethers.getAddress(n)));
      const cost = await ctx.pm.policyCost(nodes.length, feeRate, endPeriod);
      await ensureAllowance(hre, ctx, cost);
      await send(ctx, "createPolicy", () =>
        ctx.pm.createPolicy(id, args.owner ?? ctx.address, endPeriod, feeRate, nodes, args.kfragRoot),
      );
      console.log(`policy ${policyId} (id ${id} of ${ctx.address}): nodes ${nodes.join(", ")}; periods through ${endPeriod}; paid ${fmt(hre, cost)}`);
      return { policyId, id, nodes, endPeriod, cost };
    },
  );

withCommon(operatorTask("policy:renew", "Extend a live policy by more periods, paid by the sender"))
  .addParam("policyId", "Policy id (16-byte hex)")
  .addParam("periods", "Extra periods", undefined, types.int)
  .setAction(async (args: Common & { policyId: string; periods: number }, hre) => {
    const ctx = await context(hre, args);
    const id = parsePolicyId(hre, args.policyId);
    if (!Number.isInteger(args.periods) || args.periods < 1) throw new TaskError("BAD_PERIODS", "--periods must be at least 1.");
    const info = await ctx.pm.getPolicy(id);
    if (info.owner === hre.ethers.ZeroAddress) throw new TaskError("UNKNOWN_POLICY", `No policy ${id}.`);
    const cost = info.feeRate * info.activeNodes * BigInt(args.periods);
    await ensureAllowance(hre, ctx, cost);
    const newEnd = info.endPeriod + BigInt(args.periods);
    await send(ctx, "extendPolicy", () => ctx.pm.extendPolicy(id, newEnd));
    console.log(`policy ${id} now ends after period ${newEnd}; paid ${fmt(hre, cost)}`);
  });

withCommon(operatorTask("policy:revoke", "Revoke a policy (or one node's arrangement) as its owner"))
  .addParam("policyId", "Policy id (16-byte hex)")
  .addOptionalParam("node", "Revoke only this node's arrangement")
  .addFlag("unregistered", "End --node's arrangement because the node unbonded (anyone may; the owner is refunded)")
  .setAction(async (args: Common & { policyId: string; node?: string; unregistered?: boolean }, hre) => {
    const ctx = await context(hre, args);
    const id = parsePolicyId(hre, args.policyId);
    const before = await ctx.token.balanceOf(ctx.address);
    if (args.unregistered && !args.node) throw new TaskError("BAD_ADDRESS", "--unregistered needs --node.");
    if (args.node) {
      if (!hre.ethers.isAddress(args.node)) throw new TaskError("BAD_ADDRESS", `Not an address: ${args.node}`);
      if (args.unregistered) {
        await send(ctx, "revokeUnregistered", () => ctx.pm.revokeUnregistered(id, args.node!));
        console.log(`ended ${args.node}'s arrangement; the owner was refunded the unserved periods`);
        return;
      }
      await send(ctx, "revokeArrangement", () => ctx.pm.revokeArrangement(id, args.node!));
    } else {
      await send(ctx, "revokePolicy", () => ctx.pm.revokePolicy(id));
    }
    console.log(`refunded ${fmt(hre, (await ctx.token.balanceOf(ctx.address)) - before)}`);
  });

withCommon(operatorTask("policy:release", "Stop counting a node's expired arrangements against its quota (a bounded sweep; rarely needed)"))
  .addOptionalParam("node", "Staker address (default: the sender)")
  .setAction(async (args: Common & { node?: string }, hre) => {
    const ctx = await context(hre, args);
    const node = args.node ?? ctx.address;
    if (!hre.ethers.isAddress(node)) throw new TaskError("BAD_ADDRESS", `Not an address: ${node}`);
    await send(ctx, "releaseExpired", () => ctx.pm.releaseExpired(node));
    const live = (await ctx.pm.nodeFees(node)).activeArrangements;
    console.log(`${node} holds ${live} live arrangements`);
    return { node, live };
  });

withCommon(operatorTask("policy:settle", "Credit a policy's nodes with the periods served so far"))
  .addParam("policyId", "Policy id (16-byte hex)")
  .setAction(async (args: Common & { policyId: string }, hre) => {
    const ctx = await context(hre, args);
    await send(ctx, "settle", () => ctx.pm.settle(parsePolicyId(hre, args.policyId)));
  });

withCommon(operatorTask("policy:withdraw", "Pay a node's credited fees to its staker"))
  .addOptionalParam("node", "Staker address (default: the sender)")
  .addOptionalParam("settle", "Comma-separated policy ids to settle first")
  .setAction(async (args: Common & { node?: string; settle?: string }, hre) => {
    const ctx = await context(hre, args);
    const node = args.node ?? ctx.address;
    for (const id of args.settle ? args.settle.split(",").map((s) => s.trim()) : []) {
      await send(ctx, `settle ${id}`, () => ctx.pm.settle(parsePolicyId(hre, id)));
    }
    const { feeBalance } = await ctx.pm.nodeFees(node);
    if (feeBalance === 0n) throw new TaskError("NOTHING_TO_WITHDRAW", `${node} has no credited fees (settle its policies first).`);
    await send(ctx, "withdrawFees", () => ctx.pm.withdrawFees(node));
    console.log(`paid ${fmt(hre, feeBalance)} to ${node}`);
  });

withCommon(operatorTask("policy:set-fee-rate", "Set the sender's (a staker's) minimum fee rate per period"))
  .addParam("rate", "Tokens per period")
  .setAction(async (args: Common & { rate: string }, hre) => {
    const ctx = await context(hre, args);
    const rate = parseTokens(hre, args.rate, "rate");
    const { minFeeRate, maxFeeRate } = await ctx.pm.params();
    if (rate < minFeeRate || rate > maxFeeRate) {
      throw new TaskError("RATE_OUT_OF_RANGE", `Rate must lie in [${fmt(hre, minFeeRate)}, ${fmt(hre, maxFeeRate)}].`);
    }
    await send(ctx, "setMinFeeRate", () => ctx.pm.setMinFeeRate(rate));
  });

withCommon(operatorTask("policy:info", "Show a policy"))
  .addParam("policyId", "Policy id (16-byte hex)")
  .setAction(async (args: Common & { policyId: string }, hre) => {
    const ctx = await context(hre, args);
    const id = parsePolicyId(hre, args.policyId);
    const p = await ctx.pm.getPolicy(id);
    if (p.owner === hre.ethers.ZeroAddress) throw new TaskError("UNKNOWN_POLICY", `No policy ${id}.`);
    const nodes = await ctx.pm.policyNodes(id);
    console.log(
      `policy ${id}\n  owner ${p.owner}  sponsor ${p.sponsor}\n  periods ${p.startPeriod}..${p.endPeriod}  paid until ${p.paidUntil}\n` +
        `  fee rate ${fmt(hre, p.feeRate)}  nodes ${nodes.join(", ")}\n  active ${p.activeNodes}/${p.nodeCount}  revoked ${p.revoked}  released ${p.released}`,
    );
    return p;
  });
