/**
 * The node agent's health-check duty. Every `pollMs` it looks at the current round of the
 * HealthCheck contract (by the chain's clock) and does whatever is due:
 *
 *   open window     open the round if nobody has (racing agents: the loser's revert is ignored);
 *   commit window   if this node is a self-selected checker with a whole token locked through
 *                   the end of the reveal window (else its reveal would revert NoStake and the
 *                   commit would only get it punished), probe every target (probe.ts),
 *                   record the results, persist the ballot (salt + verdicts) and the targets'
 *                   proofs of contact, and only then commit. A target is voted healthy only with
 *                   its proof of contact (HealthCheck rejects a reveal without); when a target
 *                   looked healthy but no proof was obtained for a reason on our side (a checker
 *                   error, no payment), this node does not vote in the round at all;
 *   reveal window   reveal the persisted ballot with its proofs;
 *   afterwards      finalize the previous round if nobody has, record its outcome for the
 *                   status page, claim the checker reward, and have every checker that
 *                   committed but did not reveal punished (punishNonRevealer: it forfeits its
 *                   accrued rewards), once per round.
 *
 * Every step reads the chain first, so a restart at any point resumes where it stopped: a ballot
 * prepared but not committed is committed (never re-drawn), one committed but not marked is
 * recognised from `ballotOf`, and the reveal uses the stored salt.
 */
import { Contract, Wallet, concat, type Provider } from "ethers";
import type { Logger } from "pino";
import type { HealthResult } from "../store";
import { BallotBook, encodeVerdicts, type SettingsStore } from "./ballot";
import { ESCROW_NODE_ABI, healthContract, roundAt, roundWindows, type RoundTiming } from "./contracts";
import { TargetProber, type ProbeAssignment, type ProbeReport } from "./probe";
import { TxQueue } from "./tx-queue";

export interface HealthDutyStore extends SettingsStore {
  addHealthResult(result: HealthResult): void;
}

export interface HealthDutyContext {
  provider: Provider;
  /** The operator key (signs commits, reveals and check-policy payments). */
  operator: Wallet;
  staker: string;
  store: HealthDutyStore;
  log: Logger;
  healthCheck: string;
  policyManager: string;
  stakingEscrow: string;
  pollMs: number;
  probeTimeoutMs: number;
  /**
   * How a target is probed (default: TargetProber, probe.ts). Injectable so that tests can run a
   * checker that votes without probing (the "blind voter" of issue #16) through the real duty.
   */
  probe?: ProbeFn;
}

/** Probes one target before `deadline` (ms since epoch) for `assignment` (this checker's round). */
export type ProbeFn = (target: string, deadline: number, assignment: ProbeAssignment) => Promise<ProbeReport>;

/** HealthCheck.WEIGHT_UNIT: a reveal needs at least one whole token locked (else NoStake). */
const WEIGHT_UNIT = 10n ** 18n;
/** Rounds the duty settles (finalize, claim, punish) per pass at most, oldest first. */
const SETTLE_PER_PASS = 8;

/** Time kept after the probes for the commit transaction to be mined inside the window (ms). */
export const COMMIT_MARGIN_MS = 10_000;

/**
 * The deadline of a round's probes (ms since epoch), given the time left in the commit window: all
 * of it but the commit's margin. Not a shorter budget: every probe's transactions (approve, kept
 * policy, probe policy, revocation) wait one at a time in the checker's queue, each for its block,
 * so with real block times and several targets the queue alone outlasted a 60 s budget, and a
 * probe paid after it got no retry at all (an honest node's RPC one block behind answered the
 * kfrag upload 404 once: "kfrag refused", unhealthy). Retries stay bounded per exchange.
 */
export function probeDeadline(remainingMs: number, now = Date.now()): number {
  return now + Math.max(2000, remainingMs);
}

export interface HealthDuty {
  /** Run one pass now (the timer keeps running). */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

interface RoundInfo {
  opened: boolean;
  /** Fewer than quorum + 1 members: nothing drawn, nobody judged (HealthCheck.RoundVoid). */
  voided: boolean;
  finalized: boolean;
  targets: string[];
  decidedMask: bigint;
  unhealthyMask: bigint;
  revealers: bigint;
  /** The round that must be finalized before this one (0: none). */
  prevOpened: bigint;
}

function revertName(e: unknown): string {
  const err = e as { revert?: { name?: string }; shortMessage?: string; message?: string };
  return err?.revert?.name ?? err?.shortMessage ?? err?.message ?? String(e);
}

export function summarize(report: ProbeReport): string {
  return report.checks.map((c) => `${c.name}: ${c.ok === null ? "n/a" : c.ok ? "ok" : "FAIL"} (${c.detail})`).join("; ");
}

export function startHealthDuty(ctx: HealthDutyContext): HealthDuty {
  const signer = ctx.operator.connect(ctx.provider);
  const hc: Contract = healthContract(ctx.healthCheck, signer);
  const escrow = new Contract(ctx.stakingEscrow, ESCROW_NODE_ABI, ctx.provider);
  let secondsPerPeriod: bigint | undefined;
  const book = new BallotBook(ctx.store, ctx.healthCheck);
  const txs = new TxQueue();
  const prober = new TargetProber({
    provider: ctx.provider,
    payer: signer,
    txs,
    policyManager: ctx.policyManager,
    stakingEscrow: ctx.stakingEscrow,
    settings: ctx.store,
    timeoutMs: ctx.probeTimeoutMs,
  });
  const probe: ProbeFn = ctx.probe ?? ((target, deadline, assignment) => prober.probe(target, deadline, assignment));
  const log = ctx.log.child({ duty: "health" });
  const outcomeKey = (round: bigint) => `health.outcome.${ctx.healthCheck.toLowerCase()}.${round}`;
  const punishedKey = (round: bigint) => `health.punished.${ctx.healthCheck.toLowerCase()}.${round}`;
  const settledKey = `health.settled.${ctx.healthCheck.toLowerCase()}`;
  const retryKey = `health.retry.${ctx.healthCheck.toLowerCase()}`;
  const contactsKey = (round: bigint) => `health.contacts.${ctx.healthCheck.toLowerCase()}.${round}`;
  let timing: RoundTiming | undefined;
  let stopped = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function loadTiming(): Promise<RoundTiming> {
    timing ??= {
      genesis: (await hc.genesis()) as bigint,
      commitDuration: (await hc.commitDuration()) as bigint,
      revealDuration: (await hc.revealDuration()) as bigint,
      openWindow: (await hc.openWindow()) as bigint,
    };
    return timing;
  }

  /** The timestamp the next block will carry at least (the chain's clock, not ours). */
  async function chainNow(): Promise<bigint> {
    const pending = await ctx.provider.getBlock("pending").catch(() => null);
    const latest = pending ?? (await ctx.provider.getBlock("latest"));
    return BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000));
  }

  async function roundInfo(round: bigint): Promise<RoundInfo> {
    const i = await hc.roundInfo(round);
    return {
      opened: i.opened as boolean,
      voided: i.voided as boolean,
      finalized: i.finalized as boolean,
      targets: [...(i.targets as string[])],
      decidedMask: BigInt(i.decidedMask),
      unhealthyMask: BigInt(i.unhealthyMask),
      revealers: BigInt(i.revealers),
      prevOpened: BigInt(i.prevOpened),
    };
  }

  /** Send a state-changing call; a revert (someone else did it first, window passed) is logged, not thrown. */
  async function attempt(what: string, build: () => Promise<import("ethers").ContractTransactionResponse>): Promise<boolean> {
    try {
      const hash = await txs.send(build);
      log.info({ what, tx: hash }, "health transaction mined");
      return true;
    } catch (e) {
      log.debug({ what, err: revertName(e) }, "health transaction not sent");
      return false;
    }
  }

  async function checkAndCommit(round: bigint, info: RoundInfo, commitEnd: bigint): Promise<void> {
    let ballot = book.get(round);
    if (!ballot) {
      const [selected] = (await hc.isChecker(round, ctx.staker)) as [boolean, bigint];
      if (!selected) return;
      // The reveal weighs the stake locked through the period in which the reveal window ends and
      // reverts (NoStake) without a whole token there: a commit now (a stake unlocking before the
      // round ends) could never be revealed and would make this node a punishable non-revealer.
      secondsPerPeriod ??= (await hc.secondsPerPeriod()) as bigint;
      const revealEnd = roundWindows(await loadTiming(), round).revealEnd;
      const locked = (await escrow.lockedThrough(ctx.staker, (revealEnd - 1n) / secondsPerPeriod)) as bigint;
      if (locked < WEIGHT_UNIT) {
        log.warn({ round: round.toString(), locked: locked.toString() }, "selected as checker, but no stake locked through the end of the reveal window: not voting this round");
        return;
      }
      log.info({ round: round.toString(), targets: info.targets }, "selected as checker; probing targets");
      // Retries stop early enough for the commit to land inside the commit window.
      const remainingMs = Number(commitEnd - (await chainNow())) * 1000 - COMMIT_MARGIN_MS;
      const deadline = probeDeadline(remainingMs);
      const assignment: ProbeAssignment = { healthCheck: ctx.healthCheck, round, checker: ctx.staker };
      const reports = await Promise.all(
        info.targets.map((t) =>
          probe(t, deadline, assignment).catch((e: unknown): ProbeReport => ({
            target: t,
            // An error on our side (RPC, payment) says nothing about the target.
            healthy: true,
            checks: [{ name: "reachability", ok: null, detail: `checker error: ${(e as Error).message}` }],
          })),
        ),
      );
      const at = Number(await chainNow());
      for (const r of reports) {
        ctx.store.addHealthResult({ at, round: round.toString(), target: r.target, verdict: r.healthy ? "healthy" : "unhealthy", detail: summarize(r) });
      }
      if ((await chainNow()) >= commitEnd) {
        log.warn({ round: round.toString() }, "probes finished after the commit window; not voting");
        return;
      }
      // "Healthy" needs the target's proof of contact; one we could not get through our own fault
      // is no reason to vote the target down either: then this node sits the round out.
      const unproven = reports.filter((r) => r.healthy && !r.contact);
      if (unproven.length > 0) {
        log.warn({ round: round.toString(), targets: unproven.map((r) => r.target) }, "healthy without a proof of contact (checker-side failure): not voting this round");
        return;
      }
      // Persist before sending: a crash after the commit must still be able to reveal.
      ctx.store.setSetting(contactsKey(round), JSON.stringify(reports.map((r) => (r.healthy ? r.contact : null))));
      ballot = book.prepare(round, ctx.staker, encodeVerdicts(reports.map((r) => r.healthy)));
    }
    if (ballot.committed) return;
    const onChain = await hc.ballotOf(round, ctx.staker);
    if (!onChain.committed) {
      const sent = await attempt(`commit ${round}`, () => hc.commit(round, ballot!.commitment));
      if (!sent) return;
    }
    book.markCommitted(round);
  }

  async function reveal(round: bigint): Promise<void> {
    const ballot = book.get(round);
    if (!ballot || !ballot.committed || ballot.revealed) return;
    const onChain = await hc.ballotOf(round, ctx.staker);
    if (!onChain.revealed) {
      const stored = ctx.store.getSetting(contactsKey(round));
      const proofs = stored ? (JSON.parse(stored) as Array<string | null>) : [];
      const contacts = concat(proofs.filter((p): p is string => typeof p === "string"));
      const sent = await attempt(`reveal ${round}`, () => hc.reveal(round, ballot.verdicts, ballot.salt, contacts));
      if (!sent) return;
    }
    book.markRevealed(round);
  }

  /** A void round (network below quorum + 1 nodes) is said so on the status page, once. */
  function recordVoid(round: bigint): void {
    if (ctx.store.getSetting(outcomeKey(round)) !== undefined) return;
    ctx.store.addHealthResult({
      at: Math.floor(Date.now() / 1000),
      round: round.toString(),
      target: "-",
      verdict: "round void",
      detail: "fewer than quorum + 1 nodes enrolled: nobody drawn or judged",
    });
    ctx.store.setSetting(outcomeKey(round), "1");
  }

  async function recordOutcome(round: bigint, info: RoundInfo): Promise<void> {
    if (ctx.store.getSetting(outcomeKey(round)) !== undefined) return;
    const at = Number(await chainNow());
    // This node's part in the round (as a checker), whatever the round decided.
    const ballot = book.get(round);
    if (ballot) {
      const onChain = await hc.ballotOf(round, ctx.staker);
      const part = [onChain.committed ? "committed" : "did not commit", onChain.revealed ? "revealed" : "did not reveal", onChain.punished ? "punished for not revealing" : ""].filter(Boolean).join(", ");
      ctx.store.addHealthResult({ at, round: round.toString(), target: "-", verdict: "took part", detail: `checker of ${info.targets.length} target(s): ${part}` });
    }
    if (info.decidedMask === 0n) {
      ctx.store.addHealthResult({ at, round: round.toString(), target: "-", verdict: "round void", detail: `${info.revealers} reveal(s): below quorum, nobody judged` });
    } else {
      const events = await hc.queryFilter(hc.filters.TargetJudged(round));
      const forfeited = new Map<string, bigint>();
      for (const ev of events) if ("args" in ev) forfeited.set((ev.args[1] as string).toLowerCase(), ev.args[3] as bigint);
      info.targets.forEach((target, i) => {
        const unhealthy = ((info.unhealthyMask >> BigInt(i)) & 1n) === 1n;
        const lost = forfeited.get(target.toLowerCase()) ?? 0n;
        ctx.store.addHealthResult({
          at,
          round: round.toString(),
          target,
          verdict: unhealthy ? "judged unhealthy" : "judged healthy",
          detail: `${info.revealers} checker(s) revealed; ${unhealthy ? `forfeited ${lost} wei of rewards` : "rewards kept"}${target.toLowerCase() === ctx.staker.toLowerCase() ? " (this node)" : ""}`,
        });
      });
    }
    ctx.store.setSetting(outcomeKey(round), "1");
  }

  /** Finalizes `round` if it needs it, then records, claims and punishes; false while it cannot be finalized yet. */
  async function settle(round: bigint, now: bigint, t: RoundTiming): Promise<boolean> {
    if (round < 1n) return true;
    let info = await roundInfo(round);
    if (!info.opened) return true; // unopened or void: nothing to finalize, and it holds no order up
    if (!info.finalized) {
      if (now < roundWindows(t, round).revealEnd) return false;
      await attempt(`finalize ${round}`, () => hc.finalize(round));
      info = await roundInfo(round);
      if (!info.finalized) return false;
    }
    await recordOutcome(round, info);
    // Claims and punishments stay open for the claim window: a failed send is retried on later
    // passes (a single failure used to lose the reward: test/review/duty-claim-skip.test.ts).
    if (!(await claimAndPunish(round))) addRetry(round);
    return true;
  }

  /** Claims this node's reward and punishes non-revealers of `round`; true when nothing is left to send. */
  async function claimAndPunish(round: bigint): Promise<boolean> {
    let done = true;
    const ballot = book.get(round);
    if (ballot?.revealed && ((await hc.claimable(round, ctx.staker)) as bigint) > 0n) {
      done = (await attempt(`claim ${round}`, () => hc.claimReward(round, ctx.staker))) && done;
    }
    return (await punishNonRevealers(round)) && done;
  }

  function retries(): bigint[] {
    const stored = ctx.store.getSetting(retryKey);
    return stored ? (JSON.parse(stored) as string[]).map(BigInt) : [];
  }

  function addRetry(round: bigint): void {
    const list = retries();
    if (!list.includes(round)) ctx.store.setSetting(retryKey, JSON.stringify([...list, round].map(String)));
  }

  /** Retries the claims and punishments that failed, while their rounds' claim windows are open. */
  async function retryPending(now: bigint): Promise<void> {
    const keep: bigint[] = [];
    for (const round of retries()) {
      const open = now < BigInt((await hc.roundInfo(round)).claimEnd);
      if (open && !(await claimAndPunish(round))) keep.push(round);
    }
    ctx.store.setSetting(retryKey, JSON.stringify(keep.map(String)));
  }

  /**
   * Rounds finalize strictly in the order they were opened (HealthCheck "Consequences"): a round
   * that cannot be finalized yet (say, during a guardian's pause) holds every later one up. So the
   * duty walks from the oldest round it has not settled, a few per pass, and stops at the first
   * that is not final yet; its place is kept across restarts.
   */
  async function settlePending(current: bigint, now: bigint, t: RoundTiming): Promise<void> {
    const stored = ctx.store.getSetting(settledKey);
    let next = stored !== undefined ? BigInt(stored) + 1n : current - 1n;
    // An agent that starts (or restarts) behind an unfinalized round walks back to the oldest one,
    // along the chain of opened rounds from the last opened (a bounded number of steps per pass).
    // Where the walk stops is kept, so a longer backlog is reached over several passes.
    const from = next >= 1n ? await roundInfo(next) : undefined;
    let back = from?.opened && !from.finalized ? next : BigInt(await hc.lastOpenedRound());
    for (let n = 0; n < 4 * SETTLE_PER_PASS && back >= 1n; n++) {
      const info = await roundInfo(back);
      if (info.finalized) break;
      if (back < next) {
        next = back;
        ctx.store.setSetting(settledKey, (next - 1n).toString());
      }
      back = info.prevOpened;
    }
    for (let n = 0; n < SETTLE_PER_PASS && next < current; n++, next++) {
      if (!(await settle(next, now, t))) return;
      ctx.store.setSetting(settledKey, next.toString());
    }
  }

  /** Withholding a reveal (to hide a vote or starve the quorum) must cost the withholder. True when all are punished. */
  async function punishNonRevealers(round: bigint): Promise<boolean> {
    if (ctx.store.getSetting(punishedKey(round)) !== undefined) return true;
    let done = true;
    const commits = await hc.queryFilter(hc.filters.Committed(round));
    const self = ctx.staker.toLowerCase();
    for (const ev of commits) {
      if (!("args" in ev)) continue;
      const checker = ev.args[1] as string;
      if (checker.toLowerCase() === self) continue;
      const b = await hc.ballotOf(round, checker);
      if (b.revealed || b.punished) continue;
      const sent = await attempt(`punish ${checker} ${round}`, () => hc.punishNonRevealer(round, checker));
      if (sent) log.warn({ round: round.toString(), checker }, "checker did not reveal; its accrued rewards were forfeited");
      else done = false;
    }
    if (done) ctx.store.setSetting(punishedKey(round), "1");
    return done;
  }

  async function pass(): Promise<void> {
    const t = await loadTiming();
    const now = await chainNow();
    const round = roundAt(t, now);
    if (round < 1n) return;
    const w = roundWindows(t, round);
    await settlePending(round, now, t);
    await retryPending(now);
    let info = await roundInfo(round);
    if (!info.opened && now < w.openEnd) {
      await attempt(`open ${round}`, () => hc.openRound());
      info = await roundInfo(round);
    }
    if (info.voided) {
      recordVoid(round);
      return;
    }
    if (!info.opened) return;
    if (now < w.commitEnd) await checkAndCommit(round, info, w.commitEnd);
    else if (now < w.revealEnd) await reveal(round);
  }

  async function tick(): Promise<void> {
    if (running) return running;
    running = pass()
      .catch((e: unknown) => log.warn({ err: (e as Error).message }, "health duty pass failed"))
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void tick().finally(schedule), ctx.pollMs);
  };
  schedule();
  log.info({ healthCheck: ctx.healthCheck }, "health-check duty started");

  return {
    tick,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
