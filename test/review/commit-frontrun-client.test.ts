// Regression test for an outside review of issue #13 (it failed before the fix; finding: the client gives up when its commitment is front-run). A griefer who copies the
// investigator's `commitEvidence(c)` from the mempool with a higher tip creates exactly the
// commitment the investigator wanted (it binds the investigator's address), but the
// investigator's own commit then reverts CommitmentExists and `fileCFragEvidence` throws before
// revealing, losing the random salt it generated (the CLI prints it only on success). Each retry
// draws a new salt the griefer can front-run again for ~45k gas: the evidence is never filed.
import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { CFRAG_OFFSETS as O } from "../../src/client/evidence";
import { fileCFragEvidence } from "../../src/client/challenge";
import type { Adjudicator } from "../../typechain-types";
import { randomPoint, referenceReencryption, withField } from "../adjudicator/fixtures";
import { deployAdjudicatorSetup, stamped } from "../adjudicator/setup";

describe("review: a front-run commitment does not stop the client from filing", function () {
  it("fileCFragEvidence still slashes when a griefer copies its commitEvidence with a higher tip", async function () {
    const s = await loadFixture(deployAdjudicatorSetup);
    const griefer = s.core.accounts[9];
    const r = referenceReencryption();
    const evidence = stamped(s, { ...r, cfrag: withField(r.cfrag, O.e2, randomPoint().toBytes(true)) });
    const adjudicatorAddress = await s.adjudicator.getAddress();
    await network.provider.send("evm_setAutomine", [false]);
    let filing: Promise<unknown>;
    try {
      const nonce = await ethers.provider.getTransactionCount(s.investigator.address, "pending");
      filing = fileCFragEvidence(s.adjudicator.connect(s.investigator) as unknown as Adjudicator, evidence).then(
        (filed) => filed,
        (e: unknown) => e as Error,
      );
      // Wait for the investigator's commit to reach the mempool, then copy it with a higher tip.
      let pending: string | undefined;
      for (let i = 0; i < 200 && !pending; i++) {
        const block = await ethers.provider.send("eth_getBlockByNumber", ["pending", true]);
        const tx = (block.transactions as { from: string; nonce: string; input: string }[]).find(
          (t) => t.from.toLowerCase() === s.investigator.address.toLowerCase() && Number(t.nonce) === nonce,
        );
        pending = tx?.input;
        if (!pending) await new Promise((res) => setTimeout(res, 25));
      }
      expect(pending, "the investigator's commit never reached the mempool").to.not.equal(undefined);
      await griefer.sendTransaction({ to: adjudicatorAddress, data: pending, maxPriorityFeePerGas: 100n * 10n ** 9n, maxFeePerGas: 1000n * 10n ** 9n });
      await mine(1);
    } finally {
      await network.provider.send("evm_setAutomine", [true]);
    }
    // Anything the client still sends (the reveal) is mined now.
    for (let i = 0; i < 5; i++) await mine(1);
    const outcome = await filing!;
    expect(outcome, `fileCFragEvidence: ${(outcome as Error).message?.slice(0, 200)}`).to.not.be.instanceOf(Error);
    expect(await s.adjudicator.violations(s.node.staker.address)).to.equal(1n);
  });
});
