/**
 * Where the contracts are: an Ignition deployment's deployed_addresses.json
 * (`ignition/deployments/chain-<id>/deployed_addresses.json`) or explicit addresses.
 */
import fs from "node:fs";
import path from "node:path";
import { ClientError } from "./errors";

export interface NetworkAddresses {
  token: string;
  stakingEscrow: string;
  policyManager: string;
  /** DirectoryCheckpoint, when the key directory is deployed. */
  directoryCheckpoint?: string;
  adjudicator?: string;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** Ignition future ids → our names; the contract name after `#` is what matters. */
const CONTRACT_NAMES: Record<keyof NetworkAddresses, string> = {
  token: "NKMSToken",
  stakingEscrow: "StakingEscrow",
  policyManager: "PolicyManager",
  directoryCheckpoint: "DirectoryCheckpoint",
  adjudicator: "Adjudicator",
};

export function deploymentFile(root: string, chainId: bigint | number): string {
  return path.join(root, "ignition", "deployments", `chain-${chainId}`, "deployed_addresses.json");
}

/** Reads the addresses from a deployed_addresses.json; throws NOT_FOUND / BAD_INPUT. */
export function loadDeployment(file: string): Partial<NetworkAddresses> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code === "ENOENT" ? "NOT_FOUND" : "BAD_INPUT";
    throw new ClientError(code, `cannot read deployment ${file}: ${(e as Error).message}`);
  }
  const out: Partial<NetworkAddresses> = {};
  for (const [name, contract] of Object.entries(CONTRACT_NAMES) as [keyof NetworkAddresses, string][]) {
    const hit = Object.entries(json).find(([k]) => k.endsWith(`#${contract}`));
    if (hit && typeof hit[1] === "string" && ADDRESS.test(hit[1])) out[name] = hit[1];
  }
  return out;
}

/** Checks that the required addresses are present and well-formed. */
export function requireAddresses(partial: Partial<NetworkAddresses>): NetworkAddresses {
  for (const key of ["token", "stakingEscrow", "policyManager"] as const) {
    const v = partial[key];
    if (typeof v !== "string" || !ADDRESS.test(v)) {
      throw new ClientError("BAD_INPUT", `${CONTRACT_NAMES[key]} address is missing (give a deployment file or --${key})`);
    }
  }
  for (const key of ["directoryCheckpoint", "adjudicator"] as const) {
    const v = partial[key];
    if (v !== undefined && !ADDRESS.test(v)) throw new ClientError("BAD_INPUT", `${CONTRACT_NAMES[key]} address is malformed`);
  }
  return partial as NetworkAddresses;
}
