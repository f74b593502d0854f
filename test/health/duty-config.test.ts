// The health duty's settings; the agent has no fault switch (faulty behaviours are test support).
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, addressesFromIgnition, loadNodeConfig } from "../../src/node/config";
import { encodeVerdicts } from "../../src/node/health/ballot";
import { roundAt, roundWindows } from "../../src/node/health/contracts";

const BASE = {
  NKMS_STAKING_ESCROW: "0x" + "11".repeat(20),
  NKMS_POLICY_MANAGER: "0x" + "22".repeat(20),
};

describe("health: duty configuration", () => {
  it("runs without the duty by default and takes the HealthCheck address from env or Ignition", () => {
    expect(loadNodeConfig({}, BASE).healthCheck).to.equal(undefined);
    const hc = "0x" + "33".repeat(20);
    const cfg = loadNodeConfig({}, { ...BASE, NKMS_HEALTH_CHECK: hc, NKMS_HEALTH_POLL_MS: "250" });
    expect([cfg.healthCheck, cfg.healthPollMs, cfg.healthProbeTimeoutMs]).to.deep.equal([hc, 250, 5000]);
    expect(() => loadNodeConfig({}, { ...BASE, NKMS_HEALTH_CHECK: "0x1234" })).to.throw(ConfigError, /healthCheck/);
    const dir = mkdtempSync(join(tmpdir(), "nkms-hc-cfg-"));
    try {
      const file = join(dir, "deployed_addresses.json");
      writeFileSync(file, JSON.stringify({ "NKMS#StakingEscrow": BASE.NKMS_STAKING_ESCROW, "NKMSHealth#HealthCheck": hc }));
      expect(addressesFromIgnition(file).healthCheck).to.equal(hc);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("has no fault switch: misbehaviour lives in test support (test/support/fault-proxy.ts), not in the agent", () => {
    const cfg = loadNodeConfig({}, { ...BASE, NKMS_TEST_FAULT: "bad-cfrag", NKMS_UNSAFE_TEST_MODE: "1" }) as unknown as Record<string, unknown>;
    expect(cfg).to.not.have.property("testFault");
    expect(cfg).to.not.have.property("unsafeTestMode");
    const dir = mkdtempSync(join(tmpdir(), "nkms-hc-cfg-"));
    try {
      const file = join(dir, "node.json");
      writeFileSync(file, JSON.stringify({ testFault: "bad-cfrag" }));
      expect(() => loadNodeConfig({ configFile: file }, BASE)).to.throw(ConfigError, /unknown setting "testFault"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("numbers rounds and windows like the contract, and encodes verdicts bit i = target i unhealthy", () => {
    const t = { genesis: 1000n, commitDuration: 600n, revealDuration: 400n, openWindow: 100n };
    expect(roundAt(t, 999n)).to.equal(0n);
    expect(roundAt(t, 1000n)).to.equal(1n);
    expect(roundAt(t, 1999n)).to.equal(1n);
    expect(roundAt(t, 2000n)).to.equal(2n);
    expect(roundWindows(t, 2n)).to.deep.equal({ start: 2000n, openEnd: 2100n, commitEnd: 2600n, revealEnd: 3000n });
    expect(encodeVerdicts([true, false, true, false])).to.equal(0b1010n);
  });
});
