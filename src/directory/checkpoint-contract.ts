// The slice of DirectoryCheckpoint.sol the directory and its clients call, with its ABI, so
// runtime code does not depend on generated TypeChain files.
import { Contract, ContractRunner, ContractTransactionResponse } from "ethers";
import { directoryKeyHash } from "./log-entry";

export const DIRECTORY_CHECKPOINT_ABI = [
  "function checkpoint(uint64 treeSize, bytes32 root, bytes32[] proof)",
  "function latest() view returns (uint64 treeSize, bytes32 root, uint64 timestamp)",
  "function rootAt(uint64 treeSize) view returns (bytes32)",
  "function directoryKey() view returns (bytes32)",
  "function operator() view returns (address)",
  "event Checkpointed(uint256 indexed sequence, uint64 indexed treeSize, bytes32 root, uint64 timestamp)",
] as const;

export interface CheckpointContract {
  checkpoint(treeSize: bigint | number, root: string | Uint8Array, proof: Array<string | Uint8Array>): Promise<ContractTransactionResponse>;
  latest(): Promise<[bigint, string, bigint]>;
  rootAt(treeSize: bigint | number): Promise<string>;
  directoryKey(): Promise<string>;
}

export function connectCheckpointContract(address: string, runner: ContractRunner): CheckpointContract {
  return new Contract(address, DIRECTORY_CHECKPOINT_ABI, runner) as unknown as CheckpointContract;
}

/**
 * The contract's `directoryKey` constructor argument for a directory with this ML-DSA-44 public
 * key: SHA-256 of the key (1312 bytes do not fit a bytes32), as 0x-hex.
 */
export function directoryKeyBytes32(publicKey: Uint8Array): string {
  return "0x" + Buffer.from(directoryKeyHash(publicKey)).toString("hex");
}

export interface OnChainCheckpoint {
  treeSize: number;
  /** RFC 9162 root; the all-zero value stands for "no checkpoint yet". */
  root: Uint8Array;
}

export async function readLatestCheckpoint(contract: CheckpointContract): Promise<OnChainCheckpoint> {
  const [size, root] = await contract.latest();
  return { treeSize: Number(size), root: new Uint8Array(Buffer.from(root.slice(2), "hex")) };
}
