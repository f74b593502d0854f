// The known-answer vectors the tests use, kept inside the repository (see README.md here for
// each file's source): no test reads anything outside the clone.
import fs from "node:fs";
import path from "node:path";

export const VECTORS_DIR = __dirname;

export function vectorPath(...parts: string[]): string {
  return path.join(VECTORS_DIR, ...parts);
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
