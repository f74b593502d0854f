// The harness that runs README sections verbatim (test/shared/readme-blocks.ts) must not pass a
// README that does not work: each way a block can fail is caught, and what a reader's terminal
// would carry from block to block is carried, and nothing else.
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sectionBlocks, startBackground, runForeground, type Env } from "../shared/readme-blocks";

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected a rejection");
}

const doc = (body: string): string => `# T\n\n## Other\n\n\`\`\`sh\nnot this\n\`\`\`\n\n## Walk it\n\ntext\n\n${body}\n## Next\n\n\`\`\`sh\nnor this\n\`\`\`\n`;

describe("README block runner (test/shared/readme-blocks.ts)", function () {
  this.timeout(60_000);
  let scratch: string;
  const env = (): Env => ({ PATH: process.env.PATH ?? "/usr/bin:/bin" });
  beforeEach(() => (scratch = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-blocks-"))));
  afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it("takes exactly the section's sh and sh background blocks, in order, and refuses any other block there", () => {
    const blocks = sectionBlocks(doc("```sh\na\n```\n\nmore\n\n```sh background\nb\n```\n"), "Walk");
    expect(blocks.map((b) => [b.background, b.text])).to.deep.equal([[false, "a\n"], [true, "b\n"]]);
    expect(() => sectionBlocks(doc("```bash\na\n```\n"), "Walk")).to.throw(/not sh or sh background/);
    expect(() => sectionBlocks(doc("```\na\n```\n"), "Walk")).to.throw(/not sh or sh background/);
    expect(() => sectionBlocks("## Walk\n```sh\na\n", "Walk")).to.throw(/unclosed/);
    expect(() => sectionBlocks(doc(""), "Missing")).to.throw(/no section/);
  });

  it("a failing command fails its block (errexit, pipefail, unset variables), even mid-block", async () => {
    for (const text of ["false\necho after\n", "false | true\n", "echo $UNSET_VARIABLE\n", "X=$(false)\n", "true\nfalse && echo after\n"]) {
      const r = await runForeground({ background: false, text, line: 1 }, scratch, env(), scratch, [], 30_000);
      expect(r.code, text).to.not.equal(0);
      expect(r.output, text).to.not.include("after");
    }
  });

  it("exports carry over to the next block as in one terminal; a failed block carries nothing", async () => {
    const a = await runForeground({ background: false, text: "export A=1\nB=2\n", line: 1 }, scratch, env(), scratch, [], 30_000);
    expect(a.code).to.equal(0);
    expect(a.env.A).to.equal("1");
    const b = await runForeground({ background: false, text: 'test "$A" = 1\nexport C=3\nfalse\n', line: 2 }, scratch, a.env, scratch, [], 30_000);
    expect(b.code).to.not.equal(0);
    expect(b.env.C).to.equal(undefined);
  });

  it("a background process that dies fails the block waiting for it at once, and stopping one stops its children", async () => {
    const bg = startBackground({ background: true, text: "echo starting; exit 3\n", line: 5 }, scratch, env(), scratch);
    const waiting = runForeground({ background: false, text: "until false; do sleep 1; done\n", line: 6 }, scratch, env(), scratch, [bg], 50_000);
    expect(await rejection(waiting)).to.match(/background block at line 5 exited \(3\)[\s\S]*starting/);

    const pidFile = path.join(scratch, "child.pid");
    const parent = startBackground({ background: true, text: `sleep 300 &\necho $! > ${pidFile}\nwait\n`, line: 9 }, scratch, env(), scratch);
    while (!fs.existsSync(pidFile) || !fs.readFileSync(pidFile, "utf8").trim()) await new Promise((r) => setTimeout(r, 50));
    const child = Number(fs.readFileSync(pidFile, "utf8"));
    expect(await parent.stop(), "went by itself on SIGTERM").to.equal(true);
    const alive = (): boolean => {
      try {
        process.kill(child, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(), "the background block's child is gone").to.equal(false);
  });

  it("a background process that ignores Ctrl-C is killed after the grace period, and reported so", async () => {
    const stubborn = startBackground({ background: true, text: "trap '' INT\necho ready\nsleep 300\n", line: 11 }, scratch, env(), scratch);
    while (!stubborn.output().includes("ready")) await new Promise((r) => setTimeout(r, 50));
    expect(await stubborn.stop("SIGINT", 500)).to.equal(false);
    expect(stubborn.exited()).to.equal(true);
  });

  it("a block that never ends is stopped after its timeout", async () => {
    const r = runForeground({ background: false, text: "sleep 300\n", line: 7 }, scratch, env(), scratch, [], 1_000);
    expect(await rejection(r)).to.match(/still running after 1 s/);
  });
});
