/**
 * The span attributes gem-flow adds to the traces the platform and the SDKs record, so one match can be
 * followed from its trigger through every activity to the TomTom calls: filter on `gemflow.match.id`
 * (the orchestration instance id) or `gemflow.gem.job_id` in Application Insights or any OTLP backend.
 */
import type { Attributes } from '@opentelemetry/api';

export const MATCH_ID_ATTRIBUTE = 'gemflow.match.id';
export const GEM_JOB_ID_ATTRIBUTE = 'gemflow.gem.job_id';
export const ACTIVITY_ATTRIBUTE = 'gemflow.activity';

/** What is known of a match at some point: the id once computed, the job id once GEM gave one. */
export interface MatchSpanAttributes {
  readonly matchId?: string;
  readonly jobId?: number;
  readonly activity?: string;
}

/** The span attributes for what is known; unknown parts are left out rather than recorded empty. */
export function spanAttributesOf(match: MatchSpanAttributes): Attributes {
  const attributes: Attributes = {};
  if (match.matchId) attributes[MATCH_ID_ATTRIBUTE] = match.matchId;
  if (match.jobId !== undefined) attributes[GEM_JOB_ID_ATTRIBUTE] = match.jobId;
  if (match.activity) attributes[ACTIVITY_ATTRIBUTE] = match.activity;
  return attributes;
}

/**
 * The GEM job id an activity's input or result names (`jobId`, a positive integer), if any. Inputs and results
 * are the JSON the orchestrator passes, typed per activity; only this one field is read, never the rest.
 */
export function jobIdIn(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const jobId = (value as { jobId?: unknown }).jobId;
  return typeof jobId === 'number' && Number.isSafeInteger(jobId) && jobId > 0 ? jobId : undefined;
}
