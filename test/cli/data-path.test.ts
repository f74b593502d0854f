// The reader's data path through the real `nkms` bin (issue #15, item 6): object references that
// work across machines (a URL served by a plain HTTP server, a ciphertext file, a local store id),
// reading and decrypting as streams with a progress bar and bounded memory (a 256 MiB object, peak
// RSS of the CLI process measured), and no partial plaintext at --out after any failure.
import { expect } from "chai";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { ExitCode } from "../../src/cli/errors";
import { TOKEN, account } from "../../scripts/demo-network";
import { send } from "../../src/client/chain";
import { startHarness, type Harness } from "../client/harness";
import { startLyingProxy } from "../client/lying-node";

const BIN = path.join(__dirname, "..", "..", "bin", "nkms.js");
const MiB = 1024 * 1024;
const BIG = 256 * MiB;
const RSS_LIMIT_KIB = 200 * 1000; // 200 MB

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak RSS of the CLI process in KiB (when measured). */
  maxRssKiB?: number;
}

/**
 * Writes the RSS probe, preloaded with `node -r`: on exit it records the process's peak RSS, VmHWM
 * from /proc/self/status. Not getrusage's maxRSS: Linux carries the high-water mark across fork and
 * exec, so a child of this (large) test process would report the parent's RSS at fork time.
 */
function writeProbe(dir: string): string {
  const file = path.join(dir, "rss-probe.js");
  fs.writeFileSync(
    file,
    `process.on("exit", () => {
      const file = process.env.NKMS_RSS_FILE;
      if (!file) return;
      const fs = require("fs");
      const hwm = /VmHWM:\\s*(\\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
      fs.writeFileSync(file, hwm ? hwm[1] : String(process.resourceUsage().maxRSS));
    });\n`,
  );
  return file;
}

function sha256File(file: string): string {
  const hash = createHash("sha256");
  const fd = fs.openSync(file, "r");
  const buf = Buffer.alloc(4 * MiB);
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return hash.digest("hex");
}

describe("nkms data path: object references, streaming reads, no partial plaintext (issue #15 item 6)", function () {
  this.timeout(900_000);
  let h: Harness;
  let dir: string;
  let probe: string;
  let aliceEnv: Record<string, string>;
  let bobEnv: Record<string, string>;
  let aliceStore: string;
  let server: http.Server;
  let base: string;
  let id: string;
  let grantFile: string;
  const small = () => path.join(dir, "small.bin");
  const objectPath = (oid: string) => path.join(aliceStore, oid.slice(0, 2), oid);

  function start(args: string[], env: Record<string, string>, rssFile?: string): ChildProcess {
    const pre = rssFile ? ["-r", probe] : [];
    return spawn(process.execPath, [...pre, BIN, ...args], {
      env: { ...process.env, ...env, ...(rssFile ? { NKMS_RSS_FILE: rssFile } : {}) },
      stdio: ["ignore", "pipe", "pipe"],
    });
  }

  function finish(proc: ChildProcess, rssFile?: string): Promise<Run> {
    return new Promise((resolve, reject) => {
      let stdout = "";
      let stderr = "";
      proc.stdout!.on("data", (d: Buffer) => (stdout += d.toString("latin1")));
      proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      proc.on("error", reject);
      proc.on("close", (code, signal) => {
        const maxRssKiB = rssFile && fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, "utf8")) : undefined;
        resolve({ code, signal, stdout, stderr, maxRssKiB });
      });
    });
  }

  function nkms(args: string[], env: Record<string, string>, measure = false): Promise<Run> {
    const rssFile = measure ? path.join(dir, `rss-${randomBytes(4).toString("hex")}`) : undefined;
    return finish(start(args, env, rssFile), rssFile);
  }

  /** Files in `d` (none expected after a failed read: no output, no temporary file). */
  const listing = (d: string) => fs.readdirSync(d).sort();

  before(async () => {
    h = await startHarness(3);
    dir = path.join(h.dir, "data-path");
    fs.mkdirSync(dir);
    probe = writeProbe(dir);
    const common = { NKMS_RPC_URL: h.rpc.url, NKMS_DEPLOYMENT: h.deploymentFile, NKMS_KEYSTORE_PASSWORD: "pw-long-enough", NKMS_UNSAFE_TEST_MODE: "1" };
    aliceEnv = { ...common, NKMS_HOME: path.join(dir, "alice") };
    bobEnv = { ...common, NKMS_HOME: path.join(dir, "bob") };
    aliceStore = path.join(dir, "alice", "objects");
    await send("fund Alice", () => h.contracts.token.connect(account(0).connect(h.provider)).transfer(account(1).address, 1000n * TOKEN));
    for (const [env, extra] of [
      [aliceEnv, ["--private-key", account(1).privateKey]],
      [bobEnv, []],
    ] as const) {
      const r = await nkms(["keys", "create", "--scrypt-n", "1024", ...extra], env);
      expect(r.code, r.stderr).to.equal(0);
    }
    expect((await nkms(["keys", "export", "--out", path.join(dir, "bob-keys.json")], bobEnv)).code).to.equal(0);

    // Alice writes into her own home's store (no --storage): Bob never sees that directory.
    fs.writeFileSync(small(), randomBytes(300_000));
    const w = await nkms(["write", small(), "--label", "docs", "--chunk-size", "65536", "--json"], aliceEnv);
    expect(w.code, w.stderr).to.equal(0);
    id = (JSON.parse(w.stdout) as { id: string }).id;
    expect(fs.existsSync(objectPath(id))).to.equal(true);
    grantFile = path.join(dir, "grant.json");
    const s = await nkms(["share", "--label", "docs", "--reader", path.join(dir, "bob-keys.json"), "-m", "2", "-n", "3", "--periods", "2", "--grant-out", grantFile, "--json"], aliceEnv);
    expect(s.code, s.stderr).to.equal(0);

    // Any plain static file server will do; this one serves Alice's store directory, plus
    // /swap/<id> (another valid object under this id's name), /chunked/<path> (no length) and
    // /stall/<path> (the first 100 kB, then silence).
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const [, head, ...rest] = url.pathname.split("/");
      let file: string;
      if (head === "swap") file = fs.readFileSync(path.join(dir, "swap-target"), "utf8");
      else file = path.join(aliceStore, ...(head === "chunked" || head === "stall" ? rest : [head, ...rest]));
      if (!file.startsWith(aliceStore) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.writeHead(404).end("not found");
        return;
      }
      res.writeHead(200, head === "chunked" ? {} : { "content-length": fs.statSync(file).size });
      if (head === "stall") {
        res.write(fs.readFileSync(file).subarray(0, 100_000)); // then silence, the connection held open
        return;
      }
      fs.createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await h?.close();
  });

  it("Bob reads by URL from his own home (no --storage), to a file and to stdout", async () => {
    const out = path.join(dir, "bob-read.bin");
    const r = await nkms(["read", `${base}/${id.slice(0, 2)}/${id}`, "--grant", grantFile, "--out", out, "--json"], bobEnv);
    expect(r.code, r.stderr).to.equal(0);
    expect(fs.readFileSync(out).equals(fs.readFileSync(small()))).to.equal(true);
    expect(JSON.parse(r.stdout)).to.include({ id, out });
    // stdout, and a server that sends no content-length: the id is pinned by the URL's fragment
    const s = await nkms(["read", `${base}/chunked/${id.slice(0, 2)}/${id}#${id}`, "--grant", grantFile], bobEnv);
    expect(s.code, s.stderr).to.equal(0);
    expect(Buffer.from(s.stdout, "latin1").equals(fs.readFileSync(small()))).to.equal(true);
  });

  it("bytes that do not hash to the id named by the URL exit 7 and leave nothing, though they decrypt", async () => {
    // Another object of the same label: decrypts under the same grant, but is not object `id`.
    const w = await nkms(["write", small(), "--label", "docs", "--chunk-size", "4096", "--json"], aliceEnv);
    expect(w.code, w.stderr).to.equal(0);
    const other = (JSON.parse(w.stdout) as { id: string }).id;
    fs.writeFileSync(path.join(dir, "swap-target"), objectPath(other));
    const outDir = path.join(dir, "swap");
    fs.mkdirSync(outDir);
    const r = await nkms(["read", `${base}/swap/${id}`, "--grant", grantFile, "--out", path.join(outDir, "x.bin")], bobEnv);
    expect(r.code, r.stderr).to.equal(ExitCode.integrity);
    expect(r.stderr).to.match(/^nkms: [^\n]*(hash|corrupt)[^\n]*\n$/);
    expect(listing(outDir)).to.deep.equal([]);
  });

  it("unreachable, missing and unsupported references: one line, distinct exit codes, JSON under --json", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/${id}`;
    await new Promise((resolve) => closed.close(resolve));
    const cases: [string, number, RegExp][] = [
      [`${base}/00/${"00".repeat(32)}`, ExitCode.notFound, /404/],
      [deadUrl, ExitCode.unreachable, /cannot fetch/],
      [`ftp://example.org/${id}`, ExitCode.usage, /http/],
      ["ab".repeat(32), ExitCode.notFound, /URL or a file/],
      [path.join(dir, "no-such-file.nkms"), ExitCode.notFound, /no object/],
    ];
    for (const [ref, exit, message] of cases) {
      const r = await nkms(["read", ref, "--grant", grantFile, "--out", path.join(dir, "never.bin")], bobEnv);
      expect(r.code, `${ref}: ${r.stderr}`).to.equal(exit);
      expect(r.stderr, ref).to.match(/^nkms: [^\n]+\n$/);
      expect(r.stderr, ref).to.match(message);
      const j = await nkms(["--json", "read", ref, "--grant", grantFile], bobEnv);
      expect(j.code).to.equal(exit);
      expect(JSON.parse(j.stderr.trim()).error.exit).to.equal(exit);
      expect(fs.existsSync(path.join(dir, "never.bin"))).to.equal(false);
    }
  });

  it("a server that falls silent mid-body is cut off after --timeout (exit 5), leaving nothing", async () => {
    const outDir = path.join(dir, "stall");
    fs.mkdirSync(outDir);
    const started = Date.now();
    const r = await nkms(["--timeout", "1500", "read", `${base}/stall/${id.slice(0, 2)}/${id}`, "--grant", grantFile, "--out", path.join(outDir, "x.bin")], bobEnv);
    expect(r.code, r.stderr).to.equal(ExitCode.unreachable);
    expect(r.stderr).to.match(/^nkms: cannot fetch .*no data within 1500 ms\n$/);
    expect(Date.now() - started).to.be.below(60_000);
    expect(listing(outDir)).to.deep.equal([]);
  });

  it("a ciphertext file works as a reference (path and file:// URL), and decrypt --grant streams the same", async () => {
    const copy = path.join(dir, "copy.nkms");
    fs.copyFileSync(objectPath(id), copy);
    for (const ref of [copy, "file://" + copy]) {
      const out = path.join(dir, "from-file.bin");
      fs.rmSync(out, { force: true });
      const r = await nkms(["read", ref, "--grant", grantFile, "--out", out], bobEnv);
      expect(r.code, r.stderr).to.equal(0);
      expect(fs.readFileSync(out).equals(fs.readFileSync(small()))).to.equal(true);
    }
    const out = path.join(dir, "decrypt-grant.bin");
    const d = await nkms(["decrypt", copy, "--grant", grantFile, "--out", out], bobEnv);
    expect(d.code, d.stderr).to.equal(0);
    expect(fs.readFileSync(out).equals(fs.readFileSync(small()))).to.equal(true);
  });

  it("decrypt --label --out: a tampered chunk leaves nothing at --out, and an existing file untouched", async () => {
    const enc = path.join(dir, "local.enc");
    expect((await nkms(["encrypt", small(), "--label", "docs", "--chunk-size", "65536", "--out", enc], aliceEnv)).code).to.equal(0);
    const bytes = fs.readFileSync(enc);
    bytes[bytes.length - 1000] ^= 1; // the last chunk: four good chunks come before it
    fs.writeFileSync(enc, bytes);
    const outDir = path.join(dir, "label-out");
    fs.mkdirSync(outDir);
    const out = path.join(outDir, "plain.bin");
    const r = await nkms(["decrypt", enc, "--label", "docs", "--out", out], aliceEnv);
    expect(r.code, r.stderr).to.equal(ExitCode.integrity);
    expect(listing(outDir)).to.deep.equal([]);
    fs.writeFileSync(out, "previous");
    expect((await nkms(["decrypt", enc, "--label", "docs", "--out", out], aliceEnv)).code).to.equal(ExitCode.integrity);
    expect(fs.readFileSync(out, "utf8")).to.equal("previous");
    expect(listing(outDir)).to.deep.equal(["plain.bin"]);
  });

  it("read --out and decrypt --grant --out: truncated ciphertext, a tampered chunk, a lying node leave nothing", async () => {
    const outDir = path.join(dir, "read-out");
    fs.mkdirSync(outDir);
    const out = path.join(outDir, "plain.bin");
    const object = fs.readFileSync(objectPath(id));
    const truncated = path.join(dir, "truncated.nkms");
    fs.writeFileSync(truncated, object.subarray(0, object.length - 70_000)); // cut at no chunk boundary
    const cut = path.join(dir, "cut.nkms");
    fs.writeFileSync(cut, object.subarray(0, object.length - (300_000 % 65536) - 16)); // at a chunk boundary
    const tampered = path.join(dir, "tampered.nkms");
    const t = Buffer.from(object);
    t[t.length - 1000] ^= 1;
    fs.writeFileSync(tampered, t);
    for (const file of [truncated, cut, tampered]) {
      for (const cmd of [["read", file], ["decrypt", file]]) {
        const r = await nkms([...cmd, "--grant", grantFile, "--out", out], bobEnv);
        expect(r.code, `${cmd.join(" ")}: ${r.stderr}`).to.equal(ExitCode.integrity);
        expect(r.stderr).to.match(/^nkms: [^\n]+\n$/);
        expect(listing(outDir), cmd.join(" ")).to.deep.equal([]);
      }
    }

    // A node that answers with a well-formed but wrong cfrag: 3-of-3 cannot be met.
    const k = 1;
    const proxy = await startLyingProxy(account(10 + k), h.nodes[k].staker);
    const liar = await h.restart(k, proxy.url);
    proxy.target = liar.url;
    try {
      const liarGrant = path.join(dir, "grant-3of3.json");
      const s = await nkms(["share", "--label", "docs", "--reader", path.join(dir, "bob-keys.json"), "-m", "3", "-n", "3", "--periods", "1", "--grant-out", liarGrant], aliceEnv);
      expect(s.code, s.stderr).to.equal(0);
      const r = await nkms(["read", `${base}/${id.slice(0, 2)}/${id}`, "--grant", liarGrant, "--out", out], bobEnv);
      expect(r.code, r.stderr).to.equal(ExitCode.unreachable);
      expect(r.stderr).to.match(/invalid_cfrag/);
      expect(listing(outDir)).to.deep.equal([]);
    } finally {
      await proxy.close();
      await h.restart(k);
    }
  });

  describe("a 256 MiB object", () => {
    let bigPlain: string;
    let bigHash: string;
    let bigId: string;
    const rss: Record<string, number> = {};

    before(async () => {
      bigPlain = path.join(dir, "big.bin");
      const fd = fs.openSync(bigPlain, "w");
      const hash = createHash("sha256");
      for (let i = 0; i < BIG / MiB; i++) {
        const block = randomBytes(MiB);
        hash.update(block);
        fs.writeSync(fd, block);
      }
      fs.closeSync(fd);
      bigHash = hash.digest("hex");
      const w = await nkms(["write", bigPlain, "--label", "docs", "--json"], aliceEnv, true);
      expect(w.code, w.stderr).to.equal(0);
      bigId = (JSON.parse(w.stdout) as { id: string }).id;
      rss.write = w.maxRssKiB!;
    });
    after(() => {
      console.log(`      peak RSS (KiB) of the CLI process, 256 MiB object: ${JSON.stringify(rss)}`);
    });

    it("read by URL streams with a progress bar, peak RSS under 200 MB", async () => {
      const out = path.join(dir, "big.out");
      const r = await nkms(["read", `${base}/${bigId.slice(0, 2)}/${bigId}`, "--grant", grantFile, "--out", out, "--progress"], bobEnv, true);
      expect(r.code, r.stderr).to.equal(0);
      rss.read = r.maxRssKiB!;
      expect(sha256File(out)).to.equal(bigHash);
      // the bar, drawn on stderr (not a terminal here: --progress forces it), reaches 100%
      expect(r.stderr).to.match(/reading .*100%/);
      expect(r.maxRssKiB).to.be.below(RSS_LIMIT_KIB);
      fs.rmSync(out);
    });

    it("decrypt --grant of the ciphertext file streams too, peak RSS under 200 MB", async () => {
      const out = path.join(dir, "big.dec");
      const r = await nkms(["decrypt", objectPath(bigId), "--grant", grantFile, "--out", out], bobEnv, true);
      expect(r.code, r.stderr).to.equal(0);
      rss.decryptGrant = r.maxRssKiB!;
      expect(sha256File(out)).to.equal(bigHash);
      expect(r.maxRssKiB).to.be.below(RSS_LIMIT_KIB);
      fs.rmSync(out);
    });

    /** Starts a read into `outDir` and waits until some plaintext has been written there. */
    async function readUntilWriting(outDir: string): Promise<ChildProcess> {
      const proc = start(["read", `${base}/${bigId.slice(0, 2)}/${bigId}`, "--grant", grantFile, "--out", path.join(outDir, "big.out")], bobEnv);
      const done = finish(proc);
      for (;;) {
        const sizes = listing(outDir).map((f) => fs.statSync(path.join(outDir, f)).size);
        if (sizes.some((s) => s >= 8 * MiB)) return proc;
        if (proc.exitCode !== null) throw new Error(`read ended before it was killed: ${(await done).stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }

    it("killed mid-way: SIGTERM leaves nothing; after SIGKILL nothing is at --out and the next run sweeps the rest", async () => {
      const outDir = path.join(dir, "killed");
      fs.mkdirSync(outDir);
      const term = await readUntilWriting(outDir);
      const termed = finish(term);
      term.kill("SIGTERM");
      const t = await termed;
      expect(t.code === 143 || t.signal === "SIGTERM", JSON.stringify(t)).to.equal(true);
      expect(listing(outDir)).to.deep.equal([]);

      const kill = await readUntilWriting(outDir);
      const killed = finish(kill);
      kill.kill("SIGKILL");
      await killed;
      const left = listing(outDir);
      expect(left).to.not.include("big.out");
      expect(left).to.have.length(1);
      expect(fs.statSync(path.join(outDir, left[0])).mode & 0o077).to.equal(0); // only Bob could read it
      const again = await nkms(["read", `${base}/${id.slice(0, 2)}/${id}`, "--grant", grantFile, "--out", path.join(outDir, "big.out")], bobEnv);
      expect(again.code, again.stderr).to.equal(0);
      expect(listing(outDir)).to.deep.equal(["big.out"]);
    });
  });
});
