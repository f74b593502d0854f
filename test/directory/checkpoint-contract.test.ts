import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import fc from "fast-check";
import { ethers } from "hardhat";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import type { DirectoryCheckpoint } from "../../typechain-types";
import { MerkleLog } from "../../src/directory/merkle-log";
import { openDirectoryDatabase } from "../../src/directory/sqlite";
import { listJsonFiles, vectorPath } from "../vectors";

const KEY = "0x" + "ab".repeat(32);
const hex = (b: Uint8Array): string => "0x" + Buffer.from(b).toString("hex");

describe("directory: DirectoryCheckpoint contract", () => {
  let contract: DirectoryCheckpoint;
  let log: MerkleLog;

  before(async () => {
    log = new MerkleLog(openDirectoryDatabase(":memory:"));
    for (let i = 0; i < 300; i++) log.append(Buffer.from(`entry ${i}`));
  });

  beforeEach(async () => {
    const [operator] = await ethers.getSigners();
    contract = (await (await ethers.getContractFactory("DirectoryCheckpoint")).deploy(operator.address, KEY)) as unknown as DirectoryCheckpoint;
  });

  it("wires operator and directory key immutably; refuses a zero operator", async () => {
    const [operator] = await ethers.getSigners();
    expect(await contract.operator()).to.equal(operator.address);
    expect(await contract.directoryKey()).to.equal(KEY);
    const factory = await ethers.getContractFactory("DirectoryCheckpoint");
    await expect(factory.deploy(ethers.ZeroAddress, KEY)).to.be.revertedWithCustomError(contract, "ZeroOperator");
  });

  it("records monotonic, proven-consistent checkpoints with events", async () => {
    const [, stranger] = await ethers.getSigners();
    await expect(contract.connect(stranger).checkpoint(5, hex(log.rootAt(5)), []))
      .to.be.revertedWithCustomError(contract, "NotOperator")
      .withArgs(stranger.address);
    await expect(contract.checkpoint(5, hex(log.rootAt(5)), [hex(log.rootAt(1))]))
      .to.be.revertedWithCustomError(contract, "InconsistentCheckpoint")
      .withArgs(0, 5);
    await expect(contract.checkpoint(5, hex(log.rootAt(5)), [])).to.emit(contract, "Checkpointed");
    await expect(contract.checkpoint(5, hex(log.rootAt(5)), [])).to.be.revertedWithCustomError(contract, "TreeSizeNotIncreasing").withArgs(5, 5);
    await expect(contract.checkpoint(4, hex(log.rootAt(4)), [])).to.be.revertedWithCustomError(contract, "TreeSizeNotIncreasing");
    // A root that does not extend the checkpointed tree is refused even with a real-looking proof.
    const forged = log.rootAt(13).slice();
    forged[0] ^= 1;
    await expect(contract.checkpoint(13, hex(forged), log.consistencyProof(5, 13).map(hex)))
      .to.be.revertedWithCustomError(contract, "InconsistentCheckpoint")
      .withArgs(5, 13);
    await expect(contract.checkpoint(13, hex(log.rootAt(13)), [])).to.be.revertedWithCustomError(contract, "InconsistentCheckpoint");
    const tx = contract.checkpoint(13, hex(log.rootAt(13)), log.consistencyProof(5, 13).map(hex));
    await expect(tx).to.emit(contract, "Checkpointed").withArgs(1, 13, hex(log.rootAt(13)), anyValue);
    const [, , stamp] = await contract.latest();
    expect(stamp).to.equal(BigInt((await ethers.provider.getBlock("latest"))!.timestamp));
    const [size, root] = await contract.latest();
    expect([size, root]).to.deep.equal([13n, hex(log.rootAt(13))]);
    expect(await contract.rootAt(5)).to.equal(hex(log.rootAt(5)));
    expect(await contract.checkpointCount()).to.equal(2n);
    await expect(contract.checkpoint(300, hex(log.rootAt(300)), new Array(129).fill(KEY))).to.be.revertedWithCustomError(contract, "ProofTooLong");
  });

  it("property: the on-chain verifier agrees with RFC 9162 proofs from the log", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), fc.nat(), async (a, b, flip) => {
        const [size1, size2] = a <= b ? [a, b] : [b, a];
        const proof = log.consistencyProof(size1, size2).map(hex);
        expect(await contract.verifyConsistency(size1, size2, hex(log.rootAt(size1)), hex(log.rootAt(size2)), proof)).to.equal(true);
        if (proof.length > 0) {
          const bad = [...proof];
          const i = flip % bad.length;
          bad[i] = bad[i].slice(0, 10) + (bad[i][10] === "0" ? "1" : "0") + bad[i].slice(11);
          expect(await contract.verifyConsistency(size1, size2, hex(log.rootAt(size1)), hex(log.rootAt(size2)), bad)).to.equal(false);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("agrees with every shared consistency vector the ABI can express (32-byte values)", async () => {
    const dir = vectorPath("merkle", "consistency");
    let checked = 0;
    for (const file of listJsonFiles(dir)) {
      const v = JSON.parse(fs.readFileSync(file, "utf8")) as { size1: number; size2: number; root1: string; root2: string; proof: string[] | null; wantErr: boolean };
      const values = [v.root1, v.root2, ...(v.proof ?? [])].map((s) => Buffer.from(s, "base64"));
      if (values.some((b) => b.length !== 32)) continue;
      const [r1, r2, ...proof] = values.map(hex);
      expect(await contract.verifyConsistency(v.size1, v.size2, r1, r2, proof), file).to.equal(!v.wantErr);
      checked++;
    }
    expect(checked).to.be.greaterThan(60);
  });
});
