// The Host header check (spec "DNS Rebinding Attacks": servers MUST validate Host against an
// allow-list and SHOULD reject IP addresses in it). A page that rebinds its own name to the
// directory's address cannot talk to it, and a request signed for another directory's URL
// (RFC 9421 covers "@target-uri", built from Host) is not taken here.
import { isIP } from "node:net";
import { DirectoryError } from "./errors";

/** Names a directory on loopback answers for by default (tests and a single-machine setup). */
const LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];

export class HostAllowList {
  // host (lowercase, no port) → allowed ports, or "any"
  private readonly allowed = new Map<string, Set<string> | "any">();

  /**
   * `entries` are `host` (any port) or `host:port`; IPv6 literals in brackets. Without entries the
   * directory answers for its name's host and for loopback.
   */
  constructor(entries: readonly string[] | undefined, directoryName: string) {
    const list = entries && entries.length > 0 ? entries : [...LOOPBACK, ...nameHost(directoryName)];
    for (const entry of list) {
      const split = splitHost(entry.trim().toLowerCase());
      if (!split) throw new RangeError(`allowed host ${JSON.stringify(entry)} is not host or host:port`);
      const [host, port] = split;
      const current = this.allowed.get(host);
      if (port === undefined) this.allowed.set(host, "any");
      else if (current !== "any") this.allowed.set(host, new Set([...(current ?? []), port]));
    }
  }

  /** Throws `misdirected` (421) unless `host` (the Host header) is allowed. */
  check(host: string | undefined): void {
    const split = host ? splitHost(host.toLowerCase()) : undefined;
    if (!split) throw new DirectoryError("misdirected", "the request has no valid Host header");
    const [name, port] = split;
    const ports = this.allowed.get(name);
    if (ports === undefined || (ports !== "any" && !ports.has(port ?? ""))) {
      throw new DirectoryError("misdirected", `this directory does not answer for host ${name}`);
    }
  }
}

function nameHost(directoryName: string): string[] {
  try {
    const url = new URL(directoryName);
    // An IP-literal name is not added implicitly (spec: SHOULD reject IP addresses): list it in allowedHosts.
    return isIP(url.hostname.replace(/^\[|\]$/g, "")) ? [] : [url.hostname];
  } catch {
    return [];
  }
}

/** `host[:port]` → [host, port?]; bracketed IPv6 literals; undefined when malformed. */
function splitHost(text: string): [string, string | undefined] | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)(?::([0-9]{1,5}))?$/.exec(text);
  return m ? [m[1], m[2]] : undefined;
}
