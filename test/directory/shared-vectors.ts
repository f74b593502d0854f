// Locates the team's shared known-answer vectors: `shared/` sits beside the repository clone in
// CI, and beside the repository's parent in a worktree layout, so walk up until it appears.
import fs from "node:fs";
import path from "node:path";

export function sharedVectorsDir(): string {
  const fromEnv = process.env.NKMS_SHARED_DIR;
  if (fromEnv) return path.join(fromEnv, "vectors");
  let dir = path.resolve(__dirname, "..", "..");
  for (;;) {
    const candidate = path.join(dir, "..", "shared", "vectors");
    if (fs.existsSync(candidate)) return path.resolve(candidate);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("shared/vectors not found beside the repository (set NKMS_SHARED_DIR)");
    dir = parent;
  }
}

export function listJsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listJsonFiles(full));
    else if (entry.name.endsWith(".json")) out.push(full);
  }
  return out.sort();
}
