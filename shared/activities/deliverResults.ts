/**
 * The `deliverResults` activity: writes the run's outcome to its outbox folder and moves `latest.json` of its
 * name to it. A finished job's GEM result file is streamed from the PDG container; when the run carries its
 * prepared input, the user's own features are joined with GEM's matches into `matched.<ext>` in their format
 * (`shared/results/enrichedOutput.ts`); then the summary with counts. A failed job gets an error document
 * with GEM's message, and a job still running at the deadline a timeout document.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GemFlowError } from '../errors.js';
import { blobSourceFile } from '../formats/sourceFile.js';
import { deliverEnriched } from '../results/enrichedOutput.js';
import { type MergeSource, mergeResultFiles } from '../results/mergeResults.js';
import type { Services } from '../services.js';
import { deliverResult } from '../staging/copy.js';
import { outboxBlobNames } from '../workflow/outboxNames.js';
import { buildErrorDocument, buildSummary, buildTimeoutDocument } from '../workflow/summary.js';
import type {
  DeliverResultsInput,
  DeliverResultsResult,
  PollJobResult,
  ResultSource,
} from '../workflow/types.js';
import { pdgContainerFor, recordLatest, writeRunDocument } from './matchStorage.js';

export class MissingResultFileError extends GemFlowError {
  readonly code = 'MissingResultFile';
}

type DeliveryServices = Pick<Services, 'outbox' | 'tomtom' | 'pdgContainer' | 'appBlobs'>;

export async function deliverResults(
  services: DeliveryServices,
  input: DeliverResultsInput,
): Promise<DeliverResultsResult> {
  if (input.timedOut || !input.poll) return deliverTimeout(services, input);
  if (!input.poll.succeeded) return deliverGemFailure(services, input, input.poll);
  return deliverSuccess(services, input, input.poll);
}

/** What every document of the run says about it. */
function runDetails(input: DeliverResultsInput) {
  return {
    input: input.request,
    startedAt: input.startedAt,
    instanceId: input.instanceId,
    pdgFilename: input.pdgFilename,
    jobId: input.jobId,
    polls: input.polls,
    submittedAt: input.submittedAt,
    completedAt: input.finishedAt,
  };
}

function deliverTimeout(
  services: DeliveryServices,
  input: DeliverResultsInput,
): Promise<DeliverResultsResult> {
  const document = buildTimeoutDocument({
    ...runDetails(input),
    // Inputs scheduled before these fields existed lack them; the finish time is the nearest stand-in.
    lastGemStatus: input.poll?.status ?? input.lastGemStatus ?? null,
    deadline: input.deadline ?? input.finishedAt,
  });
  return deliverErrorDocument(services, input, 'timed-out', document);
}

function deliverGemFailure(
  services: DeliveryServices,
  input: DeliverResultsInput,
  poll: PollJobResult,
): Promise<DeliverResultsResult> {
  const document = buildErrorDocument({
    ...runDetails(input),
    gemStatus: poll.status,
    gemMessage: poll.message,
  });
  return deliverErrorDocument(services, input, 'gem-failed', document);
}

/** A run without results: its error document is the run's output and what the callback sends. */
async function deliverErrorDocument(
  services: DeliveryServices,
  input: DeliverResultsInput,
  outcome: 'timed-out' | 'gem-failed',
  document: { message: string },
): Promise<DeliverResultsResult> {
  const { error } = outboxBlobNames(input.request.outbox);
  await writeRunDocument(services, error, document);
  await recordLatest(services, input.request, outcome, { error });
  return { outcome, outputs: { error }, summaryBlob: error, message: document.message };
}

/** The single job's GEM result file, copied as it is to the run's results.parquet. */
async function deliverJobResult(
  services: DeliveryServices,
  input: DeliverResultsInput,
  poll: PollJobResult,
  resultsBlob: string,
): Promise<string> {
  const resultFilename = poll.resultFilename;
  if (!resultFilename) {
    throw new MissingResultFileError(
      `GEM reported job ${input.jobId} as ${poll.status} without a result file name.`,
      { remedy: 'Check the job with GET …/gem/jobs/{id}; the result may appear in the storage listing.' },
    );
  }
  const { container, clientSecret } = await pdgContainerFor(services, input.request.storageId, 'READ');
  await deliverResult({
    source: container.getBlobClient(resultFilename),
    target: services.outbox.getBlockBlobClient(resultsBlob),
    secrets: [clientSecret],
  });
  return resultFilename;
}

/**
 * Several result files merged into the run's results.parquet (shared/results/mergeResults.ts) in a scratch
 * file that is uploaded whole, so a retry rewrites the same bytes. The PDG session is opened only when a
 * source is in the PDG storage.
 */
async function deliverMergedResults(
  services: DeliveryServices,
  input: DeliverResultsInput,
  sources: ResultSource[],
  resultsBlob: string,
): Promise<void> {
  const pdg = sources.some((s) => s.kind === 'pdg')
    ? (await pdgContainerFor(services, input.request.storageId, 'READ')).container
    : undefined;
  const mergeSources: MergeSource[] = sources.map((source, i) => {
    const name = source.kind === 'pdg' ? source.filename : source.blobName;
    const blob =
      source.kind === 'pdg' ? pdg!.getBlobClient(source.filename) : services.outbox.getBlobClient(name);
    return { label: `result file ${i + 1} (${name})`, open: () => blobSourceFile(blob, { name }) };
  });
  const tempDir = await mkdtemp(join(tmpdir(), 'gem-flow-merge-'));
  try {
    const path = join(tempDir, 'results.parquet');
    await mergeResultFiles(mergeSources, path);
    await services.outbox.getBlockBlobClient(resultsBlob).uploadFile(path, {
      blobHTTPHeaders: { blobContentType: 'application/vnd.apache.parquet' },
    });
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

async function deliverSuccess(
  services: DeliveryServices,
  input: DeliverResultsInput,
  poll: PollJobResult,
): Promise<DeliverResultsResult> {
  const names = outboxBlobNames(input.request.outbox);
  let resultFilename: string | null = null;
  if (input.resultSources) {
    await deliverMergedResults(services, input, input.resultSources, names.results);
  } else {
    resultFilename = await deliverJobResult(services, input, poll, names.results);
  }
  const enriched = input.prepared
    ? await deliverEnriched(services, {
        prepared: input.prepared,
        location: input.request.outbox,
        resultsBlob: names.results,
      })
    : undefined;
  await writeRunDocument(
    services,
    names.summary,
    buildSummary({
      ...runDetails(input),
      gemStatus: poll.status,
      statistics: poll.statistics,
      resultFilename,
      ...(input.resultSources ? { resultSources: input.resultSources } : {}),
      ...(enriched ? { enriched } : {}),
      ...(input.prepared ? { preparedFile: input.prepared.prepared } : {}),
      ...(input.incremental ? { incremental: input.incremental } : {}),
    }),
  );
  const matched = enriched?.report.status === 'written' ? enriched.report.blob : undefined;
  const outputs = { results: names.results, summary: names.summary, ...(matched ? { matched } : {}) };
  await recordLatest(services, input.request, 'succeeded', outputs);
  return {
    outcome: 'succeeded',
    outputs,
    summaryBlob: names.summary,
    ...(enriched?.counts ? { counts: enriched.counts } : {}),
  };
}
