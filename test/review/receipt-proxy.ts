// Review of issue #14 (findings: the client kept receipts the LeakAdjudicator refuses): shared setup.
// A receipt is the ONLY thing that lets a leak challenge name a node, and the node writes it. The
// client counts a kfrag as delivered once the receipt passes its own check, but that check was
// weaker than the chain's (`LeakAdjudicator._checkReceipt`):
//  - high-S: the client's verify accepts s > n/2 (like stamps), OpenZeppelin's ECDSA on-chain
//    refuses it, so a node that answers (r, n − s) hands the owner a receipt no reveal can use;
//  - backdated: the client accepts any period the escrow counts the stamp key for and that is
//    not stale (period + 1 ≥ now), the chain requires period ≥ the policy's first period, so a node
//    that dates its receipt one period before the policy (same stamp key) is never challengeable.
// Either way a node that really leaks its kfrag escapes the forfeit entirely. Real agents over real
// HTTP on the Hardhat chain over JSON-RPC; a front rewrites only the receipt, re-signed with the
// node's real stamp key.
import fs from "node:fs";
import http from "node:http";
import { getBytes, hexlify } from "ethers";
import { account } from "../../scripts/demo-network";
import { send } from "../../src/client/chain";
import type { NkmsClient } from "../../src/client/client";
import { PartialDeliveryError } from "../../src/client/errors";
import { deriveNodeKeys } from "../../src/node/keys";
import { kfragPackageDigest, type KFragUpload } from "../../src/node/protocol";
import { recoverEthSigner } from "../../src/node/signatures";
import { kfragReceiptDigest } from "../../src/protocol/kfrag-receipt";
import { startHarness, type Harness } from "../client/harness";
import { fileLeakChallenge } from "../../src/client/leak-challenge";
import { kfragHash, kfragProof } from "../../src/client/kfrag-commitment";
import { LeakAdjudicator__factory } from "../../typechain-types";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
export const WEEK = 7 * 24 * 3600;

/** A front for node `operatorIndex` that rewrites the receipt of every kfrag upload. */
export async function startReceiptProxy(operatorIndex: number, staker: string, chainId: bigint, policyManager: string, mode: "high-s" | "backdate") {
  const stamp = deriveNodeKeys(account(operatorIndex)).stamp;
  const state = { target: "" };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    const upstream = await fetch(state.target + req.url, { method: req.method, headers: { "content-type": "application/json" }, body: req.method === "POST" ? body : undefined });
    let text = await upstream.text();
    const upload = /^\/v1\/policies\/(0x[0-9a-fA-F]{32})\/kfrag$/.exec(req.url ?? "");
    if (upload && upstream.ok) {
      const answer = JSON.parse(text) as { stored: boolean; receipt: { period: number; signature: string } };
      if (mode === "high-s") {
        const sig = getBytes(answer.receipt.signature);
        const s = BigInt(hexlify(sig.slice(32)));
        answer.receipt.signature = hexlify(sig.slice(0, 32)) + (N - s).toString(16).padStart(64, "0");
      } else {
        const u = JSON.parse(body) as KFragUpload;
        const policyId = getBytes(upload[1]);
        const policyCreator = recoverEthSigner(kfragPackageDigest(policyId, staker, u), getBytes(u.ownerSignature))!;
        const period = answer.receipt.period - 1;
        const digest = kfragReceiptDigest({ chainId, policyManager, staker, period, policyCreator, policyId, kfragHash: getBytes(u.kfragHash) });
        answer.receipt = { period, signature: hexlify(stamp.signDigest(digest).toBEBytes()) };
      }
      text = JSON.stringify(answer);
    }
    res.writeHead(upstream.status, { "content-type": "application/json" }).end(text);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return Object.assign(state, { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) });
}


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
