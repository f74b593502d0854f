import fs from "node:fs";
import { Command } from "commander";
import { hexlify, parseUnits } from "ethers";
import { LEAK_EVIDENCE_FORMAT, LEAK_EVIDENCE_VERSION, parseLeakEvidence } from "../../client/leak-evidence";
import { serializeGrant } from "../../client/grant";
import { parseReaderKeys, type ReaderKeys } from "../../client/identity";
import { PolicyStore, type PolicyRecord } from "../../client/policy-store";
import { grantOf } from "../../client/client";
import { formatNkms } from "../../client/chain";
import { PartialDeliveryError, type DeliveryResult } from "../../client/errors";
import { Context } from "../context";
import { CliError } from "../errors";
import { readGrantFile } from "./data";

function positiveInt(v: string | undefined, name: string, min = 1): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min) throw new CliError("usage", `--${name} must be an integer ≥ ${min}`);
  return n;
}

export function parseTokenAmount(v: string, name: string): bigint {
  try {
    const amount = parseUnits(v, 18);
    if (amount < 0n) throw new Error("negative");
    return amount;
  } catch {
    throw new CliError("usage", `--${name} must be a token amount (e.g. 0.01), got "${v}"`);
  }
}

function readerFrom(value: string): ReaderKeys {
  const text = fs.existsSync(value) ? fs.readFileSync(value, "utf8") : value;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError("usage", "--reader must be a file or JSON with encryptingKey and verifyingKey (from `nkms keys export`)");
  }
  return parseReaderKeys(json);
}

function deliveryLines(delivery: DeliveryResult[]): string[] {
  return delivery.map((d) => `  ${d.staker} ${d.ok ? `kfrag delivered (receipt, period ${d.receipt?.period})` : `NOT delivered: ${d.message}`}`);
}

function policyLine(p: PolicyRecord): string {
  return `${p.policyId}  ${p.status.padEnd(7)}  ${p.threshold}-of-${p.shares}  label=${p.label}  reader=${p.reader.name ?? p.reader.encryptingKey.slice(0, 12) + "…"}  end=${p.endPeriod}`;
}

export function policyCommands(): Command[] {
  const share = new Command("share")
    .description("grant a reader m-of-n access to a label: choose nodes, pay the policy (permit), deliver kfrags")
    .requiredOption("--label <label>", "the label to share")
    .option("--reader <file|json>", "the reader's public keys (output of `nkms keys export`)")
    .option("--reader-actor <actor>", "resolve the reader's keys through the key directory instead")
    .option("--directory <url>", "key directory URL (with --reader-actor)")
    .requiredOption("-m, --threshold <m>", "cfrags needed to read")
    .requiredOption("-n, --shares <n>", "nodes holding a kfrag")
    .requiredOption("--periods <p>", "periods of service after the current one")
    .option("--fee-rate <tokens>", "fee per node per period (default: the highest node minimum)")
    .option("--reader-name <name>", "a name for the reader in your records")
    .option("--grant-out <file>", "write the grant (send it to the reader)")
    .action(async (opts: Record<string, string | undefined>, cmd: Command) => {
      const ctx = new Context(cmd);
      const threshold = positiveInt(opts.threshold, "threshold");
      const shares = positiveInt(opts.shares, "shares");
      const periods = positiveInt(opts.periods, "periods", 0);
      const feeRate = opts.feeRate === undefined ? undefined : parseTokenAmount(opts.feeRate, "fee-rate");
      if (!opts.reader === !opts.readerActor) throw new CliError("usage", "give exactly one of --reader or --reader-actor");
      if (opts.readerActor && !opts.directory) throw new CliError("usage", "--reader-actor needs --directory <url>");
      const client = await ctx.client();
      const common = { label: opts.label!, threshold, shares, periods, feeRate, readerName: opts.readerName };
      let delivery: DeliveryResult[];
      let partial: PartialDeliveryError | undefined;
      let tx: string | undefined;
      let policyId: string;
      try {
        const r = opts.readerActor
          ? await client.shareWithActor(opts.directory!, opts.readerActor, common)
          : await client.share({ ...common, reader: readerFrom(opts.reader!) });
        ({ delivery, txHash: tx } = r);
        policyId = r.grant.policyId;
      } catch (e) {
        // Paid, but not every node acknowledged: the grant and the delivery report still go out,
        // then the one-line error and exit code 10 (partial).
        if (!(e instanceof PartialDeliveryError)) throw e;
        partial = e;
        ({ delivery, policyId } = e);
      }
      const record = client.policies.get(policyId);
      const grant = grantOf(record);
      if (opts.grantOut) fs.writeFileSync(opts.grantOut, serializeGrant(grant));
      ctx.print(
        { policyId, nodes: record.nodes, endPeriod: record.endPeriod, paid: record.paid, tx, delivery, undelivered: record.undelivered, grant: opts.grantOut ?? grant },
        (x) =>
          [
            `policy ${x.policyId}: ${threshold}-of-${shares}, paid ${formatNkms(BigInt(x.paid))} through period ${x.endPeriod}`,
            ...deliveryLines(x.delivery),
            opts.grantOut ? `grant written to ${opts.grantOut}` : `grant: ${JSON.stringify(grant)}`,
          ].join("\n"),
      );
      if (partial) throw partial;
    });

  const revoke = new Command("revoke")
    .description("revoke a policy on-chain (refund) and with a signed notice to its nodes")
    .argument("<policyId>", "0x + 32 hex digits")
    .option("--no-chain", "skip the on-chain revocation")
    .option("--no-notify", "do not notify the nodes directly")
    .action(async (policyId: string, opts: { chain: boolean; notify: boolean }, cmd: Command) => {
      const ctx = new Context(cmd);
      const client = await ctx.client();
      const r = await client.revoke(policyId, { onChain: opts.chain, notifyNodes: opts.notify });
      ctx.print(r, (x) => [`revoked ${x.policyId}${x.txHash ? ` (tx ${x.txHash})` : ""}`, ...x.nodes.map((n) => `  ${n.staker} ${n.ok ? "acknowledged" : n.message}`)].join("\n"));
    });

  const policies = new Command("policies").description("your policies (local records, refreshed from the chain)");
  policies
    .command("list")
    .description("list the policies you own")
    .option("--status <status>", "active or revoked")
    .option("--label <label>", "only this label")
    .action(async (opts: { status?: string; label?: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      if (opts.status && opts.status !== "active" && opts.status !== "revoked") throw new CliError("usage", "--status must be active or revoked");
      const filter = { label: opts.label };
      const store = new PolicyStore(ctx.home);
      // Records still "active" locally are refreshed from the chain (a revocation from elsewhere
      // shows); when the chain cannot be read the list says its records may be stale, never silently.
      let chain: { refreshed: boolean; error?: string } = { refreshed: true };
      if (store.list({ ...filter, status: "active" }).length > 0) {
        try {
          const client = await ctx.client({ keys: false });
          await withTimeout(
            Promise.all(store.list({ ...filter, status: "active" }).map((p) => client.getPolicy(p.policyId))),
            ctx.timeoutMs() ?? 30_000,
          );
        } catch (e) {
          chain = { refreshed: false, error: (e as Error).message.split("\n")[0] };
          process.stderr.write(`nkms: warning: cannot read the chain at ${ctx.rpcUrl} (${chain.error}): these are local records, possibly stale\n`);
        }
      }
      const list = new PolicyStore(ctx.home).list({ ...filter, status: opts.status as "active" | "revoked" | undefined });
      ctx.print({ policies: list, chain }, (x) => (x.policies.length ? x.policies.map(policyLine).join("\n") : "no policies"));
    });
  policies
    .command("show")
    .description("one policy, with its on-chain state")
    .argument("<policyId>")
    .action(async (policyId: string, _o: unknown, cmd: Command) => {
      const ctx = new Context(cmd);
      const client = await ctx.client({ keys: false });
      ctx.print(await client.getPolicy(policyId));
    });
  policies
    .command("update")
    .description("change a policy's local note, label or reader name")
    .argument("<policyId>")
    .option("--note <text>")
    .option("--reader-name <name>")
    .action(async (policyId: string, opts: { note?: string; readerName?: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      if (opts.note === undefined && opts.readerName === undefined) throw new CliError("usage", "nothing to update (give --note or --reader-name)");
      ctx.print(new PolicyStore(ctx.home).update(policyId, { note: opts.note, readerName: opts.readerName }));
    });
  policies
    .command("renew")
    .description("pay for more periods (approve + extendPolicy)")
    .argument("<policyId>")
    .requiredOption("--periods <p>", "periods to add")
    .action(async (policyId: string, opts: { periods: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      const client = await ctx.client();
      ctx.print(await client.renew(policyId, positiveInt(opts.periods, "periods")));
    });
  policies
    .command("delete")
    .description("revoke (if active) and forget a policy")
    .argument("<policyId>")
    .action(async (policyId: string, _o: unknown, cmd: Command) => {
      const ctx = new Context(cmd);
      const client = await ctx.client();
      const r = await client.deletePolicy(policyId);
      ctx.print({ policyId, removed: r.removed, revokedTx: r.revoked?.txHash });
    });
  policies
    .command("redeliver")
    .description("deliver a policy's kfrags to the nodes that have not acknowledged theirs (idempotent); exit 10 while some still have not")
    .argument("<policyId>")
    .action(async (policyId: string, _o: unknown, cmd: Command) => {
      const ctx = new Context(cmd);
      const client = await ctx.client();
      let delivery: DeliveryResult[];
      let partial: PartialDeliveryError | undefined;
      try {
        ({ delivery } = await client.redeliver(policyId));
      } catch (e) {
        if (!(e instanceof PartialDeliveryError)) throw e;
        partial = e;
        delivery = e.delivery;
      }
      const record = client.policies.get(policyId);
      ctx.print({ policyId: record.policyId, delivery, undelivered: record.undelivered }, (x) =>
        x.delivery.length === 0 ? `policy ${x.policyId}: every node already acknowledged its kfrag` : [`policy ${x.policyId}:`, ...deliveryLines(x.delivery)].join("\n"),
      );
      if (partial) throw partial;
    });
  policies
    .command("challenge-kit")
    .description("write the leak evidence against one node of your policy (its receipt and commitment proof; add the leaked kfrag with --kfrag) for `npx hardhat nkms:challenge-leak`")
    .argument("<policyId>")
    .requiredOption("--node <staker>", "the node whose kfrag leaked")
    .option("--kfrag <file>", "the leaked kfrag (310 bytes, binary or 0x hex); without it the file has kfrag null, for a challenger to fill in")
    .option("--out <file>")
    .action(async (policyId: string, opts: { node: string; kfrag?: string; out?: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      const store = new PolicyStore(ctx.home);
      const record = store.get(policyId);
      const kit = store.challengeKit(record.owner, policyId, opts.node);
      let kfrag: string | null = null;
      if (opts.kfrag) {
        if (!fs.existsSync(opts.kfrag)) throw new CliError("usage", `--kfrag: no file ${opts.kfrag}`);
        const raw = fs.readFileSync(opts.kfrag);
        const text = raw.toString("utf8").trim();
        kfrag = /^0x[0-9a-fA-F]+$/.test(text) ? text : hexlify(raw);
      }
      const evidence = { format: LEAK_EVIDENCE_FORMAT, version: LEAK_EVIDENCE_VERSION, ...kit, kfrag };
      if (kfrag !== null) {
        try {
          parseLeakEvidence(JSON.stringify(evidence)); // refuse a file the task would refuse
        } catch (e) {
          throw new CliError("usage", `--kfrag: ${(e as Error).message}`);
        }
      }
      if (opts.out) fs.writeFileSync(opts.out, JSON.stringify(evidence, null, 2) + "\n");
      ctx.print(evidence);
    });
  policies
    .command("grant")
    .description("print (or write) the grant of one of your policies")
    .argument("<policyId>")
    .option("--out <file>")
    .action(async (policyId: string, opts: { out?: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      const grant = grantOf(new PolicyStore(ctx.home).get(policyId));
      if (opts.out) fs.writeFileSync(opts.out, serializeGrant(grant));
      ctx.print(grant);
    });

  const grants = new Command("grants").description("grants you received (as a reader)");
  grants
    .command("import")
    .description("keep a grant so `nkms read --policy <id>` can use it")
    .argument("<file>")
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const ctx = new Context(cmd);
      const grant = readGrantFile(file);
      new PolicyStore(ctx.home).putGrant(grant);
      ctx.print({ imported: grant.policyId, label: grant.label, owner: grant.owner });
    });
  grants
    .command("list")
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = new Context(cmd);
      const list = new PolicyStore(ctx.home).grants();
      ctx.print({ grants: list }, (x) => x.grants.map((g) => `${g.policyId}  ${g.threshold}-of-${g.nodes.length}  label=${g.label}  owner=${g.owner}`).join("\n") || "no grants");
    });

  return [share, revoke, policies, grants];
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
