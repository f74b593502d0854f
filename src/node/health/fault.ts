import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";

/**
 * TEST-ONLY fault injection, so end-to-end tests can run a misbehaving agent through the real
 * code. Enabled only by `testFault` (NKMS_TEST_FAULT) together with the explicit
 * `unsafeTestMode` (NKMS_UNSAFE_TEST_MODE=1); loadNodeConfig refuses a fault without it.
 *
 *   bad-cfrag   every re-encryption response carries cfrags with one bit flipped in the last
 *               byte (the proof's final scalar): they still parse but fail verification.
 */
export const TEST_FAULTS = ["bad-cfrag"] as const;
export type TestFault = (typeof TEST_FAULTS)[number];

export function isTestFault(value: string): value is TestFault {
  return (TEST_FAULTS as readonly string[]).includes(value);
}

export function installTestFault(http: FastifyInstance, fault: TestFault, log: Logger): void {
  log.warn({ fault }, "UNSAFE TEST MODE: this agent deliberately misbehaves");
  http.addHook("onSend", async (request, _reply, payload) => {
    if (fault !== "bad-cfrag" || !request.url.endsWith("/reencrypt") || typeof payload !== "string") return payload;
    try {
      const body = JSON.parse(payload) as { cfrags?: { cfrag: string }[] };
      if (!Array.isArray(body.cfrags)) return payload;
      for (const c of body.cfrags) {
        const last = parseInt(c.cfrag.slice(-2), 16) ^ 1;
        c.cfrag = c.cfrag.slice(0, -2) + last.toString(16).padStart(2, "0");
      }
      return JSON.stringify(body);
    } catch {
      return payload;
    }
  });
}
