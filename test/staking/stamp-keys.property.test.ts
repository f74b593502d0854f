// Property: over random sequences of stamp key rotations, cold-key cut-offs (unbond, which retires
// the key), re-bonds of fresh operators, attempts to re-register retired keys and period
// advances, the escrow's `isStampKey` agrees for every key and every nearby period with the model:
// a key counts for a stamp dated p iff p lies in its window [registered, retired + 1) and in
// currentPeriod − G .. currentPeriod; a retired key never comes back; unbonding is always allowed.
import { expect } from "chai";
import fc from "fast-check";
import { ethers } from "hardhat";
import { loadFixture, setBalance, time } from "@nomicfoundation/hardhat-network-helpers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import type { BaseWallet } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { advancePeriods, deployCore, registerNode, stakeNode, type Core, type StakedNode } from "../shared/core-fixture";

type Action = { kind: "rotate" } | { kind: "unbond" } | { kind: "rebond" } | { kind: "revive"; pick: number } | { kind: "advance"; periods: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.constant({ kind: "rotate" as const }),
  fc.constant({ kind: "unbond" as const }),
  fc.constant({ kind: "rebond" as const }),
  fc.record({ kind: fc.constant("revive" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("advance" as const), periods: fc.integer({ min: 1, max: 3 }) }),
);

interface KeyModel {
  secret: Uint8Array;
  signer: string;
  from: number;
  /** Exclusive end; Infinity while current. */
  until: number;
}

describe("staking: stamp key windows (property)", function () {
  async function world(): Promise<{ core: Core; node: StakedNode }> {
    const core = await deployCore({ minBondSeconds: 60 });
    const node = await stakeNode(core, core.accounts[0], core.accounts[1]);
    return { core, node };
  }

  it("isStampKey follows the windows model through rotations, cut-offs, re-bonds and time", async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 8 }), async (actions) => {
        const { core, node } = await loadFixture(world);
        const { escrow } = core;
        const G = core.params.slashingGracePeriods;
        const staker = node.staker;
        const now = async () => Number(await escrow.currentPeriod());
        const signerOf = (secret: Uint8Array) => ethers.computeAddress(ethers.hexlify(secp256k1.getPublicKey(secret, true)));
        const keys: KeyModel[] = [{ secret: node.stampSecretKey, signer: signerOf(node.stampSecretKey), from: await now(), until: Infinity }];
        let operator: HardhatEthersSigner | BaseWallet | null = node.operator;

        const register = async (secret: Uint8Array) => {
          // A fresh operator is a funded random wallet: registerNode only needs its address and to sign.
          await registerNode(core, staker.address, operator as HardhatEthersSigner, { stampSecretKey: secret });
        };
        for (const a of actions) {
          const current = keys.find((k) => k.until === Infinity);
          if (a.kind === "rotate" && operator && current) {
            const secret = secp256k1.utils.randomSecretKey();
            await register(secret);
            current.until = (await now()) + 1;
            keys.push({ secret, signer: signerOf(secret), from: await now(), until: Infinity });
          } else if (a.kind === "unbond" && operator) {
            await escrow.connect(staker).bondOperator(ethers.ZeroAddress); // never refused
            if (current) current.until = (await now()) + 1;
            operator = null;
          } else if (a.kind === "rebond" && !operator) {
            await time.increase(core.params.minBondSeconds);
            const fresh = ethers.Wallet.createRandom().connect(ethers.provider);
            await setBalance(fresh.address, 10n ** 18n);
            await escrow.connect(staker).bondOperator(fresh.address);
            operator = fresh;
            const secret = secp256k1.utils.randomSecretKey();
            await register(secret);
            keys.push({ secret, signer: signerOf(secret), from: await now(), until: Infinity });
          } else if (a.kind === "revive" && operator) {
            const retired = keys.filter((k) => k.until !== Infinity);
            if (retired.length === 0) continue;
            const k = retired[a.pick % retired.length];
            await expect(register(k.secret)).to.be.revertedWithCustomError(escrow, "StampKeyWasRetired").withArgs(k.signer);
          } else if (a.kind === "advance") {
            await advancePeriods(core, a.periods);
          }
          const p0 = await now();
          for (const k of keys) {
            for (let p = p0 - G - 2; p <= p0 + 1; p++) {
              const expected = p <= p0 && p + G >= p0 && k.from <= p && p < k.until;
              expect(await escrow.isStampKey(staker.address, k.signer, p), `${a.kind}: key from ${k.from} until ${k.until}, period ${p}, now ${p0}`).to.equal(expected);
            }
          }
        }
      }),
      { numRuns: 30 },
    );
  });
});
