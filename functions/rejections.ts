import type { FieldError } from '../shared/api/errors.js';
import { writeJsonBlob } from '../shared/outbox.js';
import { getServices } from '../shared/services.js';
import { outboxBlobNames, outputStemFor } from '../shared/workflow/ids.js';

/**
 * An upload whose options cannot be resolved (no storage id, a malformed release in its metadata…) gets a
 * validation report in the outbox naming each field, so the uploader sees why nothing happened.
 */
export async function writeRejection(blobName: string, errors: FieldError[]): Promise<string> {
  const name = outboxBlobNames(outputStemFor(blobName)).validationReport;
  return writeJsonBlob(getServices().outbox, name, {
    kind: 'gem-flow.rejected-upload',
    blob: blobName,
    valid: false,
    problems: errors.map((e) => ({ rule: 'options', column: e.field, message: e.reason })),
    remedy:
      'Set the missing or malformed options as blob metadata (storageid, jobtype, overturerelease, orbisversion) ' +
      'and upload again, or set the defaults (DEFAULT_STORAGE_ID, DEFAULT_OVERTURE_RELEASE…) in the app settings.',
  });
}
