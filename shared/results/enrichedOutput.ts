/**
 * The enriched output of a finished run, delivered to the outbox: the source (pinned to the etag prepare
 * read) and GEM's results (the run's own `results.parquet`, already delivered) are joined by `enrich.ts` into
 * a local scratch file, which is uploaded to `<name key>/<run>/matched.<ext>` only once it is whole. The upload
 * is a single Put Blob or, for large files, staged blocks made visible by one Put Block List, so the blob
 * never exists half-written; a retried delivery joins again and overwrites it with the same bytes (the join
 * is a pure function of the pinned source, the options and the results), so the step is idempotent.
 *
 * What cannot heal by retrying — results GEM wrote in a shape the join refuses, a source that no longer reads
 * (a field that cannot be written, a blob replaced or deleted) — is reported back instead of thrown, so the
 * run still succeeds with its raw results and its summary says why the enriched output is missing. Storage
 * errors that may heal are thrown, and the activity's retry policy takes over.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorMessage, GemFlowError, statusCodeOf } from '../errors.js';
import { FormatError } from '../formats/errors.js';
import type { PreparedInput } from '../formats/prepared.js';
import { blobSourceFile } from '../formats/sourceFile.js';
import { OUTPUT_EXTENSIONS, type OutputFormat } from '../formats/types.js';
import { BlobReadError } from '../parquet/asyncBuffer.js';
import type { Services } from '../services.js';
import { matchedBlobName } from '../workflow/outboxNames.js';
import type { OutboxLocation } from '../workflow/types.js';
import type { EnrichmentCounts } from './counts.js';
import { enrichSource } from './enrich.js';
import { GemResultsError } from './gemResults.js';

/** What became of the enriched output, as the summary records it. */
export type EnrichmentReport =
  | { status: 'written'; format: OutputFormat; blob: string; features: number; bytes: number }
  | { status: 'failed'; format: OutputFormat; code: string; message: string; remedy: string | null };

export interface EnrichedDelivery {
  report: EnrichmentReport;
  counts: EnrichmentCounts | null;
}

const CONTENT_TYPES: Record<OutputFormat, string> = {
  geoparquet: 'application/vnd.apache.parquet',
  geojson: 'application/geo+json',
  csv: 'text/csv; charset=utf-8',
  flatgeobuf: 'application/flatgeobuf',
  geopackage: 'application/geopackage+sqlite3',
};

export async function deliverEnriched(
  services: Pick<Services, 'appBlobs' | 'outbox'>,
  request: { prepared: PreparedInput; location: OutboxLocation; resultsBlob: string },
): Promise<EnrichedDelivery> {
  const { prepared } = request;
  const format = prepared.options.outputFormat;
  const blobName = matchedBlobName(request.location, OUTPUT_EXTENSIONS[format]);
  const tempDir = await mkdtemp(join(tmpdir(), 'gem-flow-enrich-'));
  try {
    const sourceBlob = services.appBlobs
      .getContainerClient(prepared.source.container)
      .getBlobClient(prepared.source.name);
    const source = await blobSourceFile(sourceBlob, {
      name: prepared.source.name,
      ...(prepared.source.etag ? { etag: prepared.source.etag } : {}),
    });
    const results = await blobSourceFile(services.outbox.getBlobClient(request.resultsBlob), {
      name: 'results.parquet',
    });
    const outputPath = join(tempDir, `matched.${OUTPUT_EXTENSIONS[format]}`);
    const { counts, written } = await enrichSource({ source, prepared, results, outputPath, tempDir });
    await services.outbox.getBlockBlobClient(blobName).uploadFile(outputPath, {
      blobHTTPHeaders: { blobContentType: CONTENT_TYPES[format] },
    });
    return {
      report: { status: 'written', format, blob: blobName, features: written.features, bytes: written.bytes },
      counts,
    };
  } catch (err) {
    if (!isPermanent(err)) throw err;
    return { report: failureReport(format, err), counts: null };
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

/** Failures a retry cannot fix: refused results or source data, or a source blob gone or replaced. */
function isPermanent(err: unknown): boolean {
  if (err instanceof GemResultsError || err instanceof FormatError) return true;
  if (err instanceof BlobReadError) return !err.retriable;
  const status = statusCodeOf(err);
  return status === 404 || status === 412;
}

function failureReport(format: OutputFormat, err: unknown): EnrichmentReport {
  const code = err instanceof GemFlowError ? err.code : 'EnrichmentFailed';
  const remedy =
    err instanceof GemFlowError && err.remedy
      ? err.remedy
      : 'The source file changed or was removed after the match started: upload it again for a new run.';
  // GemFlowError messages end with their remedy; the report keeps the two apart.
  const message =
    err instanceof GemFlowError && err.remedy
      ? err.message.slice(0, -(err.remedy.length + 1))
      : errorMessage(err);
  return { status: 'failed', format, code, message, remedy };
}
