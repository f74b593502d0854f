// `nkms --json …`: an error is one JSON object on stderr, {"error": {code, exit, message}}, not the
// human `nkms: …` line (issue #15, item 5), with the same exit code.
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { ExitCode } from "../../src/cli/errors";

const BIN = path.join(__dirname, "..", "..", "bin", "nkms.js");

function nkms(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-json-"));
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NKMS_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    proc.on("error", reject);
    proc.on("close", (code) => {
      fs.rmSync(home, { recursive: true, force: true });
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

describe("nkms CLI: errors under --json are JSON", function () {
  this.timeout(120_000);

  it("a usage error and a missing file, each one JSON object on stderr with its exit code", async () => {
    const usage = await nkms(["--json", "share", "--label", "x"]);
    expect(usage.code).to.equal(ExitCode.usage);
    const u = JSON.parse(usage.stderr.trim()) as { error: { code: string; exit: number; message: string } };
    expect(u.error).to.include({ code: "usage", exit: ExitCode.usage });
    expect(u.error.message).to.match(/required option/);

    const missing = await nkms(["decrypt", path.join(os.tmpdir(), "no-such-nkms-file.bin"), "--label", "x", "--json"]);
    expect(missing.code).to.equal(ExitCode.notFound);
    expect((JSON.parse(missing.stderr.trim()) as { error: { exit: number } }).error.exit).to.equal(ExitCode.notFound);

    // Without --json: the one human line, unchanged.
    const human = await nkms(["share", "--label", "x"]);
    expect(human.stderr).to.match(/^nkms: .*required option/);
  });
});
