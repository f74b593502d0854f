// The directory as deployed: real SQLite files, real HTTP (fastify), the real DirectoryCheckpoint
// contract on Hardhat's EVM, and a client that checks everything against the chain.
import fs from "node:fs";
import { createHash } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { ethers } from "hardhat";
import type { DirectoryCheckpoint } from "../../typechain-types";
import { decryptAttribute, AttributeDecryptionError } from "../../src/directory/attribute-encryption";
import { connectCheckpointContract, CheckpointContract, directoryKeyBytes32 } from "../../src/directory/checkpoint-contract";
import { CheckpointDivergenceError, Checkpointer } from "../../src/directory/checkpointer";
import { DirectoryClient, DirectoryRequestError, DirectoryVerificationError } from "../../src/directory/client";
import type { HistoryView } from "../../src/directory/directory";
import { decodeMerkleRoot, encodePublicKey, fromB64url } from "../../src/directory/encoding";
import { checkLogEntry } from "../../src/directory/log-entry";
import { leafHash, verifyConsistency, verifyInclusion } from "../../src/directory/merkle";
import { mlDsaVerify } from "../../src/directory/mldsa";
import {
  buildAddKey,
  buildErasureRequest,
  buildMoveIdentity,
  buildRevocationToken,
  leafData,
  publicKeyOf,
  signaturePayload,
} from "../../src/directory/protocol";
import { DirectoryServer, startDirectoryServer } from "../../src/directory/server";
import { newSecretKey, submitAs } from "./helpers";
import { startInstance, TestInstance } from "./instance";

async function expectVerification(p: Promise<unknown>, code: string): Promise<DirectoryVerificationError> {
  try {
    await p;
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(DirectoryVerificationError);
    expect((err as DirectoryVerificationError).code).to.equal(code);
    return err as DirectoryVerificationError;
  }
  return expect.fail(`expected verification failure ${code}`);
}

async function expectRequestError(p: Promise<unknown>, status: number, code: string): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(DirectoryRequestError);
    expect((err as DirectoryRequestError).status).to.equal(status);
    expect((err as DirectoryRequestError).code).to.equal(code);
    return;
  }
  expect.fail(`expected HTTP ${status} ${code}`);
}

describe("directory: HTTP service, on-chain checkpoints and split-view detection", function () {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-dir-svc-"));
  const signingKey = newSecretKey();
  let contract: DirectoryCheckpoint;
  let operatorContract: CheckpointContract;
  let readerContract: CheckpointContract;
  let honest: DirectoryServer;
  const servers: DirectoryServer[] = [];
  // Actors are ActivityPub actors of real (loopback) instances, which sign their submissions.
  let social: TestInstance;
  let other: TestInstance;
  let ALICE: string;
  let ERIN: string;

  async function serve(name: string, withCheckpoint: boolean): Promise<DirectoryServer> {
    const server = await startDirectoryServer({
      database: path.join(tmp, `${name}.db`),
      name: "https://pkd.test",
      signingKey,
      // Interval far beyond the test: checkpoints are published explicitly (publish()).
      checkpoint: withCheckpoint ? { contract: operatorContract, intervalMs: 3_600_000 } : undefined,
      allowInsecureActors: true,
      rateLimit: { basePenaltyMs: 0 }, // this file checks error codes, sent back to back from one address
    });
    servers.push(server);
    return server;
  }

  before(async () => {
    social = await startInstance();
    other = await startInstance();
    ALICE = social.actor("alice");
    ERIN = social.actor("erin-7Qx9");
    const [operator] = await ethers.getSigners();
    const factory = await ethers.getContractFactory("DirectoryCheckpoint");
    // On chain: SHA-256 of the directory's ML-DSA-44 public key (the key itself is 1312 bytes).
    contract = (await factory.deploy(operator.address, directoryKeyBytes32(publicKeyOf(signingKey)))) as unknown as DirectoryCheckpoint;
    await contract.waitForDeployment();
    const address = await contract.getAddress();
    operatorContract = connectCheckpointContract(address, operator);
    readerContract = connectCheckpointContract(address, ethers.provider);
    honest = await serve("honest", true);
  });

  after(async () => {
    for (const s of servers) await s.close();
    await social?.close();
    await other?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("publishes and looks up keys with proofs tied to the on-chain checkpoint", async () => {
    const client = new DirectoryClient({ url: honest.url, contract: readerContract });
    const alice1 = newSecretKey();
    const res = await client.publishFirstKey(ALICE, alice1, social.identity("alice"));
    expect(res["leaf-index"]).to.equal(0);
    // The contract pins SHA-256 of the directory's ML-DSA-44 key; the client checks the served key against it.
    const keyHash = createHash("sha256").update(honest.directory.publicKey).digest("hex");
    expect(await contract.directoryKey()).to.equal("0x" + keyHash);
    expect(honest.directory.publicKey).to.have.length(1312);

    const published = await honest.checkpointer!.publish();
    expect(published?.treeSize).to.equal(1);
    const [size, root] = await contract.latest();
    expect(size).to.equal(1n);
    expect(root).to.equal("0x" + Buffer.from((await honest.directory.log.rootAt(1))).toString("hex"));
    expect(await honest.checkpointer!.publish()).to.equal(null);

    const alice2 = newSecretKey();
    await client.publish(ALICE, publicKeyOf(alice2), alice1, social.identity("alice"));
    const found = await client.lookup(ALICE);
    expect(found.keys.map((k) => encodePublicKey(k.publicKey))).to.deep.equal([
      encodePublicKey(publicKeyOf(alice1)),
      encodePublicKey(publicKeyOf(alice2)),
    ]);
    expect(found.treeHead.treeSize).to.equal(2);
    expect(found.treeHead.checkpoint.treeSize).to.equal(1);

    // The second checkpoint carries a consistency proof the contract verifies.
    await honest.checkpointer!.publish();
    expect((await contract.latest())[0]).to.equal(2n);
    await expect(contract.checkpoint(2, root, [])).to.be.revertedWithCustomError(contract, "TreeSizeNotIncreasing");
  });

  it("answers errors as 4xx JSON with machine-readable codes", async () => {
    const client = new DirectoryClient({ url: honest.url, contract: readerContract });
    await expectRequestError(client.lookup("https://nowhere.example/u/x"), 404, "not_found");
    const sk = newSecretKey();
    const msg = await buildAddKey(social.actor("carol"), publicKeyOf(sk), await honest.directory.currentRoot(), sk);
    await client.submit(msg, social.identity("carol"));
    await expectRequestError(client.submit(msg, social.identity("carol")), 409, "duplicate_message");
    // Without the instance's signature an AddKey is not even looked at.
    await expectRequestError(client.submit(await buildAddKey(social.actor("x"), publicKeyOf(sk), await honest.directory.currentRoot(), sk)), 401, "unauthorized");
    const bad = await fetch(`${honest.url}/api/message`, { method: "POST", headers: { "content-type": "application/json" }, body: "{oops" });
    expect(bad.status).to.equal(400);
    const badBody = (await bad.json()) as Record<string, unknown>;
    // The spec's error body, exactly these three fields.
    expect(badBody).to.have.all.keys("!pkd-context", "error", "message");
    expect(badBody["!pkd-context"]).to.equal("fedi-e2ee:v1/api/error");
    expect(badBody.error).to.equal("invalid_request");
    const range = await fetch(`${honest.url}/api/proof/consistency/5/2`);
    expect(range.status).to.equal(400);
    expect(((await range.json()) as { error: string }).error).to.equal("invalid_range");
    const unknown = await fetch(`${honest.url}/api/history/view/AAAA`);
    expect(unknown.status).to.equal(404);
    const history = (await (await fetch(`${honest.url}/api/history`)).json()) as { entries: Array<{ action: string }> };
    expect(history.entries.map((e) => e.action)).to.deep.equal(["AddKey", "AddKey", "AddKey"]);
  });

  it("checkpoints periodically on its own", async () => {
    const sk = newSecretKey();
    await submitAs(honest.directory, await buildAddKey(social.actor("dan"), publicKeyOf(sk), await honest.directory.currentRoot(), sk));
    const auto = await startDirectoryServer({
      database: path.join(tmp, "honest.db"), // the same log, reopened by a second process-like instance
      name: "https://pkd.test",
      signingKey,
      checkpoint: { contract: operatorContract, intervalMs: 50 },
    });
    servers.push(auto);
    const target = BigInt((await auto.directory.log.size()));
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        contract.latest().then(([size]: [bigint, ...unknown[]]) => {
          if (size === target) {
            clearInterval(poll);
            resolve();
          }
        }, reject);
      }, 50);
    });
    await auto.checkpointer!.stop();
  });

  it("detects a directory that forks its log (split view), rolls back, or signs with another key", async () => {
    const honestClient = new DirectoryClient({ url: honest.url, contract: readerContract });
    await honestClient.verifiedTreeHead();
    const checkpointed = Number((await contract.latest())[0]);

    // The liar has the same signing key and replays the honest prefix, then diverges.
    const liar = await serve("liar", false);
    for (const entry of (await honest.directory.history(0, checkpointed - 1))) {
      const view = (await honest.directory.view(entry["merkle-leaf"]));
      await submitAs(liar.directory, { ...entry.envelope, "symmetric-keys": view["symmetric-keys"] ?? {} });
    }
    expect((await liar.directory.log.rootAt(checkpointed - 1))).to.deep.equal((await honest.directory.log.rootAt(checkpointed - 1)));
    const liarClient = new DirectoryClient({ url: liar.url, contract: readerContract });
    await expectVerification(liarClient.verifiedTreeHead(), "directory_behind_checkpoint");

    for (let i = 0; i < 3; i++) {
      const k = newSecretKey();
      await submitAs(liar.directory, await buildAddKey(`https://evil.example/u/${i}`, publicKeyOf(k), await liar.directory.currentRoot(), k));
    }
    const err = await expectVerification(liarClient.lookup(ALICE), "inconsistent_with_checkpoint");
    expect(err.splitView).to.equal(true);
    // The forked directory cannot move the on-chain checkpoint onto its fork either.
    const liarCheckpointer = new Checkpointer({ directory: liar.directory, contract: operatorContract });
    try {
      await liarCheckpointer.publish();
      expect.fail("expected divergence");
    } catch (e) {
      expect(e).to.be.instanceOf(CheckpointDivergenceError);
    }
    const size = (await liar.directory.log.size());
    const forkedRoot = (await liar.directory.log.rootAt(size));
    const proof = (await liar.directory.log.consistencyProof(checkpointed, size));
    await expect(contract.checkpoint(size, forkedRoot, proof)).to.be.revertedWithCustomError(contract, "InconsistentCheckpoint");

    // A directory signing with a key other than the one on chain is rejected outright.
    const impostor = await startDirectoryServer({ database: path.join(tmp, "impostor.db"), name: "https://pkd.test", signingKey: newSecretKey() });
    servers.push(impostor);
    // Its response key has no certificate from the on-chain key: refused at the first answer...
    await expectVerification(new DirectoryClient({ url: impostor.url, contract: readerContract }).verifiedTreeHead(), "bad_response_key");
    // ...and, were responses not checked, at its tree head.
    await expectVerification(new DirectoryClient({ url: impostor.url, contract: readerContract, verifyResponses: false }).verifiedTreeHead(), "bad_tree_head_signature");

    // The honest directory still verifies.
    expect((await honestClient.lookup(ALICE)).keys).to.have.length(2);
  });

  it("crypto-shreds an actor on an authenticated request; proofs and signatures still verify", async () => {
    const client = new DirectoryClient({ url: honest.url, contract: readerContract });
    const erin = newSecretKey();
    const erin2 = newSecretKey();
    const first = await client.publishFirstKey(ERIN, erin, social.identity("erin-7Qx9"));
    const second = await client.publish(ERIN, publicKeyOf(erin2), erin, social.identity("erin-7Qx9"));
    await honest.checkpointer!.publish();
    const before = (await (await fetch(`${honest.url}/api/history/view/${first["merkle-leaf"]}`)).json()) as HistoryView;
    expect(before.message?.actor).to.equal(ERIN);
    const keys = Object.values(before["symmetric-keys"]!).map((k) => Buffer.from(fromB64url(k)!));

    // Only the actor's own key may ask; a stranger's signature is refused and changes nothing.
    await expectRequestError(
      fetch(`${honest.url}/api/erase`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(buildErasureRequest(honest.directory.name, ERIN, newSecretKey())),
      }).then(async (r) => {
        const body = (await r.json()) as { error: string; message: string };
        throw new DirectoryRequestError(r.status, body.error, body.message);
      }),
      400, // the spec's table
      "invalid_signature",
    );
    const readDisk = (): Buffer =>
      Buffer.concat(
        ["", "-wal"].map((suffix) => path.join(tmp, `honest.db${suffix}`)).filter(fs.existsSync).map((f) => fs.readFileSync(f)),
      );
    // Sanity for the scan below: before erasure the identifying bytes are on disk.
    expect(readDisk().includes(Buffer.from(ERIN))).to.equal(true);
    for (const k of keys) expect(readDisk().includes(k)).to.equal(true);
    const sizeBefore = (await honest.directory.log.size());
    const rootBefore = (await honest.directory.log.rootAt());
    const erased = await client.erase(ERIN, erin2);
    expect(erased["records-shredded"]).to.equal(2);

    // No plaintext, no keys, no index entries are served any more.
    await expectRequestError(client.lookup(ERIN), 404, "not_found");
    for (const leaf of [first["merkle-leaf"], second["merkle-leaf"]]) {
      const view = (await (await fetch(`${honest.url}/api/history/view/${leaf}`)).json()) as HistoryView;
      expect(view.message).to.equal(null);
      expect(view["symmetric-keys"]).to.equal(null);
      // The log is untouched: the log entry, the leaf, its inclusion proof and the envelope signature verify.
      const entry = fromB64url(view["log-entry"])!;
      expect(checkLogEntry(entry, publicKeyOf(signingKey), leafData(view.envelope))).to.equal(undefined);
      const hash = leafHash(entry);
      expect(Buffer.from(hash).toString("base64url")).to.equal(leaf);
      const root = decodeMerkleRoot(view["tree-head"].root)!;
      expect(verifyInclusion(hash, view["leaf-index"], view["tree-size"], view["inclusion-proof"].map((p) => fromB64url(p)!), root)).to.equal(true);
      // Both records were signed by erin's first key (self-signed AddKey, then vouching for the second).
      expect(mlDsaVerify(fromB64url(view.envelope.signature)!, signaturePayload(view.envelope), publicKeyOf(erin))).to.equal(true);
      // Without the key the ciphertext yields nothing.
      let refused = false;
      await decryptAttribute("actor", fromB64url(view.envelope.message.actor)!, newSecretKey(), view.envelope["recent-merkle-root"]).catch((e) => {
        refused = e instanceof AttributeDecryptionError;
      });
      expect(refused).to.equal(true);
    }
    expect((await honest.directory.log.size())).to.equal(sizeBefore);
    expect((await honest.directory.log.rootAt())).to.deep.equal(rootBefore);
    const checkpointed = Number((await contract.latest())[0]);
    const proof = (await honest.directory.log.consistencyProof(checkpointed, sizeBefore));
    expect(verifyConsistency(checkpointed, sizeBefore, (await honest.directory.log.rootAt(checkpointed)), rootBefore, proof)).to.equal(true);
    await client.verifiedTreeHead();
    // Other actors are unaffected.
    expect((await client.lookup(ALICE)).keys).to.have.length(2);

    // Nothing identifying is left on disk: not the actor ID, its keys, or the attribute keys.
    const disk = readDisk();
    expect(disk.includes(Buffer.from(ERIN))).to.equal(false);
    expect(disk.includes(Buffer.from(encodePublicKey(publicKeyOf(erin2))))).to.equal(false);
    expect(disk.includes(Buffer.from(publicKeyOf(erin2)))).to.equal(false);
    for (const k of keys) expect(disk.includes(k)).to.equal(false);
    expect(disk.includes(Buffer.from(ALICE))).to.equal(true);
  });

  it("serves the read endpoints, token revocation, and proven lookups across MoveIdentity", async () => {
    const client = new DirectoryClient({ url: honest.url, contract: readerContract });
    const get = async <T>(p: string): Promise<{ status: number; body: T }> => {
      const r = await fetch(honest.url + p);
      return { status: r.status, body: (await r.json()) as T };
    };
    const frank = newSecretKey();
    const frank2 = newSecretKey();
    const FRANK = social.actor("frank");
    const added = await client.publishFirstKey(FRANK, frank, social.identity("frank"));
    await client.publish(FRANK, publicKeyOf(frank2), frank, social.identity("frank"));
    const info = await get<{ "active-keys": number; fireproof: boolean }>(`/api/actor/${encodeURIComponent(FRANK)}`);
    expect(info.body).to.include({ "active-keys": 2, fireproof: false });
    const keys = await get<{ "public-keys": Array<{ "key-id": string; "public-key": string }> }>(`/api/actor/${encodeURIComponent(FRANK)}/keys`);
    const id = keys.body["public-keys"][1]["key-id"];
    const one = await get<{ "public-key": string }>(`/api/actor/${encodeURIComponent(FRANK)}/key/${id}`);
    expect(one.body["public-key"]).to.equal(encodePublicKey(publicKeyOf(frank2)));
    expect((await get(`/api/actor/${encodeURIComponent(FRANK)}/key/nope`)).status).to.equal(404);
    expect((await get<{ auxiliary: unknown[] }>(`/api/actor/${encodeURIComponent(FRANK)}/auxiliary`)).body.auxiliary).to.deep.equal([]);
    const since = await get<{ entries: Array<{ "merkle-leaf": string }> }>(`/api/history/since/${added["merkle-leaf"]}`);
    expect(since.body.entries).to.have.length(1);
    const info2 = await get<{ "public-key": string }>("/api/server-public-key");
    expect(info2.body["public-key"]).to.equal(encodePublicKey(publicKeyOf(signingKey)));

    // Third-party revocation by token over HTTP; BurnDown endpoint only takes BurnDown.
    await client.revokeWithToken(buildRevocationToken(frank2));
    expect((await client.lookup(FRANK)).keys).to.have.length(1);
    const wrong = await fetch(`${honest.url}/api/burndown`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(wrong.status).to.equal(400);

    // After a move, lookup proves the AddKey record and the MoveIdentity chain to the new name.
    // The new instance vouches for the move; the old key signs it.
    const NEW = other.actor("frank");
    const tree = await client.verifiedTreeHead();
    await client.submit(await buildMoveIdentity(FRANK, NEW, tree.head.root, frank), other.identity("frank"));
    const moved = await client.lookup(NEW);
    expect(moved.keys.map((k) => encodePublicKey(k.publicKey))).to.deep.equal([encodePublicKey(publicKeyOf(frank))]);
    await expectRequestError(client.lookup(FRANK), 404, "not_found");
  });
});
