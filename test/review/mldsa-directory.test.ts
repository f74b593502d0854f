// Outside review of the ML-DSA-44 directory (c5107df..c75e771): unauthenticated paths that make
// the directory run ML-DSA-44 work (a verification is ~1.5 ms, a signature ~5 ms with
// @noble/post-quantum) without bound, and the vectors-only replay seam reaching a server.
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import * as mldsa from "../../src/directory/mldsa";
import { DirectoryError } from "../../src/directory/errors";
import type { StoreTransaction } from "../../src/directory/store/store";
import { toB64url } from "../../src/directory/encoding";
import { buildAddKey, buildRevocationToken, publicKeyOf, unixTime } from "../../src/directory/protocol";
import { ResponseSigner } from "../../src/directory/response-signature";
import { registerDirectoryRoutes, startDirectoryServer } from "../../src/directory/server";
import { DirectoryHpkeKey } from "../../src/directory/hpke-wire";
import Fastify from "fastify";
import { makeDirectory, newSecretKey, submitAs, TestDirectory } from "../directory/helpers";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const EVE = "https://evil.example/users/eve";

/**
 * A 2420-byte ML-DSA-44 signature that parses and passes the norm check (z = 0, no hints), so a
 * verifier pays the whole verification (~1.5 ms) before it fails; random bytes fail in ~0.1 ms.
 */
function fullCostSignature(): Uint8Array {
  const sig = new Uint8Array(2420);
  sig.set(randomBytes(32), 0);
  const z = sig.subarray(32, 32 + 2304);
  for (let i = 0; i < 1024; i++) {
    const bit = i * 18 + 17; // each 18-bit field holds gamma1 - z = 2^17
    z[bit >> 3] |= 1 << (bit & 7);
  }
  return sig;
}

/** Counts mlDsaVerify calls (and those made inside a store write transaction) while `fn` runs. */
async function countVerifies(t: TestDirectory, fn: () => Promise<unknown>): Promise<{ total: number; inWrite: number }> {
  const mod = mldsa as unknown as { mlDsaVerify: typeof mldsa.mlDsaVerify };
  const original = mod.mlDsaVerify;
  const store = t.store as unknown as { write: typeof t.store.write };
  const originalWrite = store.write;
  let writing = false;
  const counts = { total: 0, inWrite: 0 };
  mod.mlDsaVerify = (sig, msg, pk) => {
    counts.total++;
    if (writing) counts.inWrite++;
    return original(sig, msg, pk);
  };
  store.write = (<T>(cb: (tx: StoreTransaction) => Promise<T>): Promise<T> =>
    originalWrite.call(t.store, async (tx: StoreTransaction) => {
      writing = true;
      try {
        return await cb(tx);
      } finally {
        writing = false;
      }
    }) as Promise<T>) as typeof t.store.write;
  try {
    await fn().catch(() => undefined);
  } finally {
    mod.mlDsaVerify = original;
    store.write = originalWrite;
  }
  return counts;
}

describe("review: ML-DSA-44 work an unauthenticated caller can make the directory do", function () {
  this.timeout(300_000);
  let t: TestDirectory;
  afterEach(async () => {
    await t?.close();
  });

  it("the verification counter sees the directory's ML-DSA-44 checks", async () => {
    t = await makeDirectory();
    const sk = newSecretKey();
    const msg = await buildAddKey(EVE, publicKeyOf(sk), await t.directory.currentRoot(), sk);
    const counts = await countVerifies(t, () => submitAs(t.directory, msg));
    expect(counts.total).to.be.greaterThan(0);
  });

  it("a forged erasure request (no HTTP signature needed) runs no ML-DSA-44 verification inside the write transaction", async () => {
    t = await makeDirectory();
    const sk = newSecretKey();
    await submitAs(t.directory, await buildAddKey(EVE, publicKeyOf(sk), await t.directory.currentRoot(), sk));
    const forged = { actor: EVE, time: unixTime(), signature: toB64url(fullCostSignature()) };
    const counts = await countVerifies(t, () => t.directory.erase(forged));
    expect(counts.total, "the forged request is verified").to.equal(1);
    // Inside the write transaction every submission in the directory waits behind it.
    expect(counts.inWrite, "verifications while holding the write lock").to.equal(0);
  });

  it("one forged erasure request costs a bounded number of verifications however many keys the actor registers", async () => {
    t = await makeDirectory();
    // Eve (whose instance is hers) gives her actor many keys, each vouched for by her first one.
    const first = newSecretKey();
    const r0 = await submitAs(t.directory, await buildAddKey(EVE, publicKeyOf(first), await t.directory.currentRoot(), first));
    let accepted = 1;
    for (let i = 0; i < 40; i++) {
      const k = newSecretKey();
      try {
        await submitAs(t.directory, await buildAddKey(EVE, publicKeyOf(k), await t.directory.currentRoot(), first, r0["key-id"]));
        accepted++;
      } catch (err) {
        if (!(err instanceof DirectoryError)) throw err;
      }
    }
    // Then anyone, without any HTTP signature, sends erasure requests for Eve with full-cost junk:
    // each one was verified under every one of her keys (~1.5 ms each, on the event loop).
    const forged = { actor: EVE, time: unixTime(), signature: toB64url(fullCostSignature()) };
    const counts = await countVerifies(t, () => t.directory.erase(forged));
    expect(counts.total, `verifications for one forged erasure (actor has ${accepted} keys)`).to.be.at.most(16);
    // Her own instance's submissions without a key-id hint are bounded the same way.
    const junk = await buildAddKey(EVE, publicKeyOf(newSecretKey()), await t.directory.currentRoot(), first);
    junk.signature = toB64url(fullCostSignature());
    const submitted = await countVerifies(t, () => submitAs(t.directory, junk));
    expect(submitted.total, "verifications for one junk-signed AddKey without key-id").to.be.at.most(17);
  });

  it("reads of past tree sizes cannot make the directory ML-DSA-44-sign heads without bound", async () => {
    t = await makeDirectory();
    const sk = newSecretKey();
    const r = await submitAs(t.directory, await buildAddKey(EVE, publicKeyOf(sk), await t.directory.currentRoot(), sk));
    // A log past the 1024-head cache: append leaves directly (the reads below only need the tree).
    await t.store.write(async (tx) => {
      for (let i = 0; i < 1100; i++) await tx.log.append(new Uint8Array(randomBytes(32)));
    });
    const current = await t.directory.log.size();
    // GET api/history/view/:hash?tree-size=N is unauthenticated and not rate limited: cycle N.
    let signed = 0;
    let refused = 0;
    const seen = new Map<number, string>();
    const started = Date.now();
    for (let round = 0; round < 2; round++) {
      for (let n = 2; n < Math.min(current, 2 + 1030); n += 1) {
        if (Date.now() - started > 1500) break;
        try {
          const view = await t.directory.view(r["merkle-leaf"], n);
          const sig = view["tree-head"].signature;
          if (seen.get(n) !== sig) signed++;
          seen.set(n, sig);
        } catch (err) {
          if (!(err instanceof DirectoryError) || err.code !== "overloaded") throw err;
          refused++;
        }
      }
    }
    // In 1.5 s a handful of fresh heads is plenty for honest readers (who ask for sizes the
    // directory served as current); the rest of a flood must be refused, not signed (~5 ms each).
    expect(signed, `fresh ML-DSA-44 tree-head signatures in 1.5 s (${refused} refused)`).to.be.at.most(64);
  });

  it("a revocation token for a key the directory does not hold costs no verification", async () => {
    t = await makeDirectory();
    const token = buildRevocationToken(newSecretKey());
    const counts = await countVerifies(t, () => t.directory.submitRevocationToken(token));
    expect(counts.total).to.equal(0);
  });
});

describe("review: the vectors-only replay seam never reaches a server", function () {
  this.timeout(60_000);
  it("startDirectoryServer refuses DirectoryOptions.vectorReplay", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-review-seam-"));
    const seam = {
      openAttribute: () => {
        throw new Error("unused");
      },
      // Whatever the caller hands back is appended as the log entry, unsigned by the directory.
      logEntry: () => ({ entry: new Uint8Array(2484), leafHash: new Uint8Array(32) }),
    };
    let server: Awaited<ReturnType<typeof startDirectoryServer>> | undefined;
    let refused = false;
    try {
      server = await startDirectoryServer({
        database: path.join(dir, "d.db"),
        name: "https://pkd.test",
        signingKey: newSecretKey(),
        tlog: false,
        commitmentWorkers: 0,
        ...({ vectorReplay: seam } as object),
      } as Parameters<typeof startDirectoryServer>[0]);
    } catch {
      refused = true;
    } finally {
      await server?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(refused, "a server was started with the vectors-only seam").to.equal(true);
  });

  it("registerDirectoryRoutes refuses a Directory opened with the seam", async () => {
    const t = await makeDirectory({
      vectorReplay: {
        openAttribute: () => {
          throw new Error("unused");
        },
        logEntry: () => ({ entry: new Uint8Array(2484), leafHash: new Uint8Array(32) }),
      },
    });
    const app = Fastify();
    try {
      const hpke = await DirectoryHpkeKey.fromSigningKey(newSecretKey());
      expect(() => registerDirectoryRoutes(app, t.directory, { hpke, responseSigner: new ResponseSigner(newSecretKey()) })).to.throw();
    } finally {
      await app.close();
      await t.close();
    }
  });
});
