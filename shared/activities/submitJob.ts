/**
 * The `submitJob` activity: find-or-create of the GEM job for the staged file. GEM has no idempotency key and
 * a duplicate job costs hours, so an existing job for the same storage, file and data version is reused.
 */
import { GemFlowError } from '../errors.js';
import type { Services } from '../services.js';
import type { GemJob } from '../tomtom/models.js';
import type { SubmitJobInput, SubmitJobResult } from '../workflow/types.js';

export class UnexpectedJobIdError extends GemFlowError {
  readonly code = 'UnexpectedJobId';
}

export async function submitJob(
  services: Pick<Services, 'tomtom'>,
  input: SubmitJobInput,
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
  const created = await tomtom.createJob({
    storageId: input.storageId,
    filename: input.filename,
    jobType: input.jobType,
    ...(input.overtureRelease ? { overtureRelease: input.overtureRelease } : {}),
    ...(input.orbisVersion ? { orbisVersion: input.orbisVersion } : {}),
  });
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
