import { expect } from "chai";
import path from "node:path";
import { startDirectoryServer, type DirectoryServer } from "../../src/directory/server";
import { connectCheckpointContract } from "../../src/directory/checkpoint-contract";
import { ClientError } from "../../src/client/errors";
import { account } from "../../scripts/demo-network";
import { startHarness, type Harness } from "./harness";
import type { NkmsClient } from "../../src/client/client";
import { startInstance, type TestInstance } from "../directory/instance";

describe("client: reader keys through the key-transparency directory", function () {
  this.timeout(300_000);
  let h: Harness;
  let server: DirectoryServer;
  let alice: NkmsClient;
  let bob: NkmsClient;
  let eve: NkmsClient;
  // Readers are ActivityPub actors; their instance vouches for their directory submissions.
  let social: TestInstance;
  let BOB: string;
  let EVE: string;

  before(async () => {
    h = await startHarness(2);
    social = await startInstance();
    BOB = social.actor("bob");
    EVE = social.actor("eve");
    server = await startDirectoryServer({
      database: path.join(h.dir, "directory.db"),
      name: "http://directory.test",
      signingKey: h.addresses.directorySecret,
      port: 0,
      checkpoint: { contract: connectCheckpointContract(h.addresses.directoryCheckpoint!, account(0).connect(h.provider)), intervalMs: 3_600_000 },
      allowInsecureActors: true,
    });
    alice = await h.client(1, "alice");
    bob = await h.client(2, "bob");
    eve = await h.client(18, "eve");
  });
  after(async () => {
    await server?.close();
    await social?.close();
    await h?.close();
  });

  it("Bob publishes his reader keys; Alice resolves them (checkpointed, proven, signed) and shares; Bob reads", async () => {
    const published = await bob.readerDirectory(server.url).publish(BOB, bob.keys!, social.identity("bob"));
    expect(published).to.deep.equal({ addedKey: true, addedReaderKeys: true });
    expect(await bob.readerDirectory(server.url).publish(BOB, bob.keys!, social.identity("bob"))).to.deep.equal({ addedKey: false, addedReaderKeys: false });
    await server.checkpointer!.publish();
    const resolved = await alice.readerDirectory(server.url).resolve(BOB);
    expect(resolved.keys).to.deep.equal(bob.keys!.readerKeys());
    expect(resolved.treeSize).to.be.greaterThan(resolved.leafIndex);

    const { id } = await alice.write(new TextEncoder().encode("via the directory"), { label: "dir" });
    const { grant, record } = await alice.shareWithActor(server.url, BOB, { label: "dir", threshold: 2, shares: 2, periods: 1 });
    expect(record.reader.directoryActor).to.equal(BOB);
    expect(new TextDecoder().decode(await bob.read(id, grant))).to.equal("via the directory");
  });

  it("refuses an actor without reader keys, another user's actor, and a directory key not on-chain", async () => {
    await eve.readerDirectory(server.url).publish(EVE, eve.keys!, social.identity("eve"));
    // Eve cannot attach her reader keys to Bob's actor (the directory's side: test/directory/attacks.test.ts)
    const e1 = (await eve.readerDirectory(server.url).publish(BOB, eve.keys!, social.identity("eve")).catch((e: unknown) => e)) as ClientError;
    expect(e1.code).to.equal("DENIED");
    const e2 = (await alice.readerDirectory(server.url).resolve(social.actor("nobody")).catch((e: unknown) => e)) as ClientError;
    expect(e2).to.be.instanceOf(ClientError);
    expect(["NOT_FOUND", "DIRECTORY"]).to.include(e2.code);
    // A directory signing with a key other than the on-chain one is rejected.
    const rogue = await startDirectoryServer({ database: path.join(h.dir, "rogue.db"), name: "http://directory.test", signingKey: new Uint8Array(32).fill(7), port: 0 });
    try {
      const e3 = (await alice.readerDirectory(rogue.url).resolve(BOB).catch((e: unknown) => e)) as ClientError;
      expect(e3.code).to.equal("INTEGRITY");
      // Its response key is not certified by the on-chain key (its tree heads would fail next).
      expect(e3.message).to.match(/bad_response_key/);
    } finally {
      await rogue.close();
    }
  });

  it("revoked reader keys no longer resolve; erase shreds the actor's records", async () => {
    await eve.readerDirectory(server.url).revoke(EVE, eve.keys!, social.identity("eve"));
    const e1 = (await alice.readerDirectory(server.url).resolve(EVE).catch((e: unknown) => e)) as ClientError;
    expect(e1.code).to.equal("NOT_FOUND");
    await eve.readerDirectory(server.url).publish(EVE, eve.keys!, social.identity("eve"));
    expect((await alice.readerDirectory(server.url).resolve(EVE)).keys).to.deep.equal(eve.keys!.readerKeys());
    expect(await eve.readerDirectory(server.url).erase(EVE, eve.keys!)).to.be.greaterThan(0);
    const e2 = (await alice.readerDirectory(server.url).resolve(EVE).catch((e: unknown) => e)) as ClientError;
    expect(e2).to.be.instanceOf(ClientError);
  });
});
