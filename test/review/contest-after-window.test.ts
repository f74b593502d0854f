// Regression test for an outside review of issue #13 (it failed before the fix; finding, low: the contest window is cut short by the stamp's slashing window). A reveal
// with an earlier commitment takes the reward over only while the evidence's stamp still counts
// (`_checkStamp` → `isStampKey` runs on the reassign path too). A copier who gets its reveal mined
// first near the end of the stamp's window (e.g. the honest reveal held back by a builder for a
// few blocks across the period boundary) keeps the reward, although the honest investigator
// committed earlier and reveals well within CONTEST_BLOCKS of the copier's commitment.
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, randomBytes } from "ethers";
import { CFRAG_OFFSETS as O, evaluationHints, evidenceHash, toContractEvidence } from "../../src/client/evidence";
import { evidenceCommitment } from "../../src/client/challenge";
import { randomPoint, referenceReencryption, withField } from "../adjudicator/fixtures";
import { TEST_POLICY_ID, deployAdjudicatorSetup, stamped } from "../adjudicator/setup";

describe("review: the earliest commitment keeps its contest window", function () {
  it("an earlier commitment revealed a few blocks after a copier's slash, across the stamp window's end, still takes the reward", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const copier = s.core.accounts[6];
    const T = BigInt(s.core.params.secondsPerPeriod);
    const G = BigInt(s.core.params.slashingGracePeriods);
    const P = s.stampPeriod;
    const r = referenceReencryption();
    const evidence = stamped(s, { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) }, TEST_POLICY_ID, P);
    const args = toContractEvidence(evidence);
    const hints = evaluationHints(evidence);
    const hash = evidenceHash(evidence);
    // The honest investigator commits early.
    const salt = hexlify(randomBytes(32));
    await (await s.adjudicator.connect(s.investigator).commitEvidence(evidenceCommitment(hash, s.investigator.address, salt))).wait();
    // Near the end of the stamp's window the honest reveal is broadcast; a copier sees it, commits and gets its own reveal mined first.
    const windowEnd = (BigInt(P) + G + 1n) * T;
    await time.setNextBlockTimestamp(windowEnd - 10n);
    const copierSalt = hexlify(randomBytes(32));
    await (await s.adjudicator.connect(copier).commitEvidence(evidenceCommitment(hash, copier.address, copierSalt))).wait();
    await time.setNextBlockTimestamp(windowEnd - 5n);
    await expect(s.adjudicator.connect(copier).evaluateCFrag(args, hints, copierSalt)).to.emit(s.adjudicator, "IncorrectCFragSlashed");
    // The honest reveal lands two blocks later, in the next period.
    await time.setNextBlockTimestamp(windowEnd + 1n);
    await expect(s.adjudicator.connect(s.investigator).evaluateCFrag(args, hints, salt)).to.emit(s.adjudicator, "RewardReassigned");
    const [owner] = await s.adjudicator.records(evidenceHash(evidence));
    expect(owner).to.equal(s.investigator.address);
  });
});
