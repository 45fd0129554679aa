/**
 * The `partitionInput` activity: splits the file a run matches (its prepared GEM Parquet, or GEM's own Parquet
 * in the inbox) into spatially coherent parts of at most `maxRoadsPerJob` roads (shared/formats/partition.ts),
 * uploaded to the outbox as `.prepared/<key>/parts-<max>/part-<i>.parquet`, where the key hashes the file's
 * identity (container, name, etag). Idempotent: each part is uploaded with `ifNoneMatch: '*'` (a retry or a racing
 * run finds the same bytes there and reuses them), and `parts.json` beside them is written last, so a retry
 * that finds it returns the recorded parts without reading the file again.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normaliseEtag } from '../etag.js';
import { partitionGemParquet } from '../formats/partition.js';
import { blobSourceFile } from '../formats/sourceFile.js';
import { readJsonBlob, writeJsonBlob } from '../outbox.js';
import type { Services } from '../services.js';
import type { InputPart, PartitionInputInput, PartitionInputResult } from '../workflow/types.js';
import { pinnedInputFile } from './matchStorage.js';
import { PREPARED_LAYOUT_VERSION, PREPARED_PREFIX, preparedProperties, uploadOnce } from './prepareInput.js';

/** `.prepared/<key>/parts-<max>/`: one folder per file and part size. */
export function partsFolder(
  file: { container: string; name: string; etag: string },
  maxRoads: number,
): string {
  const identity = JSON.stringify([
    PREPARED_LAYOUT_VERSION,
    file.container,
    file.name,
    normaliseEtag(file.etag),
  ]);
  const key = createHash('sha256').update(identity).digest('hex').slice(0, 32);
  return `${PREPARED_PREFIX}${key}/parts-${maxRoads}/`;
}

/** The file the run matches, as `stageInput` reads it: the prepared file, else the inbox source. */
function fileIdentity(
  input: PartitionInputInput['file'],
  etag: string,
): { container: string; name: string; etag: string } {
  if (input.preparedFile)
    return { container: input.preparedFile.container, name: input.preparedFile.name, etag };
  if (input.source.kind !== 'inbox') throw new Error('partitionInput reads an inbox file or a prepared file');
  return { container: input.source.container, name: input.source.blobName, etag };
}

export async function partitionInput(
  services: Pick<Services, 'appBlobs' | 'outbox'>,
  input: PartitionInputInput,
): Promise<PartitionInputResult> {
  const { blob, etag, size } = await pinnedInputFile(services, input.file);
  const identity = fileIdentity(input.file, etag);
  const folder = partsFolder(identity, input.maxRoadsPerJob);
  const recorded = await readJsonBlob<PartitionInputResult>(services.outbox, `${folder}parts.json`);
  if (recorded && (await allPresent(services, recorded.parts))) return recorded;

  const tempDir = await mkdtemp(join(tmpdir(), 'gem-flow-parts-'));
  try {
    const source = await blobSourceFile(blob, { name: identity.name, size, etag });
    const files = await partitionGemParquet(source, {
      maxRows: input.maxRoadsPerJob,
      dir: tempDir,
      label: identity.name,
    });
    const parts: InputPart[] = [];
    for (const part of files) {
      const name = `${folder}part-${part.index}.parquet`;
      const uploaded = await uploadOnce(services.outbox.getBlockBlobClient(name), part.path);
      await rm(part.path, { force: true });
      parts.push({
        index: part.index,
        rows: part.rows,
        file: { container: services.outbox.containerName, name, ...uploaded },
      });
    }
    const result: PartitionInputResult = { parts };
    await writeJsonBlob(services.outbox, `${folder}parts.json`, result);
    return result;
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

/** Every recorded part is still there, whole, with the etag recorded (retention may have removed some). */
async function allPresent(services: Pick<Services, 'outbox'>, parts: InputPart[]): Promise<boolean> {
  for (const part of parts) {
    const found = await preparedProperties(services.outbox.getBlobClient(part.file.name));
    if (!found || normaliseEtag(found.etag) !== normaliseEtag(part.file.etag)) return false;
  }
  return true;
}
