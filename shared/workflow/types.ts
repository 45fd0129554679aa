/**
 * The contract between the `matchFile` orchestration, its activities and the HTTP API.
 *
 * Everything here is stored in the task hub in plain text (orchestration input, output, custom status and
 * every activity input and result), so these types are JSON-serialisable and never carry a secret: no API
 * key, no bearer token, no storage credential, no notification signing secret. Activities fetch those
 * themselves from settings or Key Vault.
 */
import type { FormatOptions, PreparedInput } from '../formats/prepared.js';
import type { JobType } from '../jobTypes.js';
import type { EnrichmentCounts } from '../results/counts.js';
import type { PartsSummary } from './partitions.js';

/** Where the input file comes from. */
export type MatchSource =
  /** A blob in the app's inbox container; `etag` pins the exact upload that triggered the match. */
  | { kind: 'inbox'; container: string; blobName: string; etag?: string }
  /** A file already present in the customer's PDG storage (`default` container); staging is skipped. */
  | { kind: 'pdg'; filename: string };

/**
 * A run's place in the outbox: its documents go under `<nameKey>/<run>/`, and `<nameKey>/latest.json` names the
 * newest run of the input name. `run` is the instance id, so no two runs share a folder.
 */
export interface OutboxLocation {
  /** The input name's key: readable folders and stem plus a hash of the exact name (`roads/my-roads-<hash>`). */
  nameKey: string;
  /** This run's folder under the name key. */
  run: string;
}

/** Orchestration input of `matchFile`. */
export interface MatchInput {
  source: MatchSource;
  storageId: string;
  jobType: JobType;
  /** Required by GEM for ROAD_MATCHING (`YYYY-MM-DD.N`). */
  overtureRelease?: string;
  /** Required by GEM for LANE_LEVEL_MATCHING (`<layer>.<revision>`). */
  orbisVersion?: string;
  callbackUrl?: string;
  /** How to read the user's own road format and write the enriched output; absent means all defaults. */
  format?: FormatOptions;
  /** Where this run writes in the outbox (shared/workflow/outboxNames.ts). */
  outbox: OutboxLocation;
  /**
   * Match only the rows new or changed since a previous completed run of the same inbox name, carrying the
   * other rows' results over (README "Incremental re-matching"). Only for ROAD_MATCHING runs of inbox files.
   */
  incremental?: boolean;
  /** The previous run to compare with (its instance id); absent: the name's latest run. Implies incremental. */
  previousMatchId?: string;
  trigger: 'blob' | 'http' | 'sweep';
  /**
   * ISO 8601 instant the trigger accepted the request, on the trigger's clock; it orders runs of one file. The
   * run's own timings (summary, status) are all on the orchestration's clock instead.
   */
  requestedAt: string;
}

export type MatchPhase =
  | 'validating'
  | 'staging'
  | 'submitting'
  | 'monitoring'
  | 'delivering'
  | 'notifying'
  | 'completed'
  | 'gem-failed'
  | 'invalid-input'
  | 'timed-out'
  | 'failed';

export const MATCH_PHASES: readonly MatchPhase[] = [
  'validating',
  'staging',
  'submitting',
  'monitoring',
  'delivering',
  'notifying',
  'completed',
  'gem-failed',
  'invalid-input',
  'timed-out',
  'failed',
];

/** What `context.df.setCustomStatus` publishes while the match runs; read back by the status API. */
export interface MatchCustomStatus {
  phase: MatchPhase;
  jobId: number | null;
  gemStatus: string | null;
  polls: number;
  startedAt: string;
  estimatedCompletion: string | null;
  /** When monitoring gives up (ISO); set once the job is submitted. The sweep reports matches past it. */
  deadline?: string;
  rowCount?: number;
  message?: string;
  /** Set once a failed match has sent (or tried to send) its callback; a completed match has it in its output. */
  notification?: NotificationOutcome;
  /** A partitioned match's parts: counts, the effective window, and the first parts listed. */
  parts?: PartsSummary;
}

/** The monitor loop's state; carried across `continueAsNew` generations. */
export interface MonitorState {
  jobId: number;
  /** Polls since monitoring began, across all generations. */
  polls: number;
  /** How many times the orchestration has continued as new while monitoring. */
  generation: number;
  /** When monitoring began (ISO). */
  startedAt: string;
  /** After this instant (ISO) the match ends as `timed-out`. */
  deadline: string;
  lastGemStatus: string | null;
  consecutiveErrors: number;
  rowCount: number | null;
}

export type MatchOutcome = 'succeeded' | 'gem-failed' | 'invalid-input' | 'timed-out';

/** Outbox blob names (not URLs) written for a match. */
export interface MatchOutputs {
  results?: string;
  summary?: string;
  error?: string;
  validationReport?: string;
  /** The user's own features with GERS ids, in their format: `<name key>/<run>/matched.<ext>`. */
  matched?: string;
}

/** What became of a result callback; recorded in the orchestration output and shown in the match status. */
export interface NotificationOutcome {
  delivered: boolean;
  /** Requests sent to the receiver; 0 when the target was refused or could not be resolved. */
  attempts: number;
  /** The last HTTP status received, when any response arrived. */
  status?: number;
  /** Why it was not delivered. */
  error?: string;
  /** The callback target rules refused the URL (before or after DNS): nothing was sent. */
  refused?: boolean;
}

/** Orchestration output of `matchFile`. */
export interface MatchResult {
  outcome: MatchOutcome;
  jobId: number | null;
  gemStatus: string | null;
  statistics: Record<string, unknown> | null;
  outputs: MatchOutputs;
  message?: string;
  startedAt: string;
  finishedAt: string;
  polls: number;
  notification?: NotificationOutcome;
  /** Roads and kilometres per match kind, when the enriched output was written. */
  counts?: EnrichmentCounts;
  /** An incremental run's rows and GEM time spared, as its summary has them (README "Incremental re-matching"). */
  incremental?: IncrementalSummary;
  /**
   * The GEM-ready Parquet the run matched (the user's file in lon/lat, one row per GEM road), when it was
   * prepared; the results page draws the map from it whatever the user's format. Blob names only, no secret.
   */
  preparedFile?: PreparedInput['prepared'];
  /** A partitioned match's parts as they ended. */
  parts?: PartsSummary;
}

// ---- Activity inputs and results ----

/** Result of `validateInput` (input: `PreparedMatchInput`). */
export interface ValidateInputResult {
  valid: boolean;
  rowCount: number;
  /** Outbox blob name of the row-level report, when one was written. */
  reportBlob?: string;
  problemCount: number;
  /** One human sentence, e.g. "3 rows have a geometry that is not a WKT LINESTRING". */
  summary: string;
}

/**
 * Result of `prepareInput` (input: `MatchInput`): the user's file turned into GEM-ready Parquet, or refused
 * with the run's validation report (then no GEM job is submitted).
 */
export type PrepareInputResult =
  | {
      valid: true;
      prepared: PreparedInput;
      /** What the reader decided that the user should know (not problems). */
      notes: string[];
    }
  | { valid: false; validation: ValidateInputResult };

/**
 * Input of `validateInput` and `stageInput`: the request, and the file `prepareInput` made of its source,
 * which they read instead of the source. Absent for runs that are not prepared (lane-level inputs, files
 * already in PDG storage, and runs started before preparing existed).
 */
export type PreparedMatchInput = MatchInput & { preparedFile?: PreparedInput['prepared'] };

/** Result of `stageInput` (input: `PreparedMatchInput`). */
export interface StageInputResult {
  /** The file name inside the PDG `default` container that GEM is asked to match. */
  pdgFilename: string;
  sha256: string | null;
  size: number | null;
  /** True when the file was already in PDG storage (content-unique name, or a `pdg` source). */
  skipped: boolean;
  /** How the bytes moved (shared/staging/copy.ts); null when nothing was copied. */
  method?: 'server-side' | 'streamed' | null;
  /** Why the server-side copy was not used, when `method` is 'streamed' (a status and error code, no URL). */
  fallbackReason?: string;
  /** Bytes of the input the app process downloaded: 0 when skipped or copied server-side. */
  bytesThroughApp?: number;
}

/** Input of `partitionInput`: the file to match (as `stageInput` would read it) and the most roads per part. */
export interface PartitionInputInput {
  file: PreparedMatchInput;
  maxRoadsPerJob: number;
}

/** One part of a partitioned input: a GEM-ready Parquet in the outbox (blob names only, no secret). */
export interface InputPart {
  index: number;
  file: PreparedInput['prepared'];
  rows: number;
}

/** Result of `partitionInput`: the parts in index order. */
export interface PartitionInputResult {
  parts: InputPart[];
}

/** Input of `submitJob`: the request's GEM fields, and the staged file's name in the PDG storage. */
export interface SubmitJobInput
  extends Pick<MatchInput, 'storageId' | 'jobType' | 'overtureRelease' | 'orbisVersion'> {
  filename: string;
}

/** Result of `submitJob`. */
export interface SubmitJobResult {
  jobId: number;
  /** True when an existing non-FAILED job for the same storage and file was found and reused. */
  reused: boolean;
  status: string;
}

/**
 * Result of `submitPartJob`: the job, or TomTom's refusal to create one (429) as data, with how long it asked
 * to wait, so the partitioned run shrinks its window and waits on a durable timer instead of in real time.
 */
export type SubmitPartJobResult =
  | ({ refused: false } & SubmitJobResult)
  | { refused: true; retryAfterSeconds: number | null; message: string };

/** Input of `pollJob`. */
export interface PollJobInput {
  jobId: number;
}

/**
 * A poll that could not read the job. The activity returns it instead of throwing, so the monitor loop
 * keeps control (an uncaught error would end the instance).
 */
export interface PollJobError {
  message: string;
  /** True for errors a retry cannot fix (job not found, access revoked); false for transient ones. */
  permanent: boolean;
}

/** Result of `pollJob`. */
export interface PollJobResult {
  jobId: number;
  status: string;
  terminal: boolean;
  succeeded: boolean;
  resultFilename: string | null;
  statistics: Record<string, unknown> | null;
  /** GEM's failure message for FAILED jobs. */
  message: string | null;
  error?: PollJobError | null;
}

/** Where one piece of a run's raw GEM results is. */
export type ResultSource =
  /** A GEM job's result file in the run's PDG storage (`request.storageId`). */
  | { kind: 'pdg'; filename: string }
  /** A results-shaped Parquet in the outbox (e.g. results carried over from an earlier run). */
  | { kind: 'outbox'; blobName: string };

/** Input of `deliverResults`: everything needed to write the outbox documents. */
export interface DeliverResultsInput {
  request: MatchInput;
  /** The orchestration instance, recorded in the outbox documents so a reader can find the run. */
  instanceId: string;
  /** The file GEM matched, inside the PDG storage; null when no job was needed (see `jobId`). */
  pdgFilename: string | null;
  /** Null when an incremental run had no new or changed row: its results are all carried over. */
  jobId: number | null;
  /** The terminal poll, or null when the deadline passed first. */
  poll: PollJobResult | null;
  timedOut: boolean;
  /** The GEM status the last successful poll read; what a timed-out job was last seen doing. */
  lastGemStatus: string | null;
  /** The monitoring deadline (ISO). */
  deadline: string;
  /** When the orchestration started (ISO). */
  startedAt: string;
  /** When the GEM job was submitted (ISO); null when there was none. */
  submittedAt: string | null;
  polls: number;
  finishedAt: string;
  /**
   * How the source was read and prepared, so the enriched output can be joined; absent in inputs scheduled
   * before it existed (those runs deliver the raw results and the summary only).
   */
  prepared?: PreparedInput;
  /** What the summary says of an incremental run; absent for runs that did not ask for one. */
  incremental?: IncrementalSummary;
  /**
   * When set, results.parquet is the merge of these, in order (partitioned or incremental runs), and
   * `poll.statistics` should be their combined statistics (shared/results/statistics.ts); else the single
   * job's `poll.resultFilename` as before.
   */
  resultSources?: ResultSource[];
}

/** Result of `deliverResults`. */
export interface DeliverResultsResult {
  outcome: Exclude<MatchOutcome, 'invalid-input'>;
  outputs: MatchOutputs;
  /** Outbox blob name of the summary (success) or error document (failure, timeout). */
  summaryBlob: string;
  message?: string;
  /** The enriched output's counts, when it was written. */
  counts?: EnrichmentCounts;
}

/**
 * Input of `notify`: the activity reads the document from the outbox and signs it with the secret it holds.
 * `summaryBlob` is in the run's own folder, which no other run writes to; `instanceId` is checked against the
 * document, so a callback never carries another run's summary.
 */
export interface NotifyInput {
  url: string;
  summaryBlob: string;
  /** The run sending; absent in inputs scheduled before it existed. */
  instanceId?: string;
}

/** Result of `notify`; a failed delivery never fails the match. */
export type NotifyResult = NotificationOutcome;

/** Input of `recordFailure`: the match could not be finished; the activity writes the run's `error.json`. */
export interface RecordFailureInput {
  request: MatchInput;
  instanceId: string;
  /** The phase the match was in when it failed. */
  phase: MatchPhase;
  /** The failure, as the orchestrator saw it (typed errors carry no secrets). */
  message: string;
  jobId: number | null;
  lastGemStatus: string | null;
  /** When the orchestration started (ISO); absent in inputs scheduled before it was recorded. */
  startedAt?: string;
  submittedAt: string | null;
  polls: number;
  finishedAt: string;
}

/** Result of `recordFailure`. */
export interface RecordFailureResult {
  errorBlob: string;
}

/** Input of `planIncremental`: the run, and its full prepared file (what validation accepted). */
export interface PlanIncrementalInput {
  request: MatchInput;
  instanceId: string;
  prepared: PreparedInput;
}

/** Rows of the current file against the previous run's (shared/incremental/classify.ts). */
export interface IncrementalCounts {
  unchanged: number;
  changed: number;
  new: number;
  deleted: number;
}

/**
 * Result of `planIncremental`: either what to send GEM instead of the whole file (the new and changed rows) and
 * the previous results carried over for the rest, or why the run is a full match after all.
 */
export type PlanIncrementalResult =
  | {
      applied: true;
      /** The run compared with. */
      previousMatchId: string;
      counts: IncrementalCounts;
      /** The new and changed rows, GEM-ready (same columns as the prepared file); staged instead of it. */
      delta: PreparedInput['prepared'] & { rows: number };
      /** The previous results of the unchanged rows, results-shaped, in the outbox. */
      carried: { blobName: string; rows: number };
    }
  | {
      applied: false;
      /** Why every row goes to GEM: no previous run, another release, a colliding id digest, … */
      reason: string;
      previousMatchId: string | null;
    };

/** What the summary says of an incremental run (`incremental` in summary.json and the match status). */
export type IncrementalSummary =
  | {
      applied: true;
      previousMatchId: string;
      unchanged: number;
      changed: number;
      new: number;
      deleted: number;
      /** Rows sent to GEM: changed + new. */
      gemRowsSubmitted: number;
      /** Unchanged rows ÷ GEM_SEGMENTS_PER_HOUR: the GEM time a full re-match would have spent on them. */
      gemHoursAvoided: number;
    }
  | { applied: false; reason: string; previousMatchId: string | null };

/**
 * The activities of `matchFile`, one method each: the method's name is the activity's registered name, its
 * parameter the activity's input and its result the activity's output (functions/activities.ts registers
 * them from this interface; shared/activities/match.ts implements it).
 */
export interface MatchActivities {
  prepareInput(input: MatchInput): Promise<PrepareInputResult>;
  validateInput(input: PreparedMatchInput): Promise<ValidateInputResult>;
  stageInput(input: PreparedMatchInput): Promise<StageInputResult>;
  submitJob(input: SubmitJobInput): Promise<SubmitJobResult>;
  partitionInput(input: PartitionInputInput): Promise<PartitionInputResult>;
  submitPartJob(input: SubmitJobInput): Promise<SubmitPartJobResult>;
  pollJob(input: PollJobInput): Promise<PollJobResult>;
  deliverResults(input: DeliverResultsInput): Promise<DeliverResultsResult>;
  notify(input: NotifyInput): Promise<NotifyResult>;
  recordFailure(input: RecordFailureInput): Promise<RecordFailureResult>;
  planIncremental(input: PlanIncrementalInput): Promise<PlanIncrementalResult>;
}
