// Regression test for an outside review of issue #13 (it failed before the fix; finding, low: replacing an adjudicator strands its investigators' rewards). The
// timelock's remedy for a slasher is `revokeRole(SLASHER_ROLE, …)`, but `payInvestigator` is
// SLASHER_ROLE-only, so every reward the revoked Adjudicator still owes (already slashed from the
// node and held outside supply and reserve) can never be paid nor returned to the reserve:
// honest investigators lose it, and cap − supply − reserve stays inflated for ever.
import { expect } from "chai";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { CFRAG_OFFSETS as O, evaluationHints, evidenceHash, toContractEvidence } from "../../src/client/evidence";
import { randomPoint, referenceReencryption, withField } from "../adjudicator/fixtures";
import { deployAdjudicatorSetup, evaluateWithCommit, stamped } from "../adjudicator/setup";

describe("review: rewards owed by a replaced adjudicator", function () {
  it("an honest investigator is still paid after the Adjudicator's slasher role is revoked (e.g. replaced by a new version)", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const r = referenceReencryption();
    const evidence = stamped(s, { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) });
    await (await evaluateWithCommit(s.adjudicator, s.investigator, toContractEvidence(evidence), evaluationHints(evidence))).wait();
    const [, reward] = await s.adjudicator.records(evidenceHash(evidence));
    expect(reward).to.be.greaterThan(0n);
    // Governance replaces the Adjudicator (here the test's admin; in production the timelock).
    await (await s.core.escrow.revokeRole(await s.core.escrow.SLASHER_ROLE(), await s.adjudicator.getAddress())).wait();
    await mine(Number(await s.adjudicator.CONTEST_BLOCKS()) + 1);
    await expect(s.adjudicator.connect(s.investigator).withdrawReward([evidenceHash(evidence)])).to.changeTokenBalance(
      s.core.token,
      s.investigator,
      reward,
    );
  });
});
