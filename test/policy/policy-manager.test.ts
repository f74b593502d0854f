import { expect } from "chai";
import { ethers, ignition } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import * as umbral from "@nucypher/umbral-pre";
import { advancePeriods, signPermit, stakeNode } from "../shared/core-fixture";
import {
  MAX_RATE,
  MIN_RATE,
  NODE_RATE,
  PolicyWorld,
  QUOTA_BASE,
  TOKEN,
  createPolicy,
  deployPolicyManager,
  deployPolicyWorld,
  newPolicyId,
  policyKey,
  rootFor,
} from "./fixture";
import { buildKfragTree, kfragHash, kfragLeaf, toHex } from "../../src/client/kfrag-commitment";
import { orderForPolicy, readCandidates, selectNodes, NODE_STATUS } from "../../src/client/node-selection";
import PolicyModule from "../../deploy/policy";

const Status = NODE_STATUS;

async function world(): Promise<PolicyWorld> {
  const w = await deployPolicyWorld(5);
  await advancePeriods(w.core, 1); // start every test at the beginning of a period
  return w;
}

function stakersOf(w: PolicyWorld, ...indexes: number[]): string[] {
  return indexes.map((i) => w.nodes[i].staker.address);
}

async function revocationSignature(
  w: PolicyWorld,
  signer: { signTypedData: PolicyWorld["alice"]["signTypedData"] },
  message: { policyId: string; node: string; nonce: bigint; deadline: bigint },
): Promise<string> {
  const { chainId } = await ethers.provider.getNetwork();
  return signer.signTypedData(
    { name: "NKMS PolicyManager", version: "1", chainId, verifyingContract: w.pmAddress },
    {
      Revocation: [
        { name: "policyId", type: "bytes16" },
        { name: "node", type: "address" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    message,
  );
}

describe("policy: PolicyManager", () => {
  describe("deployment and governance", () => {
    it("deploys through the Ignition module wired to the NKMS core", async () => {
      const { policyManager, token, escrow } = await ignition.deploy(PolicyModule);
      expect(await policyManager.escrow()).to.equal(await escrow.getAddress());
      expect(await policyManager.token()).to.equal(await token.getAddress());
      expect(await policyManager.secondsPerPeriod()).to.equal(await escrow.secondsPerPeriod());
      expect(await policyManager.currentPeriod()).to.equal(await escrow.currentPeriod());
      const p = await policyManager.params();
      expect([p.minFeeRate, p.maxFeeRate, p.quotaBase, p.quotaPerTotal]).to.deep.equal([MIN_RATE, MAX_RATE, 16n, 10_000n]);
    });

    it("rejects zero addresses and bad parameters in the constructor", async () => {
      const { core } = await loadFixture(world);
      const F = await ethers.getContractFactory("PolicyManager");
      const good = { minFeeRate: 1n, maxFeeRate: 2n, quotaBase: 1, quotaPerTotal: 1n };
      await expect(F.deploy(ethers.ZeroAddress, core.tokenAddress, core.deployer.address, good)).to.be.reverted;
      await expect(F.deploy(core.escrowAddress, ethers.ZeroAddress, core.deployer.address, good)).to.be.revertedWithCustomError(F, "ZeroAddress");
      await expect(F.deploy(core.escrowAddress, core.tokenAddress, ethers.ZeroAddress, good)).to.be.revertedWithCustomError(F, "ZeroAddress");
      await expect(F.deploy(core.escrowAddress, core.tokenAddress, core.deployer.address, { ...good, minFeeRate: 3n }))
        .to.be.revertedWithCustomError(F, "InvalidFeeRateRange").withArgs(3n, 2n);
      await expect(F.deploy(core.escrowAddress, core.tokenAddress, core.deployer.address, { ...good, quotaBase: 0 }))
        .to.be.revertedWithCustomError(F, "InvalidQuotaParams");
      await expect(
        F.deploy(core.escrowAddress, core.tokenAddress, core.deployer.address, { ...good, quotaBase: 10, quotaPerTotal: 2n ** 16n - 10n }),
      ).to.be.revertedWithCustomError(F, "InvalidQuotaParams");
    });

    it("lets only the governor set the fee-rate range and quota parameters", async () => {
      const w = await loadFixture(world);
      const role = await w.pm.GOVERNOR_ROLE();
      await expect(w.pm.connect(w.stranger).setFeeRateRange(1, 2))
        .to.be.revertedWithCustomError(w.pm, "AccessControlUnauthorizedAccount")
        .withArgs(w.stranger.address, role);
      await expect(w.pm.connect(w.stranger).setQuotaParams(1, 2)).to.be.revertedWithCustomError(w.pm, "AccessControlUnauthorizedAccount");
      await expect(w.pm.setFeeRateRange(5, 4)).to.be.revertedWithCustomError(w.pm, "InvalidFeeRateRange");
      await expect(w.pm.setFeeRateRange(1, 10n ** 20n)).to.emit(w.pm, "FeeRateRangeSet").withArgs(1, 10n ** 20n);
      await expect(w.pm.setQuotaParams(3, 7)).to.emit(w.pm, "QuotaParamsSet").withArgs(3, 7);
      const p = await w.pm.params();
      expect([p.minFeeRate, p.maxFeeRate, p.quotaBase, p.quotaPerTotal]).to.deep.equal([1n, 10n ** 20n, 3n, 7n]);
      await w.pm.grantRole(role, w.stranger.address);
      await expect(w.pm.connect(w.stranger).setQuotaParams(4, 4)).to.emit(w.pm, "QuotaParamsSet");
    });
  });

  describe("node fee rates", () => {
    it("enrolls a node on its first rate and keeps its id on updates", async () => {
      const w = await loadFixture(world);
      const s = w.stranger;
      const before = await w.pm.enrolledNodes();
      await expect(w.pm.connect(s).setMinFeeRate(MIN_RATE))
        .to.emit(w.pm, "NodeEnrolled")
        .withArgs(s.address, before + 1n)
        .and.to.emit(w.pm, "MinFeeRateSet")
        .withArgs(s.address, MIN_RATE);
      await expect(w.pm.connect(s).setMinFeeRate(MIN_RATE * 2n)).to.not.emit(w.pm, "NodeEnrolled");
      const info = await w.pm.nodeFees(s.address);
      expect(info.minFeeRate).to.equal(MIN_RATE * 2n);
      expect(info.id).to.equal(before + 1n);
      expect(await w.pm.nodeById(before + 1n)).to.equal(s.address);
    });

    it("rejects rates outside the range, raises stored rates to a new minimum, never lowers them", async () => {
      const w = await loadFixture(world);
      await expect(w.pm.connect(w.stranger).setMinFeeRate(MIN_RATE - 1n))
        .to.be.revertedWithCustomError(w.pm, "FeeRateOutOfRange")
        .withArgs(MIN_RATE - 1n, MIN_RATE, MAX_RATE);
      await expect(w.pm.connect(w.stranger).setMinFeeRate(MAX_RATE + 1n)).to.be.revertedWithCustomError(w.pm, "FeeRateOutOfRange");
      const node = w.nodes[0].staker.address;
      await w.pm.setFeeRateRange(NODE_RATE * 2n, MAX_RATE);
      expect((await w.pm.nodeFees(node)).effectiveMinFeeRate).to.equal(NODE_RATE * 2n);
      await w.pm.setFeeRateRange(MIN_RATE, NODE_RATE / 2n);
      // A lowered ceiling bounds new rates only: the node keeps its own (issue #16).
      expect((await w.pm.nodeFees(node)).effectiveMinFeeRate).to.equal(NODE_RATE);
      await expect(createPolicy(w, [node], { feeRate: NODE_RATE / 2n })).to.be.revertedWithCustomError(w.pm, "NodeIneligible");
      await expect(w.pm.connect(w.stranger).setMinFeeRate(NODE_RATE)).to.be.revertedWithCustomError(w.pm, "FeeRateOutOfRange");
    });
  });

  describe("createPolicy", () => {
    it("creates a one-node policy, takes the fee and records everything", async () => {
      const w = await loadFixture(world);
      const [node] = stakersOf(w, 0);
      const id = newPolicyId();
      const policyId = policyKey(w.alice.address, id);
      const period = await w.pm.currentPeriod();
      const end = period + 3n;
      const cost = NODE_RATE * 4n;
      expect(await w.pm.policyCost(1, NODE_RATE, end)).to.equal(cost);
      const root = rootFor(policyId, [node]);
      const tx1 = w.pm.connect(w.alice).createPolicy(id, w.alice.address, end, NODE_RATE, [node], root);
      await expect(tx1)
        .to.emit(w.pm, "PolicyCreated")
        .withArgs(policyId, w.alice.address, w.alice.address, period, end, NODE_RATE, [node], root, cost)
        ;
      await expect(tx1).to.changeTokenBalances(w.core.token, [w.alice, w.pm], [-cost, cost]);
      const p = await w.pm.getPolicy(policyId);
      expect(p.owner).to.equal(w.alice.address);
      expect(p.sponsor).to.equal(w.alice.address);
      expect([p.startPeriod, p.endPeriod, p.paidUntil, p.feeRate]).to.deep.equal([period, end, period, NODE_RATE]);
      expect([p.nodeCount, p.activeNodes, p.revoked, p.released, p.kfragRoot]).to.deep.equal([1n, 1n, false, false, root]);
      expect(await w.pm.policyNodes(policyId)).to.deep.equal([node]);
      expect(await w.pm.isActiveArrangement(policyId, node)).to.equal(true);
      expect(await w.pm.isActiveArrangement(policyId, stakersOf(w, 1)[0])).to.equal(false);
      expect((await w.pm.nodeFees(node)).activeArrangements).to.equal(1n);
    });

    it("lets a sponsor pay for another owner", async () => {
      const w = await loadFixture(world);
      const nodes = stakersOf(w, 0, 1, 2);
      const { policyId, paid } = await createPolicy(w, nodes, { payer: w.sponsor, owner: w.alice.address, periods: 2 });
      expect(paid).to.equal(NODE_RATE * 3n * 2n);
      const p = await w.pm.getPolicy(policyId);
      expect(p.owner).to.equal(w.alice.address);
      expect(p.sponsor).to.equal(w.sponsor.address);
      expect(await w.pm.policyNodes(policyId)).to.deep.equal(orderForPolicy(nodes));
      // The sponsor cannot revoke; the owner can.
      await expect(w.pm.connect(w.sponsor).revokePolicy(policyId)).to.be.revertedWithCustomError(w.pm, "NotPolicyOwner");
      await expect(w.pm.connect(w.alice).revokePolicy(policyId)).to.emit(w.pm, "PolicyRevoked");
    });

    it("stores up to twelve nodes across inline and packed id words", async () => {
      const w = await loadFixture(world);
      const extra = [];
      for (let i = 0; i < 7; i++) {
        const staker = ethers.Wallet.createRandom().connect(ethers.provider);
        const operator = ethers.Wallet.createRandom().connect(ethers.provider);
        for (const wallet of [staker, operator]) {
          await w.core.deployer.sendTransaction({ to: wallet.address, value: TOKEN });
        }
        const signers = [staker, operator] as unknown as Parameters<typeof stakeNode>[1][];
        await stakeNode(w.core, signers[0], signers[1]);
        await w.pm.connect(staker).setMinFeeRate(NODE_RATE);
        extra.push(staker.address);
      }
      const all = orderForPolicy([...stakersOf(w, 0, 1, 2, 3, 4), ...extra]);
      const { policyId } = await createPolicy(w, all);
      expect(await w.pm.policyNodes(policyId)).to.deep.equal(all);
      for (const node of all) expect(await w.pm.isActiveArrangement(policyId, node)).to.equal(true);
      await w.pm.connect(w.alice).revokeArrangement(policyId, all[11]);
      expect(await w.pm.isActiveArrangement(policyId, all[11])).to.equal(false);
      expect(await w.pm.isActiveArrangement(policyId, all[10])).to.equal(true);
    });

    it("reverts on malformed arguments", async () => {
      const w = await loadFixture(world);
      const nodes = stakersOf(w, 0, 1);
      const sorted = orderForPolicy(nodes);
      const period = await w.pm.currentPeriod();
      const id = newPolicyId();
      const root = rootFor(id, sorted);
      const pm = w.pm.connect(w.alice);
      const a = w.alice.address;
      await expect(pm.createPolicy("0x" + "00".repeat(16), a, period, NODE_RATE, sorted, root)).to.be.revertedWithCustomError(pm, "InvalidPolicyId");
      await expect(pm.createPolicy(id, ethers.ZeroAddress, period, NODE_RATE, sorted, root)).to.be.revertedWithCustomError(pm, "InvalidOwner");
      await expect(pm.createPolicy(id, a, period, NODE_RATE, sorted, ethers.ZeroHash)).to.be.revertedWithCustomError(pm, "InvalidKfragRoot");
      await expect(pm.createPolicy(id, a, period - 1n, NODE_RATE, sorted, root))
        .to.be.revertedWithCustomError(pm, "InvalidEndPeriod")
        .withArgs(period - 1n, period);
      await expect(pm.createPolicy(id, a, period, NODE_RATE, [], root)).to.be.revertedWithCustomError(pm, "InvalidNodeCount").withArgs(0);
      const many = Array.from({ length: 33 }, (_, i) => ethers.zeroPadValue(ethers.toBeHex(i + 1), 20));
      await expect(pm.createPolicy(id, a, period, NODE_RATE, many, root)).to.be.revertedWithCustomError(pm, "InvalidNodeCount").withArgs(33);
      await expect(pm.createPolicy(id, a, period, NODE_RATE, [sorted[1], sorted[0]], root))
        .to.be.revertedWithCustomError(pm, "NodesNotAscending")
        .withArgs(1);
      await expect(pm.createPolicy(id, a, period, NODE_RATE, [sorted[0], sorted[0]], root))
        .to.be.revertedWithCustomError(pm, "NodesNotAscending")
        .withArgs(1);
      await pm.createPolicy(id, a, period, NODE_RATE, sorted, root);
      await expect(pm.createPolicy(id, a, period, NODE_RATE, sorted, root)).to.be.revertedWithCustomError(pm, "PolicyAlreadyExists").withArgs(policyKey(a, id));
    });

    it("rejects ineligible nodes with the reason", async () => {
      const w = await loadFixture(world);
      const [n0] = stakersOf(w, 0);
      const period = await w.pm.currentPeriod();
      const tryCreate = (nodes: string[], end: bigint, rate: bigint) => {
        const id = newPolicyId();
        return w.pm.connect(w.alice).createPolicy(id, w.alice.address, end, rate, nodes, rootFor(id, nodes));
      };
      // Not enrolled: staked and registered, but never set a fee rate.
      const staker = w.core.accounts[6];
      const operator = w.core.accounts[14];
      await stakeNode(w.core, staker, operator);
      await expect(tryCreate([staker.address], period, NODE_RATE))
        .to.be.revertedWithCustomError(w.pm, "NodeIneligible")
        .withArgs(staker.address, Status.NotEnrolled);
      // Fee rate below the node's minimum.
      await expect(tryCreate([n0], period, NODE_RATE - 1n))
        .to.be.revertedWithCustomError(w.pm, "NodeIneligible")
        .withArgs(n0, Status.FeeRateTooLow);
      // Enrolled but not staked/registered.
      await w.pm.connect(w.stranger).setMinFeeRate(NODE_RATE);
      await expect(tryCreate([w.stranger.address], period, NODE_RATE))
        .to.be.revertedWithCustomError(w.pm, "NodeIneligible")
        .withArgs(w.stranger.address, Status.NotRegistered);
      // Lock ends before the policy does (52-period rolling lock: period + 52 is not covered).
      await expect(tryCreate([n0], period + 52n, NODE_RATE))
        .to.be.revertedWithCustomError(w.pm, "NodeIneligible")
        .withArgs(n0, Status.StakeNotLocked);
      await tryCreate([n0], period + 51n, NODE_RATE);
      // Over quota.
      await w.pm.setQuotaParams(1, 0);
      await expect(tryCreate([n0], period, NODE_RATE))
        .to.be.revertedWithCustomError(w.pm, "NodeIneligible")
        .withArgs(n0, Status.OverQuota);
      const check = await w.pm.checkNode(n0, period, NODE_RATE);
      expect([check.status, check.quota, check.activeArrangements]).to.deep.equal([BigInt(Status.OverQuota), 1n, 1n]);
    });

    it("limits arrangements to base + stake share · K and frees them on revocation", async () => {
      const w = await loadFixture(world);
      const [n0] = stakersOf(w, 0);
      await w.pm.setQuotaParams(2, 10);
      const period = await w.pm.currentPeriod();
      const check = await w.pm.checkNode(n0, period, NODE_RATE);
      const total = await w.core.escrow.totalLocked();
      const expected = 2n + (check.stake * 10n) / total;
      expect(check.quota).to.equal(expected);
      const ids: string[] = [];
      for (let i = 0n; i < expected; i++) ids.push((await createPolicy(w, [n0])).policyId);
      await expect(createPolicy(w, [n0])).to.be.revertedWithCustomError(w.pm, "NodeIneligible");
      await w.pm.connect(w.alice).revokePolicy(ids[0]);
      await createPolicy(w, [n0]);
    });

    it("pays through an EIP-2612 permit, even if the permit was front-run", async () => {
      const w = await loadFixture(world);
      const payer = w.stranger;
      await w.core.token.connect(w.core.deployer).transfer(payer.address, 100n * TOKEN);
      const nodes = orderForPolicy(stakersOf(w, 1, 3));
      const end = (await w.pm.currentPeriod()) + 1n;
      const cost = await w.pm.policyCost(2, NODE_RATE, end);
      let id = newPolicyId();
      let permit = await signPermit(w.core.token, payer, w.pmAddress, cost);
      await expect(
        w.pm.connect(payer).createPolicyWithPermit(id, payer.address, end, NODE_RATE, nodes, rootFor(id, nodes), cost, permit.deadline, permit.v, permit.r, permit.s),
      ).to.changeTokenBalances(w.core.token, [payer, w.pm], [-cost, cost]);
      // Front-run: someone submits the permit first; creation still succeeds.
      id = newPolicyId();
      permit = await signPermit(w.core.token, payer, w.pmAddress, cost);
      await w.core.token.connect(w.stranger).permit(payer.address, w.pmAddress, cost, permit.deadline, permit.v, permit.r, permit.s);
      await w.pm.connect(payer).createPolicyWithPermit(id, payer.address, end, NODE_RATE, nodes, rootFor(id, nodes), cost, permit.deadline, permit.v, permit.r, permit.s);
      // A bad permit and no allowance: the transfer fails and nothing is created.
      id = newPolicyId();
      await expect(
        w.pm.connect(payer).createPolicyWithPermit(id, payer.address, end, NODE_RATE, nodes, rootFor(id, nodes), cost, permit.deadline, permit.v, permit.r, permit.s),
      ).to.be.revertedWithCustomError(w.core.token, "ERC20InsufficientAllowance");
      expect((await w.pm.getPolicy(policyKey(payer.address, id))).owner).to.equal(ethers.ZeroAddress);
    });

    it("fails without allowance and leaves no trace", async () => {
      const w = await loadFixture(world);
      const [n0] = stakersOf(w, 0);
      const id = newPolicyId();
      const end = await w.pm.currentPeriod();
      await expect(w.pm.connect(w.stranger).createPolicy(id, w.stranger.address, end, NODE_RATE, [n0], rootFor(id, [n0])))
        .to.be.revertedWithCustomError(w.core.token, "ERC20InsufficientAllowance");
      expect((await w.pm.nodeFees(n0)).activeArrangements).to.equal(0n);
    });
  });

  describe("fees: settle and withdraw", () => {
    it("credits each node period by period and pays out on withdraw", async () => {
      const w = await loadFixture(world);
      const nodes = orderForPolicy(stakersOf(w, 0, 2));
      const { policyId, endPeriod } = await createPolicy(w, nodes, { periods: 4 });
      const start = endPeriod - 3n;
      // The current period is earned as soon as it begins.
      await expect(w.pm.settle(policyId)).to.emit(w.pm, "PolicySettled").withArgs(policyId, start, start, NODE_RATE, false);
      expect(await w.pm.settle.staticCall(policyId)).to.equal(0n);
      await advancePeriods(w.core, 2);
      await expect(w.pm.settle(policyId))
        .to.emit(w.pm, "PolicySettled")
        .withArgs(policyId, start + 1n, start + 2n, NODE_RATE * 2n, false);
      for (const n of nodes) expect((await w.pm.nodeFees(n)).feeBalance).to.equal(NODE_RATE * 3n);
      // Withdraw by anyone, paid to the staker.
      const tx2 = w.pm.connect(w.stranger).withdrawFees(nodes[0]);
      await expect(tx2)
        .to.emit(w.pm, "FeesWithdrawn")
        .withArgs(nodes[0], NODE_RATE * 3n)
        ;
      await expect(tx2).to.changeTokenBalances(w.core.token, [nodes[0], w.pmAddress], [NODE_RATE * 3n, -NODE_RATE * 3n]);
      await expect(w.pm.withdrawFees(nodes[0])).to.be.revertedWithCustomError(w.pm, "NothingToWithdraw").withArgs(nodes[0]);
    });

    it("releases quota once the policy expired, without a settle; settles its fees once", async () => {
      const w = await loadFixture(world);
      const [n0] = stakersOf(w, 0);
      const { policyId, endPeriod } = await createPolicy(w, [n0], { periods: 2 });
      expect(await w.pm.isActiveArrangement(policyId, n0)).to.equal(true);
      await advancePeriods(w.core, 5);
      expect(await w.pm.isActiveArrangement(policyId, n0)).to.equal(false);
      expect(await w.pm.isArrangement(policyId, n0)).to.equal(true);
      expect((await w.pm.nodeFees(n0)).activeArrangements).to.equal(0n);
      await expect(w.pm.settle(policyId))
        .to.emit(w.pm, "PolicySettled")
        .withArgs(policyId, endPeriod - 1n, endPeriod, NODE_RATE * 2n, true);
      const info = await w.pm.nodeFees(n0);
      expect([info.activeArrangements, info.feeBalance]).to.deep.equal([0n, NODE_RATE * 2n]);
      expect((await w.pm.getPolicy(policyId)).released).to.equal(true);
      await expect(w.pm.settle(policyId)).to.not.emit(w.pm, "PolicySettled");
      expect((await w.pm.nodeFees(n0)).activeArrangements).to.equal(0n);
      // Nothing more can happen to an expired policy.
      await expect(w.pm.connect(w.alice).revokePolicy(policyId)).to.be.revertedWithCustomError(w.pm, "PolicyExpired");
      await expect(w.pm.connect(w.alice).revokeArrangement(policyId, n0)).to.be.revertedWithCustomError(w.pm, "PolicyExpired");
      await expect(w.pm.connect(w.alice).extendPolicy(policyId, endPeriod + 9n)).to.be.revertedWithCustomError(w.pm, "PolicyExpired");
    });

    it("reverts on unknown policies", async () => {
      const w = await loadFixture(world);
      const id = newPolicyId();
      await expect(w.pm.settle(id)).to.be.revertedWithCustomError(w.pm, "PolicyNotFound").withArgs(id);
      await expect(w.pm.revokePolicy(id)).to.be.revertedWithCustomError(w.pm, "PolicyNotFound");
      await expect(w.pm.extendPolicy(id, 1)).to.be.revertedWithCustomError(w.pm, "PolicyNotFound");
      expect(await w.pm.isArrangement(id, w.nodes[0].staker.address)).to.equal(false);
      expect(await w.pm.isActiveArrangement(id, w.nodes[0].staker.address)).to.equal(false);
    });
  });

  describe("revocation", () => {
    it("revokes a whole policy: unserved periods refunded, served ones credited", async () => {
      const w = await loadFixture(world);
      const nodes = orderForPolicy(stakersOf(w, 0, 1, 2));
      const { policyId } = await createPolicy(w, nodes, { periods: 10 });
      await advancePeriods(w.core, 3); // periods 0..3 served
      const refund = NODE_RATE * 3n * 6n;
      const tx3 = w.pm.connect(w.alice).revokePolicy(policyId);
      await expect(tx3)
        .to.emit(w.pm, "PolicyRevoked")
        .withArgs(policyId, refund)
        ;
      await expect(tx3).to.changeTokenBalances(w.core.token, [w.alice, w.pm], [refund, -refund]);
      for (const n of nodes) {
        const f = await w.pm.nodeFees(n);
        expect([f.feeBalance, f.activeArrangements]).to.deep.equal([NODE_RATE * 4n, 0n]);
        expect(await w.pm.isActiveArrangement(policyId, n)).to.equal(false);
      }
      const p = await w.pm.getPolicy(policyId);
      expect([p.revoked, p.activeNodes]).to.deep.equal([true, 0n]);
      await expect(w.pm.connect(w.alice).revokePolicy(policyId)).to.be.revertedWithCustomError(w.pm, "PolicyFullyRevoked");
      await expect(w.pm.connect(w.alice).revokeArrangement(policyId, nodes[0]))
        .to.be.revertedWithCustomError(w.pm, "ArrangementAlreadyRevoked")
        .withArgs(policyId, nodes[0]);
      await expect(w.pm.connect(w.alice).extendPolicy(policyId, p.endPeriod + 1n)).to.be.revertedWithCustomError(w.pm, "PolicyFullyRevoked");
      // Later settlements pay nothing more.
      await advancePeriods(w.core, 2);
      await w.pm.settle(policyId);
      for (const n of nodes) expect((await w.pm.nodeFees(n)).feeBalance).to.equal(NODE_RATE * 4n);
    });

    it("revokes in the last period with nothing to refund", async () => {
      const w = await loadFixture(world);
      const { policyId } = await createPolicy(w, stakersOf(w, 0), { periods: 2 });
      await advancePeriods(w.core, 1);
      const tx4 = w.pm.connect(w.alice).revokePolicy(policyId);
      await expect(tx4)
        .to.emit(w.pm, "PolicyRevoked")
        .withArgs(policyId, 0)
        ;
      await expect(tx4).to.changeTokenBalance(w.core.token, w.alice, 0);
    });

    it("revokes single arrangements, then the rest", async () => {
      const w = await loadFixture(world);
      const nodes = orderForPolicy(stakersOf(w, 0, 1, 2));
      const { policyId } = await createPolicy(w, nodes, { periods: 5 });
      await advancePeriods(w.core, 1);
      const one = NODE_RATE * 3n;
      const tx5 = w.pm.connect(w.alice).revokeArrangement(policyId, nodes[1]);
      await expect(tx5)
        .to.emit(w.pm, "ArrangementRevoked")
        .withArgs(policyId, nodes[1], one)
        ;
      await expect(tx5).to.changeTokenBalance(w.core.token, w.alice, one);
      expect((await w.pm.nodeFees(nodes[1])).feeBalance).to.equal(NODE_RATE * 2n);
      await expect(w.pm.connect(w.alice).revokeArrangement(policyId, nodes[1])).to.be.revertedWithCustomError(w.pm, "ArrangementAlreadyRevoked");
      await expect(w.pm.connect(w.alice).revokeArrangement(policyId, w.stranger.address))
        .to.be.revertedWithCustomError(w.pm, "NotArrangement")
        .withArgs(policyId, w.stranger.address);
      await expect(w.pm.connect(w.alice).revokeArrangement(policyId, stakersOf(w, 3)[0])).to.be.revertedWithCustomError(w.pm, "NotArrangement");
      await expect(w.pm.connect(w.stranger).revokeArrangement(policyId, nodes[0])).to.be.revertedWithCustomError(w.pm, "NotPolicyOwner");
      await advancePeriods(w.core, 1);
      // The revoked node earns nothing more; the other two earn on.
      await w.pm.settle(policyId);
      expect((await w.pm.nodeFees(nodes[1])).feeBalance).to.equal(NODE_RATE * 2n);
      expect((await w.pm.nodeFees(nodes[0])).feeBalance).to.equal(NODE_RATE * 3n);
      await expect(w.pm.connect(w.alice).revokePolicy(policyId))
        .to.emit(w.pm, "PolicyRevoked")
        .withArgs(policyId, NODE_RATE * 2n * 2n);
      // Revoking the two remaining ones one by one marks the policy revoked too.
      const second = await createPolicy(w, nodes.slice(0, 2), { periods: 3 });
      await w.pm.connect(w.alice).revokeArrangement(second.policyId, nodes[0]);
      expect((await w.pm.getPolicy(second.policyId)).revoked).to.equal(false);
      await w.pm.connect(w.alice).revokeArrangement(second.policyId, nodes[1]);
      expect((await w.pm.getPolicy(second.policyId)).revoked).to.equal(true);
      await expect(w.pm.connect(w.alice).revokePolicy(second.policyId)).to.be.revertedWithCustomError(w.pm, "PolicyFullyRevoked");
    });

    it("executes the owner's signed revocation submitted by anyone, once", async () => {
      const w = await loadFixture(world);
      const nodes = orderForPolicy(stakersOf(w, 0, 1));
      const { policyId } = await createPolicy(w, nodes, { periods: 4 });
      const deadline = BigInt(2 ** 40);
      const nonce = 7n; // unordered: any unused nonce
      const sig = await revocationSignature(w, w.alice, { policyId, node: nodes[0], nonce, deadline });
      const tx6 = w.pm.connect(w.stranger).revokeWithSignature(policyId, nodes[0], nonce, deadline, sig);
      await expect(tx6)
        .to.emit(w.pm, "ArrangementRevoked")
        .withArgs(policyId, nodes[0], NODE_RATE * 3n)
        ;
      await expect(tx6).to.changeTokenBalance(w.core.token, w.alice, NODE_RATE * 3n);
      // Replay: the nonce is spent.
      await expect(w.pm.connect(w.stranger).revokeWithSignature(policyId, nodes[0], nonce, deadline, sig))
        .to.be.revertedWithCustomError(w.pm, "NonceAlreadyUsed")
        .withArgs(w.alice.address, nonce);
      // Whole-policy revocation (node = 0) with the next nonce.
      const whole = { policyId, node: ethers.ZeroAddress, nonce: nonce + 1n, deadline };
      // Signed by someone else: rejected.
      const forged = await revocationSignature(w, w.stranger, whole);
      await expect(w.pm.revokeWithSignature(policyId, ethers.ZeroAddress, whole.nonce, deadline, forged)).to.be.revertedWithCustomError(
        w.pm,
        "InvalidSignature",
      );
      // A signature for different terms: rejected.
      const other = await revocationSignature(w, w.alice, { ...whole, node: nodes[1] });
      await expect(w.pm.revokeWithSignature(policyId, ethers.ZeroAddress, whole.nonce, deadline, other)).to.be.revertedWithCustomError(
        w.pm,
        "InvalidSignature",
      );
      const good = await revocationSignature(w, w.alice, whole);
      await expect(w.pm.connect(w.stranger).revokeWithSignature(policyId, ethers.ZeroAddress, whole.nonce, deadline, good))
        .to.emit(w.pm, "PolicyRevoked")
        .withArgs(policyId, NODE_RATE * 3n);
    });

    it("rejects expired signed revocations", async () => {
      const w = await loadFixture(world);
      const { policyId } = await createPolicy(w, stakersOf(w, 0));
      const block = await ethers.provider.getBlock("latest");
      const deadline = BigInt(block!.timestamp) - 1n;
      const sig = await revocationSignature(w, w.alice, { policyId, node: ethers.ZeroAddress, nonce: 0n, deadline });
      await expect(w.pm.revokeWithSignature(policyId, ethers.ZeroAddress, 0, deadline, sig))
        .to.be.revertedWithCustomError(w.pm, "SignatureExpired")
        .withArgs(deadline);
    });
  });

  describe("extendPolicy", () => {
    it("charges the extra periods of the active nodes only", async () => {
      const w = await loadFixture(world);
      const nodes = orderForPolicy(stakersOf(w, 0, 1, 2));
      const { policyId, endPeriod } = await createPolicy(w, nodes, { periods: 3 });
      await w.pm.connect(w.alice).revokeArrangement(policyId, nodes[2]);
      const paid = NODE_RATE * 2n * 5n;
      const tx7 = w.pm.connect(w.sponsor).extendPolicy(policyId, endPeriod + 5n);
      await expect(tx7)
        .to.emit(w.pm, "PolicyExtended")
        .withArgs(policyId, w.sponsor.address, endPeriod + 5n, paid)
        ;
      await expect(tx7).to.changeTokenBalances(w.core.token, [w.sponsor, w.pm], [-paid, paid]);
      expect((await w.pm.getPolicy(policyId)).endPeriod).to.equal(endPeriod + 5n);
      // Revoking now refunds through the new end.
      await expect(w.pm.connect(w.alice).revokePolicy(policyId))
        .to.emit(w.pm, "PolicyRevoked")
        .withArgs(policyId, NODE_RATE * 2n * (endPeriod + 5n - (await w.pm.currentPeriod())));
    });

    it("rejects shorter ends and nodes not locked through the new end", async () => {
      const w = await loadFixture(world);
      const [n0] = stakersOf(w, 0);
      const { policyId, endPeriod } = await createPolicy(w, [n0], { periods: 3 });
      await expect(w.pm.extendPolicy(policyId, endPeriod))
        .to.be.revertedWithCustomError(w.pm, "InvalidEndPeriod")
        .withArgs(endPeriod, endPeriod);
      const period = await w.pm.currentPeriod();
      await expect(w.pm.connect(w.alice).extendPolicy(policyId, period + 52n))
        .to.be.revertedWithCustomError(w.pm, "NodeIneligible")
        .withArgs(n0, Status.StakeNotLocked);
      await expect(w.pm.connect(w.stranger).extendPolicy(policyId, endPeriod + 1n)).to.be.revertedWithCustomError(
        w.core.token,
        "ERC20InsufficientAllowance",
      );
    });
  });

  describe("kfrag commitment on-chain", () => {
    it("verifies real Umbral kfrags of a 5-node policy with TS-built proofs", async () => {
      const w = await loadFixture(world);
      const nodes = orderForPolicy(stakersOf(w, 0, 1, 2, 3, 4));
      const alice = umbral.SecretKey.random();
      const bob = umbral.SecretKey.random();
      const kfrags = umbral.generateKFrags(alice, bob.publicKey(), new umbral.Signer(alice), 3, 5, true, true);
      const salt = newPolicyId();
      const policyId = policyKey(w.alice.address, salt);
      const idBytes = Uint8Array.from(Buffer.from(policyId.slice(2), "hex"));
      const entries = nodes.map((node, i) => ({ node, kfragHash: kfragHash(kfrags[i].toBytes()) }));
      const tree = buildKfragTree(idBytes, entries);
      const end = await w.pm.currentPeriod();
      await w.pm.connect(w.alice).createPolicy(salt, w.alice.address, end, NODE_RATE, nodes, toHex(tree.root));
      for (let i = 0; i < nodes.length; i++) {
        const hash = toHex(entries[i].kfragHash);
        const proof = tree.proofs[i].map(toHex);
        expect(await w.pm.kfragLeaf(policyId, nodes[i], hash)).to.equal(toHex(kfragLeaf(idBytes, nodes[i], entries[i].kfragHash)));
        expect(await w.pm.verifyKfragCommitment(policyId, nodes[i], hash, proof)).to.equal(true);
        // Another node's kfrag, or this kfrag claimed for another node, does not verify.
        const j = (i + 1) % nodes.length;
        expect(await w.pm.verifyKfragCommitment(policyId, nodes[i], toHex(entries[j].kfragHash), proof)).to.equal(false);
        expect(await w.pm.verifyKfragCommitment(policyId, nodes[j], hash, proof)).to.equal(false);
      }
      expect(await w.pm.verifyKfragCommitment(newPolicyId(), nodes[0], toHex(entries[0].kfragHash), tree.proofs[0].map(toHex))).to.equal(false);
    });

    it("refuses a leaf for a node outside the policy even if the root includes it", async () => {
      const w = await loadFixture(world);
      const nodes = stakersOf(w, 0);
      const outsider = stakersOf(w, 1)[0];
      const salt = newPolicyId();
      const policyId = policyKey(w.alice.address, salt);
      const idBytes = Uint8Array.from(Buffer.from(policyId.slice(2), "hex"));
      const h = new Uint8Array(32).fill(7);
      const tree = buildKfragTree(idBytes, [
        { node: nodes[0], kfragHash: h },
        { node: outsider, kfragHash: h },
      ]);
      await w.pm.connect(w.alice).createPolicy(salt, w.alice.address, await w.pm.currentPeriod(), NODE_RATE, nodes, toHex(tree.root));
      expect(await w.pm.verifyKfragCommitment(policyId, nodes[0], toHex(h), tree.proofs[0].map(toHex))).to.equal(true);
      expect(await w.pm.verifyKfragCommitment(policyId, outsider, toHex(h), tree.proofs[1].map(toHex))).to.equal(false);
    });
  });

  describe("client selection against the chain", () => {
    it("reads candidates with checkNode, selects by stake and creates the policy", async () => {
      const w = await loadFixture(world);
      // Make one node ineligible by fee rate and one over quota.
      await w.pm.connect(w.nodes[4].staker).setMinFeeRate(NODE_RATE * 10n);
      const period = await w.pm.currentPeriod();
      const candidates = await readCandidates(w.pm, w.core.escrow, { endPeriod: period + 3n, feeRate: NODE_RATE });
      expect(candidates).to.have.length(5);
      const byStaker = new Map(candidates.map((c) => [c.staker, c]));
      expect(byStaker.get(w.nodes[4].staker.address)!.eligible).to.equal(false);
      for (const n of w.nodes.slice(0, 4)) {
        const c = byStaker.get(n.staker.address)!;
        expect(c.eligible).to.equal(true);
        expect(c.stake).to.equal(n.amount);
        expect(c.quotaLeft).to.be.greaterThan(QUOTA_BASE - 1);
        expect(c.keyHash).to.have.length(32);
      }
      const policyId = newPolicyId();
      const chosen = selectNodes(candidates, {
        count: 3,
        policyId: Uint8Array.from(Buffer.from(policyId.slice(2), "hex")),
        seed: new Uint8Array(32).fill(1),
      });
      expect(chosen).to.not.include(w.nodes[4].staker.address);
      const created = await createPolicy(w, chosen, { policyId, periods: 4 });
      expect(await w.pm.policyNodes(created.policyId)).to.deep.equal(orderForPolicy(chosen));
      // Over quota shows up as quotaLeft 0 but eligible.
      await w.pm.setQuotaParams(1, 0);
      const after = await readCandidates(w.pm, w.core.escrow, { endPeriod: period + 3n, feeRate: NODE_RATE, stakers: chosen });
      for (const c of after) expect([c.eligible, c.quotaLeft]).to.deep.equal([true, 0]);
    });
  });

  it("emits nothing for a settle with nothing due", async () => {
    const w = await loadFixture(world);
    const { policyId } = await createPolicy(w, stakersOf(w, 0));
    await w.pm.settle(policyId);
    await expect(w.pm.settle(policyId)).to.not.emit(w.pm, "PolicySettled");
  });
});
