/**
 * What a match produced, for the results page and any client with the function key: one outbox document as
 * a download (`GET /api/matches/{id}/outputs/{document}`, streamed from the outbox through the app, never a
 * SAS) and the matched roads as GeoJSON (`GET /api/matches/{id}/map`). The run's files are found from the
 * match's own orchestration input (shared/results/runFiles.ts); the map is made in shared/results/runMap.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import * as df from 'durable-functions';
import { boundedText, ERROR_LIMITS, notFound, validationError } from '../../shared/api/errors.js';
import { parseMatchMapQuery } from '../../shared/api/resultSchemas.js';
import { isNotFound } from '../../shared/errors.js';
import { FormatError } from '../../shared/formats/errors.js';
import { blobSourceFile } from '../../shared/formats/sourceFile.js';
import {
  contentDisposition,
  contentTypeFor,
  downloadFileName,
  isOutputDocument,
  OUTPUT_DOCUMENTS,
  planOutputSlice,
} from '../../shared/results/outputDocuments.js';
import {
  asMissing,
  mapInputOf,
  noResultsReason,
  RunFileMissing,
  type RunRecord,
  runRecordOf,
} from '../../shared/results/runFiles.js';
import { mapFeaturesForRun, mapReadLimits, type RunMap } from '../../shared/results/runMap.js';
import { getServices } from '../../shared/services.js';
import { MATCH_ORCHESTRATION } from '../matchFile.js';
import { findInstance } from '../startMatch.js';

const gzipAsync = promisify(gzip);

/** Data responses hold a customer's roads and results: never stored by a cache. */
const DATA_HEADERS = { 'cache-control': 'private, no-store', 'x-content-type-options': 'nosniff' };

async function findRun(client: DurableClient, id: string): Promise<RunRecord | undefined> {
  if (!/^[A-Za-z0-9:_-]{1,100}$/.test(id)) return undefined;
  const status = await findInstance(client, id, { showInput: true });
  return status?.name === MATCH_ORCHESTRATION ? runRecordOf(status) : undefined;
}

function missing(message: string): HttpResponseInit {
  return {
    status: 404,
    headers: DATA_HEADERS,
    jsonBody: { error: { code: 'NotFound', message: boundedText(message, ERROR_LIMITS.messageLength) } },
  };
}

export async function matchOutputHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const document = request.params.document ?? '';
  if (!isOutputDocument(document)) {
    return missing(`No document "${document}": a match's documents are ${OUTPUT_DOCUMENTS.join(', ')}.`);
  }
  const run = await findRun(df.getClient(context), id);
  if (!run) return notFound(`match "${id}"`);
  const blobName = run.documents[document];
  if (blobName === undefined) {
    return missing(
      `match "${id}" has no ${document} document: it writes one only when it succeeded on a road file.`,
    );
  }
  const blob = getServices().outbox.getBlobClient(blobName);
  const properties = await blob.getProperties().catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  if (!properties) {
    const why = document === 'results' ? ` ${noResultsReason(run)}` : '';
    return missing(`match "${id}" has no ${document} document (outbox/${blobName}).${why}`);
  }
  const size = properties.contentLength ?? 0;
  const slice = planOutputSlice(size, request.headers.get('range'));
  if (slice.status === 400) return validationError(slice.errors);
  const headers: Record<string, string> = {
    ...DATA_HEADERS,
    'accept-ranges': 'bytes',
    'content-type': contentTypeFor(blobName),
    'content-disposition': contentDisposition(downloadFileName(run.input.source, blobName)),
    ...(properties.etag ? { etag: properties.etag } : {}),
  };
  if (slice.status === 416)
    return { status: 416, headers: { ...headers, 'content-range': `bytes */${size}` } };
  if (size === 0) return { status: 200, headers, body: new Uint8Array(0) };
  const count = slice.end - slice.start + 1;
  const download = await blob.download(slice.start, count, {
    ...(properties.etag ? { conditions: { ifMatch: properties.etag } } : {}),
  });
  if (slice.status === 206) headers['content-range'] = `bytes ${slice.start}-${slice.end}/${size}`;
  // The worker collects the stream into the response (see shared/results/outputDocuments.ts), bounded above.
  return { status: slice.status, headers, body: download.readableStreamBody as AsyncIterable<Uint8Array> };
}

export async function matchMapHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const query = parseMatchMapQuery(request.query);
  if (!query.ok) return validationError(query.errors);
  const id = request.params.id ?? '';
  const run = await findRun(df.getClient(context), id);
  if (!run) return notFound(`match "${id}"`);
  const tempDir = await mkdtemp(join(tmpdir(), 'gemflow-map-'));
  try {
    const map = await readRunMap(run, tempDir, query.value.limit);
    const json = Buffer.from(JSON.stringify(map));
    const gzipped = /\bgzip\b/i.test(request.headers.get('accept-encoding') ?? '');
    return {
      status: 200,
      headers: {
        ...DATA_HEADERS,
        'content-type': 'application/geo+json; charset=utf-8',
        vary: 'Accept-Encoding',
        ...(gzipped ? { 'content-encoding': 'gzip' } : {}),
      },
      body: gzipped ? await gzipAsync(json) : json,
    };
  } catch (error) {
    if (error instanceof RunFileMissing) return missing(error.message);
    if (error instanceof FormatError) {
      context.error(`The map of ${id} cannot be made: ${error.message}`);
      return {
        status: 500,
        headers: DATA_HEADERS,
        jsonBody: {
          error: { code: 'MapUnavailable', message: boundedText(error.message, ERROR_LIMITS.messageLength) },
        },
      };
    }
    throw error;
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

async function readRunMap(run: RunRecord, tempDir: string, limit: number | undefined): Promise<RunMap> {
  const services = getServices();
  const { in: container, blobName, etag } = mapInputOf(run, services.outbox.containerName);
  const inputWhat = `The input file "${blobName}" of match "${run.id}"`;
  const input = await blobSourceFile(services[container].getBlobClient(blobName), {
    name: blobName,
    ...(etag ? { etag } : {}),
  }).catch((error: unknown) => {
    throw asMissing(error, inputWhat);
  });
  const results = await blobSourceFile(services.outbox.getBlobClient(run.documents.results), {
    name: run.documents.results,
  }).catch((error: unknown) => {
    throw isNotFound(error) ? new RunFileMissing(noResultsReason(run)) : error;
  });
  const limits = mapReadLimits(services.settings.validation.maxValueBytes);
  return mapFeaturesForRun(
    { input, results },
    { limits, tempDir, ...(limit ? { maxFeatures: limit } : {}) },
  ).catch((error: unknown) => {
    throw asMissing(error, inputWhat);
  });
}
