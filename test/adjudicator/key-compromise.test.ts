// Issue #13, attack 4 "leaked stamp keys", reproduced on the real escrow and Adjudicator with real
// cfrags. Each test states what must hold; on the code before the fix each one fails.
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { CFRAG_OFFSETS as O, evaluationHints, toContractEvidence, type CFragEvidence } from "../../src/client/evidence";
import { registerNode } from "../shared/core-fixture";
import { randomPoint, referenceReencryption, withField } from "./fixtures";
import { deployAdjudicatorSetup, stamped, type AdjudicatorSetup } from "./setup";

describe("adjudicator: a leaked stamp key (issue #13, attack 4)", function () {
  function evaluate(s: AdjudicatorSetup, evidence: CFragEvidence) {
    return s.adjudicator.connect(s.investigator).evaluateCFrag(toContractEvidence(evidence), evaluationHints(evidence));
  }

  /** An incorrect cfrag stamped with `stampSecretKey` (by default the node's registered key). */
  function forged(s: AdjudicatorSetup, stampSecretKey = s.stampSecretKey): CFragEvidence {
    const r = referenceReencryption();
    const node = { ...s.node, verifyingKey: secp256k1.getPublicKey(stampSecretKey, true) };
    return stamped({ ...s, node, stampSecretKey }, { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) });
  }

  async function rotateKey(s: AdjudicatorSetup): Promise<Uint8Array> {
    const secret = secp256k1.utils.randomSecretKey();
    await registerNode(s.core, s.node.staker.address, s.node.operator, { endpoint: s.node.endpoint, stampSecretKey: secret });
    return secret;
  }

  it("the operator can rotate the stamp key at once after a leak", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    await rotateKey(s); // right after registration
  });

  it("once the key is rotated, stamps the leaked key makes afterwards do not slash", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    await rotateKey(s);
    const leaked = s.stampSecretKey;
    await expect(evaluate(s, forged(s, leaked))).to.be.reverted;
  });

  it("many distinct forged stamps under one leaked key slash at most once per period", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    await expect(evaluate(s, forged(s))).to.emit(s.adjudicator, "IncorrectCFragSlashed");
    await expect(evaluate(s, forged(s))).to.be.reverted;
  });

  it("the staker's cold key unbonds a compromised operator at once, retiring its stamp key", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    await s.core.escrow.connect(s.node.staker).bondOperator(ethers.ZeroAddress);
    expect(await s.core.escrow.operatorOf(s.node.staker.address)).to.equal(ethers.ZeroAddress);
  });
});
