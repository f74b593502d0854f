// The key directory's DirectoryCheckpoint deploys with the README's commands (issue #15, item 3):
// `nkms directory key` prints the key, `npx hardhat ignition deploy
// ignition/modules/DirectoryCheckpoint.ts --network localhost --parameters …` deploys it, both run as
// processes against a served chain. (The only addition: a unique --deployment-id, so the test writes
// no ignition/deployments/chain-31337 an operator may have.)
import { createHash } from "node:crypto";
import { runNkms, type NkmsRun } from "../shared/nkms-bin";
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { serveHardhatChain, type RpcServer } from "../../scripts/demo-network";
import { hardhat } from "../cli/hardhat-process";

const ROOT = path.join(__dirname, "..", "..");

function nkms(args: string[]): Promise<NkmsRun> {
  return runNkms(args, { cwd: ROOT });
}

describe("deploy: the DirectoryCheckpoint Ignition module, as the README runs it", function () {
  this.timeout(300_000);
  let rpc: RpcServer;
  let dir: string;
  const deploymentId = `test-directory-${process.pid}-${Date.now()}`;

  before(async () => {
    rpc = await serveHardhatChain(hre);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-directory-deploy-"));
  });
  after(async () => {
    await rpc?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.join(ROOT, "ignition", "deployments", deploymentId), { recursive: true, force: true });
  });

  it("nkms directory key, then ignition deploy ignition/modules/DirectoryCheckpoint.ts --parameters", async () => {
    const key = await nkms(["directory", "key", "--key-file", path.join(dir, "directory.key"), "--json"]);
    expect(key.code, key.stderr).to.equal(0);
    const printed = JSON.parse(key.stdout) as { bytes32: string; "public-key": string };
    const directoryKey = printed.bytes32;
    // bytes32 is SHA-256 of the directory's ML-DSA-44 public key (mldsa44:<1312 bytes>).
    const pk = Buffer.from(printed["public-key"].replace(/^mldsa44:/, ""), "base64url");
    expect(printed["public-key"]).to.match(/^mldsa44:/);
    expect(pk.length).to.equal(1312);
    expect(directoryKey).to.equal("0x" + createHash("sha256").update(pk).digest("hex"));
    const params = path.join(dir, "directory.json");
    fs.writeFileSync(params, JSON.stringify({ DirectoryCheckpoint: { directoryKey } }));

    const r = await hardhat(
      ["ignition", "deploy", "ignition/modules/DirectoryCheckpoint.ts", "--network", "localhost", "--parameters", params, "--deployment-id", deploymentId],
      { NKMS_LOCALHOST_URL: rpc.url },
    );
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    const file = path.join(ROOT, "ignition", "deployments", deploymentId, "deployed_addresses.json");
    const address = (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>)["DirectoryCheckpoint#DirectoryCheckpoint"];
    const checkpoint = await hre.ethers.getContractAt("DirectoryCheckpoint", address);
    expect(await checkpoint.directoryKey()).to.equal(directoryKey);
    expect(await checkpoint.operator()).to.equal((await hre.ethers.getSigners())[0].address);
    expect(await checkpoint.checkpointCount()).to.equal(0n);
  });
});
