import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { NodeStore } from "../../src/node/store";
import { BallotBook, BallotError, encodeVerdicts, healthCommitment } from "../../src/node/health/ballot";
import { buildWorld, checkersOf, contactsFor, openNextRound, toReveal } from "./fixture";

const world = () => buildWorld({ nodes: 6 });

describe("health: persisted ballots (agent side)", () => {
  let dir: string;
  const atRestKey = new Uint8Array(randomBytes(32));
  const nodeId = new Uint8Array(randomBytes(20));
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "nkms-health-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("encodes verdict masks: bit i set = target i unhealthy", () => {
    expect(encodeVerdicts([true, false, true, false])).to.equal(0b1010n);
    expect(encodeVerdicts([])).to.equal(0n);
  });

  it("a ballot survives a restart between commit and reveal, and the reveal succeeds on-chain", async () => {
    const w = await loadFixture(world);
    const { round, targets } = await openNextRound(w.health);
    const checker = checkersOf(w, targets)[0];
    const file = join(dir, "node.sqlite");

    let store = NodeStore.open(file, atRestKey, nodeId);
    let book = new BallotBook(store, w.healthAddress);
    const ballot = book.prepare(round, checker.staker.address, 0b010n);
    expect(ballot.commitment).to.equal(
      await w.health.commitmentOf(round, checker.staker.address, ballot.verdicts, ballot.salt),
    );
    expect(() => book.prepare(round, checker.staker.address, 0n))
      .to.throw(BallotError)
      .with.property("code", "BALLOT_EXISTS");
    await (await w.health.connect(checker.operator).commit(round, ballot.commitment)).wait();
    book.markCommitted(round);
    store.close(); // the agent restarts here

    store = NodeStore.open(file, atRestKey, nodeId);
    book = new BallotBook(store, w.healthAddress);
    const restored = book.get(round)!;
    expect(restored).to.deep.equal({ ...ballot, committed: true });
    await toReveal(w.health, round);
    await (await w.health.connect(checker.operator).reveal(round, restored.verdicts, restored.salt, await contactsFor(w, round, checker.staker.address, restored.verdicts))).wait();
    expect(book.markRevealed(round).revealed).to.equal(true);
    expect((await w.health.ballotOf(round, checker.staker.address)).revealed).to.equal(true);
    expect(book.get(round + 1n)).to.equal(undefined);
    expect(() => book.markRevealed(round + 1n)).to.throw(BallotError).with.property("code", "NO_BALLOT");
    store.close();
  });

  it("healthCommitment binds the contract, round, staker, verdicts and salt", () => {
    const salt = "0x" + "11".repeat(32);
    const a = "0x" + "aa".repeat(20);
    const b = "0x" + "bb".repeat(20);
    const base = healthCommitment(a, 1n, b, 1n, salt);
    expect(healthCommitment(b, 1n, b, 1n, salt)).to.not.equal(base);
    expect(healthCommitment(a, 2n, b, 1n, salt)).to.not.equal(base);
    expect(healthCommitment(a, 1n, a, 1n, salt)).to.not.equal(base);
    expect(healthCommitment(a, 1n, b, 0n, salt)).to.not.equal(base);
    expect(healthCommitment(a, 1n, b, 1n, "0x" + "12".repeat(32))).to.not.equal(base);
  });
});
