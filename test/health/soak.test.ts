// The short soak (issue #16), part of `npm test`: ten real agents on Anvil (a block a second), one
// of each kind — dead, lying cfrags, 1 in 3 cfrags right, always 503, unhireable, blind voter,
// overloaded but honest, lagging RPC, clock one second ahead — and a plain honest node. Rounds of
// 60 s run by the agents alone; round 1 is announced at deployment so it already judges, and five
// targets a round sweep all ten nodes in two rounds (about 3 minutes in all, measured 171 s with
// a 35 s lead on a 2-core machine). The full soak is `npm run bench:health` (bench/health-soak.ts).
import { expect } from "chai";
import { runSoak, soakTable } from "../support/soak";

describe("health: short soak on a live network", function () {
  this.timeout(600_000);

  it("judges every faulty node unhealthy in the first round it is sampled, never an honest one; blind voting earns nothing", async () => {
    const result = await runSoak({
      kinds: ["honest", "overloaded-honest", "lagging-rpc", "skewed-clock", "blind-voter", "dead", "bad-cfrag", "one-in-three", "always-503", "unhireable"],
      // A checker's probes of five targets take about 20 s (two transactions each through one
      // queue, a block a second); a target that answers 503 to the end holds them to the deadline,
      // 10 s before the window closes.
      commitSeconds: 45,
      revealSeconds: 15,
      // Agents start within about 25 s of the HealthCheck's deployment on a busy 2-core machine.
      leadSeconds: 45,
      sampleSize: 5,
      quorum: 2,
      maxSeconds: 300,
      minRounds: 2,
      log: (line) => console.log(`      ${line}`),
    });
    console.log(soakTable(result).replace(/^/gm, "      "));
    console.log("      summary", JSON.stringify(result.summary), "void", result.void_rounds, "runtime", result.runtime_seconds, "s");
    for (const d of result.honest_unhealthy_details) console.log("      honest node voted down:", JSON.stringify(d));
    const s = result.summary;
    expect(s.nodes).to.equal(10);
    expect(s.faulty_total).to.equal(5);
    expect(s.honest_judged_unhealthy, "no honest node judged unhealthy").to.equal(0);
    // Round 1 decides unless the agents started far later than the lead allows (a very slow
    // machine): then one void round is tolerated, and the soak runs a round longer.
    expect(result.void_rounds, "rounds decide from the first on").to.be.at.most(1);
    // Every node is sampled within two rounds, so every fault kind is judged, each at its first sampling.
    expect(result.nodes.every((x) => x.sampledRounds.length > 0), "every node sampled").to.equal(true);
    expect(s.faulty_detected, "every faulty node judged unhealthy").to.equal(5);
    expect(s.max_rounds_to_detect).to.be.at.most(5);
    // The blind voter cannot reveal (no proofs of contact) and earns nothing; probers that revealed
    // earn (only for targets judged healthy: a round whose targets were all faulty pays nobody, so
    // over two rounds the honest nodes' mean may be 0 by the draw).
    const blind = result.blind_voter!;
    expect(blind.reveals).to.equal(0);
    expect(BigInt(blind.earned)).to.equal(0n);
    const proverEarnings = result.nodes.filter((x) => x.reveals > 0).map((x) => Number(x.earned));
    expect(Math.max(...proverEarnings), "some prober was paid").to.be.greaterThan(0);
  });
});
