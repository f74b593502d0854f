import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import fc from "fast-check";
import { Wallet } from "ethers";
import { Enrico, splitEdek } from "../../src/client/client";
import { deriveUserKeys } from "../../src/client/identity";
import { parseGrant, parseGrantText, serializeGrant, GRANT_FORMAT, GRANT_VERSION, type Grant } from "../../src/client/grant";
import { ClientError } from "../../src/client/errors";
import { LocalDirectoryStorage } from "../../src/client/storage";
import { createOriginalDecryptor, STREAM_HEADER_SIZE } from "../../src/umbral/stream";

describe("client properties (fast-check)", () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-client-prop-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const owner = deriveUserKeys(new Wallet("0x" + "11".repeat(32)));

  it("Enrico's ciphertext of any data and chunk size is header ‖ ⌈n/c⌉ sealed chunks, and the owner decrypts it exactly", async () => {
    const storage = new LocalDirectoryStorage(path.join(dir, "objects"));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 1, max: 2048 }), fc.string({ minLength: 1, maxLength: 20 }), async (data, chunkSize, label) => {
        const id = await new Enrico(owner.labelPublicKey(label), storage).write(data, { chunkSize });
        const bytes = await storage.getBytes(id);
        const { payload } = splitEdek(bytes);
        const chunks = Math.max(1, Math.ceil(data.length / chunkSize));
        expect(bytes.length).to.equal(STREAM_HEADER_SIZE + data.length + 16 * chunks);
        expect(payload.length).to.equal(data.length + 16 * chunks);
        const out: Buffer[] = [];
        await pipeline(Readable.from([Buffer.from(bytes)]), createOriginalDecryptor(owner.labelSecret(label)), new Writable({ write: (c: Buffer, _e, d) => (out.push(c), d()) }));
        expect(Buffer.concat(out).equals(Buffer.from(data))).to.equal(true);
      }),
      { numRuns: 40 },
    );
  });

  it("label keys are deterministic per (wallet, label) and distinct across labels", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b) => {
        const again = deriveUserKeys(new Wallet("0x" + "11".repeat(32)));
        expect(again.labelPublicKey(a).equals(owner.labelPublicKey(a))).to.equal(true);
        if (a !== b) expect(owner.labelPublicKey(a).equals(owner.labelPublicKey(b))).to.equal(false);
      }),
      { numRuns: 50 },
    );
  });

  const grantArb: fc.Arbitrary<Grant> = fc
    .record({
      policyId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      label: fc.string(),
      owner: fc.uint8Array({ minLength: 20, maxLength: 20 }),
      nodes: fc.array(fc.uint8Array({ minLength: 20, maxLength: 20 }), { minLength: 1, maxLength: 32 }),
      t: fc.nat(),
      endPeriod: fc.nat(),
    })
    .map(({ policyId, label, owner: o, nodes, t, endPeriod }) => ({
      format: GRANT_FORMAT,
      version: GRANT_VERSION,
      policyId: hex(policyId),
      label,
      owner: hex(o),
      threshold: (t % nodes.length) + 1,
      nodes: nodes.map(hex),
      delegatingKey: owner.readerKeys().encryptingKey,
      publisherVerifyingKey: owner.readerKeys().verifyingKey,
      receivingKey: owner.readerKeys().encryptingKey,
      endPeriod,
    }));

  it("grants round-trip through their file form, and any broken field is rejected with BAD_INPUT", () => {
    fc.assert(
      fc.property(grantArb, fc.constantFrom("policyId", "owner", "threshold", "nodes", "receivingKey", "format", "endPeriod"), (grant, field) => {
        expect(parseGrantText(serializeGrant(grant))).to.deep.equal(grant);
        const broken: Record<string, unknown> = { ...grant };
        broken[field] = field === "threshold" ? grant.nodes.length + 1 : field === "nodes" ? [] : field === "endPeriod" ? 1.5 : "0x12";
        expect(() => parseGrant(broken)).to.throw(ClientError);
      }),
      { numRuns: 100 },
    );
  });
});

function hex(b: Uint8Array): string {
  return "0x" + Buffer.from(b).toString("hex");
}
