/**
 * The `planIncremental` activity: compares the run's prepared file with the previous run's and writes what the
 * rest of the run needs instead of the whole file: `delta.parquet` (the new and changed rows, GEM-ready) and
 * `carried.parquet` (the previous results of the unchanged rows), under the outbox folder
 * `.prepared/<this file's key>/incremental-<previous run's key>/`, with `plan.json` written last. Every name is
 * derived from the two files' identities, the uploads are create-only and a retry that finds `plan.json` and
 * both files returns what it records, so the activity is idempotent.
 *
 * Every incremental run also keeps its own file's fingerprint (`.prepared/<key>/fingerprint-v1.bin`, 16 bytes
 * a row), so the next run can compare with it even when the prepared file is gone: a GEM Parquet input is its
 * own prepared file, and uploading the next version under the same name replaces it. A run without a usable
 * baseline is a full match, with the reason in its summary; that is a result here, never an error.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { isNotFound, statusCodeOf } from '../errors.js';
import { normaliseEtag } from '../etag.js';
import type { PreparedInput } from '../formats/prepared.js';
import { classifyRows } from '../incremental/classify.js';
import { type Fingerprint, parseFingerprint, serialiseFingerprint } from '../incremental/fingerprint.js';
import {
  fingerprintRows,
  openPreparedRows,
  type PreparedRows,
  writeCarried,
  writeDelta,
} from '../incremental/preparedRows.js';
import { findPreviousRun, type PreviousRun } from '../incremental/previousRun.js';
import { readJsonBlob, writeJsonBlob } from '../outbox.js';
import { BlobReadError, blobAsyncBuffer } from '../parquet/asyncBuffer.js';
import type { Services } from '../services.js';
import type { PlanIncrementalInput, PlanIncrementalResult } from '../workflow/types.js';
import { PREPARED_PREFIX, preparedProperties, uploadOnce } from './prepareInput.js';

type PlanServices = Pick<Services, 'appBlobs' | 'outbox'>;
type PreparedFile = PreparedInput['prepared'];
type Applied = Extract<PlanIncrementalResult, { applied: true }>;

export async function planIncremental(
  services: PlanServices,
  input: PlanIncrementalInput,
): Promise<PlanIncrementalResult> {
  const current = await openPrepared(services, input.prepared.prepared);
  const fingerprint = await fingerprintRows(current);
  await storeFingerprint(services.outbox, input.prepared.prepared, fingerprint);
  const lookup = await findPreviousRun(services.outbox, input.request, input.instanceId);
  if ('refused' in lookup) return notApplied(lookup.refused, lookup.matchId);
  const previous = lookup.found;
  if (fingerprint.collisions > 0) {
    return notApplied(collisionReason('this file', fingerprint.collisions), previous.matchId);
  }
  const before = await previousFingerprint(services, previous.preparedFile);
  if ('unusable' in before) return notApplied(before.unusable, previous.matchId);
  if (before.collisions > 0) {
    return notApplied(collisionReason("the previous run's file", before.collisions), previous.matchId);
  }
  const folder = planFolder(input.prepared.prepared, previous);
  const reused = await reusedPlan(services.outbox, folder);
  if (reused) return reused;
  const tempDir = await mkdtemp(join(tmpdir(), 'gem-flow-incremental-'));
  try {
    return await writePlan(services, { current, fingerprint, before, previous, folder, tempDir });
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

function notApplied(reason: string, previousMatchId: string | null): PlanIncrementalResult {
  return { applied: false, reason, previousMatchId };
}

function collisionReason(which: string, collisions: number): string {
  return `${collisions} row id(s) of ${which} share a 64-bit digest with another (a repeated id, or a rare hash collision), so rows cannot be paired safely`;
}

/** The prepared file's folder key: a hash of its identity (container, name, etag). */
function fileKey(file: PreparedFile): string {
  const identity = JSON.stringify([file.container, file.name, normaliseEtag(file.etag)]);
  return createHash('sha256').update(identity).digest('hex').slice(0, 32);
}

export function fingerprintBlobName(file: PreparedFile): string {
  return `${PREPARED_PREFIX}${fileKey(file)}/fingerprint-v1.bin`;
}

function planFolder(current: PreparedFile, previous: PreviousRun): string {
  const identity = JSON.stringify([previous.matchId, fileKey(previous.preparedFile), previous.resultsBlob]);
  const key = createHash('sha256').update(identity).digest('hex').slice(0, 32);
  return `${PREPARED_PREFIX}${fileKey(current)}/incremental-${key}`;
}

async function openPrepared(services: PlanServices, file: PreparedFile): Promise<PreparedRows> {
  const blob = services.appBlobs.getContainerClient(file.container).getBlobClient(file.name);
  const buffer = await blobAsyncBuffer(blob, { size: file.byteLength, etag: file.etag });
  return openPreparedRows(buffer, file.name);
}

/** Create-only: a fingerprint is a pure function of the file its name is derived from. */
async function storeFingerprint(outbox: ContainerClient, file: PreparedFile, fingerprint: Fingerprint) {
  const bytes = serialiseFingerprint(fingerprint);
  try {
    await outbox
      .getBlockBlobClient(fingerprintBlobName(file))
      .upload(bytes, bytes.length, { conditions: { ifNoneMatch: '*' } });
  } catch (error) {
    const status = statusCodeOf(error);
    if (status !== 409 && status !== 412) throw error;
  }
}

/** The previous file's stored fingerprint, else one read from its prepared file, else why neither exists. */
async function previousFingerprint(
  services: PlanServices,
  file: PreparedFile,
): Promise<Fingerprint | { unusable: string }> {
  try {
    const parsed = parseFingerprint(
      await services.outbox.getBlobClient(fingerprintBlobName(file)).downloadToBuffer(),
    );
    if (!('unusable' in parsed)) return parsed;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  try {
    const fingerprint = await fingerprintRows(await openPrepared(services, file));
    await storeFingerprint(services.outbox, file, fingerprint);
    return fingerprint;
  } catch (error) {
    const status = error instanceof BlobReadError ? error.statusCode : statusCodeOf(error);
    if (status !== 404 && status !== 412) throw error;
    return {
      unusable:
        `the previous run's prepared file ${file.container}/${file.name} has been ${status === 404 ? 'deleted' : 'replaced'} ` +
        'and that run kept no fingerprint (a GEM Parquet upload is its own prepared file; runs with incremental on keep one for the next)',
    };
  }
}

/** A plan a previous attempt finished: its record, when both of its files are still there. */
async function reusedPlan(outbox: ContainerClient, folder: string): Promise<Applied | undefined> {
  const plan = await readJsonBlob<Applied>(outbox, `${folder}/plan.json`);
  if (!plan?.applied) return undefined;
  const delta = await preparedProperties(outbox.getBlobClient(plan.delta.name));
  const carried = await preparedProperties(outbox.getBlobClient(plan.carried.blobName));
  return delta && carried ? plan : undefined;
}

interface PlanWork {
  current: PreparedRows;
  fingerprint: Fingerprint;
  before: Fingerprint;
  previous: PreviousRun;
  folder: string;
  tempDir: string;
}

async function writePlan(services: PlanServices, work: PlanWork): Promise<Applied> {
  const { outbox } = services;
  const { counts, rowClass, unchangedIds } = classifyRows(work.before, work.fingerprint);
  const deltaPath = join(work.tempDir, 'delta.parquet');
  const delta = await writeDelta(work.current, rowClass, deltaPath);
  const carriedPath = join(work.tempDir, 'carried.parquet');
  const results = await blobAsyncBuffer(outbox.getBlobClient(work.previous.resultsBlob));
  const carried = await writeCarried(results, work.previous.resultsBlob, unchangedIds, carriedPath);
  const deltaName = `${work.folder}/delta.parquet`;
  const carriedName = `${work.folder}/carried.parquet`;
  const uploadedDelta = await uploadOnce(outbox.getBlockBlobClient(deltaName), deltaPath);
  await uploadOnce(outbox.getBlockBlobClient(carriedName), carriedPath);
  const plan: Applied = {
    applied: true,
    previousMatchId: work.previous.matchId,
    counts,
    delta: { container: outbox.containerName, name: deltaName, ...uploadedDelta, rows: delta.rows },
    carried: { blobName: carriedName, rows: carried.rows },
  };
  await writeJsonBlob(outbox, `${work.folder}/plan.json`, plan);
  return plan;
}
