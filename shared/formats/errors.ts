/**
 * A file-level problem with a user's dataset: it is not the format it seems, uses a variant gem-flow does not
 * read, has no line layer, or breaks a limit. The normaliser turns it into a validation finding (rule,
 * message, fix); per-feature problems are `FeatureProblem`s on the feature instead, so reading goes on.
 */
import { GemFlowError } from '../errors.js';

export class FormatError extends GemFlowError {
  readonly code = 'FormatError';
  /** A stable rule id for the validation report, e.g. `format-unknown`, `layer-missing`, `crs-unknown`. */
  readonly rule: string;

  constructor(rule: string, message: string, options: { cause?: unknown; remedy?: string } = {}) {
    super(message, options);
    this.rule = rule;
  }
}
