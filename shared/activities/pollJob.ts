/**
 * The `pollJob` activity: one look at the GEM job. A failure to read it is returned as data, never thrown, so
 * the orchestrator's monitor loop keeps control: an uncaught failure would end the instance.
 */
import { errorMessage } from '../errors.js';
import type { Services } from '../services.js';
import {
  TomTomApiError,
  TomTomForbiddenError,
  TomTomNotFoundError,
  TomTomUnauthorizedError,
} from '../tomtom/errors.js';
import { isSuccessfulGemStatus, isTerminalGemStatus } from '../workflow/monitor.js';
import type { PollJobInput, PollJobResult } from '../workflow/types.js';

export async function pollJob(
  services: Pick<Services, 'tomtom'>,
  { jobId }: PollJobInput,
): Promise<PollJobResult> {
  try {
    const job = await services.tomtom.getJob(jobId);
    return {
      jobId,
      status: job.status,
      terminal: isTerminalGemStatus(job.status),
      succeeded: isSuccessfulGemStatus(job.status),
      resultFilename: job.resultFilename,
      statistics: job.statistics ? { ...job.statistics } : null,
      message: job.failureMessage ?? null,
      error: null,
    };
  } catch (error) {
    // Transient: throttling, 5xx, network. Permanent: the job is gone or access was withdrawn (after the
    // client's own refresh-and-retry), and anything that is not a TomTom API error at all — a defect that
    // polling for 48 hours would not cure.
    const permanent =
      !(error instanceof TomTomApiError) ||
      error instanceof TomTomNotFoundError ||
      error instanceof TomTomForbiddenError ||
      error instanceof TomTomUnauthorizedError;
    const message = errorMessage(error);
    return {
      jobId,
      status: 'UNKNOWN',
      terminal: false,
      succeeded: false,
      resultFilename: null,
      statistics: null,
      message: null,
      error: { message, permanent },
    };
  }
}
