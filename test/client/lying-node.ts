// A Byzantine node for tests: an HTTP front that forwards to a real agent and replaces every cfrag
// (or only the one at `lieAt`) with a well-formed cfrag of the same capsule made from an unrelated
// kfrag, and re-stamps the whole batch with the node's real stamp key as a node does (one
// signature over the batch root, a proof per cfrag) — exactly what a cheating node could send,
// and what a challenge punishes.
import http from "node:http";
import { getBytes, hexlify, type Wallet } from "ethers";
import { Capsule, SecretKey, Signer, generateKFrags, reencrypt } from "../../src/umbral";
import { deriveNodeKeys } from "../../src/node/keys";
import { cfragStampLeaf, stampBatch } from "../../src/protocol/stamp";
import { kfragPackageDigest, type KFragUpload, type ReencryptRequest, type ReencryptResponse } from "../../src/node/protocol";
import { recoverEthSigner } from "../../src/node/signatures";
import { forward } from "../support/receipt-proxy";

export interface LyingProxy {
  url: string;
  target: string;
  lies: number;
  close(): Promise<void>;
}

/**
 * `mode: "lie"` replaces cfrags (all of them, or only the one at index `lieAt` of each answer)
 * with an unrelated kfrag's, or with `mutate(the honest cfrag)` when given;
 * `mode: "stall"` holds every re-encryption answer for `stallMs`; `mode: "bad-proof"` passes the
 * node's honest answer on with the last sibling of cfrag `lieAt`'s stamp proof dropped;
 * `mode: "misdate"` re-stamps the node's honest cfrags with the node's key, dated `dateShift`
 * periods away from the node's own date (a node trying to make its stamps unusable on-chain).
 */
export async function startLyingProxy(
  operator: Wallet,
  staker: string,
  options: {
    mode?: "lie" | "stall" | "bad-proof" | "misdate";
    stallMs?: number;
    lieAt?: number;
    dateShift?: number;
    mutate?: (cfrag: Uint8Array) => Uint8Array;
  } = {},
): Promise<LyingProxy> {
  const mode = options.mode ?? "lie";
  const stamp = deriveNodeKeys(operator).stamp;
  const stranger = SecretKey.random();
  const [kfrag] = generateKFrags(stranger, SecretKey.random().publicKey(), new Signer(SecretKey.random()), 1, 1, true, true);
  const state = { target: "", lies: 0 };
  // The keys each policy's kfrag was uploaded with: a real node stamps its cfrags with them.
  // (and the policy's creator, its owner, recovered from the upload's signature as the node does).
  const uploadedKeys = new Map<string, { policyCreator: string; delegatingKey: Uint8Array; receivingKey: Uint8Array; verifyingKey: Uint8Array }>();
  const server = http.createServer(async (req, res) => {
    const { body, upstream } = await forward(req, state.target);
    let text = await upstream.text();
    const upload = /^\/v1\/policies\/(0x[0-9a-fA-F]{32})\/kfrag$/.exec(req.url ?? "");
    if (upload && upstream.ok) {
      const u = JSON.parse(body) as KFragUpload;
      const policyCreator = recoverEthSigner(kfragPackageDigest(getBytes(upload[1]), staker, u), getBytes(u.ownerSignature));
      if (!policyCreator) throw new Error("lying proxy: the upload's owner signature does not recover");
      uploadedKeys.set(upload[1].toLowerCase(), {
        policyCreator,
        delegatingKey: getBytes(u.delegatingKey),
        receivingKey: getBytes(u.receivingKey),
        verifyingKey: getBytes(u.publisherVerifyingKey),
      });
    }
    const m = /^\/v1\/policies\/(0x[0-9a-fA-F]{32})\/reencrypt$/.exec(req.url ?? "");
    if (m && mode === "stall") await new Promise((r) => setTimeout(r, options.stallMs ?? 30_000).unref());
    else if (m && mode === "bad-proof" && upstream.ok) {
      const response = JSON.parse(text) as ReencryptResponse;
      response.cfrags[options.lieAt ?? 0].stampProof.pop();
      state.lies++;
      text = JSON.stringify(response);
    }
    else if (m && (mode === "lie" || mode === "misdate") && upstream.ok) {
      const request = JSON.parse(body) as ReencryptRequest;
      const response = JSON.parse(text) as ReencryptResponse;
      const keys = uploadedKeys.get(m[1].toLowerCase());
      if (!keys) throw new Error(`lying proxy saw no kfrag upload for ${m[1]}`);
      // Dated like the node's own answer (its period), so the lie counts on-chain as the node's.
      if (mode === "misdate") response.stampPeriod += options.dateShift ?? -3;
      const context = { staker, stampPeriod: response.stampPeriod, policyId: getBytes(m[1]), ...keys };
      const cfrags = request.capsules.map((c, i) => {
        if (mode === "misdate" || (options.lieAt !== undefined && i !== options.lieAt)) return getBytes(response.cfrags[i].cfrag);
        // `mutate`: the node's own honest cfrag, changed (e.g. made unparseable), then stamped.
        if (options.mutate) return options.mutate(getBytes(response.cfrags[i].cfrag));
        return reencrypt(Capsule.fromBytes(getBytes(c)), kfrag).toBytes();
      });
      const { root, proofs } = stampBatch(cfrags.map((cfrag, i) => cfragStampLeaf(context, getBytes(request.capsules[i]), cfrag)));
      const signature = hexlify(stamp.signDigest(root).toBEBytes());
      response.cfrags = cfrags.map((cfrag, i) => ({ cfrag: hexlify(cfrag), signature, stampProof: proofs[i].map((p) => hexlify(p)) }));
      state.lies++;
      text = JSON.stringify(response);
    }
    res.writeHead(upstream.status, { "content-type": "application/json" }).end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get target() {
      return state.target;
    },
    set target(v: string) {
      state.target = v;
    },
    get lies() {
      return state.lies;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
