/**
 * The `recordFailure` activity: a match that could not be finished still leaves a trace, the run's
 * `error.json` (phase, message, job id) with `latest.json` pointing at it. Same input, same document: running
 * twice rewrites identical bytes.
 */
import type { Services } from '../services.js';
import { outboxBlobNames } from '../workflow/outboxNames.js';
import { buildFailureDocument } from '../workflow/summary.js';
import type { RecordFailureInput, RecordFailureResult } from '../workflow/types.js';
import { recordLatest, writeRunDocument } from './matchStorage.js';

export async function recordFailure(
  services: Pick<Services, 'outbox'>,
  input: RecordFailureInput,
): Promise<RecordFailureResult> {
  const errorBlob = outboxBlobNames(input.request.outbox).error;
  await writeRunDocument(
    services,
    errorBlob,
    buildFailureDocument({
      input: input.request,
      startedAt: input.startedAt ?? null,
      instanceId: input.instanceId,
      jobId: input.jobId,
      polls: input.polls,
      submittedAt: input.submittedAt,
      completedAt: input.finishedAt,
      phase: input.phase,
      message: input.message,
      lastGemStatus: input.lastGemStatus,
    }),
  );
  await recordLatest(services, input.request, 'failed', { error: errorBlob });
  return { errorBlob };
}
