// The agent's side of registration: the key proof it signs (accepted by the real escrow) and how
// a not-yet-bonded operator finds the staker whose proposal it accepts.
import { expect } from "chai";
import { ethers } from "hardhat";
import { Wallet } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { EthersNodeChain } from "../../src/node/chain";
import { StartupError, pendingStaker } from "../../src/node/node";
import { deriveNodeKeys } from "../../src/node/keys";
import { KEY_PROOF_MESSAGE_LENGTH, keyProofMessage, signKeyProof } from "../../src/node/registration";
import { Signature } from "../../src/umbral";
import { deployCoreFixture } from "../shared/core-fixture";
import { openStake } from "../staking/helpers";

const MIN = 15_000n * 10n ** 18n;

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).to.be.instanceOf(StartupError);
  expect((err as StartupError).code).to.equal(code);
}

describe("node agent: registration", () => {
  it("lays out the 108-byte key-proof message and signs it with the stamp key", () => {
    const ctx = { chainId: 31337n, escrow: "0x" + "11".repeat(20), staker: "0x" + "22".repeat(20), operator: "0x" + "33".repeat(20) };
    const m = keyProofMessage(ctx);
    expect(m.length).to.equal(KEY_PROOF_MESSAGE_LENGTH);
    expect(new TextDecoder().decode(m.slice(0, 16))).to.equal("NKMS-NODE-KEY-V1");
    expect(ethers.hexlify(m.slice(16, 48))).to.equal(ethers.toBeHex(31337n, 32));
    expect(ethers.hexlify(m.slice(48, 68))).to.equal(ctx.escrow);
    expect(ethers.hexlify(m.slice(68, 88))).to.equal(ctx.staker);
    expect(ethers.hexlify(m.slice(88))).to.equal(ctx.operator);
    const keys = deriveNodeKeys(new Wallet(ethers.Wallet.createRandom().privateKey));
    const proof = signKeyProof(keys.stampSecret, ctx);
    expect(Signature.fromBEBytes(proof).verify(keys.stampKey, m)).to.equal(true);
    expect(() => keyProofMessage({ ...ctx, chainId: -1n })).to.throw(RangeError);
  });

  it("finds the one staker that proposed the operator, or asks which when several did", async () => {
    const core = await loadFixture(deployCoreFixture);
    const [a, b, op, other] = core.accounts;
    const chain = new EthersNodeChain(ethers.provider, { stakingEscrow: core.escrowAddress, policyManager: core.escrowAddress });
    await rejectsWith(pendingStaker(chain, op.address, {}), "NOT_BONDED");
    await openStake(core, a, MIN, 4);
    await openStake(core, b, MIN, 4);
    await core.escrow.connect(a).bondOperator(op.address);
    expect(await pendingStaker(chain, op.address, {})).to.equal(a.address);
    await core.escrow.connect(b).bondOperator(op.address);
    await rejectsWith(pendingStaker(chain, op.address, {}), "AMBIGUOUS_BOND");
    expect(await pendingStaker(chain, op.address, { staker: b.address.toLowerCase() })).to.equal(b.address);
    await rejectsWith(pendingStaker(chain, op.address, { staker: other.address }), "NOT_BONDED");
    // A withdrawn proposal no longer counts.
    await core.escrow.connect(b).bondOperator(other.address);
    expect(await pendingStaker(chain, op.address, {})).to.equal(a.address);
  });
});
