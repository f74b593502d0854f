// Review of issue #14, finding "high-S receipt": the client's receipt check accepted s > n/2 (as
// stamps do) and kept the receipt as sent, but OpenZeppelin's ECDSA in LeakAdjudicator refuses
// high-S, so a node that answered (r, n − s) handed the owner a receipt no reveal could ever use:
// a node that really leaks its kfrag escaped the forfeit. Real agents over real HTTP on the
// Hardhat chain over JSON-RPC; a front rewrites only the receipt.
import { expect } from "chai";
import { receiptWorld } from "./receipt-proxy";

describe("review #14: a high-S receipt is kept in the form the LeakAdjudicator accepts", function () {
  this.timeout(300_000);
  let w: Awaited<ReturnType<typeof receiptWorld>>;
  before(async () => {
    w = await receiptWorld();
  });
  after(async () => {
    await w?.h.close();
  });

  it("a high-S receipt (r, n − s) is kept in the low-S form the chain accepts: the node stays challengeable", async () => {
    const r = await w.shareThrough(2, "high-s");
    expect(r.delivered, r.message).to.equal(true);
    expect(await w.challengeWithKeptReceipt(r.policyId, r.nodes, r.staker)).to.be.greaterThan(0n);
  });
});
