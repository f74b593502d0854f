// The node status page (src/node/status-page.ts): each round the node took part in, each verdict
// about it, and void rounds, from what the health duty records.
import { expect } from "chai";
import { renderStatusPage } from "../../src/node/status-page";
import type { NodeStatus } from "../../src/node/service";

const ME = "0x" + "aa".repeat(20);
const OTHER = "0x" + "bb".repeat(20);

function status(healthChecks: NodeStatus["healthChecks"]): NodeStatus {
  return {
    version: "0.1.0", protocol: "nkms-node/1", operator: OTHER, staker: ME, endpoint: "http://127.0.0.1:1",
    encryptingKey: "0x02", verifyingKey: "0x03", stake: "1", uptimeSeconds: 5,
    policies: { active: 0, revoked: 0, expired: 0 }, reencryptions: 0, workers: 1, queueDepth: 0, healthChecks,
  };
}

const section = (html: string, title: string) => html.slice(html.indexOf(`<h2>${title}`), html.indexOf("</table>", html.indexOf(`<h2>${title}`)));

describe("health: status page", () => {
  it("lists the rounds the node took part in, the verdicts about it and void rounds", () => {
    const html = renderStatusPage(
      status([
        { at: 1, round: "7", target: "-", verdict: "took part", detail: "checker of 3 target(s): committed, revealed" },
        { at: 1, round: "7", target: OTHER, verdict: "judged unhealthy", detail: "2 checker(s) revealed; forfeited 5 wei of rewards" },
        { at: 2, round: "8", target: ME, verdict: "judged healthy", detail: "3 checker(s) revealed; rewards kept (this node)" },
        { at: 3, round: "9", target: "-", verdict: "round void", detail: "1 reveal(s): below quorum, nobody judged" },
        { at: 3, round: "9", target: OTHER, verdict: "unhealthy", detail: "reachability: FAIL (timed out)" },
      ]),
    );
    const about = section(html, "Verdicts about this node");
    expect(about).to.include("<td>8</td><td>judged healthy</td>");
    expect(about).to.include("<td>9</td><td>void round (nobody judged)</td>");
    expect(about).to.not.include("<td>7</td>");
    const taken = section(html, "Rounds this node took part in");
    expect(taken).to.include("<td>7</td><td>checker of 3 target(s): committed, revealed</td>");
    expect(section(html, "Health-check round outcomes")).to.include(`<td>7</td><td>${OTHER}</td><td>judged unhealthy</td>`);
    expect(section(html, "Recent health checks")).to.include("reachability: FAIL (timed out)");
  });

  it("says so when nothing happened yet, and escapes what it shows", () => {
    const html = renderStatusPage(status([{ at: 1, round: "1", target: "<script>", verdict: "unhealthy", detail: "x" }]));
    expect(html).to.include("no verdict about this node yet");
    expect(html).to.include("not a checker in any finalized round yet");
    expect(html).to.not.include("<script>");
  });
});
