// The NKMS client SDK's public surface.
export { connect, defaultHome, NkmsClient, Enrico, splitEdek, grantOf } from "./client";
export type { ConnectOptions, WriteResult, ShareOptions, ShareResult, DeliveryResult, RedeliveryResult, RevokeOptions, RevokeResult, ReadOptions, ReadResult } from "./client";
export { ClientError, PartialDeliveryError, RetrievalError, type ClientErrorCode, type NodeFailure, type NodeFailureKind } from "./errors";
export { UserKeys, deriveUserKeys, createUserKeystore, loadUserKeys, parseReaderKeys, type ReaderKeys } from "./identity";
export { loadDeployment, deploymentFile, requireAddresses, type NetworkAddresses } from "./deployment";
export { parseGrant, parseGrantText, serializeGrant, type Grant } from "./grant";
export { PolicyStore, type PendingKFrag, type PolicyRecord, type PolicyUpdate } from "./policy-store";
export type { KfragReceipt } from "../protocol/kfrag-receipt-verify";
export { retrieveCFrags, saveEvidence, stampDateCheck, type StampDateCheck, type StampDateSource, type RetrievalRequest, type RetrievalResult, type RetrievalNode } from "./retrieval";
export { ReaderDirectory, READER_KEYS_AUX_TYPE, type ResolvedReader } from "./directory";
export { stake, bondOperator, setMinFeeRate, withdrawFees, stakeInfo, type StakeInfo } from "./staking";
export { LocalDirectoryStorage, StorageError, isContentId, type ObjectStorage } from "./storage";
export { signOnChainRevocation, type SignedRevocation } from "./chain";
export { parseObjectRef, openObjectRef, type ObjectRef, type OpenedObject } from "./object-ref";
export { AtomicFile, sweepStaleTemporaries } from "./atomic-file";
