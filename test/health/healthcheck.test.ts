import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, takeSnapshot, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { deployCore, randomCompressedKey, rebondNode, registerNode } from "../shared/core-fixture";
import {
  TEST_CONFIG,
  TOKEN,
  buildWorld,
  checkersOf,
  commitVote,
  commitmentOf,
  contactsFor,
  expectedThreshold,
  isSelectedRef,
  keyHash192,
  nodeByStaker,
  openNextRound,
  randomSalt,
  revealVote,
  toClaimEnd,
  toNextRound,
  toReveal,
  toRevealEnd,
  toUnfrozen,
  weightOf,
  type HealthWorld,
  type Vote,
} from "./fixture";

const world6 = () => buildWorld({ nodes: 6 });
const world8Quorum2 = () => buildWorld({ nodes: 8, config: { quorum: 2 } });
// One node outweighs any four others together.
const weighted = () =>
  buildWorld({
    nodes: 6,
    amounts: [150_000n, 150_000n, 300_000n, 150_000n, 150_000n, 900_000n].map((a) => a * TOKEN),
    config: { sampleSize: 1 },
  });
const emptyWorld = () => buildWorld({ nodes: 4, enroll: false });
const world7 = () => buildWorld({ nodes: 7 });
const world3 = () => buildWorld({ nodes: 3 });
const world2 = () => buildWorld({ nodes: 2 });
// 9 staked nodes, the first 6 enrolled.
const world9Partial = async () => {
  const w = await buildWorld({ nodes: 9, enroll: false, accruePeriods: 0, config: { expectedCheckers: 2 } });
  for (const node of w.nodes.slice(0, 6)) await w.health.enroll(node.staker.address);
  await time.increase(2 * (TEST_CONFIG.commitDuration + TEST_CONFIG.revealDuration));
  return w;
};

/** Off-chain replay of the draw: a sweep of k - k/8 positions from `cursor`, then k/8 random ones outside it. */
function replayDraw(lastSeed: string, prevrandao: bigint, round: bigint, layout: string[], k: number, cursor = 0): string[] {
  const coder = ethers.AbiCoder.defaultAbiCoder();
  const seed = ethers.keccak256(coder.encode(["bytes32", "uint256", "uint32"], [lastSeed, prevrandao, round]));
  const n = layout.length;
  const sweep = k - Math.floor(k / 8);
  const picked: string[] = [];
  for (let j = 0; j < sweep; j++) picked.push(layout[(cursor + j) % n]);
  for (let draw = 0; draw < 4 * k && picked.length < k; draw++) {
    const idx = Number(BigInt(ethers.keccak256(coder.encode(["bytes32", "uint256"], [seed, draw]))) % BigInt(n));
    if ((idx + n - cursor) % n < sweep) continue;
    if (!picked.includes(layout[idx])) picked.push(layout[idx]);
  }
  return picked;
}
const smallPool = () => buildWorld({ nodes: 6, fund: 10n * TOKEN });
const shortLocks = () =>
  buildWorld({
    nodes: 5,
    core: { minLockPeriods: 1 },
    lockPeriods: 1,
    config: { sampleSize: 1, commitDuration: 3000, revealDuration: 3000 },
  });
const fewChecker = () => buildWorld({ nodes: 9, config: { expectedCheckers: 2, sampleSize: 1 } });

/** Open a round and build one vote per non-target node with the given verdicts. */
async function openWithVotes(w: HealthWorld, verdicts: (i: number) => bigint) {
  const { round, targets } = await openNextRound(w.health);
  const votes: Vote[] = checkersOf(w, targets).map((node, i) => ({ node, verdicts: verdicts(i), salt: randomSalt() }));
  return { round, targets, votes };
}

describe("health: HealthCheck", () => {
  describe("constructor", () => {
    it("rejects every invalid parameter", async () => {
      const core = await deployCore();
      const factory = await ethers.getContractFactory("HealthCheck");
      const bad: Array<[string, Partial<typeof TEST_CONFIG>]> = [
        ["commitDuration", { commitDuration: 0 }],
        ["revealDuration", { revealDuration: 0 }],
        ["openWindow", { openWindow: 0 }],
        ["openWindow", { openWindow: TEST_CONFIG.commitDuration + 1 }],
        ["freezeWindow", { freezeWindow: TEST_CONFIG.commitDuration + TEST_CONFIG.revealDuration }],
        ["claimWindow", { claimWindow: 0 }],
        ["sampleSize", { sampleSize: 0 }],
        ["sampleSize", { sampleSize: 33 }],
        ["expectedCheckers", { expectedCheckers: 0 }],
        ["quorum", { quorum: 0 }],
      ];
      for (const [name, override] of bad) {
        await expect(factory.deploy(core.escrowAddress, core.tokenAddress, { ...TEST_CONFIG, ...override }))
          .to.be.revertedWithCustomError(factory, "InvalidParameter")
          .withArgs(name);
      }
      await expect(factory.deploy(ethers.ZeroAddress, core.tokenAddress, TEST_CONFIG))
        .to.be.revertedWithCustomError(factory, "InvalidParameter")
        .withArgs("escrow");
      await expect(factory.deploy(core.escrowAddress, ethers.ZeroAddress, TEST_CONFIG))
        .to.be.revertedWithCustomError(factory, "InvalidParameter")
        .withArgs("token");
    });

    it("rejects a first round announced in the past or more than 30 days ahead", async () => {
      const core = await deployCore();
      const factory = await ethers.getContractFactory("HealthCheck");
      const now = await time.latest();
      for (const firstRoundStart of [now - 1, now + 30 * 86_400 + 60]) {
        await expect(factory.deploy(core.escrowAddress, core.tokenAddress, { ...TEST_CONFIG, firstRoundStart }))
          .to.be.revertedWithCustomError(factory, "InvalidParameter")
          .withArgs("firstRoundStart");
      }
    });

    it("with an announced start, enrolls before round 1 and round 1 already judges (not void)", async () => {
      // Round 1 at deployment meets an empty enrollment (enrollment counts from the next round),
      // so a fresh network's first round was always void.
      const w = await buildWorld({ nodes: 5, enroll: false, accruePeriods: 0 });
      const factory = await ethers.getContractFactory("HealthCheck");
      const start = (await time.latest()) + 3 * 3600;
      const health = await factory.deploy(w.core.escrowAddress, w.core.tokenAddress, { ...TEST_CONFIG, firstRoundStart: start });
      expect(await health.genesis()).to.equal(BigInt(start));
      expect(await health.currentRound()).to.equal(0n);
      await (await w.core.escrow.grantRole(await w.core.escrow.REWARD_FORFEITER_ROLE(), await health.getAddress())).wait();
      for (const node of w.nodes.slice(0, 4)) await (await health.enroll(node.staker.address)).wait();
      // No round exists yet: nothing can be opened.
      await expect(health.openRound()).to.be.revertedWithCustomError(health, "OpenWindowClosed").withArgs(0);
      // Enrollment freezes before round 1 like before any round.
      await time.increaseTo(start - TEST_CONFIG.freezeWindow);
      await expect(health.enroll(w.nodes[4].staker.address)).to.be.revertedWithCustomError(health, "EnrollmentFrozen").withArgs(1);
      await time.increaseTo(start);
      expect(await health.currentRound()).to.equal(1n);
      await expect(health.openRound()).to.emit(health, "RoundOpened");
      const info = await health.roundInfo(1);
      expect(info.opened).to.equal(true);
      expect(info.voided).to.equal(false);
      expect(info.targets.length).to.equal(2);
    });

    it("stores its configuration and starts at round 1", async () => {
      const core = await deployCore();
      const health = await ethers.deployContract("HealthCheck", [core.escrowAddress, core.tokenAddress, TEST_CONFIG]);
      expect(await health.escrow()).to.equal(core.escrowAddress);
      expect(await health.token()).to.equal(core.tokenAddress);
      expect(await health.commitDuration()).to.equal(3600n);
      expect(await health.revealDuration()).to.equal(3600n);
      expect(await health.openWindow()).to.equal(600n);
      expect(await health.freezeWindow()).to.equal(300n);
      expect(await health.secondsPerPeriod()).to.equal(BigInt(core.params.secondsPerPeriod));
      expect(await health.claimWindow()).to.equal(86_400n);
      expect(await health.sampleSize()).to.equal(3n);
      expect(await health.expectedCheckers()).to.equal(1000n);
      expect(await health.quorum()).to.equal(2n);
      expect(await health.rewardPerRound()).to.equal(1000n * TOKEN);
      expect(await health.currentRound()).to.equal(1n);
      const info = await health.roundInfo(1);
      expect(info.start).to.equal(await health.genesis());
      expect(info.commitEnd - info.start).to.equal(3600n);
      expect(info.revealEnd - info.commitEnd).to.equal(3600n);
      expect(info.claimEnd - info.revealEnd).to.equal(86_400n);
    });
  });

  describe("enrollment", () => {
    it("enrolls an eligible node with its cached key hash from the next round on, anyone may call", async () => {
      const w = await loadFixture(emptyWorld);
      await toUnfrozen(w.health);
      const node = w.nodes[0];
      const round = await w.health.currentRound();
      await expect(w.health.connect(w.outsider).enroll(node.staker.address))
        .to.emit(w.health, "Enrolled")
        .withArgs(node.staker.address, keyHash192(node.staker.address), round + 1n)
        .and.to.emit(w.health, "WeightRecorded")
        .withArgs(node.staker.address, weightOf(node.amount), round + 1n);
      expect(await w.health.enrolledCount()).to.equal(1n);
      expect(await w.health.enrolledAt(0)).to.equal(node.staker.address);
      // The current round's layout is unchanged; the next one has the node.
      expect(await w.health.membersIn(round)).to.equal(0n);
      expect(await w.health.membersIn(round + 1n)).to.equal(1n);
      expect(await w.health.memberAt(round + 1n, 0)).to.equal(node.staker.address);
      await expect(w.health.memberAt(round, 0)).to.be.revertedWithCustomError(w.health, "InvalidParameter");
      await expect(w.health.enrolledAt(1)).to.be.revertedWithCustomError(w.health, "InvalidParameter");
      const record = await w.health.nodeOf(node.staker.address);
      expect(record.keyHash).to.equal(keyHash192(node.staker.address));
      expect(record.barredRound).to.equal(round);
      expect(record.weight).to.equal(weightOf(node.amount));
      const m = await w.health.membershipOf(node.staker.address);
      expect([m.position, m.activeFrom, m.leaveFrom]).to.deep.equal([0n, round + 1n, 0n]);
    });

    it("rejects a second enrollment and ineligible nodes", async () => {
      const w = await loadFixture(emptyWorld);
      await w.health.enroll(w.nodes[0].staker.address);
      await expect(w.health.enroll(w.nodes[0].staker.address))
        .to.be.revertedWithCustomError(w.health, "AlreadyEnrolled")
        .withArgs(w.nodes[0].staker.address);
      await expect(w.health.enroll(w.outsider.address))
        .to.be.revertedWithCustomError(w.health, "NotEligible")
        .withArgs(w.outsider.address);
      // Staked and bonded but not registered.
      const [staker, operator] = [w.core.accounts[14], w.core.accounts[15]];
      const amount = w.core.params.minStake;
      await w.core.token.transfer(staker.address, amount);
      await w.core.token.connect(staker).approve(w.core.escrowAddress, amount);
      await w.core.escrow.connect(staker).deposit(amount, 52);
      await w.core.escrow.connect(staker).bondOperator(operator.address);
      await expect(w.health.enroll(staker.address)).to.be.revertedWithCustomError(w.health, "NotEligible");
    });

    it("evicts only ineligible nodes, by swap-and-pop in the next rounds' layout", async () => {
      const w = await loadFixture(world6);
      const [a, b] = [w.nodes[0], w.nodes[1]];
      const all = w.nodes.map((n) => n.staker.address);
      await expect(w.health.evict(a.staker.address))
        .to.be.revertedWithCustomError(w.health, "StillEligible")
        .withArgs(a.staker.address);
      await expect(w.health.evict(w.outsider.address))
        .to.be.revertedWithCustomError(w.health, "NotEnrolled")
        .withArgs(w.outsider.address);
      // Unbonding the operator unregisters the node (after the minimum bond time).
      await time.increase(w.core.params.minBondSeconds);
      await w.core.escrow.connect(b.staker).bondOperator(ethers.ZeroAddress);
      await w.core.escrow.connect(w.nodes[4].staker).bondOperator(ethers.ZeroAddress);
      await toUnfrozen(w.health);
      const round = await w.health.currentRound();
      await expect(w.health.connect(w.outsider).evict(b.staker.address))
        .to.emit(w.health, "Evicted")
        .withArgs(b.staker.address, round + 1n);
      expect(await w.health.enrolledCount()).to.equal(5n);
      // The last node moved into b's slot, for the next rounds only.
      expect(await w.health.enrolledAt(1)).to.equal(w.nodes[5].staker.address);
      expect((await w.health.membershipOf(w.nodes[5].staker.address)).position).to.equal(1n);
      expect((await w.health.nodeOf(b.staker.address)).weight).to.equal(0n);
      expect((await w.health.membershipOf(b.staker.address)).leaveFrom).to.equal(round + 1n);
      await expect(w.health.evict(b.staker.address)).to.be.revertedWithCustomError(w.health, "NotEnrolled");
      // Evicting the last element.
      await w.health.evict(w.nodes[4].staker.address);
      expect(await w.health.enrolledCount()).to.equal(4n);
      const layout = async (r: bigint) => {
        const out = [];
        for (let i = 0n; i < (await w.health.membersIn(r)); i++) out.push(await w.health.memberAt(r, i));
        return out;
      };
      expect(await layout(round + 1n)).to.deep.equal([0, 5, 2, 3].map((i) => all[i]));
      expect(await layout(round)).to.deep.equal(all);
      // A leaving node may not come back before its leave takes effect, then may.
      await rebondNode(w.core, b);
      await expect(w.health.enroll(b.staker.address))
        .to.be.revertedWithCustomError(w.health, "StillLeaving")
        .withArgs(b.staker.address, round + 1n);
      await toNextRound(w.health);
      await expect(w.health.enroll(b.staker.address)).to.emit(w.health, "Enrolled");
      expect(await layout(round + 1n)).to.deep.equal([0, 5, 2, 3].map((i) => all[i]));
      expect(await layout(round + 2n)).to.deep.equal([0, 5, 2, 3, 1].map((i) => all[i]));
    });

    it("rejects enroll and evict during the freeze window before a round", async () => {
      const w = await loadFixture(emptyWorld);
      const node = w.nodes[0];
      const staker = node.staker.address;
      await time.increase(w.core.params.minBondSeconds); // so that the operator can be unbonded below
      const nextStart = async () => (await w.health.roundInfo((await w.health.currentRound()) + 1n)).start;
      let start = await nextStart();
      await time.increaseTo(start - BigInt(TEST_CONFIG.freezeWindow));
      await expect(w.health.enroll(staker)).to.be.revertedWithCustomError(w.health, "EnrollmentFrozen");
      await time.increaseTo(start - 2n); // the next block is the last one of the round
      await expect(w.health.enroll(staker))
        .to.be.revertedWithCustomError(w.health, "EnrollmentFrozen")
        .withArgs((await w.health.currentRound()) + 1n);
      await w.health.enroll(staker); // the reverted transaction took the round's last second
      start = await nextStart();
      await time.increaseTo(start - 10n);
      await w.core.escrow.connect(node.staker).bondOperator(ethers.ZeroAddress);
      await expect(w.health.evict(staker)).to.be.revertedWithCustomError(w.health, "EnrollmentFrozen");
      await time.increaseTo(start);
      await expect(w.health.evict(staker)).to.emit(w.health, "Evicted");
    });
  });

  describe("openRound", () => {
    it("draws distinct eligible targets, a chained seed and the checker threshold", async () => {
      const w = await loadFixture(world6);
      const round = await toNextRound(w.health);
      const before = await w.health.lastSeed();
      const tx = await w.health.connect(w.outsider).openRound();
      const receipt = await tx.wait();
      // PREVRANDAO is the block header's mixHash field.
      const block = await ethers.provider.send("eth_getBlockByNumber", [ethers.toQuantity(receipt!.blockNumber), false]);
      const seed = ethers.keccak256(
        ethers.AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256", "uint32"], [before, block.mixHash, round]),
      );
      expect(await w.health.lastSeed()).to.equal(seed);
      const info = await w.health.roundInfo(round);
      expect(info.opened).to.equal(true);
      expect(info.seed).to.equal(BigInt(seed) >> 64n);
      expect(info.sampleSize).to.equal(3n);
      expect(new Set(info.targets).size).to.equal(3);
      expect(info.candidates).to.equal(3n);
      const { t, fraction } = expectedThreshold(3n, 1000n);
      expect([Number(info.threshold), Number(info.fraction)]).to.deep.equal([t, fraction]);
      await expect(tx)
        .to.emit(w.health, "RoundOpened")
        .withArgs(round, info.seed, info.threshold, info.fraction, 3n, [...info.targets]);
      for (const target of info.targets) {
        expect((await w.health.nodeOf(target)).barredRound).to.equal(round);
      }
      for (let i = 0; i < 3; i++) expect(await w.health.tallyOf(round, i)).to.deep.equal([0n, 0n]);
      expect(await w.health.tallyOf(round, 3)).to.deep.equal([0n, 0n]);
    });

    it("draws from the round's frozen layout: enrolling and evicting in the opening transaction changes nothing", async () => {
      // 9 staked nodes, 6 enrolled; the attacker holds 3 eligible unenrolled nodes and makes 2
      // enrolled ones ineligible, then enrolls, evicts and opens in ONE transaction — as someone
      // who can compute the seed of the opening block would, to pick n in keccak(seed, d) % n.
      const w = await loadFixture(world9Partial);
      const joiners = w.nodes.slice(6).map((n) => n.staker.address);
      const leavers = [w.nodes[1].staker.address, w.nodes[3].staker.address];
      await time.increase(w.core.params.minBondSeconds);
      for (const l of [1, 3]) await w.core.escrow.connect(w.nodes[l].staker).bondOperator(ethers.ZeroAddress);
      const round = await toNextRound(w.health);
      const layout: string[] = [];
      for (let i = 0n; i < (await w.health.membersIn(round)); i++) layout.push(await w.health.memberAt(round, i));
      expect(layout).to.deep.equal(w.nodes.slice(0, 6).map((n) => n.staker.address));
      const lastSeed = await w.health.lastSeed();

      const attacker = await ethers.deployContract("SameTxOpener");
      const tx = await attacker.enrollEvictAndOpen(w.healthAddress, joiners, leavers);
      const receipt = await tx.wait();
      await expect(tx).to.emit(w.health, "Enrolled").and.to.emit(w.health, "Evicted").and.to.emit(w.health, "RoundOpened");
      const block = await ethers.provider.send("eth_getBlockByNumber", [ethers.toQuantity(receipt!.blockNumber), false]);
      const info = await w.health.roundInfo(round);
      // The outcome is exactly the replay over the layout frozen before the transaction.
      expect([...info.targets]).to.deep.equal(replayDraw(lastSeed, BigInt(block.mixHash), round, layout, 3));
      expect(info.candidates).to.equal(BigInt(layout.length) - info.sampleSize);
      expect(await w.health.membersIn(round)).to.equal(6n);
      // The changes apply to the next round.
      expect(await w.health.membersIn(round + 1n)).to.equal(7n);
      const next: string[] = [];
      for (let i = 0n; i < 7n; i++) next.push(await w.health.memberAt(round + 1n, i));
      expect(new Set(next)).to.deep.equal(new Set([0, 2, 4, 5, 6, 7, 8].map((i) => w.nodes[i].staker.address)));
      // Newcomers cannot check in the round they joined; the evicted ones cannot check at all.
      for (const j of w.nodes.slice(6)) {
        await expect(w.health.connect(j.operator).commit(round, ethers.id("c"))).to.be.revertedWithCustomError(
          w.health,
          "KeyTooRecent",
        );
      }
    });

    it("property: the targets and threshold of a round do not depend on changes made in that round", async () => {
      const w = await loadFixture(world9Partial);
      const round = await toNextRound(w.health);
      const layout: string[] = [];
      for (let i = 0n; i < (await w.health.membersIn(round)); i++) layout.push(await w.health.memberAt(round, i));
      const lastSeed = await w.health.lastSeed();
      await fc.assert(
        fc.asyncProperty(fc.subarray([6, 7, 8]), fc.bigInt({ min: 1n, max: (1n << 256n) - 1n }), async (join, prevrandao) => {
          const snapshot = await takeSnapshot();
          try {
            for (const j of join) await w.health.enroll(w.nodes[j].staker.address);
            await ethers.provider.send("hardhat_setPrevRandao", [ethers.toBeHex(prevrandao, 32)]);
            await w.health.openRound();
            const info = await w.health.roundInfo(round);
            expect([...info.targets]).to.deep.equal(replayDraw(lastSeed, prevrandao, round, layout, 3));
            const { t, fraction } = expectedThreshold(BigInt(layout.length) - info.sampleSize, 6n); // max(c, 3 * quorum)
            expect([Number(info.threshold), Number(info.fraction)]).to.deep.equal([t, fraction]);
          } finally {
            await snapshot.restore();
          }
        }),
        { numRuns: 12 },
      );
    });

    it("keeps an ineligible member as a target (the draw never consults the escrow)", async () => {
      const w = await loadFixture(world3);
      await time.increase(w.core.params.minBondSeconds);
      await w.core.escrow.connect(w.nodes[0].staker).bondOperator(ethers.ZeroAddress);
      const round = await toNextRound(w.health);
      await expect(w.health.openRound()).not.to.emit(w.health, "Evicted");
      const info = await w.health.roundInfo(round);
      // N = 3, quorum 2: one target (the sweep starts at position 0), two checkers.
      expect([...info.targets]).to.deep.equal([w.nodes[0].staker.address]);
      expect(info.candidates).to.equal(2n);
      expect(await w.health.enrolledCount()).to.equal(3n);
    });

    it("opens nothing from an enrollment made in the same round (the round is void)", async () => {
      const w = await loadFixture(emptyWorld);
      const round = await toNextRound(w.health);
      for (const node of w.nodes.slice(0, 3)) await w.health.enroll(node.staker.address);
      await expect(w.health.openRound()).to.emit(w.health, "RoundVoid").withArgs(round, 0n, 2n);
      await toNextRound(w.health);
      await expect(w.health.openRound()).to.emit(w.health, "RoundOpened");
      expect((await w.health.roundInfo(round + 1n)).targets).to.deep.equal([w.nodes[0].staker.address]);
    });

    it("rejects a second opening, a late opening and an empty layout", async () => {
      const w = await loadFixture(world6);
      const round = await toNextRound(w.health);
      await w.health.openRound();
      await expect(w.health.openRound()).to.be.revertedWithCustomError(w.health, "RoundAlreadyOpen").withArgs(round);
      const next = await toNextRound(w.health, TEST_CONFIG.openWindow);
      await expect(w.health.openRound()).to.be.revertedWithCustomError(w.health, "OpenWindowClosed").withArgs(next);

      const e = await loadFixture(emptyWorld);
      await toNextRound(e.health);
      await expect(e.health.openRound()).to.emit(e.health, "RoundVoid");
    });
  });

  describe("commit", () => {
    it("records a selected checker's commitment", async () => {
      const w = await loadFixture(world6);
      const { round, votes } = await openWithVotes(w, () => 0n);
      const v = votes[0];
      const c = commitmentOf(w.healthAddress, round, v.node.staker.address, v.verdicts, v.salt);
      expect(await w.health.commitmentOf(round, v.node.staker.address, v.verdicts, v.salt)).to.equal(c);
      const weight = weightOf(v.node.amount);
      await expect(w.health.connect(v.node.operator).commit(round, c))
        .to.emit(w.health, "Committed")
        .withArgs(round, v.node.staker.address, c, weight);
      const ballot = await w.health.ballotOf(round, v.node.staker.address);
      expect([ballot.committed, ballot.revealed, ballot.claimed, ballot.punished]).to.deep.equal([true, false, false, false]);
      expect(ballot.weight).to.equal(weight);
      await expect(w.health.connect(v.node.operator).commit(round, c))
        .to.be.revertedWithCustomError(w.health, "AlreadyCommitted")
        .withArgs(v.node.staker.address);
    });

    it("rejects commits outside the commit window or before the round is opened", async () => {
      const w = await loadFixture(world6);
      const checker = w.nodes[0];
      const c = ethers.id("c");
      const round = await toNextRound(w.health);
      await expect(w.health.connect(checker.operator).commit(round, c))
        .to.be.revertedWithCustomError(w.health, "RoundNotOpen")
        .withArgs(round);
      await expect(w.health.connect(checker.operator).commit(round + 1n, c))
        .to.be.revertedWithCustomError(w.health, "NotInCommitWindow")
        .withArgs(round + 1n);
      await expect(w.health.connect(checker.operator).commit(0, c))
        .to.be.revertedWithCustomError(w.health, "NotInCommitWindow")
        .withArgs(0);
      await w.health.openRound();
      await toReveal(w.health, round);
      await expect(w.health.connect(checker.operator).commit(round, c))
        .to.be.revertedWithCustomError(w.health, "NotInCommitWindow")
        .withArgs(round);
    });

    it("rejects non-operators, unenrolled nodes, targets and empty commitments", async () => {
      const w = await loadFixture(emptyWorld);
      for (const node of w.nodes.slice(0, 3)) await w.health.enroll(node.staker.address);
      await time.increase(2 * (TEST_CONFIG.commitDuration + TEST_CONFIG.revealDuration));
      const { round, targets } = await openNextRound(w.health);
      const c = ethers.id("c");
      await expect(w.health.connect(w.outsider).commit(round, c))
        .to.be.revertedWithCustomError(w.health, "NotAnOperator")
        .withArgs(w.outsider.address);
      // A staker's own (cold) address is not an operator either.
      await expect(w.health.connect(w.nodes[0].staker).commit(round, c)).to.be.revertedWithCustomError(
        w.health,
        "NotAnOperator",
      );
      await expect(w.health.connect(w.nodes[3].operator).commit(round, c))
        .to.be.revertedWithCustomError(w.health, "NotEnrolled")
        .withArgs(w.nodes[3].staker.address);
      const target = nodeByStaker(w, targets[0]);
      await expect(w.health.connect(target.operator).commit(round, c))
        .to.be.revertedWithCustomError(w.health, "TargetCannotCheck")
        .withArgs(target.staker.address);
      expect((await w.health.isChecker(round, target.staker.address)).selected).to.equal(false);

      const w6 = await loadFixture(world6);
      const opened = await openWithVotes(w6, () => 0n);
      const op = opened.votes[0].node.operator;
      await expect(w6.health.connect(op).commit(opened.round, ethers.ZeroHash)).to.be.revertedWithCustomError(
        w6.health,
        "EmptyCommitment",
      );
      // Only the low 192 bits are stored: a commitment with none set is empty too.
      await expect(w6.health.connect(op).commit(opened.round, ethers.toBeHex(1n << 200n, 32))).to.be.revertedWithCustomError(
        w6.health,
        "EmptyCommitment",
      );
    });

    it("bars a node enrolled in the current round", async () => {
      const w = await loadFixture(emptyWorld);
      await w.health.enroll(w.nodes[0].staker.address);
      await w.health.enroll(w.nodes[1].staker.address);
      await w.health.enroll(w.nodes[2].staker.address);
      const round = await toNextRound(w.health);
      await w.health.openRound();
      await w.health.enroll(w.nodes[3].staker.address);
      await expect(w.health.connect(w.nodes[3].operator).commit(round, ethers.id("c")))
        .to.be.revertedWithCustomError(w.health, "KeyTooRecent")
        .withArgs(w.nodes[3].staker.address, round);
    });

    it("lets exactly the self-selected nodes commit when few checkers are wanted", async () => {
      const w = await loadFixture(fewChecker);
      let sawRejected = false;
      let sawAccepted = false;
      for (let attempt = 0; attempt < 12 && !(sawRejected && sawAccepted); attempt++) {
        const { round, targets } = await openNextRound(w.health);
        const info = await w.health.roundInfo(round);
        const { t, fraction } = expectedThreshold(8n, 6n); // max(expectedCheckers, 3 * quorum)
        expect([Number(info.threshold), Number(info.fraction)]).to.deep.equal([t, fraction]);
        for (const node of checkersOf(w, targets)) {
          const expected = isSelectedRef(keyHash192(node.staker.address), info.seed, t, fraction);
          const view = await w.health.isChecker(round, node.staker.address);
          expect(view.selected).to.equal(expected);
          const c = commitmentOf(w.healthAddress, round, node.staker.address, 0n, randomSalt());
          if (expected) {
            await w.health.connect(node.operator).commit(round, c);
            sawAccepted = true;
          } else {
            await expect(w.health.connect(node.operator).commit(round, c))
              .to.be.revertedWithCustomError(w.health, "NotSelected")
              .withArgs(node.staker.address, view.distance, info.threshold);
            sawRejected = true;
          }
        }
      }
      expect(sawRejected).to.equal(true);
      expect(sawAccepted).to.equal(true);
    });
  });

  describe("reveal", () => {
    it("tallies stake-weighted verdicts", async () => {
      const w = await loadFixture(world6);
      const { round, votes } = await openWithVotes(w, (i) => [0b101n, 0b001n, 0b000n][i]);
      for (const v of votes) await commitVote(w, round, v);
      await toReveal(w.health, round);
      const weight = weightOf(votes[0].node.amount);
      await expect(w.health.connect(votes[0].node.operator).reveal(round, votes[0].verdicts, votes[0].salt, await contactsFor(w, round, votes[0].node.staker.address, votes[0].verdicts)))
        .to.emit(w.health, "Revealed")
        .withArgs(round, votes[0].node.staker.address, 0b101n, weight);
      await revealVote(w, round, votes[1]);
      const info = await w.health.roundInfo(round);
      expect(info.revealers).to.equal(2n);
      expect(info.revealedWeight).to.equal(2n * weight);
      expect(await w.health.tallyOf(round, 0)).to.deep.equal([2n * weight, 0n]);
      expect(await w.health.tallyOf(round, 1)).to.deep.equal([0n, 2n * weight]);
      expect(await w.health.tallyOf(round, 2)).to.deep.equal([weight, weight]);
      const ballot = await w.health.ballotOf(round, votes[0].node.staker.address);
      expect([ballot.revealed, ballot.verdicts, ballot.weight]).to.deep.equal([true, 0b101n, weight]);
    });

    it("rejects reveals outside the window, without or with a wrong commitment, twice, or with bad verdicts", async () => {
      const w = await loadFixture(world6);
      const { round, votes } = await openWithVotes(w, () => 0b010n);
      const [v, other, bad] = votes;
      await commitVote(w, round, v);
      await expect(w.health.connect(v.node.operator).reveal(round, v.verdicts, v.salt, await contactsFor(w, round, v.node.staker.address, v.verdicts)))
        .to.be.revertedWithCustomError(w.health, "NotInRevealWindow")
        .withArgs(round);
      const badVerdicts = 1n << 3n; // target index 3 does not exist (sample of 3)
      await commitVote(w, round, { ...bad, verdicts: badVerdicts });
      await toReveal(w.health, round);
      await expect(w.health.connect(w.outsider).reveal(round, 0n, v.salt, "0x")).to.be.revertedWithCustomError(
        w.health,
        "NotAnOperator",
      );
      await expect(w.health.connect(other.node.operator).reveal(round, other.verdicts, other.salt, await contactsFor(w, round, other.node.staker.address, other.verdicts)))
        .to.be.revertedWithCustomError(w.health, "NoCommitment")
        .withArgs(other.node.staker.address);
      await expect(w.health.connect(v.node.operator).reveal(round, v.verdicts, randomSalt(), await contactsFor(w, round, v.node.staker.address, v.verdicts)))
        .to.be.revertedWithCustomError(w.health, "CommitmentMismatch")
        .withArgs(v.node.staker.address);
      await expect(w.health.connect(v.node.operator).reveal(round, 0b011n, v.salt, await contactsFor(w, round, v.node.staker.address, 0b011n))).to.be.revertedWithCustomError(
        w.health,
        "CommitmentMismatch",
      );
      await expect(w.health.connect(bad.node.operator).reveal(round, badVerdicts, bad.salt, await contactsFor(w, round, bad.node.staker.address, badVerdicts)))
        .to.be.revertedWithCustomError(w.health, "InvalidVerdicts")
        .withArgs(badVerdicts);
      await revealVote(w, round, v);
      await expect(w.health.connect(v.node.operator).reveal(round, v.verdicts, v.salt, await contactsFor(w, round, v.node.staker.address, v.verdicts)))
        .to.be.revertedWithCustomError(w.health, "AlreadyRevealed")
        .withArgs(v.node.staker.address);
      await toRevealEnd(w.health, round);
      await expect(w.health.connect(v.node.operator).reveal(round, v.verdicts, v.salt, await contactsFor(w, round, v.node.staker.address, v.verdicts))).to.be.revertedWithCustomError(
        w.health,
        "NotInRevealWindow",
      );
    });

    it("fixes the weight at commit: a top-up after commit does not count", async () => {
      const w = await loadFixture(world6);
      const { round, votes } = await openWithVotes(w, (i) => (i === 0 ? 0b001n : 0n));
      for (const v of votes) await commitVote(w, round, v);
      const weight = weightOf(votes[0].node.amount);
      await toReveal(w.health, round);
      // Two checkers reveal "healthy"; the third sees them and quadruples its stake before revealing.
      await revealVote(w, round, votes[1]);
      await revealVote(w, round, votes[2]);
      const topUp = votes[0].node.amount * 3n;
      await w.core.token.transfer(votes[0].node.staker.address, topUp);
      await w.core.token.connect(votes[0].node.staker).approve(w.core.escrowAddress, topUp);
      await w.core.escrow.connect(votes[0].node.staker).increase(topUp);
      expect(await w.core.escrow.lockedThrough(votes[0].node.staker.address, await w.core.escrow.currentPeriod())).to.equal(
        votes[0].node.amount * 4n,
      );
      await expect(w.health.connect(votes[0].node.operator).reveal(round, votes[0].verdicts, votes[0].salt, await contactsFor(w, round, votes[0].node.staker.address, votes[0].verdicts)))
        .to.emit(w.health, "Revealed")
        .withArgs(round, votes[0].node.staker.address, 0b001n, weight);
      expect(await w.health.tallyOf(round, 0)).to.deep.equal([weight, 2n * weight]);
      await toRevealEnd(w.health, round);
      await w.health.finalize(round);
      expect((await w.health.roundInfo(round)).unhealthyMask).to.equal(0n);
    });

    it("caps the weight at reveal by the stake still locked when votes are counted", async () => {
      // Rounds of 6000 s do not divide a week, so successive period boundaries fall at
      // different offsets within a round; pick one inside a round's reveal window.
      const w = await loadFixture(shortLocks);
      const period = BigInt(w.core.params.secondsPerPeriod);
      const genesis = await w.health.genesis();
      const length = 6000n;
      let boundary = (BigInt(await w.core.escrow.currentPeriod()) + 1n) * period;
      let round = (boundary - genesis) / length + 1n;
      let info = await w.health.roundInfo(round);
      while (boundary - info.commitEnd < 60n || info.revealEnd - boundary < 60n) {
        boundary += period;
        round = (boundary - genesis) / length + 1n;
        info = await w.health.roundInfo(round);
      }
      await time.increaseTo(info.start);
      await w.health.openRound();
      const targets = [...(await w.health.roundInfo(round)).targets];
      const [unlocking, rolling] = checkersOf(w, targets);
      await w.core.escrow.connect(rolling.staker).prolong(1); // lock 2: locked through the next period too
      // Lock 1 and unlocking: locked through the current period only, which ends mid-reveal.
      await w.core.escrow.connect(unlocking.staker).startUnlock();
      const votes = [unlocking, rolling].map((node) => ({ node, verdicts: 0n, salt: randomSalt() }));
      for (const v of votes) await commitVote(w, round, v);
      // Both ballots carry the recorded weight...
      expect((await w.health.ballotOf(round, unlocking.staker.address)).weight).to.equal(weightOf(unlocking.amount));
      await toReveal(w.health, round);
      // ...but the unlocking stake is gone by the time votes count: it cannot reveal (and so is punishable).
      await expect(w.health.connect(unlocking.operator).reveal(round, 0n, votes[0].salt, await contactsFor(w, round, unlocking.staker.address, 0n)))
        .to.be.revertedWithCustomError(w.health, "NoStake")
        .withArgs(unlocking.staker.address);
      await expect(w.health.connect(rolling.operator).reveal(round, 0n, votes[1].salt, await contactsFor(w, round, rolling.staker.address, 0n)))
        .to.emit(w.health, "Revealed")
        .withArgs(round, rolling.staker.address, 0n, weightOf(rolling.amount));
    });

    it("records a new weight only on the node's request, from the next round on", async () => {
      const w = await loadFixture(world6);
      const node = w.nodes[0];
      const staker = node.staker.address;
      await expect(w.health.connect(w.outsider).refreshWeight(staker))
        .to.be.revertedWithCustomError(w.health, "NotAnOperator")
        .withArgs(w.outsider.address);
      await expect(w.health.connect(node.operator).refreshWeight(staker))
        .to.be.revertedWithCustomError(w.health, "WeightUnchanged")
        .withArgs(staker);
      const topUp = node.amount;
      await w.core.token.transfer(staker, topUp);
      await w.core.token.connect(node.staker).approve(w.core.escrowAddress, topUp);
      await w.core.escrow.connect(node.staker).increase(topUp);
      const { round, targets } = await openNextRound(w.health);
      // Not yet recorded: a commit now still weighs the old stake.
      expect((await w.health.nodeOf(staker)).weight).to.equal(weightOf(node.amount));
      await expect(w.health.connect(node.staker).refreshWeight(staker))
        .to.emit(w.health, "WeightRecorded")
        .withArgs(staker, weightOf(node.amount * 2n), round + 1n);
      expect((await w.health.nodeOf(staker)).weight).to.equal(weightOf(node.amount * 2n));
      if (!targets.includes(staker)) {
        await expect(
          w.health.connect(node.operator).commit(round, commitmentOf(w.healthAddress, round, staker, 0n, randomSalt())),
        )
          .to.be.revertedWithCustomError(w.health, "KeyTooRecent")
          .withArgs(staker, round);
      }
      const next = await openNextRound(w.health);
      if (!next.targets.includes(staker)) {
        const vote = { node, verdicts: 0n, salt: randomSalt() };
        await commitVote(w, next.round, vote);
        expect((await w.health.ballotOf(next.round, staker)).weight).to.equal(weightOf(node.amount * 2n));
      }
      await expect(w.health.refreshWeight(w.outsider.address)).to.be.revertedWithCustomError(w.health, "NotAnOperator");
    });
  });

  describe("finalize", () => {
    it("forfeits an unhealthy target's accrued rewards and leaves healthy ones untouched", async () => {
      const w = await loadFixture(world6);
      // Target 0 judged unhealthy by all; target 1 by one of three; target 2 healthy.
      const { round, targets, votes } = await openWithVotes(w, (i) => (i === 0 ? 0b011n : 0b001n));
      for (const v of votes) await commitVote(w, round, v);
      await toReveal(w.health, round);
      for (const v of votes) await revealVote(w, round, v);
      await toRevealEnd(w.health, round);
      const pending = await Promise.all(targets.map((t) => w.core.escrow.pendingRewards(t)));
      expect(pending[0]).to.be.greaterThan(0n);
      const tx = w.health.connect(w.outsider).finalize(round);
      const weight = weightOf(votes[0].node.amount);
      await expect(tx)
        .to.emit(w.health, "TargetJudged")
        .withArgs(round, targets[0], false, pending[0])
        .and.to.emit(w.health, "TargetJudged")
        .withArgs(round, targets[1], true, 0n)
        .and.to.emit(w.health, "TargetJudged")
        .withArgs(round, targets[2], true, 0n)
        .and.to.emit(w.core.escrow, "RewardsForfeited")
        .withArgs(targets[0], pending[0]);
      // Majorities: target 0 unhealthy (3w, unpaid), target 1 healthy (2w), target 2 healthy (3w): 5w
      // voted healthy; two of three slices of the round's reward are set aside.
      const budget = (TEST_CONFIG.rewardPerRound * 2n) / 3n;
      await expect(tx)
        .to.emit(w.health, "RoundFinalized")
        .withArgs(round, 0b111n, 0b001n, 5n * weight, budget);
      expect(await w.core.escrow.pendingRewards(targets[0])).to.equal(0n);
      expect(await w.core.escrow.pendingRewards(targets[1])).to.equal(pending[1]);
      expect(await w.core.escrow.pendingRewards(targets[2])).to.equal(pending[2]);
      const info = await w.health.roundInfo(round);
      expect([info.finalized, info.decidedMask, info.unhealthyMask, info.majorityWeight, info.budget]).to.deep.equal([
        true,
        0b111n,
        0b001n,
        5n * weight,
        budget,
      ]);
      expect(await w.health.pool()).to.equal(w.funded - budget);
      await expect(w.health.finalize(round)).to.be.revertedWithCustomError(w.health, "AlreadyFinalized").withArgs(round);
    });

    it("keeps a target with tied weights healthy", async () => {
      const w = await loadFixture(world7);
      // Four equal-stake checkers: two say target 0 is unhealthy, two say it is healthy.
      const { round, targets, votes } = await openWithVotes(w, (i) => (i < 2 ? 0b001n : 0b000n));
      expect(votes.length).to.equal(4);
      for (const v of votes) await commitVote(w, round, v);
      await toReveal(w.health, round);
      for (const v of votes) await revealVote(w, round, v);
      const weight = weightOf(votes[0].node.amount);
      expect(await w.health.tallyOf(round, 0)).to.deep.equal([2n * weight, 2n * weight]);
      await toRevealEnd(w.health, round);
      await expect(w.health.finalize(round)).to.emit(w.health, "TargetJudged").withArgs(round, targets[0], true, 0n);
      expect((await w.health.roundInfo(round)).unhealthyMask).to.equal(0n);
    });

    it("weighs votes by stake, not by head count", async () => {
      const w = await loadFixture(weighted);
      const big = w.nodes[5]; // 900k tokens, more than any four others together
      for (const bigSaysUnhealthy of [true, false]) {
        let opened = await openWithVotes(w, () => 0n);
        while (opened.targets.includes(big.staker.address)) opened = await openWithVotes(w, () => 0n);
        const { round, votes } = opened;
        expect(votes.length).to.equal(5);
        for (const v of votes) v.verdicts = (v.node === big) === bigSaysUnhealthy ? 1n : 0n;
        for (const v of votes) await commitVote(w, round, v);
        await toReveal(w.health, round);
        for (const v of votes) await revealVote(w, round, v);
        await toRevealEnd(w.health, round);
        await w.health.finalize(round);
        // One voter against four, and the one wins.
        expect((await w.health.roundInfo(round)).unhealthyMask).to.equal(bigSaysUnhealthy ? 1n : 0n);
      }
    });

    it("judges nobody without quorum, and nobody is paid", async () => {
      const w = await loadFixture(world8Quorum2);
      const { round, targets, votes } = await openWithVotes(w, () => 0b111n);
      for (const v of votes.slice(0, 2)) await commitVote(w, round, v);
      await toReveal(w.health, round);
      await revealVote(w, round, votes[0]); // the second committer never reveals
      await toRevealEnd(w.health, round);
      const pending = await w.core.escrow.pendingRewards(targets[0]);
      await expect(w.health.finalize(round))
        .to.emit(w.health, "RoundFinalized")
        .withArgs(round, 0n, 0n, 0n, 0n)
        .and.not.to.emit(w.health, "TargetJudged");
      expect(await w.core.escrow.pendingRewards(targets[0])).to.equal(pending);
      expect(await w.health.pool()).to.equal(w.funded);
      await expect(w.health.claimReward(round, votes[0].node.staker.address))
        .to.be.revertedWithCustomError(w.health, "NothingToClaim")
        .withArgs(votes[0].node.staker.address);
      expect(await w.health.claimable(round, votes[0].node.staker.address)).to.equal(0n);
    });

    it("rejects finalizing an unopened round or before the reveal window ends", async () => {
      const w = await loadFixture(world6);
      await expect(w.health.finalize(1)).to.be.revertedWithCustomError(w.health, "RoundNotOpen").withArgs(1);
      const { round } = await openNextRound(w.health);
      await toReveal(w.health, round);
      await expect(w.health.finalize(round)).to.be.revertedWithCustomError(w.health, "RevealNotOver").withArgs(round);
    });

    it("cannot forfeit without the escrow's forfeiter role", async () => {
      const w = await loadFixture(world6);
      const { round, votes } = await openWithVotes(w, () => 0b001n);
      for (const v of votes) await commitVote(w, round, v);
      await toReveal(w.health, round);
      for (const v of votes) await revealVote(w, round, v);
      await toRevealEnd(w.health, round);
      await w.core.escrow.revokeRole(await w.core.escrow.REWARD_FORFEITER_ROLE(), w.healthAddress);
      await expect(w.health.finalize(round)).to.be.revertedWithCustomError(
        w.core.escrow,
        "AccessControlUnauthorizedAccount",
      );
    });

    it("caps the checker budget by the pool", async () => {
      const w = await loadFixture(smallPool);
      const { round, votes } = await openWithVotes(w, () => 0n);
      for (const v of votes) await commitVote(w, round, v);
      await toReveal(w.health, round);
      for (const v of votes) await revealVote(w, round, v);
      await toRevealEnd(w.health, round);
      await w.health.finalize(round);
      expect((await w.health.roundInfo(round)).budget).to.equal(10n * TOKEN);
      expect(await w.health.pool()).to.equal(0n);
    });
  });

  describe("rewards", () => {
    async function finalizedRound(w: HealthWorld, verdicts: (i: number) => bigint, reveal = (_: number) => true) {
      const opened = await openWithVotes(w, verdicts);
      for (const v of opened.votes) await commitVote(w, opened.round, v);
      await toReveal(w.health, opened.round);
      for (const [i, v] of opened.votes.entries()) if (reveal(i)) await revealVote(w, opened.round, v);
      await toRevealEnd(w.health, opened.round);
      await w.health.finalize(opened.round);
      return opened;
    }

    it("pays each healthy target's slice to the checkers that proved it, by weight; unhealthy votes, minority and non-revealers earn nothing", async () => {
      const w = await loadFixture(world8Quorum2);
      // 5 checkers: #0,#1,#2 say target 0 unhealthy; #3 says all healthy; #4 commits but never reveals.
      const { round, votes } = await finalizedRound(w, (i) => (i < 3 ? 0b001n : 0n), (i) => i !== 4);
      const weight = weightOf(votes[0].node.amount);
      // Only healthy agreements are paid (an unhealthy vote carries no evidence): targets 1 and 2
      // were judged healthy, each by 4w; each has a slice of reward / sampleSize.
      const info = await w.health.roundInfo(round);
      const slice = info.budget / 2n;
      expect(slice).to.equal(TEST_CONFIG.rewardPerRound / BigInt(info.sampleSize));
      const share = (agreements: bigint) => agreements * ((slice * weight) / (4n * weight));
      for (const [i, v] of votes.entries()) {
        const expected = i < 4 ? share(2n) : 0n;
        expect(await w.health.claimable(round, v.node.staker.address)).to.equal(expected);
      }
      const staker = votes[0].node.staker.address;
      const before = await w.core.token.balanceOf(staker);
      await expect(w.health.connect(w.outsider).claimReward(round, staker))
        .to.emit(w.health, "RewardClaimed")
        .withArgs(round, staker, share(2n));
      expect((await w.core.token.balanceOf(staker)) - before).to.equal(share(2n));
      expect((await w.health.ballotOf(round, staker)).claimed).to.equal(true);
      expect(await w.health.claimable(round, staker)).to.equal(0n);
      await expect(w.health.claimReward(round, staker))
        .to.be.revertedWithCustomError(w.health, "AlreadyClaimed")
        .withArgs(staker);
      await expect(w.health.claimReward(round, votes[4].node.staker.address))
        .to.be.revertedWithCustomError(w.health, "NotRevealed")
        .withArgs(votes[4].node.staker.address);
      await expect(w.health.claimReward(round, w.outsider.address)).to.be.revertedWithCustomError(
        w.health,
        "NotRevealed",
      );
      await w.health.claimReward(round, votes[3].node.staker.address);
      expect((await w.health.roundInfo(round)).claimed).to.equal(share(2n) + share(2n));
    });

    it("a checker in the minority on every target gets nothing", async () => {
      const w = await loadFixture(world6);
      const { round, votes } = await finalizedRound(w, (i) => (i === 0 ? 0b111n : 0n));
      await expect(w.health.claimReward(round, votes[0].node.staker.address))
        .to.be.revertedWithCustomError(w.health, "NothingToClaim")
        .withArgs(votes[0].node.staker.address);
    });

    it("claims close with the claim window; sweep returns the rest to the pool once", async () => {
      const w = await loadFixture(world6);
      const { round, votes } = await finalizedRound(w, () => 0n);
      await expect(w.health.sweep(round)).to.be.revertedWithCustomError(w.health, "ClaimWindowOpen").withArgs(round);
      await w.health.claimReward(round, votes[0].node.staker.address);
      const claimed = (await w.health.roundInfo(round)).claimed;
      await toClaimEnd(w.health, round);
      expect(await w.health.claimable(round, votes[1].node.staker.address)).to.equal(0n);
      await expect(w.health.claimReward(round, votes[1].node.staker.address))
        .to.be.revertedWithCustomError(w.health, "ClaimWindowClosed")
        .withArgs(round);
      const poolBefore = await w.health.pool();
      await expect(w.health.connect(w.outsider).sweep(round))
        .to.emit(w.health, "RoundSwept")
        .withArgs(round, TEST_CONFIG.rewardPerRound - claimed);
      expect(await w.health.pool()).to.equal(poolBefore + TEST_CONFIG.rewardPerRound - claimed);
      expect((await w.health.roundInfo(round)).swept).to.equal(true);
      await expect(w.health.sweep(round)).to.be.revertedWithCustomError(w.health, "AlreadySwept").withArgs(round);
      await expect(w.health.claimReward(round, votes[1].node.staker.address)).to.be.revertedWithCustomError(
        w.health,
        "ClaimWindowClosed",
      );
    });

    it("rejects claims and sweeps of unfinalized rounds", async () => {
      const w = await loadFixture(world6);
      const { round } = await openNextRound(w.health);
      await expect(w.health.claimReward(round, w.nodes[0].staker.address))
        .to.be.revertedWithCustomError(w.health, "NotFinalized")
        .withArgs(round);
      await expect(w.health.sweep(round)).to.be.revertedWithCustomError(w.health, "NotFinalized").withArgs(round);
    });

    it("fund moves tokens into the pool; zero is rejected", async () => {
      const w = await loadFixture(world6);
      await expect(w.health.fund(0)).to.be.revertedWithCustomError(w.health, "ZeroAmount");
      await w.core.token.approve(w.healthAddress, 5n * TOKEN);
      await expect(w.health.fund(5n * TOKEN))
        .to.emit(w.health, "PoolFunded")
        .withArgs(w.core.deployer.address, 5n * TOKEN);
      expect(await w.health.pool()).to.equal(w.funded + 5n * TOKEN);
      expect(await w.core.token.balanceOf(w.healthAddress)).to.equal(w.funded + 5n * TOKEN);
      await expect(w.health.connect(w.outsider).fund(1n)).to.be.revertedWithCustomError(
        w.core.token,
        "ERC20InsufficientAllowance",
      );
    });
  });

  describe("non-revealers", () => {
    it("a checker that commits and withholds its reveal to starve the quorum forfeits its accrued rewards", async () => {
      const w = await loadFixture(world8Quorum2);
      const { round, targets, votes } = await openWithVotes(w, () => 0b111n);
      const [honest, withholder] = votes;
      for (const v of [honest, withholder]) await commitVote(w, round, v);
      await toReveal(w.health, round);
      await revealVote(w, round, honest);
      const staker = withholder.node.staker.address;
      await expect(w.health.punishNonRevealer(round, staker))
        .to.be.revertedWithCustomError(w.health, "RevealNotOver")
        .withArgs(round);
      await toRevealEnd(w.health, round);
      // Below quorum: nobody is judged...
      const targetPending = await w.core.escrow.pendingRewards(targets[0]);
      await expect(w.health.finalize(round)).to.emit(w.health, "RoundFinalized").withArgs(round, 0n, 0n, 0n, 0n);
      expect(await w.core.escrow.pendingRewards(targets[0])).to.equal(targetPending);
      // ...but withholding is not free: anyone may take the withholder's accrued rewards.
      const pending = await w.core.escrow.pendingRewards(staker);
      expect(pending).to.be.greaterThan(0n);
      const honestPending = await w.core.escrow.pendingRewards(honest.node.staker.address);
      const tx = w.health.connect(w.outsider).punishNonRevealer(round, staker);
      await expect(tx).to.emit(w.health, "NonRevealerPunished").withArgs(round, staker, pending);
      await expect(tx).to.emit(w.core.escrow, "RewardsForfeited").withArgs(staker, pending);
      expect(await w.core.escrow.pendingRewards(staker)).to.equal(0n);
      expect(await w.core.escrow.pendingRewards(honest.node.staker.address)).to.equal(honestPending);
      const ballot = await w.health.ballotOf(round, staker);
      expect([ballot.committed, ballot.revealed, ballot.punished]).to.deep.equal([true, false, true]);
      await expect(w.health.punishNonRevealer(round, staker))
        .to.be.revertedWithCustomError(w.health, "RevealedOrPunished")
        .withArgs(staker);
      await expect(w.health.punishNonRevealer(round, honest.node.staker.address))
        .to.be.revertedWithCustomError(w.health, "RevealedOrPunished")
        .withArgs(honest.node.staker.address);
      await expect(w.health.punishNonRevealer(round, votes[2].node.staker.address))
        .to.be.revertedWithCustomError(w.health, "NoCommitment")
        .withArgs(votes[2].node.staker.address);
      await expect(w.health.claimReward(round, staker)).to.be.revertedWithCustomError(w.health, "NotRevealed");
    });

    it("also reaches a non-revealer of a decided round, without touching the budget; the window closes with claims", async () => {
      const w = await loadFixture(world8Quorum2);
      const { round, votes } = await openWithVotes(w, () => 0n);
      for (const v of votes) await commitVote(w, round, v);
      await toReveal(w.health, round);
      for (const v of votes.slice(0, 3)) await revealVote(w, round, v);
      await toRevealEnd(w.health, round);
      await w.health.finalize(round);
      const budget = (await w.health.roundInfo(round)).budget;
      await w.health.punishNonRevealer(round, votes[3].node.staker.address);
      expect((await w.health.roundInfo(round)).budget).to.equal(budget);
      const weight = weightOf(votes[0].node.amount);
      expect(await w.health.claimable(round, votes[0].node.staker.address)).to.equal((budget * weight * 3n) / (9n * weight));
      await toClaimEnd(w.health, round);
      await expect(w.health.punishNonRevealer(round, votes[4].node.staker.address))
        .to.be.revertedWithCustomError(w.health, "PunishWindowClosed")
        .withArgs(round);
    });

    it("cannot punish without the escrow's forfeiter role", async () => {
      const w = await loadFixture(world6);
      const { round, votes } = await openWithVotes(w, () => 0n);
      await commitVote(w, round, votes[0]);
      await toRevealEnd(w.health, round);
      await w.core.escrow.revokeRole(await w.core.escrow.REWARD_FORFEITER_ROLE(), w.healthAddress);
      await expect(w.health.punishNonRevealer(round, votes[0].node.staker.address)).to.be.revertedWithCustomError(
        w.core.escrow,
        "AccessControlUnauthorizedAccount",
      );
      expect((await w.health.ballotOf(round, votes[0].node.staker.address)).punished).to.equal(false);
    });
  });
});
