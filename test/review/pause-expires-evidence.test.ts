// Regression test for an outside review of issue #13 (it failed before the fix; finding: a guardian pause is an amnesty). The escrow extends an unlocking stake's
// slashing window by the pause (`slashingDeadline`, `slashableUntil`), but the Adjudicator counts a
// stamp only while `escrow.isStampKey` does, and `isStampKey` uses the bare
// `currentPeriod − G .. currentPeriod` window, ignoring the pause. A G-period pause therefore
// expires every stamp made in the G periods before it: evidence an investigator committed to
// before the pause, and that the escrow itself still reports as inside its deadline, can never
// slash. A liar colluding with the guardian (or merely lucky to lie before an emergency pause) escapes.
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, randomBytes } from "ethers";
import { ethers } from "hardhat";
import { CFRAG_OFFSETS as O, evaluationHints, evidenceHash, toContractEvidence } from "../../src/client/evidence";
import { evidenceCommitment } from "../../src/client/challenge";
import { advancePeriods } from "../shared/core-fixture";
import { randomPoint, referenceReencryption, withField } from "../adjudicator/fixtures";
import { TEST_POLICY_ID, deployAdjudicatorSetup, stamped } from "../adjudicator/setup";

describe("review: a guardian pause must not expire evidence", function () {
  it("a lie stamped one period before a G-period pause still slashes after the pause (escrow.slashingDeadline says it may)", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const { escrow } = s.core;
    const guardian = s.core.accounts[18];
    await (await escrow.grantRole(await escrow.GUARDIAN_ROLE(), guardian.address)).wait();
    const P = s.stampPeriod;
    const r = referenceReencryption();
    const lie = stamped(s, { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) }, TEST_POLICY_ID, P);
    // The reader's client keeps the evidence and commits to it at once.
    const salt = hexlify(randomBytes(32));
    await (await s.adjudicator.connect(s.investigator).commitEvidence(evidenceCommitment(evidenceHash(lie), s.investigator.address, salt))).wait();

    // One period later (the stamp has through period P + G to be filed) the guardian pauses.
    await advancePeriods(s.core, 1);
    await (await escrow.connect(guardian).pauseSlashing()).wait();
    const [, pauseEnd] = await escrow.pauseState();
    await time.increaseTo(pauseEnd);
    const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
    // The escrow itself says evidence of period P may still slash…
    expect(await escrow.slashingDeadline(P)).to.be.greaterThan(now);
    // …but the Adjudicator no longer counts the stamp: the lie is never punished.
    await expect(s.adjudicator.connect(s.investigator).evaluateCFrag(toContractEvidence(lie), evaluationHints(lie), salt)).to.emit(
      s.adjudicator,
      "IncorrectCFragSlashed",
    );
  });
});
