// Property test (issue #16): random interleavings of honest and hostile market actions on the real
// contracts — owners and a squatter creating, revoking and extending; stakers raising their fee,
// unbonding, starting to unlock; the governor moving the fee range and the quota; anyone settling,
// withdrawing, sweeping and ending unbonded nodes' arrangements; time passing — checked after every
// step against a model:
//   quota: each node's counted arrangements equal its live ones (hired, not revoked, last period
//     not passed) with nobody settling anything, and a hire or extension succeeds exactly when every
//     node's current terms admit it (own minimum raised to the range floor, registered, live < quota);
//   fees: the manager holds exactly the credited balances plus what is paid but not yet credited,
//     and everything paid is withdrawn, credited, refunded or still held.
import { expect } from "chai";
import fc from "fast-check";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { advancePeriods } from "../shared/core-fixture";
import { NODE_RATE, PolicyWorld, deployPolicyWorld, newPolicyId, policyKey, rootFor } from "./fixture";
import { orderForPolicy } from "../../src/client/node-selection";

interface ModelPolicy {
  id: string;
  nodes: string[];
  rate: bigint;
  end: bigint;
  revoked: Set<string>;
  owner: PolicyWorld["alice"];
}

type Op =
  | { kind: "create"; squatter: boolean; mask: number; periods: number; rateMul: number }
  | { kind: "revoke"; policy: number }
  | { kind: "revokeArrangement"; policy: number; node: number }
  | { kind: "extend"; policy: number; extra: number }
  | { kind: "settle"; policy: number }
  | { kind: "withdraw"; node: number }
  | { kind: "advance"; periods: number }
  | { kind: "nodeFee"; node: number; mul: number }
  | { kind: "range"; lo: number; hi: number }
  | { kind: "quota"; base: number; perTotal: number }
  | { kind: "unbond"; node: number }
  | { kind: "unlock"; node: number }
  | { kind: "revokeUnregistered"; policy: number; node: number }
  | { kind: "releaseExpired"; node: number };

const NODES = 4;
const P = 7; // policy index range picked by ops

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("create" as const), squatter: fc.boolean(), mask: fc.integer({ min: 1, max: 15 }), periods: fc.integer({ min: 1, max: 4 }), rateMul: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("revoke" as const), policy: fc.nat(P) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("revokeArrangement" as const), policy: fc.nat(P), node: fc.nat(NODES - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("extend" as const), policy: fc.nat(P), extra: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("settle" as const), policy: fc.nat(P) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("withdraw" as const), node: fc.nat(NODES - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("advance" as const), periods: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("nodeFee" as const), node: fc.nat(NODES - 1), mul: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("range" as const), lo: fc.nat(3), hi: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("quota" as const), base: fc.integer({ min: 1, max: 3 }), perTotal: fc.nat(8) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("unbond" as const), node: fc.nat(NODES - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("unlock" as const), node: fc.nat(NODES - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("revokeUnregistered" as const), policy: fc.nat(P), node: fc.nat(NODES - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("releaseExpired" as const), node: fc.nat(NODES - 1) }) },
);

/** Fee-range bounds the governor picks from (index 0 is "near zero"). */
const RANGE = [1n, NODE_RATE / 2n, NODE_RATE, NODE_RATE * 2n];

async function world(): Promise<PolicyWorld> {
  const w = await deployPolicyWorld(NODES);
  await advancePeriods(w.core, 1);
  await w.pm.setQuotaParams(2, 4); // small quotas so the squatter reaches them
  return w;
}

async function succeeded(tx: () => Promise<{ wait: () => Promise<unknown> }>): Promise<boolean> {
  try {
    await (await tx()).wait();
    return true;
  } catch {
    return false;
  }
}

describe("policy: market properties (fast-check, hostile owners, stakers and governor)", () => {
  it("counts exactly the live arrangements, admits exactly on current terms and conserves fees", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 4, maxLength: 16 }), async (ops) => {
        const w = await loadFixture(world);
        const { pm, core } = w;
        const stakers = orderForPolicy(w.nodes.map((n) => n.staker.address));
        const signerOf = new Map(w.nodes.map((n) => [n.staker.address, n.staker]));
        const ownRate = new Map(stakers.map((s) => [s, NODE_RATE]));
        const registered = new Map(stakers.map((s) => [s, true]));
        let floor = (await pm.params()).minFeeRate;
        let ceiling = (await pm.params()).maxFeeRate;
        const policies: ModelPolicy[] = [];
        const payers = [w.alice, w.sponsor];
        const spent = async (): Promise<bigint> =>
          (await core.token.balanceOf(w.alice.address)) + (await core.token.balanceOf(w.sponsor.address));
        const start = await spent();
        let withdrawn = 0n;

        const live = (node: string, period: bigint): number =>
          policies.filter((p) => p.nodes.includes(node) && !p.revoked.has(node) && p.end >= period).length;
        const admits = async (node: string, end: bigint, rate: bigint, held: number, period: bigint): Promise<boolean> => {
          const effective = ownRate.get(node)! < floor ? floor : ownRate.get(node)!;
          if (rate < effective || !registered.get(node)) return false;
          const check = await pm.checkNode(node, end, rate);
          if (check.stake === 0n) return false;
          return BigInt(live(node, period) - held) < check.quota;
        };

        for (const op of ops) {
          const period = await pm.currentPeriod();
          const pick = (i: number): ModelPolicy | undefined => policies[i % Math.max(policies.length, 1)];
          switch (op.kind) {
            case "create": {
              const nodes = stakers.filter((_, i) => op.mask & (1 << i));
              const rate = NODE_RATE * BigInt(op.rateMul);
              const end = period + BigInt(op.periods) - 1n;
              let expected = true;
              for (const n of nodes) if (!(await admits(n, end, rate, 0, period))) expected = false;
              const payer = payers[op.squatter ? 1 : 0];
              const salt = newPolicyId();
              const id = policyKey(payer.address, salt);
              const ok = await succeeded(() => pm.connect(payer).createPolicy(salt, payer.address, end, rate, nodes, rootFor(id, nodes)));
              expect(ok, `create ${nodes.length} nodes at ${rate}`).to.equal(expected);
              if (ok) policies.push({ id, nodes, rate, end, revoked: new Set(), owner: payer });
              break;
            }
            case "extend": {
              const p = pick(op.policy);
              if (!p) break;
              const newEnd = p.end + BigInt(op.extra);
              const active = p.nodes.filter((n) => !p.revoked.has(n));
              let expected = period <= p.end && active.length > 0;
              if (expected) for (const n of active) if (!(await admits(n, newEnd, p.rate, 1, period))) expected = false;
              const ok = await succeeded(() => pm.connect(p.owner).extendPolicy(p.id, newEnd));
              expect(ok, "extend").to.equal(expected);
              if (ok) p.end = newEnd;
              break;
            }
            case "revoke": {
              const p = pick(op.policy);
              if (!p) break;
              const ok = await succeeded(() => pm.connect(p.owner).revokePolicy(p.id));
              expect(ok).to.equal(period <= p.end && p.nodes.some((n) => !p.revoked.has(n)));
              if (ok) for (const n of p.nodes) p.revoked.add(n);
              break;
            }
            case "revokeArrangement":
            case "revokeUnregistered": {
              const p = pick(op.policy);
              if (!p) break;
              const node = stakers[op.node];
              const isLive = p.nodes.includes(node) && !p.revoked.has(node) && period <= p.end;
              const ok =
                op.kind === "revokeArrangement"
                  ? await succeeded(() => pm.connect(p.owner).revokeArrangement(p.id, node))
                  : await succeeded(() => pm.connect(w.stranger).revokeUnregistered(p.id, node));
              expect(ok, op.kind).to.equal(isLive && (op.kind === "revokeArrangement" || !registered.get(node)));
              if (ok) p.revoked.add(node);
              break;
            }
            case "settle": {
              const p = pick(op.policy);
              if (p) await (await pm.settle(p.id)).wait();
              break;
            }
            case "withdraw": {
              const node = stakers[op.node];
              const balance = (await pm.nodeFees(node)).feeBalance;
              const ok = await succeeded(() => pm.withdrawFees(node));
              expect(ok).to.equal(balance > 0n);
              if (ok) withdrawn += balance;
              break;
            }
            case "advance":
              await advancePeriods(core, op.periods);
              break;
            case "nodeFee": {
              const node = stakers[op.node];
              const rate = NODE_RATE * BigInt(op.mul);
              const ok = await succeeded(() => pm.connect(signerOf.get(node)!).setMinFeeRate(rate));
              expect(ok).to.equal(rate >= floor && rate <= ceiling);
              if (ok) ownRate.set(node, rate);
              break;
            }
            case "range": {
              const [lo, hi] = [RANGE[Math.min(op.lo, op.hi)], RANGE[Math.max(op.lo, op.hi)]];
              await (await pm.setFeeRateRange(lo, hi)).wait();
              [floor, ceiling] = [lo, hi];
              break;
            }
            case "quota":
              await (await pm.setQuotaParams(op.base, op.perTotal)).wait();
              break;
            case "unbond": {
              const node = stakers[op.node];
              if (!registered.get(node)) break;
              await (await core.escrow.connect(signerOf.get(node)!).bondOperator(ethers.ZeroAddress)).wait();
              registered.set(node, false);
              break;
            }
            case "unlock": {
              const node = stakers[op.node];
              await succeeded(() => core.escrow.connect(signerOf.get(node)!).startUnlock());
              break;
            }
            case "releaseExpired":
              await (await pm.connect(w.stranger).releaseExpired(stakers[op.node])).wait();
              break;
          }

          // Quota: exactly the live arrangements count, nobody having settled anything.
          const now = await pm.currentPeriod();
          for (const n of stakers) expect((await pm.nodeFees(n)).activeArrangements, `count of ${n}`).to.equal(BigInt(live(n, now)));
          // Fees: held = credited + paid-not-yet-credited; paid = withdrawn + credited + refunded + held.
          let credited = 0n;
          for (const n of stakers) credited += (await pm.nodeFees(n)).feeBalance;
          let outstanding = 0n;
          for (const p of policies) {
            const info = await pm.getPolicy(p.id);
            const active = BigInt(p.nodes.filter((n) => !p.revoked.has(n)).length);
            if (info.endPeriod + 1n > info.paidUntil) outstanding += p.rate * active * (info.endPeriod + 1n - info.paidUntil);
          }
          const held = await core.token.balanceOf(w.pmAddress);
          expect(held).to.equal(credited + outstanding);
          // Refunds went back to the payers, so their net spend is what the manager holds or paid out.
          expect(start - (await spent())).to.equal(held + withdrawn);
        }
      }),
      { numRuns: 40 },
    );
  });
});
