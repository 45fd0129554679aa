// GEM job handlers (gen B, snake_case): create with body validation (and the per-user job limit, when one
// is set), list by required job_type, get by integer id. Users see only their own jobs.
import type { Caller } from './auth.js';
import type { ConcurrencyRefusal, JobStore } from './jobs.js';
import { type PdgDeps, resolveStorage } from './pdg.js';
import { badRequest, type FieldError, json, notFound, type SimResponse, tomtomError } from './responses.js';
import { JOB_TYPES, type JobType } from './types.js';

export const OVERTURE_RELEASE = /^\d{4}-\d{2}-\d{2}\.\d+$/;
export const ORBIS_VERSION = /^\d+\.\d+$/;

export interface CreateJobBody {
  storage_id: string;
  filename: string;
  job_type: JobType;
  overture_release?: string;
  orbis_version?: string;
}

/** Validates a create-job request; every problem is reported as a {field, reason} detail. */
export function parseCreateJob(
  contentType: string | undefined,
  raw: string,
): { ok: true; value: CreateJobBody } | { ok: false; response: SimResponse } {
  if (!contentType || !/^application\/([\w.+-]+\+)?json\b/i.test(contentType.trim())) {
    return {
      ok: false,
      response: tomtomError(415, 'UnsupportedMediaType', "Content-Type must be 'application/json'."),
    };
  }
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { ok: false, response: badRequest('The request body is not valid JSON.') };
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, response: badRequest('The request body must be a JSON object.') };
  }
  const b = body as Record<string, unknown>;
  const details: FieldError[] = [];
  const str = (field: string) => {
    const v = b[field];
    if (v === undefined || v === null) details.push({ field, reason: 'is required' });
    else if (typeof v !== 'string' || !v.trim())
      details.push({ field, reason: 'must be a non-empty string' });
    else return v;
    return undefined;
  };
  const storageId = str('storage_id');
  const filename = str('filename');
  const jobType = str('job_type');
  if (jobType !== undefined && !JOB_TYPES.includes(jobType as JobType)) {
    details.push({ field: 'job_type', reason: `must be one of ${JOB_TYPES.join(', ')}` });
  }
  if (jobType === 'ROAD_MATCHING') {
    const v = str('overture_release');
    if (v !== undefined && !OVERTURE_RELEASE.test(v)) {
      details.push({
        field: 'overture_release',
        reason: 'must have the format YYYY-MM-DD.N, e.g. 2026-01-21.0',
      });
    }
  }
  if (jobType === 'LANE_LEVEL_MATCHING') {
    const v = str('orbis_version');
    if (v !== undefined && !ORBIS_VERSION.test(v)) {
      details.push({
        field: 'orbis_version',
        reason: 'must have the format <LAYER_ID>.<REVISION>, e.g. 123456.1',
      });
    }
  }
  if (details.length > 0) {
    return { ok: false, response: badRequest('The request body is invalid.', details) };
  }
  return {
    ok: true,
    value: {
      storage_id: storageId!,
      filename: filename!,
      job_type: jobType as JobType,
      ...(jobType === 'ROAD_MATCHING'
        ? { overture_release: b.overture_release as string }
        : { orbis_version: b.orbis_version as string }),
    },
  };
}

export async function createJob(
  jobs: JobStore,
  pdg: PdgDeps,
  caller: Caller,
  contentType: string | undefined,
  raw: string,
): Promise<SimResponse> {
  const parsed = parseCreateJob(contentType, raw);
  if (!parsed.ok) return parsed.response;
  const body = parsed.value;
  const storage = resolveStorage(pdg, body.storage_id, caller);
  if ('status' in storage) return storage;
  const admission = await jobs.submit({
    owner: caller.oid,
    storageId: storage.id,
    filename: body.filename,
    jobType: body.job_type,
    overtureRelease: body.overture_release,
    orbisVersion: body.orbis_version,
  });
  return admission.accepted ? json(201, admission.job) : tooManyJobs(admission.refusal);
}

/** The refusal names what counts, the limit and when to come back; the body shape is TomTom's gateway one. */
export function tooManyJobs(refusal: ConcurrencyRefusal): SimResponse {
  const { active, limit, retryAfterSeconds } = refusal;
  const message =
    `Too many concurrent matching jobs: you have ${active} jobs REQUESTED or IN_PROGRESS and at most ${limit} ` +
    `are allowed at once. Submit again after one has finished (in about ${retryAfterSeconds} seconds).`;
  return {
    ...tomtomError(429, 'TooManyRequests', message),
    headers: { 'retry-after': String(retryAfterSeconds) },
    refusal: CONCURRENT_JOB_LIMIT,
  };
}

/** How a refusal by the per-user job limit is labelled in the request log. */
export const CONCURRENT_JOB_LIMIT = 'concurrent-job-limit';

export async function listJobs(jobs: JobStore, caller: Caller, jobType: string | null): Promise<SimResponse> {
  if (!jobType || !JOB_TYPES.includes(jobType as JobType)) {
    return badRequest(
      jobType
        ? `Query parameter 'job_type' has an invalid value '${jobType}'.`
        : "Query parameter 'job_type' is required.",
      [{ field: 'job_type', reason: `must be one of ${JOB_TYPES.join(', ')}` }],
    );
  }
  const mine = await jobs.list(caller.oid, jobType as JobType);
  return json(200, { jobs: mine.map(({ owner_oid: _owner, ...job }) => job) });
}

export async function getJob(jobs: JobStore, caller: Caller, rawId: string): Promise<SimResponse> {
  if (!/^\d{1,15}$/.test(rawId)) {
    return badRequest(`Job id '${rawId}' is not an integer.`, [
      { field: 'job_id', reason: 'must be an integer' },
    ]);
  }
  const job = await jobs.get(Number(rawId), caller.oid);
  // Another user's job is indistinguishable from a missing one.
  return job ? json(200, job) : notFound(`Job ${rawId} was not found.`);
}
