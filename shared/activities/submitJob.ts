/**
 * The `submitJob` activity: find-or-create of the GEM job for the staged file. GEM has no idempotency key and
 * a duplicate job costs hours, so an existing job for the same storage, file and data version is reused.
 */
import { GemFlowError } from '../errors.js';
import type { Services } from '../services.js';
import type { CallOptions } from '../tomtom/client.js';
import { TomTomThrottledError } from '../tomtom/errors.js';
import type { GemJob } from '../tomtom/models.js';
import type { SubmitJobInput, SubmitJobResult, SubmitPartJobResult } from '../workflow/types.js';

export class UnexpectedJobIdError extends GemFlowError {
  readonly code = 'UnexpectedJobId';
}

export function submitJob(
  services: Pick<Services, 'tomtom'>,
  input: SubmitJobInput,
): Promise<SubmitJobResult> {
  return findOrCreateJob(services, input, {});
}

/**
 * `submitJob` for one part of a partitioned run: the create is sent once, and TomTom's refusal (429, e.g. a
 * concurrent-job limit) comes back as data with its Retry-After instead of being waited out here in real time,
 * so the orchestration can shrink its window and wait on a durable timer.
 */
export async function submitPartJob(
  services: Pick<Services, 'tomtom'>,
  input: SubmitJobInput,
): Promise<SubmitPartJobResult> {
  try {
    return { refused: false, ...(await findOrCreateJob(services, input, { retryRefusals: false })) };
  } catch (error) {
    if (!(error instanceof TomTomThrottledError)) throw error;
    const seconds = error.retryAfterMs === undefined ? null : Math.ceil(error.retryAfterMs / 1000);
    return { refused: true, retryAfterSeconds: seconds, message: error.message };
  }
}

async function findOrCreateJob(
  services: Pick<Services, 'tomtom'>,
  input: SubmitJobInput,
  options: CallOptions,
): Promise<SubmitJobResult> {
  const { tomtom } = services;
  // The filename is derived from the content, so an existing non-FAILED job for it is exactly the job this
  // match wants.
  const existing = (await tomtom.listJobs(input.jobType))
    .filter(
      (job) =>
        job.storageId === input.storageId &&
        job.inputFilename === input.filename &&
        job.status !== 'FAILED' &&
        sameVersion(job, input),
    )
    .sort((a, b) => (b.requestedAt ?? '').localeCompare(a.requestedAt ?? ''));
  const reusable = existing[0];
  if (reusable) return { jobId: numericJobId(reusable), reused: true, status: reusable.status };
  const created = await tomtom.createJob(
    {
      storageId: input.storageId,
      filename: input.filename,
      jobType: input.jobType,
      ...(input.overtureRelease ? { overtureRelease: input.overtureRelease } : {}),
      ...(input.orbisVersion ? { orbisVersion: input.orbisVersion } : {}),
    },
    options,
  );
  return { jobId: numericJobId(created), reused: false, status: created.status };
}

function sameVersion(job: GemJob, input: SubmitJobInput): boolean {
  if (input.jobType === 'ROAD_MATCHING')
    return !job.overtureRelease || job.overtureRelease === input.overtureRelease;
  return !job.orbisVersion || job.orbisVersion === input.orbisVersion;
}

function numericJobId(job: GemJob): number {
  const id = Number(job.jobId);
  if (!Number.isSafeInteger(id)) {
    throw new UnexpectedJobIdError(`GEM returned a job id gem-flow cannot follow: "${job.jobId}".`, {
      remedy: 'gem-flow follows GEM jobs with integer ids (the current API); check TOMTOM_GEM_BASE_PATH.',
    });
  }
  return id;
}
