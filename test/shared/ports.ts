// Ports for servers a test starts in another process. A port the kernel hands out with listen(0)
// lies in the ephemeral range, which it also uses for the local end of every outgoing connection:
// between our probe and the child's bind, any client on the machine (an npx process talking to the
// chain, a test's fetch) can take it. CI hit exactly that (PORT_IN_USE on a README agent). So we
// draw from the range below the ephemeral one, which outgoing connections never use.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const LOWEST = 20_000;

function ephemeralLow(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const n = Number(low);
    if (Number.isInteger(n) && n > LOWEST + 1_000) return n;
  } catch {
    // not Linux: fall through to the IANA dynamic range start
  }
  return 49_152;
}

const HIGHEST = ephemeralLow() - 1;

/** Whether `port` can be bound on 127.0.0.1 right now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A free port below the ephemeral range, with `run - 1` free ports after it (for NODE_PORT + 1..n). */
export async function listenPort(run = 1): Promise<number> {
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const base = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST - run));
    const free = await Promise.all(Array.from({ length: run }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no run of ${run} free ports in ${LOWEST}..${HIGHEST}`);
}
