// The tasks find contract addresses where the `nkms` CLI does: NKMS_DEPLOYMENT names a
// deployed_addresses.json (the README's operator path deploys with --deployment-id, which is not
// under ignition/deployments/chain-<id>/). Run as an operator runs them, as processes.
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { deployAll, serveHardhatChain, type RpcServer } from "../../scripts/demo-network";
import { expectOneLine, hardhat } from "./hardhat-process";

describe("tasks: NKMS_DEPLOYMENT names the deployment, as for the CLI", function () {
  this.timeout(300_000);
  let rpc: RpcServer;
  let dir: string;
  let file: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-task-deployment-"));
    rpc = await serveHardhatChain(hre);
    file = path.join(dir, "deployed_addresses.json");
    await deployAll(hre, file);
  });
  after(async () => {
    await rpc?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a task without address flags uses the file NKMS_DEPLOYMENT names; a missing file is NO_DEPLOYMENT naming it (exit 3)", async () => {
    const ok = await hardhat(["health:status", "--network", "localhost", "--json"], { NKMS_LOCALHOST_URL: rpc.url, NKMS_DEPLOYMENT: file });
    expect(ok.code, ok.stderr).to.equal(0);
    expect((JSON.parse(ok.stdout) as { result: { enrolled: number } }).result.enrolled).to.equal(0);

    const missing = path.join(dir, "nowhere", "deployed_addresses.json");
    const r = await hardhat(["health:status", "--network", "localhost"], { NKMS_LOCALHOST_URL: rpc.url, NKMS_DEPLOYMENT: missing });
    expectOneLine(r, 3, new RegExp(`NO_DEPLOYMENT.*${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  });
});
