// Ignition module: `npx hardhat ignition deploy deploy/directory.ts --parameters params.json`
// with { "DirectoryCheckpoint": { "operator": "0x…", "directoryKey": "0x<32-byte Ed25519 key>" } }.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

export default buildModule("DirectoryCheckpoint", (m) => {
  const operator = m.getParameter("operator", m.getAccount(0));
  const directoryKey = m.getParameter<string>("directoryKey");
  const checkpoint = m.contract("DirectoryCheckpoint", [operator, directoryKey]);
  return { checkpoint };
});
