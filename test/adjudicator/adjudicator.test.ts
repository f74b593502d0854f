import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  CFragEvidence,
  CFRAG_OFFSETS as O,
  CAPSULE_OFFSETS,
  EvaluationHints,
  EvidenceError,
  evaluationHints,
  evidenceHash,
  signStamp,
  parseEvidence,
  serializeEvidence,
  toContractEvidence,
} from "../../src/client/evidence";
import { advancePeriods, randomCompressedKey, stakeNode } from "../shared/core-fixture";
import {
  Reencryption,
  ourReencryption,
  randomPoint,
  referenceReencryption,
  oursVerifies,
  referenceVerifies,
  scalarBytes,
  withField,
} from "./fixtures";
import { ADJUDICATOR_PARAMS, AdjudicatorSetup, TEST_POLICY_CREATOR, TEST_POLICY_ID, deployAdjudicatorSetup, evaluateWithCommit, nextStampPeriod, stamped } from "./setup";
import { mine } from "@nomicfoundation/hardhat-network-helpers";

const { basePenalty, penaltyHistoryCoefficient, maxPenaltyBps, investigatorShareBps } = ADJUDICATOR_PARAMS;
const NO_SALT = ethers.ZeroHash;
/** The investigator's reward, charged on top of the penalty. */
const rewardOf = (penalty: bigint) => (penalty * investigatorShareBps) / 10_000n;

describe("adjudicator: Adjudicator.evaluateCFrag with the real staking escrow", function () {
  async function fixture(): Promise<AdjudicatorSetup> {
    // 48 stamp periods, usable for a long slashing window: the escrow slashes a staker at most
    // MAX_SLASHES_PER_PERIOD times per period, and these tests slash many times.
    return deployAdjudicatorSetup(ADJUDICATOR_PARAMS, { stampPeriods: 48, slashingGracePeriods: 1_000 });
  }

  /** Files `evidence`; when the period's slash rate is reached, files it again the next period. */
  async function evaluate(s: AdjudicatorSetup, evidence: CFragEvidence, allowInvalid = false) {
    const hints = evaluationHints(evidence, { allowInvalidSignatures: allowInvalid });
    const send = () => evaluateWithCommit(s.adjudicator, s.investigator, toContractEvidence(evidence), hints);
    try {
      return await send();
    } catch (e) {
      if (!String((e as Error).message).includes("SlashRateLimited")) throw e;
      await advancePeriods(s.core, 1);
      return send();
    }
  }

  /** A malicious node's incorrect cfrag: E2 replaced, then stamped by the node. */
  function incorrect(s: AdjudicatorSetup, r = referenceReencryption(), stampPeriod = nextStampPeriod(s)): CFragEvidence {
    return stamped(s, { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) }, TEST_POLICY_ID, stampPeriod);
  }

  it("a correct cfrag (reference and src/umbral) is judged correct and slashes nothing", async function () {
    const s = await loadFixture(fixture);
    for (const r of [referenceReencryption(), ourReencryption()]) {
      const evidence = stamped(s, r);
      const hints = evaluationHints(evidence);
      expect(await s.adjudicator.evaluateCFrag.staticCall(toContractEvidence(evidence), hints, NO_SALT)).to.equal(true);
      await expect(evaluate(s, evidence))
        .to.emit(s.adjudicator, "CFragJudgedCorrect")
        .withArgs(evidenceHash(evidence), s.node.staker.address, s.investigator.address)
        .and.not.to.emit(s.adjudicator, "IncorrectCFragSlashed");
    }
    expect((await s.core.escrow.stakeOf(s.node.staker.address)).amount).to.equal(s.node.amount);
    expect(await s.adjudicator.violations(s.node.staker.address)).to.equal(0n);
  });

  it("an incorrect cfrag slashes penalty + reward (the reward on top), credits the investigator (pull, after the contest window) and works once", async function () {
    const s = await loadFixture(fixture);
    const evidence = incorrect(s);
    const stake = s.node.amount;
    const penalty = basePenalty < (stake * maxPenaltyBps) / 10_000n ? basePenalty : (stake * maxPenaltyBps) / 10_000n;
    const reward = rewardOf(penalty);
    expect(await s.adjudicator.penaltyFor(s.node.staker.address)).to.equal(penalty);

    const hash = evidenceHash(evidence);
    const reserveBefore = await s.core.escrow.reserve();
    await expect(evaluate(s, evidence))
      .to.emit(s.adjudicator, "IncorrectCFragSlashed")
      .withArgs(hash, s.node.staker.address, s.investigator.address, penalty, penalty + reward, reward, 1n)
      .and.to.emit(s.core.escrow, "Slashed")
      .withArgs(s.node.staker.address, penalty + reward, reward, 1n);
    // The node loses the full penalty to the reserve, and the reward besides.
    expect((await s.core.escrow.stakeOf(s.node.staker.address)).amount).to.equal(stake - penalty - reward);
    expect(await s.core.escrow.reserve()).to.equal(reserveBefore + penalty);
    expect((await s.adjudicator.records(hash)).slice(0, 2)).to.deep.equal([s.investigator.address, reward]);
    expect(await s.core.escrow.owedInvestigatorRewards()).to.equal(reward);
    expect(await s.adjudicator.evidenceUsed(hash)).to.equal(true);

    const balanceBefore = await s.core.token.balanceOf(s.investigator.address);
    const [, , commitBlock] = await s.adjudicator.records(hash);
    const finalAfter = commitBlock + (await s.adjudicator.CONTEST_BLOCKS());
    await expect(s.adjudicator.connect(s.investigator).withdrawReward([hash]))
      .to.be.revertedWithCustomError(s.adjudicator, "RewardNotFinal")
      .withArgs(hash, finalAfter);
    await mine(finalAfter - BigInt(await ethers.provider.getBlockNumber()));
    await expect(s.adjudicator.connect(s.investigator).withdrawReward([hash]))
      .to.emit(s.adjudicator, "RewardWithdrawn")
      .withArgs(hash, s.investigator.address, reward)
      .and.to.emit(s.core.escrow, "InvestigatorPaid")
      .withArgs(s.investigator.address, reward);
    expect(await s.core.token.balanceOf(s.investigator.address)).to.equal(balanceBefore + reward);

    // Withdrawn, the evidence still cannot slash again.
    expect(await s.adjudicator.evidenceUsed(hash)).to.equal(true);
    await expect(evaluate(s, evidence)).to.be.revertedWithCustomError(s.adjudicator, "EvidenceAlreadyUsed").withArgs(hash);
  });

  it("rewards are pulled only by their investigator, once, for known evidence; the escrow pays only what is owed", async function () {
    const s = await loadFixture(fixture);
    const { token, escrow, params } = s.core;
    const other = s.core.accounts[6];
    const first = incorrect(s);
    const second = incorrect(s);
    await (await evaluate(s, first)).wait();
    await (await evaluateWithCommit(s.adjudicator, other, toContractEvidence(second), evaluationHints(second))).wait();
    await mine(Number(await s.adjudicator.CONTEST_BLOCKS()));
    const [h1, h2] = [evidenceHash(first), evidenceHash(second)];
    const [, r1] = await s.adjudicator.records(h1);
    const [, r2] = await s.adjudicator.records(h2);
    expect(r1 > 0n && r2 > 0n).to.equal(true);
    // Conservation: what the records owe is exactly what supply and reserve leave of the cap.
    expect(await escrow.owedInvestigatorRewards()).to.equal(r1 + r2);
    expect((await token.totalSupply()) + (await escrow.reserve()) + r1 + r2).to.equal(params.cap);

    const unknown = "0x" + "ab".repeat(32);
    await expect(s.adjudicator.connect(other).withdrawReward([h1]))
      .to.be.revertedWithCustomError(s.adjudicator, "NotInvestigator")
      .withArgs(h1, s.investigator.address);
    await expect(s.adjudicator.connect(s.investigator).withdrawReward([h1, unknown]))
      .to.be.revertedWithCustomError(s.adjudicator, "UnknownEvidence")
      .withArgs(unknown);
    await expect(s.adjudicator.connect(s.investigator).withdrawReward([h1, h1]))
      .to.be.revertedWithCustomError(s.adjudicator, "RewardAlreadyWithdrawn")
      .withArgs(h1);
    await expect(s.adjudicator.connect(s.investigator).withdrawReward([])).to.be.revertedWithCustomError(
      s.adjudicator,
      "NothingToWithdraw",
    );
    // Failed attempts moved nothing.
    expect((await s.adjudicator.records(h1)).slice(0, 2)).to.deep.equal([s.investigator.address, r1]);

    await expect(s.adjudicator.connect(s.investigator).withdrawReward([h1])).to.changeTokenBalance(token, s.investigator, r1);
    await expect(s.adjudicator.connect(s.investigator).withdrawReward([h1]))
      .to.be.revertedWithCustomError(s.adjudicator, "RewardAlreadyWithdrawn")
      .withArgs(h1);
    expect((await s.adjudicator.records(h1)).slice(0, 2)).to.deep.equal([s.investigator.address, 0n]);
    await expect(s.adjudicator.connect(other).withdrawReward([h2])).to.changeTokenBalance(token, other, r2);

    // Everything owed is paid: supply + reserve is the cap again, and nothing more can be minted.
    expect(await escrow.owedInvestigatorRewards()).to.equal(0n);
    expect((await token.totalSupply()) + (await escrow.reserve())).to.equal(params.cap);
    // Nobody else can pay anything: only what the caller's own slashes withheld.
    await expect(escrow.payInvestigator(other.address, 1n)).to.be.revertedWithCustomError(escrow, "RewardNotOwed").withArgs(1n, 0n);
  });

  it("the escrow's violation count (shared with every slasher) drives the history term", async function () {
    const s = await loadFixture(fixture);
    const staker = s.node.staker.address;
    expect(await s.core.escrow.slashingStateOf(staker)).to.deep.equal([s.node.amount, 0n]);
    await (await evaluate(s, incorrect(s))).wait();
    let stake = s.node.amount - basePenalty - rewardOf(basePenalty);
    expect(await s.core.escrow.slashingStateOf(staker)).to.deep.equal([stake, 1n]);
    expect(await s.adjudicator.penaltyFor(staker)).to.equal(basePenalty + penaltyHistoryCoefficient);
    // Another slasher slashes too: one history for the node (leak forfeits do not count, see
    // test/adjudicator/leak.test.ts).
    const leakSlasher = s.core.accounts[7];
    await (await s.core.escrow.grantRole(await s.core.escrow.SLASHER_ROLE(), leakSlasher.address)).wait();
    await (await s.core.escrow.connect(leakSlasher).slash(staker, 1n, 0n)).wait();
    stake -= 1n;
    expect(await s.adjudicator.violations(staker)).to.equal(2n);
    const penalty = basePenalty + 2n * penaltyHistoryCoefficient;
    expect(await s.adjudicator.penaltyFor(staker)).to.equal(penalty);
    const evidence = incorrect(s);
    await expect(evaluate(s, evidence))
      .to.emit(s.adjudicator, "IncorrectCFragSlashed")
      .withArgs(evidenceHash(evidence), staker, s.investigator.address, penalty, penalty + rewardOf(penalty), rewardOf(penalty), 3n);
    expect(await s.core.escrow.slashingStateOf(staker)).to.deep.equal([stake - penalty - rewardOf(penalty), 3n]);
  });

  it("repeat offences cost base + history·violations until the cap of maxPenaltyBps of the stake", async function () {
    const s = await loadFixture(fixture);
    const cap = (stake: bigint) => (stake * maxPenaltyBps) / 10_000n;
    let stake = s.node.amount;
    for (let violations = 0n; violations < 4n; violations++) {
      const uncapped = basePenalty + penaltyHistoryCoefficient * violations;
      const expected = uncapped < cap(stake) ? uncapped : cap(stake);
      expect(await s.adjudicator.penaltyFor(s.node.staker.address)).to.equal(expected);
      await (await evaluate(s, incorrect(s))).wait();
      stake -= expected + rewardOf(expected);
      expect((await s.core.escrow.stakeOf(s.node.staker.address)).amount).to.equal(stake);
      expect(await s.adjudicator.violations(s.node.staker.address)).to.equal(violations + 1n);
    }
    // By now the history term exceeds the cap (10 % of 150k = 15k > 1k + 500·3, so raise the stakes):
    const big = await deployAdjudicatorSetup({ ...ADJUDICATOR_PARAMS, basePenalty: 10n ** 30n });
    expect(await big.adjudicator.penaltyFor(big.node.staker.address)).to.equal(cap(big.node.amount));
  });

  it("every single-field tampering of stamped evidence is rejected (or, where the proof ignores it, still correct)", async function () {
    const s = await loadFixture(fixture);
    const good = stamped(s, referenceReencryption());
    const flip = (data: Uint8Array, offset: number) => {
      const out = new Uint8Array(data);
      out[offset] ^= 0x01;
      return out;
    };
    // Tampering makes the cfrag incorrect (proof or kfrag signature), and the node never
    // stamped the tampered evidence: the stamp check rejects it. Nobody is slashed.
    const cases: [string, CFragEvidence][] = [];
    for (const [field, offset] of Object.entries(O)) cases.push([`cfrag.${field}`, { ...good, cfrag: flip(good.cfrag, offset + 5) }]);
    for (const [field, offset] of Object.entries(CAPSULE_OFFSETS)) {
      if (field === "s") continue; // s is not part of the proof; see below
      cases.push([`capsule.${field}`, { ...good, capsule: withField(good.capsule, offset, randomPoint().toBytes(true)) }]);
    }
    cases.push(["delegatingKey", { ...good, delegatingKey: randomCompressedKey() }]);
    cases.push(["receivingKey", { ...good, receivingKey: randomCompressedKey() }]);
    cases.push(["verifyingKey", { ...good, verifyingKey: randomCompressedKey() }]);
    // On an incorrect cfrag the stamp matters: each stamped field changed breaks it.
    const bad = incorrect(s);
    cases.push(["stampSignature", { ...bad, stampSignature: flip(bad.stampSignature, 40) }]);
    cases.push(["policyId", { ...bad, policyId: flip(bad.policyId, 3) }]);
    cases.push(["policyCreator", { ...bad, policyCreator: s.core.accounts[9].address }]);
    cases.push(["stampPeriod", { ...bad, stampPeriod: bad.stampPeriod === s.stampPeriod ? bad.stampPeriod - 1 : bad.stampPeriod + 1 }]);
    cases.push(["bad.capsule.s", { ...bad, capsule: flip(bad.capsule, CAPSULE_OFFSETS.s + 5) }]);
    for (const [name, evidence] of cases) {
      await expect(evaluate(s, evidence, true), name).to.be.revertedWithCustomError(s.adjudicator, "InvalidStampSignature");
    }
    // The capsule's s does not enter the proof: a correct cfrag stays correct, nobody is slashed.
    const sFlipped = { ...good, capsule: flip(good.capsule, CAPSULE_OFFSETS.s + 5) };
    await expect(evaluate(s, sFlipped, true)).to.emit(s.adjudicator, "CFragJudgedCorrect");
    // Accusing another node with this node's stamp:
    const other = await stakeNode(s.core, s.core.accounts[2], s.core.accounts[3]);
    await expect(
      evaluate(s, { ...bad, staker: other.staker.address, nodeVerifyingKey: other.verifyingKey }, true),
    ).to.be.revertedWithCustomError(s.adjudicator, "InvalidStampSignature");
    await expect(evaluate(s, { ...bad, staker: s.core.accounts[9].address }, true))
      .to.be.revertedWithCustomError(s.adjudicator, "InvalidStampSignature");
    expect(await s.adjudicator.violations(s.node.staker.address)).to.equal(0n);
  });

  it("a node stamping a tampered cfrag is slashed, whether the proof or the kfrag signature fails", async function () {
    const s = await loadFixture(fixture);
    const r = referenceReencryption();
    const slashes: [string, Reencryption][] = [
      ["e1", { ...r, cfrag: withField(r.cfrag, O.e1, randomPoint().toBytes(true)) }],
      ["v1", { ...r, cfrag: withField(r.cfrag, O.v1, randomPoint().toBytes(true)) }],
      ["e2", { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) }],
      ["v2", { ...r, cfrag: withField(r.cfrag, O.v2, randomPoint().toBytes(true)) }],
      ["u2", { ...r, cfrag: withField(r.cfrag, O.u2, randomPoint().toBytes(true)) }],
      ["z", { ...r, cfrag: withField(r.cfrag, O.z, scalarBytes(12345n)) }],
      // Fields under the kfrag signature: the stamp vouches for the keys, so a signature that
      // fails under them is the node's fault too.
      ["id", { ...r, cfrag: withField(r.cfrag, O.id, secp256k1.utils.randomSecretKey()) }],
      ["precursor", { ...r, cfrag: withField(r.cfrag, O.precursor, randomPoint().toBytes(true)) }],
      ["u1", { ...r, cfrag: withField(r.cfrag, O.u1, randomPoint().toBytes(true)) }],
      ["kfragSignature", { ...r, cfrag: withField(r.cfrag, O.kfragSignature + 10, new Uint8Array([7, 7, 7])) }],
      ["stamped wrong delegatingKey", { ...r, delegatingKey: randomCompressedKey() }],
      ["stamped wrong receivingKey", { ...r, receivingKey: randomCompressedKey() }],
      ["stamped wrong verifyingKey", { ...r, verifyingKey: randomCompressedKey() }],
    ];
    let count = 0n;
    for (const [name, tampered] of slashes) {
      expect(referenceVerifies(tampered), name).to.equal(false);
      await expect(evaluate(s, stamped(s, tampered)), name).to.emit(s.adjudicator, "IncorrectCFragSlashed");
      expect(await s.adjudicator.violations(s.node.staker.address)).to.equal(++count);
    }
  });

  it("property: a stamped cfrag with one random byte changed is judged correct iff the acceptance rule accepts it (then so does the reference), else slashed (misframed ones too)", async function () {
    const s = await loadFixture(fixture);
    const r = referenceReencryption();
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 380 }), fc.integer({ min: 1, max: 255 }), async (offset, xor) => {
        const cfrag = new Uint8Array(r.cfrag);
        cfrag[offset] ^= xor;
        const tampered: Reencryption = { ...r, cfrag };
        const accepted = oursVerifies(tampered);
        if (accepted) expect(referenceVerifies(tampered)).to.equal(true);
        const context = { ...tampered, staker: s.node.staker.address, stampPeriod: nextStampPeriod(s), policyCreator: TEST_POLICY_CREATOR, policyId: TEST_POLICY_ID };
        const evidence: CFragEvidence = {
          ...context,
          nodeVerifyingKey: s.node.verifyingKey,
          stampSignature: signStamp(s.stampSecretKey, context, r.capsule, cfrag),
        };
        let hints: EvaluationHints | null = null;
        try {
          hints = evaluationHints(evidence);
        } catch (err) {
          throw new Error(`hints for any 381-byte stamped cfrag: ${(err as EvidenceError).message}`);
        }
        const key = evidenceHash(evidence);
        if (seen.has(key)) return; // the same evidence twice: already covered by "works once"
        seen.add(key);
        const receipt = await (await evaluate(s, evidence)).wait();
        const topic = s.adjudicator.interface.getEvent("IncorrectCFragSlashed").topicHash;
        const slashed = receipt!.logs.some((l) => l.topics[0] === topic);
        expect(slashed).to.equal(!accepted);
      }),
      { numRuns: 40 },
    );
  });

  it("a non-canonical point tag (SEC1 compact 0x05) in a stamped cfrag is judged incorrect, as src/umbral rejects it", async function () {
    // rust-umbral's decoder accepts the compact tag (same x, a canonical y); neither library
    // ever emits it, so a node that stamps one answers for it like for any undecodable point.
    const s = await loadFixture(fixture);
    const r = referenceReencryption();
    const cfrag = new Uint8Array(r.cfrag);
    cfrag[O.e1] = 0x05;
    const tampered: Reencryption = { ...r, cfrag };
    expect(oursVerifies(tampered)).to.equal(false);
    const context = { ...tampered, staker: s.node.staker.address, stampPeriod: nextStampPeriod(s), policyCreator: TEST_POLICY_CREATOR, policyId: TEST_POLICY_ID };
    const evidence: CFragEvidence = {
      ...context,
      nodeVerifyingKey: s.node.verifyingKey,
      stampSignature: signStamp(s.stampSecretKey, context, r.capsule, cfrag),
    };
    await expect(
      evaluateWithCommit(s.adjudicator, s.investigator, toContractEvidence(evidence), evaluationHints(evidence)),
    ).to.emit(s.adjudicator, "IncorrectCFragSlashed");
  });

  it("evidence round-trips through its JSON file form", async function () {
    const s = await loadFixture(fixture);
    const evidence = incorrect(s);
    const parsed = parseEvidence(serializeEvidence(evidence));
    expect(parsed).to.deep.equal(evidence);
    await expect(evaluate(s, parsed)).to.emit(s.adjudicator, "IncorrectCFragSlashed");
  });

  it("rejects a node without locked stake (the evidence stays usable) and bad hints", async function () {
    const s = await loadFixture(fixture);
    const evidence = incorrect(s);
    const hints = evaluationHints(evidence);
    const args = toContractEvidence(evidence);
    // The stamp key comes from the escrow (as an address): the stampKeyY hint is ignored.
    expect(await s.adjudicator.judge(args, { ...hints, stampKeyY: secp256k1.Point.CURVE().p - hints.stampKeyY })).to.equal(false);
    // A wrong kfrag-signature parity hint cannot change a verdict: a correct cfrag stays correct.
    const good = stamped(s, referenceReencryption());
    const goodHints = evaluationHints(good);
    expect(
      await s.adjudicator.evaluateCFrag.staticCall(
        toContractEvidence(good),
        { ...goodHints, kfragSignatureParity: 1 - goodHints.kfragSignatureParity },
        NO_SALT,
      ),
    ).to.equal(true);
    await expect(
      s.adjudicator.evaluateCFrag(toContractEvidence(good), { ...goodHints, kfragSignatureParity: 2 }, NO_SALT),
    ).to.be.revertedWithCustomError(s.adjudicator, "MalformedSignature");
    await expect(s.adjudicator.evaluateCFrag(args, { ...hints, stampSignatureParity: 2 }, NO_SALT)).to.be.revertedWithCustomError(
      s.adjudicator,
      "MalformedSignature",
    );

    // A node whose stake is past its unlock period and the slashing grace cannot be slashed; the
    // evidence is not consumed.
    await (await s.core.escrow.connect(s.node.staker).startUnlock()).wait();
    await advancePeriods(s.core, s.node.lockPeriods + s.core.params.slashingGracePeriods);
    expect(await s.adjudicator.penaltyFor(s.node.staker.address)).to.equal(0n);
    // (The old evidence is out of its slashing window by now: evidence dated now.)
    const late = incorrect(s, referenceReencryption(), Number(await s.core.escrow.currentPeriod()));
    await expect(evaluateWithCommit(s.adjudicator, s.investigator, toContractEvidence(late), evaluationHints(late)))
      .to.be.revertedWithCustomError(s.adjudicator, "NothingToSlash")
      .withArgs(s.node.staker.address);
    await expect(evaluateWithCommit(s.adjudicator, s.investigator, args, hints)).to.be.revertedWithCustomError(s.adjudicator, "InvalidStampSignature");
    expect(await s.adjudicator.evidenceUsed(evidenceHash(late))).to.equal(false);
  });

  it("constructor validates its wiring and parameters", async function () {
    const s = await loadFixture(fixture);
    const F = await ethers.getContractFactory("Adjudicator");
    await expect(F.deploy(ethers.ZeroAddress, 1, 1, 1, 1)).to.be.revertedWithCustomError(F, "ZeroAddress");
    await expect(F.deploy(s.core.escrowAddress, 1, 1, 0, 1)).to.be.revertedWithCustomError(F, "InvalidParameters");
    await expect(F.deploy(s.core.escrowAddress, 1, 1, 10_001, 1)).to.be.revertedWithCustomError(F, "InvalidParameters");
    await expect(F.deploy(s.core.escrowAddress, 1, 1, 1, 10_001)).to.be.revertedWithCustomError(F, "InvalidParameters");
  });
});

