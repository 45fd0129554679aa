/**
 * The activities of the `matchFile` workflow. Each is idempotent (events arrive at least once, activities may
 * run twice, hosts crash) and each obtains its own secrets: the API key, tokens and the unwrapped service
 * principal never leave this module, so they never reach orchestration history.
 */
import type { BlobClient } from '@azure/storage-blob';
import { GemFlowError } from '../errors.js';
import { normaliseEtag } from '../etag.js';
import { readJsonBlob, recordLatestRun, writeJsonBlob } from '../outbox.js';
import {
  blobAsyncBuffer,
  type ValidationReport,
  validateLaneLevelCsvHeader,
  validateLaneLevelInput,
  validateRoadMatchingInput,
} from '../parquet/index.js';
import { getServices, type Services } from '../services.js';
import { deliverResult, stageInput as stageIntoPdg } from '../staging/index.js';
import {
  type GemJob,
  TomTomApiError,
  TomTomForbiddenError,
  TomTomNotFoundError,
  TomTomUnauthorizedError,
} from '../tomtom/index.js';
import { callbackTargetProblem, parseAllowList } from '../workflow/callbackTarget.js';
import { isSuccessfulGemStatus, isTerminalGemStatus } from '../workflow/monitor.js';
import { buildNotificationRequest, sendNotification } from '../workflow/notify.js';
import { type LatestOutcome, outboxBlobNames } from '../workflow/outboxNames.js';
import {
  buildErrorDocument,
  buildFailureDocument,
  buildSummary,
  buildTimeoutDocument,
} from '../workflow/summary.js';
import type { MatchActivities, MatchInput, MatchOutputs, SubmitJobInput } from '../workflow/types.js';

export class SourceChangedError extends GemFlowError {
  readonly code = 'SourceChanged';
}

export class PdgFileMissingError extends GemFlowError {
  readonly code = 'PdgFileMissing';
}

let defaultActivities: MatchActivities | undefined;

/** The activities wired to the process-wide services. */
export function matchActivities(): MatchActivities {
  defaultActivities ??= createMatchActivities(getServices());
  return defaultActivities;
}

export function createMatchActivities(services: Services): MatchActivities {
  const { tomtom } = services;

  /** The inbox blob the match was started for; fails if it was replaced since (a newer upload has its own match). */
  async function pinnedSource(input: MatchInput): Promise<{ blob: BlobClient; etag: string; size: number }> {
    if (input.source.kind !== 'inbox') throw new Error('pinnedSource is for inbox sources');
    const { container, blobName, etag: expected } = input.source;
    const blob = services.appBlobs.getContainerClient(container).getBlobClient(blobName);
    const properties = await blob.getProperties();
    const etag = properties.etag ?? '';
    if (expected && normaliseEtag(etag) !== normaliseEtag(expected)) {
      throw new SourceChangedError(`${container}/${blobName} was replaced after this match started.`, {
        remedy: 'Nothing to do: the newer upload is matched by its own run.',
      });
    }
    return { blob, etag, size: properties.contentLength ?? 0 };
  }

  const writeJson = (blobName: string, document: unknown) =>
    writeJsonBlob(services.outbox, blobName, document);

  /** This run's documents are written: `latest.json` of its name moves to it unless a newer run holds it. */
  const recordLatest = (request: MatchInput, outcome: LatestOutcome, outputs: MatchOutputs) =>
    recordLatestRun(services.outbox, request.outbox.nameKey, {
      source: request.source,
      run: request.outbox.run,
      requestedAt: request.requestedAt,
      outcome,
      outputs,
    });

  async function pdgContainerFor(storageId: string, type: 'READ_WRITE' | 'READ') {
    // A wrapped token is single use, so every staging or delivery session unwraps a fresh one.
    const wrapped = await tomtom.getStorageCredentials(storageId, type);
    const credentials = await tomtom.unwrapStorageCredentials(wrapped);
    return { container: services.pdgContainer(credentials), clientSecret: credentials.clientSecret };
  }

  return {
    async validateInput(input) {
      if (input.source.kind === 'pdg') {
        return {
          valid: true,
          rowCount: 0,
          problemCount: 0,
          summary: 'The file is already in PDG storage; GEM checks it when the job starts.',
        };
      }
      const { blob, etag, size } = await pinnedSource(input);
      const file = await blobAsyncBuffer(blob, { etag, size });
      const limits = services.settings.validation;
      let report: ValidationReport;
      if (input.jobType === 'ROAD_MATCHING') {
        report = await validateRoadMatchingInput(file, { limits });
      } else if (input.source.blobName.toLowerCase().endsWith('.csv')) {
        const head = await file.slice(0, Math.min(size, 64 * 1024));
        report = validateLaneLevelCsvHeader(new Uint8Array(head));
      } else {
        report = await validateLaneLevelInput(file, { limits });
      }
      if (report.valid) {
        return {
          valid: true,
          rowCount: report.rowCount,
          problemCount: 0,
          summary: 'The file passed validation.',
        };
      }
      const problemCount = Object.values(report.problemCounts).reduce((sum, n) => sum + n, 0);
      const summary = summarizeProblems(report, problemCount);
      const reportBlob = await writeJson(outboxBlobNames(input.outbox).validationReport, {
        kind: 'gem-flow.validation-report',
        source: input.source,
        summary,
        ...report,
      });
      await recordLatest(input, 'invalid-input', { validationReport: reportBlob });
      return { valid: false, rowCount: report.rowCount, reportBlob, problemCount, summary };
    },

    async stageInput(input) {
      if (input.source.kind === 'pdg') {
        const filename = input.source.filename;
        const storage = await tomtom.getStorage(input.storageId);
        if (storage.files && !storage.files.some((f) => f.name === filename)) {
          throw new PdgFileMissingError(`Storage ${input.storageId} has no file named ${filename}.`, {
            remedy: 'Check the file name (with extension) against GET /api/storages?refresh=true.',
          });
        }
        return { pdgFilename: filename, sha256: null, size: null, skipped: true };
      }
      const { blob } = await pinnedSource(input);
      const { container, clientSecret } = await pdgContainerFor(input.storageId, 'READ_WRITE');
      const staged = await stageIntoPdg({ source: blob, target: container, secrets: [clientSecret] });
      return {
        pdgFilename: staged.targetName,
        sha256: staged.sha256,
        size: staged.size,
        skipped: staged.skipped,
      };
    },

    async submitJob(input) {
      // Find-or-create: GEM has no idempotency key, and a duplicate job costs hours. The filename is derived
      // from the content, so an existing non-FAILED job for it is exactly the job this match wants.
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
    },

    async pollJob({ jobId }) {
      try {
        const job = await tomtom.getJob(jobId);
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
        // Returned, not thrown: the monitor loop decides, and an uncaught failure would end the instance.
        // Transient: throttling, 5xx, network. Permanent: the job is gone or access was withdrawn (after the
        // client's own refresh-and-retry), and anything that is not a TomTom API error at all — a defect that
        // polling for 48 hours would not cure.
        const permanent =
          !(error instanceof TomTomApiError) ||
          error instanceof TomTomNotFoundError ||
          error instanceof TomTomForbiddenError ||
          error instanceof TomTomUnauthorizedError;
        const message = error instanceof Error ? error.message : String(error);
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
    },

    async deliverResults(input) {
      const names = outboxBlobNames(input.request.outbox);
      const context = {
        input: input.request,
        instanceId: input.instanceId,
        pdgFilename: input.pdgFilename,
        jobId: input.jobId,
        polls: input.polls,
        submittedAt: input.submittedAt,
        completedAt: input.finishedAt,
      };
      if (input.timedOut || !input.poll) {
        const document = buildTimeoutDocument({
          ...context,
          // Inputs scheduled before these fields existed lack them; the finish time is the nearest stand-in.
          lastGemStatus: input.poll?.status ?? input.lastGemStatus ?? null,
          deadline: input.deadline ?? input.finishedAt,
        });
        await writeJson(names.error, document);
        await recordLatest(input.request, 'timed-out', { error: names.error });
        return {
          outcome: 'timed-out',
          outputs: { error: names.error },
          summaryBlob: names.error,
          message: document.message,
        };
      }
      if (!input.poll.succeeded) {
        const document = buildErrorDocument({
          ...context,
          gemStatus: input.poll.status,
          gemMessage: input.poll.message,
        });
        await writeJson(names.error, document);
        await recordLatest(input.request, 'gem-failed', { error: names.error });
        return {
          outcome: 'gem-failed',
          outputs: { error: names.error },
          summaryBlob: names.error,
          message: document.message,
        };
      }
      const resultFilename = input.poll.resultFilename;
      if (!resultFilename) {
        throw new MissingResultFileError(
          `GEM reported job ${input.jobId} as ${input.poll.status} without a result file name.`,
          { remedy: 'Check the job with GET …/gem/jobs/{id}; the result may appear in the storage listing.' },
        );
      }
      const { container, clientSecret } = await pdgContainerFor(input.request.storageId, 'READ');
      await deliverResult({
        source: container.getBlobClient(resultFilename),
        target: services.outbox.getBlockBlobClient(names.results),
        secrets: [clientSecret],
      });
      await writeJson(
        names.summary,
        buildSummary({
          ...context,
          gemStatus: input.poll.status,
          statistics: input.poll.statistics,
          resultFilename,
        }),
      );
      const outputs = { results: names.results, summary: names.summary };
      await recordLatest(input.request, 'succeeded', outputs);
      return { outcome: 'succeeded', outputs, summaryBlob: names.summary };
    },

    async recordFailure(input) {
      const errorBlob = outboxBlobNames(input.request.outbox).error;
      // Same input, same document: running twice rewrites identical bytes.
      await writeJson(
        errorBlob,
        buildFailureDocument({
          input: input.request,
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
      await recordLatest(input.request, 'failed', { error: errorBlob });
      return { errorBlob };
    },

    async notify({ url, summaryBlob, instanceId }) {
      // Checked again here whatever path the URL came by (an instance started by hand, or before an upgrade).
      const { allowList } = parseAllowList(services.settings.notify.allowedHosts);
      const refusal = callbackTargetProblem(url, allowList);
      if (refusal)
        return { delivered: false, refused: true, attempts: 0, error: `The callback URL ${refusal}.` };
      try {
        const summary = await readJsonBlob<{ instanceId?: unknown }>(services.outbox, summaryBlob);
        if (summary === undefined) throw new Error(`The outbox has no ${summaryBlob} to send.`);
        if (instanceId !== undefined && summary.instanceId !== instanceId) {
          throw new Error(
            `outbox/${summaryBlob} belongs to run ${String(summary.instanceId)}, not ${instanceId}; nothing was sent.`,
          );
        }
        const secret = await services.notifySigningSecret();
        const request = buildNotificationRequest(summary, secret, new Date());
        return await sendNotification(url, request, {
          maxAttempts: services.settings.notify.maxAttempts,
          retryDelayMs: 1_000,
          allowList,
        });
      } catch (error) {
        // A callback that cannot be sent never fails the match; the outcome is recorded instead.
        return {
          delivered: false,
          attempts: 0,
          error: error instanceof Error ? error.message : String(error),
        };
      }
    },
  };
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

export class MissingResultFileError extends GemFlowError {
  readonly code = 'MissingResultFile';
}

export class UnexpectedJobIdError extends GemFlowError {
  readonly code = 'UnexpectedJobId';
}

function summarizeProblems(report: ValidationReport, problemCount: number): string {
  const top = Object.entries(report.problemCounts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([rule, n]) => `${n} × ${rule}`)
    .join(', ');
  return `The file failed validation with ${problemCount} problem(s): ${top}. No GEM job was submitted.`;
}
