// The gas-floor instrument (contracts/bench/PolicyGasFloor.sol) must really do the work it claims
// to be the floor of, or bench/gas/floor.ts measures nothing: the fee taken, one slot holding the
// hash of every term, the counters, every eligibility check PolicyManager makes, the withdrawals.
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { PolicyGasFloor } from "../../typechain-types";
import { NODE_RATE, QUOTA_BASE, QUOTA_PER_TOTAL, deployFloor, deployPolicyWorld, newPolicyId, rootFor, type PolicyWorld } from "./fixture";

interface FloorWorld {
  w: PolicyWorld;
  floor: PolicyGasFloor;
  stakers: string[];
}

async function floorWorld(): Promise<FloorWorld> {
  const w = await deployPolicyWorld(3);
  const floor = await deployFloor(w, QUOTA_BASE, QUOTA_PER_TOTAL);
  for (const n of w.nodes) await (await floor.connect(n.staker).enroll(NODE_RATE)).wait();
  return { w, floor, stakers: w.nodes.map((n) => n.staker.address) };
}

describe("policy: gas floor instrument", () => {
  it("createFloor takes the fee, stores the hash of every term in one slot, counts each node, logs the terms", async () => {
    const { w, floor, stakers } = await loadFixture(floorWorld);
    const id = newPolicyId();
    const period = BigInt(await w.core.escrow.currentPeriod());
    const end = period + 3n;
    const root = rootFor(id, stakers);
    const paid = NODE_RATE * 3n * 4n;
    const before = await w.core.token.balanceOf(w.alice.address);
    await expect(floor.connect(w.alice).createFloor(id, w.alice.address, end, NODE_RATE, stakers, root))
      .to.emit(floor, "PolicyCreated")
      .withArgs(id, w.alice.address, w.alice.address, period, end, NODE_RATE, stakers, root);
    expect(before - (await w.core.token.balanceOf(w.alice.address))).to.equal(paid);
    expect(await w.core.token.balanceOf(await floor.getAddress())).to.equal(paid);
    expect(await floor.policyHash(id)).to.equal(
      await floor.termsHash(w.alice.address, w.alice.address, period, end, NODE_RATE, stakers, root),
    );
    for (const s of stakers) expect((await floor.nodeState(s)).active).to.equal(1n);
    await expect(floor.connect(w.alice).createFloor(id, w.alice.address, end, NODE_RATE, stakers, root))
      .to.be.revertedWithCustomError(floor, "PolicyAlreadyExists");
  });

  it("createFloor rejects what PolicyManager rejects: order, enrollment, rate, registration, lock, quota", async () => {
    const { w, floor, stakers } = await loadFixture(floorWorld);
    const period = BigInt(await w.core.escrow.currentPeriod());
    const create = (nodes: string[], opts: { end?: bigint; rate?: bigint; on?: PolicyGasFloor } = {}) => {
      const id = newPolicyId();
      return (opts.on ?? floor).connect(w.alice).createFloor(id, w.alice.address, opts.end ?? period + 3n, opts.rate ?? NODE_RATE, nodes, nodes.length ? rootFor(id, nodes) : ethers.id("root"));
    };
    await expect(create([stakers[1], stakers[0]])).to.be.revertedWithCustomError(floor, "NodesNotAscending").withArgs(1n);
    await expect(create([])).to.be.revertedWithCustomError(floor, "InvalidPolicy");
    await expect(create([w.stranger.address])).to.be.revertedWithCustomError(floor, "NodeIneligible").withArgs(w.stranger.address, 1);
    await expect(create(stakers, { rate: NODE_RATE - 1n })).to.be.revertedWithCustomError(floor, "NodeIneligible").withArgs(stakers[0], 2);
    // Enrolled but never staked nor registered in the escrow.
    await (await floor.connect(w.stranger).enroll(NODE_RATE)).wait();
    await expect(create([w.stranger.address])).to.be.revertedWithCustomError(floor, "NodeIneligible").withArgs(w.stranger.address, 3);
    // The fixture's stakes are locked 52 periods.
    await expect(create(stakers, { end: period + 60n })).to.be.revertedWithCustomError(floor, "NodeIneligible").withArgs(stakers[0], 4);
    // Quota: base 1 and no stake share, so a node takes one arrangement only.
    const strict = await deployFloor(w, 1, 0n);
    await (await strict.connect(w.nodes[0].staker).enroll(NODE_RATE)).wait();
    await create([stakers[0]], { on: strict });
    await expect(create([stakers[0]], { on: strict })).to.be.revertedWithCustomError(floor, "NodeIneligible").withArgs(stakers[0], 5);
  });

  it("the measuring variants: from a deposit debits it exactly; unpaid takes nothing", async () => {
    const { w, floor, stakers } = await loadFixture(floorWorld);
    const end = BigInt(await w.core.escrow.currentPeriod()) + 1n;
    const make = (fn: "createFloorFromDeposit" | "createFloorUnpaid") => {
      const id = newPolicyId();
      return floor.connect(w.alice)[fn](id, w.alice.address, end, NODE_RATE, stakers, rootFor(id, stakers));
    };
    const cost = NODE_RATE * 3n * 2n;
    await expect(make("createFloorFromDeposit")).to.be.revertedWithCustomError(floor, "InsufficientDeposit").withArgs(0n, cost);
    await (await floor.connect(w.alice).deposit(cost + 5n)).wait();
    const before = await w.core.token.balanceOf(w.alice.address);
    await (await make("createFloorFromDeposit")).wait();
    expect(await floor.deposits(w.alice.address)).to.equal(5n);
    await (await make("createFloorUnpaid")).wait();
    expect(await w.core.token.balanceOf(w.alice.address)).to.equal(before);
    for (const s of stakers) expect((await floor.nodeState(s)).active).to.equal(2n);
  });

  it("withdrawFloor and withdrawFloorOwnSlot pay exactly the credited fees once and keep the node's other fields", async () => {
    const { w, floor, stakers } = await loadFixture(floorWorld);
    const node = w.nodes[0].staker;
    const id = newPolicyId();
    const end = BigInt(await w.core.escrow.currentPeriod()) + 1n;
    await (await floor.connect(w.alice).createFloor(id, w.alice.address, end, NODE_RATE, [stakers[0]], rootFor(id, [stakers[0]]))).wait();
    for (const [fundFn, withdrawFn] of [
      ["fund", "withdrawFloor"],
      ["fundOwnSlot", "withdrawFloorOwnSlot"],
    ] as const) {
      await (await floor.connect(w.alice)[fundFn](node.address, 123n)).wait();
      const before = await w.core.token.balanceOf(node.address);
      await expect(floor.connect(w.stranger)[withdrawFn](node.address)).to.emit(floor, "FeesWithdrawn").withArgs(node.address, 123n);
      expect((await w.core.token.balanceOf(node.address)) - before).to.equal(123n);
      await expect(floor[withdrawFn](node.address)).to.be.revertedWithCustomError(floor, "NothingToWithdraw");
    }
    const state = await floor.nodeState(node.address);
    expect([state.feeBalance, state.minFeeRate, state.active]).to.deep.equal([0n, NODE_RATE, 1n]);
    expect(await floor.ownSlotFeeBalance(node.address)).to.equal(0n);
  });
});
