// The specification's test vectors (test/vectors/pkd-v0.8/) replayed: 40 of 40 steps (through a
// directory configured with the file's server keys; HPKE-wrapped forms opened with its X-Wing key, ML-DSA-44 signatures, rules, leaves), through the
// npm script as a process (its last line is the summary): through the directory itself by default,
// through the rule model with --rules-only. Both are shown not to be vacuous: a tampered signature,
// leaf, root or expectation fails exactly the step it touches.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { replayThroughDirectory } from "../../src/directory/v08/directory-replay";
import { replayVectors, type ReplaySummary, type VectorFile } from "../../src/directory/v08/replay";
import { vectorPath } from "../vectors";

const FILE = vectorPath("pkd-v0.8", "test-vectors.json");
const load = (): VectorFile => JSON.parse(fs.readFileSync(FILE, "utf8")) as VectorFile;

function flipBase64url(text: string, at: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const c = text[at];
  return text.slice(0, at) + alphabet[(alphabet.indexOf(c) + 1) % 64] + text.slice(at + 1);
}

describe("directory: PKD specification test vectors (conformance replay)", function () {
  this.timeout(600_000);

  it("`npm run -s conformance:pkd -- FILE` passes 40 of 40 steps through the directory (and the rule model) and prints the summary last", () => {
    for (const extra of [[], ["--rules-only"]]) {
      const run = spawnSync("npm", ["run", "-s", "conformance:pkd", "--", FILE, ...extra], { cwd: path.join(__dirname, "..", ".."), encoding: "utf8" });
      const lines = run.stdout.trim().split("\n");
      expect(JSON.parse(lines[lines.length - 1]), `${extra.join(" ")}: ${run.stdout}`).to.deep.equal({ steps: 40, passed: 40, failed: 0 });
      expect(run.status, run.stderr).to.equal(0);
    }
    const usage = spawnSync("npm", ["run", "-s", "conformance:pkd"], { cwd: path.join(__dirname, "..", ".."), encoding: "utf8" });
    expect(usage.status).to.equal(2);
  });

  for (const [which, replay] of [
    ["the directory", replayThroughDirectory],
    ["the rule model", replayVectors],
  ] as Array<[string, (file: VectorFile) => Promise<ReplaySummary>]>) it(`fails exactly the tampered steps (${which})`, async () => {
    const file = load();
    const byName = (name: string) => file["test-cases"].find((c) => c.name === name)!;
    // 1. an actor's protocol signature (the accepted Fireproof becomes a rejection)
    const fire = byName("basic-enrollment-and-fireproof").steps[1];
    const signed = JSON.parse(fire["signed-message"]) as { signature: string };
    fire["signed-message"] = JSON.stringify({ ...signed, signature: flipBase64url(signed.signature, 10) });
    // 2. the server's signature inside a leaf
    const leafStep = byName("key-management-lifecycle").steps[1];
    leafStep["merkle-leaf"] = flipBase64url(leafStep["merkle-leaf"], 100);
    // 3. a claimed root after
    const rootStep = byName("successful-checkpoint").steps[0];
    rootStep["merkle-root-after"] = rootStep["merkle-root-before"];
    // 4. an HPKE-wrapped message (X-Wing / ChaCha20-Poly1305 tag)
    const wrapped = byName("complete-protocol-message-flow").steps[4];
    wrapped["hpke-wrapped-message"] = flipBase64url(wrapped["hpke-wrapped-message"]!, 2000);
    // 5. an expectation turned around
    byName("cannot-fireproof-twice").steps[2]["expect-fail"] = false;
    // 6. (the directory only) a server key that is not the file's own pair: the whole case fails
    if (replay === replayThroughDirectory) {
      const keys = byName("successful-move-identity")["server-keys"];
      keys["hpke-encaps-key"] = byName("successful-checkpoint")["server-keys"]["hpke-encaps-key"];
    }
    const summary = await replay(file);
    const failed = summary.results.filter((r) => !r.passed).map((r) => `${r.testCase}#${r.step}`);
    expect(failed).to.deep.equal([
      "basic-enrollment-and-fireproof#1",
      "basic-enrollment-and-fireproof#2", // its root before no longer matches: the log diverged
      "basic-enrollment-and-fireproof#3",
      "cannot-fireproof-twice#2",
      "complete-protocol-message-flow#4",
      "key-management-lifecycle#1",
      ...(replay === replayThroughDirectory ? ["successful-move-identity#0", "successful-move-identity#1", "successful-move-identity#2"] : []),
      "successful-checkpoint#0",
    ]);
    expect(summary.results.find((r) => r.testCase === "key-management-lifecycle")!.detail).to.equal("");
  });
});
