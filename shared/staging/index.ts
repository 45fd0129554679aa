/** Staging: inputs into the PDG container, results back to the app's storage; streamed and idempotent. */
export {
  type BlobHash,
  type DeliverResultRequest,
  type DeliverResultResult,
  deliverResult,
  META_SHA256,
  META_SHA256_SIZE,
  META_SOURCE_ETAG,
  META_SOURCE_URI,
  type StageInputRequest,
  type StageInputResult,
  sha256OfBlob,
  stageInput,
  type TransferOptions,
} from './copy.js';
export { StagingError, type StagingErrorCode, type StorageSide, toStagingError } from './errors.js';
export { contentDerivedName } from './names.js';
export { type PdgContainerAccess, type PdgContainerOptions, pdgContainerClient } from './pdgContainer.js';
