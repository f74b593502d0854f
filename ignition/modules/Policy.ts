// Ignition only deploys modules under ignition/modules; the module itself lives in deploy/policy.ts.
// `npx hardhat ignition deploy ignition/modules/Policy.ts [--network localhost]`
export { default } from "../../deploy/policy";
