import { runNkms } from "../shared/nkms-bin";
import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { ExitCode } from "../../src/cli/errors";
import { TOKEN, account, stakeNodes } from "../../scripts/demo-network";
import { send } from "../../src/client/chain";
import { startHarness, type Harness } from "../client/harness";
import { startDirectoryServer } from "../../src/directory/server";
import { startInstance } from "../directory/instance";

const BIN = path.join(__dirname, "..", "..", "bin", "nkms.js");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function nkms(args: string[], env: Record<string, string> = {}, stdin?: Buffer): Promise<Run> {
  return runNkms(args, { env, stdin });
}

describe("nkms CLI (the real bin, against a chain and node agents)", function () {
  this.timeout(300_000);
  let h: Harness;
  let dir: string;
  let aliceEnv: Record<string, string>;
  let bobEnv: Record<string, string>;
  const plain = () => path.join(dir, "plain.bin");

  before(async () => {
    h = await startHarness(3);
    dir = path.join(h.dir, "cli");
    fs.mkdirSync(dir);
    const common = { NKMS_RPC_URL: h.rpc.url, NKMS_DEPLOYMENT: h.deploymentFile, NKMS_KEYSTORE_PASSWORD: "pw-long-enough", NKMS_UNSAFE_TEST_MODE: "1" };
    aliceEnv = { ...common, NKMS_HOME: path.join(dir, "alice") };
    bobEnv = { ...common, NKMS_HOME: path.join(dir, "bob") };
    await send("fund Alice", () => h.contracts.token.connect(account(0).connect(h.provider)).transfer(account(1).address, 100n * TOKEN));
    fs.writeFileSync(plain(), randomBytes(300_000));
  });
  after(async () => {
    await h?.close();
  });

  it("keys create / export, write, share, read, policies, revoke — and the refusal exits 6 with one line", async () => {
    const a = await nkms(["keys", "create", "--private-key", account(1).privateKey, "--scrypt-n", "1024", "--json"], aliceEnv);
    expect(a.code, a.stderr).to.equal(0);
    expect(JSON.parse(a.stdout).address).to.equal(account(1).address);
    const b = await nkms(["keys", "create", "--scrypt-n", "1024", "--json"], bobEnv);
    expect(b.code, b.stderr).to.equal(0);
    const bobKeys = path.join(dir, "bob.json");
    expect((await nkms(["keys", "export", "--out", bobKeys], bobEnv)).code).to.equal(0);
    expect(JSON.parse(fs.readFileSync(bobKeys, "utf8"))).to.have.keys(["encryptingKey", "verifyingKey"]);
    const list = await nkms(["keys", "list", "--json"], aliceEnv);
    expect(JSON.parse(list.stdout).keystores[0].address.toLowerCase()).to.equal(account(1).address.toLowerCase());

    const storage = path.join(dir, "objects");
    const w = await nkms(["--storage", storage, "write", plain(), "--label", "cli", "--chunk-size", "65536", "--json"], aliceEnv);
    expect(w.code, w.stderr).to.equal(0);
    const { id } = JSON.parse(w.stdout) as { id: string };
    expect(id).to.match(/^[0-9a-f]{64}$/);

    const grantFile = path.join(dir, "grant.json");
    const s = await nkms(["share", "--label", "cli", "--reader", bobKeys, "-m", "2", "-n", "3", "--periods", "1", "--grant-out", grantFile, "--json"], aliceEnv);
    expect(s.code, s.stderr).to.equal(0);
    const shared = JSON.parse(s.stdout) as { policyId: string; delivery: { ok: boolean }[] };
    expect(shared.delivery.every((d) => d.ok)).to.equal(true);

    const out = path.join(dir, "read.bin");
    const r = await nkms(["--storage", storage, "read", id, "--grant", grantFile, "--out", out, "--json"], bobEnv);
    expect(r.code, r.stderr).to.equal(0);
    expect(fs.readFileSync(out).equals(fs.readFileSync(plain()))).to.equal(true);
    expect(JSON.parse(r.stdout).nodes).to.have.length(2);
    // imported grant + stdout output
    expect((await nkms(["grants", "import", grantFile], bobEnv)).code).to.equal(0);
    const r2 = await nkms(["--storage", storage, "read", id, "--policy", shared.policyId], bobEnv);
    expect(r2.code, r2.stderr).to.equal(0);
    expect(Buffer.from(r2.stdout, "latin1").length).to.be.greaterThan(0);

    const p = await nkms(["policies", "list", "--json"], aliceEnv);
    expect(JSON.parse(p.stdout).policies.map((x: { policyId: string }) => x.policyId)).to.deep.equal([shared.policyId]);
    const upd = await nkms(["policies", "update", shared.policyId, "--reader-name", "bob", "--json"], aliceEnv);
    expect(JSON.parse(upd.stdout).reader.name).to.equal("bob");
    const show = await nkms(["policies", "show", shared.policyId, "--json"], aliceEnv);
    expect(JSON.parse(show.stdout).onChain.revoked).to.equal(false);

    const v = await nkms(["revoke", shared.policyId, "--json"], aliceEnv);
    expect(v.code, v.stderr).to.equal(0);
    expect(JSON.parse(v.stdout).nodes.every((n: { ok: boolean }) => n.ok)).to.equal(true);
    const refused = await nkms(["--storage", storage, "read", id, "--grant", grantFile, "--out", path.join(dir, "nope.bin")], bobEnv);
    expect(refused.code).to.equal(ExitCode.denied);
    expect(refused.stderr.trim().split("\n")).to.have.length(1);
    expect(refused.stderr).to.match(/^nkms: .*POLICY_REVOKED/);
    expect(fs.existsSync(path.join(dir, "nope.bin"))).to.equal(false);
    expect(fs.existsSync(path.join(dir, "nope.bin.partial"))).to.equal(false);
  });

  it("directory publish (vouched for by the reader's instance) and lookup; without the instance key: usage exit 2", async () => {
    const instance = await startInstance();
    const server = await startDirectoryServer({
      database: path.join(dir, "directory.db"),
      name: "http://directory.test",
      signingKey: h.addresses.directorySecret,
      allowInsecureActors: true, // the instance is on loopback http
    });
    try {
      const BOB = instance.actor("bob");
      const keyFile = path.join(dir, "bob-instance-key.json");
      instance.writeKeyFile("bob", keyFile);
      const missing = await nkms(["directory", "publish", "--directory", server.url, "--actor", BOB], bobEnv);
      expect(missing.code).to.equal(ExitCode.usage);
      const pub = await nkms(["directory", "publish", "--directory", server.url, "--actor", BOB, "--instance-key", keyFile, "--json"], bobEnv);
      expect(pub.code, pub.stderr).to.equal(0);
      expect(JSON.parse(pub.stdout)).to.include({ addedKey: true, addedReaderKeys: true });
      const found = await nkms(["directory", "lookup", BOB, "--directory", server.url, "--json"], aliceEnv);
      expect(found.code, found.stderr).to.equal(0);
      expect(JSON.parse(found.stdout).encryptingKey).to.equal(JSON.parse(pub.stdout).encryptingKey);
      // Another user's instance key cannot publish for Bob: one line, "denied".
      const eveKey = path.join(dir, "eve-instance-key.json");
      instance.writeKeyFile("eve", eveKey);
      const denied = await nkms(["directory", "publish", "--directory", server.url, "--actor", instance.actor("mallory"), "--instance-key", eveKey], aliceEnv);
      expect(denied.code).to.equal(ExitCode.denied);
      expect(denied.stderr.trim().split("\n")).to.have.length(1);
      // An instance key that is ML-DSA-44 (C2SP httpsig-pq): Alice publishes as carol through it.
      const carolKey = path.join(dir, "carol-instance-key.json");
      instance.writePqKeyFile("carol", carolKey);
      const pq = await nkms(["directory", "publish", "--directory", server.url, "--actor", instance.actor("carol"), "--instance-key", carolKey, "--json"], aliceEnv);
      expect(pq.code, pq.stderr).to.equal(0);
      expect(JSON.parse(pq.stdout)).to.include({ addedKey: true, addedReaderKeys: true });
    } finally {
      await server.close();
      await instance.close();
    }
  });

  it("encrypt / split / decrypt locally; a tampered ciphertext exits 7", async () => {
    const enc = path.join(dir, "file.enc");
    expect((await nkms(["encrypt", plain(), "--label", "local", "--out", enc], aliceEnv)).code).to.equal(0);
    const split = await nkms(["split", enc, "--json"], aliceEnv);
    expect(JSON.parse(split.stdout).encryptedKey).to.match(/^0x[0-9a-f]{144}$/);
    const dec = path.join(dir, "file.dec");
    expect((await nkms(["decrypt", enc, "--label", "local", "--out", dec], aliceEnv)).code).to.equal(0);
    expect(fs.readFileSync(dec).equals(fs.readFileSync(plain()))).to.equal(true);
    const bytes = fs.readFileSync(enc);
    bytes[bytes.length - 100] ^= 1;
    fs.writeFileSync(enc, bytes);
    const bad = await nkms(["decrypt", enc, "--label", "local", "--out", dec], aliceEnv);
    expect(bad.code).to.equal(ExitCode.integrity);
    expect(bad.stderr).to.match(/^nkms: /);
    // a data source encrypts with only the label's public key, no keystore
    const exported = JSON.parse((await nkms(["keys", "export", "--label", "sensor", "--json"], aliceEnv)).stdout) as { labels: Record<string, string> };
    const enrico = await nkms(["encrypt", "-", "--policy-key", exported.labels.sensor, "--out", enc], { NKMS_HOME: path.join(dir, "enrico") }, Buffer.from("reading 42"));
    expect(enrico.code, enrico.stderr).to.equal(0);
    const back = await nkms(["decrypt", enc, "--label", "sensor"], aliceEnv);
    expect(back.stdout).to.equal("reading 42");
  });

  it("node init / keys / run: a staked operator's agent starts from the CLI, registers and stops on SIGTERM", async () => {
    const staker = account(7).connect(h.provider);
    const operator = account(16);
    await stakeNodes(h.contracts, account(0).connect(h.provider), [{ staker, operator: operator.connect(h.provider) }]);
    const keystore = path.join(dir, "operator.json");
    const env = { ...aliceEnv, NKMS_KEYSTORE_PASSWORD: "op-long-enough" };
    expect((await nkms(["node", "init", "--keystore-path", keystore, "--private-key", operator.privateKey], env)).code).to.equal(0);
    const keys = await nkms(["node", "keys", "--keystore-path", keystore, "--json"], env);
    expect(JSON.parse(keys.stdout).operator).to.equal(operator.address);
    const proc = spawn(process.execPath, [BIN, "node", "run", "--keystore-path", keystore, "--data-dir", path.join(dir, "op-data"), "--port", "0", "--log-level", "warn"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const line = await new Promise<{ url: string; staker: string }>((resolve, reject) => {
        let out = "";
        let err = "";
        proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
        proc.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const hit = out.split("\n").find((l) => l.includes('"listening"'));
          if (hit) resolve(JSON.parse(hit));
        });
        proc.once("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      expect(line.staker).to.equal(staker.address);
      expect((await h.contracts.escrow.nodeInfo(staker.address))[0]).to.equal(line.url);
      expect((await fetch(line.url + "/v1/ping")).status).to.equal(200);
    } finally {
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      proc.kill("SIGTERM");
      expect(await exited).to.equal(0);
    }
    const unbonded = await nkms(["node", "run", "--keystore-path", path.join(dir, "bob", "keys", "default.json"), "--port", "0"], { ...env, NKMS_KEYSTORE_PASSWORD: "pw-long-enough" });
    expect(unbonded.code).to.equal(ExitCode.chain);
    expect(unbonded.stderr).to.match(/^nkms: .*not bonded/);
  });

  it("stake info and the distinct exit codes", async () => {
    const info = await nkms(["stake", "info", h.nodes[0].staker, "--json"], aliceEnv);
    expect(info.code, info.stderr).to.equal(0);
    const parsed = JSON.parse(info.stdout) as { registered: boolean; enrolled: boolean; endpoint: string };
    expect(parsed.registered && parsed.enrolled).to.equal(true);
    expect(parsed.endpoint).to.equal(h.nodes[0].endpoint);

    const cases: [string[], Record<string, string>, number][] = [
      [["share", "--label", "x"], aliceEnv, ExitCode.usage],
      [["share", "--label", "x", "--reader", "{}", "-m", "1", "-n", "1", "--periods", "1"], aliceEnv, ExitCode.usage],
      [["frobnicate"], aliceEnv, ExitCode.usage],
      [["read", "ab".repeat(32), "--grant", path.join(dir, "missing.json")], bobEnv, ExitCode.notFound],
      [["revoke", "0x" + "cd".repeat(16)], aliceEnv, ExitCode.notFound],
      [["policies", "list"], { ...aliceEnv, NKMS_KEYSTORE_PASSWORD: "wrong" }, ExitCode.ok],
      [["keys", "export"], { ...aliceEnv, NKMS_KEYSTORE_PASSWORD: "wrong" }, ExitCode.keystore],
      [["keys", "export"], { ...aliceEnv, NKMS_HOME: path.join(dir, "nobody") }, ExitCode.keystore],
      [["stake", "info", h.nodes[0].staker], { ...aliceEnv, NKMS_RPC_URL: "http://127.0.0.1:1" }, ExitCode.unreachable],
      [["share", "--label", "x", "--reader", path.join(dir, "bob.json"), "-m", "1", "-n", "9", "--periods", "1"], aliceEnv, ExitCode.chain],
      [["share", "--help"], aliceEnv, ExitCode.ok],
      [["directory", "lookup", "--help"], aliceEnv, ExitCode.ok],
      [["node", "run", "--config", path.join(dir, "missing-config.json")], aliceEnv, ExitCode.usage],
      [["node", "keys", "--keystore-path", path.join(dir, "operator.json")], { ...aliceEnv, NKMS_KEYSTORE_PASSWORD: "nope" }, ExitCode.keystore],
    ];
    for (const [args, env, code] of cases) {
      const r = await nkms(args, env);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).to.equal(code);
      if (code !== ExitCode.ok) expect(r.stderr, args.join(" ")).to.match(/^nkms: [^\n]+\n$/);
    }
  });
});
