/**
 * The storage the match activities touch, reached one way by all of them: the inbox blob a match was started
 * for (pinned to its etag), a fresh session on the customer's PDG container (one Vault unwrap each), and the
 * run's documents in the outbox with the `latest.json` pointer of its name.
 */
import type { BlobClient, ContainerClient } from '@azure/storage-blob';
import { GemFlowError } from '../errors.js';
import { normaliseEtag } from '../etag.js';
import { type PointerWrite, recordLatestRun, writeJsonBlob } from '../outbox.js';
import type { Services } from '../services.js';
import type { LatestOutcome } from '../workflow/outboxNames.js';
import type { MatchInput, MatchOutputs, PreparedMatchInput } from '../workflow/types.js';

export class SourceChangedError extends GemFlowError {
  readonly code = 'SourceChanged';
}

export interface PinnedSource {
  blob: BlobClient;
  etag: string;
  size: number;
}

/** The inbox blob the match was started for; fails if it was replaced since (a newer upload has its own match). */
export async function pinnedSource(
  services: Pick<Services, 'appBlobs'>,
  input: MatchInput,
): Promise<PinnedSource> {
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

/**
 * The file a run reads for validation and staging: the prepared file when `prepareInput` made one (an app
 * blob, pinned to the etag it was written with), else the pinned inbox blob.
 */
export async function pinnedInputFile(
  services: Pick<Services, 'appBlobs'>,
  input: PreparedMatchInput,
): Promise<PinnedSource> {
  const prepared = input.preparedFile;
  if (!prepared) return pinnedSource(services, input);
  const blob = services.appBlobs.getContainerClient(prepared.container).getBlobClient(prepared.name);
  const properties = await blob.getProperties();
  const etag = properties.etag ?? '';
  if (normaliseEtag(etag) !== normaliseEtag(prepared.etag)) {
    throw new SourceChangedError(`The prepared file ${prepared.container}/${prepared.name} was replaced.`, {
      remedy: 'Start the match again: the file is prepared anew.',
    });
  }
  return { blob, etag, size: properties.contentLength ?? 0 };
}

/** A PDG container session, and its client secret so staging can keep it out of every error message. */
export interface PdgSession {
  container: ContainerClient;
  clientSecret: string;
}

export async function pdgContainerFor(
  services: Pick<Services, 'tomtom' | 'pdgContainer'>,
  storageId: string,
  type: 'READ_WRITE' | 'READ',
): Promise<PdgSession> {
  // A wrapped token is single use, so every staging or delivery session unwraps a fresh one.
  const wrapped = await services.tomtom.getStorageCredentials(storageId, type);
  const credentials = await services.tomtom.unwrapStorageCredentials(wrapped);
  return { container: services.pdgContainer(credentials), clientSecret: credentials.clientSecret };
}

/** Writes one of the run's documents to the outbox; returns its blob name. */
export function writeRunDocument(
  services: Pick<Services, 'outbox'>,
  blobName: string,
  document: unknown,
): Promise<string> {
  return writeJsonBlob(services.outbox, blobName, document);
}

/** This run's documents are written: `latest.json` of its name moves to it unless a newer run holds it. */
export function recordLatest(
  services: Pick<Services, 'outbox'>,
  request: MatchInput,
  outcome: LatestOutcome,
  outputs: MatchOutputs,
): Promise<PointerWrite> {
  return recordLatestRun(services.outbox, request.outbox.nameKey, {
    source: request.source,
    run: request.outbox.run,
    requestedAt: request.requestedAt,
    outcome,
    outputs,
  });
}
