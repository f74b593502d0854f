// Ignition module, deployed through ignition/modules/DirectoryCheckpoint.ts (Ignition only deploys
// modules under ignition/modules): `npx hardhat ignition deploy ignition/modules/DirectoryCheckpoint.ts
// --network localhost --parameters directory.json` with
// { "DirectoryCheckpoint": { "directoryKey": "0x<SHA-256 of the ML-DSA-44 key>", "operator": "0x… (default: the deployer)" } }.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

export default buildModule("DirectoryCheckpoint", (m) => {
  const operator = m.getParameter("operator", m.getAccount(0));
  const directoryKey = m.getParameter<string>("directoryKey");
  const checkpoint = m.contract("DirectoryCheckpoint", [operator, directoryKey]);
  return { checkpoint };
});
