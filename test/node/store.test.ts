import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { NodeStore, type NewKFrag } from "../../src/node/store";
import { NodeError } from "../../src/node/errors";

const key = new Uint8Array(randomBytes(32));
const nodeId = new Uint8Array(randomBytes(20));

function entry(policyId: Uint8Array, kfrag: Uint8Array, endTime = 2_000_000_000): NewKFrag {
  return {
    policyId,
    owner: "0x" + "ab".repeat(20),
    endTime,
    kfrag,
    receivedAt: 1_700_000_000,
    meta: { publisherVerifyingKey: "0x02", delegatingKey: "0x03", receivingKey: "0x02", conditions: null, reader: null, ownerSignature: "0x" },
  };
}

describe("node store", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "nkms-store-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("round-trips kfrags across reopen and keeps them encrypted on disk", () => {
    const path = join(dir, "node.sqlite");
    const store = NodeStore.open(path, key, nodeId);
    const pid = new Uint8Array(randomBytes(32));
    const kfrag = new Uint8Array(randomBytes(310));
    expect(store.putKFrag(entry(pid, kfrag))).to.equal("stored");
    expect(store.putKFrag(entry(pid, kfrag))).to.equal("duplicate");
    store.close();
    const raw = Buffer.concat([readFileSync(path), readFileSync(path + "-wal", { flag: "a+" })]);
    expect(raw.includes(Buffer.from(kfrag))).to.equal(false);
    const again = NodeStore.open(path, key, nodeId);
    expect(Buffer.from(again.get(pid)!.kfrag!).equals(Buffer.from(kfrag))).to.equal(true);
    again.close();
  });

  it("refuses to decrypt under another node id or key (AAD binding)", () => {
    const path = join(dir, "node.sqlite");
    const store = NodeStore.open(path, key, nodeId);
    const pid = new Uint8Array(randomBytes(32));
    store.putKFrag(entry(pid, new Uint8Array(randomBytes(310))));
    store.close();
    const otherNode = NodeStore.open(path, key, new Uint8Array(randomBytes(20)));
    expect(() => otherNode.get(pid)).to.throw();
    otherNode.close();
    const otherKey = NodeStore.open(path, new Uint8Array(randomBytes(32)), nodeId);
    expect(() => otherKey.get(pid)).to.throw();
    otherKey.close();
  });

  it("rejects a different kfrag for a held policy and anything for a revoked one", () => {
    const store = NodeStore.open(join(dir, "n.sqlite"), key, nodeId);
    const pid = new Uint8Array(randomBytes(32));
    store.putKFrag(entry(pid, new Uint8Array(310).fill(1)));
    expect(() => store.putKFrag(entry(pid, new Uint8Array(310).fill(2))))
      .to.throw(NodeError).with.property("code", "KFRAG_CONFLICT");
    expect(store.markRevoked(pid, 5)).to.equal(true);
    const rec = store.get(pid)!;
    expect(rec.state).to.equal("revoked");
    expect(rec.kfrag).to.equal(null);
    expect(() => store.putKFrag(entry(pid, new Uint8Array(310).fill(1))))
      .to.throw(NodeError).with.property("code", "POLICY_REVOKED");
    // A revocation seen before the kfrag arrives leaves a tombstone too.
    const early = new Uint8Array(randomBytes(32));
    expect(store.markRevoked(early, 5)).to.equal(false);
    expect(() => store.putKFrag(entry(early, new Uint8Array(310)))).to.throw(NodeError).with.property("code", "POLICY_REVOKED");
    store.close();
  });

  it("purges expired policies and keeps live ones", () => {
    const store = NodeStore.open(join(dir, "n.sqlite"), key, nodeId);
    const old = new Uint8Array(randomBytes(32));
    const live = new Uint8Array(randomBytes(32));
    store.putKFrag(entry(old, new Uint8Array(310), 1000));
    store.putKFrag(entry(live, new Uint8Array(310), 3000));
    expect(store.purgeExpired(2000)).to.equal(1);
    expect(store.get(old)!.state).to.equal("expired");
    expect(store.get(old)!.kfrag).to.equal(null);
    expect(store.get(live)!.state).to.equal("active");
    expect(store.counts()).to.deep.equal({ active: 1, revoked: 0, expired: 1 });
    store.close();
  });

  it("property: every stored kfrag reads back exactly until revoked", () => {
    const store = NodeStore.open(join(dir, "p.sqlite"), key, nodeId);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 8, selector: (a) => Buffer.from(a).toString("hex") }),
        fc.uint8Array({ minLength: 1, maxLength: 400 }),
        fc.nat(7),
        (ids, kfrag, revokeAt) => {
          for (const id of ids) store.putKFrag(entry(id, kfrag));
          const revoked = ids[revokeAt % ids.length];
          store.markRevoked(revoked, 1);
          for (const id of ids) {
            const rec = store.get(id)!;
            if (id === revoked) expect(rec.kfrag).to.equal(null);
            else expect(Buffer.from(rec.kfrag!).equals(Buffer.from(kfrag))).to.equal(true);
            store.markRevoked(id, 1);
          }
        },
      ),
      { numRuns: 50 },
    );
    store.close();
  });

  it("keeps settings and health results", () => {
    const store = NodeStore.open(join(dir, "n.sqlite"), key, nodeId);
    store.setSetting("a", "1");
    store.setSetting("a", "2");
    expect(store.getSetting("a")).to.equal("2");
    store.addHealthResult({ at: 1, round: "r1", target: "0x1", verdict: "healthy", detail: "" });
    expect(store.recentHealthResults()).to.have.length(1);
    store.close();
  });
});
