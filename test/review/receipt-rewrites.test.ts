// Review of issue #14: the client kept receipts the LeakAdjudicator refuses (see receipt-proxy.ts).
// - "high-S receipt": the client's receipt check accepted s > n/2 (as stamps do) and kept the
//   receipt as sent, but OpenZeppelin's ECDSA refuses high-S, so a node that answered (r, n − s)
//   handed the owner a receipt no reveal could ever use.
// - "backdated receipt": the client accepted any period the escrow counts the node's stamp key
//   for and not stale, but the LeakAdjudicator requires period ≥ the policy's first period; a
//   node that dated its receipt one period before the policy was counted as delivered.
// Either way a node that really leaks its kfrag escaped the forfeit. Real agents over real HTTP
// on the Hardhat chain over JSON-RPC; a front rewrites only the receipt.
import { expect } from "chai";
import { receiptWorld } from "./receipt-proxy";

describe("review #14: the client keeps only receipts the LeakAdjudicator accepts", function () {
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

  it("a receipt dated before the policy's first period is refused: the node is NOT counted as delivered", async () => {
    const r = await w.shareThrough(1, "backdate");
    expect(r.delivered, "a backdated receipt was kept; on-chain it fails InvalidReceipt").to.equal(false);
    expect(r.message).to.match(/before the policy/);
  });
});
