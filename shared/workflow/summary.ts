/**
 * The documents a run writes to its outbox folder next to the results: `summary.json` for a successful job,
 * `error.json` for a GEM failure, a timeout or a failed match. They are also the body of the completion
 * callback. Pure: every instant is passed in.
 */

import type { PreparedInput } from '../formats/prepared.js';
import type { JobType } from '../jobTypes.js';
import type { EnrichmentCounts } from '../results/counts.js';
import type { EnrichedDelivery, EnrichmentReport } from '../results/enrichedOutput.js';
import { outboxBlobNames } from './outboxNames.js';
import type {
  IncrementalSummary,
  MatchInput,
  MatchSource,
  PlanIncrementalResult,
  ResultSource,
} from './types.js';

export const SUMMARY_DOCUMENT_VERSION = 1;

interface DocumentBase {
  version: typeof SUMMARY_DOCUMENT_VERSION;
  /** The orchestration instance, so a reader can ask the status API for more. */
  instanceId: string | null;
  input: {
    source: MatchSource;
    storageId: string;
    jobType: JobType;
    overtureRelease: string | null;
    orbisVersion: string | null;
    trigger: MatchInput['trigger'];
    /** The file GEM read, inside the PDG storage. */
    pdgFilename: string | null;
  };
  job: { jobId: number | null; status: string | null };
  polls: number;
}

export interface SummaryTimings {
  /**
   * When the task hub began the run: its first orchestration episode, on the task hub's clock like every other
   * instant here, so the durations are differences on one clock. (The trigger's own instant, the input's
   * `requestedAt`, is taken on the trigger's machine; on Azure it is the same real clock a moment earlier, but
   * a second clock all the same, and it only orders runs of one file.)
   */
  requestedAt: string;
  submittedAt: string | null;
  completedAt: string;
  durations: {
    /** requestedAt → completedAt. */
    totalSeconds: number;
    /** submittedAt → completedAt: how long GEM itself took, queueing included. */
    gemSeconds: number | null;
  };
}

export interface SummaryDocument extends DocumentBase {
  kind: 'gem-flow.match-summary';
  outcome: 'succeeded';
  /** GEM's own statistics (ratios), as GEM reported them. */
  statistics: Record<string, unknown> | null;
  outputs: {
    results: string;
    summary: string;
    gemResultFilename: string | null;
    /** The result files merged into `results` (partitioned or incremental runs); absent for a single job. */
    resultSources?: ResultSource[];
    /** The enriched output (`matched.<ext>`), or null when none was written. */
    matched: string | null;
  };
  /**
   * Counts from the enriched output: roads and kilometres per match kind, the confidence histogram, input
   * features and GEM rows. Null when no enriched output was written (a run without a prepared input, or one
   * whose enrichment failed: see `enrichment`).
   */
  counts: EnrichmentCounts | null;
  /** What became of the enriched output; null for runs that had no prepared input to join. */
  enrichment: EnrichmentReport | null;
  /**
   * The GEM-ready Parquet the results belong to (all of the run's rows): what a later incremental run compares
   * its own rows with. Null for runs that were not prepared.
   */
  preparedFile: PreparedInput['prepared'] | null;
  /** How much of the file GEM was spared (README "Incremental re-matching"); null for a run not incremental. */
  incremental: IncrementalSummary | null;
  timings: SummaryTimings;
}

export interface ErrorDocument extends DocumentBase {
  kind: 'gem-flow.match-error';
  outcome: 'gem-failed' | 'timed-out' | 'failed';
  /** GEM's own message for a FAILED job, or why monitoring stopped. */
  message: string;
  /** What the reader can do about it. */
  remedy: string;
  outputs: { error: string };
  timings: SummaryTimings & { deadline: string | null };
}

export interface DocumentContext {
  input: MatchInput;
  /** The run's first orchestration episode (the orchestration's clock); absent in inputs scheduled before it. */
  startedAt?: string | null;
  instanceId?: string;
  pdgFilename?: string | null;
  jobId: number | null;
  polls: number;
  submittedAt: string | null;
  completedAt: string;
}

function secondsBetween(from: string | null, to: string): number | null {
  if (!from) return null;
  const milliseconds = new Date(to).getTime() - new Date(from).getTime();
  return Number.isFinite(milliseconds) ? Math.max(0, Math.round(milliseconds / 1000)) : null;
}

function timings(context: DocumentContext): SummaryTimings {
  const requestedAt = context.startedAt ?? context.input.requestedAt;
  return {
    requestedAt,
    submittedAt: context.submittedAt,
    completedAt: context.completedAt,
    durations: {
      totalSeconds: secondsBetween(requestedAt, context.completedAt) ?? 0,
      gemSeconds: secondsBetween(context.submittedAt, context.completedAt),
    },
  };
}

function base(context: DocumentContext, status: string | null): DocumentBase {
  const { input } = context;
  return {
    version: SUMMARY_DOCUMENT_VERSION,
    instanceId: context.instanceId ?? null,
    input: {
      source: input.source,
      storageId: input.storageId,
      jobType: input.jobType,
      overtureRelease: input.overtureRelease ?? null,
      orbisVersion: input.orbisVersion ?? null,
      trigger: input.trigger,
      pdgFilename: context.pdgFilename ?? null,
    },
    job: { jobId: context.jobId, status },
    polls: context.polls,
  };
}

export function buildSummary(
  context: DocumentContext & {
    gemStatus: string;
    statistics: Record<string, unknown> | null;
    resultFilename: string | null;
    resultSources?: ResultSource[];
    enriched?: EnrichedDelivery;
    preparedFile?: PreparedInput['prepared'];
    incremental?: IncrementalSummary;
  },
): SummaryDocument {
  const names = outboxBlobNames(context.input.outbox);
  const report = context.enriched?.report ?? null;
  return {
    kind: 'gem-flow.match-summary',
    ...base(context, context.gemStatus),
    outcome: 'succeeded',
    statistics: context.statistics,
    outputs: {
      results: names.results,
      summary: names.summary,
      gemResultFilename: context.resultFilename,
      ...(context.resultSources ? { resultSources: context.resultSources } : {}),
      matched: report?.status === 'written' ? report.blob : null,
    },
    counts: context.enriched?.counts ?? null,
    enrichment: report,
    preparedFile: context.preparedFile ?? null,
    incremental: context.incremental ?? null,
    timings: timings(context),
  };
}

/**
 * GEM reports two kinds of FAILED job with the same status: an input check the file did not pass (the message
 * names the check and usually the row), and a failure inside TomTom's processing, which no change to the file
 * fixes. Only a message that names an input check earns the "fix the file" remedy; an internal error, or no
 * message at all, is worth resubmitting unchanged and reporting to TomTom with the job id if it recurs.
 */
export function gemFailureRemedy(gemMessage: string | null, jobId: number | null): string {
  const message = gemMessage?.trim() ?? '';
  const job = jobId === null ? 'the job' : `job ${jobId}`;
  if (INPUT_CHECK_MESSAGE.test(message) && !INTERNAL_FAILURE_MESSAGE.test(message)) {
    return 'Fix the input file as the message says (id unique, geometry a WKT LINESTRING in WGS84, is_navigable boolean) and upload it again.';
  }
  return (
    `GEM failed inside TomTom's processing, not because of the file: submit the same file again (upload it ` +
    `again, or POST /api/matches with a new idempotencyKey). If it fails again, contact TomTom support with ` +
    `${job} and the message.`
  );
}

/** Words GEM's input-check messages use (the check, the column, the row: TomTom's road-matching data rules). */
const INPUT_CHECK_MESSAGE =
  /\b(validation|check|column|row|schema|geometry|linestring|wkt|is_navigable|duplicate|unique|crs|wgs ?84|parquet|missing|invalid)\b/i;
/** Words of a failure in GEM's own processing. */
const INTERNAL_FAILURE_MESSAGE =
  /\b(internal|processing error|unexpected|timed? ?out|unavailable|try again)\b/i;

/** GEM ended the job FAILED; its message usually names the input check that failed. */
export function buildErrorDocument(
  context: DocumentContext & { gemStatus: string; gemMessage: string | null },
): ErrorDocument {
  return {
    kind: 'gem-flow.match-error',
    ...base(context, context.gemStatus),
    outcome: 'gem-failed',
    message:
      context.gemMessage?.trim() ||
      `GEM ended job ${context.jobId} as ${context.gemStatus} without a message.`,
    remedy: gemFailureRemedy(context.gemMessage, context.jobId),
    outputs: { error: outboxBlobNames(context.input.outbox).error },
    timings: { ...timings(context), deadline: null },
  };
}

/**
 * gem-flow itself could not finish the match: an activity ran out of retries or the job could no longer be
 * read. Written so the outbox (and the callback) say what happened instead of going silent.
 */
export function buildFailureDocument(
  context: DocumentContext & { phase: string; message: string; lastGemStatus: string | null },
): ErrorDocument {
  const job =
    context.jobId !== null
      ? ` GEM job ${context.jobId} was submitted and may still finish at TomTom; its result stays in the PDG storage.`
      : '';
  return {
    kind: 'gem-flow.match-error',
    ...base(context, context.lastGemStatus),
    outcome: 'failed',
    message: `The match failed while ${context.phase}: ${context.message}`,
    remedy: `Fix the cause named in the message, then upload the file again or POST /api/matches with a new idempotencyKey.${job}`,
    outputs: { error: outboxBlobNames(context.input.outbox).error },
    timings: { ...timings(context), deadline: null },
  };
}

/** Monitoring reached its deadline before GEM finished. The GEM job may still complete at TomTom. */
export function buildTimeoutDocument(
  context: DocumentContext & { lastGemStatus: string | null; deadline: string },
): ErrorDocument {
  const last = context.lastGemStatus ? ` (last status ${context.lastGemStatus})` : '';
  return {
    kind: 'gem-flow.match-error',
    ...base(context, context.lastGemStatus),
    outcome: 'timed-out',
    message: `GEM job ${context.jobId} did not finish before the monitoring deadline ${context.deadline}${last}.`,
    remedy:
      'The job may still finish at TomTom. This match is over, so asking for it again returns it unchanged: upload the file again, or POST /api/matches with a new idempotencyKey, and the new run follows the existing GEM job instead of submitting another. Raise MONITOR_DEADLINE_HOURS if jobs this size need longer.',
    outputs: { error: outboxBlobNames(context.input.outbox).error },
    timings: { ...timings(context), deadline: context.deadline },
  };
}

/**
 * The summary's `incremental` section from the plan: what GEM was sent, and the GEM time the unchanged rows
 * would have taken at `segmentsPerHour` (GEM_SEGMENTS_PER_HOUR), in hours to 4 decimals.
 */
export function incrementalSummaryOf(
  plan: PlanIncrementalResult,
  segmentsPerHour: number,
): IncrementalSummary {
  if (!plan.applied) return { applied: false, reason: plan.reason, previousMatchId: plan.previousMatchId };
  const { counts } = plan;
  return {
    applied: true,
    previousMatchId: plan.previousMatchId,
    ...counts,
    gemRowsSubmitted: plan.delta.rows,
    gemHoursAvoided: Math.round((counts.unchanged / segmentsPerHour) * 10_000) / 10_000,
  };
}
