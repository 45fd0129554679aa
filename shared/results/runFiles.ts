/**
 * A run's files as the results routes read them: the match's own input (from its orchestration input, the
 * inbox blob at the version the match read) and its outbox documents (`<name key>/<run>/…`, named by
 * shared/workflow/outboxNames.ts). Everything a client may be told is missing is a `RunFileMissing` whose
 * message names the match, the document or file, and what to do, so a 404 says exactly what is not there.
 */
import type { PreparedInput } from '../formats/prepared.js';
import { BlobReadError } from '../parquet/asyncBuffer.js';
import { outboxBlobNames, outboxLocationFor } from '../workflow/outboxNames.js';
import type { DurableStatusLike } from '../workflow/status.js';
import { isActiveRuntimeStatus } from '../workflow/status.js';
import type { MatchInput, MatchOutputs, MatchPhase } from '../workflow/types.js';

/** What the routes need to know of a match. */
export interface RunRecord {
  id: string;
  runtimeStatus: string;
  input: MatchInput;
  /**
   * Every document the run may write, present or not; `matched` (the enriched output, whose extension follows
   * the user's format) once the run's output names it.
   */
  documents: Required<Omit<MatchOutputs, 'matched'>> & Pick<MatchOutputs, 'matched'>;
  /** The phase its custom status names (where it is, or where it stopped). */
  phase: MatchPhase | null;
  /** The outcome its output names, once it completed. */
  outcome: string | null;
  /** The GEM-ready Parquet the run matched, as its output names it (`preparedFile`), once it completed. */
  preparedFile?: Pick<PreparedInput['prepared'], 'container' | 'name' | 'etag'>;
}

/** Something a client asked for that the run does not have; its message is the 404's. */
export class RunFileMissing extends Error {
  override readonly name = 'RunFileMissing';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The run behind a match status read with its input; undefined when the input is not a match's. The
 * orchestration's input is `{ request, policy, resume? }` (functions/matchFile.ts `MatchOrchestrationInput`);
 * the request is the match's own `MatchInput`.
 */
export function runRecordOf(status: DurableStatusLike): RunRecord | undefined {
  const input = isRecord(status.input) ? status.input.request : undefined;
  if (!isRecord(input) || !isRecord(input.source)) return undefined;
  const matchInput = input as unknown as MatchInput;
  const location = isRecord(input.outbox)
    ? matchInput.outbox
    : outboxLocationFor(matchInput.source, status.instanceId);
  const custom = isRecord(status.customStatus) ? status.customStatus : {};
  const output = isRecord(status.output) ? status.output : {};
  return {
    id: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    input: matchInput,
    documents: { ...outboxBlobNames(location), ...matchedOf(output) },
    phase: typeof custom.phase === 'string' ? (custom.phase as MatchPhase) : null,
    outcome: typeof output.outcome === 'string' ? output.outcome : null,
    ...preparedFileOf(output),
  };
}

/** Why a run has no results document, in words that say where to look instead. */
export function noResultsReason(run: RunRecord): string {
  const where = `match "${run.id}"`;
  if (isActiveRuntimeStatus(run.runtimeStatus)) {
    return `${where} has no results yet: it is ${run.runtimeStatus}${run.phase ? ` (phase ${run.phase})` : ''}. Ask again when it has completed.`;
  }
  if (run.outcome === 'invalid-input') {
    return `${where} has no results: its input failed validation. Its report is GET /api/matches/${run.id}/outputs/validationReport.`;
  }
  if (run.outcome && run.outcome !== 'succeeded') {
    return `${where} has no results: it ended as ${run.outcome}. Its error document is GET /api/matches/${run.id}/outputs/error.`;
  }
  return `${where} has no results document (${run.documents.results}); it ended ${run.runtimeStatus}.`;
}

/** Where the map reads a run's roads from: a blob of the inbox or of the outbox, at a pinned version. */
export interface MapInput {
  in: 'inbox' | 'outbox';
  blobName: string;
  etag: string | undefined;
}

/**
 * The file the map draws: the GEM-ready Parquet the run prepared (lon/lat whatever the user's format and CRS,
 * so the map reads one format only), else the inbox blob the match read (runs that have not completed, or
 * were started before their output named it: those are GEM Parquet inputs or are not drawable), or the reason
 * the map cannot use the input.
 */
export function mapInputOf(run: RunRecord, outboxContainer: string): MapInput {
  const { source, jobType } = run.input;
  if (jobType !== 'ROAD_MATCHING') {
    throw new RunFileMissing(
      `match "${run.id}" is a ${jobType} job: the map shows roads of ROAD_MATCHING jobs only.`,
    );
  }
  if (source.kind !== 'inbox') {
    throw new RunFileMissing(
      `match "${run.id}" read "${source.filename}" straight from PDG storage, so the app has no copy of its roads to draw; upload the file to the inbox to see it on the map.`,
    );
  }
  const prepared = run.preparedFile;
  if (prepared && prepared.container === outboxContainer) {
    return { in: 'outbox', blobName: prepared.name, etag: prepared.etag };
  }
  return { in: 'inbox', blobName: source.blobName, etag: source.etag };
}

/** The prepared file the run's output names; ignored unless every part of it is a string. */
function preparedFileOf(output: Record<string, unknown>): Pick<RunRecord, 'preparedFile'> {
  const file = output.preparedFile;
  if (!isRecord(file)) return {};
  const { container, name, etag } = file;
  if (typeof container !== 'string' || typeof name !== 'string' || typeof etag !== 'string') return {};
  return { preparedFile: { container, name, etag } };
}

/** A storage 404 or 412 while reading a run's file, as the thing the client is missing. */
export function asMissing(error: unknown, what: string): unknown {
  const status =
    error instanceof BlobReadError
      ? error.statusCode
      : (error as { statusCode?: unknown } | null)?.statusCode;
  if (status === 404)
    return new RunFileMissing(`${what} no longer exists (deleted, or archived by retention).`);
  if (status === 412) {
    return new RunFileMissing(
      `${what} has been replaced since the match read it; its new version is a match of its own.`,
    );
  }
  return error;
}

/** The enriched output's blob, as the orchestration output names it (`outputs.matched`). */
function matchedOf(output: Record<string, unknown>): Pick<MatchOutputs, 'matched'> {
  const outputs = isRecord(output.outputs) ? output.outputs : {};
  return typeof outputs.matched === 'string' ? { matched: outputs.matched } : {};
}
