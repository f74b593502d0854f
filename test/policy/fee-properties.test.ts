// Property test: random sequences of create / revoke / revokeArrangement / extend / settle /
// withdraw / time advance on the real contracts, checked after every step against an exact model:
//   fees are conserved: paid = withdrawn + credited (withdrawable) + refunded + escrowed;
//   the manager holds exactly credited + escrowed tokens;
//   every refund is exactly the unserved periods, and a second refund of the same thing reverts;
//   each node's total earnings equal Σ rate × periods served, where a revoked arrangement stops
//   earning at its revocation period.
import { expect } from "chai";
import fc from "fast-check";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { advancePeriods } from "../shared/core-fixture";
import { NODE_RATE, PolicyWorld, deployPolicyWorld, newPolicyId, policyKey, rootFor } from "./fixture";
import { orderForPolicy } from "../../src/client/node-selection";

interface ModelPolicy {
  id: string;
  nodes: string[];
  rate: bigint;
  start: bigint;
  end: bigint;
  /** node → period of its revocation (last period it earns). */
  revokedAt: Map<string, bigint>;
}

type Op =
  | { kind: "create"; mask: number; periods: number; rateMul: number }
  | { kind: "revoke"; policy: number }
  | { kind: "revokeArrangement"; policy: number; node: number }
  | { kind: "extend"; policy: number; extra: number }
  | { kind: "settle"; policy: number }
  | { kind: "withdraw"; node: number }
  | { kind: "advance"; periods: number };

const NODES = 4;

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("create" as const), mask: fc.integer({ min: 1, max: 15 }), periods: fc.integer({ min: 1, max: 6 }), rateMul: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("revoke" as const), policy: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("revokeArrangement" as const), policy: fc.nat(7), node: fc.nat(NODES - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("extend" as const), policy: fc.nat(7), extra: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("settle" as const), policy: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("withdraw" as const), node: fc.nat(NODES - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("advance" as const), periods: fc.integer({ min: 1, max: 3 }) }) },
);

async function world(): Promise<PolicyWorld> {
  const w = await deployPolicyWorld(NODES);
  await advancePeriods(w.core, 1);
  return w;
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

describe("policy: fee accounting properties (fast-check on the real contracts)", () => {
  it("conserves fees, never refunds twice, stops a revoked arrangement's earnings", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 18 }), async (ops) => {
        const w = await loadFixture(world);
        const { pm, core, alice } = w;
        const token = core.token;
        const stakers = orderForPolicy(w.nodes.map((n) => n.staker.address));
        const signerOf = new Map(w.nodes.map((n) => [n.staker.address, n.staker]));
        const policies: ModelPolicy[] = [];
        const withdrawn = new Map<string, bigint>(stakers.map((s) => [s, 0n]));
        let paid = 0n;
        let refunded = 0n;
        const refundedArrangements = new Set<string>();

        const aliceDelta = async (send: () => Promise<unknown>): Promise<bigint> => {
          const before = await token.balanceOf(alice.address);
          await send();
          return (await token.balanceOf(alice.address)) - before;
        };

        for (const op of ops) {
          const period = await pm.currentPeriod();
          if (op.kind === "create") {
            const nodes = stakers.filter((_, i) => op.mask & (1 << i));
            const rate = NODE_RATE * BigInt(op.rateMul);
            const end = period + BigInt(op.periods) - 1n;
            const salt = newPolicyId();
            const id = policyKey(alice.address, salt);
            const delta = await aliceDelta(async () =>
              (await pm.connect(alice).createPolicy(salt, alice.address, end, rate, nodes, rootFor(id, nodes))).wait(),
            );
            expect(-delta).to.equal(rate * BigInt(nodes.length) * BigInt(op.periods));
            paid += -delta;
            policies.push({ id, nodes, rate, start: period, end, revokedAt: new Map() });
          } else if (op.kind === "advance") {
            await advancePeriods(core, op.periods);
          } else if (op.kind === "withdraw") {
            const node = stakers[op.node];
            const balance = (await pm.nodeFees(node)).feeBalance;
            if (balance === 0n) {
              await expect(pm.withdrawFees(node)).to.be.revertedWithCustomError(pm, "NothingToWithdraw");
            } else {
              const before = await token.balanceOf(node);
              await (await pm.connect(signerOf.get(node)!).withdrawFees(node)).wait();
              expect((await token.balanceOf(node)) - before).to.equal(balance);
              withdrawn.set(node, withdrawn.get(node)! + balance);
            }
          } else {
            const p = policies[op.policy % Math.max(policies.length, 1)];
            if (!p) continue;
            const active = p.nodes.filter((n) => !p.revokedAt.has(n));
            if (op.kind === "settle") {
              await (await pm.settle(p.id)).wait();
            } else if (op.kind === "extend") {
              const newEnd = p.end + BigInt(op.extra);
              const call = () => pm.connect(alice).extendPolicy(p.id, newEnd);
              if (period > p.end) await expect(call()).to.be.revertedWithCustomError(pm, "PolicyExpired");
              else if (active.length === 0) await expect(call()).to.be.revertedWithCustomError(pm, "PolicyFullyRevoked");
              else {
                const delta = await aliceDelta(async () => (await call()).wait());
                expect(-delta).to.equal(p.rate * BigInt(active.length) * BigInt(op.extra));
                paid += -delta;
                p.end = newEnd;
              }
            } else {
              const targets = op.kind === "revoke" ? active : [stakers[op.node]];
              const call = () =>
                op.kind === "revoke"
                  ? pm.connect(alice).revokePolicy(p.id)
                  : pm.connect(alice).revokeArrangement(p.id, stakers[op.node]);
              if (period > p.end) await expect(call()).to.be.revertedWithCustomError(pm, "PolicyExpired");
              else if (op.kind === "revoke" && active.length === 0)
                await expect(call()).to.be.revertedWithCustomError(pm, "PolicyFullyRevoked");
              else if (op.kind === "revokeArrangement" && !p.nodes.includes(targets[0]))
                await expect(call()).to.be.revertedWithCustomError(pm, "NotArrangement");
              else if (op.kind === "revokeArrangement" && p.revokedAt.has(targets[0]))
                await expect(call()).to.be.revertedWithCustomError(pm, "ArrangementAlreadyRevoked");
              else {
                const delta = await aliceDelta(async () => (await call()).wait());
                expect(delta).to.equal(p.rate * BigInt(targets.length) * (p.end - period));
                for (const n of targets) {
                  const key = `${p.id}/${n}`;
                  expect(refundedArrangements.has(key), "refunded twice").to.equal(false);
                  refundedArrangements.add(key);
                  p.revokedAt.set(n, period);
                }
                refunded += delta;
              }
            }
          }

          // ---- invariants after every step
          const now = await pm.currentPeriod();
          let escrowed = 0n;
          const pending = new Map<string, bigint>(stakers.map((s) => [s, 0n]));
          for (const mp of policies) {
            const info = await pm.getPolicy(mp.id);
            expect(info.endPeriod).to.equal(mp.end);
            const activeNodes = mp.nodes.filter((n) => !mp.revokedAt.has(n));
            expect(info.activeNodes).to.equal(BigInt(activeNodes.length));
            if (activeNodes.length === 0) continue;
            if (info.paidUntil <= mp.end) escrowed += mp.rate * BigInt(activeNodes.length) * (mp.end + 1n - info.paidUntil);
            const due = min(now, mp.end) + 1n - info.paidUntil;
            if (due > 0n) for (const n of activeNodes) pending.set(n, pending.get(n)! + mp.rate * due);
          }
          let credited = 0n;
          for (const s of stakers) {
            const balance = (await pm.nodeFees(s)).feeBalance;
            credited += balance;
            // Exact earnings: Σ rate × periods served, a revoked arrangement stopping at its revocation.
            let expected = 0n;
            for (const mp of policies) {
              if (!mp.nodes.includes(s)) continue;
              const stop = mp.revokedAt.get(s) ?? mp.end;
              expected += mp.rate * (min(now, stop) + 1n - mp.start);
            }
            expect(withdrawn.get(s)! + balance + pending.get(s)!, `earnings of ${s}`).to.equal(expected);
          }
          const totalWithdrawn = [...withdrawn.values()].reduce((a, b) => a + b, 0n);
          expect(paid, "paid = withdrawn + credited + refunded + escrowed").to.equal(totalWithdrawn + credited + refunded + escrowed);
          expect(await token.balanceOf(w.pmAddress)).to.equal(credited + escrowed);
        }
      }),
      { numRuns: 50, seed: 4242, endOnFailure: true },
    );
  });
});
