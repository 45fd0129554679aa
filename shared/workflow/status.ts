/**
 * Maps a Durable Functions status object into the compact status the HTTP API returns. Structural types
 * only, so shared/ stays free of durable-functions; `DurableOrchestrationStatus` fits `DurableStatusLike`.
 */

import { errorMessage } from '../errors.js';
import type { EnrichmentCounts } from '../results/counts.js';
import { isTerminalGemStatus } from './monitor.js';
import type { PartsSummary } from './partitions.js';
import {
  type IncrementalSummary,
  MATCH_PHASES,
  type MatchCustomStatus,
  type MatchOutcome,
  type MatchOutputs,
  type MatchPhase,
  type MatchResult,
  type NotificationOutcome,
} from './types.js';

/** The fields of a Durable orchestration status this mapping reads. */
export interface DurableStatusLike {
  instanceId: string;
  runtimeStatus: string;
  customStatus?: unknown;
  output?: unknown;
  input?: unknown;
  createdTime: string | Date;
  lastUpdatedTime: string | Date;
}

export interface OutputRef {
  /** Blob name inside the outbox container. */
  blob: string;
  /** Present when a base URL was given; clients still need their own access to the outbox. */
  url?: string;
}

export interface CompactMatchStatus {
  id: string;
  runtimeStatus: string;
  phase: MatchPhase | null;
  outcome: MatchOutcome | null;
  jobId: number | null;
  gemStatus: string | null;
  polls: number;
  estimatedCompletion: string | null;
  statistics: Record<string, unknown> | null;
  /** Roads and kilometres per match kind from the enriched output; null until (or unless) it is written. */
  counts: EnrichmentCounts | null;
  /** What an incremental run sent GEM and carried over, or why it matched everything; null otherwise. */
  incremental: IncrementalSummary | null;
  outputs: {
    results: OutputRef | null;
    summary: OutputRef | null;
    error: OutputRef | null;
    validationReport: OutputRef | null;
    matched: OutputRef | null;
  };
  error: { message: string } | null;
  notification: NotificationView | null;
  /** A partitioned match's parts (counts, effective window, the first parts listed); null for a single job. */
  parts: PartsSummary | null;
  createdTime: string;
  lastUpdatedTime: string;
}

/** The callback's outcome as the status API shows it. */
export interface NotificationView {
  delivered: boolean;
  refused: boolean;
  attempts: number;
  lastStatus: number | null;
  error: string | null;
}

export interface StatusViewOptions {
  /** e.g. `https://<account>.blob.core.windows.net/outbox/`; blob names are appended, URL-encoded per segment. */
  outputBaseUrl?: string;
}

/** Failure messages longer than this are cut; the full text stays in the task hub and the logs. */
const MAX_ERROR_MESSAGE_CHARS = 2_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asCustomStatus(value: unknown): Partial<MatchCustomStatus> {
  if (!isRecord(value)) return {};
  const phase = MATCH_PHASES.includes(value.phase as MatchPhase) ? (value.phase as MatchPhase) : undefined;
  return {
    ...(phase ? { phase } : {}),
    ...(typeof value.jobId === 'number' ? { jobId: value.jobId } : {}),
    ...(typeof value.gemStatus === 'string' ? { gemStatus: value.gemStatus } : {}),
    ...(typeof value.polls === 'number' ? { polls: value.polls } : {}),
    ...(typeof value.estimatedCompletion === 'string'
      ? { estimatedCompletion: value.estimatedCompletion }
      : {}),
    ...(typeof value.message === 'string' ? { message: value.message } : {}),
    ...(isNotificationOutcome(value.notification) ? { notification: value.notification } : {}),
    ...(isPartsSummary(value.parts) ? { parts: value.parts } : {}),
  };
}

function isPartsSummary(value: unknown): value is PartsSummary {
  return isRecord(value) && typeof value.total === 'number' && Array.isArray(value.list);
}

/**
 * The parts list with what each running part's own sub-orchestration says now (its GEM job id, GEM status and
 * polls): the parent learns them only when a part ends. `live` maps a part index to that part's custom status.
 */
export function withLiveParts(parts: PartsSummary, live: ReadonlyMap<number, unknown>): PartsSummary {
  return {
    ...parts,
    list: parts.list.map((entry) => {
      const status = live.get(entry.index);
      if (entry.state !== 'running' || !isRecord(status)) return entry;
      return {
        ...entry,
        jobId: typeof status.jobId === 'number' ? status.jobId : entry.jobId,
        gemStatus: typeof status.gemStatus === 'string' ? status.gemStatus : entry.gemStatus,
      };
    }),
  };
}

function isNotificationOutcome(value: unknown): value is NotificationOutcome {
  return isRecord(value) && typeof value.delivered === 'boolean' && typeof value.attempts === 'number';
}

function notificationView(outcome: unknown): NotificationView | null {
  if (!isNotificationOutcome(outcome)) return null;
  return {
    delivered: outcome.delivered,
    refused: outcome.refused === true,
    attempts: outcome.attempts,
    lastStatus: typeof outcome.status === 'number' ? outcome.status : null,
    error: typeof outcome.error === 'string' ? outcome.error : null,
  };
}

const OUTCOMES: readonly MatchOutcome[] = ['succeeded', 'gem-failed', 'invalid-input', 'timed-out'];

function asMatchResult(value: unknown): MatchResult | null {
  if (!isRecord(value) || !OUTCOMES.includes(value.outcome as MatchOutcome)) return null;
  return value as unknown as MatchResult;
}

/**
 * Where durable-functions joins a failure's Reason to its Details (TaskOrchestrationExecutor.setTaskValue:
 * `new Error(`${Reason} \n ${Details}`)`), recognised by how the Durable extension writes Details: the serialised
 * .NET exception of an activity (TaskActivityShim.cs → `{"$type":"System.Exception, …`) or an orchestrator's
 * `Message: …, StackTrace: …` (OutOfProcOrchestrationShim.cs).
 */
const DETAILS_START = / \n (?=\{"\$type":|Message: )/;
/** The prefixes the extension puts before a failed function's own message; a sub-orchestration nests them. */
const FAILED_FUNCTION_PREFIX = /^(?:Activity|Orchestrator) function '[^'\n]*' failed:\s*/;
/** A JavaScript stack frame line (`    at fn (/app/x.js:1:2)`), not a message line that starts with "at". */
const STACK_FRAME = /^\s*at\s.*(?::\d+:\d+\)?|\((?:<anonymous>|native)\))$/;

/**
 * The exception's own message out of the text Azure stores for a failure. An activity that throws
 * `new Error('PDG refused')` reaches the orchestrator as
 * `Activity function 'stageInput' failed:  PDG refused \n {"$type":"System.Exception, …","InnerException":{…
 * "Message":"Result: Failure\nException: PDG refused\nStack: Error: PDG refused\n    at …"}}` and a failed
 * orchestration's output is `Orchestrator function 'matchFile' failed: <that text>`. The function prefixes,
 * the Details (with the host's RpcException text and the stack) and stray stack lines are dropped; the lines
 * of a multi-line message are joined.
 */
function ownMessage(text: string): string {
  let rest = text.trim();
  for (let match = FAILED_FUNCTION_PREFIX.exec(rest); match; match = FAILED_FUNCTION_PREFIX.exec(rest)) {
    rest = rest.slice(match[0].length);
  }
  const message = (rest.split(DETAILS_START)[0] ?? '')
    .split(/\r?\n/)
    .filter((line) => !STACK_FRAME.test(line) && line.trim() !== '')
    .map((line) => line.trim())
    .join(' ');
  if (!message) return 'The orchestration failed without a message; see the function logs for this instance.';
  return message.length > MAX_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS)}…` : message;
}

/** The message of a failed orchestration (its `output`, or a failure-details object), without stack or Details. */
export function failureMessageOf(output: unknown): string {
  if (typeof output === 'string') return ownMessage(output);
  if (isRecord(output) && typeof output.message === 'string') return ownMessage(output.message);
  if (isRecord(output) && isRecord(output.failureDetails)) {
    return ownMessage(String(output.failureDetails.errorMessage ?? ''));
  }
  return ownMessage('');
}

/**
 * The message of a failure an orchestrator caught, fit for a document a customer reads: what the activity (or
 * sub-orchestration) threw, as `failureMessageOf` reads it. A `TaskFailedError` (durable-functions, when the
 * extension sends FailureDetails) carries the message in `failureDetails.errorMessage`.
 */
export function caughtFailureMessage(error: unknown): string {
  if (
    isRecord(error) &&
    isRecord(error.failureDetails) &&
    typeof error.failureDetails.errorMessage === 'string'
  ) {
    return ownMessage(error.failureDetails.errorMessage);
  }
  return ownMessage(errorMessage(error));
}

function toIso(value: string | Date): string {
  if (value instanceof Date) return value.toISOString();
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? value : parsed.toISOString();
}

function outputRef(blob: string | undefined, baseUrl: string | undefined): OutputRef | null {
  if (!blob) return null;
  if (!baseUrl) return { blob };
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return { blob, url: base + blob.split('/').map(encodeURIComponent).join('/') };
}

/** Durable runtime statuses of an instance that has not finished; every other status is final. */
export const ACTIVE_RUNTIME_STATUSES = ['Pending', 'Running', 'ContinuedAsNew', 'Suspended'] as const;

export function isActiveRuntimeStatus(status: string | null | undefined): boolean {
  return (ACTIVE_RUNTIME_STATUSES as readonly string[]).includes(String(status));
}

const PHASE_FOR_OUTCOME: Record<MatchOutcome, MatchPhase> = {
  succeeded: 'completed',
  'gem-failed': 'gem-failed',
  'invalid-input': 'invalid-input',
  'timed-out': 'timed-out',
};

export function toCompactStatus(
  status: DurableStatusLike,
  options: StatusViewOptions = {},
): CompactMatchStatus {
  const custom = asCustomStatus(status.customStatus);
  const result = status.runtimeStatus === 'Completed' ? asMatchResult(status.output) : null;
  const outputs: MatchOutputs = result?.outputs ?? {};

  let error: { message: string } | null = null;
  if (status.runtimeStatus === 'Failed') {
    error = { message: failureMessageOf(status.output) };
  } else if (status.runtimeStatus === 'Terminated' || status.runtimeStatus === 'Canceled') {
    const reason =
      typeof status.output === 'string' && status.output.trim() ? `: ${status.output.trim()}` : '';
    error = { message: `The match was cancelled${reason}.` };
  } else if (result && result.outcome !== 'succeeded') {
    error = { message: result.message ?? `The match ended as ${result.outcome}.` };
  }

  const phase: MatchPhase | null = result
    ? PHASE_FOR_OUTCOME[result.outcome]
    : status.runtimeStatus === 'Failed'
      ? 'failed'
      : (custom.phase ?? null);
  const gemStatus = result?.gemStatus ?? custom.gemStatus ?? null;

  return {
    id: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    phase,
    outcome: result?.outcome ?? null,
    jobId: result?.jobId ?? custom.jobId ?? null,
    gemStatus,
    polls: result?.polls ?? custom.polls ?? 0,
    // An estimate only means something while the job may still be running.
    estimatedCompletion:
      isActiveRuntimeStatus(status.runtimeStatus) && !isTerminalGemStatus(gemStatus)
        ? (custom.estimatedCompletion ?? null)
        : null,
    statistics: result?.statistics ?? null,
    counts: result?.counts ?? null,
    incremental: result?.incremental ?? null,
    outputs: {
      results: outputRef(outputs.results, options.outputBaseUrl),
      summary: outputRef(outputs.summary, options.outputBaseUrl),
      error: outputRef(outputs.error, options.outputBaseUrl),
      validationReport: outputRef(outputs.validationReport, options.outputBaseUrl),
      matched: outputRef(outputs.matched, options.outputBaseUrl),
    },
    error,
    // A completed match records it in its output; a failed one, which has no output, in its custom status.
    notification: notificationView(result?.notification ?? custom.notification),
    parts: result?.parts ?? custom.parts ?? null,
    createdTime: toIso(status.createdTime),
    lastUpdatedTime: toIso(status.lastUpdatedTime),
  };
}
