// Runs a README section's fenced shell blocks verbatim, as a reader would paste them: the tests
// that hold the README to its word (test/e2e/readme-operator.test.ts) use it.
//
// Convention (the README states it to its reader too):
//   ```sh             a foreground step: run with bash -euo pipefail, in order, must exit 0
//   ```sh background  a long-running process (a chain, a server, an agent) in a terminal of its own;
//                     the foreground block after it shows how a human knows it is ready (it polls)
// Every fenced block of the section must be one of these two, so nothing in it goes unrun.
// Blocks run as one terminal would: the variables a foreground block exports are seen by the next
// ones. A background block sees only what the section's first block (its settings) exports, as
// a new terminal where the reader pasted that block.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export interface Block {
  background: boolean;
  text: string;
  /** 1-based line of the opening fence in the file, for messages. */
  line: number;
}

/** The fenced blocks of the `## heading…` section (up to the next `## `) of a Markdown file. */
export function sectionBlocks(markdown: string, headingPrefix: string): Block[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`## ${headingPrefix}`));
  if (start < 0) throw new Error(`no section "## ${headingPrefix}…"`);
  const blocks: Block[] = [];
  for (let i = start + 1; i < lines.length && !lines[i].startsWith("## "); i++) {
    const open = /^```(.*)$/.exec(lines[i]);
    if (!open) continue;
    const info = open[1].trim();
    if (info !== "sh" && info !== "sh background") throw new Error(`README line ${i + 1}: a block of this section is \`\`\`${info}, not sh or sh background`);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && lines[j] !== "```"; j++) body.push(lines[j]);
    if (j === lines.length) throw new Error(`README line ${i + 1}: unclosed block`);
    blocks.push({ background: info === "sh background", text: body.join("\n") + "\n", line: i + 1 });
    i = j;
  }
  return blocks;
}

export type Env = Record<string, string>;

function parseEnv0(raw: string): Env {
  const env: Env = {};
  for (const entry of raw.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

export interface BackgroundProcess {
  block: Block;
  proc: ChildProcess;
  output(): string;
  exited(): boolean;
  /**
   * `signal` (SIGTERM by default; SIGINT is a terminal's Ctrl-C) to its whole process group,
   * SIGKILL after `graceMs`; resolves once it is gone: true when it went by itself, in time.
   */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<boolean>;
}

function collect(proc: ChildProcess): () => string {
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  return () => out;
}

/** Starts a background block in its own process group (so stopping it stops what it started). */
export function startBackground(block: Block, cwd: string, env: Env, scratch: string): BackgroundProcess {
  const file = path.join(scratch, `block-${block.line}.sh`);
  fs.writeFileSync(file, block.text);
  const proc = spawn("bash", ["--noprofile", "--norc", "-euo", "pipefail", file], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const output = collect(proc);
  const exited = (): boolean => proc.exitCode !== null || proc.signalCode !== null;
  return {
    block,
    proc,
    output,
    exited,
    stop: (signal = "SIGTERM", graceMs = 15_000) =>
      new Promise((resolve) => {
        if (exited()) return resolve(false);
        let killed = false;
        const kill = (signal: NodeJS.Signals): void => {
          try {
            process.kill(-proc.pid!, signal);
          } catch {
            /* already gone */
          }
        };
        const timer = setTimeout(() => {
          killed = true;
          kill("SIGKILL");
        }, graceMs);
        proc.once("exit", () => {
          clearTimeout(timer);
          // what the group's leader started may outlive it: make sure the group is gone
          kill("SIGKILL");
          resolve(!killed);
        });
        kill(signal);
      }),
  };
}

export interface ForegroundResult {
  code: number | null;
  output: string;
  /** The exported environment at the block's end (what the next block in this terminal sees). */
  env: Env;
}

/**
 * Runs a foreground block to its end and returns its exported environment. Fails early (rejects)
 * when one of `watch` exits meanwhile, or after `timeoutMs`.
 */
export function runForeground(block: Block, cwd: string, env: Env, scratch: string, watch: BackgroundProcess[], timeoutMs: number): Promise<ForegroundResult> {
  const file = path.join(scratch, `block-${block.line}.sh`);
  const envOut = path.join(scratch, `block-${block.line}.env`);
  // The block verbatim; on exit, the environment it leaves behind. A trap, not a line after the
  // block, so the block's own exit status stays the script's (a last `cmp a b && echo same` fails).
  fs.writeFileSync(file, `trap 'env -0 > ${JSON.stringify(envOut).replace(/'/g, "")}' EXIT\n${block.text}`);
  return new Promise((resolve, reject) => {
    const proc = spawn("bash", ["--noprofile", "--norc", "-euo", "pipefail", file], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const output = collect(proc);
    const killGroup = (): void => {
      try {
        process.kill(-proc.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    };
    const fail = (why: string): void => {
      clearInterval(poll);
      clearTimeout(timer);
      killGroup();
      reject(new Error(`README block at line ${block.line}: ${why}\n--- its output ---\n${output()}`));
    };
    const timer = setTimeout(() => fail(`still running after ${timeoutMs / 1000} s`), timeoutMs);
    const poll = setInterval(() => {
      const dead = watch.find((b) => b.exited());
      if (dead) fail(`the background block at line ${dead.block.line} exited (${dead.proc.exitCode ?? dead.proc.signalCode}) meanwhile:\n${dead.output()}`);
    }, 250);
    proc.on("error", (e) => fail(e.message));
    proc.on("close", (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      killGroup(); // a foreground block leaves nothing running behind it
      const after = code === 0 && fs.existsSync(envOut) ? parseEnv0(fs.readFileSync(envOut, "utf8")) : env;
      resolve({ code, output: output(), env: after });
    });
  });
}
