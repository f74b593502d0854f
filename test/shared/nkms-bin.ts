/** Runs the real `nkms` bin (bin/nkms.js) as a process, for tests of the CLI as users run it. */
import { spawn } from "node:child_process";
import path from "node:path";

export const NKMS_BIN = path.join(__dirname, "..", "..", "bin", "nkms.js");

export interface NkmsRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Resolves with the exit code and the whole output; `stdin` is written and closed when given. */
export function runNkms(args: string[], options: { env?: Record<string, string>; stdin?: Buffer; cwd?: string } = {}): Promise<NkmsRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [NKMS_BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    proc.on("error", reject);
    proc.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (options.stdin) proc.stdin!.end(options.stdin);
  });
}
