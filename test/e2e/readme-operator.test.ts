// End-to-end: the README's "Operator path" section, run exactly as written. Its `sh` blocks are
// extracted from README.md and run verbatim with bash, each as its own process, in order
// (test/shared/readme-blocks.ts); `sh background` blocks (Anvil, the stand-in instance, the key
// directory, three node agents) are started as processes of their own and stay up until the end,
// the blocks after them poll for readiness as a reader would. So README and test cannot drift.
//
// The only thing the test sets is the environment the section's first block reads with defaults
// (`${VAR:-default}`): free ports (CHAIN_PORT, NODE_PORT+1..3, DIRECTORY_PORT, INSTANCE_PORT), a
// temporary NKMS_WORK and a unique NKMS_DEPLOYMENT_ID, so parallel runs and an operator's own
// walkthrough never clash. Any other NKMS_*/HARDHAT_* variable of the calling shell is dropped.
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import { freePort } from "../node/multiproc";
import { listenPort } from "../shared/ports";
import { sectionBlocks, startBackground, runForeground, type BackgroundProcess, type Env } from "../shared/readme-blocks";
import { connectCheckpointContract, readLatestCheckpoint } from "../../src/directory/checkpoint-contract";

const ROOT = path.join(__dirname, "..", "..");
const SECTION = "Operator path";

describe("e2e: the README's operator path, run verbatim (Anvil, directory, three agents, Alice and Bob)", function () {
  this.timeout(1_800_000); // ~2.5 min on a quiet 2-core machine; 7-10 min measured under heavy load

  it("every block of the section exits 0: deploy with the checkpoint, stake, bond, three agents, publish, look up, share, read from another home, revoke", async () => {
    // Anvil comes from npm with its binary (@foundry-rs/anvil-<platform>); no download, no skip.
    const anvilPackage = `@foundry-rs/anvil-${process.platform}-${process.arch === "x64" ? "amd64" : process.arch}`;
    const anvil = path.join(ROOT, "node_modules", anvilPackage, "bin", "anvil");
    expect(fs.existsSync(anvil), `${anvil} is missing: npm ci installs @foundry-rs/anvil with its platform binary`).to.equal(true);

    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const blocks = sectionBlocks(readme, SECTION);
    const all = blocks.map((b) => b.text).join("\n");
    // The section must still walk the whole path (a step deleted from the README fails here).
    for (const step of [
      /npm run chain/,
      /ignition deploy ignition\/modules\/Network\.ts/,
      /ignition deploy ignition\/modules\/DirectoryCheckpoint\.ts/,
      /nkms .*directory serve[\s\S]*--contract/,
      /nkms:transfer/,
      /nkms:stake .*--fee-rate/,
      /nkms:bond/,
      /nkms .*directory publish/,
      /nkms .*directory lookup/,
      /nkms .*share .*--reader-actor/,
      /nkms .*read /,
      /nkms .*revoke /,
    ]) expect(all, `README "${SECTION}" no longer has ${step}`).to.match(step);
    expect(blocks.filter((b) => b.background && /nkms node run/.test(b.text))).to.have.length(3);

    const work = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-readme-"));
    const scratch = path.join(work, ".blocks");
    fs.mkdirSync(scratch);
    const deploymentId = `readme-e2e-${process.pid}-${Date.now()}`;
    const base: Env = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(NKMS_|HARDHAT_)/.test(k)) base[k] = v;
    Object.assign(base, {
      NKMS_WORK: path.join(work, "walkthrough"),
      CHAIN_PORT: String(await freePort()),
      NODE_PORT: String(await listenPort(4)),
      DIRECTORY_PORT: String(await freePort()),
      INSTANCE_PORT: String(await freePort()),
      NKMS_DEPLOYMENT_ID: deploymentId,
    });

    const background: BackgroundProcess[] = [];
    const timings: string[] = [];
    // README_E2E_TRANSCRIPT=FILE keeps every block's output and the background processes' (to read
    // what a newcomer sees).
    const transcript: string[] = [];
    let env = base;
    let settings: Env | undefined;
    try {
      for (const block of blocks) {
        if (block.background) {
          expect(settings, "the section's first block sets up the environment").to.not.equal(undefined);
          background.push(startBackground(block, ROOT, settings!, scratch));
          continue;
        }
        const t0 = Date.now();
        const r = await runForeground(block, ROOT, env, scratch, background, 600_000);
        timings.push(`line ${block.line}: ${Date.now() - t0} ms`);
        expect(r.code, `README block at line ${block.line} exited ${r.code}:\n${block.text}\n--- output ---\n${r.output}`).to.equal(0);
        transcript.push(`--- block at line ${block.line} (${Date.now() - t0} ms)\n${block.text}--- output\n${r.output}`);
        env = r.env;
        settings ??= r.env;
        if (/ share /.test(block.text)) expect(r.output, r.output).to.match(/paid \d+(\.\d+)? NKMS through period/);
        if (/cmp /.test(block.text)) expect(r.output).to.include("Bob reads what Alice wrote");
        if (/ revoke /.test(block.text)) expect(r.output, r.output).to.match(/revoked|denied/i);
      }

      // Every agent registered and listened; the directory checkpointed its tree on-chain.
      for (const agent of background.filter((b) => /nkms node run/.test(b.block.text))) {
        expect(agent.output(), agent.output()).to.match(/"event":"listening"/);
      }
      const addresses = JSON.parse(fs.readFileSync(path.join(ROOT, "ignition", "deployments", deploymentId, "deployed_addresses.json"), "utf8")) as Record<string, string>;
      const provider = new JsonRpcProvider(`http://127.0.0.1:${base.CHAIN_PORT}`, undefined, { staticNetwork: true });
      try {
        const contract = connectCheckpointContract(addresses["DirectoryCheckpoint#DirectoryCheckpoint"], provider);
        const deadline = Date.now() + 60_000;
        let checkpoint = await readLatestCheckpoint(contract);
        while (checkpoint.treeSize === 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 1000));
          checkpoint = await readLatestCheckpoint(contract);
        }
        expect(checkpoint.treeSize, "the directory checkpoints Bob's publication on-chain").to.be.greaterThan(0);
        const directory = background.find((b) => /directory serve/.test(b.block.text))!;
        expect(directory.output(), directory.output()).to.not.match(/checkpoint failed/);
      } finally {
        provider.destroy();
      }
      // "Stop the processes with Ctrl-C": each stops by itself on SIGINT.
      for (const b of [...background].reverse()) {
        expect(await b.stop("SIGINT", 30_000), `the background block at line ${b.block.line} did not stop on Ctrl-C:\n${b.output()}`).to.equal(true);
      }
      console.log(`      README operator path: ${timings.join(", ")}`);
    } finally {
      for (const b of background.reverse()) await b.stop();
      if (process.env.README_E2E_TRANSCRIPT) {
        for (const b of background) transcript.push(`--- background block at line ${b.block.line}\n${b.block.text}--- output\n${b.output()}`);
        fs.writeFileSync(process.env.README_E2E_TRANSCRIPT, transcript.join("\n"));
      }
      fs.rmSync(path.join(ROOT, "ignition", "deployments", deploymentId), { recursive: true, force: true });
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
