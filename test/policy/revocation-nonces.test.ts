// Unordered (bitmap) nonces of signed revocations: relays in any order, each signature once,
// owners may cancel nonces they handed out.
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { createPolicy, policyWorldFixture, type PolicyWorld } from "./fixture";
import { signOnChainRevocation, type SignedRevocation } from "../../src/client/chain";

const DEADLINE = 2n ** 40n;

function relay(w: PolicyWorld, s: SignedRevocation) {
  return w.pm.connect(w.stranger).revokeWithSignature(s.policyId, s.node, s.nonce, s.deadline, s.signature);
}

describe("policy: unordered revocation nonces", () => {
  it("relays signatures out of nonce order; replays fail", async () => {
    const w = await loadFixture(policyWorldFixture);
    const stakers = w.nodes.map((n) => n.staker.address);
    const a = await createPolicy(w, stakers.slice(0, 2), { periods: 5 });
    const b = await createPolicy(w, stakers.slice(2, 3), { periods: 5 });
    // Signed with nonces 0, 1 and (another word) 256 + 3; relayed 256+3, then 1, then 0.
    const first = await signOnChainRevocation(w.pm, w.alice, { policyId: a.policyId, node: a.nodes[0], deadline: DEADLINE, nonce: 0n });
    const second = await signOnChainRevocation(w.pm, w.alice, { policyId: a.policyId, node: a.nodes[1], deadline: DEADLINE, nonce: 1n });
    const third = await signOnChainRevocation(w.pm, w.alice, { policyId: b.policyId, deadline: DEADLINE, nonce: 259n });
    await expect(relay(w, third)).to.emit(w.pm, "PolicyRevoked");
    await expect(relay(w, second)).to.emit(w.pm, "ArrangementRevoked").withArgs(a.policyId, a.nodes[1], (await w.pm.getPolicy(a.policyId)).feeRate * 4n);
    expect(await w.pm.isRevocationNonceUsed(w.alice.address, 0n)).to.equal(false);
    await expect(relay(w, first)).to.emit(w.pm, "ArrangementRevoked");
    for (const n of [0n, 1n, 259n]) expect(await w.pm.isRevocationNonceUsed(w.alice.address, n)).to.equal(true);
    expect(await w.pm.isRevocationNonceUsed(w.alice.address, 2n)).to.equal(false);
    expect(await w.pm.isRevocationNonceUsed(w.alice.address, 256n)).to.equal(false);
    expect(await w.pm.revocationNonceBitmap(w.alice.address, 0n)).to.equal(3n);
    expect(await w.pm.revocationNonceBitmap(w.alice.address, 1n)).to.equal(8n);
    for (const s of [first, second, third]) {
      await expect(relay(w, s)).to.be.revertedWithCustomError(w.pm, "NonceAlreadyUsed").withArgs(w.alice.address, s.nonce);
    }
  });

  it("spends a nonce only with a valid signature, per owner", async () => {
    const w = await loadFixture(policyWorldFixture);
    const stakers = w.nodes.map((n) => n.staker.address);
    const mine = await createPolicy(w, stakers.slice(0, 1));
    const theirs = await createPolicy(w, stakers.slice(1, 2), { payer: w.sponsor });
    const forged = await signOnChainRevocation(w.pm, w.stranger, { policyId: mine.policyId, deadline: DEADLINE, nonce: 5n });
    await expect(relay(w, forged)).to.be.revertedWithCustomError(w.pm, "InvalidSignature");
    expect(await w.pm.isRevocationNonceUsed(w.alice.address, 5n)).to.equal(false);
    // The same nonce value is independent between owners.
    const aliceSig = await signOnChainRevocation(w.pm, w.alice, { policyId: mine.policyId, deadline: DEADLINE, nonce: 5n });
    const sponsorSig = await signOnChainRevocation(w.pm, w.sponsor, { policyId: theirs.policyId, deadline: DEADLINE, nonce: 5n });
    await expect(relay(w, sponsorSig)).to.emit(w.pm, "PolicyRevoked");
    await expect(relay(w, aliceSig)).to.emit(w.pm, "PolicyRevoked");
  });

  it("uses a random 256-bit nonce by default", async () => {
    const w = await loadFixture(policyWorldFixture);
    const { policyId } = await createPolicy(w, [w.nodes[0].staker.address]);
    const s = await signOnChainRevocation(w.pm, w.alice, { policyId, deadline: DEADLINE });
    expect(s.nonce > 2n ** 64n).to.equal(true); // a 2^-192 chance of a false failure
    expect(s.node).to.equal(ethers.ZeroAddress);
    await expect(relay(w, s)).to.emit(w.pm, "PolicyRevoked");
    expect(await w.pm.isRevocationNonceUsed(w.alice.address, s.nonce)).to.equal(true);
  });

  it("lets the owner cancel handed-out nonces", async () => {
    const w = await loadFixture(policyWorldFixture);
    const { policyId } = await createPolicy(w, [w.nodes[0].staker.address]);
    const s = await signOnChainRevocation(w.pm, w.alice, { policyId, deadline: DEADLINE, nonce: 512n + 9n });
    await expect(w.pm.connect(w.alice).invalidateRevocationNonces(2n, (1n << 9n) | 1n))
      .to.emit(w.pm, "RevocationNoncesInvalidated")
      .withArgs(w.alice.address, 2n, (1n << 9n) | 1n);
    expect(await w.pm.isRevocationNonceUsed(w.alice.address, 512n)).to.equal(true);
    await expect(relay(w, s)).to.be.revertedWithCustomError(w.pm, "NonceAlreadyUsed").withArgs(w.alice.address, 521n);
    // Cancelling is idempotent and touches only the caller's bitmap.
    await w.pm.connect(w.alice).invalidateRevocationNonces(2n, 1n << 9n);
    expect(await w.pm.revocationNonceBitmap(w.alice.address, 2n)).to.equal((1n << 9n) | 1n);
    expect(await w.pm.revocationNonceBitmap(w.stranger.address, 2n)).to.equal(0n);
    expect((await w.pm.getPolicy(policyId)).revoked).to.equal(false);
  });
});
