/**
 * A file that appears at its path only when complete, so a failed or interrupted decryption never
 * leaves partial plaintext where the user asked for the output.
 *
 * Bytes go to a hidden temporary file in the target's own directory (so the final rename is atomic:
 * never across file systems), created 0600 (it holds plaintext); `commit` fsyncs it and renames it
 * over the target, `abort` removes it. A process killed outright (SIGKILL, power loss) cannot clean
 * up, so the temporary name carries the writer's pid and the next writer to the same target removes
 * those whose process is gone.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { finished } from "node:stream/promises";

const SUFFIX = ".nkms-partial";
const live = new Set<AtomicFile>();

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes temporary files of `target` left by writers that no longer run. Returns their names. */
export function sweepStaleTemporaries(target: string): string[] {
  const dir = path.dirname(path.resolve(target));
  const pattern = new RegExp(`^\\.${escapeRegExp(path.basename(target))}\\.(\\d+)-[0-9a-f]+${escapeRegExp(SUFFIX)}$`);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

export class AtomicFile {
  readonly target: string;
  readonly tempPath: string;
  /** Write the content here; end it (e.g. as a pipeline's last stream) before `commit`. */
  readonly stream: Writable;
  private settled = false;

  private constructor(target: string) {
    this.target = path.resolve(target);
    const dir = path.dirname(this.target);
    if (fs.existsSync(this.target) && fs.statSync(this.target).isDirectory()) {
      throw Object.assign(new Error(`${target} is a directory`), { code: "EISDIR" });
    }
    sweepStaleTemporaries(this.target);
    this.tempPath = path.join(dir, `.${path.basename(this.target)}.${process.pid}-${randomBytes(6).toString("hex")}${SUFFIX}`);
    // Synchronous and exclusive: the file exists (and is ours) before anything can fail.
    const fd = fs.openSync(this.tempPath, "wx", 0o600);
    this.stream = fs.createWriteStream("", { fd });
    live.add(this);
  }

  /** Creates the temporary file beside `target` (whose directory must exist). */
  static open(target: string): AtomicFile {
    return new AtomicFile(target);
  }

  /** Makes the content durable and moves it to the target (replacing a previous file there). */
  async commit(): Promise<void> {
    if (this.settled) throw new Error("atomic file already settled");
    await finished(this.stream);
    if (!this.stream.closed) await new Promise((resolve) => this.stream.once("close", resolve));
    // fsync through a fresh descriptor: it flushes the file's data whichever descriptor wrote it.
    const fd = fs.openSync(this.tempPath, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(this.tempPath, this.target);
    this.settled = true;
    live.delete(this);
  }

  /** Discards the content: nothing appears at the target, and the temporary file is removed. */
  async abort(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    live.delete(this);
    // The stream closes its descriptor once no write is in flight; then the file goes.
    if (!this.stream.closed) {
      const closed = new Promise((resolve) => this.stream.once("close", resolve));
      this.stream.destroy();
      await closed;
    }
    fs.rmSync(this.tempPath, { force: true });
  }

  /**
   * For a process about to exit on a signal: removes every temporary file still open, synchronously
   * (their descriptors close with the process).
   */
  static abortAllSync(): void {
    for (const f of live) {
      f.settled = true;
      fs.rmSync(f.tempPath, { force: true });
    }
    live.clear();
  }
}
