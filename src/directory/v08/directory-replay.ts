// Conformance replay through the real directory (directory.ts on a fresh SQLite store per test
// case), configured with the file's server keys: its ML-DSA-44 signing seed (the directory's key
// must be the file's `sign-public-key`) and its X-Wing seed (the published encapsulation key must
// be the file's). Each step is submitted as an honest instance would (the RFC 9421 layer's
// verified actor is the message's own); an HPKE-wrapped form is opened with the directory's own
// key, as `api/message` opens it, and what it opens to is what the directory judges. The
// directory's own rules, signature checks and log decide. Where the
// vectors depart from the specification text, the directory's vectors-only seam substitutes their
// variant (docs/pkd-v0.8.md): the legacy attribute encryption, and the file's own hedged leaf for an
// accepted step — checked here (hash of the transmitted message, ML-DSA-44 signature under the
// file's server key, key hash) and appended with the vectors' Merkle leaf hash. Operators, Checkpoint
// peers and the directory's name come from the file, as its deployment would configure them.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Directory, MAX_MESSAGE_WINDOW_SECONDS, SubmissionAuth } from "../directory";
import { fromB64url } from "../encoding";
import { DirectoryError } from "../errors";
import { DirectoryHpkeKey } from "../hpke-wire";
import { buildLogEntry, checkLogEntry, directoryKeyPair } from "../log-entry";
import { bytesEqual, leafHash } from "../merkle";
import { SqliteStore } from "../store/sqlite";
import { openLegacyVectorAttribute } from "./legacy-attribute";
import { ReplaySummary, StepResult, VectorCase, VectorFile, VectorStep, checkedLeaf, receivedMessage } from "./replay";

interface Transmitted {
  action?: string;
  message?: Record<string, string>;
  "symmetric-keys"?: Record<string, string> | unknown[];
  "recent-merkle-root"?: string;
  "revocation-token"?: string;
}

/** A field of a step's message in the clear (legacy variant), or undefined if it does not open. */
function plainField(msg: Transmitted, name: string): string | undefined {
  const keys = Array.isArray(msg["symmetric-keys"]) ? {} : (msg["symmetric-keys"] ?? {});
  const ct = fromB64url(msg.message?.[name] ?? "");
  const key = fromB64url((keys as Record<string, string>)[name] ?? "");
  if (!ct || !key) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(openLegacyVectorAttribute(name, ct, key, msg["recent-merkle-root"] ?? "").plaintext);
  } catch {
    return undefined;
  }
}

/** What a deployment would configure for this case: its BurnDown operators, Checkpoint peers and name. */
function configuration(testCase: VectorCase): { name: string; operators: string[]; peers: string[] } {
  const operators: string[] = [];
  const peers: string[] = [];
  let name = "https://pkd.example";
  for (const step of testCase.steps) {
    const msg = JSON.parse(step["protocol-message"]) as Transmitted;
    if (msg.action === "BurnDown") {
      const operator = plainField(msg, "operator");
      if (operator) operators.push(operator);
    }
    if (msg.action === "Checkpoint" && msg.message) {
      peers.push(msg.message["from-public-key"]);
      name = msg.message["to-directory"];
    }
  }
  return { name, operators, peers };
}

/** The actor whose instance would sign the request (RFC 9421) for this message. */
function vouchingActor(msg: Transmitted): SubmissionAuth | undefined {
  const field = msg.action === "MoveIdentity" ? "new-actor" : msg.action === "BurnDown" ? "operator" : "actor";
  if (msg.action === "Checkpoint" || msg.action === "RevokeKeyThirdParty") return undefined;
  return { actor: plainField(msg, field) ?? "" };
}

/** The case's server keys as a directory is configured with them; throws when they are not a matching set. */
async function serverKeys(testCase: VectorCase): Promise<{ signingKey: Uint8Array; publicKey: Uint8Array; hpke: DirectoryHpkeKey }> {
  const keys = testCase["server-keys"];
  const signingKey = fromB64url(keys["sign-secret-key"] ?? "");
  const publicKey = fromB64url(keys["sign-public-key"] ?? "");
  if (!signingKey || signingKey.length !== 32 || !publicKey) throw new Error("the file's sign-secret-key is not a 32-byte ML-DSA-44 seed");
  if (!bytesEqual(directoryKeyPair(signingKey).publicKey, publicKey)) throw new Error("the file's sign-secret-key is not the seed of its sign-public-key");
  const hpkeSeed = fromB64url(keys["hpke-decaps-key"] ?? "");
  if (!hpkeSeed || hpkeSeed.length !== 32) throw new Error("the file's hpke-decaps-key is not a 32-byte X-Wing seed");
  const hpke = await DirectoryHpkeKey.fromSeed(hpkeSeed);
  if (!bytesEqual(hpke.encapsulationKey, fromB64url(keys["hpke-encaps-key"] ?? "") ?? new Uint8Array(0))) {
    throw new Error("the file's hpke-encaps-key is not the key of its hpke-decaps-key");
  }
  return { signingKey, publicKey, hpke };
}

async function replayCase(testCase: VectorCase, results: StepResult[], generatedAt: number): Promise<void> {
  let keys: Awaited<ReturnType<typeof serverKeys>>;
  try {
    keys = await serverKeys(testCase);
  } catch (err) {
    for (const [i, s] of testCase.steps.entries()) {
      const expected = s["expect-fail"] ? "reject" : "accept";
      results.push({ testCase: testCase.name, step: i, description: s.description, expected, outcome: expected, detail: (err as Error).message, passed: false });
    }
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-pkd-replay-"));
  const store = SqliteStore.open(path.join(dir, "directory.db"));
  let step: VectorStep | undefined;
  const directory = new Directory(store, {
    ...configuration(testCase),
    signingKey: keys.signingKey,
    // The messages are dated when the file was made (vectors item 7): the directory's clock is
    // set to the file's `generated` time, with the widest window the text allows (30 days).
    clock: () => generatedAt,
    messageWindowSeconds: MAX_MESSAGE_WINDOW_SECONDS,
    vectorReplay: {
      openAttribute: openLegacyVectorAttribute,
      logEntry: (data) => {
        // The directory's own entry, hashed and signed as the text says, verifies under the file's key...
        if (checkLogEntry(buildLogEntry(data, directoryKeyPair(keys.signingKey)), keys.publicKey, data)) throw new Error("the directory's own log entry does not verify");
        // ...but the vectors' leaves are hedged and hash more (docs/pkd-v0.8.md): append the file's,
        // after checking it. A plain Error here is a failed step, not a rejection.
        const fileLeaf = checkedLeaf(keys.publicKey, step!);
        return { entry: fromB64url(step!["merkle-leaf"])!, leafHash: leafHash(fileLeaf) };
      },
    },
  });
  try {
    if (!bytesEqual(directory.publicKey, keys.publicKey)) throw new Error("the directory's key is not the file's sign-public-key");
    for (const [i, s] of testCase.steps.entries()) {
      step = s;
      const expected = s["expect-fail"] ? "reject" : "accept";
      let outcome: "accept" | "reject" = "accept";
      let detail = "";
      let passed = true;
      try {
        const before = await directory.currentRoot();
        if (before !== s["merkle-root-before"]) throw new Error(`root before is ${before}, the file says ${s["merkle-root-before"]}`);
        const message = (await receivedMessage(s, (wrapped) => keys.hpke.open(wrapped))) as Transmitted;
        try {
          if (message.action === "RevokeKeyThirdParty") {
            await directory.submitRevocationToken(message["revocation-token"]);
          } else {
            // Vectors item 5: an empty `symmetric-keys` written as a PHP empty array.
            if (Array.isArray(message["symmetric-keys"]) && message["symmetric-keys"].length === 0) message["symmetric-keys"] = {};
            await directory.submit(message, vouchingActor(message));
          }
        } catch (err) {
          if (!(err instanceof DirectoryError)) throw err;
          outcome = "reject";
          detail = `${err.code}: ${err.message}`;
        }
        if (outcome !== expected) throw new Error(`expected ${expected}, the directory says ${outcome}${detail ? ` (${detail})` : ""}`);
        const after = await directory.currentRoot();
        if (after !== s["merkle-root-after"]) throw new Error(`root after is ${after}, the file says ${s["merkle-root-after"]}`);
      } catch (err) {
        passed = false;
        detail = (err as Error).message;
      }
      results.push({ testCase: testCase.name, step: i, description: s.description, expected, outcome, detail, passed });
    }
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Replays every test case of `file` through a fresh directory each. */
export async function replayThroughDirectory(file: VectorFile): Promise<ReplaySummary> {
  const results: StepResult[] = [];
  const generatedAt = Math.floor(Date.parse(file.generated ?? "") / 1000);
  if (!Number.isFinite(generatedAt)) throw new Error("the file has no `generated` time");
  for (const testCase of file["test-cases"]) await replayCase(testCase, results, generatedAt);
  const passed = results.filter((r) => r.passed).length;
  return { steps: results.length, passed, failed: results.length - passed, results };
}
