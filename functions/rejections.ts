/**
 * An upload whose options cannot be resolved (no storage id, a malformed release in its metadata…) gets a
 * validation report in the outbox naming each field, so the uploader sees why nothing happened. The report
 * goes in a folder of its own under the name's key (`<name key>/rejected-<hash>/validation.json`, the hash
 * from container, name and etag, so a repeated event rewrites the same report), and `latest.json` moves to
 * it like to any run's documents: the newest upload of the name was rejected.
 */
import type { FieldError } from '../shared/api/errors.js';
import { recordLatestRun, writeJsonBlob } from '../shared/outbox.js';
import { rejectedUploadRunFor } from '../shared/workflow/ids.js';
import type { InboxUpload } from '../shared/workflow/inboxEvent.js';
import { nameKeyFor, outboxBlobNames } from '../shared/workflow/outboxNames.js';
import { loadServices } from './onDemand.js';

export async function writeRejection(
  upload: Pick<InboxUpload, 'container' | 'name' | 'etag'>,
  errors: FieldError[],
  requestedAt: Date,
): Promise<string> {
  const { outbox } = (await loadServices()).getServices();
  const location = {
    nameKey: nameKeyFor('inbox', upload.name),
    run: rejectedUploadRunFor(upload.container, upload.name, upload.etag),
  };
  const name = await writeJsonBlob(outbox, outboxBlobNames(location).validationReport, {
    kind: 'gem-flow.rejected-upload',
    blob: upload.name,
    etag: upload.etag,
    valid: false,
    problems: errors.map((e) => ({ rule: 'options', column: e.field, message: e.reason })),
    remedy:
      'Set the missing or malformed options as blob metadata (storageid, jobtype, overturerelease, orbisversion) ' +
      'and upload again, or set the defaults (DEFAULT_STORAGE_ID, DEFAULT_OVERTURE_RELEASE…) in the app settings.',
  });
  await recordLatestRun(outbox, location.nameKey, {
    source: { kind: 'inbox', container: upload.container, blobName: upload.name, etag: upload.etag },
    run: location.run,
    requestedAt: requestedAt.toISOString(),
    outcome: 'rejected',
    outputs: { validationReport: name },
  });
  return name;
}
