import fs from "node:fs";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Command } from "commander";
import { getBytes } from "ethers";
import { Enrico, openOutput, splitEdek } from "../../client/client";
import { LocalDirectoryStorage } from "../../client/storage";
import { parseGrantText, type Grant } from "../../client/grant";
import { PolicyStore } from "../../client/policy-store";
import { PublicKey } from "../../umbral";
import { StreamHeader, STREAM_HEADER_SIZE, createOriginalDecryptor } from "../../umbral/stream";
import { Context } from "../context";
import { CliError } from "../errors";
import { ByteProgress, progressBar } from "../progress";
import { removingPartialsOnSignal } from "../interrupt";
import { parseObjectRef, type ObjectRef } from "../../client/object-ref";
import { defaultHome } from "../../client/client";
import path from "node:path";

function input(file: string): { stream: Readable; size?: number } {
  if (file === "-") return { stream: process.stdin };
  if (!fs.existsSync(file)) throw new CliError("notFound", `no such file: ${file}`);
  return { stream: fs.createReadStream(file), size: fs.statSync(file).size };
}

interface ReadCommandOptions {
  grant?: string;
  policy?: string;
  out?: string;
  evidenceDir?: string;
}

/**
 * Reads `ref` through the grant into --out (all or nothing: see AtomicFile; a signal removes the
 * partial file) or to stdout (plaintext is released chunk by chunk as each authenticates, so a
 * failure mid-way leaves a prefix there: use --out for all or nothing).
 */
async function readObject(ctx: Context, given: string, ref: ObjectRef, grant: Grant, opts: ReadCommandOptions): Promise<void> {
  const client = await ctx.client();
  const progress = new ByteProgress("reading", ctx.progress);
  const options = {
    evidenceDir: opts.evidenceDir,
    fetchTimeoutMs: ctx.timeoutMs(),
    onProgress: (bytes: number, total: number | undefined) => progress.update(bytes, total),
  };
  const toFile = opts.out !== undefined && opts.out !== "-";
  let r;
  try {
    r = toFile
      ? await removingPartialsOnSignal(() => client.readToFile(ref, grant, opts.out!, options))
      : await client.readTo(ref, grant, process.stdout, options);
  } finally {
    progress.stop();
  }
  if (!toFile) return; // stdout carries the plaintext
  const id = ref.kind === "store" ? ref.id : (ref.id ?? null);
  ctx.print({ object: given, id, out: opts.out, ciphertextBytes: r.bytes ?? null, policyId: grant.policyId, nodes: r.usedNodes, failures: r.failures }, (x) =>
    [`decrypted ${x.object} to ${x.out} with cfrags from ${x.nodes.join(", ")}`, ...x.failures.map((f) => `  node ${f.staker}: ${f.kind} ${f.code ?? ""} ${f.message}`)].join("\n"),
  );
}

export function readGrantFile(file: string): Grant {
  if (!fs.existsSync(file)) throw new CliError("notFound", `no such grant file: ${file}`);
  return parseGrantText(fs.readFileSync(file, "utf8"));
}

function policyKey(hexKey: string): PublicKey {
  try {
    return PublicKey.fromCompressedBytes(getBytes(hexKey));
  } catch {
    throw new CliError("usage", "--policy-key must be a 33-byte compressed public key in 0x-hex");
  }
}

function parseChunkSize(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 16 * 1024 * 1024) throw new CliError("usage", "--chunk-size must be 1..16777216 bytes");
  return n;
}

async function grantFrom(ctx: Context, opts: { grant?: string; policy?: string }): Promise<Grant> {
  if (opts.grant) return readGrantFile(opts.grant);
  if (opts.policy) return new PolicyStore(ctx.home).getGrant(opts.policy);
  throw new CliError("usage", "give --grant <file> or --policy <id> (of an imported grant)");
}

export function dataCommands(): Command[] {
  const write = new Command("write")
    .description("encrypt a file (or - for stdin) to a label's key and store it; prints the object id")
    .argument("<file>", "plaintext file, or - for stdin")
    .option("--label <label>", "your label to encrypt to (needs your keystore)")
    .option("--policy-key <hex>", "encrypt to this policy public key instead (a data source: no keystore needed)")
    .option("--chunk-size <bytes>", "plaintext bytes per authenticated chunk")
    .action(async (file: string, opts: { label?: string; policyKey?: string; chunkSize?: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      if (!opts.label === !opts.policyKey) throw new CliError("usage", "give exactly one of --label or --policy-key");
      const chunkSize = parseChunkSize(opts.chunkSize);
      const { stream, size } = input(file);
      const source = stream.pipe(progressBar("encrypting", size, ctx.progress));
      stream.on("error", (e) => source.destroy(e));
      if (opts.policyKey) {
        const storage = new LocalDirectoryStorage(ctx.opts.storage ?? path.join(ctx.opts.home ?? defaultHome(), "objects"));
        const id = await new Enrico(policyKey(opts.policyKey), storage).write(source, { chunkSize });
        ctx.print({ id, policyPublicKey: opts.policyKey.toLowerCase(), bytes: size, file: storage.pathOf(id) });
        return;
      }
      const keys = await ctx.keys();
      const storage = new LocalDirectoryStorage(ctx.opts.storage ?? path.join(ctx.home, "objects"));
      const enrico = new Enrico(keys.labelPublicKey(opts.label!), storage);
      const id = await enrico.write(source, { chunkSize });
      // `file` is what to serve (any static HTTP server) or copy: a reader passes its URL or path to `read`.
      ctx.print({ id, label: opts.label, bytes: size, file: storage.pathOf(id) });
    });

  const encrypt = new Command("encrypt")
    .description("encrypt a file to a label's key (or a policy key) into a local ciphertext file, without storing it")
    .argument("<file>", "plaintext file, or - for stdin")
    .requiredOption("--out <file>", "ciphertext file to write")
    .option("--label <label>", "your label to encrypt to (needs your keystore)")
    .option("--policy-key <hex>", "encrypt to this policy public key (no keystore needed)")
    .option("--chunk-size <bytes>", "plaintext bytes per authenticated chunk")
    .action(async (file: string, opts: { out: string; label?: string; policyKey?: string; chunkSize?: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      if (!opts.label === !opts.policyKey) throw new CliError("usage", "give exactly one of --label or --policy-key");
      const key = opts.policyKey ? policyKey(opts.policyKey) : (await ctx.keys()).labelPublicKey(opts.label!);
      const { stream, size } = input(file);
      const encryptor = new Enrico(key).encryptor({ chunkSize: parseChunkSize(opts.chunkSize) });
      await pipeline(stream, progressBar("encrypting", size, ctx.progress), encryptor, fs.createWriteStream(opts.out));
      ctx.print({ out: opts.out, bytes: size, capsule: "0x" + Buffer.from(encryptor.header.capsule.toBytes()).toString("hex") });
    });

  const read = new Command("read")
    .description("fetch an object, gather cfrags from the policy's nodes and decrypt it (streaming)")
    .argument("<object>", "object reference: a content id in your store, an http(s) URL (…#<id> pins the content id), or a ciphertext file")
    .option("--grant <file>", "the grant the owner sent you")
    .option("--policy <id>", "use an imported grant (see `nkms grants import`)")
    .option("--out <file>", "plaintext file, written only once complete and authenticated (default: stdout)")
    .option("--evidence-dir <dir>", "where to save evidence of invalid cfrags (default <home>/evidence)")
    .action(async (object: string, opts: ReadCommandOptions, cmd: Command) => {
      const ctx = new Context(cmd);
      const ref = parseObjectRef(object);
      await readObject(ctx, object, ref, await grantFrom(ctx, opts), opts);
    });

  const decrypt = new Command("decrypt")
    .description("decrypt a local ciphertext file: as the owner (--label) or as a reader (--grant/--policy), streaming")
    .argument("<file>", "ciphertext file")
    .option("--label <label>", "decrypt with your own label key")
    .option("--grant <file>", "decrypt through the policy's nodes with this grant")
    .option("--policy <id>", "use an imported grant")
    .option("--out <file>", "plaintext file, written only once complete and authenticated (default: stdout)")
    .option("--evidence-dir <dir>", "where to save evidence of invalid cfrags (default <home>/evidence)")
    .action(async (file: string, opts: ReadCommandOptions & { label?: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      if (!opts.label) {
        // As a reader this is `read` of a file reference (never a store id, whatever its name).
        await readObject(ctx, file, { kind: "file", path: file }, await grantFrom(ctx, opts), opts);
        return;
      }
      const { stream, size } = input(file);
      const keys = await ctx.keys();
      const decryptor = createOriginalDecryptor(keys.labelSecret(opts.label));
      const progress = progressBar("decrypting", size, ctx.progress);
      const run = (out: Writable) =>
        pipeline(stream, progress, decryptor, out).catch((e: unknown) => {
          throw new CliError("integrity", `cannot decrypt ${file}: ${(e as Error).message}`);
        });
      if (!opts.out || opts.out === "-") {
        await run(process.stdout);
        return;
      }
      const out = openOutput(opts.out);
      await removingPartialsOnSignal(async () => {
        try {
          await run(out.stream);
          await out.commit();
        } catch (e) {
          await out.abort();
          throw e;
        }
      });
    });

  const split = new Command("split")
    .description("separate a ciphertext's header (capsule + wrapped data key) from its payload")
    .argument("<file>", "ciphertext file")
    .option("--header-out <file>", `write the ${STREAM_HEADER_SIZE}-byte header here`)
    .option("--payload-out <file>", "write the payload here")
    .action((file: string, opts: { headerOut?: string; payloadOut?: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      if (!fs.existsSync(file)) throw new CliError("notFound", `no such file: ${file}`);
      const { header, capsule, encryptedKey, payload } = splitEdek(new Uint8Array(fs.readFileSync(file)));
      if (opts.headerOut) fs.writeFileSync(opts.headerOut, (header as StreamHeader).toBytes());
      if (opts.payloadOut) fs.writeFileSync(opts.payloadOut, payload);
      ctx.print({
        capsule: "0x" + Buffer.from(capsule.toBytes()).toString("hex"),
        encryptedKey: "0x" + Buffer.from(encryptedKey).toString("hex"),
        chunkSize: header.chunkSize,
        payloadBytes: payload.length,
      });
    });

  const del = new Command("delete")
    .description("delete a stored object and (with --label) revoke that label's active policies")
    .argument("<id>", "object id")
    .option("--label <label>", "the object's label: its policies are revoked too")
    .option("--keep-policies", "do not revoke the label's policies")
    .action(async (id: string, opts: { label?: string; keepPolicies?: boolean }, cmd: Command) => {
      const ctx = new Context(cmd);
      const client = await ctx.client({ keys: opts.label !== undefined && !opts.keepPolicies });
      const r = await client.delete(id, { label: opts.label, revokePolicies: !opts.keepPolicies });
      if (!r.deleted && r.revoked.length === 0) throw new CliError("notFound", `no object ${id}`);
      ctx.print({ id, deleted: r.deleted, revokedPolicies: r.revoked.map((x) => x.policyId) });
    });

  return [write, encrypt, read, decrypt, split, del];
}
