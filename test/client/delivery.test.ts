// Kfrag delivery end to end (issue #14 receipts, issue #15 item 6 "share/redeliver"): real node
// agents behind real HTTP on the Hardhat chain over JSON-RPC, the SDK and the `nkms` bin.
// - every kfrag is acknowledged by a receipt the client verifies and keeps per (policy, node);
// - a node answering without a valid receipt is NOT counted as delivered;
// - a share that reaches fewer than n nodes says so (PARTIAL_DELIVERY, exit 10), and
//   `redeliver` completes it once the node is back, from kfrags kept sealed to the owner's key.
import { runNkms, type NkmsRun } from "../shared/nkms-bin";
import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import { computeAddress, getBytes, hexlify, keccak256 } from "ethers";
import { account, TOKEN } from "../../scripts/demo-network";
import { send } from "../../src/client/chain";
import type { NkmsClient } from "../../src/client/client";
import { ClientError, PartialDeliveryError } from "../../src/client/errors";
import { ExitCode } from "../../src/cli/errors";
import { verifyKfragReceipt } from "../../src/protocol/kfrag-receipt-verify";
import { openKFrag } from "../../src/protocol/kfrag-transport";
import { startHarness, type Harness } from "./harness";
import { startReceiptProxy } from "../support/receipt-proxy";
import { fileLeakChallenge } from "../../src/client/leak-challenge";
import { parseLeakEvidence } from "../../src/client/leak-evidence";
import { kfragHash, kfragProof } from "../../src/client/kfrag-commitment";
import { LeakAdjudicator__factory } from "../../typechain-types";


function nkms(args: string[], env: Record<string, string>): Promise<NkmsRun> {
  return runNkms(args, { env });
}

describe("kfrag delivery: receipts, partial shares and redelivery (real agents over HTTP)", function () {
  this.timeout(300_000);
  let h: Harness;
  let alice: NkmsClient;
  let bob: NkmsClient;
  let chainId: bigint;

  before(async () => {
    h = await startHarness(3);
    alice = await h.client(1, "alice");
    bob = await h.client(2, "bob");
    chainId = (await h.provider.getNetwork()).chainId;
  });
  after(async () => {
    await h?.close();
  });

  /** Checks a stored receipt as a leak challenge would: the node's registered stamp key, counted by the escrow, over the kfrag the node holds. */
  async function receiptCounts(policyId: string, staker: string): Promise<boolean> {
    const receipt = alice.policies.receiptFor(alice.keys!.address, policyId, staker);
    const node = h.nodes.find((n) => n.staker === staker)!;
    const held = node.store.get(getBytes(policyId));
    if (!held?.kfrag) return false;
    const [, , verifyingKey] = await h.contracts.escrow.nodeInfo(staker);
    const ctx = {
      chainId,
      policyManager: h.addresses.policyManager,
      staker,
      period: receipt.period,
      policyCreator: alice.keys!.address,
      policyId: getBytes(policyId),
      kfragHash: getBytes(keccak256(held.kfrag)),
    };
    return verifyKfragReceipt(getBytes(verifyingKey), ctx, getBytes(receipt.signature)) && (await h.contracts.escrow.isStampKey(staker, computeAddress(verifyingKey), receipt.period));
  }

  it("keeps each node's verified receipt per (policy, node), and no kfrag once all are delivered", async () => {
    const { grant, delivery, record } = await alice.share({ label: "receipts", reader: bob.keys!.readerKeys(), threshold: 2, shares: 3, periods: 1 });
    expect(delivery.every((d) => d.ok && d.receipt), JSON.stringify(delivery)).to.equal(true);
    for (const staker of grant.nodes) {
      expect(await receiptCounts(grant.policyId, staker), staker).to.equal(true);
      expect(alice.policies.receiptFor(alice.keys!.address, grant.policyId, staker)).to.deep.equal(delivery.find((d) => d.staker === staker)!.receipt);
    }
    expect(record.undelivered).to.deep.equal([]);
    expect(record.pending).to.deep.equal({});
    // The store names the policy by its creator too.
    expect(() => alice.policies.receiptFor(account(5).address, grant.policyId, grant.nodes[0])).to.throw(ClientError);
    const file = fs.readFileSync(alice.policies.file, "utf8");
    for (const n of h.nodes) expect(file).to.not.include(Buffer.from(n.store.get(getBytes(grant.policyId))!.kfrag!).toString("hex"));
  });

  it("a share that reaches fewer than n nodes throws PARTIAL_DELIVERY; redeliver completes it once the node is back (idempotent), and a 3-of-3 read then works", async () => {
    const plaintext = new TextEncoder().encode("needs all three nodes");
    const { id } = await alice.write(plaintext, { label: "partial" });
    const down = 1;
    const staker = h.nodes[down].staker;
    await h.nodes[down].close();
    const err = (await alice.share({ label: "partial", reader: bob.keys!.readerKeys(), threshold: 3, shares: 3, periods: 1 }).catch((e: unknown) => e)) as PartialDeliveryError;
    expect(err, String(err)).to.be.instanceOf(PartialDeliveryError);
    expect(err.code).to.equal("PARTIAL_DELIVERY");
    expect(err.delivered).to.equal(2);
    expect(err.delivery.filter((d) => !d.ok).map((d) => d.staker)).to.deep.equal([staker]);
    expect(err.message).to.include(staker).and.include("redeliver");
    const policyId = err.policyId;
    // The paid policy is recorded; its missing kfrag is kept sealed to Alice's own key, never in clear.
    const record = alice.policies.get(policyId);
    expect(record.undelivered).to.deep.equal([staker]);
    const kept = record.pending![staker.toLowerCase()];
    const kfrag = openKFrag(alice.keys!.encryptingSecret, { capsule: getBytes(kept.sealed.capsule), ciphertext: getBytes(kept.sealed.ciphertext) });
    expect(await h.contracts.policyManager.verifyKfragCommitment(policyId, staker, keccak256(kfrag), kept.proof)).to.equal(true);
    expect(fs.readFileSync(alice.policies.file, "utf8")).to.not.include(hexlify(kfrag).slice(2));
    expect(() => openKFrag(bob.keys!.encryptingSecret, { capsule: getBytes(kept.sealed.capsule), ciphertext: getBytes(kept.sealed.ciphertext) })).to.throw();
    // Bob cannot read 3-of-3 yet.
    expect(await bob.read(id, alice.grantFor(policyId)).catch((e: unknown) => (e as ClientError).code)).to.equal("THRESHOLD_NOT_MET");

    // Still down: redeliver says so again, and keeps the kfrag.
    const still = (await alice.redeliver(policyId).catch((e: unknown) => e)) as PartialDeliveryError;
    expect(still).to.be.instanceOf(PartialDeliveryError);
    expect(still.delivery.map((d) => d.staker)).to.deep.equal([staker]);
    expect(alice.policies.get(policyId).pending![staker.toLowerCase()]).to.deep.equal(kept);

    await h.restart(down);
    const done = await alice.redeliver(policyId);
    expect(done.undelivered).to.deep.equal([]);
    expect(done.delivery.map((d) => [d.staker, d.ok])).to.deep.equal([[staker, true]]);
    expect(await receiptCounts(policyId, staker)).to.equal(true);
    expect(alice.policies.get(policyId).pending).to.deep.equal({});
    expect((await alice.redeliver(policyId)).delivery).to.deep.equal([]); // idempotent: nothing left to do
    expect(new TextDecoder().decode(await bob.read(id, alice.grantFor(policyId)))).to.equal("needs all three nodes");
  });

  for (const mode of ["drop", "misdate", "foreign"] as const) {
    it(`counts a node that stores the kfrag but answers ${mode === "drop" ? "without a receipt" : mode === "misdate" ? "a receipt dated in a future period" : "another policy's receipt"} as NOT delivered; redeliver to the honest endpoint gets a valid one`, async () => {
      const k = 2;
      const staker = h.nodes[k].staker;
      const proxy = await startReceiptProxy(10 + k, staker, chainId, h.addresses.policyManager, mode);
      const behind = await h.restart(k, proxy.url);
      proxy.target = behind.url;
      let policyId: string;
      try {
        if (mode === "foreign") await alice.share({ label: "foreign-seed", reader: bob.keys!.readerKeys(), threshold: 1, shares: 3, periods: 1 }).catch(() => undefined);
        const err = (await alice.share({ label: `bad-receipt-${mode}`, reader: bob.keys!.readerKeys(), threshold: 1, shares: 3, periods: 1 }).catch((e: unknown) => e)) as PartialDeliveryError;
        expect(err, String(err)).to.be.instanceOf(PartialDeliveryError);
        const bad = err.delivery.filter((d) => !d.ok);
        expect(bad.map((d) => d.staker)).to.deep.equal([staker]);
        expect(bad[0].message).to.match(mode === "drop" ? /without a receipt/ : mode === "misdate" ? /not a period the escrow counts/ : /not signed by the node's stamp key/);
        policyId = err.policyId;
        expect(() => alice.policies.receiptFor(alice.keys!.address, policyId, staker)).to.throw(ClientError);
        // The node did store it: only the receipt was missing.
        expect(behind.store.get(getBytes(policyId))?.kfrag).to.not.equal(undefined);
      } finally {
        await h.restart(k);
        await proxy.close();
      }
      const done = await alice.redeliver(policyId);
      expect(done.delivery.every((d) => d.ok)).to.equal(true);
      expect(await receiptCounts(policyId, staker)).to.equal(true);
    });
  }

  it("revoking a partially delivered policy drops the kfrags kept for it; redeliver then refuses (DENIED)", async () => {
    const down = 0;
    await h.nodes[down].close();
    let policyId: string;
    try {
      const err = (await alice.share({ label: "revoke-partial", reader: bob.keys!.readerKeys(), threshold: 1, shares: 3, periods: 1 }).catch((e: unknown) => e)) as PartialDeliveryError;
      expect(err).to.be.instanceOf(PartialDeliveryError);
      policyId = err.policyId;
      expect(Object.keys(alice.policies.get(policyId).pending!)).to.deep.equal([h.nodes[down].staker.toLowerCase()]);
    } finally {
      await h.restart(down);
    }
    await alice.revoke(policyId);
    expect(alice.policies.get(policyId).pending).to.equal(undefined);
    const e = (await alice.redeliver(policyId).catch((x: unknown) => x)) as ClientError;
    expect(e.code).to.equal("DENIED");
  });

  it("`nkms share` exits 10 (partial) with one line, JSON under --json, and still writes the grant; `nkms policies redeliver` completes it (exit 0)", async () => {
    const dir = path.join(h.dir, "cli");
    fs.mkdirSync(dir, { recursive: true });
    const user = account(7);
    await send("fund CLI user", () => h.contracts.token.connect(account(0).connect(h.provider)).transfer(user.address, 100n * TOKEN));
    const env = { NKMS_RPC_URL: h.rpc.url, NKMS_DEPLOYMENT: h.deploymentFile, NKMS_KEYSTORE_PASSWORD: "pw-long-enough", NKMS_UNSAFE_TEST_MODE: "1", NKMS_HOME: path.join(dir, "home") };
    expect((await nkms(["keys", "create", "--private-key", user.privateKey, "--scrypt-n", "1024"], env)).code).to.equal(0);
    const readerFile = path.join(dir, "bob.json");
    fs.writeFileSync(readerFile, JSON.stringify(bob.keys!.readerKeys()));
    const grantFile = path.join(dir, "grant.json");
    const down = 0;
    const staker = h.nodes[down].staker;
    await h.nodes[down].close();
    try {
      const human = await nkms(["share", "--label", "cli", "--reader", readerFile, "-m", "2", "-n", "3", "--periods", "1", "--grant-out", grantFile], env);
      expect(human.code, human.stderr).to.equal(ExitCode.partial);
      expect(human.stderr.trim().split("\n")).to.have.length(1);
      expect(human.stderr).to.match(/^nkms: policy 0x[0-9a-f]{32}: 2 of 3 nodes acknowledged/).and.include(staker);
      expect(human.stdout).to.include(`${staker} NOT delivered`);
      expect(fs.existsSync(grantFile)).to.equal(true);

      const json = await nkms(["share", "--label", "cli", "--reader", readerFile, "-m", "2", "-n", "3", "--periods", "1", "--json"], env);
      expect(json.code).to.equal(ExitCode.partial);
      const error = JSON.parse(json.stderr.trim()) as { error: { code: string; exit: number; message: string } };
      expect(error.error).to.include({ code: "partial", exit: 10 });
      const out = JSON.parse(json.stdout) as { policyId: string; undelivered: string[]; delivery: { staker: string; ok: boolean }[] };
      expect(out.undelivered).to.deep.equal([staker]);

      const early = await nkms(["policies", "redeliver", out.policyId, "--json"], env);
      expect(early.code, early.stderr).to.equal(ExitCode.partial);
    } finally {
      await h.restart(down);
    }
    const listed = JSON.parse((await nkms(["policies", "list", "--json"], env)).stdout) as { policies: { policyId: string; undelivered: string[] }[] };
    for (const p of listed.policies.filter((x) => x.undelivered.length > 0)) {
      const r = await nkms(["policies", "redeliver", p.policyId, "--json"], env);
      expect(r.code, r.stderr).to.equal(0);
      expect((JSON.parse(r.stdout) as { undelivered: string[] }).undelivered).to.deep.equal([]);
      const again = await nkms(["policies", "redeliver", p.policyId], env);
      expect(again.code).to.equal(0);
      expect(again.stdout).to.include("every node already acknowledged");
    }
    expect(listed.policies.filter((x) => x.undelivered.length > 0)).to.have.length(2);
  });

  it("the receipt the real agent returned and the client kept is what the LeakAdjudicator accepts: an owner-assisted challenge forfeits at most what the node earned", async () => {
    const { grant } = await alice.share({ label: "leak-e2e", reader: bob.keys!.readerKeys(), threshold: 2, shares: 3, periods: 2 });
    const staker = grant.nodes[0];
    const policyId = getBytes(grant.policyId);
    // The owner knows every kfrag; the proof is rebuilt from the kfrags the nodes hold.
    const entries = grant.nodes.map((node) => ({ node, kfragHash: kfragHash(h.nodes.find((n) => n.staker === node)!.store.get(policyId)!.kfrag!) }));
    const kfrag = h.nodes.find((n) => n.staker === staker)!.store.get(policyId)!.kfrag!;
    const deployed = JSON.parse(fs.readFileSync(h.deploymentFile, "utf8")) as Record<string, string>;
    const friend = account(8).connect(h.provider);
    await send("fund friend", () => account(0).connect(h.provider).sendTransaction({ to: friend.address, value: 10n ** 18n }));
    const leak = LeakAdjudicator__factory.connect(deployed["Adjudicator#LeakAdjudicator"], friend);
    const bound = await leak.forfeitFor(alice.keys!.address, grant.policyId, staker);
    const paid = BigInt(alice.policies.get(grant.policyId).paid) / BigInt(grant.nodes.length);
    expect(bound > 0n && bound <= paid, `0 < forfeit ${bound} ≤ what Alice paid for the arrangement ${paid}`).to.equal(true);
    const before = (await h.contracts.escrow.stakeOf(staker)).amount;
    // The owner's challenge kit (receipt + proof, as `nkms policies challenge-kit` writes it) plus the leaked kfrag.
    const kfragFile = path.join(h.dir, "leaked.kfrag");
    fs.writeFileSync(kfragFile, kfrag);
    const evidenceFile = path.join(h.dir, "leak.json");
    const run = await nkms(["policies", "challenge-kit", grant.policyId, "--node", staker, "--kfrag", kfragFile, "--out", evidenceFile, "--json"], { NKMS_HOME: path.dirname(alice.policies.file) });
    expect(run.code, run.stderr).to.equal(0);
    const evidence = parseLeakEvidence(fs.readFileSync(evidenceFile, "utf8"));
    expect(evidence.proof.map((p) => hexlify(p))).to.deep.equal(kfragProof(policyId, entries, staker).map((p) => hexlify(p)));
    expect(evidence.receipt).to.deep.equal(alice.policies.receiptFor(alice.keys!.address, grant.policyId, staker));
    const { receipt, ...rest } = evidence;
    await fileLeakChallenge(leak, rest, receipt);
    expect(before - (await h.contracts.escrow.stakeOf(staker)).amount).to.equal(bound);
    expect((await h.contracts.escrow.slashingStateOf(staker)).violations).to.equal(0n);
  });
});
