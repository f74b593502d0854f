// Issue #13, attack 4 "leaked stamp keys", on the real escrow and Adjudicator with real cfrags.
// Before the fix (commit "tests reproducing it on today's code") a node could not rotate for G
// periods, a rotated-away key kept slashing, distinct forged stamps slashed repeatedly and the
// staker could not cut off its operator for `minBondSeconds`. Now:
//  - stamps carry their period; a key counts for stamps dated in its window [validFrom, R + 1)
//    when retired in period R, and only within currentPeriod − G .. currentPeriod;
//  - at most MAX_SLASHES_PER_PERIOD slashes of a staker per period (evidence beyond waits);
//  - bondOperator(0) cuts off the operator and its stamp key at once, the anti-churn delay moves
//    to the next bond, and a retired key can never be registered again.
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { CFRAG_OFFSETS as O, evaluationHints, evidenceHash, toContractEvidence, type CFragEvidence } from "../../src/client/evidence";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { advancePeriods, registerNode } from "../shared/core-fixture";
import { randomPoint, referenceReencryption, withField } from "./fixtures";
import { TEST_POLICY_ID, deployAdjudicatorSetup, evaluateWithCommit, stamped, type AdjudicatorSetup } from "./setup";

describe("adjudicator: a leaked stamp key (issue #13, attack 4)", function () {
  function evaluate(s: AdjudicatorSetup, evidence: CFragEvidence) {
    return evaluateWithCommit(s.adjudicator, s.investigator, toContractEvidence(evidence), evaluationHints(evidence));
  }

  /** An incorrect cfrag stamped with `stampSecretKey` (default: the node's first key), dated `period`. */
  function forged(s: AdjudicatorSetup, period: number, stampSecretKey = s.stampSecretKey): CFragEvidence {
    const r = referenceReencryption();
    const node = { ...s.node, verifyingKey: secp256k1.getPublicKey(stampSecretKey, true) };
    const cfrag = withField(r.cfrag, O.e2, randomPoint().toBytes(true));
    return stamped({ ...s, node, stampSecretKey }, { ...r, cfrag }, TEST_POLICY_ID, period);
  }

  const signerOf = (secret: Uint8Array) => ethers.computeAddress(ethers.hexlify(secp256k1.getPublicKey(secret, true)));
  const period = async (s: AdjudicatorSetup) => Number(await s.core.escrow.currentPeriod());

  async function rotateKey(s: AdjudicatorSetup, secret = secp256k1.utils.randomSecretKey()): Promise<Uint8Array> {
    await registerNode(s.core, s.node.staker.address, s.node.operator, { endpoint: s.node.endpoint, stampSecretKey: secret });
    return secret;
  }

  it("the operator can rotate the stamp key at once after a leak; the leaked key then counts only through the rotation period", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const staker = s.node.staker.address;
    const leaked = Uint8Array.from(s.stampSecretKey);
    const R = await period(s);
    const fresh = secp256k1.utils.randomSecretKey();
    await registerNode(s.core, staker, s.node.operator, { endpoint: s.node.endpoint, stampSecretKey: fresh });
    const events = await s.core.escrow.queryFilter(s.core.escrow.filters.StampKeyRetired(staker));
    expect(events.map((e) => [e.args.signer, e.args.validFrom, e.args.validUntil])).to.deep.equal([[signerOf(leaked), BigInt(R), BigInt(R + 1)]]);
    expect(await s.core.escrow.isStampKey(staker, signerOf(leaked), R)).to.equal(true);
    expect(await s.core.escrow.isStampKey(staker, signerOf(fresh), R)).to.equal(true);
    await advancePeriods(s.core, 1);
    // Stamps the leaked key forges dated after its retirement period never count…
    await expect(evaluate(s, forged(s, R + 1, leaked))).to.be.revertedWithCustomError(s.adjudicator, "InvalidStampSignature");
    expect(await s.core.escrow.isStampKey(staker, signerOf(leaked), R + 1)).to.equal(false);
    // …the new key's do, and a stamp dated the rotation period still does (so lying then
    // rotating in the same period does not escape); then the period's slash rate is reached.
    await expect(evaluate(s, forged(s, R + 1, fresh))).to.emit(s.adjudicator, "IncorrectCFragSlashed");
    await expect(evaluate(s, forged(s, R, leaked))).to.emit(s.adjudicator, "IncorrectCFragSlashed");
    await expect(evaluate(s, forged(s, R, fresh))).to.be.revertedWithCustomError(s.core.escrow, "SlashRateLimited").withArgs(staker, R + 2);
    // The new key cannot back-date stamps to before its window.
    expect(await s.core.escrow.isStampKey(staker, signerOf(fresh), R - 1)).to.equal(false);
    // A retired key can never come back (its window would reopen).
    await expect(rotateKey(s, leaked)).to.be.revertedWithCustomError(s.core.escrow, "StampKeyWasRetired").withArgs(signerOf(leaked));
    // Re-registering the current key (a new endpoint) changes nothing.
    const activations = async () => (await s.core.escrow.queryFilter(s.core.escrow.filters.StampKeyActivated(staker))).length;
    const before = await activations();
    await rotateKey(s, fresh);
    expect(await activations()).to.equal(before);
    expect(await s.core.escrow.isStampKey(staker, signerOf(fresh), R)).to.equal(true);
  });

  it("many distinct forged stamps under one leaked key: at most MAX_SLASHES_PER_PERIOD slashes per period, only within the slashing window", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const staker = s.node.staker.address;
    const grace = s.core.params.slashingGracePeriods;
    const rate = Number(await s.core.escrow.MAX_SLASHES_PER_PERIOD());
    const since = await period(s);
    await advancePeriods(s.core, grace + 1);
    const now = await period(s);
    let slashes = 0;
    for (let p = since; p <= now + 1; p++) {
      for (let copy = 0; copy < 3; copy++) {
        const evidence = forged(s, p);
        const tx = evaluate(s, evidence);
        if (p > now || p + grace < now) {
          // Future-dated, or older than G periods: never counts.
          await expect(tx, `period ${p}`).to.be.revertedWithCustomError(s.adjudicator, "InvalidStampSignature");
        } else if (slashes < rate) {
          await expect(tx, `period ${p}`).to.emit(s.adjudicator, "IncorrectCFragSlashed");
          slashes++;
          // The same stamped message never slashes twice.
          await expect(evaluate(s, evidence)).to.be.revertedWithCustomError(s.adjudicator, "EvidenceAlreadyUsed");
        } else {
          // The period's slash rate is reached: the evidence is not spent, it waits a period.
          await expect(tx, `period ${p} copy ${copy}`).to.be.revertedWithCustomError(s.core.escrow, "SlashRateLimited").withArgs(staker, now + 1);
        }
      }
    }
    expect(slashes).to.equal(rate);
    expect(await s.adjudicator.violations(staker)).to.equal(BigInt(rate));
  });

  it("evidence the slash rate held back slashes in a later period of its window (a liar cannot pre-empt its own slashing)", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const staker = s.node.staker.address;
    const rate = Number(await s.core.escrow.MAX_SLASHES_PER_PERIOD());
    const P = await period(s);
    // The liar's friend files junk first, up to the rate…
    for (let i = 0; i < rate; i++) await expect(evaluate(s, forged(s, P))).to.emit(s.adjudicator, "IncorrectCFragSlashed");
    // …the investigator's real evidence of a lie told in P is held back, not lost…
    const lie = forged(s, P);
    await expect(evaluate(s, lie)).to.be.revertedWithCustomError(s.core.escrow, "SlashRateLimited");
    await advancePeriods(s.core, 1);
    // …and slashes the next period (within the lie's window), paying the investigator.
    await expect(evaluate(s, lie)).to.emit(s.adjudicator, "IncorrectCFragSlashed").withArgs(evidenceHash(lie), staker, s.investigator.address, anyValue, anyValue, anyValue, BigInt(rate + 1));
  });

  it("the staker's cold key cuts off a compromised operator and stamp key at once; the anti-churn delay applies to the next bond", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const { escrow } = s.core;
    const staker = s.node.staker;
    const R = await period(s);
    // A lie told just before the cut-off, in the same period, stays slashable.
    const lie = forged(s, R);
    await expect(escrow.connect(staker).bondOperator(ethers.ZeroAddress))
      .to.emit(escrow, "OperatorBonded").withArgs(staker.address, ethers.ZeroAddress, s.node.operator.address)
      .and.to.emit(escrow, "StampKeyRetired").withArgs(staker.address, signerOf(s.stampSecretKey), R, R + 1);
    expect(await escrow.operatorOf(staker.address)).to.equal(ethers.ZeroAddress);
    expect(await escrow.isRegistered(staker.address)).to.equal(false);
    await expect(evaluate(s, lie)).to.emit(s.adjudicator, "IncorrectCFragSlashed");
    await advancePeriods(s.core, 1);
    await expect(evaluate(s, forged(s, R + 1))).to.be.revertedWithCustomError(s.adjudicator, "InvalidStampSignature");
    // The next bond waits for minBondSeconds after the last one.
    const [, , , , , , , newOperator] = s.core.accounts;
    const bondedAt = await escrow.bondedAt(s.node.operator.address);
    expect(bondedAt).to.equal(0n); // the bond is gone
    await expect(escrow.connect(staker).bondOperator(newOperator.address)).to.be.revertedWithCustomError(escrow, "BondTooRecent");
    await time.increase(s.core.params.minBondSeconds);
    await expect(escrow.connect(staker).bondOperator(newOperator.address)).to.emit(escrow, "OperatorProposed");
    // The retired key cannot be registered again; a fresh one can.
    await expect(
      registerNode(s.core, staker.address, newOperator, { stampSecretKey: s.stampSecretKey }),
    ).to.be.revertedWithCustomError(escrow, "StampKeyWasRetired");
    const fresh = secp256k1.utils.randomSecretKey();
    await registerNode(s.core, staker.address, newOperator, { stampSecretKey: fresh });
    expect(await escrow.isStampKey(staker.address, signerOf(fresh), await period(s))).to.equal(true);
  });

  it("unbonding to zero is allowed right after a bond, and even with nothing but a proposal", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const { escrow } = s.core;
    const [, , , , , , , , other] = s.core.accounts;
    await escrow.connect(s.node.staker).bondOperator(ethers.ZeroAddress);
    await time.increase(s.core.params.minBondSeconds);
    await escrow.connect(s.node.staker).bondOperator(other.address);
    await expect(escrow.connect(s.node.staker).bondOperator(ethers.ZeroAddress)).to.emit(escrow, "OperatorProposed").withArgs(s.node.staker.address, ethers.ZeroAddress);
  });
});
