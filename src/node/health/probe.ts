/**
 * The generalized ping: what a checker does to one target, as an ordinary client would.
 *
 *   1. reachability      GET /v1/ping answers 200 within the timeout;
 *   2. old policy        a check policy this checker gave the target in an earlier round still
 *                        re-encrypts correctly (skipped at first contact, when it is created);
 *   3. create            a new policy is paid on-chain and its kfrag accepted by the target;
 *   4. fresh requester   the new policy's reader is a fresh Ethereum address unrelated to the
 *                        checker, and its signed request is served with correct cfrags;
 *   5. revoke            after the owner's signed revocation the target refuses the policy.
 *
 * Every cfrag is checked three ways: its correctness proof (CapsuleFrag.verify), the target's
 * stamp signature against its on-chain verifying key, and decryption of a random plaintext.
 *
 * Check policies are real PolicyManager policies: fresh owner, Alice, Bob and reader keys, one
 * kfrag from generateKFrags, the kfrag commitment root, the target's own minimum fee rate, and
 * the same protocol.ts helpers a client uses. What remains visible to a target: the policy's
 * sponsor is the checker's operator (the payer), and check policies appear while the target is
 * being checked. Hiding those would need a relayer and pre-created policies; not done here.
 */
import { randomBytes } from "node:crypto";
import { Contract, Wallet, computeAddress, ZeroAddress, getBytes, hexlify, type Provider } from "ethers";
import * as umbral from "../../umbral";
import { kfragHash, kfragRoot } from "../../client/kfrag-commitment";
import { bytesEqual, parseHex, toHex } from "../bytes";
import { buildReencryptRequest, sealKFragUpload, signRevocation, verifyCFragStamp, type EthSigning, type ReencryptResponse, type UmbralSigning } from "../protocol";
import type { SettingsStore } from "./ballot";
import { verifyKfragReceipt } from "../../protocol/kfrag-receipt-verify";
import { policyKeyBytes } from "../../protocol/policy-key";
import { CHECK_POLICY_ABI, ERC20_ABI, ESCROW_NODE_ABI } from "./contracts";
import type { TxQueue } from "./tx-queue";

export type CheckName = "reachability" | "old-policy" | "create" | "fresh-requester" | "revoke";

export interface CheckOutcome {
  name: CheckName;
  /** null: not applicable this time (e.g. no old policy yet). */
  ok: boolean | null;
  detail: string;
}

export interface ProbeReport {
  target: string;
  healthy: boolean;
  checks: CheckOutcome[];
}

export interface ProbeDeps {
  provider: Provider;
  /** The checker's operator: pays for check policies and sends the on-chain revocation. */
  payer: Wallet;
  txs: TxQueue;
  policyManager: string;
  stakingEscrow: string;
  settings: SettingsStore;
  timeoutMs: number;
  /** Periods a kept ("old") check policy lives. */
  keeperPeriods?: number;
}

/** A check policy whose secrets the checker keeps (persisted for old policies). */
interface CheckPolicy {
  policyId: string;
  target: string;
  endPeriod: number;
  owner: string; // private key
  alice: string;
  signer: string;
  bob: string;
  reader: string; // Bob's Umbral request-signing key
}

class ProbeFailure extends Error {}

async function http(method: "GET" | "POST", url: string, body: unknown, timeoutMs: number): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? undefined : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON: judged by status */
  }
  return { status: res.status, json };
}

function errorText(e: unknown): string {
  const err = e as { shortMessage?: string; message?: string; name?: string };
  if (err?.name === "TimeoutError") return "timed out";
  return (err?.shortMessage ?? err?.message ?? String(e)).slice(0, 200);
}

export class TargetProber {
  private readonly pm: Contract;
  private readonly escrow: Contract;
  private token?: Contract;
  private chainId?: bigint;

  constructor(private readonly deps: ProbeDeps) {
    this.pm = new Contract(deps.policyManager, CHECK_POLICY_ABI, deps.payer);
    this.escrow = new Contract(deps.stakingEscrow, ESCROW_NODE_ABI, deps.provider);
  }

  async probe(target: string): Promise<ProbeReport> {
    const checks: CheckOutcome[] = [];
    const report = (): ProbeReport => ({ target, healthy: checks.every((c) => c.ok !== false), checks });
    const [endpoint, encryptingKeyHex, verifyingKeyHex] = (await this.escrow.nodeInfo(target)) as [string, string, string];
    if (!endpoint) {
      checks.push({ name: "reachability", ok: false, detail: "no endpoint registered" });
      return report();
    }
    const base = endpoint.replace(/\/+$/, "");
    const stampKey = getBytes(verifyingKeyHex);
    try {
      const ping = await http("GET", `${base}/v1/ping`, undefined, this.deps.timeoutMs);
      if (ping.status !== 200) throw new ProbeFailure(`ping answered ${ping.status}`);
      checks.push({ name: "reachability", ok: true, detail: "ping 200" });
    } catch (e) {
      checks.push({ name: "reachability", ok: false, detail: errorText(e) });
      return report(); // the other checks cannot succeed against a silent node
    }

    const period = Number(await this.pm.currentPeriod());
    const feeRate = await this.feeRateFor(target);
    const keeperKey = `health.keeper.${target.toLowerCase()}`;

    // 2. old policy
    const stored = this.deps.settings.getSetting(keeperKey);
    const keeper = stored ? (JSON.parse(stored) as CheckPolicy) : undefined;
    if (keeper && (await this.pm.isActiveArrangement(keeper.policyId, target))) {
      checks.push(await this.step("old-policy", () => this.reencryptAndVerify(base, keeper, stampKey, null)));
    } else {
      checks.push({ name: "old-policy", ok: null, detail: keeper ? "previous check policy expired; replaced" : "first contact; check policy created for next time" });
      const fresh = await this.createAndUpload(base, target, { encryptingKey: encryptingKeyHex, stampKey }, period + (this.deps.keeperPeriods ?? 4), feeRate, null);
      if (fresh.ok) this.deps.settings.setSetting(keeperKey, JSON.stringify(fresh.policy));
      else if (fresh.refused) checks.push({ name: "create", ok: false, detail: `old-policy upload: ${fresh.detail}` });
    }

    // 3.–5. create, re-encrypt for a fresh unrelated address, revoke
    const freshReader = new Wallet(Wallet.createRandom().privateKey);
    const created = await this.createAndUpload(base, target, { encryptingKey: encryptingKeyHex, stampKey }, period + 1, feeRate, freshReader);
    if (!created.ok) {
      // Refusing a valid, paid kfrag is the node's fault; being unable to pay is ours.
      checks.push({ name: "create", ok: created.refused ? false : null, detail: created.detail });
      return report();
    }
    checks.push({ name: "create", ok: true, detail: `policy ${created.policy.policyId} accepted` });
    checks.push(await this.step("fresh-requester", () => this.reencryptAndVerify(base, created.policy, stampKey, freshReader)));
    checks.push(await this.step("revoke", () => this.revokeAndConfirm(base, created.policy, freshReader)));
    return report();
  }

  private async step(name: CheckName, run: () => Promise<string>): Promise<CheckOutcome> {
    try {
      return { name, ok: true, detail: await run() };
    } catch (e) {
      return { name, ok: false, detail: errorText(e) };
    }
  }

  /** The fee an ordinary client would offer: the target's effective minimum (at least the global one). */
  private async feeRateFor(target: string): Promise<bigint> {
    const [params, fees] = await Promise.all([this.pm.params(), this.pm.nodeFees(target)]);
    const effective = fees[2] as bigint;
    const global = params[0] as bigint;
    return effective > global ? effective : global;
  }

  private async ensureAllowance(amount: bigint): Promise<void> {
    this.token ??= new Contract((await this.pm.token()) as string, ERC20_ABI, this.deps.payer);
    const owner = this.deps.payer.address;
    const current = (await this.token.allowance(owner, this.deps.policyManager)) as bigint;
    if (current >= amount) return;
    // Approve a batch of policies at once, as a wallet would.
    await this.deps.txs.send(() => this.token!.approve(this.deps.policyManager, amount * 32n));
  }

  private async createAndUpload(
    base: string,
    target: string,
    /** The target's registered keys: the kfrag travels sealed to the encrypting key, as a client's
     * would, and the receipt must be the stamp key's. */
    keys: { encryptingKey: string; stampKey: Uint8Array },
    endPeriod: number,
    feeRate: bigint,
    reader: Wallet | null,
  ): Promise<{ ok: true; policy: CheckPolicy } | { ok: false; refused: boolean; detail: string }> {
    const owner = new Wallet(Wallet.createRandom().privateKey);
    const alice = umbral.SecretKey.random();
    const signer = umbral.SecretKey.random();
    const bob = umbral.SecretKey.random();
    const bobReader = umbral.SecretKey.random();
    const [kfrag] = umbral.generateKFrags(alice, bob.publicKey(), new umbral.Signer(signer), 1, 1, true, true);
    // The payer creates it under a random id; it is named policyKey(payer, id) everywhere else.
    const id = new Uint8Array(randomBytes(16));
    const policyIdBytes = policyKeyBytes(this.deps.payer.address, id);
    const policyId = hexlify(policyIdBytes);
    const kfragBytes = kfrag.toBytes();
    const root = kfragRoot(policyIdBytes, [{ node: target, kfragHash: kfragHash(kfragBytes) }]);
    try {
      const cost = (await this.pm.policyCost(1, feeRate, endPeriod)) as bigint;
      await this.ensureAllowance(cost);
      await this.deps.txs.send(() => this.pm.createPolicy(hexlify(id), owner.address, endPeriod, feeRate, [target], toHex(root)));
    } catch (e) {
      return { ok: false, refused: false, detail: `could not pay the check policy: ${errorText(e)}` };
    }
    const policy: CheckPolicy = {
      policyId,
      target,
      endPeriod,
      owner: owner.privateKey,
      alice: toHex(alice.toBEBytes()),
      signer: toHex(signer.toBEBytes()),
      bob: toHex(bob.toBEBytes()),
      reader: toHex(bobReader.toBEBytes()),
    };
    try {
      const upload = await sealKFragUpload(owner, policyIdBytes, target, keys.encryptingKey, {
        kfrag: toHex(kfragBytes),
        publisherVerifyingKey: toHex(signer.publicKey().toCompressedBytes()),
        delegatingKey: toHex(alice.publicKey().toCompressedBytes()),
        receivingKey: toHex(bob.publicKey().toCompressedBytes()),
        proof: [], // a single-node tree: the root is the leaf
        conditions: null,
        reader: reader ? { address: reader.address } : { verifyingKey: toHex(bobReader.publicKey().toCompressedBytes()) },
      });
      const res = await http("POST", `${base}/v1/policies/${policyId}/kfrag`, upload, this.deps.timeoutMs);
      if (res.status !== 201 && res.status !== 200) {
        return { ok: false, refused: true, detail: `kfrag refused: ${res.status} ${JSON.stringify(res.json).slice(0, 120)}` };
      }
      // A client counts a kfrag without a valid receipt as not delivered; so does a checker.
      this.chainId ??= (await this.deps.provider.getNetwork()).chainId;
      const receipt = (res.json as { receipt?: { period?: unknown; signature?: unknown } } | undefined)?.receipt;
      const period = receipt?.period;
      const valid =
        typeof receipt?.signature === "string" &&
        /^0x[0-9a-fA-F]{128}$/.test(receipt.signature) &&
        typeof period === "number" &&
        Number.isSafeInteger(period) &&
        period >= 0 &&
        period <= 0xffffffff &&
        verifyKfragReceipt(
          keys.stampKey,
          { chainId: this.chainId, policyManager: this.deps.policyManager, staker: target, period, policyCreator: owner.address, policyId: policyIdBytes, kfragHash: kfragHash(kfragBytes) },
          getBytes(receipt.signature),
        );
      if (!valid) return { ok: false, refused: true, detail: "kfrag accepted without a valid receipt from the node's stamp key" };
    } catch (e) {
      return { ok: false, refused: true, detail: `kfrag upload failed: ${errorText(e)}` };
    }
    return { ok: true, policy };
  }

  /** One capsule through the target; verifies proof, stamp and decryption. */
  private async reencryptAndVerify(base: string, p: CheckPolicy, stampKey: Uint8Array, reader: EthSigning | null): Promise<string> {
    const alice = umbral.SecretKey.fromBEBytes(getBytes(p.alice));
    const bob = umbral.SecretKey.fromBEBytes(getBytes(p.bob));
    const publisher = umbral.SecretKey.fromBEBytes(getBytes(p.signer)).publicKey();
    const requester: UmbralSigning | EthSigning = reader ?? new umbral.Signer(umbral.SecretKey.fromBEBytes(getBytes(p.reader)));
    const plaintext = new Uint8Array(randomBytes(32));
    const [capsule, ciphertext] = umbral.encrypt(alice.publicKey(), plaintext);
    const policyIdBytes = getBytes(p.policyId);
    const req = await buildReencryptRequest(requester, p.target, policyIdBytes, [capsule.toBytes()]);
    const res = await http("POST", `${base}/v1/policies/${p.policyId}/reencrypt`, req, this.deps.timeoutMs);
    if (res.status !== 200) throw new ProbeFailure(`re-encryption refused: ${res.status} ${JSON.stringify(res.json).slice(0, 120)}`);
    const body = res.json as ReencryptResponse;
    if (!Array.isArray(body?.cfrags) || body.cfrags.length !== 1) throw new ProbeFailure("response does not carry exactly one cfrag");
    let cfrag: umbral.CapsuleFrag;
    try {
      cfrag = umbral.CapsuleFrag.fromBytes(parseHex(body.cfrags[0].cfrag, "cfrag"));
    } catch (e) {
      throw new ProbeFailure(`malformed cfrag: ${errorText(e)}`);
    }
    let verified: umbral.VerifiedCapsuleFrag;
    try {
      verified = cfrag.verify(capsule, publisher, alice.publicKey(), bob.publicKey());
    } catch {
      throw new ProbeFailure("cfrag correctness proof does not verify");
    }
    let stamp: Uint8Array;
    let stampProof: Uint8Array[];
    try {
      stamp = parseHex(body.cfrags[0].signature, "signature");
      if (!Array.isArray(body.cfrags[0].stampProof)) throw new Error("stampProof must be an array");
      stampProof = body.cfrags[0].stampProof.map((p) => parseHex(p, "stampProof", 32));
    } catch (e) {
      throw new ProbeFailure(`malformed stamp: ${errorText(e)}`);
    }
    if (typeof body.stampPeriod !== "number" || !Number.isInteger(body.stampPeriod) || body.stampPeriod < 0 || body.stampPeriod > 0xffffffff) {
      throw new ProbeFailure("malformed stamp: stampPeriod must be a uint32");
    }
    const stampContext = {
      staker: p.target,
      stampPeriod: body.stampPeriod,
      policyCreator: computeAddress(p.owner),
      policyId: policyIdBytes,
      delegatingKey: alice.publicKey().toCompressedBytes(),
      receivingKey: bob.publicKey().toCompressedBytes(),
      verifyingKey: publisher.toCompressedBytes(),
    };
    if (!verifyCFragStamp(stampKey, stampContext, { capsule: capsule.toBytes(), cfrag: cfrag.toBytes(), signature: stamp, proof: stampProof })) {
      throw new ProbeFailure("cfrag stamp does not verify with the on-chain verifying key");
    }
    const decrypted = umbral.decryptReencrypted(bob, alice.publicKey(), capsule, [verified], ciphertext);
    if (!bytesEqual(decrypted, plaintext)) throw new ProbeFailure("re-encrypted capsule does not decrypt to the plaintext");
    return `cfrag verified (proof, stamp, decryption) for policy ${p.policyId}`;
  }

  /** Owner-signed revocation at the node, then the same request must be refused; revoked on-chain too (frees the target's quota). */
  private async revokeAndConfirm(base: string, p: CheckPolicy, reader: Wallet): Promise<string> {
    const owner = new Wallet(p.owner);
    const policyIdBytes = getBytes(p.policyId);
    const res = await http("POST", `${base}/v1/policies/${p.policyId}/revoke`, await signRevocation(owner, policyIdBytes), this.deps.timeoutMs);
    if (res.status !== 200) throw new ProbeFailure(`revocation refused: ${res.status}`);
    await this.revokeOnChain(owner, p.policyId);
    const alice = umbral.SecretKey.fromBEBytes(getBytes(p.alice));
    const [capsule] = umbral.encrypt(alice.publicKey(), new Uint8Array(randomBytes(32)));
    const req = await buildReencryptRequest(reader, p.target, policyIdBytes, [capsule.toBytes()]);
    const after = await http("POST", `${base}/v1/policies/${p.policyId}/reencrypt`, req, this.deps.timeoutMs);
    if (after.status === 200) throw new ProbeFailure("still re-encrypts for a revoked policy");
    if (after.status !== 410) throw new ProbeFailure(`revoked policy answered ${after.status}, expected 410`);
    return "revoked policy refused with 410";
  }

  private async revokeOnChain(owner: Wallet, policyId: string): Promise<void> {
    this.chainId ??= (await this.deps.provider.getNetwork()).chainId;
    const latest = await this.deps.provider.getBlock("latest");
    const deadline = BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000)) + 3600n; // chain clock, not ours
    const signature = await owner.signTypedData(
      { name: "NKMS PolicyManager", version: "1", chainId: this.chainId, verifyingContract: this.deps.policyManager },
      { Revocation: [{ name: "policyId", type: "bytes16" }, { name: "node", type: "address" }, { name: "nonce", type: "uint256" }, { name: "deadline", type: "uint256" }] },
      { policyId, node: ZeroAddress, nonce: 0n, deadline },
    );
    await this.deps.txs.send(() => this.pm.revokeWithSignature(policyId, ZeroAddress, 0n, deadline, signature));
  }
}
