import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { advancePeriods } from "../shared/core-fixture";
import { NODE_RATE, PolicyWorld, deployPolicyWorld, policyKey, rootFor } from "./fixture";

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error, "expected the task to fail").to.be.instanceOf(Error);
  expect((error as Error & { code?: string }).code ?? (error as Error).message).to.equal(code);
}

async function world(): Promise<PolicyWorld> {
  const w = await deployPolicyWorld(4);
  await advancePeriods(w.core, 1);
  return w;
}

describe("policy: tasks", () => {
  it("set fee rate, create (selected and explicit), renew, settle, withdraw, revoke", async () => {
    const w = await loadFixture(world);
    const fee = hre.ethers.formatUnits(NODE_RATE, 18);
    const root = rootFor("0x" + "11".repeat(16), [w.nodes[0].staker.address]);
    const alice = { manager: w.pmAddress, from: w.alice.address };
    const run = (name: string, args: Record<string, unknown>) => hre.run(name, args);

    const staker = w.nodes[0].staker.address;
    await rejects(run("policy:set-fee-rate", { manager: w.pmAddress, from: staker, rate: "100000" }), "RATE_OUT_OF_RANGE");
    await rejects(run("policy:set-fee-rate", { manager: w.pmAddress, from: staker, rate: "x" }), "BAD_AMOUNT");
    await run("policy:set-fee-rate", { manager: w.pmAddress, from: staker, rate: fee });

    // Selected by stake from the chain.
    const selected = await run("policy:create", { ...alice, kfragRoot: root, periods: 3, feeRate: fee, count: 3 });
    expect(selected.nodes).to.have.length(3);
    expect(await w.pm.policyNodes(selected.policyId)).to.deep.equal(selected.nodes);
    await rejects(run("policy:create", { ...alice, kfragRoot: root, periods: 3, feeRate: fee, count: 5 }), "NOT_ENOUGH_NODES");

    // Explicit nodes, a fresh payer needing an approval.
    const ownId = "0x" + "11".repeat(16);
    const policyId = policyKey(w.stranger.address, ownId); // ids are namespaced by creator
    await hre.run("policy:create", {
      manager: w.pmAddress,
      from: w.stranger.address,
      kfragRoot: root,
      periods: 2,
      feeRate: fee,
      nodes: staker,
      policyId: ownId,
      count: 3,
    }).then(
      () => expect.fail("stranger has no tokens"),
      (e: Error & { code?: string }) => expect(e.code).to.equal("INSUFFICIENT_BALANCE"),
    );
    await w.core.token.transfer(w.stranger.address, NODE_RATE * 100n);
    const created = await run("policy:create", { manager: w.pmAddress, from: w.stranger.address, kfragRoot: root, periods: 2, feeRate: fee, nodes: staker, policyId: ownId, count: 3 });
    expect(created.policyId).to.equal(policyId);
    await rejects(
      run("policy:create", { manager: w.pmAddress, from: w.stranger.address, kfragRoot: root, periods: 2, feeRate: fee, nodes: staker, policyId: ownId, count: 3 }),
      "PolicyAlreadyExists",
    );
    await rejects(run("policy:create", { ...alice, kfragRoot: "0x12", periods: 2, feeRate: fee, count: 1 }), "BAD_ROOT");

    await run("policy:renew", { manager: w.pmAddress, from: w.stranger.address, policyId, periods: 2 });
    expect((await w.pm.getPolicy(policyId)).endPeriod).to.equal((await w.pm.currentPeriod()) + 3n);
    const info = await run("policy:info", { manager: w.pmAddress, policyId });
    expect(info.owner).to.equal(w.stranger.address);
    await rejects(run("policy:info", { manager: w.pmAddress, policyId: "0x" + "22".repeat(16) }), "UNKNOWN_POLICY");
    await rejects(run("policy:info", { manager: w.pmAddress, policyId: "0x22" }), "BAD_POLICY_ID");

    await advancePeriods(w.core, 1);
    await rejects(run("policy:withdraw", { manager: w.pmAddress, from: staker }), "NOTHING_TO_WITHDRAW");
    await run("policy:withdraw", { manager: w.pmAddress, from: staker, settle: policyId });
    await run("policy:settle", { manager: w.pmAddress, policyId: selected.policyId });

    await rejects(run("policy:revoke", { ...alice, policyId }), "NotPolicyOwner");
    // Ending a still-registered node's arrangement as a third party is refused.
    await rejects(run("policy:revoke", { ...alice, policyId, node: staker, unregistered: true }), "NodeStillRegistered");
    const released = await run("policy:release", { ...alice, node: staker });
    expect(released.live).to.equal((await w.pm.nodeFees(staker)).activeArrangements);
    await run("policy:revoke", { manager: w.pmAddress, from: w.stranger.address, policyId, node: staker });
    await run("policy:revoke", { ...alice, policyId: selected.policyId });
    expect((await w.pm.getPolicy(selected.policyId)).revoked).to.equal(true);
    await rejects(run("policy:revoke", { ...alice, policyId: selected.policyId }), "PolicyFullyRevoked");
  });

  it("explains a missing deployment", async () => {
    await rejects(hre.run("policy:info", { policyId: "0x" + "11".repeat(16) }), "NO_DEPLOYMENT");
  });
});
