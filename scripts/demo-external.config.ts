// Hardhat config for running scripts (the demo) against any JSON-RPC chain given by URL:
//   NKMS_DEMO_RPC_URL=http://127.0.0.1:9545 npx hardhat --config scripts/demo-external.config.ts \
//     run scripts/demo.ts --network external
// (`--network localhost` covers a `hardhat node` on the default port 8545.) Accounts are the
// node's own (eth_accounts), as with `localhost`.
import type { HardhatUserConfig } from "hardhat/config";
import base from "../hardhat.config";

const config: HardhatUserConfig = {
  ...base,
  // The project root stays the repository root, not this file's directory.
  paths: { ...base.paths, root: ".." },
  networks: { ...base.networks, external: { url: process.env.NKMS_DEMO_RPC_URL ?? "http://127.0.0.1:8545" } },
};

export default config;
