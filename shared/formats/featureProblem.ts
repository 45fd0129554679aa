/**
 * The per-feature failures of the binary readers (FlatGeobuf, Shapefile, GeoPackage): a decoder throws a
 * `FeatureDecodeError` carrying the `FeatureProblem` rule, and the reader turns whatever it caught into the
 * feature's problem, so one broken record never stops the read. Errors the decoders did not anticipate
 * (a RangeError from a DataView or FlatBuffers accessor on inconsistent offsets) become the fallback rule.
 */
import { FormatError } from './errors.js';
import type { FeatureProblem } from './types.js';

export type FeatureProblemRule =
  | 'geometry-unreadable'
  | 'geometry-unsupported'
  | 'property-unreadable'
  | 'feature-too-large'
  | 'feature-truncated';

export class FeatureDecodeError extends Error {
  constructor(
    readonly rule: FeatureProblemRule,
    message: string,
  ) {
    super(message);
  }
}

export function problemFrom(error: unknown, fallbackRule: FeatureProblemRule): FeatureProblem {
  if (error instanceof FeatureDecodeError || error instanceof FormatError) {
    return { rule: error.rule, message: error.message };
  }
  return {
    rule: fallbackRule,
    message: `the feature's bytes are inconsistent (${(error as Error).message})`,
  };
}
