import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { advancePeriods, deployCore, deployCoreFixture, keyProof, randomCompressedKey, registerNode, signPermit, stakeNode, type Core } from "../shared/core-fixture";
import { keyProofMessage } from "../../src/node/registration";
import { issuance, kappa104, openStake, topUp, TOKEN } from "./helpers";

const MIN = 15_000n * TOKEN;

async function fixture(): Promise<Core> {
  return deployCoreFixture();
}

describe("staking: StakingEscrow", () => {
  describe("constructor", () => {
    it("rejects invalid parameters", async () => {
      const { tokenAddress } = await loadFixture(fixture);
      const f = await ethers.getContractFactory("StakingEscrow");
      type Args = Parameters<typeof f.deploy>;
      const ok = [tokenAddress, 604800, MIN, 10n * MIN, 4, 0, 10n ** 15n, 2];
      const bad: Array<unknown[]> = [
        [ethers.ZeroAddress, ...ok.slice(1)],
        [tokenAddress, 0, ...ok.slice(2)],
        [tokenAddress, 604800, 10n ** 18n, ...ok.slice(3)], // minStake·52 below the issuance floor
        [tokenAddress, 604800, MIN, MIN - 1n, ...ok.slice(4)],
        [tokenAddress, 604800, MIN, 10n * MIN, 0, 0, 10n ** 15n, 2],
        [tokenAddress, 604800, MIN, 10n * MIN, 4, 0, 10n ** 18n, 2],
        [tokenAddress, 604800, MIN, 10n * MIN, 4, 0, 10n ** 15n, 0], // no slashing grace
      ];
      for (const args of bad) await expect(f.deploy(...(args as Args))).to.be.revertedWithCustomError(f, "InvalidParameters");
    });
  });

  describe("deposit", () => {
    it("opens a rolling stake, emits, counts in totals and weight", async () => {
      const core = await loadFixture(fixture);
      const [a] = core.accounts;
      await core.token.transfer(a.address, MIN * 2n);
      await core.token.connect(a).approve(core.escrowAddress, MIN * 2n);
      await expect(core.escrow.connect(a).deposit(MIN * 2n, 26))
        .to.emit(core.escrow, "Deposited").withArgs(a.address, MIN * 2n, 26);
      const info = await core.escrow.stakeOf(a.address);
      expect(info.amount).to.equal(MIN * 2n);
      expect(info.lockPeriods).to.equal(26n);
      expect(info.unlockPeriod).to.equal(0n);
      expect(info.weight).to.equal(MIN * 2n * 78n); // 26 weeks → 52 + 26
      expect(await core.escrow.totalWeight()).to.equal(MIN * 2n * 78n);
      expect(await core.escrow.totalLocked()).to.equal(MIN * 2n);
      expect(await core.token.balanceOf(core.escrowAddress)).to.equal(MIN * 2n);
      const period = await core.escrow.currentPeriod();
      expect(await core.escrow.lockedThrough(a.address, period + 25n)).to.equal(MIN * 2n);
      expect(await core.escrow.lockedThrough(a.address, period + 26n)).to.equal(0n);
    });

    it("rejects bad amounts, locks, a second deposit, operators, and missing allowance", async () => {
      const core = await loadFixture(fixture);
      const { escrow } = core;
      const [a, op] = core.accounts;
      await core.token.transfer(a.address, 40_000_000n * TOKEN);
      await core.token.connect(a).approve(core.escrowAddress, 40_000_000n * TOKEN);
      await expect(escrow.connect(a).deposit(MIN - 1n, 4)).to.be.revertedWithCustomError(escrow, "StakeBelowMinimum").withArgs(MIN - 1n, MIN);
      const max = core.params.maxStake;
      await expect(escrow.connect(a).deposit(max + 1n, 4)).to.be.revertedWithCustomError(escrow, "StakeAboveMaximum").withArgs(max + 1n, max);
      await expect(escrow.connect(a).deposit(MIN, 3)).to.be.revertedWithCustomError(escrow, "LockTooShort").withArgs(3, 4);
      await expect(escrow.connect(a).deposit(MIN, 65536)).to.be.revertedWithCustomError(escrow, "LockTooLong").withArgs(65536, 65535);
      await expect(escrow.connect(op).deposit(MIN, 4)).to.be.revertedWithCustomError(core.token, "ERC20InsufficientAllowance");
      await escrow.connect(a).deposit(MIN, 4);
      await expect(escrow.connect(a).deposit(MIN, 4)).to.be.revertedWithCustomError(escrow, "AlreadyStaking").withArgs(a.address);
      await escrow.connect(a).bondOperator(op.address);
      await registerNode(core, a.address, op);
      await core.token.transfer(op.address, MIN);
      await core.token.connect(op).approve(core.escrowAddress, MIN);
      await expect(escrow.connect(op).deposit(MIN, 4)).to.be.revertedWithCustomError(escrow, "OperatorCannotStake").withArgs(op.address);
    });

    it("works with a permit, also when the permit was already used by someone else", async () => {
      const core = await loadFixture(fixture);
      const [a, b] = core.accounts;
      await core.token.transfer(a.address, MIN);
      const p = await signPermit(core.token, a, core.escrowAddress, MIN);
      await core.token.connect(b).permit(a.address, core.escrowAddress, MIN, p.deadline, p.v, p.r, p.s); // front-run
      await expect(core.escrow.connect(a).depositWithPermit(MIN, 4, p.deadline, p.v, p.r, p.s)).to.emit(core.escrow, "Deposited");
      expect(await core.escrow.totalLocked()).to.equal(MIN);
    });
  });

  describe("increase", () => {
    it("adds to a rolling stake (weight and totals) and to an unlocking one (no weight)", async () => {
      const core = await loadFixture(fixture);
      const [a] = core.accounts;
      await openStake(core, a, MIN, 52);
      await topUp(core, a, MIN);
      expect((await core.escrow.stakeOf(a.address)).weight).to.equal(2n * MIN * 104n);
      expect(await core.escrow.totalLocked()).to.equal(2n * MIN);
      await core.escrow.connect(a).startUnlock();
      await core.token.transfer(a.address, MIN);
      await core.token.connect(a).approve(core.escrowAddress, MIN);
      await expect(core.escrow.connect(a).increase(MIN)).to.emit(core.escrow, "Increased").withArgs(a.address, MIN, 3n * MIN);
      expect(await core.escrow.totalWeight()).to.equal(0n);
      expect(await core.escrow.totalLocked()).to.equal(0n);
    });

    it("rejects zero, non-stakers and amounts above the maximum", async () => {
      const core = await loadFixture(fixture);
      const [a, b] = core.accounts;
      await openStake(core, a, MIN, 4);
      await expect(core.escrow.connect(a).increase(0)).to.be.revertedWithCustomError(core.escrow, "ZeroAmount");
      await expect(core.escrow.connect(b).increase(MIN)).to.be.revertedWithCustomError(core.escrow, "NotStaker").withArgs(b.address);
      const max = core.params.maxStake;
      await expect(core.escrow.connect(a).increase(max)).to.be.revertedWithCustomError(core.escrow, "StakeAboveMaximum").withArgs(max + MIN, max);
    });
  });

  describe("prolong, startUnlock, relock, withdraw", () => {
    it("prolong raises the lock and the weight; rejects zero, non-stakers, unlocking stakes and too long locks", async () => {
      const core = await loadFixture(fixture);
      const [a, b] = core.accounts;
      await openStake(core, a, MIN, 4);
      await expect(core.escrow.connect(a).prolong(8)).to.emit(core.escrow, "Prolonged").withArgs(a.address, 12);
      expect((await core.escrow.stakeOf(a.address)).weight).to.equal(MIN * 64n);
      await expect(core.escrow.connect(a).prolong(0)).to.be.revertedWithCustomError(core.escrow, "ZeroAmount");
      await expect(core.escrow.connect(b).prolong(1)).to.be.revertedWithCustomError(core.escrow, "NotStaker");
      await expect(core.escrow.connect(a).prolong(65535)).to.be.revertedWithCustomError(core.escrow, "LockTooLong").withArgs(65547, 65535);
      await core.escrow.connect(a).startUnlock();
      await expect(core.escrow.connect(a).prolong(1)).to.be.revertedWithCustomError(core.escrow, "StakeUnlocking");
    });

    it("unlocking fixes the unlock period, drops weight and totalLocked; withdraw only after it and its slashing grace", async () => {
      const core = await loadFixture(fixture);
      const { escrow } = core;
      const [a, b] = core.accounts;
      await openStake(core, a, 2n * MIN, 6);
      await expect(escrow.connect(a).withdraw(1)).to.be.revertedWithCustomError(escrow, "UnlockNotStarted");
      await expect(escrow.connect(b).startUnlock()).to.be.revertedWithCustomError(escrow, "NotStaker");
      const period = await escrow.currentPeriod();
      await expect(escrow.connect(a).startUnlock()).to.emit(escrow, "UnlockStarted").withArgs(a.address, period + 6n);
      await expect(escrow.connect(a).startUnlock()).to.be.revertedWithCustomError(escrow, "StakeUnlocking").withArgs(period + 6n);
      expect(await escrow.totalWeight()).to.equal(0n);
      expect(await escrow.totalLocked()).to.equal(0n);
      expect(await escrow.lockedThrough(a.address, period + 5n)).to.equal(2n * MIN);
      expect(await escrow.lockedThrough(a.address, period + 6n)).to.equal(0n);
      const grace = BigInt(core.params.slashingGracePeriods);
      await advancePeriods(core, 5);
      await expect(escrow.connect(a).withdraw(1))
        .to.be.revertedWithCustomError(escrow, "LockNotOver").withArgs(period + 6n + grace, period + 5n);
      await advancePeriods(core, 1);
      // The unlock period has begun, but the stake stays slashable (and locked) for the grace.
      expect(await escrow.slashableStake(a.address)).to.equal(2n * MIN);
      await expect(escrow.connect(a).withdraw(1))
        .to.be.revertedWithCustomError(escrow, "LockNotOver").withArgs(period + 6n + grace, period + 6n);
      await advancePeriods(core, Number(grace));
      expect(await escrow.slashableStake(a.address)).to.equal(0n);
      await expect(escrow.connect(a).withdraw(0)).to.be.revertedWithCustomError(escrow, "ZeroAmount");
      await expect(escrow.connect(b).withdraw(1)).to.be.revertedWithCustomError(escrow, "NotStaker");
      await expect(escrow.connect(a).withdraw(2n * MIN + 1n))
        .to.be.revertedWithCustomError(escrow, "InsufficientUnlocked").withArgs(2n * MIN + 1n, 2n * MIN);
      await expect(escrow.connect(a).withdraw(MIN)).to.emit(escrow, "Withdrawn").withArgs(a.address, MIN, MIN);
      await expect(escrow.connect(a).withdraw(MIN)).to.changeTokenBalance(core.token, a, MIN);
      const info = await escrow.stakeOf(a.address);
      expect([info.amount, info.lockPeriods, info.unlockPeriod]).to.deep.equal([0n, 0n, 0n]);
      // the stake is closed: a new deposit is possible
      await core.token.connect(a).approve(core.escrowAddress, MIN);
      await escrow.connect(a).deposit(MIN, 4);
    });

    it("relock makes an unlocking stake roll again; rejects rolling stakes and stakes below the minimum", async () => {
      const core = await loadFixture(fixture);
      const { escrow } = core;
      const [a, b] = core.accounts;
      await openStake(core, a, 2n * MIN, 8);
      await expect(escrow.connect(a).relock()).to.be.revertedWithCustomError(escrow, "UnlockNotStarted");
      await expect(escrow.connect(b).relock()).to.be.revertedWithCustomError(escrow, "NotStaker");
      await escrow.connect(a).startUnlock();
      await expect(escrow.connect(a).relock()).to.emit(escrow, "Relocked").withArgs(a.address, 8);
      expect(await escrow.totalWeight()).to.equal(2n * MIN * 60n); // 8 weeks
      expect(await escrow.totalLocked()).to.equal(2n * MIN);
      await escrow.connect(a).startUnlock();
      await advancePeriods(core, 8 + core.params.slashingGracePeriods);
      await escrow.connect(a).withdraw(MIN + 1n);
      await expect(escrow.connect(a).relock()).to.be.revertedWithCustomError(escrow, "StakeBelowMinimum").withArgs(MIN - 1n, MIN);
    });
  });

  describe("rewards", () => {
    it("issues the decaying schedule each period and splits it by amount × κ", async () => {
      const core = await loadFixture(fixture);
      const { escrow, params } = core;
      const [a, b] = core.accounts;
      await openStake(core, a, MIN, 4); // 4 weeks → 104·κ = 56
      await openStake(core, b, MIN, 52); // 52 weeks → 104
      const reserve0 = await escrow.reserve();
      await advancePeriods(core, 3);
      const issued = issuance(reserve0, params.issuanceRate, 3n);
      const pa = await escrow.pendingRewards(a.address);
      const pb = await escrow.pendingRewards(b.address);
      const wa = MIN * kappa104(4, params.secondsPerPeriod);
      const wb = MIN * kappa104(52, params.secondsPerPeriod);
      expect(pa + pb).to.be.lessThanOrEqual(issued);
      expect(pa + pb).to.be.closeTo(issued, 10n ** 6n); // accumulator dust ≤ weight / 1e22 wei
      expect(pa).to.be.closeTo((issued * wa) / (wa + wb), 10n ** 6n);
      await expect(escrow.connect(a).claimRewards(false)).to.emit(escrow, "RewardsIssued");
      expect(await escrow.reserve()).to.equal(reserve0 - issued);
      expect((await core.token.totalSupply()) + (await escrow.reserve())).to.equal(params.cap);
      expect(await core.token.balanceOf(a.address)).to.equal(pa);
      expect(await escrow.pendingRewards(a.address)).to.equal(0n);
      expect(await escrow.pendingRewards(b.address)).to.equal(pb);
    });

    it("pays nothing to unlocking stakes and nothing for periods without stake", async () => {
      const core = await loadFixture(fixture);
      const { escrow } = core;
      const [a] = core.accounts;
      await openStake(core, a, MIN, 4);
      await advancePeriods(core, 5); // no update yet: issuance still pending, reserve unchanged
      const reserveBefore = await escrow.reserve();
      await escrow.connect(a).startUnlock(); // distributes the 5 periods, then weight 0
      const earned = await escrow.pendingRewards(a.address);
      expect(earned).to.be.greaterThan(0n);
      expect(await escrow.reserve()).to.be.lessThan(reserveBefore);
      const reserveAfter = await escrow.reserve();
      await advancePeriods(core, 10);
      expect(await escrow.pendingRewards(a.address)).to.equal(earned);
      await escrow.connect(a).claimRewards(false);
      expect(await escrow.reserve()).to.equal(reserveAfter);
    });

    it("restakes rewards into the stake; rejects empty claims and restake without a stake or above the maximum", async () => {
      const core = await loadFixture(deployCore.bind(null, { maxStake: MIN + 1n }));
      const { escrow } = core;
      const [a, b] = core.accounts;
      await expect(escrow.connect(b).claimRewards(false)).to.be.revertedWithCustomError(escrow, "NothingToClaim");
      await openStake(core, a, MIN, 52);
      await advancePeriods(core, 1);
      await expect(escrow.connect(a).claimRewards(true)).to.be.revertedWithCustomError(escrow, "StakeAboveMaximum");
    });

    it("restake adds rewards to amount, weight and totalLocked", async () => {
      const core = await loadFixture(fixture);
      const { escrow } = core;
      const [a] = core.accounts;
      await openStake(core, a, MIN, 52);
      await advancePeriods(core, 2);
      const pending = await escrow.pendingRewards(a.address);
      await expect(escrow.connect(a).claimRewards(true)).to.emit(escrow, "RewardsClaimed").withArgs(a.address, pending, true);
      expect((await escrow.stakeOf(a.address)).amount).to.equal(MIN + pending);
      expect(await escrow.totalLocked()).to.equal(MIN + pending);
      expect(await escrow.totalWeight()).to.equal((MIN + pending) * 104n);
    });

    it("rejects restaking once the stake is withdrawn but still pays out to the wallet", async () => {
      const core = await loadFixture(fixture);
      const { escrow } = core;
      const [a] = core.accounts;
      await openStake(core, a, MIN, 4);
      await advancePeriods(core, 1);
      await escrow.connect(a).startUnlock();
      await advancePeriods(core, 4 + core.params.slashingGracePeriods);
      await escrow.connect(a).withdraw(MIN);
      await expect(escrow.connect(a).claimRewards(true)).to.be.revertedWithCustomError(escrow, "NotStaker");
      await expect(escrow.connect(a).claimRewards(false)).to.emit(escrow, "RewardsClaimed");
    });

    it("keeps the cap after 100 years of periods and matches R·(1 − (1 − r)^k)", async () => {
      const core = await loadFixture(fixture);
      const { escrow, params } = core;
      const [a] = core.accounts;
      await openStake(core, a, MIN, 52);
      const reserve0 = await escrow.reserve();
      const periods = 5218n; // ≈ 100 years of weeks
      await advancePeriods(core, Number(periods));
      await escrow.connect(a).claimRewards(false);
      const issued = reserve0 - (await escrow.reserve());
      const exact = Number(reserve0) * (1 - Math.pow(1 - Number(params.issuanceRate) / 1e18, Number(periods)));
      expect(Math.abs(Number(issued) - exact) / exact).to.be.lessThan(1e-12);
      expect(issued).to.equal(issuance(reserve0, params.issuanceRate, periods));
      const supply = await core.token.totalSupply();
      expect(supply).to.be.lessThanOrEqual(params.cap);
      expect(supply + (await escrow.reserve())).to.equal(params.cap);
      expect(await escrow.reserve()).to.be.greaterThan(0n);
    });
  });

  describe("operators and nodes", () => {
    it("a proposal bonds when the operator registers; an early next bond is refused; re-bonds after the minimum time; unbonds at any time", async () => {
      const core = await loadFixture(fixture);
      const { escrow } = core;
      const [a, op1, op2] = core.accounts;
      await openStake(core, a, MIN, 4);
      await expect(escrow.connect(a).bondOperator(op1.address)).to.emit(escrow, "OperatorProposed").withArgs(a.address, op1.address);
      expect(await escrow.pendingOperatorOf(a.address)).to.equal(op1.address);
      expect(await escrow.operatorOf(a.address)).to.equal(ethers.ZeroAddress);
      expect(await escrow.stakerOf(op1.address)).to.equal(ethers.ZeroAddress);
      await expect(escrow.connect(a).bondOperator(op1.address)).to.be.revertedWithCustomError(escrow, "SameOperator");
      const reg1 = registerNode(core, a.address, op1);
      await expect(reg1).to.not.be.reverted;
      const bondedAt = await escrow.bondedAt(op1.address);
      expect(await escrow.operatorOf(a.address)).to.equal(op1.address);
      expect(await escrow.stakerOf(op1.address)).to.equal(a.address);
      expect(await escrow.pendingOperatorOf(a.address)).to.equal(ethers.ZeroAddress);
      const earliest = bondedAt + BigInt(core.params.minBondSeconds);
      await expect(escrow.connect(a).bondOperator(op2.address)).to.be.revertedWithCustomError(escrow, "BondTooRecent").withArgs(earliest);
      await expect(escrow.connect(a).bondOperator(op1.address)).to.be.revertedWithCustomError(escrow, "SameOperator");
      await time.increaseTo(earliest);
      await escrow.connect(a).bondOperator(op2.address);
      // The old bond stays in force until the new operator accepts.
      expect(await escrow.operatorOf(a.address)).to.equal(op1.address);
      expect(await escrow.isRegistered(a.address)).to.equal(true);
      const secret = secp256k1.utils.randomSecretKey();
      const proof = await keyProof(core, secret, a.address, op2.address);
      await expect(escrow.connect(op2).registerNode(a.address, "http://op2", randomCompressedKey(), secp256k1.getPublicKey(secret, true), proof))
        .to.emit(escrow, "OperatorBonded").withArgs(a.address, op2.address, op1.address);
      expect(await escrow.stakerOf(op1.address)).to.equal(ethers.ZeroAddress);
      expect(await escrow.operatorOf(a.address)).to.equal(op2.address);
      expect((await escrow.nodeInfo(a.address)).endpoint).to.equal("http://op2");
      // Unbonding needs no wait (the cold key's cut-off), and retires the stamp key…
      await expect(escrow.connect(a).bondOperator(ethers.ZeroAddress))
        .to.emit(escrow, "OperatorBonded").withArgs(a.address, ethers.ZeroAddress, op2.address)
        .and.to.emit(escrow, "StampKeyRetired");
      // …and the next bond waits for the minimum time after the last one.
      const lastBond = await time.latest();
      await expect(escrow.connect(a).bondOperator(op1.address)).to.be.revertedWithCustomError(escrow, "BondTooRecent");
      await time.increaseTo(BigInt(lastBond) + BigInt(core.params.minBondSeconds));
      expect(await escrow.operatorOf(a.address)).to.equal(ethers.ZeroAddress);
      expect(await escrow.isRegistered(a.address)).to.equal(false);
      expect((await escrow.nodeInfo(a.address)).endpoint).to.equal("");
      await expect(escrow.connect(a).bondOperator(ethers.ZeroAddress)).to.be.revertedWithCustomError(escrow, "SameOperator");
      // A proposal can be withdrawn with the zero address.
      await escrow.connect(a).bondOperator(op1.address);
      await expect(escrow.connect(a).bondOperator(ethers.ZeroAddress)).to.emit(escrow, "OperatorProposed").withArgs(a.address, ethers.ZeroAddress);
      await expect(registerNode(core, a.address, op1)).to.be.revertedWithCustomError(escrow, "NotBonded").withArgs(op1.address);
    });

    it("rejects proposals by non-stakers, of stakers, of the staker itself and of taken operators; consent rechecks", async () => {
      const core = await loadFixture(fixture);
      const { escrow } = core;
      const [a, b, op, x] = core.accounts;
      await expect(escrow.connect(x).bondOperator(op.address)).to.be.revertedWithCustomError(escrow, "NotStaker");
      await openStake(core, a, MIN, 4);
      await openStake(core, b, MIN, 4);
      await expect(escrow.connect(a).bondOperator(b.address)).to.be.revertedWithCustomError(escrow, "OperatorIsStaker").withArgs(b.address);
      await expect(escrow.connect(a).bondOperator(a.address)).to.be.revertedWithCustomError(escrow, "OperatorIsStaker");
      await escrow.connect(a).bondOperator(op.address);
      await escrow.connect(b).bondOperator(op.address); // a proposal blocks nobody
      await registerNode(core, a.address, op);
      await expect(escrow.connect(b).bondOperator(op.address)).to.be.revertedWithCustomError(escrow, "SameOperator");
      await expect(registerNode(core, b.address, op)).to.be.revertedWithCustomError(escrow, "OperatorAlreadyBonded").withArgs(op.address, a.address);
      const [, , , , c, op3] = core.accounts;
      await openStake(core, c, MIN, 4);
      await escrow.connect(c).bondOperator(op3.address);
      await openStake(core, op3, MIN, 4); // the proposed operator staked meanwhile
      await expect(registerNode(core, c.address, op3)).to.be.revertedWithCustomError(escrow, "OperatorIsStaker").withArgs(op3.address);
    });

    it("registers a node; rejects strangers, bad endpoints, keys off the curve and bad key proofs", async () => {
      const core = await loadFixture(fixture);
      const { escrow } = core;
      const [a, op, x] = core.accounts;
      await openStake(core, a, MIN, 4);
      const secret = secp256k1.utils.randomSecretKey();
      const v = secp256k1.getPublicKey(secret, true);
      const e = randomCompressedKey();
      const proof = await keyProof(core, secret, a.address, op.address);
      const register = (from: typeof op, endpoint: string, enc: Uint8Array, ver: Uint8Array, p: Uint8Array = proof) =>
        escrow.connect(from).registerNode(a.address, endpoint, enc, ver, p);
      await expect(register(op, "http://n", e, v)).to.be.revertedWithCustomError(escrow, "NotBonded").withArgs(op.address);
      await escrow.connect(a).bondOperator(op.address);
      expect(await escrow.isRegistered(a.address)).to.equal(false);
      await expect(register(x, "http://n", e, v)).to.be.revertedWithCustomError(escrow, "NotBonded").withArgs(x.address);
      await expect(register(op, "", e, v)).to.be.revertedWithCustomError(escrow, "InvalidEndpoint");
      await expect(register(op, "h".repeat(257), e, v)).to.be.revertedWithCustomError(escrow, "InvalidEndpoint");
      const long = new Uint8Array(34).fill(2);
      await expect(register(op, "http://n", long, v)).to.be.revertedWithCustomError(escrow, "InvalidPublicKey");
      const badPrefix = Uint8Array.from(v);
      badPrefix[0] = 0x04;
      await expect(register(op, "http://n", e, badPrefix)).to.be.revertedWithCustomError(escrow, "InvalidPublicKey");
      // x = 5: 5³ + 7 = 132 is not a square mod p, so no curve point has it; x ≥ p is no coordinate.
      const offCurve = new Uint8Array(33);
      offCurve[0] = 2;
      offCurve[32] = 5;
      await expect(register(op, "http://n", offCurve, v)).to.be.revertedWithCustomError(escrow, "InvalidPublicKey");
      await expect(register(op, "http://n", e, offCurve)).to.be.revertedWithCustomError(escrow, "InvalidPublicKey");
      const beyondP = new Uint8Array(33).fill(0xff);
      beyondP[0] = 3;
      await expect(register(op, "http://n", e, beyondP)).to.be.revertedWithCustomError(escrow, "InvalidPublicKey");
      // Proofs: wrong length, by another key, for another staker/operator, a flipped key parity.
      await expect(register(op, "http://n", e, v, proof.slice(0, 63))).to.be.revertedWithCustomError(escrow, "InvalidKeyProof");
      const other = secp256k1.utils.randomSecretKey();
      await expect(register(op, "http://n", e, v, await keyProof(core, other, a.address, op.address))).to.be.revertedWithCustomError(escrow, "InvalidKeyProof");
      await expect(register(op, "http://n", e, v, await keyProof(core, secret, x.address, op.address))).to.be.revertedWithCustomError(escrow, "InvalidKeyProof");
      await expect(register(op, "http://n", e, v, await keyProof(core, secret, a.address, x.address))).to.be.revertedWithCustomError(escrow, "InvalidKeyProof");
      const flipped = Uint8Array.from(v);
      flipped[0] ^= 1; // same x, the other y: a point whose secret nobody here knows
      await expect(register(op, "http://n", e, flipped)).to.be.revertedWithCustomError(escrow, "InvalidKeyProof");
      await expect(register(op, "http://n:1", e, v))
        .to.emit(escrow, "NodeRegistered").withArgs(a.address, op.address, "http://n:1", ethers.hexlify(e), ethers.hexlify(v));
      expect(await escrow.isRegistered(a.address)).to.equal(true);
      const signer = ethers.computeAddress(ethers.hexlify(v));
      const period = await escrow.currentPeriod();
      await expect(register(op, "http://n:1", e, v)).to.not.emit(escrow, "StampKeyActivated"); // same key: no change
      expect(await escrow.isStampKey(a.address, signer, period)).to.equal(true);
      expect(await escrow.isStampKey(a.address, signer, period - 1n)).to.equal(false); // before its window
      expect(await escrow.isStampKey(a.address, signer, period + 1n)).to.equal(false); // future-dated
      expect(await escrow.isStampKey(a.address, ethers.ZeroAddress, period)).to.equal(false);
      expect(await escrow.isStampKey(a.address, x.address, period)).to.equal(false);
      // The digest the proof signs is the documented message's SHA-256.
      const { chainId } = await ethers.provider.getNetwork();
      expect(await escrow.keyProofDigest(a.address, op.address)).to.equal(
        ethers.sha256(keyProofMessage({ chainId, escrow: core.escrowAddress, staker: a.address, operator: op.address })),
      );
      // The same key re-registers (e.g. a new endpoint) any time.
      await expect(register(op, "http://n:2", e, v)).to.emit(escrow, "NodeRegistered");
    });
  });

  describe("slash and forfeit hooks", () => {
    async function withRoles() {
      const core = await deployCoreFixture();
      const [a, op, adjudicator, health, investigator] = core.accounts;
      await core.escrow.grantRole(await core.escrow.SLASHER_ROLE(), adjudicator.address);
      await core.escrow.grantRole(await core.escrow.REWARD_FORFEITER_ROLE(), health.address);
      await stakeNode(core, a, op, { amount: 2n * MIN, lockPeriods: 52 });
      return { core, a, adjudicator, health, investigator };
    }

    it("slashes stake, counts the violation, withholds the reward (owed, paid by the slasher), returns the rest to the reserve", async () => {
      const { core, a, adjudicator, investigator } = await loadFixture(withRoles);
      const { escrow, token, params } = core;
      const reserve0 = await escrow.reserve();
      await expect(escrow.connect(adjudicator).slash(a.address, MIN, MIN / 10n))
        .to.emit(escrow, "Slashed").withArgs(a.address, MIN, MIN / 10n, 1n);
      expect((await escrow.stakeOf(a.address)).amount).to.equal(MIN);
      expect(await escrow.slashingStateOf(a.address)).to.deep.equal([MIN, 1n]);
      expect(await escrow.totalLocked()).to.equal(MIN);
      expect(await escrow.totalWeight()).to.equal(MIN * 104n);
      expect(await escrow.reserve()).to.equal(reserve0 + MIN - MIN / 10n);
      expect(await escrow.owedInvestigatorRewards()).to.equal(MIN / 10n);
      expect((await token.totalSupply()) + (await escrow.reserve()) + MIN / 10n).to.equal(params.cap);
      // Never more than owed (a slasher cannot mint the reserve), only by the role, never zero or to nobody.
      await expect(escrow.connect(adjudicator).payInvestigator(investigator.address, MIN / 10n + 1n))
        .to.be.revertedWithCustomError(escrow, "RewardNotOwed").withArgs(MIN / 10n + 1n, MIN / 10n);
      // Not a slasher: it owes nothing, so it can pay nothing.
      await expect(escrow.connect(investigator).payInvestigator(investigator.address, 1n))
        .to.be.revertedWithCustomError(escrow, "RewardNotOwed").withArgs(1n, 0n);
      await expect(escrow.connect(adjudicator).payInvestigator(ethers.ZeroAddress, 1n)).to.be.revertedWithCustomError(escrow, "ZeroAddress");
      await expect(escrow.connect(adjudicator).payInvestigator(investigator.address, 0n)).to.be.revertedWithCustomError(escrow, "ZeroAmount");
      await expect(escrow.connect(adjudicator).payInvestigator(investigator.address, 1n))
        .to.emit(escrow, "InvestigatorPaid").withArgs(investigator.address, 1n);
      await expect(escrow.connect(adjudicator).payInvestigator(investigator.address, MIN / 10n))
        .to.be.revertedWithCustomError(escrow, "RewardNotOwed");
      await expect(escrow.connect(adjudicator).payInvestigator(investigator.address, MIN / 10n - 1n))
        .to.changeTokenBalance(token, investigator, MIN / 10n - 1n);
      expect(await escrow.owedInvestigatorRewards()).to.equal(0n);
      expect((await token.totalSupply()) + (await escrow.reserve())).to.equal(params.cap);
      await expect(escrow.connect(adjudicator).payInvestigator(investigator.address, 1n))
        .to.be.revertedWithCustomError(escrow, "RewardNotOwed").withArgs(1n, 0n);
    });

    it("never slashes more than the stake, refuses a reward above the slashed amount, needs the role", async () => {
      const { core, a, adjudicator, investigator } = await loadFixture(withRoles);
      const { escrow } = core;
      await expect(escrow.connect(investigator).slash(a.address, 1, 0))
        .to.be.revertedWithCustomError(escrow, "AccessControlUnauthorizedAccount");
      await expect(escrow.connect(adjudicator).slash(a.address, 1, 2))
        .to.be.revertedWithCustomError(escrow, "RewardAboveSlashed").withArgs(2n, 1n);
      // No stake: nothing slashed, nothing counted.
      expect(await escrow.connect(adjudicator).slash.staticCall(investigator.address, MIN, 0)).to.deep.equal([0n, 0n]);
      await expect(escrow.connect(adjudicator).slash(a.address, 10n * MIN, 2n * MIN))
        .to.emit(escrow, "Slashed").withArgs(a.address, 2n * MIN, 2n * MIN, 1n);
      expect((await escrow.stakeOf(a.address)).amount).to.equal(0n);
      expect(await escrow.totalLocked()).to.equal(0n);
      expect(await escrow.slashingStateOf(a.address)).to.deep.equal([0n, 1n]);
    });

    it("slashing an unlocking stake leaves totals alone", async () => {
      const { core, a, adjudicator } = await loadFixture(withRoles);
      await core.escrow.connect(a).startUnlock();
      await core.escrow.connect(adjudicator).slash(a.address, MIN, 0);
      expect((await core.escrow.stakeOf(a.address)).amount).to.equal(MIN);
      expect(await core.escrow.totalLocked()).to.equal(0n);
    });

    it("forfeits accrued rewards back to the reserve (role-gated)", async () => {
      const { core, a, health } = await loadFixture(withRoles);
      const { escrow, token, params } = core;
      await expect(escrow.connect(a).forfeitRewards(a.address)).to.be.revertedWithCustomError(escrow, "AccessControlUnauthorizedAccount");
      await advancePeriods(core, 3);
      const pending = await escrow.pendingRewards(a.address);
      expect(pending).to.be.greaterThan(0n);
      await expect(escrow.connect(health).forfeitRewards(a.address)).to.emit(escrow, "RewardsForfeited").withArgs(a.address, pending);
      expect(await escrow.pendingRewards(a.address)).to.equal(0n);
      expect((await token.totalSupply()) + (await escrow.reserve())).to.equal(params.cap);
      expect(await escrow.connect(health).forfeitRewards.staticCall(a.address)).to.equal(0n);
      await expect(escrow.connect(a).claimRewards(false)).to.be.revertedWithCustomError(escrow, "NothingToClaim");
    });
  });
});
