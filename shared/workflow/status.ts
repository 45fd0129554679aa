/**
 * Maps a Durable Functions status object into the compact status the HTTP API returns. Structural types
 * only, so shared/ stays free of durable-functions; `DurableOrchestrationStatus` fits `DurableStatusLike`.
 */
import { isTerminalGemStatus } from './monitor.js';
import {
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
  outputs: {
    results: OutputRef | null;
    summary: OutputRef | null;
    error: OutputRef | null;
    validationReport: OutputRef | null;
  };
  error: { message: string } | null;
  notification: NotificationView | null;
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
 * The message of a failed orchestration without its stack trace. The host stores failures as text like
 * `Orchestrator function 'matchFile' failed: <message>\n    at …`; only the message lines are kept.
 */
export function failureMessageOf(output: unknown): string {
  let text: string;
  if (typeof output === 'string') text = output;
  else if (isRecord(output) && typeof output.message === 'string') text = output.message;
  else if (isRecord(output) && isRecord(output.failureDetails))
    text = String(output.failureDetails.errorMessage ?? '');
  else text = '';
  const messageLines = text
    .split(/\r?\n/)
    .filter((line) => !/^\s*at\s/.test(line) && line.trim() !== '')
    .map((line) => line.trim());
  const message = messageLines.join(' ').trim();
  if (!message) return 'The orchestration failed without a message; see the function logs for this instance.';
  return message.length > MAX_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS)}…` : message;
}

/**
 * The message of a failure an orchestrator caught, fit for a document a customer reads. durable-functions
 * rebuilds an activity's failure as `<Reason> \n <Details>`: Reason is "Activity function 'x' failed:
 * <message>", Details the activity's stack (which repeats the message and names source files). Only the
 * Reason is kept.
 */
export function caughtFailureMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const reason = text.split(/\s*\r?\n/)[0]?.trim() ?? '';
  return reason || failureMessageOf(text);
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
    outputs: {
      results: outputRef(outputs.results, options.outputBaseUrl),
      summary: outputRef(outputs.summary, options.outputBaseUrl),
      error: outputRef(outputs.error, options.outputBaseUrl),
      validationReport: outputRef(outputs.validationReport, options.outputBaseUrl),
    },
    error,
    // A completed match records it in its output; a failed one, which has no output, in its custom status.
    notification: notificationView(result?.notification ?? custom.notification),
    createdTime: toIso(status.createdTime),
    lastUpdatedTime: toIso(status.lastUpdatedTime),
  };
}
