import { fileCFragEvidence } from "../../src/client/challenge";
import { expect } from "chai";
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { connect, Enrico, splitEdek, type NkmsClient } from "../../src/client/client";
import { ClientError, RetrievalError } from "../../src/client/errors";
import { parseGrantText, serializeGrant } from "../../src/client/grant";
import { LocalDirectoryStorage } from "../../src/client/storage";
import { PublicKey } from "../../src/umbral";
import { getBytes } from "ethers";
import { startHarness, type Harness } from "./harness";
import { startLyingProxy } from "./lying-node";
import { account } from "../../scripts/demo-network";
import hre from "hardhat";
import { evaluationHints, parseEvidence, toContractEvidence } from "../../src/client/evidence";
import type { Adjudicator } from "../../typechain-types";
import { deriveNodeKeys } from "../../src/node/keys";
import { deriveUserKeys } from "../../src/client/identity";

describe("client SDK against real node agents (Hardhat chain over JSON-RPC)", function () {
  this.timeout(300_000);
  let h: Harness;
  let alice: NkmsClient;
  let bob: NkmsClient;
  let mallory: NkmsClient;

  before(async () => {
    h = await startHarness(5);
    alice = await h.client(1, "alice");
    bob = await h.client(2, "bob");
    mallory = await h.client(19, "mallory");
  });
  after(async () => {
    await h?.close();
  });

  it("Alice writes, shares 3-of-5 with Bob; Bob reads; Alice revokes and Bob is refused", async () => {
    const plaintext = new Uint8Array(randomBytes(700_000));
    const { id } = await alice.write(plaintext, { label: "medical", chunkSize: 64 * 1024 });
    const { grant, delivery, record } = await alice.share({ label: "medical", reader: bob.keys!.readerKeys(), threshold: 3, shares: 5, periods: 3 });
    expect(delivery.every((d) => d.ok), JSON.stringify(delivery)).to.equal(true);
    expect(record.nodes).to.have.length(5);
    // the grant survives its file form
    const received = parseGrantText(serializeGrant(grant));
    const read = await bob.read(id, received);
    expect(Buffer.from(read).equals(Buffer.from(plaintext))).to.equal(true);
    expect(alice.listPolicies({ status: "active" }).map((p) => p.policyId)).to.include(grant.policyId);

    const revoked = await alice.revoke(grant.policyId);
    expect(revoked.txHash).to.be.a("string");
    expect(revoked.nodes.every((n) => n.ok)).to.equal(true);
    const err = await bob.read(id, received).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RetrievalError);
    expect((err as RetrievalError).revoked).to.equal(true);
    expect((err as RetrievalError).failures.every((f) => f.kind === "refused" && f.code === "POLICY_REVOKED")).to.equal(true);
    expect((await alice.getPolicy(grant.policyId)).status).to.equal("revoked");
  });

  it("someone else cannot use Bob's grant, and Bob cannot read with a grant for another key", async () => {
    const { id } = await alice.write(new TextEncoder().encode("secret"), { label: "other" });
    const { grant } = await alice.share({ label: "other", reader: bob.keys!.readerKeys(), threshold: 2, shares: 3, periods: 1 });
    const e1 = await mallory.read(id, grant).catch((e: unknown) => e);
    expect(e1).to.be.instanceOf(ClientError);
    expect((e1 as ClientError).code).to.equal("DENIED");
    // Mallory forges the receiving key in the grant: the nodes refuse her signature
    const forged = { ...grant, receivingKey: mallory.keys!.readerKeys().encryptingKey };
    const e2 = (await mallory.read(id, forged).catch((e: unknown) => e)) as RetrievalError;
    expect(e2).to.be.instanceOf(RetrievalError);
    expect(e2.failures.map((f) => f.code)).to.deep.equal(["READER_NOT_ALLOWED", "READER_NOT_ALLOWED", "READER_NOT_ALLOWED"]);
  });

  it("tolerates n−m dead nodes, and names each failing node and why when too many are down", async () => {
    const plaintext = new TextEncoder().encode("threshold survives two dead nodes");
    const { id } = await alice.write(plaintext, { label: "dead-nodes" });
    const { grant } = await alice.share({ label: "dead-nodes", reader: bob.keys!.readerKeys(), threshold: 3, shares: 5, periods: 1 });
    // stop two of the policy's nodes (their ports close: connection refused)
    const stopped = h.nodes.filter((n) => grant.nodes.includes(n.staker)).slice(0, 3);
    await stopped[0].close();
    await stopped[1].close();
    let used: string[] = [];
    const read = await bob.read(id, grant, { onRetrieval: (r) => (used = r.usedNodes) });
    expect(new TextDecoder().decode(read)).to.equal("threshold survives two dead nodes");
    expect(used).to.have.length(3);
    expect(used).to.not.include(stopped[0].staker);

    await stopped[2].close();
    const err = (await bob.read(id, grant).catch((e: unknown) => e)) as RetrievalError;
    expect(err).to.be.instanceOf(RetrievalError);
    expect(err.valid).to.equal(2);
    expect(err.failures.map((f) => f.staker).sort()).to.deep.equal(stopped.map((n) => n.staker).sort());
    expect(err.failures.every((f) => f.kind === "unreachable")).to.equal(true);
    expect(err.message).to.include(stopped[2].staker);
    for (const n of stopped) await h.restart(h.nodes.indexOf(n));
    expect(new TextDecoder().decode(await bob.read(id, grant))).to.equal("threshold survives two dead nodes");
  });

  it("Enrico encrypts to a label's public key without Alice's secret; Bob reads it; splitEdek separates header and payload", async () => {
    const labelKey = alice.keys!.labelPublicKey("sensor");
    // Enrico knows only the public key bytes and the storage location
    const enrico = new Enrico(PublicKey.fromCompressedBytes(labelKey.toCompressedBytes()), new LocalDirectoryStorage(alice.storage instanceof LocalDirectoryStorage ? alice.storage.root : ""));
    const reading = new TextEncoder().encode(JSON.stringify({ temperature: 21.5 }));
    const id = await enrico.write(reading);
    const bytes = await alice.storage.getBytes(id);
    const { capsule, encryptedKey, payload } = splitEdek(bytes);
    expect(encryptedKey).to.have.length(72);
    expect(payload.length).to.equal(reading.length + 16);
    expect(Buffer.from(capsule.toBytes()).equals(Buffer.from((await alice.header(id)).capsule.toBytes()))).to.equal(true);
    // Alice decrypts with the label key directly
    const chunks: Buffer[] = [];
    const { Writable } = await import("node:stream");
    await alice.decrypt(id, "sensor", new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c), done()) }));
    expect(Buffer.concat(chunks).equals(Buffer.from(reading))).to.equal(true);
    const { grant } = await alice.share({ label: "sensor", reader: bob.keys!.readerKeys(), threshold: 1, shares: 1, periods: 1 });
    expect(grant.delegatingKey).to.equal("0x" + Buffer.from(labelKey.toCompressedBytes()).toString("hex"));
    expect(new TextDecoder().decode(await bob.decryptWithGrant(bytes, grant))).to.equal('{"temperature":21.5}');
    expect(() => splitEdek(bytes.subarray(0, 50))).to.throw(ClientError);
  });

  it("renews a policy on-chain, updates and deletes policy records", async () => {
    const { grant } = await alice.share({ label: "renewable", reader: bob.keys!.readerKeys(), threshold: 1, shares: 2, periods: 1 });
    const before = await h.contracts.policyManager.getPolicy(grant.policyId);
    const renewed = await alice.renew(grant.policyId, 2);
    expect(renewed.endPeriod).to.equal(Number(before.endPeriod) + 2);
    expect(renewed.paid).to.equal(before.feeRate * 2n * 2n);
    expect(Number((await h.contracts.policyManager.getPolicy(grant.policyId)).endPeriod)).to.equal(renewed.endPeriod);
    expect(alice.policies.get(grant.policyId).endPeriod).to.equal(renewed.endPeriod);
    expect(alice.updatePolicy(grant.policyId, { note: "for the lab", readerName: "bob" }).reader.name).to.equal("bob");
    const del = await alice.deletePolicy(grant.policyId);
    expect(del.removed).to.equal(true);
    expect(del.revoked?.txHash).to.be.a("string");
    expect((await h.contracts.policyManager.getPolicy(grant.policyId)).revoked).to.equal(true);
    expect(() => alice.policies.get(grant.policyId)).to.throw(ClientError);
    const e = await alice.renew(grant.policyId, 1).catch((x: unknown) => x);
    expect((e as ClientError).code).to.equal("CHAIN");
    expect((e as ClientError).message).to.match(/PolicyFullyRevoked/);
  });

  it("delete removes the object and revokes the label's policies", async () => {
    const { id } = await alice.write(new TextEncoder().encode("to be deleted"), { label: "deletable" });
    const { grant } = await alice.share({ label: "deletable", reader: bob.keys!.readerKeys(), threshold: 1, shares: 2, periods: 1 });
    const result = await alice.delete(id, { label: "deletable" });
    expect(result.deleted).to.equal(true);
    expect(result.revoked.map((r) => r.policyId)).to.deep.equal([grant.policyId]);
    expect(await alice.storage.has(id)).to.equal(false);
    const e = (await bob.read(id, grant).catch((x: unknown) => x)) as ClientError;
    expect(e.code).to.equal("NOT_FOUND");
    expect((await h.contracts.policyManager.getPolicy(grant.policyId)).revoked).to.equal(true);
  });

  it("discards a correctly stamped but invalid cfrag and saves it as challenge evidence", async () => {
    const k = 2;
    const proxy = await startLyingProxy(account(10 + k), h.nodes[k].staker);
    const liar = await h.restart(k, proxy.url);
    proxy.target = liar.url;
    try {
      const plaintext = new TextEncoder().encode("one node lies");
      const { id } = await alice.write(plaintext, { label: "liar" });
      // 3-of-5: Bob still reads
      const ok = await alice.share({ label: "liar", reader: bob.keys!.readerKeys(), threshold: 3, shares: 5, periods: 1 });
      expect(new TextDecoder().decode(await bob.read(id, ok.grant))).to.equal("one node lies");
      // 5-of-5: every answer counts, so the lie is always seen
      const all = await alice.share({ label: "liar", reader: bob.keys!.readerKeys(), threshold: 5, shares: 5, periods: 1 });
      const err = (await bob.read(id, all.grant).catch((e: unknown) => e)) as RetrievalError;
      expect(err).to.be.instanceOf(RetrievalError);
      expect(err.valid).to.equal(4);
      expect(err.failures).to.have.length(1);
      const [f] = err.failures;
      expect(f.staker).to.equal(liar.staker);
      expect(f.kind).to.equal("invalid_cfrag");
      expect(f.evidenceFile).to.be.a("string");
      const evidence = parseEvidence(fs.readFileSync(f.evidenceFile!, "utf8"));
      expect(evidence.staker).to.equal(liar.staker);
      expect(Buffer.from(evidence.nodeVerifyingKey).toString("hex")).to.equal(
        Buffer.from(deriveNodeKeys(account(10 + k)).stampKey.toCompressedBytes()).toString("hex"),
      );
      expect(Buffer.from(evidence.delegatingKey).toString("hex")).to.equal(all.grant.delegatingKey.slice(2));
      expect(proxy.lies).to.be.greaterThan(0);

      // The saved file is a complete challenge: anyone can have the node slashed with it.
      const adjudicator = (await hre.ethers.getContractAt("Adjudicator", h.addresses.adjudicator!)).connect(
        account(1).connect(h.provider),
      ) as unknown as Adjudicator;
      const stakeBefore = (await h.contracts.escrow.stakeOf(liar.staker)).amount;
      expect(await adjudicator.escrow()).to.equal(await h.contracts.escrow.getAddress());
      const filed = await fileCFragEvidence(adjudicator, evidence);
      expect(filed.correct).to.equal(false);
      expect(filed.revealReceipt!.logs.some((l) => l.topics[0] === adjudicator.interface.getEvent("IncorrectCFragSlashed").topicHash)).to.equal(true);
      expect((await h.contracts.escrow.stakeOf(liar.staker)).amount).to.be.lessThan(stakeBefore);
    } finally {
      await h.restart(k);
      await proxy.close();
    }
  });

  it("does not wait for a slow node past its timeout, and reports it as timed out", async () => {
    const k = 1;
    const proxy = await startLyingProxy(account(10 + k), h.nodes[k].staker, { mode: "stall", stallMs: 20_000 });
    const slow = await h.restart(k, proxy.url);
    proxy.target = slow.url;
    try {
      const quick = await connect({ rpcUrl: h.rpc.url, deploymentFile: h.deploymentFile, home: bob.home, storage: alice.storage, keys: bob.keys, nodeTimeoutMs: 1500 });
      const { id } = await alice.write(new TextEncoder().encode("slow nodes"), { label: "slow" });
      // 4-of-5: the stalled node cannot be waited for, the other four suffice
      const four = await alice.share({ label: "slow", reader: bob.keys!.readerKeys(), threshold: 4, shares: 5, periods: 1 });
      expect(new TextDecoder().decode(await quick.read(id, four.grant))).to.equal("slow nodes");
      // 5-of-5: the timeout is reported for that node only
      const five = await alice.share({ label: "slow", reader: bob.keys!.readerKeys(), threshold: 5, shares: 5, periods: 1 });
      const err = (await quick.read(id, five.grant).catch((e: unknown) => e)) as RetrievalError;
      expect(err).to.be.instanceOf(RetrievalError);
      expect(err.failures.map((f) => [f.staker, f.kind])).to.deep.equal([[slow.staker, "timeout"]]);
      quick.close();
    } finally {
      await h.restart(k);
      await proxy.close();
    }
  });

  it("rejects bad input with typed errors and loses nothing", async () => {
    const reader = bob.keys!.readerKeys();
    const cases: [() => Promise<unknown>, string][] = [
      [() => alice.share({ label: "x", reader, threshold: 4, shares: 3, periods: 1 }), "BAD_INPUT"],
      [() => alice.share({ label: "x", reader: { ...reader, encryptingKey: "0x02" + "00".repeat(32) }, threshold: 1, shares: 1, periods: 1 }), "BAD_INPUT"],
      [() => alice.share({ label: "x", reader, threshold: 1, shares: 9, periods: 1 }), "NOT_ENOUGH_NODES"],
      [() => alice.revoke("0x1234"), "BAD_INPUT"],
      [() => alice.revoke("0x" + "ab".repeat(16)), "NOT_FOUND"],
      [() => bob.read("00".repeat(32), alice.grantFor(alice.listPolicies()[0].policyId)), "NOT_FOUND"],
    ];
    const before = alice.listPolicies().length;
    for (const [p, code] of cases) {
      const e = await p().catch((x: unknown) => x);
      expect(e, String(e)).to.be.instanceOf(ClientError);
      expect((e as ClientError).code, (e as Error).message).to.equal(code);
    }
    expect(alice.listPolicies().length).to.equal(before);
    // amounts in an error are NKMS, never token units (account 18 holds ETH but no NKMS)
    const pauper = await connect({ rpcUrl: h.rpc.url, deploymentFile: h.deploymentFile, home: `${h.dir}/pauper`, keys: deriveUserKeys(account(18)) });
    const poor = await pauper.share({ label: "x", reader, threshold: 1, shares: 1, periods: 1 }).catch((x: unknown) => x);
    pauper.close();
    expect((poor as Error).message).to.match(/^policy costs \d+(\.\d+)? NKMS, 0x[0-9a-fA-F]{40} holds 0\.0 NKMS$/);
    const e = await connect({ rpcUrl: "http://127.0.0.1:1", home: h.dir }).catch((x: unknown) => x);
    expect((e as ClientError).code).to.equal("UNREACHABLE");
    void getBytes;
    void fs;
  });
});
