// Ignition only deploys modules under ignition/modules; the module itself lives in deploy/directory.ts.
// `npx hardhat ignition deploy ignition/modules/DirectoryCheckpoint.ts --network localhost --parameters directory.json`
// with directory.json = {"DirectoryCheckpoint": {"directoryKey": "0x<bytes32 from `npx nkms directory key`>"}}
// (and "operator": "0x…", the account that checkpoints, default the deploying account).
export { default } from "../../deploy/directory";
