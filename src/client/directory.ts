/**
 * Readers' Umbral keys through the key-transparency directory. A reader publishes, under their
 * directory actor, an ML-DSA-44 key (seeded from their wallet, see identity.ts) and an AddAuxData
 * record of type `nkms-umbral-v1` whose data is their ReaderKeys JSON. An owner resolves a
 * reader by actor name and trusts the result only when:
 *   - the directory's tree head is signed by the on-chain directory key and extends the latest
 *     on-chain checkpoint (DirectoryClient.verifiedTreeHead / lookup),
 *   - the AddAuxData record is proven included in that tree and decrypts to this actor and data,
 *   - the record is signed by one of the actor's keys that DirectoryClient.lookup proved.
 * Writes are vouched for by the actor's instance (an RFC 9421 signature with the key its actor
 * document publishes): the directory accepts no actor on a bare claim.
 */
import { DirectoryClient, DirectoryRequestError, DirectoryVerificationError, type InstanceIdentity } from "../directory/client";
import type { CheckpointContract } from "../directory/checkpoint-contract";
import { fromB64url } from "../directory/encoding";
import { bytesEqual } from "../directory/merkle";
import { mlDsaVerify } from "../directory/mldsa";
import { buildAddAuxData, buildRevokeAuxData, auxDataId, publicKeyOf, signaturePayload } from "../directory/protocol";
import { ClientError } from "./errors";
import { parseReaderKeys, type ReaderKeys, type UserKeys } from "./identity";

export const READER_KEYS_AUX_TYPE = "nkms-umbral-v1";

export interface ResolvedReader {
  actor: string;
  keys: ReaderKeys;
  /** Leaf index of the AddAuxData record and the verified tree it is included in. */
  leafIndex: number;
  treeSize: number;
}

function directoryError(e: unknown): ClientError {
  if (e instanceof ClientError) return e;
  if (e instanceof DirectoryVerificationError) {
    if (e.code === "record_shredded") return new ClientError("NOT_FOUND", "the record's attributes were erased");
    return new ClientError("INTEGRITY", `directory verification failed (${e.code}): ${e.message}`);
  }
  if (e instanceof DirectoryRequestError) {
    // invalid_signature is a 400 in the spec's table, but to the user it is a refusal like a 403.
    const denied = e.status === 403 || e.status === 401 || e.code === "invalid_signature";
    const code = e.status === 404 ? "NOT_FOUND" : denied ? "DENIED" : "DIRECTORY";
    return new ClientError(code, `directory: ${e.code}: ${e.message}`);
  }
  const cause = (e as { cause?: { code?: string } }).cause;
  if (cause?.code === "ECONNREFUSED" || (e as Error).message === "fetch failed") return new ClientError("UNREACHABLE", "cannot reach the directory");
  return new ClientError("DIRECTORY", (e as Error).message);
}

export class ReaderDirectory {
  readonly client: DirectoryClient;

  constructor(url: string, contract: CheckpointContract) {
    this.client = new DirectoryClient({ url, contract });
  }

  /** Publishes `keys`' directory key (first key of the actor) and its ReaderKeys record. */
  async publish(actor: string, keys: UserKeys, instance: InstanceIdentity): Promise<{ addedKey: boolean; addedReaderKeys: boolean }> {
    try {
      const myKey = publicKeyOf(keys.directorySecret);
      const existing = await this.client.lookup(actor).catch((e: unknown) => {
        if (e instanceof DirectoryRequestError && e.status === 404) return { keys: [] };
        throw e;
      });
      let addedKey = false;
      // The directory's id of our key, sent as the spec's key-id hint.
      let keyId = existing.keys.find((k) => bytesEqual(k.publicKey, myKey))?.keyId;
      if (keyId === undefined) {
        if (existing.keys.length > 0) throw new ClientError("DENIED", `actor ${actor} already has other keys; this keystore's directory key is not one of them`);
        keyId = (await this.client.publishFirstKey(actor, keys.directorySecret, instance))["key-id"];
        addedKey = true;
      }
      const data = JSON.stringify(keys.readerKeys());
      const tree = await this.client.verifiedTreeHead();
      let addedReaderKeys = true;
      await this.client.submit(await buildAddAuxData(actor, READER_KEYS_AUX_TYPE, data, tree.head.root, keys.directorySecret, keyId), instance).catch((e: unknown) => {
        if (e instanceof DirectoryRequestError && e.code === "duplicate_aux_data") addedReaderKeys = false;
        else throw e;
      });
      return { addedKey, addedReaderKeys };
    } catch (e) {
      throw directoryError(e);
    }
  }

  /** The actor's reader keys, verified as described above (the most recent record wins). */
  async resolve(actor: string): Promise<ResolvedReader> {
    try {
      const lookup = await this.client.lookup(actor);
      const actorKeys = lookup.keys.map((k) => k.publicKey);
      const tree = lookup.treeHead;
      const records = (await this.client.auxiliary(actor)).filter((a) => a["aux-type"] === READER_KEYS_AUX_TYPE).sort((a, b) => b["leaf-index"] - a["leaf-index"]);
      if (records.length === 0) throw new ClientError("NOT_FOUND", `actor ${actor} has published no NKMS reader keys`);
      const record = records[0];
      const { view, attrs } = await this.client.provenRecord(record["merkle-leaf"], tree);
      // The logged envelope's action (the answer's top-level `action` is not covered by the log entry).
      if (view.envelope.action !== "AddAuxData" || attrs.actor !== actor || attrs["aux-type"] !== READER_KEYS_AUX_TYPE || attrs["aux-data"] !== record["aux-data"]) {
        throw new ClientError("INTEGRITY", "the proven record does not publish these reader keys for this actor");
      }
      const { signature, ...unsigned } = view.envelope;
      const sig = fromB64url(signature);
      const payload = signaturePayload(unsigned);
      if (!sig || !actorKeys.some((k) => mlDsaVerify(sig, payload, k))) {
        throw new ClientError("INTEGRITY", "the reader-keys record is not signed by any of the actor's proven keys");
      }
      let keys: ReaderKeys;
      try {
        keys = parseReaderKeys(JSON.parse(attrs["aux-data"]));
      } catch {
        throw new ClientError("INTEGRITY", "the published reader keys are malformed");
      }
      return { actor, keys, leafIndex: view["leaf-index"], treeSize: tree.treeSize };
    } catch (e) {
      throw directoryError(e);
    }
  }

  /** Withdraws the reader-keys record (RevokeAuxData signed with the directory key). */
  async revoke(actor: string, keys: UserKeys, instance: InstanceIdentity): Promise<void> {
    try {
      const tree = await this.client.verifiedTreeHead();
      const id = auxDataId(READER_KEYS_AUX_TYPE, JSON.stringify(keys.readerKeys()));
      await this.client.submit(await buildRevokeAuxData(actor, READER_KEYS_AUX_TYPE, id, tree.head.root, keys.directorySecret), instance);
    } catch (e) {
      throw directoryError(e);
    }
  }

  /** Crypto-shreds the actor's records (their attributes become unreadable; proofs still verify). */
  async erase(actor: string, keys: UserKeys): Promise<number> {
    try {
      return (await this.client.erase(actor, keys.directorySecret))["records-shredded"];
    } catch (e) {
      throw directoryError(e);
    }
  }

}
