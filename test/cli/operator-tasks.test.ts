// The operator path's funding and enrollment steps (issue #15, item 2): sending NKMS and ETH to a
// new staker or operator, enrolling the fee rate as part of staking, the hint when no node is
// eligible, and the agent saying in one line how much ETH its hot key needs.
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import pino from "pino";
import { Wallet } from "ethers";
import { deployAll, serveHardhatChain, writeNodeFiles, TEST_PASSWORD, type RpcServer } from "../../scripts/demo-network";
import type { NetworkAddresses } from "../../src/client/deployment";
import { selectNodes } from "../../src/client/node-selection";
import { StartupError, runNode } from "../../src/node/node";
import { loadNodeConfig } from "../../src/node/config";
import { classify } from "../../src/cli/main";
import type { PolicyManager, StakingEscrow, NKMSToken } from "../../typechain-types";

async function rejects(p: Promise<unknown>, code: string): Promise<Error & { code?: string }> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${code}`).to.be.instanceOf(Error);
  expect((error as { code?: string }).code, (error as Error).message).to.equal(code);
  return error as Error & { code?: string };
}

/** What a task printed with console.log while `f` ran. */
async function printed(f: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    await f();
  } finally {
    console.log = log;
  }
  return lines.join("\n");
}

describe("operator path: transfer, stake with fee rate, the agent's ETH check", function () {
  this.timeout(300_000);
  let dir: string;
  let file: string;
  let a: NetworkAddresses;
  let token: NKMSToken;
  let escrow: StakingEscrow;
  let pm: PolicyManager;
  let lock: number;
  const T = (n: string) => hre.ethers.parseUnits(n, 18);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-operator-"));
    file = path.join(dir, "deployed_addresses.json");
    a = await deployAll(hre, file);
    token = (await hre.ethers.getContractAt("NKMSToken", a.token)) as unknown as NKMSToken;
    escrow = (await hre.ethers.getContractAt("StakingEscrow", a.stakingEscrow)) as unknown as StakingEscrow;
    pm = (await hre.ethers.getContractAt("PolicyManager", a.policyManager)) as unknown as PolicyManager;
    lock = Number(await escrow.minLockPeriods());
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("nkms:transfer sends NKMS and ETH to a new account, and refuses clearly", async () => {
    const fresh = Wallet.createRandom().address;
    const result = await hre.run("nkms:transfer", { to: fresh, amount: "20000", eth: "0.25", token: a.token });
    expect(result).to.deep.equal({ to: fresh, nkms: "20000.0 NKMS", eth: "0.25 ETH" });
    expect(await token.balanceOf(fresh)).to.equal(T("20000"));
    expect(await hre.ethers.provider.getBalance(fresh)).to.equal(hre.ethers.parseEther("0.25"));
    await rejects(hre.run("nkms:transfer", { to: fresh, token: a.token }), "BAD_AMOUNT");
    await rejects(hre.run("nkms:transfer", { to: "0x12", amount: "1", token: a.token }), "BAD_ADDRESS");
    const poor = (await hre.ethers.getSigners())[19].address;
    const e = await rejects(hre.run("nkms:transfer", { to: fresh, amount: "5", token: a.token, from: poor }), "INSUFFICIENT_BALANCE");
    expect(e.message).to.match(/holds 0\.0 NKMS, needs 5\.0 NKMS/);
  });

  it("nkms:stake --fee-rate enrolls the node; without it, it says what is next; a bad rate stakes nothing", async () => {
    const [, , , , , , , , , , , , , , , s1, s2, s3] = await hre.ethers.getSigners();
    for (const s of [s1, s2, s3]) await hre.run("nkms:transfer", { to: s.address, amount: "20000", token: a.token });
    const common = { escrow: a.stakingEscrow, manager: a.policyManager, amount: "20000", lock };

    const enrolledBefore = await pm.enrolledNodes();
    await hre.run("nkms:stake", { ...common, from: s1.address, feeRate: "0.01" });
    expect((await escrow.stakeOf(s1.address)).amount).to.equal(T("20000"));
    expect((await pm.nodeFees(s1.address)).minFeeRate).to.equal(T("0.01"));
    expect(await pm.enrolledNodes()).to.equal(enrolledBefore + 1n);

    await rejects(hre.run("nkms:stake", { ...common, from: s2.address, feeRate: "100000" }), "RATE_OUT_OF_RANGE");
    expect((await escrow.stakeOf(s2.address)).amount).to.equal(0n);

    const out = await printed(() => hre.run("nkms:stake", { ...common, from: s3.address }));
    expect(out).to.match(/next: set your minimum fee rate .*policy:set-fee-rate/);
    expect(await pm.enrolledNodes()).to.equal(enrolledBefore + 1n);
  });

  it("'not enough nodes' tells how a node becomes eligible (policy:set-fee-rate)", () => {
    expect(() => selectNodes([], { count: 3, policyId: new Uint8Array(16), seed: new Uint8Array(32) })).to.throw(
      /only 0 are eligible.*policy:set-fee-rate/,
    );
  });

  it("the agent refuses to start in one line saying how much ETH its operator needs, then starts once sent", async () => {
    const rpc: RpcServer = await serveHardhatChain(hre);
    try {
      const staker = (await hre.ethers.getSigners())[18];
      const operator = new Wallet(Wallet.createRandom().privateKey); // a fresh hot key: no ETH
      await hre.run("nkms:transfer", { to: staker.address, amount: "20000", token: a.token });
      await hre.run("nkms:stake", { escrow: a.stakingEscrow, manager: a.policyManager, amount: "20000", lock, from: staker.address, feeRate: "0.01" });
      await hre.run("nkms:bond", { escrow: a.stakingEscrow, operator: operator.address, from: staker.address });
      const config = await writeNodeFiles(path.join(dir, "node"), operator, rpc.url, file);
      const start = () => runNode(loadNodeConfig({ configFile: config, deployment: file, password: TEST_PASSWORD }, {}), { logger: pino({ level: "silent" }) });

      let err: unknown;
      await start().then((n) => n.close(), (e: unknown) => (err = e));
      expect(err).to.be.instanceOf(StartupError);
      const e = err as StartupError;
      expect(e.code).to.equal("NO_ETH");
      expect(e.message.split("\n")).to.have.length(1);
      expect(e.message).not.to.match(/0x[0-9a-f]{200}/i); // no raw transaction
      expect(classify(e).exit).to.equal("funds"); // `nkms node run` exits 9 with this line
      const ask = /--eth ([0-9.]+)/.exec(e.message)?.[1];
      expect(e.message).to.include(`nkms:transfer --to ${operator.address} --eth ${ask}`);

      // Sending what it asked for is enough.
      await hre.run("nkms:transfer", { to: operator.address, eth: ask });
      const node = await start();
      const registered = node.endpoint;
      try {
        expect(await escrow.operatorOf(staker.address)).to.equal(operator.address);
        expect((await escrow.nodeInfo(staker.address)).endpoint).to.equal(node.endpoint);
      } finally {
        await node.close();
      }

      // Registered, then emptied: a restart sends no transaction but still says, in one line at
      // start, that the hot key cannot pay its health-check votes.
      await hre.network.provider.send("hardhat_setBalance", [operator.address, "0x0"]);
      const lines: string[] = [];
      const capture = pino({ level: "warn" }, { write: (l: string) => void lines.push(l) });
      const port = Number(new URL(registered).port);
      const again = await runNode(loadNodeConfig({ configFile: config, deployment: file, password: TEST_PASSWORD, port }, {}), { logger: capture });
      expect(again.endpoint).to.equal(registered); // same endpoint: the registration is current
      await again.close();
      const warned = lines.map((l) => JSON.parse(l) as { msg: string }).find((l) => l.msg.includes("health-check votes"));
      expect(warned?.msg, lines.join("")).to.match(new RegExp(`holds 0\\.0 ETH.*nkms:transfer --to ${operator.address} --eth [0-9.]+`));
    } finally {
      await rpc.close();
    }
  });
});
