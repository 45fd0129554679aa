/**
 * Per-file match options carried as inbox blob metadata: the one list of the options an uploader may set, the
 * metadata key each travels under and its command-line spelling. `gem-flow match` and `npm run upload` write
 * them; the inbox trigger reads them back (`bodyFromBlobMetadata` in functions/startMatch.ts, which a unit test
 * holds to this list). Azure stores metadata keys in lower case, so the keys are lower case here.
 */

export interface UploadOptions {
  storageId?: string;
  jobType?: string;
  overtureRelease?: string;
  orbisVersion?: string;
  /** Honoured only for hosts on NOTIFY_ALLOWED_HOSTS (anyone who can write to the inbox can set metadata). */
  callbackUrl?: string;
}

export interface UploadOption {
  field: keyof UploadOptions;
  /** `--storage-id` and so on, in both uploaders. */
  flag: string;
  metadataKey: string;
}

export const UPLOAD_OPTIONS: readonly UploadOption[] = [
  { field: 'storageId', flag: 'storage-id', metadataKey: 'storageid' },
  { field: 'jobType', flag: 'job-type', metadataKey: 'jobtype' },
  { field: 'overtureRelease', flag: 'overture-release', metadataKey: 'overturerelease' },
  { field: 'orbisVersion', flag: 'orbis-version', metadataKey: 'orbisversion' },
  { field: 'callbackUrl', flag: 'callback-url', metadataKey: 'callbackurl' },
];

/** The blob metadata for the options that are set (empty values are left out, as unset). */
export function metadataForUploadOptions(options: UploadOptions): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const { field, metadataKey } of UPLOAD_OPTIONS) {
    const value = options[field];
    if (value) metadata[metadataKey] = value;
  }
  return metadata;
}
