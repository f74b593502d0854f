import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getBytes } from "ethers";
import * as umbral from "../../src/umbral";
import { buildReencryptRequest, type ReencryptResponse } from "../../src/node/protocol";
import { capsulesFor, createPolicy, setupNode, uploadFor, type TestPolicy } from "./helpers";
import { deployExternal, spawnAgent, startHardhatNode, writeOperatorKeystore, type AgentProcess } from "./multiproc";

async function postJson(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("node agent as a separate process (hardhat node JSON-RPC)", function () {
  this.timeout(600_000);
  let chain: Awaited<ReturnType<typeof startHardhatNode>>;
  let dir: string;
  let agent: AgentProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nkms-crash-"));
    chain = await startHardhatNode();
  });
  after(async () => {
    await agent?.stop("SIGKILL");
    await chain?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("loses no acknowledged kfrag when SIGKILLed under load, and registers itself on-chain", async () => {
    const net = await deployExternal(chain.provider);
    const stakerW = net.wallets[1];
    const operatorIdx = 4;
    const node = await setupNode(net, stakerW, operatorIdx, chain.provider);
    const files = await writeOperatorKeystore(dir, operatorIdx);
    const owner = net.wallets[15];
    const payer = net.wallets[10];
    const policies: TestPolicy[] = [];
    for (let i = 0; i < 40; i++) policies.push(await createPolicy(net, payer, owner, [stakerW.address], { periods: 3 }));

    agent = await spawnAgent(files, chain.url, net);
    // Startup registered the agent's real endpoint and derived keys.
    const info = await net.core.escrow.nodeInfo(stakerW.address);
    expect(info[0]).to.equal(agent.url);
    expect(info[2].toLowerCase()).to.equal("0x" + Buffer.from(node.keys.stampKey.toCompressedBytes()).toString("hex"));

    // Upload kfrags 4 at a time while re-encryption load runs, and SIGKILL mid-stream.
    const acked = new Set<number>();
    let killed = false;
    const url = agent.url;
    const uploads = (async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < policies.length && !killed) {
            const i = next++;
            try {
              const res = await postJson(`${url}/v1/policies/${policies[i].policyId}/kfrag`, await uploadFor(policies[i], 0));
              if (res.status === 201 || res.status === 200) acked.add(i);
            } catch {
              /* connection dropped by the kill: not acknowledged */
            }
          }
        }),
      );
    })();
    const load = (async () => {
      const { capsules } = capsulesFor(policies[0], 4);
      while (!killed) {
        const held = [...acked];
        if (held.length === 0) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        const p = policies[held[held.length - 1]];
        const req = await buildReencryptRequest(p.bobSigner, stakerW.address, p.policyIdBytes, capsules.map((c) => c.toBytes()));
        await postJson(`${url}/v1/policies/${p.policyId}/reencrypt`, req).catch(() => undefined);
      }
    })();
    while (acked.size < 15) await new Promise((r) => setTimeout(r, 2));
    killed = true;
    await agent.stop("SIGKILL");
    await Promise.all([uploads, load]);
    expect(acked.size).to.be.at.least(15);

    agent = await spawnAgent(files, chain.url, net);
    // Every acknowledged kfrag is back and re-encrypts correctly.
    for (const i of acked) {
      const p = policies[i];
      const { capsules } = capsulesFor(p, 1);
      const req = await buildReencryptRequest(p.bobSigner, stakerW.address, p.policyIdBytes, [capsules[0].toBytes()]);
      const res = await postJson(`${agent.url}/v1/policies/${p.policyId}/reencrypt`, req);
      expect(res.status, `policy ${i}: ${JSON.stringify(res.json)}`).to.equal(200);
      const cfrag = umbral.CapsuleFrag.fromBytes(getBytes((res.json as unknown as ReencryptResponse).cfrags[0].cfrag));
      cfrag.verify(capsules[0], p.aliceSigner.verifyingKey(), p.alice.publicKey(), p.bob.publicKey());
    }
    // The rest can still be delivered (201, or 200 when it was stored but the answer was lost).
    for (let i = 0; i < policies.length; i++) {
      if (acked.has(i)) continue;
      const res = await postJson(`${agent.url}/v1/policies/${policies[i].policyId}/kfrag`, await uploadFor(policies[i], 0));
      expect([200, 201]).to.include(res.status);
    }
    const status = (await (await fetch(`${agent.url}/v1/status`)).json()) as { policies: { active: number } };
    expect(status.policies.active).to.equal(policies.length);

    // On-chain revocation reaches the separate process through event polling.
    const p = policies[0];
    await (await net.policyManager.connect(owner).revokePolicy(p.policyId)).wait();
    const { capsules } = capsulesFor(p, 1);
    const req = await buildReencryptRequest(p.bobSigner, stakerW.address, p.policyIdBytes, [capsules[0].toBytes()]);
    const res = await postJson(`${agent.url}/v1/policies/${p.policyId}/reencrypt`, req);
    expect(res.status).to.equal(410);
  });
});
