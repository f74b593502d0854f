// The measured gas floor of an ERC-20-paid policy manager (contracts/bench/PolicyGasFloor.sol):
// the irreducible work of creating a policy and withdrawing fees on the real NKMSToken and
// StakingEscrow, to set beside PolicyManager's figures (bench/gas/policy.ts).
//
// Conditions mirror bench/gas/policy.ts exactly, so the keys compare one to one:
// - the same world (deployPolicyWorld(5): the same staked, bonded, registered nodes; Alice funded
//   and her allowance to the measured contract set once to the maximum, so transferFrom never
//   writes it);
// - every staker holds some tokens (its balance goes nonzero → nonzero on withdrawal);
// - one period advanced, then a background policy over all five nodes: every node's word holds
//   an arrangement (counter +1 is nonzero → nonzero, cold) and the contract already holds fees
//   (its token balance goes nonzero → nonzero);
// - each measured creation is a fresh policy id (its slot goes zero → nonzero), nine periods
//   after the current one, at the node's minimum rate, paid by Alice for herself (no sponsor);
// - the withdrawn node's word keeps its other fields, like PolicyManager's node slot.
//
// Reading the numbers against policy.ts: policy.create.* − floor.policy.create.* is PolicyManager's
// two further fresh slots (2 × 22,100: its views need owner 160 + kfragRoot 256 + feeRate 96 bits
// before any period, mask or id, so no 2-slot layout exists), its governable parameters (one cold
// slot, 2,100) and its reentrancy guard (~490). The variants price the alternatives: .lockedOnly
// (+2,100 per node for the slot only isRegistered reads) is one combined escrow view; .unpaid is
// the ERC-20 fee's share; .fromDeposit is a prepaid deposit debited instead of a transferFrom.
// recredit.* is the crediting side of each withdrawal layout (ownSlot trades the EIP-3529 refund
// on withdrawal for a zero → nonzero write on the next credit).
import { ethers } from "hardhat";
import { advancePeriods } from "../../test/shared/core-fixture";
import { NODE_RATE, TOKEN, deployFloor, deployPolicyWorld, newPolicyId, rootFor } from "../../test/policy/fixture";
import { orderForPolicy } from "../../src/client/node-selection";
import type { GasAnchor, GasMeasurements, GasScenario } from "./types";
import { gasOf } from "./gas-of";
import { scenario as policyScenario } from "./policy";

async function measure(): Promise<GasMeasurements> {
  const w = await deployPolicyWorld(5);
  const floor = await deployFloor(w);
  for (const n of w.nodes) await (await floor.connect(n.staker).enroll(NODE_RATE)).wait();
  const stakers = orderForPolicy(w.nodes.map((n) => n.staker.address));
  for (const s of stakers) await (await w.core.token.connect(w.core.deployer).transfer(s, TOKEN)).wait();
  await advancePeriods(w.core, 1);

  type CreateFn = "createFloor" | "createFloorLockedOnly" | "createFloorUnpaid" | "createFloorFromDeposit";
  const create = async (nodes: string[], fn: CreateFn = "createFloor", periods = 9n): Promise<bigint> => {
    const id = newPolicyId();
    const end = BigInt(await w.core.escrow.currentPeriod()) + periods;
    return gasOf(floor.connect(w.alice)[fn](id, w.alice.address, end, NODE_RATE, nodes, rootFor(id, nodes)));
  };
  await create(stakers, "createFloor", 19n); // background: every node holds an arrangement

  const out: GasMeasurements = {};
  const one = await create(stakers.slice(0, 1));
  const three = await create(stakers.slice(0, 3));
  const five = await create(stakers.slice(0, 5));
  out["floor.policy.create.1node"] = one;
  out["floor.policy.create.3nodes"] = three;
  out["floor.policy.create.5nodes"] = five;
  out["floor.policy.create.perExtraNode"] = (five - one) / 4n;
  // What one combined escrow view (registered + locked through) would cost instead of two
  // calls: these skip isRegistered, so add back the one cold slot only it reads (2,100 per node).
  out["floor.policy.create.1node.lockedOnly"] = await create(stakers.slice(0, 1), "createFloorLockedOnly");
  out["floor.policy.create.3nodes.lockedOnly"] = await create(stakers.slice(0, 3), "createFloorLockedOnly");
  // The fee's transferFrom alone (cold token, allowance read, two balances, Transfer event) is
  // 1node − 1node.unpaid: what an ERC-20 fee costs over NuCypher's msg.value.
  out["floor.policy.create.1node.unpaid"] = await create(stakers.slice(0, 1), "createFloorUnpaid");
  // Paid from a deposit prepaid once (its slot stays nonzero): one slot debited per policy.
  await (await floor.connect(w.alice).deposit(1000n * TOKEN)).wait();
  out["floor.policy.create.1node.fromDeposit"] = await create(stakers.slice(0, 1), "createFloorFromDeposit");
  out["floor.policy.create.3nodes.fromDeposit"] = await create(stakers.slice(0, 3), "createFloorFromDeposit");

  const node = w.nodes[0].staker;
  const fee = NODE_RATE * 7n;
  await (await floor.connect(w.alice).fund(node.address, fee)).wait();
  out["floor.fees.withdraw"] = await gasOf(floor.connect(node).withdrawFloor(node.address));
  out["floor.fees.recredit.packed"] = await gasOf(floor.connect(w.alice).fund(node.address, fee));
  await (await floor.connect(w.alice).fundOwnSlot(node.address, fee)).wait();
  out["floor.fees.withdraw.ownSlot"] = await gasOf(floor.connect(node).withdrawFloorOwnSlot(node.address));
  out["floor.fees.recredit.ownSlot"] = await gasOf(floor.connect(w.alice).fundOwnSlot(node.address, fee));
  return out;
}

// The floor answers the policy goals, so it is judged against the same anchors.
const policyAnchor = (key: string): GasAnchor => policyScenario.anchors[key];

export const scenario: GasScenario = {
  name: "floor",
  anchors: {
    "floor.policy.create.1node": policyAnchor("policy.create.1node"),
    "floor.policy.create.3nodes": policyAnchor("policy.create.3nodes"),
    "floor.policy.create.perExtraNode": policyAnchor("policy.create.perExtraNode"),
    "floor.fees.withdraw": policyAnchor("fees.withdraw"),
    "floor.fees.withdraw.ownSlot": policyAnchor("fees.withdraw"),
  },
  measure,
};
