// The per-file options an uploader writes as blob metadata are exactly what the inbox trigger reads back:
// every option of shared/workflow/uploadOptions.ts, set through metadataForUploadOptions, comes out of
// bodyFromBlobMetadata (functions/startMatch.ts) as the same field of the start request, and `gem-flow match`
// offers every option under its flag (npm run upload builds its flags from the same list).
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../cli/program.js';
import { bodyFromBlobMetadata } from '../../../functions/startMatch.js';
import { startMatchRequestSchema } from '../../../shared/api/schemas.js';
import {
  metadataForUploadOptions,
  UPLOAD_OPTIONS,
  type UploadOptions,
} from '../../../shared/workflow/uploadOptions.js';
import { captured } from './io.js';

const VALUES: Required<UploadOptions> = {
  storageId: 'storage-002',
  jobType: 'LANE_LEVEL_MATCHING',
  overtureRelease: '2026-01-21.0',
  orbisVersion: '123456.1',
  callbackUrl: 'https://hooks.example.com/gem',
  layer: 'roads',
  idColumn: 'road_id',
  navigableColumn: 'drivable',
  wktColumn: 'wkt',
  csvDelimiter: ';',
  encoding: '1252',
  sourceCrs: 'EPSG:28992',
  outputFormat: 'geojson',
  incremental: 'TRUE',
  previousMatchId: 'match-0123456789abcdef0123456789abcdef',
};

/** The value the start request receives: boolean options arrive as booleans, the others as the text. */
const requestValue = (field: keyof UploadOptions, boolean?: true) =>
  boolean ? VALUES[field].toLowerCase() === 'true' : VALUES[field];

describe('upload options as blob metadata', () => {
  it.each(UPLOAD_OPTIONS)(
    '$field travels as "$metadataKey" and is read back as $field',
    ({ field, metadataKey, format, boolean }) => {
      const metadata = metadataForUploadOptions({ [field]: VALUES[field] });
      expect(metadata).toEqual({ [metadataKey]: VALUES[field] });
      const body = bodyFromBlobMetadata({ container: 'inbox', name: 'roads.parquet', etag: '0x1', metadata });
      // Format options travel under the request's `format` object, the others at its top level.
      expect(body).toEqual({
        inboxBlob: 'roads.parquet',
        ...(format ? { format: { [field]: VALUES[field] } } : { [field]: requestValue(field, boolean) }),
      });
      // And the start request accepts every example value as it arrives from metadata.
      expect(startMatchRequestSchema.safeParse(body).success).toBe(true);
    },
  );

  it('hands a boolean option that is not true or false to the schema as text, which names it', () => {
    const body = bodyFromBlobMetadata({
      container: 'inbox',
      name: 'roads.parquet',
      etag: '0x1',
      metadata: { incremental: 'yes please' },
    });
    expect(body).toEqual({ inboxBlob: 'roads.parquet', incremental: 'yes please' });
    const parsed = startMatchRequestSchema.safeParse(body);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['incremental']);
  });

  it('leaves unset and empty options out', () => {
    expect(metadataForUploadOptions({ storageId: '', jobType: undefined })).toEqual({});
  });

  it('gem-flow match offers every option under its flag', () => {
    const io = {
      stdout: captured().stream,
      stderr: captured().stream,
      env: {},
      cwd: '.',
      run: async () => ({ stdout: '' }),
    };
    const match = buildProgram(io, async () => {}).commands.find((c) => c.name() === 'match')!;
    const flags = match.options.map((o) => o.long);
    for (const { flag } of UPLOAD_OPTIONS) expect(flags).toContain(`--${flag}`);
  });
});
