import path from "node:path";
import { HardhatUserConfig, subtask, vars } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import "@nomicfoundation/hardhat-toolbox";
import "./tasks";

// The compiler comes from the pinned npm `solc` package: the machines have no internet,
// so Hardhat's own compiler download would fail.
const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  const solcPackageDir = path.dirname(require.resolve("solc/package.json"));
  return {
    compilerPath: path.join(solcPackageDir, "soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: require("solc/package.json").version,
  };
});

// Public testnets are configured without secrets in the repository:
// `npx hardhat vars set NKMS_RPC_URL` / `NKMS_DEPLOYER_KEY`, or the same names in the environment.
function configured(name: string): string {
  return process.env[name] ?? vars.get(name, "");
}
const testnetUrl = configured("NKMS_RPC_URL");

// Ignition waits `requiredConfirmations` blocks after each batch of a deployment (5 by default,
// against reorgs). A local chain with timed blocks (`npm run chain`) is never reorganised, and the
// wait is 40 s of an 80 s Network deployment there (measured, 1-second blocks): on `localhost`, 1.
const networkArg = process.argv[process.argv.indexOf("--network") + 1];
const onLocalhost =
  (process.argv.includes("--network") ? networkArg : process.env.HARDHAT_NETWORK) === "localhost" || process.argv.includes("--network=localhost");
const deployerKey = configured("NKMS_DEPLOYER_KEY");

const config: HardhatUserConfig = {
  solidity: {
    compilers: [
      {
        version: SOLC_VERSION,
        settings: {
          evmVersion: "cancun",
          optimizer: { enabled: true, runs: 10_000 },
          viaIR: false,
        },
      },
    ],
    // StakingEscrow does not fit the 24,576-byte limit with the legacy pipeline once issue #13's
    // slashing pause, per-slasher rewards, slashing window and stamp-key windows are in: 24,808
    // bytes at 200 runs, 24,415 at 1 run (measured). Through the IR pipeline it is 22,251 bytes at
    // 1,000 runs (20,766 at 200), so it keeps 2.3 kB of headroom without a split (which would add
    // cross-contract calls to every caller). Gas per operation: bench/results/gas.json.
    // Overrides need the `compilers` form above.
    // PolicyManager was 24,325 bytes at 10,000 runs (legacy); through the IR pipeline at 1,000 runs
    // the same source is 18,207 bytes at equal gas (policy.create.1node 136.5k vs 136.4k), which
    // leaves room for issue #16's market fixes (20.6 kB with them).
    overrides: {
      "contracts/PolicyManager.sol": {
        version: SOLC_VERSION,
        settings: { evmVersion: "cancun", optimizer: { enabled: true, runs: 1_000 }, viaIR: true },
      },
      // HealthCheck grew past the limit with issue #16's contact proofs and probe assignments
      // (24,828 bytes at 10,000 runs); fewer runs keep it under (size: `npx hardhat compile`,
      // artifacts' deployedBytecode).
      "contracts/HealthCheck.sol": {
        version: SOLC_VERSION,
        settings: { evmVersion: "cancun", optimizer: { enabled: true, runs: 1_000 }, viaIR: false },
      },
      "contracts/StakingEscrow.sol": {
        version: SOLC_VERSION,
        settings: { evmVersion: "cancun", optimizer: { enabled: true, runs: 1_000 }, viaIR: true },
      },
    },
  },
  defaultNetwork: "hardhat",
  networks: {
    hardhat: {},
    // NKMS_LOCALHOST_URL points `--network localhost` at another port (tests serve a chain on a free one).
    localhost: { url: process.env.NKMS_LOCALHOST_URL ?? "http://127.0.0.1:8545" },
    ...(testnetUrl
      ? { testnet: { url: testnetUrl, accounts: deployerKey ? [deployerKey] : [] } }
      : {}),
  },
  ignition: onLocalhost ? { requiredConfirmations: 1 } : {},
  mocha: {
    timeout: 600_000,
  },
  gasReporter: {
    enabled: process.env.REPORT_GAS === "true",
  },
};

export default config;
