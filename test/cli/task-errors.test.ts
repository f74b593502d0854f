// The Hardhat tasks as an operator runs them: `npx hardhat <task> --network localhost` as a real
// process against a served chain. Every expected error is ONE line (no "An unexpected error
// occurred", no stack) with an exit code from the README's table, and JSON under --json.
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { TOKEN, account, deployAll, serveHardhatChain, type RpcServer } from "../../scripts/demo-network";
import type { NetworkAddresses } from "../../src/client/deployment";
import { expectOneLine, hardhat } from "./hardhat-process";
import { decodeRevert, revertData } from "../../tasks/lib";

// The README's table (operator section), pinned: scripts branch on these numbers.
const TASK_EXIT = { usage: 2, notFound: 3, chain: 4, unreachable: 5, funds: 9 } as const;

describe("tasks: expected errors are one line with a documented exit code", function () {
  this.timeout(300_000);
  let rpc: RpcServer;
  let a: NetworkAddresses & { health: string };
  let env: Record<string, string>;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-task-errors-"));
    rpc = await serveHardhatChain(hre);
    const file = path.join(dir, "deployed_addresses.json");
    const deployed = await deployAll(hre, file);
    const health = (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>)["NKMSHealth#HealthCheck"];
    a = { ...deployed, health };
    env = { NKMS_LOCALHOST_URL: rpc.url };
  });
  after(async () => {
    await rpc?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("decodes a revert to its custom error (RoundAlreadyOpen), also as JSON under --json", async () => {
    // No node enrolled: the first opening makes the round void (issue #16), a second one reverts.
    const first = await hardhat(["health:open", "--network", "localhost", "--health", a.health], env);
    expect(first.code, first.stderr).to.equal(0);
    const r = await hardhat(["health:open", "--network", "localhost", "--health", a.health], env);
    expectOneLine(r, TASK_EXIT.chain, /RoundAlreadyOpen\(\d+\)/);
    const j = await hardhat(["health:open", "--network", "localhost", "--health", a.health, "--json"], env);
    expect(j.code).to.equal(TASK_EXIT.chain);
    const body = JSON.parse(j.stderr.trim()) as { error: { code: string; message: string; exit: number } };
    expect(body.error.code).to.equal("RoundAlreadyOpen");
    expect(body.error.exit).to.equal(TASK_EXIT.chain);
    // Success under --json: stdout is the result alone.
    const ok = await hardhat(["health:status", "--network", "localhost", "--health", a.health, "--json"], env);
    expect(ok.code, ok.stderr).to.equal(0);
    const status = (JSON.parse(ok.stdout) as { result: { enrolled: number; voided: boolean } }).result;
    expect(status.enrolled).to.equal(0);
    expect(status.voided).to.equal(true);
  });

  it("revert arguments that are token amounts print in NKMS, wherever the provider nests the data", async () => {
    const escrow = await hre.ethers.getContractAt("StakingEscrow", a.stakingEscrow);
    const data = escrow.interface.encodeErrorResult("StakeBelowMinimum", [TOKEN / 2n, 15_000n * TOKEN]);
    // Hardhat's HTTP provider: data is an object {message, data, txHash}, not the hex string.
    const nested = { error: { data: { message: "reverted", data, txHash: "0x" + "00".repeat(32) } } };
    expect(revertData(nested)).to.equal(data);
    expect(decodeRevert([escrow.interface], data)?.text).to.equal("StakeBelowMinimum(0.5 NKMS, 15000.0 NKMS)");
  });

  it("a bad argument exits 'usage'; a short balance exits 'funds' and prints NKMS, not wei", async () => {
    const bad = await hardhat(["nkms:stake", "--network", "localhost", "--escrow", a.stakingEscrow, "--amount", "abc", "--lock", "8"], env);
    expectOneLine(bad, TASK_EXIT.usage, /BAD_AMOUNT.*positive token amount/);
    // Account 19 holds no NKMS.
    const poor = await hardhat(
      ["nkms:stake", "--network", "localhost", "--escrow", a.stakingEscrow, "--amount", "20000", "--lock", "60", "--from", account(19).address],
      env,
    );
    expectOneLine(poor, TASK_EXIT.funds, /INSUFFICIENT_BALANCE.* holds 0\.0 NKMS, needs 20000\.0 NKMS/);
  });

  it("a wrong contract (another chain's address) and a missing deployment say so, not 'could not decode' / 'No contract'", async () => {
    // The token where an escrow was expected: what a stale deployment file after a chain reset gives.
    const wrong = await hardhat(["nkms:stake-info", "--network", "localhost", "--escrow", a.token], env);
    expectOneLine(wrong, TASK_EXIT.notFound, /WRONG_CHAIN.*not a StakingEscrow/);
    expect(wrong.stderr).not.to.match(/could not decode/);
    const empty = await hardhat(["nkms:stake-info", "--network", "localhost", "--escrow", account(5).address], env);
    expectOneLine(empty, TASK_EXIT.notFound, /NO_CONTRACT.*--network/);
    // No --network: the embedded chain, empty for this one command.
    const none = await hardhat(["policy:info", "--policy-id", "0x" + "11".repeat(16), "--manager", a.policyManager]);
    expectOneLine(none, TASK_EXIT.notFound, /embedded `hardhat` network.*--network localhost/);
  });

  it("an unreachable chain exits 'unreachable'", async () => {
    const r = await hardhat(["nkms:stake-info", "--network", "localhost"], { NKMS_LOCALHOST_URL: "http://127.0.0.1:9" });
    expectOneLine(r, TASK_EXIT.unreachable, /UNREACHABLE.*127\.0\.0\.1:9/);
  });

  it("a refused precondition exits 'chain' and names amounts in NKMS", async () => {
    const r = await hardhat(["nkms:stake", "--network", "localhost", "--escrow", a.stakingEscrow, "--amount", "1", "--lock", "60"], env);
    expectOneLine(r, TASK_EXIT.chain, /BELOW_MINIMUM.*minimum of [0-9.]+ NKMS/);
    expect(TOKEN).to.equal(10n ** 18n);
  });
});
