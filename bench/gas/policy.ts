// Gas of the PolicyManager's operations on the embedded Hardhat network (cancun), gas used per
// transaction including the 21k base, in the steady state: the manager already holds fees, every
// node already holds an arrangement and some tokens, the payer approved the manager once (max).
// The escrow calls per node (isRegistered, lockedThrough) are the real StakingEscrow's.
// bench/gas/floor.ts measures the irreducible part of the same operations in the same state.
import { ethers } from "hardhat";
import { advancePeriods } from "../../test/shared/core-fixture";
import { TOKEN, createPolicy, deployPolicyWorld, newPolicyId, policyKey, rootFor } from "../../test/policy/fixture";
import { orderForPolicy } from "../../src/client/node-selection";
import type { GasMeasurements, GasScenario } from "./types";
import { gasOf } from "./gas-of";

async function measure(): Promise<GasMeasurements> {
  const w = await deployPolicyWorld(5);
  const { pm } = w;
  const stakers = orderForPolicy(w.nodes.map((n) => n.staker.address));
  for (const s of stakers) await (await w.core.token.connect(w.core.deployer).transfer(s, TOKEN)).wait();
  await advancePeriods(w.core, 1);
  // Background: every node holds arrangements ending in the periods the measured policies end in
  // (current + 9, and + 13 after the extension), as a busy node does: each node's expiry-count word
  // for those periods exists. `policy.create.1node.newExpiryWindow` measures a policy ending in a
  // 16-period window where the node has no arrangement yet (one fresh slot per node, +17k each).
  await createPolicy(w, stakers, { periods: 10 });
  await createPolicy(w, stakers, { periods: 14 });

  const out: GasMeasurements = {};
  const create = async (nodes: string[], periods = 10n): Promise<{ id: string; gas: bigint }> => {
    const salt = newPolicyId();
    const id = policyKey(w.alice.address, salt);
    const end = (await pm.currentPeriod()) + periods - 1n;
    const gas = await gasOf(
      pm.connect(w.alice).createPolicy(salt, w.alice.address, end, (await pm.nodeFees(nodes[0])).minFeeRate, nodes, rootFor(id, nodes)),
    );
    return { id, gas };
  };
  const one = await create(stakers.slice(0, 1));
  const three = await create(stakers.slice(0, 3));
  const five = await create(stakers.slice(0, 5));
  out["policy.create.1node"] = one.gas;
  out["policy.create.3nodes"] = three.gas;
  out["policy.create.5nodes"] = five.gas;
  out["policy.create.perExtraNode"] = (five.gas - one.gas) / 4n;
  out["policy.create.1node.newExpiryWindow"] = (await create(stakers.slice(0, 1), 42n)).gas;

  await advancePeriods(w.core, 1);
  out["policy.settle.3nodes"] = await gasOf(pm.settle(three.id));
  out["policy.extend.3nodes"] = await gasOf(pm.connect(w.alice).extendPolicy(three.id, (await pm.getPolicy(three.id)).endPeriod + 4n));
  out["policy.revoke"] = await gasOf(pm.connect(w.alice).revokePolicy(one.id));
  out["policy.revokeArrangement"] = await gasOf(pm.connect(w.alice).revokeArrangement(three.id, stakers[1]));
  out["policy.revoke.5nodes"] = await gasOf(pm.connect(w.alice).revokePolicy(five.id));

  const signed = await create(stakers.slice(0, 1));
  const deadline = 2n ** 40n;
  const { chainId } = await ethers.provider.getNetwork();
  const signature = await w.alice.signTypedData(
    { name: "NKMS PolicyManager", version: "1", chainId, verifyingContract: w.pmAddress },
    {
      Revocation: [
        { name: "policyId", type: "bytes16" },
        { name: "node", type: "address" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    { policyId: signed.id, node: ethers.ZeroAddress, nonce: 0n, deadline },
  );
  out["policy.revokeWithSignature"] = await gasOf(
    pm.connect(w.stranger).revokeWithSignature(signed.id, ethers.ZeroAddress, 0n, deadline, signature),
  );

  out["fees.withdraw"] = await gasOf(pm.connect(w.nodes[0].staker).withdrawFees(stakers[0]));
  return out;
}

export const scenario: GasScenario = {
  name: "policy",
  anchors: {
    "policy.create.1node": { anchor: 161_000, goal: 80_500 },
    "policy.create.3nodes": { anchor: 283_000, goal: 141_500 },
    "policy.create.perExtraNode": { anchor: 61_000, goal: 25_000 },
    "policy.revoke": { anchor: 112_000, goal: 56_000 },
    "policy.revokeArrangement": { anchor: 124_000, goal: 62_000 },
    "fees.withdraw": { anchor: 41_000, goal: 41_000 },
  },
  measure,
};
