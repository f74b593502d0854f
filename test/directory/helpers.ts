import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { openAttribute } from "../../src/directory/attribute-encryption";
import { Directory, DirectoryOptions, SubmitResult } from "../../src/directory/directory";
import { fromB64url } from "../../src/directory/encoding";
import type { SubmittedMessage } from "../../src/directory/protocol";
import { DirectoryError } from "../../src/directory/errors";
import { SqliteStore } from "../../src/directory/store/sqlite";
import type { DirectoryStore } from "../../src/directory/store/store";
import type { TestPostgres } from "./postgres";

export const newSecretKey = (): Uint8Array => new Uint8Array(randomBytes(32));

export interface TestDirectory {
  directory: Directory;
  store: DirectoryStore;
  dir: string;
  close(): Promise<void>;
}

/** Where a test directory keeps its data: a SQLite file (default) or a schema on a test PostgreSQL server. */
export type TestBackend = "sqlite" | TestPostgres;

export function backendName(backend: TestBackend): string {
  return backend === "sqlite" ? "SQLite" : "PostgreSQL";
}

export async function makeDirectory(options: Partial<DirectoryOptions> = {}, backend: TestBackend = "sqlite"): Promise<TestDirectory> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-directory-"));
  const store = backend === "sqlite" ? SqliteStore.open(path.join(dir, "directory.db")) : await backend.newStore();
  const directory = new Directory(store, { name: "https://pkd.test", signingKey: newSecretKey(), ...options });
  return {
    directory,
    store,
    dir,
    async close() {
      await store.close();
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

/**
 * The actor an honest instance would vouch for (RFC 9421) when forwarding `msg`: the message's
 * actor (new-actor for MoveIdentity, operator for BurnDown), read with the message's own
 * symmetric keys. Rule tests below the HTTP layer use it in place of a verified HTTP signature.
 */
export function vouchingActor(msg: unknown): string {
  try {
    const m = msg as SubmittedMessage;
    const field = m.action === "MoveIdentity" ? "new-actor" : m.action === "BurnDown" ? "operator" : "actor";
    const opened = openAttribute(field, fromB64url(m.message[field])!, fromB64url(m["symmetric-keys"][field])!, m["recent-merkle-root"]);
    return new TextDecoder().decode(opened.plaintext);
  } catch {
    // Malformed on purpose: let the directory report what is wrong with it.
    return "";
  }
}

/** Submits `msg` as its own actor's honest instance would (see vouchingActor). */
export function submitAs(directory: Directory, msg: unknown, actor: string = vouchingActor(msg)): Promise<SubmitResult> {
  return directory.submit(msg, { actor });
}
