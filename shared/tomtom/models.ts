/**
 * The shapes of TomTom's PDG and GEM responses as zod schemas, and the types derived from them. TomTom's
 * documentation has two generations (camelCase and snake_case fields, legacy lowercase statuses); the schemas
 * accept both, map them onto one model, and keep unknown fields (`looseObject`) so an addition never breaks a
 * running match.
 */
import { inspect } from 'node:util';
import { z } from 'zod';
import type { JobType } from '../jobTypes.js';
import { JobRequestValidationError } from './errors.js';

// Response schemas keep unknown fields (`looseObject`): the API has two doc generations and may add more.

const storageSummarySchema = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  createdAt: z.string().optional(),
});

const storageFileSchema = z.looseObject({
  name: z.string(),
  size: z.number().optional(),
  uploadedAt: z.string().optional(),
});

export const listStoragesResponseSchema = z.union([
  z.looseObject({ storages: z.array(storageSummarySchema) }).transform((body) => body.storages),
  z.array(storageSummarySchema),
]);

export const storageDetailsSchema = storageSummarySchema.extend({
  description: z.string().optional(),
  region: z.string().optional(),
  modifiedAt: z.string().optional(),
  files: z.array(storageFileSchema).optional(),
});

export type StorageSummary = z.infer<typeof storageSummarySchema>;
export type StorageFile = z.infer<typeof storageFileSchema>;
export type StorageDetails = z.infer<typeof storageDetailsSchema>;
export type CredentialType = 'READ_WRITE' | 'READ';

/** Statuses documented today; others (and legacy lowercase ones, normalised) pass through as strings. */
export type JobStatus = 'REQUESTED' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILED' | (string & {});

export function isTerminalJobStatus(status: JobStatus): boolean {
  return status === 'SUCCESS' || status === 'FAILED';
}

export interface RoadMatchingStatistics {
  confidence_threshold: number;
  execution_time_sec: number;
  kms_processed: number;
  num_roads_processed: number;
  roads_fully_matched_ratio: number;
  roads_matched_ratio: number;
  roads_partially_matched_ratio: number;
  roads_unmatched_ratio: number;
  [extra: string]: unknown;
}

const roadMatchingStatisticsSchema = z.looseObject({
  confidence_threshold: z.number(),
  execution_time_sec: z.number(),
  kms_processed: z.number(),
  num_roads_processed: z.number(),
  roads_fully_matched_ratio: z.number(),
  roads_matched_ratio: z.number(),
  roads_partially_matched_ratio: z.number(),
  roads_unmatched_ratio: z.number(),
});

/** One GEM job, whichever API generation described it. */
export interface GemJob {
  /** `job_id` (an integer today) or legacy `jobRunId`, as a string so both fit. */
  readonly jobId: string;
  readonly jobType: JobType | (string & {});
  readonly storageId: string;
  readonly inputFilename: string;
  /** Set once the job succeeded. */
  readonly resultFilename: string | null;
  readonly status: JobStatus;
  readonly requestedAt: string | null;
  readonly overtureRelease?: string;
  readonly orbisVersion?: string;
  /** `RoadMatchingStatistics` when the documented fields are all there, otherwise whatever was returned. */
  readonly statistics: RoadMatchingStatistics | Record<string, unknown> | null;
  /** Best effort: the docs say a FAILED job carries a message but not under which field. */
  readonly failureMessage?: string;
  /** Legacy jobs report a percentage while running. */
  readonly progress?: number;
  /** The job exactly as returned, including fields this client does not know. */
  readonly raw: Readonly<Record<string, unknown>>;
}

const LEGACY_STATUSES: Readonly<Record<string, JobStatus>> = {
  queued: 'REQUESTED',
  running: 'IN_PROGRESS',
  finished: 'SUCCESS',
  failed: 'FAILED',
};

const optionalText = z.string().nullish();

const currentJobSchema = z.looseObject({
  job_id: z.union([z.number(), z.string()]),
  job_type: z.string(),
  storage_id: z.string(),
  input_filename: z.string(),
  result_filename: optionalText,
  status: z.string(),
  requested_at: optionalText,
  overture_release: optionalText,
  orbis_version: optionalText,
  statistics: z.record(z.string(), z.unknown()).nullish(),
});

const legacyJobSchema = z.looseObject({
  jobRunId: z.union([z.string(), z.number()]),
  storageId: z.string(),
  inputFileName: z.string(),
  outputFileName: optionalText,
  status: z.string(),
  matchingType: optionalText,
  overtureRelease: optionalText,
  createdAt: optionalText,
  progress: z.number().nullish(),
  statistics: z.record(z.string(), z.unknown()).nullish(),
});

function findFailureMessage(raw: Record<string, unknown>): string | undefined {
  for (const field of ['message', 'error_message', 'failure_reason', 'error', 'errorMessage', 'reason']) {
    const value = raw[field];
    if (typeof value === 'string' && value.trim()) return value;
    if (value && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string') {
      return (value as { message: string }).message;
    }
  }
  return undefined;
}

function typedStatistics(statistics: Record<string, unknown> | null | undefined): GemJob['statistics'] {
  if (!statistics) return null;
  const parsed = roadMatchingStatisticsSchema.safeParse(statistics);
  return parsed.success ? (parsed.data as RoadMatchingStatistics) : statistics;
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export const gemJobSchema: z.ZodType<GemJob, unknown> = z.union([
  currentJobSchema.transform(
    (job): GemJob =>
      withoutUndefined({
        jobId: String(job.job_id),
        jobType: job.job_type,
        storageId: job.storage_id,
        inputFilename: job.input_filename,
        resultFilename: job.result_filename ?? null,
        status: LEGACY_STATUSES[job.status] ?? job.status,
        requestedAt: job.requested_at ?? null,
        overtureRelease: job.overture_release ?? undefined,
        orbisVersion: job.orbis_version ?? undefined,
        statistics: typedStatistics(job.statistics),
        failureMessage: findFailureMessage(job),
        raw: job,
      }),
  ),
  legacyJobSchema.transform(
    (job): GemJob =>
      withoutUndefined({
        jobId: String(job.jobRunId),
        // Legacy jobs only knew road matching (`matchingType: "road"`).
        jobType: 'ROAD_MATCHING',
        storageId: job.storageId,
        inputFilename: job.inputFileName,
        resultFilename: job.outputFileName ?? null,
        status: LEGACY_STATUSES[job.status] ?? job.status,
        requestedAt: job.createdAt ?? null,
        overtureRelease: job.overtureRelease ?? undefined,
        statistics: typedStatistics(job.statistics),
        failureMessage: findFailureMessage(job),
        progress: job.progress ?? undefined,
        raw: job,
      }),
  ),
]);

export const listJobsResponseSchema = z.union([
  z.looseObject({ jobs: z.array(gemJobSchema) }).transform((body) => body.jobs),
  z.array(gemJobSchema),
]);

/** What to match. The version field that the job type needs is required; the other one is ignored. */
export interface CreateJobRequest {
  readonly storageId: string;
  /** Blob name of the uploaded input in the storage's `default` container, with extension. */
  readonly filename: string;
  readonly jobType: JobType;
  /** Required for ROAD_MATCHING, format YYYY-MM-DD.N (e.g. 2026-01-21.0). */
  readonly overtureRelease?: string;
  /** Required for LANE_LEVEL_MATCHING, format <LAYER_ID>.<REVISION> (e.g. 123456.1). */
  readonly orbisVersion?: string;
}

/** The create-job body as the GEM API expects it, after validation. */
export function toCreateJobBody(request: CreateJobRequest): Record<string, string> {
  if (!request.storageId?.trim()) throw new JobRequestValidationError('storage_id', 'is required');
  if (!request.filename?.trim()) throw new JobRequestValidationError('filename', 'is required');
  const base = { storage_id: request.storageId, filename: request.filename };
  switch (request.jobType) {
    case 'ROAD_MATCHING':
      if (!request.overtureRelease) {
        throw new JobRequestValidationError(
          'overture_release',
          'is required for ROAD_MATCHING jobs (e.g. 2026-01-21.0)',
        );
      }
      if (!/^\d{4}-\d{2}-\d{2}\.\d+$/.test(request.overtureRelease)) {
        throw new JobRequestValidationError(
          'overture_release',
          `must look like YYYY-MM-DD.N, got "${request.overtureRelease}"`,
        );
      }
      return { ...base, job_type: request.jobType, overture_release: request.overtureRelease };
    case 'LANE_LEVEL_MATCHING':
      if (!request.orbisVersion) {
        throw new JobRequestValidationError(
          'orbis_version',
          'is required for LANE_LEVEL_MATCHING jobs (e.g. 123456.1)',
        );
      }
      if (!/^\d+\.\d+$/.test(request.orbisVersion)) {
        throw new JobRequestValidationError(
          'orbis_version',
          `must look like <LAYER_ID>.<REVISION>, got "${request.orbisVersion}"`,
        );
      }
      return { ...base, job_type: request.jobType, orbis_version: request.orbisVersion };
    default:
      throw new JobRequestValidationError(
        'job_type',
        `must be ROAD_MATCHING or LANE_LEVEL_MATCHING, got "${String((request as { jobType: unknown }).jobType)}"`,
      );
  }
}

/** Credentials body: `{"credentials":"hvs…"}` on some doc pages, a bare `hvs…` string on others. */
export function parseWrappedToken(bodyText: string): string | undefined {
  const text = bodyText.trim();
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json === 'string') return json.trim() || undefined;
    if (json && typeof json === 'object') {
      const value = (json as Record<string, unknown>).credentials ?? (json as Record<string, unknown>).token;
      return typeof value === 'string' && value.trim() ? value.trim() : undefined;
    }
    return undefined;
  } catch {
    return /^\S+$/.test(text) ? text : undefined;
  }
}

/** The service principal that may read (and with READ_WRITE, write) the storage's blob container. */
export interface UnwrappedStorageCredentials {
  readonly clientId: string;
  /** Not enumerable, and redacted from JSON and `util.inspect`: read it only to build a credential. */
  readonly clientSecret: string;
  readonly storageId: string;
  readonly tenantId: string | null;
  /** `https://<account>.blob.core.windows.net/<container>/` */
  readonly containerUrl: string;
}

const unwrapResponseSchema = z.looseObject({
  data: z.looseObject({
    credentials: z
      .looseObject({
        clientId: z.string().optional(),
        clientSecret: z.string().optional(),
        client_id: z.string().optional(),
        client_secret: z.string().optional(),
      })
      .optional(),
    id: z.string().optional(),
    tenant_id: z.string().nullish(),
    url: z.string().optional(),
    account: z.string().optional(),
    container: z.string().optional(),
  }),
});

/** Reads Vault's unwrap payload; returns a description of what is missing when it is unusable. */
export function toUnwrappedStorageCredentials(body: unknown): UnwrappedStorageCredentials | string {
  const parsed = unwrapResponseSchema.safeParse(body);
  if (!parsed.success) return 'the response has no "data" object';
  const { data } = parsed.data;
  const clientId = data.credentials?.clientId ?? data.credentials?.client_id;
  const clientSecret = data.credentials?.clientSecret ?? data.credentials?.client_secret;
  const containerUrl =
    data.url ??
    (data.account
      ? `https://${data.account}.blob.core.windows.net/${data.container ?? 'default'}/`
      : undefined);
  const storageId = data.id ?? data.account;
  if (!clientId || !clientSecret) return 'data.credentials.clientId/clientSecret are missing';
  if (!containerUrl || !URL.canParse(containerUrl))
    return 'data.url (the blob container URL) is missing or invalid';
  if (!storageId) return 'data.id (the storage id) is missing';

  const credentials = { clientId, storageId, tenantId: data.tenant_id ?? null, containerUrl };
  Object.defineProperty(credentials, 'clientSecret', { value: clientSecret, enumerable: false });
  Object.defineProperty(credentials, 'toJSON', {
    value: () => ({ ...credentials, clientSecret: '[redacted]' }),
    enumerable: false,
  });
  Object.defineProperty(credentials, inspect.custom, {
    value: () => `UnwrappedStorageCredentials ${inspect({ ...credentials, clientSecret: '[redacted]' })}`,
    enumerable: false,
  });
  return Object.freeze(credentials) as UnwrappedStorageCredentials;
}
