// Review of issue #14, finding "backdated receipt": the client accepted a receipt dated in any
// period the escrow counts the node's stamp key for and not stale (period + 1 ≥ now), but
// LeakAdjudicator requires period ≥ the policy's first period. A node that dated its receipt one
// period before the policy (same stamp key, re-signed) was counted as delivered and could never
// be challenged for a leak. Real agents over real HTTP; a front rewrites only the receipt.
import { expect } from "chai";
import { receiptWorld } from "./receipt-proxy";

describe("review #14: a receipt dated before the policy is refused at delivery", function () {
  this.timeout(300_000);
  let w: Awaited<ReturnType<typeof receiptWorld>>;
  before(async () => {
    w = await receiptWorld();
  });
  after(async () => {
    await w?.h.close();
  });

  it("a receipt dated before the policy's first period is refused: the node is NOT counted as delivered", async () => {
    const r = await w.shareThrough(1, "backdate");
    expect(r.delivered, "a backdated receipt was kept; on-chain it fails InvalidReceipt").to.equal(false);
    expect(r.message).to.match(/before the policy/);
  });
});
