// Conformance replay through the real directory (directory.ts on a fresh SQLite store per test
// case): each step is submitted as an honest instance would (the RFC 9421 layer's verified actor
// is the message's own), and the directory's own rules, signature checks and log decide. Where the
// vectors depart from the specification text, the directory's vectors-only seam substitutes their
// variant (docs/pkd-v0.8.md): the legacy attribute encryption, and the file's own hedged leaf for an
// accepted step — checked here (hash of the transmitted message, ML-DSA-44 signature under the
// file's server key, key hash) and appended with the vectors' Merkle leaf hash. Operators, Checkpoint
// peers and the directory's name come from the file, as its deployment would configure them.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Directory, SubmissionAuth } from "../directory";
import { fromB64url } from "../encoding";
import { DirectoryError } from "../errors";
import { leafHash } from "../merkle";
import { SqliteStore } from "../store/sqlite";
import { openLegacyVectorAttribute } from "./legacy-attribute";
import { ReplaySummary, StepResult, VectorCase, VectorFile, VectorStep, checkHpke, checkedLeaf } from "./replay";

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

async function replayCase(testCase: VectorCase, results: StepResult[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-pkd-replay-"));
  const store = SqliteStore.open(path.join(dir, "directory.db"));
  const serverKey = fromB64url(testCase["server-keys"]["sign-public-key"]) ?? new Uint8Array(0);
  let step: VectorStep | undefined;
  const directory = new Directory(store, {
    ...configuration(testCase),
    // Its own key signs nothing the replay compares: accepted steps append the file's leaves.
    signingKey: new Uint8Array(randomBytes(32)),
    vectorReplay: {
      openAttribute: openLegacyVectorAttribute,
      logEntry: () => {
        // Throws a plain Error (a failed step, not a rejection) when the file's leaf does not check.
        const data = checkedLeaf(serverKey, step!);
        return { entry: fromB64url(step!["merkle-leaf"])!, leafHash: leafHash(data) };
      },
    },
  });
  try {
    for (const [i, s] of testCase.steps.entries()) {
      step = s;
      const expected = s["expect-fail"] ? "reject" : "accept";
      let outcome: "accept" | "reject" = "accept";
      let detail = "";
      let passed = true;
      try {
        const before = await directory.currentRoot();
        if (before !== s["merkle-root-before"]) throw new Error(`root before is ${before}, the file says ${s["merkle-root-before"]}`);
        await checkHpke(testCase, s);
        const transmitted = JSON.parse(s["protocol-message"]) as Transmitted;
        try {
          if (transmitted.action === "RevokeKeyThirdParty") {
            await directory.submitRevocationToken(transmitted["revocation-token"]);
          } else {
            const signed = JSON.parse(s["signed-message"]) as Transmitted;
            // Vectors item 5: an empty `symmetric-keys` written as a PHP empty array.
            if (Array.isArray(signed["symmetric-keys"]) && signed["symmetric-keys"].length === 0) signed["symmetric-keys"] = {};
            await directory.submit(signed, vouchingActor(signed));
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
  for (const testCase of file["test-cases"]) await replayCase(testCase, results);
  const passed = results.filter((r) => r.passed).length;
  return { steps: results.length, passed, failed: results.length - passed, results };
}
