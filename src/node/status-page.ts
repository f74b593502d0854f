import type { NodeStatus } from "./service";

function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${d}d ${h}h ${m}m ${seconds % 60}s`;
}

/** The operator-facing HTML status page (no scripts, no external assets). */
export function renderStatusPage(s: NodeStatus): string {
  const rows: [string, unknown][] = [
    ["Version", `${s.version} (${s.protocol})`],
    ["Staker", s.staker],
    ["Operator", s.operator],
    ["Endpoint", s.endpoint],
    ["Stake (locked, wei)", s.stake],
    ["Uptime", duration(s.uptimeSeconds)],
    ["Policies held", `${s.policies.active} active, ${s.policies.revoked} revoked, ${s.policies.expired} expired`],
    ["Re-encryptions served", s.reencryptions],
    ["Workers / queued capsules", `${s.workers} / ${s.queueDepth}`],
    ["Encrypting key", s.encryptingKey],
    ["Verifying (stamp) key", s.verifyingKey],
  ];
  // Round outcomes (what the contract decided) are stored beside this node's own probe results.
  const isOutcome = (verdict: string) => verdict.startsWith("judged") || verdict === "round undecided";
  const probes = s.healthChecks.filter((h) => !isOutcome(h.verdict));
  const outcomes = s.healthChecks.filter((h) => isOutcome(h.verdict));
  const outcomeRows = outcomes.length
    ? outcomes
        .map((h) => `<tr><td>${esc(h.round)}</td><td>${esc(h.target)}</td><td>${esc(h.verdict)}</td><td>${esc(h.detail)}</td></tr>`)
        .join("")
    : `<tr><td colspan="4">no finalized round seen yet</td></tr>`;
  const health = probes.length
    ? probes
        .map(
          (h) =>
            `<tr><td>${esc(new Date(h.at * 1000).toISOString())}</td><td>${esc(h.round)}</td><td>${esc(h.target)}</td><td>${esc(h.verdict)}</td><td>${esc(h.detail)}</td></tr>`,
        )
        .join("")
    : `<tr><td colspan="5">no health-check results yet</td></tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NKMS node ${esc(s.staker)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin-bottom:2em}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;font-family:ui-monospace,monospace;font-size:.9em}th{background:#f4f4f4}</style>
</head><body><h1>NKMS node</h1>
<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</table>
<h2>Health-check round outcomes</h2>
<table><tr><th>Round</th><th>Target</th><th>Outcome</th><th>Detail</th></tr>${outcomeRows}</table>
<h2>Recent health checks</h2>
<table><tr><th>Time</th><th>Round</th><th>Target</th><th>Verdict</th><th>Detail</th></tr>${health}</table>
</body></html>
`;
}
