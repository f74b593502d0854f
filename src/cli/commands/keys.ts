import fs from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { createUserKeystore, deriveUserKeys, hex, loadUserKeys } from "../../client/identity";
import { Wallet } from "ethers";
import { checkNewPassword, checkScryptN } from "../../node/keys";
import { Context } from "../context";
import { CliError } from "../errors";

export function keysCommand(): Command {
  const keys = new Command("keys").description("your identity: an encrypted Ethereum keystore and the Umbral keys derived from it");

  keys
    .command("create")
    .description("create a new encrypted keystore (password from NKMS_KEYSTORE_PASSWORD or a prompt)")
    .option("--name <name>", "store it as <home>/keys/<name>.json (default: the --keystore path or keys/default.json)")
    .option("--private-key <hex>", "import this key instead of generating one")
    .option("--scrypt-n <n>", "scrypt cost, a power of two (default 131072, at least 32768)")
    .action(async (opts: { name?: string; privateKey?: string; scryptN?: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      const file = opts.name ? path.join(ctx.keysDir(), `${opts.name}.json`) : ctx.keystorePath();
      if (opts.privateKey !== undefined && !/^(0x)?[0-9a-fA-F]{64}$/.test(opts.privateKey)) throw new CliError("usage", "--private-key must be 32 bytes of hex");
      const scryptN = opts.scryptN === undefined ? undefined : Number(opts.scryptN);
      // TEST ONLY: a cheaper scrypt floor, never from a flag, only from this clearly named variable.
      const unsafeTestMode = ctx.env.NKMS_UNSAFE_TEST_MODE === "1";
      try {
        if (scryptN !== undefined) checkScryptN(scryptN, unsafeTestMode);
      } catch (e) {
        throw new CliError("usage", `--scrypt-n: ${(e as Error).message}`);
      }
      const password = await ctx.password("New keystore password: ");
      try {
        checkNewPassword(password);
      } catch (e) {
        throw new CliError("keystore", (e as Error).message);
      }
      const privateKey = opts.privateKey ? (opts.privateKey.startsWith("0x") ? opts.privateKey : "0x" + opts.privateKey) : undefined;
      const address = await createUserKeystore(file, password, privateKey, { scryptN, unsafeTestMode });
      const reader = (privateKey ? deriveUserKeys(new Wallet(privateKey)) : await loadUserKeys(file, password)).readerKeys();
      ctx.print({ address, keystore: file, ...reader });
    });

  keys
    .command("list")
    .description("list the keystores in <home>/keys")
    .action((_opts: unknown, cmd: Command) => {
      const ctx = new Context(cmd);
      const dir = ctx.keysDir();
      const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];
      const list = files.map((f) => {
        const file = path.join(dir, f);
        let address = "?";
        try {
          address = "0x" + String((JSON.parse(fs.readFileSync(file, "utf8")) as { address?: string }).address ?? "?").replace(/^0x/, "");
        } catch {
          // not a keystore
        }
        return { name: f.replace(/\.json$/, ""), address, keystore: file };
      });
      ctx.print({ keystores: list }, (r) => (r.keystores.length ? r.keystores.map((k) => `${k.name}\t${k.address}\t${k.keystore}`).join("\n") : `no keystores in ${dir}`));
    });

  keys
    .command("export")
    .description("print your public keys (give the output to a data owner who shares with you)")
    .option("--label <label...>", "also print these labels' policy public keys (for data sources)")
    .option("--out <file>", "write the reader keys JSON to a file")
    .action(async (opts: { label?: string[]; out?: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      const k = await ctx.keys();
      const labels = Object.fromEntries((opts.label ?? []).map((l) => [l, hex(k.labelPublicKey(l).toCompressedBytes())]));
      if (opts.out) fs.writeFileSync(opts.out, JSON.stringify(k.readerKeys(), null, 2) + "\n");
      ctx.print({ address: k.address, ...k.readerKeys(), ...(opts.label ? { labels } : {}) });
    });

  return keys;
}
