/** GEM input validation with a row-level report, reading Parquet by ranges. */
export {
  type AsyncBuffer,
  type BlobAsyncBuffer,
  type BlobAsyncBufferOptions,
  BlobReadError,
  blobAsyncBuffer,
  bufferAsyncBuffer,
  type RangeReadableBlob,
  type ReadStats,
} from './asyncBuffer.js';
export { type LaneLevelOptions, validateLaneLevelCsvHeader, validateLaneLevelInput } from './laneLevel.js';
export {
  DEFAULT_VALIDATION_LIMITS,
  LIMIT_SETTINGS,
  resolveLimits,
  type ValidationLimits,
} from './limits.js';
export {
  type ColumnInfo,
  DEFAULT_MAX_PROBLEMS,
  estimateSegments,
  RULE_IDS,
  type RuleId,
  type ValidationProblem,
  type ValidationReport,
} from './report.js';
export { type ValidateOptions, validateRoadMatchingInput } from './roadMatching.js';
export {
  type LineStringError,
  type LineStringErrorCode,
  type LineStringParse,
  type LonLat,
  lineLengthKm,
  parseLineString,
} from './wkt.js';
