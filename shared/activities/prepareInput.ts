/**
 * The `prepareInput` activity: turns the pinned inbox file, in whatever road format the user has, into the
 * GEM-ready Parquet the rest of the run validates and stages (shared/formats/prepare.ts does the work). The
 * prepared file is a blob in the outbox under `.prepared/<key>/<stem>.parquet`, where the key hashes the
 * source's identity (container, name, etag, size) and every option that changes the file's bytes, so a
 * retried or replayed activity finds and reuses it, and runs with other options never share one. A name key
 * never starts with a dot (shared/workflow/outboxNames.ts), so the folder cannot meet a run's documents. The
 * upload commits with `ifNoneMatch: '*'`: two racing runs write the same bytes and the loser reuses the
 * winner's. A refused file gets the run's validation report, as the Parquet validation writes it, with every
 * problem naming the source feature (index and id) and the fix; nothing is prepared then. GEM's own Parquet
 * is not rewritten: the source itself is the prepared file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BlobClient, BlockBlobClient } from '@azure/storage-blob';
import { isNotFound, statusCodeOf } from '../errors.js';
import { normaliseEtag } from '../etag.js';
import {
  failedValidationSummary,
  formatLimitsFrom,
  type PrepareReport,
  prepareFile,
} from '../formats/prepare.js';
import type { FormatOptions, PreparedInput } from '../formats/prepared.js';
import { blobSourceFile } from '../formats/sourceFile.js';
import { DEFAULT_OUTPUT_FORMAT } from '../formats/types.js';
import { readJsonBlob, writeJsonBlob } from '../outbox.js';
import { resolveLimits } from '../parquet/limits.js';
import type { Services } from '../services.js';
import { META_SHA256, META_SHA256_SIZE } from '../staging/copy.js';
import { outboxBlobNames } from '../workflow/outboxNames.js';
import type { MatchInput, PrepareInputResult } from '../workflow/types.js';
import { pinnedSource, recordLatest, writeRunDocument } from './matchStorage.js';

/** Bumped when the prepared file's layout changes, so files prepared by an older version are not reused. */
export const PREPARED_LAYOUT_VERSION = 1;
/** The outbox folder of prepared files. */
export const PREPARED_PREFIX = '.prepared/';
/** Metadata marking a prepared file (committed with its blocks, so only a whole file carries it). */
const META_PREPARED = 'gemflowprepared';

/** The options that change the prepared file's bytes (`outputFormat` only shapes the enriched output). */
function bytesOptions(format: FormatOptions | undefined): Omit<FormatOptions, 'outputFormat'> {
  const { outputFormat: _ignored, ...rest } = format ?? {};
  return rest;
}

/** `.prepared/<key>/<stem>.parquet`: the key from the source's identity and the options; see the module comment. */
export function preparedBlobName(
  source: { container: string; blobName: string; etag: string; size: number },
  format: FormatOptions | undefined,
): string {
  const options = bytesOptions(format);
  const identity = JSON.stringify([
    PREPARED_LAYOUT_VERSION,
    source.container,
    source.blobName,
    normaliseEtag(source.etag),
    source.size,
    Object.keys(options)
      .sort()
      .map((key) => [key, options[key as keyof typeof options]]),
  ]);
  const key = createHash('sha256').update(identity).digest('hex').slice(0, 32);
  const base = source.blobName.split('/').pop() ?? '';
  const stem =
    base
      .replace(/\.[^.]*$/, '')
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .slice(0, 80) || 'input';
  return `${PREPARED_PREFIX}${key}/${stem}.parquet`;
}

/** What a prepared file's sidecar (`prepared.json` beside it) records, so a retry reuses it without reading. */
type PreparedRecord = Pick<
  PreparedInput,
  'format' | 'layer' | 'crs' | 'prepared' | 'featureCount' | 'gemRowCount'
> & {
  notes: string[];
};

export async function prepareInput(
  services: Pick<Services, 'appBlobs' | 'outbox' | 'settings'>,
  input: MatchInput,
): Promise<PrepareInputResult> {
  if (input.source.kind !== 'inbox') throw new Error('prepareInput is for inbox sources');
  const { blob, etag, size } = await pinnedSource(services, input);
  const source = { container: input.source.container, name: input.source.blobName, etag };
  const name = preparedBlobName({ ...input.source, etag, size }, input.format);
  const accepted = (record: PreparedRecord): PrepareInputResult => {
    const { notes, ...rest } = record;
    const outputFormat = input.format?.outputFormat ?? DEFAULT_OUTPUT_FORMAT[record.format];
    return { valid: true, notes, prepared: { ...rest, source, options: { ...input.format, outputFormat } } };
  };
  const reused = await readJsonBlob<PreparedRecord>(services.outbox, sidecarName(name));
  if (reused && (await preparedProperties(services.outbox.getBlobClient(reused.prepared.name)))) {
    return accepted(reused);
  }

  const limits = resolveLimits(services.settings.validation);
  const tempDir = await mkdtemp(join(tmpdir(), 'gem-flow-prepare-'));
  try {
    const file = await blobSourceFile(blob, { name: input.source.blobName, size, etag });
    const { report, crs, written } = await prepareFile(file, {
      ...(input.format ? { format: input.format } : {}),
      limits: formatLimitsFrom(limits),
      maxIdIndexBytes: limits.maxIdIndexBytes,
      tempDir,
      outputPath: join(tempDir, 'prepared.parquet'),
    });
    if (!report.valid || report.format === null) return refused(services, input, report);
    const record: PreparedRecord = {
      format: report.format,
      layer: report.layer,
      crs,
      prepared: { ...source, byteLength: size },
      featureCount: report.featureCount,
      gemRowCount: report.gemRowCount,
      notes: report.notes,
    };
    // GEM's own Parquet is staged as it is; nothing to upload or record.
    if (!written) return accepted(record);
    const uploaded = await uploadOnce(services.outbox.getBlockBlobClient(name), written.path);
    record.prepared = { container: services.outbox.containerName, name, ...uploaded };
    await writeJsonBlob(services.outbox, sidecarName(name), record);
    return accepted(record);
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

function sidecarName(preparedName: string): string {
  return `${preparedName.slice(0, preparedName.lastIndexOf('/'))}/prepared.json`;
}

/** The refused file's report in the run's folder, as validateInput writes one, and `latest.json` at it. */
async function refused(
  services: Pick<Services, 'outbox'>,
  input: MatchInput,
  report: PrepareReport,
): Promise<PrepareInputResult> {
  const summary = failedValidationSummary(report.problemCounts);
  const problemCount = Object.values(report.problemCounts).reduce((sum, n) => sum + n, 0);
  const reportBlob = await writeRunDocument(services, outboxBlobNames(input.outbox).validationReport, {
    kind: 'gem-flow.validation-report',
    source: input.source,
    summary,
    jobType: input.jobType,
    rowCount: report.featureCount,
    ...report,
  });
  await recordLatest(services, input, 'invalid-input', { validationReport: reportBlob });
  return {
    valid: false,
    validation: { valid: false, rowCount: report.featureCount, reportBlob, problemCount, summary },
  };
}

/**
 * Uploads a prepared file (or a part of one: partitionInput.ts) unless it is already there (a retry, a replay, or a racing run of the same
 * upload). Its SHA-256 goes into the metadata staging reads (shared/staging/copy.ts), so staging does not
 * read the file again to hash it.
 */
export async function uploadOnce(
  target: BlockBlobClient,
  path: string,
): Promise<{ etag: string; byteLength: number }> {
  const existing = await preparedProperties(target);
  if (existing) return existing;
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  const { size } = await stat(path);
  try {
    const response = await target.uploadFile(path, {
      conditions: { ifNoneMatch: '*' },
      metadata: {
        [META_SHA256]: hash.digest('hex'),
        [META_SHA256_SIZE]: String(size),
        [META_PREPARED]: String(PREPARED_LAYOUT_VERSION),
      },
      blobHTTPHeaders: { blobContentType: 'application/vnd.apache.parquet' },
    });
    return { etag: response.etag ?? '', byteLength: size };
  } catch (error) {
    const status = statusCodeOf(error);
    if (status !== 409 && status !== 412) throw error;
    const winner = await preparedProperties(target);
    if (!winner) throw error;
    return winner;
  }
}

/** The prepared blob's etag and size when a complete one exists (its metadata is committed with its blocks). */
export async function preparedProperties(
  blob: BlobClient,
): Promise<{ etag: string; byteLength: number } | undefined> {
  try {
    const properties = await blob.getProperties();
    if (properties.metadata?.[META_PREPARED] !== String(PREPARED_LAYOUT_VERSION)) return undefined;
    return { etag: properties.etag ?? '', byteLength: properties.contentLength ?? 0 };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
