/**
 * The user's local record of policies they own and grants they received: one JSON file
 * (`<home>/policies.json`), rewritten atomically (temp file + rename) on every change.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { ClientError } from "./errors";
import type { Grant } from "./grant";
import type { ReaderKeys } from "./identity";
import type { Condition } from "../node/conditions";
import type { KfragReceipt } from "../protocol/kfrag-receipt-verify";

export type PolicyStatus = "active" | "revoked";

export interface PolicyRecord {
  policyId: string;
  label: string;
  owner: string;
  reader: ReaderKeys & { name?: string; directoryActor?: string };
  threshold: number;
  shares: number;
  nodes: string[];
  delegatingKey: string;
  publisherVerifyingKey: string;
  endPeriod: number;
  /** Token units per node per period (decimal string). */
  feeRate: string;
  /** Tokens paid so far (decimal string). */
  paid: string;
  createdAt: number;
  status: PolicyStatus;
  /** Nodes that have not acknowledged their kfrag with a valid receipt (at share time, or since). */
  undelivered: string[];
  /** Each node's receipt for its kfrag, by staker address (lowercase): what a leak challenge needs. */
  receipts?: Record<string, KfragReceipt>;
  /** Each node's commitment proof, by staker (lowercase): public, kept beside its receipt so a leak
   * challenge (the owner's, or a third party's given `challengeKit`) can prove the leaf. */
  proofs?: Record<string, string[]>;
  /**
   * The kfrags still to deliver, by staker (lowercase), each sealed to the owner's own encrypting
   * key (like every other secret here, only the keystore opens it); removed once delivered.
   */
  pending?: Record<string, PendingKFrag>;
  /** The access conditions handed to the nodes (redelivery sends the same package). */
  conditions?: Condition | null;
  note?: string;
}

/** An undelivered kfrag, kept for `redeliver`: sealed to the owner (src/protocol/kfrag-transport.ts), with its commitment proof. */
export interface PendingKFrag {
  sealed: { capsule: string; ciphertext: string };
  proof: string[];
}

interface StoreFile {
  version: 1;
  policies: Record<string, PolicyRecord>;
  grants: Record<string, Grant>;
}

/** The fields a user may change on a record (everything else mirrors the chain). */
export type PolicyUpdate = Partial<Pick<PolicyRecord, "note" | "label">> & { readerName?: string };

export class PolicyStore {
  readonly file: string;

  constructor(home: string) {
    fs.mkdirSync(home, { recursive: true });
    this.file = path.join(home, "policies.json");
  }

  private load(): StoreFile {
    if (!fs.existsSync(this.file)) return { version: 1, policies: {}, grants: {} };
    try {
      const data = JSON.parse(fs.readFileSync(this.file, "utf8")) as StoreFile;
      return { version: 1, policies: data.policies ?? {}, grants: data.grants ?? {} };
    } catch (e) {
      throw new ClientError("INTEGRITY", `policy store ${this.file} is corrupt: ${(e as Error).message}`);
    }
  }

  private save(data: StoreFile): void {
    const tmp = `${this.file}.${randomBytes(6).toString("hex")}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(data, null, 2) + "\n", { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  list(filter: { owner?: string; status?: PolicyStatus; label?: string } = {}): PolicyRecord[] {
    return Object.values(this.load().policies)
      .filter((p) => !filter.owner || p.owner.toLowerCase() === filter.owner.toLowerCase())
      .filter((p) => !filter.status || p.status === filter.status)
      .filter((p) => filter.label === undefined || p.label === filter.label)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  get(policyId: string): PolicyRecord {
    const record = this.load().policies[policyId.toLowerCase()];
    if (!record) throw new ClientError("NOT_FOUND", `no local record of policy ${policyId}`);
    return record;
  }

  put(record: PolicyRecord): void {
    const data = this.load();
    data.policies[record.policyId.toLowerCase()] = record;
    this.save(data);
  }

  update(policyId: string, change: PolicyUpdate | ((r: PolicyRecord) => void)): PolicyRecord {
    const data = this.load();
    const record = data.policies[policyId.toLowerCase()];
    if (!record) throw new ClientError("NOT_FOUND", `no local record of policy ${policyId}`);
    if (typeof change === "function") change(record);
    else {
      if (change.note !== undefined) record.note = change.note;
      if (change.label !== undefined) record.label = change.label;
      if (change.readerName !== undefined) record.reader.name = change.readerName;
    }
    this.save(data);
    return record;
  }

  /** Forgets a record; returns false when there was none. */
  remove(policyId: string): boolean {
    const data = this.load();
    const key = policyId.toLowerCase();
    if (!data.policies[key]) return false;
    delete data.policies[key];
    this.save(data);
    return true;
  }

  /**
   * The receipt `staker` signed for its kfrag of policy (`policyCreator`, `policyId`), as a leak
   * challenge needs it. Throws NOT_FOUND when there is no record of that policy by that creator or
   * the node never acknowledged its kfrag.
   */
  receiptFor(policyCreator: string, policyId: string, staker: string): KfragReceipt {
    const record = this.get(policyId);
    if (record.owner.toLowerCase() !== policyCreator.toLowerCase()) {
      throw new ClientError("NOT_FOUND", `no local record of policy ${policyId} created by ${policyCreator}`);
    }
    const receipt = record.receipts?.[staker.toLowerCase()];
    if (!receipt) throw new ClientError("NOT_FOUND", `no receipt from ${staker} for policy ${policyId}`);
    return { period: receipt.period, signature: receipt.signature };
  }

  /**
   * Everything a leak challenge against `staker` needs besides the leaked kfrag itself: the
   * policy's name, the node's commitment proof and its receipt (src/client/leak-evidence.ts). None
   * of it is secret, so an owner can hand it to whoever finds a leaked kfrag.
   */
  challengeKit(policyCreator: string, policyId: string, staker: string): { policyCreator: string; policyId: string; staker: string; proof: string[]; receipt: KfragReceipt } {
    const receipt = this.receiptFor(policyCreator, policyId, staker);
    const record = this.get(policyId);
    const proof = record.proofs?.[staker.toLowerCase()];
    if (!proof) throw new ClientError("NOT_FOUND", `no commitment proof kept for ${staker} in policy ${policyId} (record from an older client)`);
    const node = record.nodes.find((n) => n.toLowerCase() === staker.toLowerCase())!;
    return { policyCreator: record.owner, policyId: record.policyId, staker: node, proof: [...proof], receipt };
  }

  putGrant(grant: Grant): void {
    const data = this.load();
    data.grants[grant.policyId.toLowerCase()] = grant;
    this.save(data);
  }

  grants(): Grant[] {
    return Object.values(this.load().grants);
  }

  getGrant(policyId: string): Grant {
    const grant = this.load().grants[policyId.toLowerCase()];
    if (!grant) throw new ClientError("NOT_FOUND", `no grant for policy ${policyId}`);
    return grant;
  }
}
