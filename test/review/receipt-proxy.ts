// Review of issue #14 (the client kept receipts the LeakAdjudicator refuses): a harness of real
// agents, a share through a receipt-rewriting front (test/support/receipt-proxy.ts), and the
// leak challenge that needs the receipt the client kept.
import fs from "node:fs";
import { getBytes } from "ethers";
import { account } from "../../scripts/demo-network";
import { send } from "../../src/client/chain";
import type { NkmsClient } from "../../src/client/client";
import { PartialDeliveryError } from "../../src/client/errors";
import { startHarness, type Harness } from "../client/harness";
import { startReceiptProxy } from "../support/receipt-proxy";
import { fileLeakChallenge } from "../../src/client/leak-challenge";
import { kfragHash, kfragProof } from "../../src/client/kfrag-commitment";
import { LeakAdjudicator__factory } from "../../typechain-types";

export const WEEK = 7 * 24 * 3600;

/** A harness (3 real agents) one period old, Alice and Bob, and the two steps the tests need. */
export async function receiptWorld() {
  const h: Harness = await startHarness(3);
  const alice: NkmsClient = await h.client(1, "alice");
  const bob: NkmsClient = await h.client(2, "bob");
  const chainId = (await h.provider.getNetwork()).chainId;
  // One period later, so the nodes' stamp keys also count for the period before a new policy.
  await h.provider.send("evm_increaseTime", [WEEK]);
  await h.provider.send("evm_mine", []);
  /** Share through a front for node k; returns the policy and whether k counted as delivered. */
  async function shareThrough(k: number, mode: "high-s" | "backdate") {
    const staker = h.nodes[k].staker;
    const proxy = await startReceiptProxy(10 + k, staker, chainId, h.addresses.policyManager, mode);
    const behind = await h.restart(k, proxy.url);
    proxy.target = behind.url;
    try {
      const out = await alice
        .share({ label: `review-${mode}`, reader: bob.keys!.readerKeys(), threshold: 1, shares: 3, periods: 2 })
        .then((r) => ({ policyId: r.grant.policyId, nodes: r.grant.nodes, delivered: true, message: "" }))
        .catch((e: unknown) => {
          if (!(e instanceof PartialDeliveryError)) throw e;
          const bad = e.delivery.find((d) => d.staker === staker);
          return { policyId: e.policyId, nodes: e.delivery.map((d) => d.staker), delivered: !bad || bad.ok, message: bad?.message ?? "" };
        });
      return { ...out, staker, node: behind };
    } finally {
      await h.restart(k);
      await proxy.close();
    }
  }

  /** The owner-assisted leak challenge with the receipt the client kept (what a real leak needs too). */
  async function challengeWithKeptReceipt(policyIdHex: string, nodes: string[], staker: string): Promise<bigint> {
    const policyId = getBytes(policyIdHex);
    const held = (s: string) => h.nodes.find((n) => n.staker === s)!.store.get(policyId)!.kfrag!;
    const entries = nodes.map((node) => ({ node, kfragHash: kfragHash(held(node)) }));
    const deployed = JSON.parse(fs.readFileSync(h.deploymentFile, "utf8")) as Record<string, string>;
    const friend = account(8).connect(h.provider);
    await send("fund friend", () => account(0).connect(h.provider).sendTransaction({ to: friend.address, value: 10n ** 18n }));
    const leak = LeakAdjudicator__factory.connect(deployed["Adjudicator#LeakAdjudicator"], friend);
    const receipt = alice.policies.receiptFor(alice.keys!.address, policyIdHex, staker);
    const before = (await h.contracts.escrow.stakeOf(staker)).amount;
    await fileLeakChallenge(leak, { policyCreator: alice.keys!.address, policyId, staker, kfrag: held(staker), proof: kfragProof(policyId, entries, staker) }, receipt);
    return before - (await h.contracts.escrow.stakeOf(staker)).amount;
  }

  return { h, alice, bob, chainId, shareThrough, challengeWithKeptReceipt };
}
