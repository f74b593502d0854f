// `npx hardhat …` as its own process, for the tests that run tasks and Ignition as an operator does.
import { spawn } from "node:child_process";
import path from "node:path";
import { expect } from "chai";

const ROOT = path.join(__dirname, "..", "..");

export interface TaskRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npx hardhat <args>` in the repository, as its own process. */
export function hardhat(args: string[], env: Record<string, string> = {}): Promise<TaskRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [require.resolve("hardhat/internal/cli/cli"), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    proc.on("error", reject);
    proc.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** An expected failure: exactly one line on stderr, no Hardhat "unexpected error" nor stack. */
export function expectOneLine(r: TaskRun, exit: number, pattern: RegExp): void {
  const lines = r.stderr.trim().split("\n");
  expect(r.stderr, r.stderr).not.to.match(/unexpected error|    at /);
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.match(pattern);
  expect(r.code, r.stderr).to.equal(exit);
}

