// Every row of the `nkms` exit-code table (src/cli/errors.ts, README) triggered through the real
// bin as a process (issue #15, item 5): one line on stderr (`nkms: …`), JSON under --json, the
// row's code. Plus: `policies list` says so when the chain cannot be read instead of showing its
// local records as if current.
import { runNkms } from "../shared/nkms-bin";
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import hre from "hardhat";
import { Wallet } from "ethers";
import { deployAll, serveHardhatChain, type RpcServer } from "../../scripts/demo-network";
import { ExitCode, type ExitCodeName } from "../../src/cli/errors";
import { classify } from "../../src/cli/main";
import { PolicyStore, type PolicyRecord } from "../../src/client/policy-store";
import { deriveNodeKeys } from "../../src/node/keys";
import { signKeyProof } from "../../src/node/registration";
import { lockDataDir } from "../../src/node/lock";
import type { PolicyManager, StakingEscrow } from "../../typechain-types";

const PASSWORD = "pw-long-enough";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function nkms(args: string[], env: Record<string, string>): Promise<Run> {
  return runNkms(args, { env });
}

describe("nkms CLI: every exit code of the table, each one line (JSON under --json)", function () {
  this.timeout(300_000);
  let rpc: RpcServer;
  let dir: string;
  let deployment: string;
  let env: (home: string, extra?: Record<string, string>) => Record<string, string>;
  const seen = new Set<ExitCodeName>();

  /** Runs `args` and checks the row: exit code, one line, and the same under --json. */
  async function row(exit: ExitCodeName, args: string[], e: Record<string, string>, pattern?: RegExp): Promise<Run> {
    const r = await nkms(args, e);
    expect(r.code, `${args.join(" ")}: ${r.stderr}`).to.equal(ExitCode[exit]);
    if (exit !== "ok") {
      expect(r.stderr, args.join(" ")).to.match(/^nkms: [^\n]+\n$/);
      if (pattern) expect(r.stderr).to.match(pattern);
      const j = await nkms(["--json", ...args], e);
      expect(j.code).to.equal(ExitCode[exit]);
      const body = JSON.parse(j.stderr.trim()) as { error: { code: string; exit: number; message: string } };
      expect(body.error).to.include({ code: exit, exit: ExitCode[exit] });
    }
    seen.add(exit);
    return r;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-exit-"));
    rpc = await serveHardhatChain(hre);
    deployment = path.join(dir, "deployed_addresses.json");
    await deployAll(hre, deployment);
    env = (home, extra = {}) => ({
      NKMS_RPC_URL: rpc.url,
      NKMS_DEPLOYMENT: deployment,
      NKMS_KEYSTORE_PASSWORD: PASSWORD,
      NKMS_UNSAFE_TEST_MODE: "1",
      NKMS_HOME: path.join(dir, home),
      ...extra,
    });
  });
  after(async () => {
    await rpc?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("0 ok … 11 busy", async () => {
    const addresses = JSON.parse(fs.readFileSync(deployment, "utf8")) as Record<string, string>;
    const escrow = (await hre.ethers.getContractAt("StakingEscrow", addresses["NKMS#StakingEscrow"])) as unknown as StakingEscrow;
    const signers = await hre.ethers.getSigners();
    const lock = Number(await escrow.minLockPeriods());
    const pm = (await hre.ethers.getContractAt("PolicyManager", addresses["Policy#PolicyManager"])) as unknown as PolicyManager;

    // Alice (owner, with ETH and NKMS) and Bob (a reader).
    const alice = JSON.parse((await row("ok", ["keys", "create", "--scrypt-n", "1024", "--json"], env("alice"))).stdout) as { address: string };
    await hre.run("nkms:transfer", { to: alice.address, amount: "100", eth: "1", token: addresses["NKMS#NKMSToken"] });
    await row("ok", ["keys", "create", "--scrypt-n", "1024"], env("bob"));
    const bobKeys = path.join(dir, "bob.json");
    await row("ok", ["keys", "export", "--out", bobKeys], env("bob"));

    await row("usage", ["frobnicate"], env("alice"));
    // Staking from the CLI: amounts in NKMS, a short balance is 'funds', a bad fee rate stakes nothing,
    // --fee-rate enrolls the node, and without it the command says what is next.
    await row("funds", ["stake", "deposit", "--amount", "20000", "--lock", String(lock)], env("alice"), /holds 100\.0 NKMS, needs 20000\.0 NKMS/);
    await row("usage", ["stake", "deposit", "--amount", "20", "--lock", String(lock), "--fee-rate", "100000"], env("alice"), /--fee-rate must lie in/);
    for (const [name, extra] of [["carol", ["--fee-rate", "0.01"]], ["dave", []]] as const) {
      const who = JSON.parse((await row("ok", ["keys", "create", "--scrypt-n", "1024", "--json"], env(name))).stdout) as { address: string };
      await hre.run("nkms:transfer", { to: who.address, amount: "20000", eth: "1", token: addresses["NKMS#NKMSToken"] });
      const r = await row("ok", ["--json", "stake", "deposit", "--amount", "20000", "--lock", String(lock), ...extra], env(name));
      const out = JSON.parse(r.stdout) as { amount: string; minFeeRate: string | null };
      expect(out.amount).to.equal("20000.0 NKMS");
      if (extra.length) {
        expect(out.minFeeRate).to.equal("0.01 NKMS");
        expect(r.stderr).to.equal("");
        expect((await pm.nodeFees(who.address)).minFeeRate).to.equal(10n ** 16n);
      } else {
        expect(out.minFeeRate).to.equal(null);
        expect(r.stderr).to.match(/next: set your minimum fee rate .*nkms stake fee-rate/);
      }
    }
    await row("notFound", ["read", "ab".repeat(32), "--grant", path.join(dir, "missing.json")], env("bob"));
    await row("keystore", ["keys", "export"], env("nobody"));
    await row("unreachable", ["stake", "info", signers[1].address], env("alice", { NKMS_RPC_URL: "http://127.0.0.1:9" }));

    // integrity: a tampered ciphertext.
    const plain = path.join(dir, "plain.bin");
    const enc = path.join(dir, "plain.enc");
    fs.writeFileSync(plain, randomBytes(4096));
    await row("ok", ["encrypt", plain, "--label", "local", "--out", enc], env("alice"));
    const bytes = fs.readFileSync(enc);
    bytes[bytes.length - 20] ^= 1;
    fs.writeFileSync(enc, bytes);
    await row("integrity", ["decrypt", enc, "--label", "local", "--out", path.join(dir, "dec.bin")], env("alice"));

    // One staked node, registered at an endpoint where nothing listens, enrolled at a fee rate.
    const staker = signers[5];
    const operator = new Wallet(Wallet.createRandom().privateKey);
    await hre.run("nkms:transfer", { to: staker.address, amount: "20000", token: addresses["NKMS#NKMSToken"] });
    await hre.run("nkms:stake", { escrow: await escrow.getAddress(), manager: addresses["Policy#PolicyManager"], amount: "20000", lock, from: staker.address, feeRate: "0.01" });
    await hre.run("nkms:bond", { escrow: await escrow.getAddress(), operator: operator.address, from: staker.address });
    const operatorKeystore = path.join(dir, "operator.json");
    await row("ok", ["node", "init", "--keystore-path", operatorKeystore, "--private-key", operator.privateKey], env("op"));
    const runArgs = (dataDir: string) => ["node", "run", "--keystore-path", operatorKeystore, "--data-dir", path.join(dir, dataDir), "--port", "0"];

    // funds: the operator's hot key holds no ETH to register.
    await row("funds", runArgs("data-funds"), env("op"), /operator .* holds 0\.0 ETH.*nkms:transfer --to/);
    // chain: an operator no staker proposed.
    const stranger = path.join(dir, "stranger.json");
    await row("ok", ["node", "init", "--keystore-path", stranger], env("op"));
    await row("chain", ["node", "run", "--keystore-path", stranger, "--data-dir", path.join(dir, "data-stranger"), "--port", "0"], env("op"), /not bonded/);
    // busy: another agent holds the data dir.
    const held = lockDataDir(path.join(dir, "data-held"));
    try {
      await row("busy", runArgs("data-held"), env("op"), /in use by another node agent/);
    } finally {
      held!.release();
    }

    // Register the node at a dead endpoint (what the agent would do), so a policy selects it.
    await hre.run("nkms:transfer", { to: operator.address, eth: "1" });
    const keys = deriveNodeKeys(operator);
    const proof = signKeyProof(keys.stampSecret, {
      chainId: (await hre.ethers.provider.getNetwork()).chainId,
      escrow: await escrow.getAddress(),
      staker: staker.address,
      operator: operator.address,
    });
    await (
      await escrow
        .connect(operator.connect(hre.ethers.provider))
        .registerNode(staker.address, "http://127.0.0.1:9", keys.encryptingKey.toCompressedBytes(), keys.stampKey.toCompressedBytes(), proof)
    ).wait();

    // partial: the policy is paid, its one node cannot be reached.
    const share = await row("partial", ["share", "--label", "doc", "--reader", bobKeys, "-m", "1", "-n", "1", "--periods", "1", "--timeout", "3000"], env("alice"));
    expect(share.stderr).to.match(/redeliver/);

    // denied: redelivering a policy Alice does not own.
    const store = new PolicyStore(path.join(dir, "alice"));
    const theirs = "0x" + "ab".repeat(16);
    store.put({ ...store.list()[0], policyId: theirs, owner: signers[7].address, status: "revoked" } as PolicyRecord);
    await row("denied", ["policies", "redeliver", theirs], env("alice"), /does not own/);

    // internal: an error nobody expected is still one line (the stack only under NKMS_DEBUG).
    expect(classify(new TypeError("boom")).exit).to.equal("internal");
    seen.add("internal");

    expect([...seen].sort()).to.deep.equal((Object.keys(ExitCode) as ExitCodeName[]).sort());
  });

  it("policies list says when the chain cannot be read, and shows the local records", async () => {
    const down = await nkms(["policies", "list"], env("alice", { NKMS_RPC_URL: "http://127.0.0.1:9" }));
    expect(down.code, down.stderr).to.equal(0);
    expect(down.stderr).to.match(/^nkms: warning: cannot read the chain at http:\/\/127\.0\.0\.1:9 .*possibly stale\n$/);
    expect(down.stdout).to.match(/0x/);
    const json = await nkms(["--json", "policies", "list"], env("alice", { NKMS_RPC_URL: "http://127.0.0.1:9" }));
    expect((JSON.parse(json.stdout) as { chain: { refreshed: boolean } }).chain.refreshed).to.equal(false);
    const up = await nkms(["--json", "policies", "list"], env("alice"));
    expect(up.code, up.stderr).to.equal(0);
    expect(up.stderr).to.equal("");
  });
});
