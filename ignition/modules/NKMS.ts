// Ignition only deploys modules under ignition/modules; the module itself lives in deploy/nkms.ts.
// `npx hardhat ignition deploy ignition/modules/NKMS.ts [--network localhost]`
export { default } from "../../deploy/nkms";
