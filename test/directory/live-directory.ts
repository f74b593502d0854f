// A directory as deployed for HTTP-level tests: a real server on a SQLite file, the
// DirectoryCheckpoint contract on Hardhat's EVM pinning its key, and a loopback ActivityPub
// instance whose admin is a configured operator.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "hardhat";
import { connectCheckpointContract, CheckpointContract, directoryKeyBytes32 } from "../../src/directory/checkpoint-contract";
import { publicKeyOf } from "../../src/directory/protocol";
import { DirectoryServer, startDirectoryServer } from "../../src/directory/server";
import { newSecretKey } from "./helpers";
import { startInstance, TestInstance } from "./instance";

export interface LiveDirectory {
  /** A temporary directory removed by close(): room for other databases a test needs. */
  tmp: string;
  signingKey: Uint8Array;
  server: DirectoryServer;
  /** Read-only contract handle, as a client has. */
  contract: CheckpointContract;
  social: TestInstance;
  close(): Promise<void>;
}

export async function startLiveDirectory(): Promise<LiveDirectory> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-dir-live-"));
  const signingKey = newSecretKey();
  const social = await startInstance();
  const [operator] = await ethers.getSigners();
  const factory = await ethers.getContractFactory("DirectoryCheckpoint");
  const deployed = await factory.deploy(operator.address, directoryKeyBytes32(publicKeyOf(signingKey)));
  await deployed.waitForDeployment();
  const contract = connectCheckpointContract(await deployed.getAddress(), ethers.provider);
  const server = await startDirectoryServer({
    database: path.join(tmp, "d.db"),
    name: "https://pkd.test",
    signingKey,
    allowInsecureActors: true,
    operators: [social.actor("admin")],
    rateLimit: { basePenaltyMs: 0 }, // these tests count error codes sent back to back from one address
    commitmentWorkers: 1,
  });
  return {
    tmp,
    signingKey,
    server,
    contract,
    social,
    async close() {
      await server.close();
      await social.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}
