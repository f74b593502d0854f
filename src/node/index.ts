export { runNode, StartupError, type RunningNode } from "./node";
export { loadNodeConfig, ConfigError, DEFAULTS as NODE_DEFAULTS, type NodeConfig } from "./config";
export { createKeystore, loadKeystore, deriveNodeKeys, type NodeKeys } from "./keys";
export * from "./protocol";
export { parseCondition, evaluateCondition, type Condition } from "./conditions";
export { verifyUmbralSignature, recoverEthSigner } from "./signatures";
export { NodeStore, type HealthResult } from "./store";
export { keyProofMessage, signKeyProof, KEY_PROOF_DOMAIN, type KeyProofContext } from "./registration";
