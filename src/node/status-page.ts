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
  // Stored beside this node's own probe results: round outcomes (what the contract decided, void
  // rounds included) and this node's part in each round as a checker.
  const isOutcome = (verdict: string) => verdict.startsWith("judged") || verdict === "round void" || verdict === "round undecided";
  const self = s.staker.toLowerCase();
  const roundsTaken = s.healthChecks.filter((h) => h.verdict === "took part");
  const outcomes = s.healthChecks.filter((h) => isOutcome(h.verdict));
  const aboutMe = outcomes.filter((h) => h.target.toLowerCase() === self || h.verdict === "round void" || h.verdict === "round undecided");
  const probes = s.healthChecks.filter((h) => !isOutcome(h.verdict) && h.verdict !== "took part");
  const table = (items: typeof s.healthChecks, empty: string, cols: (h: (typeof s.healthChecks)[number]) => unknown[], width: number) =>
    items.length ? items.map((h) => `<tr>${cols(h).map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("") : `<tr><td colspan="${width}">${esc(empty)}</td></tr>`;
  const takenRows = table(roundsTaken, "not a checker in any finalized round yet", (h) => [h.round, h.detail], 2);
  const aboutRows = table(aboutMe, "no verdict about this node yet", (h) => [h.round, h.verdict === "round void" || h.verdict === "round undecided" ? "void round (nobody judged)" : h.verdict, h.detail], 3);
  const outcomeRows = table(outcomes, "no finalized round seen yet", (h) => [h.round, h.target, h.verdict, h.detail], 4);
  const health = table(probes, "no health-check results yet", (h) => [new Date(h.at * 1000).toISOString(), h.round, h.target, h.verdict, h.detail], 5);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NKMS node ${esc(s.staker)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin-bottom:2em}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;font-family:ui-monospace,monospace;font-size:.9em}th{background:#f4f4f4}</style>
</head><body><h1>NKMS node</h1>
<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</table>
<h2>Verdicts about this node</h2>
<table><tr><th>Round</th><th>Verdict</th><th>Detail</th></tr>${aboutRows}</table>
<h2>Rounds this node took part in (as a checker)</h2>
<table><tr><th>Round</th><th>Part</th></tr>${takenRows}</table>
<h2>Health-check round outcomes</h2>
<table><tr><th>Round</th><th>Target</th><th>Outcome</th><th>Detail</th></tr>${outcomeRows}</table>
<h2>Recent health checks</h2>
<table><tr><th>Time</th><th>Round</th><th>Target</th><th>Verdict</th><th>Detail</th></tr>${health}</table>
</body></html>
`;
}
