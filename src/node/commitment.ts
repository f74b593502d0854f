import { concat, getBytes, keccak256, solidityPacked } from "ethers";

// PLACEHOLDER until the policy branch's src/client/kfrag-commitment.ts lands: leaf =
// keccak256(node ‖ keccak256(kfrag)), sorted-pair keccak Merkle tree (OpenZeppelin MerkleProof).
export function verifyKFragAgainstRoot(
  root: Uint8Array,
  node: string,
  kfrag: Uint8Array,
  proof: Uint8Array[],
  _index: number,
): boolean {
  let h = getBytes(keccak256(solidityPacked(["address", "bytes32"], [node, keccak256(kfrag)])));
  for (const sibling of proof) {
    h = Buffer.compare(h, sibling) <= 0 ? getBytes(keccak256(concat([h, sibling]))) : getBytes(keccak256(concat([sibling, h])));
  }
  return Buffer.compare(h, root) === 0;
}
