// Issue #14 (on-chain side): key-leak challenges that cannot frame a node. Real contracts, real
// Umbral kfrags, receipts signed by the node's real stamp key (src/protocol/kfrag-receipt.ts).
import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { randomBytes } from "node:crypto";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  commitArgs,
  leakCommitmentKey,
  parseLeakEvidence,
  revealArgs,
  sealedLeak,
  serializeLeakEvidence,
  type LeakEvidence,
} from "../../src/client/leak-evidence";
import { fileLeakChallenge } from "../../src/client/leak-challenge";
import { kfragReceiptMessage } from "../../src/protocol/kfrag-receipt";
import { kfragHash } from "../../src/client/kfrag-commitment";
import { NODE_RATE, TOKEN } from "../policy/fixture";
import { advancePeriods, registerNode, type StakedNode } from "../shared/core-fixture";
import { LEAK_PARAMS, LeakWorld, commit, deployLeakWorld, hex, leakNode, leakPolicy, reveal, signReceipt, type LeakPolicy } from "./leak-setup";

const { collateralBps, challengerShareBps, revealWindowBlocks } = LEAK_PARAMS;
const min = (...xs: bigint[]) => xs.reduce((a, b) => (a < b ? a : b));

describe("adjudicator: key-leak challenges that cannot frame a node (issue #14)", function () {
  async function fixture() {
    const w = await deployLeakWorld();
    const x = await leakNode(w, 0);
    const y = await leakNode(w, 1);
    return { w, x, y };
  }

  const balance = (w: LeakWorld, who: { address: string }) => w.core.token.balanceOf(who.address);
  const stake = async (w: LeakWorld, n: StakedNode) => (await w.core.escrow.stakeOf(n.staker.address)).amount;
  /** Node n's real receipt for its kfrag in p (what its agent returned on upload). */
  async function evidence(w: LeakWorld, p: LeakPolicy, n: StakedNode): Promise<LeakEvidence> {
    const i = p.nodes.indexOf(n.staker.address);
    return p.evidenceFor(i, await signReceipt(w, n.stampSecretKey, n.staker.address, p.creator, p.policyId, p.kfrags[i]));
  }

  describe("framing (attack 1)", function () {
    it("random bytes revealed by the creator's second address cost the node nothing: no receipt, no forfeit", async function () {
      const { w, x } = await loadFixture(fixture);
      const friend = w.core.accounts[14];
      const before = await stake(w, x);
      for (let k = 0; k < 4; k++) {
        const junk = new Uint8Array(randomBytes(310));
        const p = await leakPolicy(w, [x.staker.address], 1, NODE_RATE, { kfrags: [junk] });
        // The node never saw these bytes, so it never signed a receipt for them. The framer
        // tries: a receipt it signs itself, the node's receipt for another kfrag, a garbage one.
        const other = await leakPolicy(w, [x.staker.address], 1);
        const realForOther = await signReceipt(w, x.stampSecretKey, x.staker.address, other.creator, other.policyId, other.kfrags[0]);
        const ownKey = secp256k1.utils.randomSecretKey();
        const receipts = [
          await signReceipt(w, ownKey, x.staker.address, p.creator, p.policyId, junk),
          realForOther,
          { period: Number(await w.core.escrow.currentPeriod()), signature: "0x" + "11".repeat(64) },
        ];
        for (const receipt of receipts) {
          const e = p.evidenceFor(0, receipt);
          const salt = await commit(w, friend, e);
          await expect(reveal(w, friend, e, salt)).to.be.revertedWithCustomError(w.leak, "InvalidReceipt");
        }
      }
      expect(await stake(w, x)).to.equal(before);
      expect((await w.core.escrow.slashingStateOf(x.staker.address)).violations).to.equal(0n);
    });

    it("a receipt binds chain, PolicyManager, node, period, creator, policy and kfrag: the Solidity rebuild equals kfragReceiptMessage byte for byte", async function () {
      const { w, x } = await loadFixture(fixture);
      const p = await leakPolicy(w, [x.staker.address], 3);
      const ctx = {
        chainId: w.chainId,
        policyManager: await w.pm.getAddress(),
        staker: x.staker.address,
        period: 0xfedcba98,
        policyCreator: p.creator,
        policyId: p.policyId,
        kfragHash: kfragHash(p.kfrags[0]),
      };
      const onChain = await w.leak.receiptMessage(ctx.staker, ctx.period, ctx.policyCreator, hex(ctx.policyId), hex(ctx.kfragHash));
      expect(onChain).to.equal(hex(kfragReceiptMessage(ctx)));
      expect(ethers.getBytes(onChain).length).to.equal(165);
    });

    it("refuses receipts from a foreign key, from a retired key, dated before the policy or in the future, or for another creator", async function () {
      const { w, x, y } = await loadFixture(fixture);
      // x's first stamp key is retired by a rotation; the policy comes after.
      const oldKey = x.stampSecretKey;
      const retiredIn = Number(await w.core.escrow.currentPeriod());
      await advancePeriods(w.core, 1);
      const fresh = await registerNode(w.core, x.staker.address, x.operator, { endpoint: x.endpoint });
      // A key retired in period R still counts for R (the escrow's stamp-date boundary): the
      // policy is created after R.
      await advancePeriods(w.core, 1);
      const p = await leakPolicy(w, [x.staker.address], 4);
      const now = Number(await w.core.escrow.currentPeriod());
      const sign = (key: Uint8Array, period?: number, creator = p.creator) =>
        signReceipt(w, key, x.staker.address, creator, p.policyId, p.kfrags[0], period);
      const cases: [string, Awaited<ReturnType<typeof sign>>][] = [
        ["another node's stamp key", await sign(y.stampSecretKey)],
        ["the retired key, dated now", await sign(oldKey)],
        ["the retired key, backdated into its window (before the policy)", await sign(oldKey, retiredIn)],
        ["the current key, dated before the policy", await sign(fresh.stampSecretKey, now - 1)],
        ["the current key, dated in the future", await sign(fresh.stampSecretKey, now + 1)],
        ["the current key, for another creator", await sign(fresh.stampSecretKey, now, w.stranger.address)],
      ];
      for (const [name, receipt] of cases) {
        const e = p.evidenceFor(0, receipt);
        const salt = await commit(w, w.challenger, e);
        await expect(reveal(w, w.challenger, e, salt), name).to.be.revertedWithCustomError(w.leak, "InvalidReceipt");
      }
      // Named under another creator, the policy is not found at all.
      const e = p.evidenceFor(0, await sign(fresh.stampSecretKey));
      await expect(w.leak.connect(w.challenger).commitLeak(w.stranger.address, hex(p.policyId), x.staker.address, ethers.ZeroHash))
        .to.be.revertedWithCustomError(w.leak, "WrongPolicyCreator");
      // The current key's own receipt works, and a receipt stays valid for the whole arrangement
      // (older than the escrow's evidence-age limit G).
      await advancePeriods(w.core, Number(w.core.params.slashingGracePeriods) + 1);
      expect(await w.core.escrow.isStampKey(x.staker.address, ethers.computeAddress(hex(fresh.stampSecretKey)), now)).to.equal(false);
      const salt = await commit(w, w.challenger, e);
      await expect(reveal(w, w.challenger, e, salt)).to.emit(w.leak, "LeakProven");
    });
  });

  it("a real leak: the node forfeits min(C, earned, stake) to the reserve, the bounty comes out of the owner's refund, no violation counted", async function () {
    const { w, x, y } = await loadFixture(fixture);
    const p = await leakPolicy(w, [x.staker.address, y.staker.address], 6);
    await advancePeriods(w.core, 2);
    const e = await evidence(w, p, x);
    const salt = await commit(w, w.challenger, e);
    const period = await w.pm.currentPeriod();
    const start = period - 2n;
    const paid = p.feeRate * (p.endPeriod + 1n - start);
    const earned = p.feeRate * (period + 1n - start);
    const forfeit = min((paid * collateralBps) / 10_000n, earned, x.amount);
    expect(await w.leak.forfeitFor(p.creator, hex(p.policyId), x.staker.address)).to.equal(forfeit);
    expect(await w.leak.forfeitFor(w.stranger.address, hex(p.policyId), x.staker.address)).to.equal(0n);
    const refundable = p.feeRate * (p.endPeriod - period);
    const bounty = min((forfeit * challengerShareBps) / 10_000n, refundable);
    const [aliceBefore, challengerBefore] = [await balance(w, w.alice), await balance(w, w.challenger)];

    await expect(reveal(w, w.challenger, e, salt))
      .to.emit(w.leak, "LeakProven")
      .withArgs(hex(p.policyId), x.staker.address, w.challenger.address, p.creator, forfeit, forfeit, bounty, refundable - bounty)
      .and.to.emit(w.pm, "ArrangementRevoked") // what node agents watch to purge the kfrag
      .withArgs(hex(p.policyId), x.staker.address, refundable - bounty)
      .and.to.emit(w.core.escrow, "LeakForfeited")
      .withArgs(x.staker.address, forfeit)
      .and.not.to.emit(w.core.escrow, "Slashed");
    expect(await balance(w, w.challenger)).to.equal(challengerBefore + bounty);
    expect(await balance(w, w.alice)).to.equal(aliceBefore + refundable - bounty);
    expect(await stake(w, x)).to.equal(x.amount - forfeit);
    expect(forfeit <= earned, "forfeit above what the node earned on the arrangement").to.equal(true);
    expect(await w.pm.isActiveArrangement(hex(p.policyId), x.staker.address)).to.equal(false);
    expect(await w.pm.isActiveArrangement(hex(p.policyId), y.staker.address)).to.equal(true);
    expect((await w.core.escrow.slashingStateOf(x.staker.address)).violations).to.equal(0n);

    // The same leak cannot be punished twice.
    const again = await commit(w, w.challenger, e);
    await expect(reveal(w, w.challenger, e, again)).to.be.revertedWithCustomError(w.leak, "LeakAlreadyPunished");
  });

  it("the client files a challenge from the stored receipt (commit, then reveal in a later block)", async function () {
    const { w, x } = await loadFixture(fixture);
    const p = await leakPolicy(w, [x.staker.address], 4);
    const full = await evidence(w, p, x);
    const { receipt, ...rest } = full;
    const filed = await fileLeakChallenge(w.leak.connect(w.challenger), rest, receipt);
    expect(filed.revealReceipt!.blockNumber).to.be.greaterThan(filed.commitReceipt!.blockNumber);
    expect(await w.leak.leakPunished(ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["bytes16", "address"], [hex(p.policyId), x.staker.address])))).to.equal(true);
    console.log(`      gas: commitLeak ${filed.commitReceipt!.gasUsed} (live arrangement, opens a hold), revealLeak ${filed.revealReceipt!.gasUsed}`);
  });

  it("is front-running resistant: a copied reveal, a same-block commit+reveal and a reused commitment all fail; reveals are bounded by the window", async function () {
    const { w, x } = await loadFixture(fixture);
    const p = await leakPolicy(w, [x.staker.address], 4);
    const e = await evidence(w, p, x);
    const salt = await commit(w, w.challenger, e);

    const copied = leakCommitmentKey(w.stranger.address, e, salt);
    await expect(reveal(w, w.stranger, e, salt)).to.be.revertedWithCustomError(w.leak, "UnknownCommitment").withArgs(copied);

    await network.provider.send("evm_setAutomine", [false]);
    try {
      const theirSalt = new Uint8Array(32).fill(9);
      const c = await w.leak.connect(w.stranger).commitLeak(...commitArgs(w.stranger.address, e, theirSalt), { gasLimit: 300_000 });
      const r = await w.leak.connect(w.stranger).revealLeak(revealArgs(e, theirSalt), { gasLimit: 1_000_000 });
      await network.provider.send("evm_mine", []);
      expect((await c.wait())!.status).to.equal(1);
      await r.wait().then(
        () => expect.fail("same-block reveal succeeded"),
        () => undefined,
      );
    } finally {
      await network.provider.send("evm_setAutomine", [true]);
    }
    await expect(reveal(w, w.challenger, e, salt)).to.emit(w.leak, "LeakProven");
    await expect(reveal(w, w.stranger, e, new Uint8Array(32).fill(9))).to.be.revertedWithCustomError(w.leak, "LeakAlreadyPunished");
    await expect(reveal(w, w.challenger, e, salt)).to.be.revertedWithCustomError(w.leak, "UnknownCommitment");
    const args = commitArgs(w.challenger.address, e, new Uint8Array(32).fill(7));
    await (await w.leak.connect(w.challenger).commitLeak(...args)).wait();
    await expect(w.leak.connect(w.challenger).commitLeak(...args)).to.be.revertedWithCustomError(w.leak, "CommitmentExists");

    // A commitment left past its window cannot be revealed any more.
    const q = await leakPolicy(w, [x.staker.address], 4);
    const eq = await evidence(w, q, x);
    const late = await commit(w, w.challenger, eq);
    await mine(Number(revealWindowBlocks) + 1);
    await expect(reveal(w, w.challenger, eq, late)).to.be.revertedWithCustomError(w.leak, "RevealWindowOver");
  });

  it("rejects a kfrag the commitment does not bind to the node, wrong proofs or nodes", async function () {
    const { w, x, y } = await loadFixture(fixture);
    const p = await leakPolicy(w, [x.staker.address, y.staker.address], 3);
    const ix = p.nodes.indexOf(x.staker.address);
    const iy = 1 - ix;
    const good = await evidence(w, p, x);
    const tampered = Uint8Array.from(p.kfrags[ix], (b, k) => (k === 100 ? b ^ 1 : b));
    const cases: [string, LeakEvidence][] = [
      ["the other node's kfrag", { ...good, kfrag: p.kfrags[iy], receipt: await signReceipt(w, x.stampSecretKey, x.staker.address, p.creator, p.policyId, p.kfrags[iy]) }],
      ["a tampered kfrag", { ...good, kfrag: tampered, receipt: await signReceipt(w, x.stampSecretKey, x.staker.address, p.creator, p.policyId, tampered) }],
      ["the right kfrag, wrong proof", { ...good, proof: p.evidenceFor(iy, good.receipt).proof }],
    ];
    for (const [name, e] of cases) {
      const salt = await commit(w, w.challenger, e);
      await expect(reveal(w, w.challenger, e, salt), name).to.be.revertedWithCustomError(w.leak, "KfragNotCommitted");
    }
    await expect(w.leak.connect(w.challenger).commitLeak(p.creator, hex(p.policyId), w.stranger.address, ethers.ZeroHash))
      .to.be.revertedWithCustomError(w.leak, "NotArrangement");
    expect(await stake(w, x)).to.equal(x.amount);
  });

  it("after the arrangement ended (revoked or expired) a leak still costs the node, at most what it earned, and pays nobody", async function () {
    const { w, x, y } = await loadFixture(fixture);
    const revoked = await leakPolicy(w, [x.staker.address, y.staker.address], 6);
    const expired = await leakPolicy(w, [x.staker.address, y.staker.address], 2);
    const eRevoked = await evidence(w, revoked, x);
    const eExpired = await evidence(w, expired, x);
    await advancePeriods(w.core, 1);
    await (await w.pm.connect(w.alice).revokeArrangement(hex(revoked.policyId), x.staker.address)).wait(); // earned 2 periods
    await advancePeriods(w.core, 2);
    expect(await w.pm.isActiveArrangement(hex(expired.policyId), x.staker.address)).to.equal(false);
    let s = x.amount;
    for (const [e, earned] of [
      [eRevoked, revoked.feeRate * 2n],
      [eExpired, expired.feeRate * 2n],
    ] as const) {
      const salt = await commit(w, w.challenger, e);
      const [aliceBefore, challengerBefore] = [await balance(w, w.alice), await balance(w, w.challenger)];
      const forfeit = min(earned, s);
      await expect(reveal(w, w.challenger, e, salt))
        .to.emit(w.leak, "LeakProven")
        .withArgs(hex(e.policyId), x.staker.address, w.challenger.address, e.policyCreator, forfeit, forfeit, 0n, 0n)
        .and.not.to.emit(w.pm, "ArrangementRevokedForLeak");
      s -= forfeit;
      expect(await stake(w, x)).to.equal(s);
      expect(await balance(w, w.alice)).to.equal(aliceBefore);
      expect(await balance(w, w.challenger)).to.equal(challengerBefore);
    }
  });

  describe("bounty survives a revocation between commit and reveal (attack 2)", function () {
    for (const how of ["revokeArrangement", "revokePolicy", "revokeWithSignature"] as const) {
      it(`${how}: the held-back part pays the committed challenger, the owner gets the rest`, async function () {
        const { w, x, y } = await loadFixture(fixture);
        const p = await leakPolicy(w, [x.staker.address, y.staker.address], 8);
        const e = await evidence(w, p, x);
        const salt = await commit(w, w.challenger, e);
        const cap = (((p.feeRate * 8n * collateralBps) / 10_000n) * challengerShareBps) / 10_000n;
        const period = await w.pm.currentPeriod();
        const refundable = p.feeRate * (p.endPeriod - period - 0n);
        const aliceBefore = await balance(w, w.alice);
        const pid = hex(p.policyId);
        if (how === "revokeArrangement") await (await w.pm.connect(w.alice).revokeArrangement(pid, x.staker.address)).wait();
        else if (how === "revokePolicy") await (await w.pm.connect(w.alice).revokePolicy(pid)).wait();
        else {
          const { chainId } = await ethers.provider.getNetwork();
          const domain = { name: "NKMS PolicyManager", version: "1", chainId, verifyingContract: await w.pm.getAddress() };
          const types = { Revocation: [{ name: "policyId", type: "bytes16" }, { name: "node", type: "address" }, { name: "nonce", type: "uint256" }, { name: "deadline", type: "uint256" }] };
          const msg = { policyId: pid, node: x.staker.address, nonce: 5n, deadline: 2n ** 40n };
          const sig = await w.alice.signTypedData(domain, types, msg);
          await (await w.pm.connect(w.stranger).revokeWithSignature(pid, x.staker.address, 5n, msg.deadline, sig)).wait();
        }
        const held = min(cap, refundable);
        const hold = await w.pm.leakHold(pid, x.staker.address);
        expect(hold.amount).to.equal(held);
        const otherRefund = how === "revokePolicy" ? refundable : 0n; // y had no open challenge
        expect(await balance(w, w.alice)).to.equal(aliceBefore + refundable - held + otherRefund);
        await expect(w.pm.releaseLeakHold(pid, x.staker.address)).to.be.revertedWithCustomError(w.pm, "HoldNotReleasable");

        const challengerBefore = await balance(w, w.challenger);
        const tx = reveal(w, w.challenger, e, salt);
        await expect(tx).to.emit(w.pm, "LeakHoldSettled");
        const rcpt = await (await tx).wait();
        const proven = rcpt!.logs.map((l) => { try { return w.leak.interface.parseLog(l); } catch { return null; } }).find((l) => l?.name === "LeakProven")!;
        const bounty = proven.args.bounty as bigint;
        expect(bounty).to.equal(min((proven.args.forfeit * challengerShareBps) / 10_000n, held));
        expect(bounty).to.be.greaterThan(0n);
        expect(await balance(w, w.challenger)).to.equal(challengerBefore + bounty);
        // Owner side: exactly what revoking returns, R, split between owner and challenger.
        expect(await balance(w, w.alice)).to.equal(aliceBefore + refundable - bounty + otherRefund);
      });
    }

    it("a griefer who commits and never reveals only delays the held part by one window; a commitment after the revocation claims nothing", async function () {
      const { w, x } = await loadFixture(fixture);
      const p = await leakPolicy(w, [x.staker.address], 8);
      const pid = hex(p.policyId);
      // The griefer has no kfrag at all: it commits to garbage naming the arrangement.
      await (await w.leak.connect(w.stranger).commitLeak(p.creator, pid, x.staker.address, hex(new Uint8Array(randomBytes(32))))).wait();
      const aliceBefore = await balance(w, w.alice);
      const period = await w.pm.currentPeriod();
      const refundable = p.feeRate * (p.endPeriod - period);
      await (await w.pm.connect(w.alice).revokeArrangement(pid, x.staker.address)).wait();
      const hold = await w.pm.leakHold(pid, x.staker.address);
      expect(hold.amount).to.be.greaterThan(0n);
      // Further commitments on the revoked arrangement open nothing (the window cannot be extended).
      const e = await evidence(w, p, x);
      const salt = await commit(w, w.challenger, e);
      expect((await w.pm.leakHold(pid, x.staker.address)).untilBlock).to.equal(hold.untilBlock);
      await mine(Number(hold.untilBlock) - (await ethers.provider.getBlockNumber()) - 1); // the next tx lands in untilBlock
      await expect(w.pm.releaseLeakHold(pid, x.staker.address)).to.be.revertedWithCustomError(w.pm, "HoldNotReleasable");
      await expect(w.pm.connect(w.stranger).releaseLeakHold(pid, x.staker.address)).to.emit(w.pm, "LeakHoldSettled");
      expect(await balance(w, w.alice)).to.equal(aliceBefore + refundable);
      // The late challenger (committed after the revocation) still proves the leak, for no bounty.
      const challengerBefore = await balance(w, w.challenger);
      await expect(reveal(w, w.challenger, e, salt)).to.emit(w.leak, "LeakProven");
      expect(await balance(w, w.challenger)).to.equal(challengerBefore);
    });

    for (const order of ["commit first", "revoke first"] as const) {
      it(`commit and revocation in the same block (${order}, automine off): the bounty is held only when the commitment came first`, async function () {
        const { w, x } = await loadFixture(fixture);
        const p = await leakPolicy(w, [x.staker.address], 8);
        const pid = hex(p.policyId);
        const e = await evidence(w, p, x);
        const salt = new Uint8Array(randomBytes(32));
        const aliceBefore = await balance(w, w.alice);
        await network.provider.send("evm_setAutomine", [false]);
        try {
          const gas = { gasLimit: 500_000 };
          const send = [
            () => w.leak.connect(w.challenger).commitLeak(...commitArgs(w.challenger.address, e, salt), gas),
            () => w.pm.connect(w.alice).revokeArrangement(pid, x.staker.address, gas),
          ];
          if (order === "revoke first") send.reverse();
          for (const s of send) await s();
          await network.provider.send("evm_mine", []);
        } finally {
          await network.provider.send("evm_setAutomine", [true]);
        }
        const held = (await w.pm.leakHold(pid, x.staker.address)).amount;
        const challengerBefore = await balance(w, w.challenger);
        await (await reveal(w, w.challenger, e, salt)).wait();
        const gained = (await balance(w, w.challenger)) - challengerBefore;
        if (order === "commit first") {
          expect(held).to.be.greaterThan(0n);
          expect(gained).to.be.greaterThan(0n);
        } else {
          expect(held).to.equal(0n);
          expect(gained).to.equal(0n);
        }
        // Either way the owner side got exactly the revocation refund.
        const refund = (await balance(w, w.alice)) - aliceBefore + gained;
        expect(refund).to.equal(p.feeRate * (p.endPeriod - (await w.pm.currentPeriod())));
      });
    }
  });

  it("leak forfeits count no violation and use no slash slot: the Adjudicator's penalty is unchanged; the guardian's pause applies", async function () {
    const { w, x } = await loadFixture(fixture);
    const adjudicator = await ethers.deployContract("Adjudicator", [w.core.escrowAddress, 1_000n * TOKEN, 500n * TOKEN, 1_000n, 2_500n]);
    const penaltyBefore = await adjudicator.penaltyFor(x.staker.address);
    // More leaks in one period than MAX_SLASHES_PER_PERIOD (2): each goes through.
    const max = await w.core.escrow.MAX_SLASHES_PER_PERIOD();
    let s = x.amount;
    for (let k = 0n; k <= max; k++) {
      const p = await leakPolicy(w, [x.staker.address], 4);
      const e = await evidence(w, p, x);
      const salt = await commit(w, w.challenger, e);
      await (await reveal(w, w.challenger, e, salt)).wait();
      expect(await stake(w, x)).to.be.lessThan(s);
      s = await stake(w, x);
    }
    expect((await w.core.escrow.slashingStateOf(x.staker.address)).violations).to.equal(0n);
    // The penalty of a later real lie depends only on the (smaller) stake, never on leaks.
    const after = await adjudicator.penaltyFor(x.staker.address);
    expect(after).to.equal(min(1_000n * TOKEN, (s * 1_000n) / 10_000n));
    expect(after <= penaltyBefore).to.equal(true);
    // And the period's slash slots are all still free for real evidence of lies.
    const slasher = w.core.accounts[13];
    await (await w.core.escrow.grantRole(await w.core.escrow.SLASHER_ROLE(), slasher.address)).wait();
    for (let k = 0n; k < max; k++) await (await w.core.escrow.connect(slasher).slash(x.staker.address, 1n, 0n)).wait();
    await expect(w.core.escrow.connect(slasher).slash(x.staker.address, 1n, 0n)).to.be.revertedWithCustomError(w.core.escrow, "SlashRateLimited");
    s = await stake(w, x);

    const guardian = w.core.accounts[15];
    await (await w.core.escrow.grantRole(await w.core.escrow.GUARDIAN_ROLE(), guardian.address)).wait();
    const p = await leakPolicy(w, [x.staker.address], 4);
    const e = await evidence(w, p, x);
    const salt = await commit(w, w.challenger, e);
    await (await w.core.escrow.connect(guardian).pauseSlashing()).wait();
    await expect(reveal(w, w.challenger, e, salt)).to.be.revertedWithCustomError(w.core.escrow, "SlashingIsPaused");
    // Role-gated: nobody else can forfeit.
    await expect(w.core.escrow.connect(w.stranger).forfeitForLeak(x.staker.address, 1n)).to.be.revertedWithCustomError(
      w.core.escrow,
      "AccessControlUnauthorizedAccount",
    );
  });

  it("leak evidence files round-trip and malformed ones are refused", async function () {
    const { w, x } = await loadFixture(fixture);
    const p = await leakPolicy(w, [x.staker.address], 2);
    const e = await evidence(w, p, x);
    expect(parseLeakEvidence(serializeLeakEvidence(e))).to.deep.equal(e);
    expect(() => parseLeakEvidence("nope")).to.throw(/not valid JSON/);
    expect(() => parseLeakEvidence(serializeLeakEvidence(e).replace(/"kfrag": "0x../, '"kfrag": "0x'))).to.throw(/310 bytes/);
    expect(() => parseLeakEvidence(serializeLeakEvidence(e).replace(/"signature": "0x../, '"signature": "0x'))).to.throw(/64 bytes/);
    const salt = new Uint8Array(32);
    expect(await w.leak.sealedLeak(w.challenger.address, ethers.keccak256(e.kfrag), hex(salt))).to.equal(sealedLeak(w.challenger.address, e, salt));
    expect(await w.leak.commitmentKey(...commitArgs(w.challenger.address, e, salt))).to.equal(leakCommitmentKey(w.challenger.address, e, salt));
  });

  it("constructor validates wiring and parameters", async function () {
    const { w } = await loadFixture(fixture);
    const F = await ethers.getContractFactory("LeakAdjudicator");
    const pm = await w.pm.getAddress();
    const e = w.core.escrowAddress;
    await expect(F.deploy(ethers.ZeroAddress, pm, 1, 1, 1)).to.be.revertedWithCustomError(F, "ZeroAddress");
    await expect(F.deploy(e, ethers.ZeroAddress, 1, 1, 1)).to.be.revertedWithCustomError(F, "ZeroAddress");
    await expect(F.deploy(e, pm, 0, 1, 1)).to.be.revertedWithCustomError(F, "InvalidParameters");
    await expect(F.deploy(e, pm, 10_001, 1, 1)).to.be.revertedWithCustomError(F, "InvalidParameters");
    await expect(F.deploy(e, pm, 1, 10_001, 1)).to.be.revertedWithCustomError(F, "InvalidParameters");
    await expect(F.deploy(e, pm, 1, 1, 0)).to.be.revertedWithCustomError(F, "InvalidParameters");
  });

  it("escrow: wasStampKey is isStampKey without the evidence-age limit; both refuse future and out-of-range periods", async function () {
    const { w, x } = await loadFixture(fixture);
    const signer = ethers.computeAddress(hex(x.stampSecretKey));
    const now = Number(await w.core.escrow.currentPeriod());
    for (const period of [now + 1, 0xffffffff]) {
      expect(await w.core.escrow.wasStampKey(x.staker.address, signer, period)).to.equal(false);
      expect(await w.core.escrow.isStampKey(x.staker.address, signer, period)).to.equal(false);
    }
    expect(await w.core.escrow.wasStampKey(x.staker.address, ethers.ZeroAddress, now)).to.equal(false);
    await advancePeriods(w.core, Number(w.core.params.slashingGracePeriods) + 1);
    expect(await w.core.escrow.isStampKey(x.staker.address, signer, now)).to.equal(false);
    expect(await w.core.escrow.wasStampKey(x.staker.address, signer, now)).to.equal(true);
  });

  it("time passes honestly: a stake unlocked past its slashing window forfeits nothing", async function () {
    const { w, x } = await loadFixture(fixture);
    const p = await leakPolicy(w, [x.staker.address], 1);
    const e = await evidence(w, p, x);
    await (await w.core.escrow.connect(x.staker).startUnlock()).wait();
    const info = await w.core.escrow.stakeOf(x.staker.address);
    await time.increaseTo((BigInt(info.unlockPeriod) + BigInt(w.core.params.slashingGracePeriods) + 1n) * BigInt(w.core.params.secondsPerPeriod));
    const salt = await commit(w, w.challenger, e);
    await expect(reveal(w, w.challenger, e, salt)).to.be.revertedWithCustomError(w.leak, "NothingToForfeit");
  });
});
