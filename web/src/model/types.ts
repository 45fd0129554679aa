/**
 * The shapes the page reads, taken from the app's own contract (type-only imports, so nothing of zod or the
 * app's code ends up in the bundle): a match's status and a page of them, the map, the validation report, the
 * summary and error documents.
 */
import type { z } from 'zod';
import type { MatchMapResponse } from '../../../shared/api/resultSchemas.js';
import type { listMatchesResponseSchema, matchStatusSchema } from '../../../shared/api/schemas.js';
import type { ValidationReport } from '../../../shared/parquet/report.js';
import type { OutputDocument } from '../../../shared/results/outputDocuments.js';
import type { ErrorDocument, SummaryDocument } from '../../../shared/workflow/summary.js';

export type MatchStatus = z.output<typeof matchStatusSchema> & { parts?: unknown };
export type MatchPage = Omit<z.output<typeof listMatchesResponseSchema>, 'matches'> & {
  matches: MatchStatus[];
};
export type { ErrorDocument, MatchMapResponse, OutputDocument, SummaryDocument };

/** `validation.json` as the app writes it: the report, with where it came from and one summary sentence. */
export type ValidationDocument = ValidationReport & { kind: 'gem-flow.validation-report'; summary: string };
