// Regression test for an outside review of issue #13 (it failed before the fix; findings: per-(staker, period) records let a liar pre-empt its own slashing, and let
// anyone with an earlier commitment to ANY evidence of the period take an honest investigator's
// reward). Records were keyed by (staker, stampPeriod) and the reward goes to the
// earliest commitment to any valid evidence of that key, not to the evidence that slashed.
//  1. The liar (or a friend) stamps a junk incorrect cfrag dated P, commits and reveals it at the
//     start of P: one penalty (the reward comes back). Every lie dated P told afterwards — to any
//     number of readers — is free: the evidence each client keeps can never slash
//     (EvidenceAlreadyUsed), contrary to "a node that returns a wrong stamped cfrag is always
//     slashable from the evidence its client kept".
//  2. The liar pre-commits (it can sign a stamp dated P any time before P) to junk evidence; when an
//     honest reader's evidence slashes, the liar reveals its junk within CONTEST_BLOCKS and takes
//     the reward: the honest investigator is paid nothing, the liar's net loss is the penalty only.
import { expect } from "chai";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, randomBytes } from "ethers";
import { CFRAG_OFFSETS as O, evaluationHints, evidenceHash, toContractEvidence, type CFragEvidence } from "../../src/client/evidence";
import { evidenceCommitment } from "../../src/client/challenge";
import { randomPoint, referenceReencryption, withField } from "../adjudicator/fixtures";
import { advancePeriods } from "../shared/core-fixture";
import { TEST_POLICY_ID, deployAdjudicatorSetup, evaluateWithCommit, stamped, type AdjudicatorSetup } from "../adjudicator/setup";

describe("review: one slash per (staker, stamp period)", function () {
  function lie(s: AdjudicatorSetup, period: number): CFragEvidence {
    const r = referenceReencryption();
    return stamped(s, { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) }, TEST_POLICY_ID, period);
  }
  const stakeOf = async (s: AdjudicatorSetup) => (await s.core.escrow.stakeOf(s.node.staker.address)).amount;

  it("a friend's cheap self-report at the start of a period does not make the node's later lies in that period free", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const P = s.stampPeriod;
    const friend = s.core.accounts[7];
    const before = await stakeOf(s);
    const penalty = await s.adjudicator.penaltyFor(s.node.staker.address);
    // Pre-emption: the node's friend files a junk lie dated P.
    const junk = lie(s, P);
    await (await evaluateWithCommit(s.adjudicator, friend, toContractEvidence(junk), evaluationHints(junk))).wait();
    // The node now lies to five readers in the same period; each client keeps its evidence and files it.
    const readers = [s.investigator, ...s.core.accounts.slice(11, 15)];
    let pending = readers.map((reader) => ({ reader, evidence: lie(s, P) }));
    let slashedLies = 0;
    const reasons: string[] = [];
    // The escrow's slash rate holds some back; they slash in the next periods of their window.
    for (let round = 0; round <= Number(s.core.params.slashingGracePeriods) && pending.length > 0; round++) {
      if (round > 0) await advancePeriods(s.core, 1);
      const next: typeof pending = [];
      for (const { reader, evidence } of pending) {
        try {
          await (await evaluateWithCommit(s.adjudicator, reader, toContractEvidence(evidence), evaluationHints(evidence))).wait();
          slashedLies++;
        } catch (e) {
          const reason = (e as Error).message.match(/custom error '([^']+)'/)?.[1] ?? (e as Error).message;
          if (!reason.startsWith("SlashRateLimited")) reasons.push(reason);
          else next.push({ reader, evidence });
        }
      }
      pending = next;
    }
    const lost = before - (await stakeOf(s));
    expect(
      slashedLies,
      `${readers.length} lies after a friend's pre-emption: ${slashedLies} slashed (${reasons.join(", ")}); node lost ${lost / 10n ** 18n} NKMS in all (penalty ${penalty / 10n ** 18n}, reward returned to the friend)`,
    ).to.equal(readers.length);
    expect(lost >= BigInt(readers.length + 1) * penalty).to.equal(true);
  });

  it("an earlier commitment to other (junk) evidence of the same period cannot take the honest investigator's reward", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const P = s.stampPeriod;
    const friend = s.core.accounts[7];
    // The liar's friend pre-commits to junk the liar stamped (it needs no reader, and can be done long before P).
    const junk = lie(s, P);
    const junkSalt = hexlify(randomBytes(32));
    await (await s.adjudicator.connect(friend).commitEvidence(evidenceCommitment(evidenceHash(junk), friend.address, junkSalt))).wait();
    // An honest reader catches a real lie, commits and reveals: the node is slashed.
    const real = lie(s, P);
    await expect(evaluateWithCommit(s.adjudicator, s.investigator, toContractEvidence(real), evaluationHints(real))).to.emit(
      s.adjudicator,
      "IncorrectCFragSlashed",
    );
    // The friend reveals the junk within CONTEST_BLOCKS: the record (and reward) is reassigned.
    await (await s.adjudicator.connect(friend).evaluateCFrag(toContractEvidence(junk), evaluationHints(junk), junkSalt)).wait();
    await mine(Number(await s.adjudicator.CONTEST_BLOCKS()) + 1);
    const [, reward] = await s.adjudicator.records(evidenceHash(real));
    expect(reward).to.be.greaterThan(0n);
    await expect(s.adjudicator.connect(s.investigator).withdrawReward([evidenceHash(real)])).to.changeTokenBalance(
      s.core.token,
      s.investigator,
      reward,
    );
  });
});
