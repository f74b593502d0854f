import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { Directory, DirectoryOptions } from "../../src/directory/directory";
import { DirectoryError } from "../../src/directory/errors";
import { openDirectoryDatabase, SqliteDatabase } from "../../src/directory/sqlite";

export const newSecretKey = (): Uint8Array => new Uint8Array(randomBytes(32));

export interface TestDirectory {
  directory: Directory;
  db: SqliteDatabase;
  dir: string;
  file: string;
  close(): void;
}

export function makeDirectory(options: Partial<DirectoryOptions> = {}): TestDirectory {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-directory-"));
  const file = path.join(dir, "directory.db");
  const db = openDirectoryDatabase(file);
  const directory = new Directory(db, { name: "https://pkd.test", signingKey: newSecretKey(), ...options });
  return {
    directory,
    db,
    dir,
    file,
    close() {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(DirectoryError);
    expect((err as DirectoryError).code).to.equal(code);
    return;
  }
  expect.fail(`expected DirectoryError ${code}`);
}
