// Gas of DirectoryCheckpoint: the first checkpoint, and a later one whose RFC 9162 consistency
// proof (from a 1,000-leaf to a 5,000-leaf tree) the contract verifies with the SHA-256 precompile.
import { ethers } from "hardhat";
import { MerkleLog } from "../../src/directory/merkle-log";
import { openDirectoryDatabase } from "../../src/directory/sqlite";
import type { GasScenario } from "./types";

const hex = (b: Uint8Array): string => "0x" + Buffer.from(b).toString("hex");

export const scenario: GasScenario = {
  name: "directory",
  anchors: {},
  async measure() {
    const log = new MerkleLog(openDirectoryDatabase(":memory:"));
    for (let i = 0; i < 5000; i++) log.append(Buffer.from(`gas leaf ${i}`));
    const [operator] = await ethers.getSigners();
    const contract = await (await ethers.getContractFactory("DirectoryCheckpoint")).deploy(operator.address, "0x" + "11".repeat(32));
    const first = await (await contract.checkpoint(1000, hex(log.rootAt(1000)), [])).wait();
    const proof = log.consistencyProof(1000, 5000).map(hex);
    const second = await (await contract.checkpoint(5000, hex(log.rootAt(5000)), proof)).wait();
    return {
      "DirectoryCheckpoint.checkpoint (first)": first!.gasUsed,
      [`DirectoryCheckpoint.checkpoint (proof of ${proof.length})`]: second!.gasUsed,
    };
  },
};
