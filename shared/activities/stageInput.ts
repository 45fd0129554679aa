/**
 * The `stageInput` activity: copies the pinned inbox file (or its prepared GEM Parquet) into the customer's PDG
 * `default` container under a name from the source's identity (skipped when that name is already there), as
 * the service principal a fresh Vault unwrap returns: server-side where Azure allows it, streamed otherwise,
 * and the result says which. A file already in PDG storage is only checked to exist.
 */
import { GemFlowError } from '../errors.js';
import type { Services } from '../services.js';
import { stageInput as stageIntoPdg } from '../staging/copy.js';
import type { PreparedMatchInput, StageInputResult } from '../workflow/types.js';
import { pdgContainerFor, pinnedInputFile } from './matchStorage.js';

export class PdgFileMissingError extends GemFlowError {
  readonly code = 'PdgFileMissing';
}

export async function stageInput(
  services: Pick<Services, 'appBlobs' | 'tomtom' | 'pdgContainer'>,
  input: PreparedMatchInput,
): Promise<StageInputResult> {
  if (input.source.kind === 'pdg') {
    const filename = input.source.filename;
    const storage = await services.tomtom.getStorage(input.storageId);
    if (storage.files && !storage.files.some((f) => f.name === filename)) {
      throw new PdgFileMissingError(`Storage ${input.storageId} has no file named ${filename}.`, {
        remedy: 'Check the file name (with extension) against GET /api/storages?refresh=true.',
      });
    }
    return { pdgFilename: filename, sha256: null, size: null, skipped: true };
  }
  // The prepared file when there is one: GEM gets the GEM-ready Parquet, not the user's own format.
  const { blob } = await pinnedInputFile(services, input);
  const { container, clientSecret } = await pdgContainerFor(services, input.storageId, 'READ_WRITE');
  // The app's own client for the user-delegation key, so the key request keeps the app's pipeline settings.
  const staged = await stageIntoPdg({
    source: blob,
    target: container,
    secrets: [clientSecret],
    sourceService: services.appBlobs,
  });
  return {
    pdgFilename: staged.targetName,
    sha256: staged.sha256,
    size: staged.size,
    skipped: staged.skipped,
    method: staged.method,
    ...(staged.fallbackReason ? { fallbackReason: staged.fallbackReason } : {}),
    bytesThroughApp: staged.bytesThroughApp,
  };
}
