/**
 * Per-file match options carried as inbox blob metadata: the one list of the options an uploader may set, the
 * metadata key each travels under and its command-line spelling. `gem-flow match` and `npm run upload` write
 * them; the inbox trigger reads them back (`bodyFromBlobMetadata` in functions/startMatch.ts, which a unit test
 * holds to this list). Azure stores metadata keys in lower case, so the keys are lower case here.
 */

import type { FormatOptions } from '../formats/prepared.js';

/** The format options as an uploader gives them: text, checked by the start request's schema. */
export type UploadFormatOptions = { [K in keyof FormatOptions]?: string };

export interface UploadOptions extends UploadFormatOptions {
  storageId?: string;
  jobType?: string;
  overtureRelease?: string;
  orbisVersion?: string;
  /** Honoured only for hosts on NOTIFY_ALLOWED_HOSTS (anyone who can write to the inbox can set metadata). */
  callbackUrl?: string;
  /** `true` or `false`: the start request's boolean `incremental`. */
  incremental?: string;
  previousMatchId?: string;
}

export interface UploadOption {
  field: keyof UploadOptions;
  /** `--storage-id` and so on, in both uploaders. */
  flag: string;
  metadataKey: string;
  /** True for the format options, which the start request carries under `format`. */
  format?: true;
  /** True for the options the start request takes as a boolean: `true` / `false` (any case) become one. */
  boolean?: true;
}

export const UPLOAD_OPTIONS: readonly UploadOption[] = [
  { field: 'storageId', flag: 'storage-id', metadataKey: 'storageid' },
  { field: 'jobType', flag: 'job-type', metadataKey: 'jobtype' },
  { field: 'overtureRelease', flag: 'overture-release', metadataKey: 'overturerelease' },
  { field: 'orbisVersion', flag: 'orbis-version', metadataKey: 'orbisversion' },
  { field: 'callbackUrl', flag: 'callback-url', metadataKey: 'callbackurl' },
  { field: 'incremental', flag: 'incremental', metadataKey: 'incremental', boolean: true },
  { field: 'previousMatchId', flag: 'previous-match-id', metadataKey: 'previousmatchid' },
  { field: 'layer', flag: 'layer', metadataKey: 'layer', format: true },
  { field: 'idColumn', flag: 'id-column', metadataKey: 'idcolumn', format: true },
  { field: 'navigableColumn', flag: 'navigable-column', metadataKey: 'navigablecolumn', format: true },
  { field: 'wktColumn', flag: 'wkt-column', metadataKey: 'wktcolumn', format: true },
  { field: 'csvDelimiter', flag: 'csv-delimiter', metadataKey: 'csvdelimiter', format: true },
  { field: 'encoding', flag: 'encoding', metadataKey: 'encoding', format: true },
  { field: 'sourceCrs', flag: 'source-crs', metadataKey: 'sourcecrs', format: true },
  { field: 'outputFormat', flag: 'output-format', metadataKey: 'outputformat', format: true },
];

/**
 * The start request's fields from blob metadata (keys in any case): each option under its field, the format
 * options under `format`. Values are passed on as text; the request schema judges them.
 */
export function requestFieldsFromMetadata(metadata: Record<string, string>): {
  fields: Partial<Record<keyof UploadOptions, string | boolean>>;
  format: UploadFormatOptions;
} {
  const lower = new Map(Object.entries(metadata).map(([key, value]) => [key.toLowerCase(), value]));
  const fields: Partial<Record<keyof UploadOptions, string | boolean>> = {};
  const format: UploadFormatOptions = {};
  for (const option of UPLOAD_OPTIONS) {
    const value = lower.get(option.metadataKey);
    if (!value) continue;
    if (option.format) format[option.field as keyof UploadFormatOptions] = value;
    else fields[option.field] = option.boolean ? booleanText(value) : value;
  }
  return { fields, format };
}

/** `true` / `false` in any case as a boolean; other text stays text, for the schema to name as not a boolean. */
function booleanText(value: string): string | boolean {
  const lower = value.trim().toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : value;
}

/** The blob metadata for the options that are set (empty values are left out, as unset). */
export function metadataForUploadOptions(options: UploadOptions): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const { field, metadataKey } of UPLOAD_OPTIONS) {
    const value = options[field];
    if (value) metadata[metadataKey] = value;
  }
  return metadata;
}

/** The start request an upload of `inboxBlob` with this metadata makes (before the schema judges it). */
export function startRequestFromMetadata(
  inboxBlob: string,
  metadata: Record<string, string>,
): { inboxBlob: string; format?: UploadFormatOptions } & Partial<
  Record<keyof UploadOptions, string | boolean>
> {
  const { fields, format } = requestFieldsFromMetadata(metadata);
  return { inboxBlob, ...fields, ...(Object.keys(format).length > 0 ? { format } : {}) };
}
