// Issue #16, round semantics: with the deployment's defaults every network from quorum + 1 nodes
// up decides (targets and checkers adapt to N); smaller ones are explicitly void; a verdict needs
// `quorum` >= 2 distinct nodes; one stamp key can never serve two stakers (the 3-of-9 Sybil).
import { expect } from "chai";
import fc from "fast-check";
import { ethers } from "hardhat";
import { takeSnapshot } from "@nomicfoundation/hardhat-network-helpers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { HEALTH_DEFAULTS } from "../../deploy/health-defaults";
import {
  buildWorld,
  deployHealth,
  checkersOf,
  commitVote,
  openNextRound,
  randomSalt,
  revealVote,
  TEST_CONFIG,
  toReveal,
  toRevealEnd,
  toNextRound,
  type HealthConfig,
} from "./fixture";
import { deployCore, registerNode, stakeNode } from "../shared/core-fixture";

// The deployment's sizing with the fixture's short windows (only timing differs).
const DEFAULT_SIZING: Partial<HealthConfig> = {
  sampleSize: HEALTH_DEFAULTS.sampleSize,
  expectedCheckers: HEALTH_DEFAULTS.expectedCheckers,
  quorum: HEALTH_DEFAULTS.quorum,
};

describe("HealthCheck rounds at every network size (issue #16)", function () {
  this.timeout(300_000);

  it("requires a quorum of at least 2", async () => {
    const core = await deployCore();
    const factory = await ethers.getContractFactory("HealthCheck");
    for (const quorum of [0, 1]) {
      await expect(ethers.deployContract("HealthCheck", [core.escrowAddress, core.tokenAddress, { ...TEST_CONFIG, quorum }]))
        .to.be.revertedWithCustomError(factory, "InvalidParameter")
        .withArgs("quorum");
    }
  });

  for (let n = HEALTH_DEFAULTS.quorum + 1; n <= 9; n++) {
    it(`decides with the defaults at N = ${n}`, async () => {
      const w = await buildWorld({ nodes: n, config: { ...TEST_CONFIG, ...DEFAULT_SIZING } });
      const { round, targets } = await openNextRound(w.health);
      expect(targets.length).to.be.greaterThan(0);
      const checkers = [];
      for (const node of checkersOf(w, targets)) {
        const [selected] = await w.health.isChecker(round, node.staker.address);
        if (selected) checkers.push({ node, verdicts: 0n, salt: randomSalt() });
      }
      expect(checkers.length).to.be.at.least(HEALTH_DEFAULTS.quorum);
      for (const v of checkers) await commitVote(w, round, v);
      await toReveal(w.health, round);
      for (const v of checkers) await revealVote(w, round, v);
      await toRevealEnd(w.health, round);
      await (await w.health.finalize(round)).wait();
      const info = await w.health.roundInfo(round);
      expect(info.decidedMask).to.equal((1n << BigInt(targets.length)) - 1n);
      expect(info.voided).to.equal(false);
    });
  }

  it(`is explicitly void below quorum + 1 nodes (N = ${HEALTH_DEFAULTS.quorum})`, async () => {
    const w = await buildWorld({ nodes: HEALTH_DEFAULTS.quorum, config: { ...TEST_CONFIG, ...DEFAULT_SIZING } });
    const round = await toNextRound(w.health);
    await expect(w.health.openRound())
      .to.emit(w.health, "RoundVoid")
      .withArgs(round, HEALTH_DEFAULTS.quorum, HEALTH_DEFAULTS.quorum);
    const info = await w.health.roundInfo(round);
    expect(info.voided).to.equal(true);
    expect(info.opened).to.equal(false);
    await expect(w.health.openRound()).to.be.revertedWithCustomError(w.health, "RoundAlreadyOpen");
  });

  it("covers every member within ceil(N / sweep) opened rounds (the sweep), whatever the seeds", async () => {
    const w = await buildWorld({ nodes: 9, config: { ...TEST_CONFIG, ...DEFAULT_SIZING } });
    const seen = new Set<string>();
    // N = 9, quorum 2: k = min(32, 7, 4) = 4, all swept; 9 members in 3 rounds.
    for (let r = 0; r < 3; r++) for (const t of (await openNextRound(w.health)).targets) seen.add(t);
    expect(seen.size).to.equal(9);
  });

  it("keeps at least quorum candidates outside the sample", async () => {
    const w = await buildWorld({ nodes: 4, config: { ...TEST_CONFIG, sampleSize: 32, expectedCheckers: 3, quorum: 3 } });
    const { round, targets } = await openNextRound(w.health);
    expect(targets.length).to.equal(1);
    const info = await w.health.roundInfo(round);
    expect(info.candidates).to.equal(3n);
    // Every candidate checks when there are few of them, whatever expectedCheckers says.
    for (const node of checkersOf(w, targets)) expect((await w.health.isChecker(round, node.staker.address))[0]).to.equal(true);
  });
});

describe("HealthCheck round sizing (property, issue #16)", function () {
  this.timeout(600_000);

  it("void iff N <= quorum; otherwise >= 1 target, >= quorum candidates, all of them checkers when few", async () => {
    const w = await buildWorld({ nodes: 9, enroll: false, accruePeriods: 0 });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 0, max: 8 }),
        async (n, quorum, sampleSize, extraCheckers) => {
          const snapshot = await takeSnapshot();
          try {
            const config = { ...TEST_CONFIG, quorum, sampleSize, expectedCheckers: quorum + extraCheckers };
            const health = await deployHealth(w.core, config, 0n);
            for (const node of w.nodes.slice(0, n)) await health.enroll(node.staker.address);
            const round = await toNextRound(health);
            await health.openRound();
            const info = await health.roundInfo(round);
            if (n <= quorum) {
              expect(info.voided).to.equal(true);
              return;
            }
            expect(info.voided).to.equal(false);
            const k = Number(info.sampleSize);
            expect(k).to.equal(Math.min(sampleSize, n - quorum, Math.max(1, Math.floor(n / 2))));
            expect(new Set(info.targets).size).to.equal(k);
            expect(Number(info.candidates)).to.equal(n - k).and.to.be.at.least(quorum);
            if (n - k <= Math.max(config.expectedCheckers, 3 * quorum)) {
              for (const node of w.nodes.slice(0, n)) {
                if (info.targets.includes(node.staker.address)) continue;
                expect((await health.isChecker(round, node.staker.address)).selected).to.equal(true);
              }
            }
          } finally {
            await snapshot.restore();
          }
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe("StakingEscrow stamp keys are unique forever (issue #16, 3-of-9 Sybil)", function () {
  this.timeout(120_000);

  it("refuses a stamp key another staker registered, current or retired", async () => {
    const core = await deployCore();
    const secret = secp256k1.utils.randomSecretKey();
    const a = await stakeNode(core, core.accounts[2], core.accounts[3], { stampSecretKey: secret });
    // The Sybil: a second staker registers the same key.
    const b = await stakeNode(core, core.accounts[4], core.accounts[5]).catch((e: unknown) => e);
    expect(b).to.not.be.instanceOf(Error);
    await expect(registerNode(core, core.accounts[4].address, core.accounts[5], { stampSecretKey: secret }))
      .to.be.revertedWithCustomError(core.escrow, "StampKeyTaken")
      .withArgs(ethers.computeAddress(ethers.hexlify(a.verifyingKey)), core.accounts[2].address);
    // A retires the key by registering another one; the retired key stays A's for good.
    await registerNode(core, a.staker.address, a.operator);
    await expect(registerNode(core, core.accounts[4].address, core.accounts[5], { stampSecretKey: secret }))
      .to.be.revertedWithCustomError(core.escrow, "StampKeyTaken");
    expect(await core.escrow.stampKeyOwnerOf(ethers.computeAddress(ethers.hexlify(a.verifyingKey)))).to.equal(
      a.staker.address,
    );
  });
});
