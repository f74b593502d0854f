/**
 * The guardian's pause reaches the Adjudicator: while slashing is paused, incorrect-cfrag
 * evidence cannot slash, and since the evaluation reverts the evidence is not spent — the same
 * evidence slashes once the pause is over.
 */
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { CFRAG_OFFSETS as O, evaluationHints, toContractEvidence } from "../../src/client/evidence";
import { randomPoint, referenceReencryption, withField } from "./fixtures";
import { deployAdjudicatorSetup, evaluateWithCommit, stamped } from "./setup";

describe("adjudicator: a guardian's slashing pause", () => {
  it("holds evidence back without spending it; it slashes after the pause", async () => {
    const s = await loadFixture(deployAdjudicatorSetup);
    const { escrow } = s.core;
    const guardian = s.core.accounts[18];
    await (await escrow.grantRole(await escrow.GUARDIAN_ROLE(), guardian.address)).wait();
    const r = referenceReencryption();
    const evidence = stamped(s, { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) });
    const evaluate = () => evaluateWithCommit(s.adjudicator, s.investigator, toContractEvidence(evidence), evaluationHints(evidence));
    const pause = await escrow.connect(guardian).pauseSlashing();
    await expect(evaluate()).to.be.revertedWithCustomError(escrow, "SlashingIsPaused");
    const [, end] = await escrow.pauseState();
    expect(end).to.be.greaterThan(BigInt((await pause.getBlock())!.timestamp));
    await time.increaseTo(end);
    await expect(evaluate()).to.emit(escrow, "Slashed");
  });

  it("a pause never voids evidence: a stamp whose age window met the pause stays usable the pause's length longer", async () => {
    const s = await loadFixture(deployAdjudicatorSetup);
    const { escrow } = s.core;
    const guardian = s.core.accounts[18];
    await (await escrow.grantRole(await escrow.GUARDIAN_ROLE(), guardian.address)).wait();
    const r = referenceReencryption();
    const evidence = stamped(s, { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) });
    // The guardian pauses for G periods right after the lie: without the extension the stamp,
    // dated s.stampPeriod, would be older than G periods when the pause ends.
    await (await escrow.connect(guardian).pauseSlashing()).wait();
    // After the pause, at the start of period stampPeriod + G + 1: older than G periods.
    const grace = BigInt(s.core.params.slashingGracePeriods);
    await time.increaseTo((BigInt(s.stampPeriod) + grace + 1n) * BigInt(s.core.params.secondsPerPeriod));
    const [, end] = await escrow.pauseState();
    expect(BigInt(await time.latest())).to.be.greaterThan(end);
    await expect(evaluateWithCommit(s.adjudicator, s.investigator, toContractEvidence(evidence), evaluationHints(evidence))).to.emit(escrow, "Slashed");
  });
});
