// Issue #16, blind voting: a "healthy" vote counts (and pays) only with the target's proof of
// contact, its stamp key's signature over (chain, HealthCheck, round, checker, target), which the
// target's agent hands out only with a served probe re-encryption (src/node/service.ts).
//
// The first test reproduces the attack and was run against the contracts before the fix (there
// it fails: the blind voter is paid exactly what an honest prober is). It calls `reveal` with or
// without the `contacts` argument depending on the deployed ABI, so the same file runs on both.
import { expect } from "chai";
import { ethers } from "hardhat";
import type { ContractTransactionResponse } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  buildWorld,
  checkersOf,
  commitVote,
  contactDigest,
  contactsFor,
  nodeByStaker,
  openNextRound,
  randomSalt,
  signContact,
  toClaimEnd,
  toReveal,
  toRevealEnd,
  type HealthWorld,
  type Vote,
} from "./fixture";
import { registerNode, type StakedNode } from "../shared/core-fixture";

const world6 = () => buildWorld({ nodes: 6 });
const SECP_N = BigInt("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");

/** `reveal` with the contacts argument when the contract takes one (after the fix), without before. */
function sendReveal(w: HealthWorld, node: StakedNode, round: bigint, verdicts: bigint, salt: string, contacts: string) {
  const reveal = w.health.connect(node.operator).getFunction("reveal") as unknown as (
    ...args: unknown[]
  ) => Promise<ContractTransactionResponse>;
  const arity = w.health.interface.getFunction("reveal")!.inputs.length;
  return arity === 4 ? reveal(round, verdicts, salt, contacts) : reveal(round, verdicts, salt);
}

/** Rotate the node's stamp key (re-registration with a fresh key retires the current one). The
 * world object outlives fixture snapshots, so `node` keeps its old key. */
async function rotateStampKey(w: HealthWorld, node: StakedNode): Promise<void> {
  await registerNode(w.core, node.staker.address, node.operator, { stampSecretKey: secp256k1.utils.randomSecretKey() });
}

async function chainId(): Promise<bigint> {
  return (await ethers.provider.getNetwork()).chainId;
}

describe("health: proof of contact (issue #16, blind voting)", function () {
  this.timeout(300_000);

  it("attack: a blind checker revealing 'healthy' for every target without probing is not paid like an honest prober", async () => {
    const w = await loadFixture(world6);
    const { round, targets } = await openNextRound(w.health);
    const [honestA, honestB, blind] = checkersOf(w, targets);
    const votes: Vote[] = [honestA, honestB, blind].map((node) => ({ node, verdicts: 0n, salt: randomSalt() }));
    for (const v of votes) await commitVote(w, round, v);
    await toReveal(w.health, round);
    // Honest probers reached every target and hold their contact proofs; the blind one holds none.
    for (const v of votes.slice(0, 2)) {
      await (await sendReveal(w, v.node, round, 0n, v.salt, await contactsFor(w, round, v.node.staker.address, 0n))).wait();
    }
    const blindReveal = sendReveal(w, blind, round, 0n, votes[2].salt, "0x");
    let blindRevealed = true;
    try {
      await (await blindReveal).wait();
    } catch {
      blindRevealed = false; // after the fix: refused (and the blind checker is a punishable non-revealer)
    }
    await toRevealEnd(w.health, round);
    await (await w.health.finalize(round)).wait();
    const honestPay = await w.health.claimable(round, honestA.staker.address);
    const blindPay = await w.health.claimable(round, blind.staker.address);
    expect(honestPay).to.be.greaterThan(0n);
    expect(blindPay, `blind voter revealed: ${blindRevealed}`).to.equal(0n);
    expect(blindRevealed).to.equal(false);
  });

  it("rejects a missing, short, replayed (other round, checker, target, chain, contract), foreign-key or high-S proof", async () => {
    const w = await loadFixture(world6);
    const { round, targets } = await openNextRound(w.health);
    const [a, b] = checkersOf(w, targets);
    const v: Vote = { node: a, verdicts: 0b110n, salt: randomSalt() }; // target 0 healthy
    await commitVote(w, round, v);
    await toReveal(w.health, round);
    const id = await chainId();
    const target = nodeByStaker(w, targets[0]);
    const sign = (sk: Uint8Array, ...o: [bigint, string, bigint, string, string]) => signContact(sk, ...o);
    const reveal = (contacts: string) => w.health.connect(a.operator).reveal(round, v.verdicts, v.salt, contacts);
    await expect(reveal("0x")).to.be.revertedWithCustomError(w.health, "ContactsLength").withArgs(65, 0);
    const good = sign(target.stampSecretKey, id, w.healthAddress, round, a.staker.address, targets[0]);
    await expect(reveal(good + "00")).to.be.revertedWithCustomError(w.health, "ContactsLength").withArgs(65, 66);
    const bad = [
      sign(target.stampSecretKey, id, w.healthAddress, round - 1n, a.staker.address, targets[0]), // other round
      sign(target.stampSecretKey, id, w.healthAddress, round, b.staker.address, targets[0]), // other checker
      sign(target.stampSecretKey, id, w.healthAddress, round, a.staker.address, targets[1]), // other target
      sign(target.stampSecretKey, id + 1n, w.healthAddress, round, a.staker.address, targets[0]), // other chain
      sign(target.stampSecretKey, id, w.outsider.address, round, a.staker.address, targets[0]), // other contract
      sign(b.stampSecretKey, id, w.healthAddress, round, a.staker.address, targets[0]), // another node's stamp key
      sign(secp256k1.utils.randomSecretKey(), id, w.healthAddress, round, a.staker.address, targets[0]), // no stamp key
    ];
    // The same signature with s' = n - s and the other parity recovers the same key: high-S is refused.
    const sig = ethers.Signature.from(good);
    const highS = ethers.concat([sig.r, ethers.toBeHex(SECP_N - BigInt(sig.s), 32), sig.v === 27 ? "0x1c" : "0x1b"]);
    bad.push(highS);
    for (const proof of bad) {
      expect(await w.health.isContactValid(round, a.staker.address, targets[0], proof)).to.equal(false);
      await expect(reveal(proof)).to.be.revertedWithCustomError(w.health, "InvalidContact").withArgs(0, targets[0]);
    }
    expect(await w.health.contactDigest(round, a.staker.address, targets[0])).to.equal(
      contactDigest(id, w.healthAddress, round, a.staker.address, targets[0]),
    );
    expect(await w.health.isContactValid(round, a.staker.address, targets[0], good)).to.equal(true);
    await expect(reveal(good)).to.emit(w.health, "Revealed");
  });

  it("a target cannot void a proof it handed out: rotating its stamp key before the reveal changes nothing", async () => {
    const w = await loadFixture(world6);
    const { round, targets } = await openNextRound(w.health);
    const [a, b] = checkersOf(w, targets);
    const votes: Vote[] = [a, b].map((node) => ({ node, verdicts: 0n, salt: randomSalt() }));
    for (const v of votes) await commitVote(w, round, v);
    const proofs = await Promise.all(votes.map((v) => contactsFor(w, round, v.node.staker.address, 0n)));
    // The target retires the key that signed (rotation to a fresh one) after handing out proofs.
    await rotateStampKey(w, nodeByStaker(w, targets[0]));
    await toReveal(w.health, round);
    for (const [i, v] of votes.entries()) {
      await expect(w.health.connect(v.node.operator).reveal(round, 0n, v.salt, proofs[i])).to.emit(w.health, "Revealed");
    }
  });

  it("a target that refuses the proof gets an 'unhealthy' vote, which counts and pays; the blind voter is punishable", async () => {
    const w = await loadFixture(world6);
    const { round, targets } = await openNextRound(w.health);
    const [a, b, blind] = checkersOf(w, targets);
    // Target 1 refuses to sign (it did not serve): honest probers vote it unhealthy.
    const votes: Vote[] = [a, b].map((node) => ({ node, verdicts: 0b010n, salt: randomSalt() }));
    const blindVote: Vote = { node: blind, verdicts: 0n, salt: randomSalt() };
    for (const v of [...votes, blindVote]) await commitVote(w, round, v);
    await toReveal(w.health, round);
    for (const v of votes) {
      await w.health.connect(v.node.operator).reveal(round, v.verdicts, v.salt, await contactsFor(w, round, v.node.staker.address, v.verdicts));
    }
    await expect(w.health.connect(blind.operator).reveal(round, 0n, blindVote.salt, "0x")).to.be.revertedWithCustomError(
      w.health,
      "ContactsLength",
    );
    await toRevealEnd(w.health, round);
    await w.health.finalize(round);
    expect((await w.health.roundInfo(round)).unhealthyMask).to.equal(0b010n);
    const pay = await w.health.claimable(round, a.staker.address);
    expect(pay).to.be.greaterThan(0n);
    await expect(w.health.punishNonRevealer(round, blind.staker.address)).to.emit(w.health, "NonRevealerPunished");
    await toClaimEnd(w.health, round);
  });

  it("over 12 rounds of a simulated network with failing nodes, a blind always-healthy voter earns strictly less than every honest prober", async () => {
    // Real contracts; the network is simulated: each round some targets are down (seeded), an
    // honest prober votes them unhealthy and gets a proof of contact from every target that is up
    // (its agent signs with a served re-encryption, src/node/service.ts); the blind voter commits
    // "all healthy" every round it is drawn and has no proof to reveal with.
    const w = await buildWorld({ nodes: 8, config: { sampleSize: 3 } });
    const blind = w.nodes[7];
    let seed = 0x2545f491;
    const rand = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const earned = new Map<string, bigint>(w.nodes.map((n) => [n.staker.address, 0n]));
    const forfeitedByBlind: bigint[] = [];
    let blindRounds = 0;
    let downJudged = 0;
    for (let r = 0; r < 12; r++) {
      const { round, targets } = await openNextRound(w.health);
      const down = targets.map(() => rand() < 0.3);
      const verdicts = down.reduce((m, d, i) => (d ? m | (1n << BigInt(i)) : m), 0n);
      const checkers = checkersOf(w, targets);
      const votes: Vote[] = checkers.map((node) => ({ node, verdicts: node === blind ? 0n : verdicts, salt: randomSalt() }));
      for (const v of votes) await commitVote(w, round, v);
      await toReveal(w.health, round);
      for (const v of votes) {
        if (v.node === blind) {
          blindRounds++;
          await expect(sendReveal(w, blind, round, 0n, v.salt, "0x")).to.be.reverted;
        } else {
          // Proofs only from targets that are up (the honest vote is healthy exactly there).
          await (await sendReveal(w, v.node, round, v.verdicts, v.salt, await contactsFor(w, round, v.node.staker.address, v.verdicts))).wait();
        }
      }
      await toRevealEnd(w.health, round);
      await (await w.health.finalize(round)).wait();
      const info = await w.health.roundInfo(round);
      expect(info.unhealthyMask).to.equal(verdicts); // the honest majority decides
      downJudged += down.filter(Boolean).length;
      for (const v of votes) {
        const amount = await w.health.claimable(round, v.node.staker.address);
        if (amount > 0n) await (await w.health.claimReward(round, v.node.staker.address)).wait();
        earned.set(v.node.staker.address, earned.get(v.node.staker.address)! + amount);
      }
      if (votes.some((v) => v.node === blind)) {
        const tx = await w.health.punishNonRevealer(round, blind.staker.address);
        const receipt = await tx.wait();
        const ev = receipt!.logs.map((l) => w.health.interface.parseLog(l)).find((e) => e?.name === "NonRevealerPunished");
        forfeitedByBlind.push(ev!.args.forfeited as bigint);
      }
    }
    expect(blindRounds, "the blind voter was drawn").to.be.at.least(6);
    expect(downJudged, "some targets were down").to.be.greaterThan(0);
    const blindEarned = earned.get(blind.staker.address)!;
    expect(blindEarned).to.equal(0n);
    for (const node of w.nodes.slice(0, 7)) expect(earned.get(node.staker.address)!).to.be.greaterThan(blindEarned);
    // And it paid for it: its accrued staking rewards were forfeited as a non-revealer.
    expect(forfeitedByBlind.reduce((a, b) => a + b, 0n)).to.be.greaterThan(0n);
  });
});
