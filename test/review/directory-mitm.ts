// Shared by the response-signature reviews: a real directory (checkpointing to a DirectoryCheckpoint
// contract on the Hardhat network), a real ActivityPub test instance, and a man in the middle that
// sits in the SDK's `fetch` and can answer a request with a response it recorded earlier (status,
// headers and body exactly as the directory signed them).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "hardhat";
import { CheckpointContract, connectCheckpointContract, directoryKeyBytes32 } from "../../src/directory/checkpoint-contract";
import { DirectoryClient } from "../../src/directory/client";
import { publicKeyOf } from "../../src/directory/protocol";
import { DirectoryServer, DirectoryServerOptions, startDirectoryServer } from "../../src/directory/server";
import { newSecretKey } from "../directory/helpers";
import { startInstance, TestInstance } from "../directory/instance";

export interface Recorded {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** Fetches `url` and keeps the answer byte for byte (what a recording MITM or mirror stores). */
export async function record(url: string, init?: RequestInit, fetcher: typeof fetch = globalThis.fetch): Promise<Recorded> {
  const res = await fetcher(url, init);
  return { status: res.status, headers: new Headers(res.headers), body: new Uint8Array(await res.arrayBuffer()) };
}

/** Runs `fn` with the process clock shifted by `offsetMs` (the directory signs with Date.now). */
export async function atClock<T>(offsetMs: number, fn: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  Date.now = () => realNow() + offsetMs;
  try {
    return await fn();
  } finally {
    Date.now = realNow;
  }
}

export interface World {
  tmp: string;
  signingKey: Uint8Array;
  server: DirectoryServer;
  social: TestInstance;
  /** Read-only contract handle, as a client has. */
  contract: CheckpointContract;
  /** Stops the directory and starts it again on the same port and database with `changes`. */
  restart(changes: Partial<DirectoryServerOptions>): Promise<void>;
  /** A fresh SDK client talking to the directory (every response checked: the default). */
  client(): DirectoryClient;
  /**
   * Installs a MITM in front of the directory: `answer(method, url)` returns a recorded response to
   * substitute, or undefined to let the request through. Returns the function that removes it.
   */
  mitm(answer: (method: string, url: string) => Recorded | undefined): () => void;
  close(): Promise<void>;
}

export async function startWorld(options: Partial<DirectoryServerOptions> = {}): Promise<World> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-review-mitm-"));
  const signingKey = options.signingKey ?? newSecretKey();
  const social = await startInstance();
  const [operator] = await ethers.getSigners();
  const factory = await ethers.getContractFactory("DirectoryCheckpoint");
  const deployed = await factory.deploy(operator.address, directoryKeyBytes32(publicKeyOf(signingKey)));
  await deployed.waitForDeployment();
  const address = await deployed.getAddress();
  const base: DirectoryServerOptions = {
    database: path.join(tmp, "d.db"),
    name: "https://pkd.test",
    signingKey,
    allowInsecureActors: true,
    rateLimit: { basePenaltyMs: 0 },
    commitmentWorkers: 1,
    tlog: false,
    checkpoint: { contract: connectCheckpointContract(address, operator), intervalMs: 3_600_000 },
    ...options,
  };
  let server = await startDirectoryServer(base);
  const contract = connectCheckpointContract(address, ethers.provider);
  const realFetch = globalThis.fetch;
  const world: World = {
    tmp,
    signingKey,
    server,
    social,
    contract,
    async restart(changes) {
      const port = Number(new URL(server.url).port);
      await server.close();
      server = await startDirectoryServer({ ...base, ...changes, port });
      world.server = server;
    },
    client: () => new DirectoryClient({ url: server.url, contract }),
    mitm(answer) {
      const previous = globalThis.fetch;
      globalThis.fetch = async (input, init) => {
        const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
        const method = (init?.method ?? "GET").toUpperCase();
        const replay = url.startsWith(server.url) ? answer(method, url) : undefined;
        if (!replay) return previous(input, init);
        return new Response(replay.body.length === 0 ? null : Buffer.from(replay.body), { status: replay.status, headers: replay.headers });
      };
      return () => {
        globalThis.fetch = previous;
      };
    },
    async close() {
      globalThis.fetch = realFetch;
      await server.close();
      await social.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
  return world;
}
